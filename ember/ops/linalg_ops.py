"""Linear algebra beyond matmul: tensordot, einsum, norms, inv, solve, det, slogdet, cross, trace, ...

Exposed as ``ember.linalg.*`` (torch.linalg names) and the top-level torch names.
"""

from __future__ import annotations

import math

from .._tensor import Tensor, _wrap_dim
from ._dispatch import dispatch
from .op import Op
from .reduce import expand_back, norm_dims


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Contract dims of a with dims of b (an int n contracts a's last n with b's first n)."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da = list(range(a.dim() - dims, a.dim()))
        db = list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    da = [_wrap_dim(d, a.dim()) for d in da]
    db = [_wrap_dim(d, b.dim()) for d in db]
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[x]} in dim {x} and second has "
                f"size {b.shape[y]} in dim {y}"
            )
    free_a = [d for d in range(a.dim()) if d not in da]
    free_b = [d for d in range(b.dim()) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    pa = a.permute(free_a + da).reshape(math.prod(a.shape[d] for d in free_a), k)
    pb = b.permute(db + free_b).reshape(k, math.prod(b.shape[d] for d in free_b))
    out = pa @ pb
    return out.reshape([a.shape[d] for d in free_a] + [b.shape[d] for d in free_b])


class VectorNorm(Op):
    upcast_half = True

    @staticmethod
    def forward(ctx, a, ord=2.0, dims=None, keepdim=False):
        xp = ctx.xp
        ctx.args = (a.shape, ord, dims, keepdim)
        ax = dims if a.ndim else None
        x = xp.abs(a)
        if ord == 2:
            out = xp.sqrt(xp.sum(x * x, axis=ax, keepdims=keepdim))
        elif ord == math.inf:
            out = xp.max(x, axis=ax, keepdims=keepdim) if x.size else xp.zeros(())
        elif ord == -math.inf:
            out = xp.min(x, axis=ax, keepdims=keepdim)
        elif ord == 0:
            out = xp.sum(x != 0, axis=ax, keepdims=keepdim).astype(a.dtype)
        elif ord == 1:
            out = xp.sum(x, axis=ax, keepdims=keepdim)
        else:
            out = xp.sum(x**ord, axis=ax, keepdims=keepdim) ** (1.0 / ord)
        ctx.save_for_backward(a, out)
        return xp.asarray(out, dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        from .elementwise import abs as eabs
        from .elementwise import sign, where

        a, out = ctx.saved_tensors
        in_shape, ord, dims, keepdim = ctx.args
        gb = expand_back(g, in_shape, dims, keepdim)
        ob = expand_back(out, in_shape, dims, keepdim)
        if ord == 0:
            return (gb * 0,)
        if ord == 1:
            return (gb * sign(a),)
        if ord == 2:
            return (where(ob == 0, 0.0, gb * a / ob),)
        if ord in (math.inf, -math.inf):
            mask = (eabs(a) == ob).to(g.dtype)
            count = (
                mask.sum(dims if dims is not None else None, keepdim=True) if dims is not None else mask.sum()
            )
            return (gb * sign(a) * mask / count,)
        ax = eabs(a)
        return (where(ob == 0, 0.0, gb * sign(a) * ax ** (ord - 1) / ob ** (ord - 1)),)


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The ord-norm of x over dim (all elements when None)."""
    from .. import _dtype as D

    if dtype is not None:
        x = x.to(D.to_dtype(dtype))
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise RuntimeError(
            f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {D.SCALAR_NAME[x.dtype]}"
        )
    dims = norm_dims(dim, x.dim())
    if ord in (math.inf, -math.inf) and x.numel() == 0 and ord == -math.inf:
        raise RuntimeError("linalg.vector_norm cannot compute the -inf norm on an empty tensor")
    return dispatch(VectorNorm, (x,), {"ord": float(ord), "dims": dims, "keepdim": keepdim})
