"""ember.nn: Modules, Parameters, layers, losses, functional, init and utils (torch.nn names)."""

from __future__ import annotations

from . import functional, init, utils
from .modules import *  # noqa: F403
from .modules.module import Module
from .parameter import Buffer, Parameter, UninitializedParameter
