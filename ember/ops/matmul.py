"""Matrix products: matmul (batched, broadcasting, 1-D cases), mm, bmm, mv, dot, outer, addmm/addmv/baddbmm.

NOTE: float16/bfloat16 products are computed in float32 and rounded once (NumPy would return float32 for
bf16 @ bf16 and accumulate float16 in float16).
"""

from __future__ import annotations

import math
import warnings

from .. import _dtype as D
from .._tensor import Tensor
from .._trace_hooks import traceable
from ._autocast import autocast_policy
from ._dispatch import dispatch
from .op import SAME, Op
from .shape import broadcast_shapes

_HALF = (D.float16, D.bfloat16)


class Matmul(Op):
    promote = SAME  # the public functions reject mixed dtypes; SAME lets dispatch upcast half types
    upcast_half = "cpu"  # CUDA multiplies halves natively on tensor cores, accumulating in float32

    @staticmethod
    def forward(ctx, a, b):
        need = ctx.needs_input_grad
        ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
        ctx.nd = (a.ndim, b.ndim)
        return ctx.be.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.nd
        need = ctx.needs_input_grad
        # Half inputs were saved as their float32 upcasts: compute the gradient in float32 (the engine
        # rounds it to the input's dtype once).
        for t in (a, b):
            if t is not None and t._dtype is not g._dtype:
                g = g.to(t._dtype)
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
        if need[1] and nb == 2 and na > 2:
            # (..., M, K) @ (K, N): fold the batch into the rows -> one (K, M*) @ (M*, N) product instead of a
            # batched product followed by a reduction over the batch
            k = a2.shape[-1]
            gb = _mm(a2.reshape(-1, k).mT, g2.reshape(-1, g2.shape[-1]))
            need = (need[0], False)
        if need[0]:
            ga = _mm(g2, b2.mT)
            if na == 1:
                ga = ga.squeeze(-2)
        if need[1]:
            gb = _mm(a2.mT, g2)
            if nb == 1:
                gb = gb.squeeze(-1)
        return ga, gb


def _mm(a: Tensor, b: Tensor) -> Tensor:
    """Matmul without the public argument checks (shapes and dtypes are known to be valid)."""
    return dispatch(Matmul, (a, b))


def _name(dt) -> str:
    return D.SCALAR_NAME[dt]


def _check_tensors(fn: str, **tensors) -> None:
    for arg, t in tensors.items():
        if not isinstance(t, Tensor):
            pos = list(tensors).index(arg) + 1
            raise TypeError(
                f"{fn}(): argument '{arg}' (position {pos}) must be Tensor, not {type(t).__name__}"
            )


def _check_not_bool(t: Tensor, kernel: str) -> None:
    if t._dtype is D.bool_:
        raise RuntimeError(f"\"{kernel}\" not implemented for 'Bool'")


def _batch_numel(*shapes) -> int:
    return math.prod(broadcast_shapes(*shapes))


@traceable("E.matmul")
def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Matrix product with NumPy/torch rules: 1-D operands are promoted and squeezed, batch dims broadcast."""
    _check_tensors("matmul", input=input, other=other)
    na, nb = input._data.ndim, other._data.ndim
    if na == 0 or nb == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D")
    sa, sb = tuple(input.shape), tuple(other.shape)
    if input._dtype is not other._dtype:
        if na == 1 and nb == 1:
            raise RuntimeError(
                f"dot : expected both vectors to have same dtype, but found {_name(input._dtype)} and "
                f"{_name(other._dtype)}"
            )
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {_cname(input._dtype)} != {_cname(other._dtype)}"
        )
    ka = sa[-1]
    kb = sb[-2] if nb > 1 else sb[0]
    batch_a, batch_b = sa[:-2], sb[:-2]
    if na > 2 or nb > 2:
        _batch_numel(batch_a, batch_b)  # raises torch's broadcast error
    if ka != kb:
        if na == 1 and nb == 1:
            raise RuntimeError(
                f"inconsistent tensor size, expected tensor [{ka}] and src [{kb}] to have the same number of "
                f"elements, but got {ka} and {kb} elements respectively"
            )
        if nb == 1:  # (batched) matrix @ vector: torch folds the batch into the rows
            rows = math.prod(sa[:-1])
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{ka}), vec ({kb})")
        if nb == 2:  # (batched) matrix or vector @ matrix
            rows = math.prod(sa[:-1])
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{ka} and {sb[0]}x{sb[1]})")
        batch = _batch_numel(batch_a, batch_b)
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, {ka}] but got: "
            f"[{batch}, {kb}]."
        )
    _check_not_bool(input, "dot" if na == 1 and nb == 1 else "addmm_impl_cpu_")
    r = dispatch(Matmul, (input, other))
    if out is not None:
        from .inplace import write_out

        return write_out(out, r)
    return r


_CNAME = {
    D.float32: "float",
    D.float64: "double",
    D.float16: "c10::Half",
    D.bfloat16: "c10::BFloat16",
    D.int64: "long int",
    D.int32: "int",
    D.int16: "short int",
    D.int8: "signed char",
    D.uint8: "unsigned char",
    D.bool_: "bool",
}


def _cname(dt) -> str:
    return _CNAME.get(dt, str(dt))


def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """2-D matrix product."""
    _check_tensors("mm", input=input, mat2=mat2)
    if input._data.ndim != 2:
        raise RuntimeError(f"self must be a matrix (got {input._data.ndim}-D tensor)")
    if mat2._data.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix (got {mat2._data.ndim}-D tensor)")
    return matmul(input, mat2, out=out)


@traceable("E.bmm")
def bmm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Batched 3-D matrix product with equal batch sizes (no broadcasting)."""
    _check_tensors("bmm", input=input, mat2=mat2)
    if input._data.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor (got {input._data.ndim}-D)")
    if mat2._data.ndim != 3:
        raise RuntimeError(f"batch2 must be a 3D tensor (got {mat2._data.ndim}-D)")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{input.shape[0]}, {input.shape[2]}] but "
            f"got: [{mat2.shape[0]}, {mat2.shape[1]}]."
        )
    if input._dtype is not mat2._dtype:
        raise RuntimeError(f"expected scalar type {_name(input._dtype)} but found {_name(mat2._dtype)}")
    return matmul(input, mat2, out=out)


def mv(input: Tensor, vec: Tensor, *, out=None) -> Tensor:
    """Matrix-vector product."""
    _check_tensors("mv", input=input, vec=vec)
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input._data.ndim}, {vec._data.ndim}")
    if input._dtype is not vec._dtype:
        raise RuntimeError(
            f"addmv input tensors must have the same dtype, but got {_name(vec._dtype)}, {_name(input._dtype)}, "
            f"and {_name(vec._dtype)}"
        )
    return matmul(input, vec, out=out)


def dot(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Inner product of two 1-D tensors of the same size."""
    _check_tensors("dot", input=input, tensor=other)
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {input._data.ndim}D and {other._data.ndim}D tensors"
        )
    return matmul(input, other, out=out)


inner_1d = dot


def vdot(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Dot product with the first argument conjugated."""
    return dot(input.conj() if input.is_complex() else input, other, out=out)


def inner(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Sum over the last dims of both: shape input.shape[:-1] + other.shape[:-1]."""
    _check_tensors("inner", input=input, other=other)
    if input.dim() == 0 or other.dim() == 0:
        r = input * other
    else:
        if input._dtype is not other._dtype:
            raise RuntimeError("both inputs should have same dtype")
        if input.shape[-1] != other.shape[-1]:
            raise RuntimeError(
                "inner() the last dimension must match on both input tensors but got shapes "
                f"{list(input.shape)} and {list(other.shape)}"
            )
        from .linalg_ops import tensordot

        r = tensordot(input, other, dims=([input.dim() - 1], [other.dim() - 1]))
    if out is not None:
        from .inplace import write_out

        return write_out(out, r)
    return r


def outer(input: Tensor, vec2: Tensor, *, out=None) -> Tensor:
    """Outer product of two 1-D tensors (dtypes promote)."""
    _check_tensors("outer", input=input, vec2=vec2)
    for arg, t in (("self", input), ("vec2", vec2)):
        if t._data.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {arg}, but got {t._data.ndim}-D")
    r = input.unsqueeze(1) * vec2.unsqueeze(0)
    if out is not None:
        from .inplace import write_out

        return write_out(out, r)
    return r


ger = outer


def _check_input_dtype(input: Tensor, p_dtype, other_name: str) -> None:
    if isinstance(input, Tensor) and input._dtype is not p_dtype:
        raise RuntimeError(
            f"self and {other_name} must have the same dtype, but got {_name(input._dtype)} and {_name(p_dtype)}"
        )


@traceable("E.addmm")
@autocast_policy("addmm")
def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2)."""
    _check_tensors("addmm", input=input, mat1=mat1, mat2=mat2)
    if mat1._data.ndim == 2 and mat2._data.ndim == 2 and mat1._dtype is not mat2._dtype:
        raise RuntimeError(
            f"mat1 and mat2 must have the same dtype, but got {_name(mat1._dtype)} and {_name(mat2._dtype)}"
        )
    p = mm(mat1, mat2)
    _check_input_dtype(input, p._dtype, "mat2")
    return _out(_axpby(input, p, beta, alpha), out)


@autocast_policy("addmv")
def addmv(input, mat, vec, *, beta=1, alpha=1, out=None) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    _check_tensors("addmv", input=input, mat=mat, vec=vec)
    p = mv(mat, vec)
    _check_input_dtype(input, p._dtype, "mat")
    return _out(_axpby(input, p, beta, alpha), out)


@autocast_policy("addr")
def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2)."""
    _check_tensors("addr", input=input, vec1=vec1, vec2=vec2)
    return _out(_axpby(input, outer(vec1, vec2), beta, alpha), out)


@traceable("E.baddbmm")
@autocast_policy("baddbmm")
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2)."""
    _check_tensors("baddbmm", input=input, batch1=batch1, batch2=batch2)
    p = bmm(batch1, batch2)
    _check_input_dtype(input, p._dtype, "batch2")
    return _out(_axpby(input, p, beta, alpha), out)


@autocast_policy("addbmm")
def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None) -> Tensor:
    """beta * input + alpha * sum_b(batch1[b] @ batch2[b])."""
    _check_tensors("addbmm", input=input, batch1=batch1, batch2=batch2)
    p = bmm(batch1, batch2).sum(0)
    _check_input_dtype(input, p._dtype, "batch2")
    return _out(_axpby(input, p, beta, alpha), out)


def _out(r, out):
    if out is None:
        return r
    from .inplace import write_out

    return write_out(out, r)


def _axpby(input, p, beta, alpha):
    input = input.expand(p.shape)  # torch's broadcast check (and error) on the added tensor
    if alpha != 1:
        p = p * alpha
    if beta == 0:  # torch ignores input (even NaN values in it) when beta == 0
        return p
    return p + (input * beta if beta != 1 else input)


@autocast_policy("chain_matmul")
def chain_matmul(*matrices, out=None):
    """Product of 2-D matrices, left to right (deprecated in torch in favour of linalg.multi_dot)."""
    warnings.warn(
        "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
        "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than multiple "
        "parameters.",
        UserWarning,
        stacklevel=2,
    )
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m._data.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m._data.ndim}, expected 2 instead.")
    if len(matrices) == 1:
        return _out(matrices[0].clone(), out)
    r = matrices[0]
    for m in matrices[1:]:
        r = mm(r, m)
    return _out(r, out)


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
