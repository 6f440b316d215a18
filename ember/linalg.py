"""ember.linalg: torch.linalg's names over ember's linear-algebra ops."""

from __future__ import annotations

from .ops.linalg_ops import *  # noqa: F403
from .ops.linalg_ops import vector_norm  # noqa: F401
from .ops.matmul import matmul  # noqa: F401
