"""ember.linalg: torch.linalg's names over ember's linear-algebra ops."""

from __future__ import annotations

from .ops.linalg_ops import (
    LinAlgError,
    det,
    eigh,
    eigvalsh,
    inv,
    matrix_norm,
    matrix_power,
    matrix_rank,
    multi_dot,
    pinv,
    slogdet,
    solve,
    svdvals,
    vecdot,
    vector_norm,
)
from .ops.linalg_ops import linalg_cholesky as cholesky
from .ops.linalg_ops import linalg_cross as cross
from .ops.linalg_ops import linalg_diagonal as diagonal
from .ops.linalg_ops import linalg_norm as norm
from .ops.linalg_ops import linalg_qr as qr
from .ops.linalg_ops import linalg_svd as svd
from .ops.matmul import matmul

__all__ = [
    "LinAlgError",
    "cholesky",
    "cross",
    "det",
    "diagonal",
    "eigh",
    "eigvalsh",
    "inv",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "vecdot",
    "vector_norm",
]
