"""Reference models, written to be read top to bottom."""

from __future__ import annotations

from .gpt import GPT, GPTConfig
from .mlp import MLP, SmallCNN

__all__ = ["GPT", "GPTConfig", "MLP", "SmallCNN"]
