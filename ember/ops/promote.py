"""Public type-promotion helpers: result_type, promote_types, can_cast."""

from __future__ import annotations

from .. import _dtype as D
from .._tensor import Tensor


def result_type(tensor1, tensor2) -> D.dtype:
    """The dtype an arithmetic op on these two operands (tensors or scalars) would produce."""
    dims, zeros, wrapped = [], [], []
    for a in (tensor1, tensor2):
        if isinstance(a, Tensor):
            (dims if a._data.ndim else zeros).append(a._dtype)
        else:
            wrapped.append(D.scalar_dtype(a))
    return D.result_type_from(tuple(dims), tuple(zeros), tuple(wrapped))


promote_types = D.promote_types


def can_cast(from_, to) -> bool:
    return D.can_cast(D.to_dtype(from_), D.to_dtype(to))
