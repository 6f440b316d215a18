"""Reinterpreting a tensor's bytes as another dtype: ``x.view(ember.int32)`` (no gradient, shares memory)."""

from __future__ import annotations

from .. import _dtype as D
from .._tensor import Tensor
from ._dispatch import dispatch
from .op import Op


class ViewDtype(Op):
    is_view = True
    differentiable = False

    @staticmethod
    def forward(ctx, a, dtype=None):
        if a.ndim == 0:
            return a.reshape(1).view(dtype.np).reshape(())
        return a.view(dtype.np)


def view_dtype(t: Tensor, dtype) -> Tensor:
    """The same bytes read as `dtype`; the last dim scales by the itemsize ratio."""
    dt = D.to_dtype(dtype)
    src = t._dtype.itemsize
    if dt.itemsize != src:
        if t.dim() == 0:
            raise RuntimeError(f"self.dim() cannot be 0 to view {t._dtype} as {dt} (different element sizes)")
        if t.stride(-1) != 1:
            raise RuntimeError(
                "self.stride(-1) must be 1 to view a tensor as a dtype with a different element size"
            )
        if dt.itemsize > src and (t.shape[-1] * src) % dt.itemsize:
            raise RuntimeError(
                f"self.size(-1) must be divisible by {dt.itemsize // src} to view {t._dtype} as {dt} (different "
                "element sizes), but got " + str(t.shape[-1])
            )
    return dispatch(ViewDtype, (t,), {"dtype": dt})
