"""ember.utils: data loading and activation checkpointing."""

from __future__ import annotations

from . import checkpoint, data
