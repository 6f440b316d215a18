"""ember.autograd: the backward engine, grad modes, custom Functions and gradient checks."""

from __future__ import annotations

from .checks import gradcheck, gradgradcheck
from .engine import backward, grad
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .node import Node

__all__ = [
    "Function",
    "FunctionCtx",
    "Node",
    "gradcheck",
    "gradgradcheck",
    "once_differentiable",
    "backward",
    "enable_grad",
    "grad",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_grad_enabled",
]
