"""ember.backends: torch.backends-style flags (cudnn, cuda.matmul) that scripts set."""

from __future__ import annotations

from . import cuda, cudnn, mps
