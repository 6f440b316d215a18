"""Matrix products: matmul (batched, broadcasting, 1-D cases), mm, bmm, mv, dot, outer, addmm/addmv/baddbmm.

NOTE: float16/bfloat16 products are computed in float32 and rounded once (NumPy would return float32 for
bf16 @ bf16 and accumulate float16 in float16).
"""

from __future__ import annotations

from .. import _dtype as D
from .._tensor import Tensor
from ._dispatch import dispatch
from .op import Op

_HALF = (D.float16, D.bfloat16)


class Matmul(Op):
    upcast_half = True

    @staticmethod
    def forward(ctx, a, b):
        need = ctx.needs_input_grad
        ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
        ctx.nd = (a.ndim, b.ndim)
        out = ctx.be.matmul(a, b)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.nd
        need = ctx.needs_input_grad
        if na == 1 and nb == 1:
            return (g * b if need[0] else None), (g * a if need[1] else None)
        a2 = a.unsqueeze(0) if na == 1 and a is not None else a
        b2 = b.unsqueeze(-1) if nb == 1 and b is not None else b
        g2 = g
        if na == 1:
            g2 = g2.unsqueeze(-2)
        if nb == 1:
            g2 = g2.unsqueeze(-1)
        ga = gb = None
        if need[0]:
            ga = matmul(g2, b2.mT)
            if na == 1:
                ga = ga.squeeze(-2)
        if need[1]:
            gb = matmul(a2.mT, g2)
            if nb == 1:
                gb = gb.squeeze(-1)
        return ga, gb


def _check_same_dtype(a: Tensor, b: Tensor, fn: str):
    if a._dtype is not b._dtype:
        raise RuntimeError(
            f"{fn}: expected m1 and m2 to have the same dtype, but got: {a._dtype} != {b._dtype}"
        )


def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Matrix product with NumPy/torch rules: 1-D operands are promoted and squeezed, batch dims broadcast."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(
            f"matmul(): argument 'other' (position 2) must be Tensor, not "
            f"{type(other if isinstance(input, Tensor) else input).__name__}"
        )
    na, nb = input._data.ndim, other._data.ndim
    if na == 0 or nb == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D")
    _check_same_dtype(input, other, "matmul")
    ka = input._data.shape[-1]
    kb = other._data.shape[-2] if nb > 1 else other._data.shape[0]
    if ka != kb:
        sa = "x".join(map(str, input.shape)) if na > 1 else str(input.shape[0])
        if na == 1 and nb == 1:
            raise RuntimeError(
                f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src [{other.shape[0]}] to have "
                "the same number of elements, but got "
                f"{input.shape[0]} and {other.shape[0]} elements respectively"
            )
        sb = "x".join(map(str, other.shape))
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_mat_desc(input)} and {_mat_desc(other)})"
            if na <= 2 and nb <= 2
            else f"Expected size for first two dimensions of batch2 tensor to be: [{sa}] but got: [{sb}]."
        )
    if na > 2 or nb > 2:
        from .shape import broadcast_shapes

        try:
            broadcast_shapes(
                input._data.shape[:-2] if na > 1 else (), other._data.shape[:-2] if nb > 1 else ()
            )
        except RuntimeError as e:
            raise RuntimeError(
                f"matmul: batch dimensions don't broadcast: {list(input.shape)} @ {list(other.shape)} ({e})"
            ) from None
    r = dispatch(Matmul, (input, other))
    if out is not None:
        from .inplace import write_out

        return write_out(out, r)
    return r


def _mat_desc(t: Tensor) -> str:
    if t.dim() == 1:
        return f"1x{t.shape[0]}"
    return f"{t.shape[0]}x{t.shape[1]}"


def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """2-D matrix product."""
    if input._data.ndim != 2:
        raise RuntimeError(f"self must be a matrix (got {input._data.ndim}-D tensor)")
    if mat2._data.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix (got {mat2._data.ndim}-D tensor)")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_mat_desc(input)} and {_mat_desc(mat2)})"
        )
    return matmul(input, mat2, out=out)


def bmm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Batched 3-D matrix product with equal batch sizes (no broadcasting)."""
    if input._data.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor (got {input._data.ndim}-D)")
    if mat2._data.ndim != 3:
        raise RuntimeError(f"batch2 must be a 3D tensor (got {mat2._data.ndim}-D)")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{input.shape[0]}, {input.shape[2]}] but "
            f"got: [{mat2.shape[0]}, {mat2.shape[1]}]."
        )
    return matmul(input, mat2, out=out)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input._data.ndim}, {vec._data.ndim}")
    return matmul(input, vec)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of the same size."""
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {input._data.ndim}D and {other._data.ndim}D tensors"
        )
    if input._dtype is not other._dtype:
        raise RuntimeError(
            f"dot : expected both vectors to have same dtype, but found {D.SCALAR_NAME[input._dtype]} and "
            f"{D.SCALAR_NAME[other._dtype]}"
        )
    return matmul(input, other)


inner_1d = dot


def vdot(input: Tensor, other: Tensor) -> Tensor:
    return dot(input.conj() if input.is_complex() else input, other)


def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum over the last dims of both: shape input.shape[:-1] + other.shape[:-1]."""
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    from .linalg_ops import tensordot

    return tensordot(input, other, dims=([input.dim() - 1], [other.dim() - 1]))


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two 1-D tensors."""
    if input._data.ndim != 1 or vec2._data.ndim != 1:
        raise RuntimeError("outer: expected 1-D inputs")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2)."""
    p = mm(mat1, mat2)
    return _axpby(input, p, beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1) -> Tensor:
    return _axpby(input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1) -> Tensor:
    return _axpby(input, outer(vec1, vec2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2)."""
    return _axpby(input, bmm(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    return _axpby(input, bmm(batch1, batch2).sum(0), beta, alpha)


def _axpby(input, p, beta, alpha):
    if alpha != 1:
        p = p * alpha
    if beta == 0:  # torch ignores input (even NaN values in it) when beta == 0
        return p
    return p + (input * beta if beta != 1 else input)


def chain_matmul(*matrices):
    out = matrices[0]
    for m in matrices[1:]:
        out = mm(out, m)
    return out


__all__ = [
    "addbmm",
    "addmm",
    "addmv",
    "addr",
    "baddbmm",
    "bmm",
    "chain_matmul",
    "dot",
    "ger",
    "inner",
    "inner_1d",
    "matmul",
    "mm",
    "mv",
    "outer",
    "vdot",
]
