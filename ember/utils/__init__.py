"""ember.utils: data, checkpoint."""

from . import data
