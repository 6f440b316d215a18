"""Linear algebra beyond matmul: tensordot, einsum, norms, inv, solve, det, slogdet, cross, trace, kron,
cholesky, qr, svd, eigh, pinv, matrix_rank, matrix_power, cdist, dist, renorm.

Exposed as ``ember.linalg.*`` (torch.linalg names; see ember/linalg.py) and under the top-level torch names
listed in ``__all__``. Decompositions run in NumPy (LAPACK) in the input's precision; their backward formulas
are torch's (FunctionsManual.cpp), written with ember ops so that create_graph=True differentiates them again.
NOTE: float16/bfloat16 are rejected by the decompositions, as in torch ("Low precision dtypes not supported").
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np

from .. import _dtype as D
from .. import return_types as RT
from .._tensor import Tensor, _wrap, _wrap_dim
from .._trace_hooks import traceable
from ._autocast import autocast_policy
from ._dispatch import dispatch
from .op import SAME, Op
from .reduce import expand_back, norm_dims

_HALF = (D.float16, D.bfloat16)
_INF = math.inf


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on its input (singular matrix, not positive-definite, ...)."""


LinAlgError.__module__ = "ember.linalg"
LinAlgError.__qualname__ = "LinAlgError"

_svd_result = RT._make("svd", ["U", "S", "V"])  # torch.svd (V, not Vh as linalg.svd)


# ------------------------------------------------------------------------------------------------ helpers


def _name(dt) -> str:
    return D.SCALAR_NAME[dt]


def _check_float(A: Tensor, fn: str, low_precision: bool = False) -> None:
    """torch's dtype checks of linalg functions (floating/complex; half types only where torch has kernels)."""
    dt = A._dtype
    if not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError(f"{fn}: Expected a floating point or complex tensor as input. Got {_name(dt)}")
    if dt in _HALF and not low_precision:
        raise RuntimeError(f"{fn}: Low precision dtypes not supported. Got {_name(dt)}")


def _check_matrix(A: Tensor, fn: str) -> None:
    if A._data.ndim < 2:
        raise RuntimeError(f"{fn}: The input tensor A must have at least 2 dimensions.")


def _check_square(A: Tensor, fn: str) -> None:
    _check_matrix(A, fn)
    m, n = A._data.shape[-2:]
    if m != n:
        raise RuntimeError(f"{fn}: A must be batches of square matrices, but they are {m} by {n} matrices")


def _const(arr, like: Tensor) -> Tensor:
    """A constant tensor (no graph) from a backend array, with like's dtype and device."""
    return _wrap(arr.astype(like._dtype.np, copy=False), like._dtype, like._device)


def _lapack_failure(be, a, routine: str):
    """(flat batch index, LAPACK info) of the first matrix of `a` on which getrf/potrf fails, or None."""
    from scipy.linalg import lapack

    host = be.to_numpy(a)
    flat = host.reshape((-1,) + host.shape[-2:])
    for i, m in enumerate(flat):
        (f,) = lapack.get_lapack_funcs((routine,), (m,))
        info = f(m)[-1] if routine == "getrf" else f(m, lower=1)[-1]
        if info > 0:
            return i, int(info)
    return None


def _checked(be):
    """Make the solver raise LinAlgError on failure: NumPy does; CuPy only under errstate(linalg='raise')
    (this reads the solver's status on the host, a synchronisation torch's checked linalg ops make too)."""
    if be.name == "cpu":
        return contextlib.nullcontext()
    import cupyx

    return cupyx.errstate(linalg="raise")


def _own(be, a):
    """A private copy for CuPy's solvers, which may factor in place into an F-ordered input (a transposed
    view such as A.mH would otherwise have the caller's storage overwritten); NumPy's copy themselves."""
    return a if be.name == "cpu" else be.xp.array(a, copy=True)


def _batch_prefix(a, index) -> str:
    return f"(Batch element {index}): " if a.ndim > 2 else ""


def _eye(n: int, like: Tensor) -> Tensor:
    from .factory import eye

    return eye(n, dtype=like._dtype, device=like._device)


def _mm(a: Tensor, b: Tensor) -> Tensor:
    from .matmul import Matmul

    return dispatch(Matmul, (a, b))


def _out(r, out):
    if out is None:
        return r
    from .inplace import write_out

    if isinstance(r, tuple):
        for o, x in zip(out, r):
            write_out(o, x)
        return out
    return write_out(out, r)


# ------------------------------------------------------------------------------------------------ tensordot


def tensordot(a: Tensor, b: Tensor, dims=2, out=None) -> Tensor:
    """Contract dims of a with dims of b (an int n contracts a's last n with b's first n)."""
    if a._dtype is not b._dtype:
        raise RuntimeError("both inputs should have same dtype")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.dim() or dims > b.dim():
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da = list(range(a.dim() - dims, a.dim()))
        db = list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    da = [_wrap_dim(d, a.dim()) for d in da]
    db = [_wrap_dim(d, b.dim()) for d in db]
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
    r = _mm(pa, pb) if a._dtype is not D.bool_ else pa @ pb
    return _out(r.reshape([a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]), out)


# ------------------------------------------------------------------------------------------------ einsum

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # label ids 0..51, in implicit-output order
_ELL0 = 52  # ellipsis dims get ids 52, 53, ...


class Einsum(Op):
    """np.einsum over operands whose labels are unique per operand, and each in the output or another operand
    (the public function takes diagonals, sums private labels and expands broadcast dims first)."""

    promote = SAME
    upcast_half = True

    @staticmethod
    def forward(ctx, *arrays, subs=(), out=()):
        letters: dict = {}
        for ids in subs + (out,):
            for i in ids:
                letters.setdefault(i, _LETTERS[len(letters)])
        eq = (
            ",".join("".join(letters[i] for i in ids) for ids in subs)
            + "->"
            + "".join(letters[i] for i in out)
        )
        res = ctx.xp.einsum(eq, *arrays, optimize=len(arrays) > 1)
        if len(arrays) == 1 and ctx.xp.may_share_memory(res, arrays[0]):
            res = res.copy()
        elif not res.flags.c_contiguous:  # optimize=True may hand back a permuted view of a BLAS result
            res = ctx.xp.ascontiguousarray(res)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(*arrays)
            ctx.subs, ctx.out = subs, out
        return res

    @staticmethod
    def backward(ctx, g):
        ts = ctx.saved_tensors
        subs, out = ctx.subs, ctx.out
        grads = []
        for k, need in enumerate(ctx.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            others = [g] + [ts[j] for j in range(len(ts)) if j != k]
            other_subs = [out] + [subs[j] for j in range(len(ts)) if j != k]
            grads.append(_einsum_core(others, other_subs, subs[k]))
        return tuple(grads)


def _einsum_core(tensors, subs, out) -> Tensor:
    return dispatch(Einsum, tuple(tensors), {"subs": tuple(tuple(s) for s in subs), "out": tuple(out)})


def _label(i: int) -> str:
    return _LETTERS[i] if i < _ELL0 else "..."


def _parse_term(term: str, offset: int, k) -> list:
    """Label ids of one subscript term; -1 marks the ellipsis."""
    ids = []
    i = 0
    seen_ell = False
    while i < len(term):
        c = term[i]
        if c == ".":
            if seen_ell:
                who = f"operand {k}" if k is not None else "the output"
                raise RuntimeError(f"einsum(): found '.' for {who} for which an ellipsis was already found")
            if term[i : i + 3] != "...":
                who = f"operand {k}" if k is not None else "the output"
                raise RuntimeError(f"einsum(): found '.' for {who} that is not part of any ellipsis")
            ids.append(-1)
            seen_ell = True
            i += 3
            continue
        j = _LETTERS.find(c)
        if j < 0 or not c.isalpha():
            raise RuntimeError(
                f"einsum(): invalid subscript given at index {offset + i} in the equation string, subscripts must "
                "be in [a-zA-Z]"
            )
        ids.append(j)
        i += 1
    return ids


def _sublist_to_str(sub) -> str:
    s = ""
    for x in sub:
        if x is Ellipsis:
            s += "..."
        elif isinstance(x, int) and 0 <= x < 52:
            s += _LETTERS[x + 26] if x < 26 else _LETTERS[x - 26]
        else:
            raise ValueError(
                f"einsum(): subscript in subscript list is not within the valid range [0, 52), got {x}"
            )
    return s


@traceable("E.einsum")
@autocast_policy("einsum")
def einsum(*args) -> Tensor:
    """Einstein summation (torch.einsum): explicit/implicit output, '...', broadcasting, diagonals."""
    if len(args) < 2:
        raise ValueError(
            "einsum(): must specify the equation string and at least one operand, or at least one operand and "
            "its subscripts list"
        )
    eq = args[0]
    if not isinstance(eq, str):  # sublist format: einsum(op1, sub1, op2, sub2, ..., [out])
        ops = list(args)
        out_sub = ops.pop() if len(ops) % 2 == 1 else None
        terms = [_sublist_to_str(s) for s in ops[1::2]]
        eq = ",".join(terms) + ("->" + _sublist_to_str(out_sub) if out_sub is not None else "")
        operands = tuple(ops[0::2])
    else:
        operands = args[1:]
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = tuple(operands[0])
    for t in operands:
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): expected Tensor operands, got {type(t).__name__}")
    op_ids, out_ids = _parse_einsum(eq, operands)
    dt = operands[0]._dtype
    for t in operands[1:]:
        if t._dtype is not dt:
            raise RuntimeError(f"expected scalar type {_name(dt)} but found {_name(t._dtype)}")

    # 1. repeated labels within an operand: take the diagonal (a differentiable view)
    tensors, subs = [], []
    for k, (t, ids) in enumerate(zip(operands, op_ids)):
        while True:
            dup = next((i for n, i in enumerate(ids) if i in ids[n + 1 :]), None)
            if dup is None:
                break
            p1 = ids.index(dup)
            p2 = ids.index(dup, p1 + 1)
            if t.shape[p1] != t.shape[p2]:
                raise RuntimeError(
                    f"einsum(): subscript {_label(dup)} is repeated for operand {k} but the sizes don't match, "
                    f"{t.shape[p2]} != {t.shape[p1]}"
                )
            t = t.diagonal(0, p1, p2)
            ids = [x for n, x in enumerate(ids) if n not in (p1, p2)] + [dup]
        tensors.append(t)
        subs.append(ids)
    # 2. the broadcast size of every label
    sizes: dict = {}
    for k, (t, ids) in enumerate(zip(tensors, subs)):
        for d, i in enumerate(ids):
            s = t.shape[d]
            prev = sizes.get(i)
            if prev is None or prev == 1:
                sizes[i] = s
            elif s != 1 and s != prev:
                if i >= _ELL0:
                    raise RuntimeError(
                        "einsum(): operands do not broadcast with remapped shapes (original->remapped): "
                        + " ".join(f"{list(o.shape)}" for o in operands)
                    )
                raise RuntimeError(
                    f"einsum(): subscript {_label(i)} has size {s} for operand {k} which does not broadcast with "
                    f"previously seen size {prev}"
                )
    # 3. sum labels private to one operand; expand size-1 (broadcast) dims
    for k in range(len(tensors)):
        t, ids = tensors[k], subs[k]
        elsewhere = set(out_ids).union(*(set(s) for j, s in enumerate(subs) if j != k))
        private = [d for d, i in enumerate(ids) if i not in elsewhere]
        if private:
            t = t.sum(private)
            ids = [i for i in ids if i in elsewhere]
        target = [sizes[i] for i in ids]
        if list(t.shape) != target:
            t = t.expand(target)
        tensors[k], subs[k] = t, ids
    return _einsum_core(tensors, subs, out_ids)


def _parse_einsum(eq: str, operands):
    """(label ids per operand with ellipses expanded, output label ids) of an equation."""
    offsets = [i for i, c in enumerate(eq) if c != " "]
    eq = eq.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->", 1)
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    parsed = []
    pos = 0
    for k, (term, t) in enumerate(zip(terms, operands)):
        ids = _parse_term(term, offsets[pos] if pos < len(offsets) else pos, k)
        pos += len(term) + 1
        nlab = len([i for i in ids if i >= 0])
        ndim = t._data.ndim
        if -1 in ids:
            if nlab > ndim:
                raise RuntimeError(
                    f"einsum(): the number of subscripts in the equation ({nlab}) is more than the number of "
                    f"dimensions ({ndim}) for operand {k}"
                )
        elif nlab != ndim:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({nlab}) does not match the number of "
                f"dimensions ({ndim}) for operand {k} and no ellipsis was given"
            )
        parsed.append((ids, ndim - nlab))
    has_ell = any(-1 in ids for ids, _ in parsed)
    n_ell = max((e for ids, e in parsed if -1 in ids), default=0)
    ell_ids = list(range(_ELL0, _ELL0 + n_ell))
    op_ids = []
    for ids, e in parsed:
        full = []
        for i in ids:
            full.extend(ell_ids[n_ell - e :] if i == -1 else [i])
        op_ids.append(full)
    if rhs is None:
        counts: dict = {}
        for ids, _ in parsed:
            for i in ids:
                if i >= 0:
                    counts[i] = counts.get(i, 0) + 1
        out = (ell_ids if has_ell else []) + sorted(i for i, c in counts.items() if c == 1)
        return op_ids, out
    out_raw = _parse_term(rhs, len(lhs) + 2, None)
    seen = set()
    everywhere = {i for ids in op_ids for i in ids}
    out = []
    for i in out_raw:
        if i == -1:
            out.extend(ell_ids)
            continue
        if i in seen:
            raise RuntimeError(f"einsum(): output subscript {_label(i)} appears more than once in the output")
        if i not in everywhere:
            raise RuntimeError(
                f"einsum(): output subscript {_label(i)} does not appear in the equation for any input operand"
            )
        seen.add(i)
        out.append(i)
    return op_ids, out


# ------------------------------------------------------------------------------------------------ norms


class VectorNorm(Op):
    promote = SAME
    upcast_half = True
    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, a, ord=2.0, dims=None, keepdim=False):
        xp = ctx.xp
        ax = dims if a.ndim else None
        x = xp.abs(a)
        if ord == 2:
            out = xp.sqrt(xp.sum(x * x, axis=ax, keepdims=keepdim))
        elif ord == _INF:
            out = xp.max(x, axis=ax, keepdims=keepdim)
        elif ord == -_INF:
            out = xp.min(x, axis=ax, keepdims=keepdim)
        elif ord == 0:
            out = xp.sum(x != 0, axis=ax, keepdims=keepdim)
        elif ord == 1:
            out = xp.sum(x, axis=ax, keepdims=keepdim)
        else:
            out = xp.sum(x**ord, axis=ax, keepdims=keepdim) ** (1.0 / ord)
        out = xp.asarray(out).astype(a.dtype, copy=False)
        if ctx.needs_input_grad[0]:
            ctx.args = (a.shape, ord, dims, keepdim)
            ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from .elementwise import abs as eabs
        from .elementwise import isnan, sign, where
        from .factory import zeros_like

        a, out = ctx.saved_tensors
        in_shape, p, dims, keepdim = ctx.args
        if g._dtype is not a._dtype:  # half input saved as float32
            g = g.to(a._dtype)
        gb = expand_back(g, in_shape, dims, keepdim)
        nb = expand_back(out, in_shape, dims, keepdim)
        if p == 0:
            return (zeros_like(a),)
        if p == 1:
            return (sign(a) * gb,)
        zero = nb == 0
        safe_n = where(zero, 1.0, nb)
        if p == 2:
            return (where(zero, 0.0, a / safe_n) * gb,)
        ax = eabs(a)
        if p in (_INF, -_INF):
            mask = ((ax == nb) | isnan(ax)).to(a._dtype)
            count = mask.sum(dims, keepdim=True) if dims is not None else mask.sum()
            return (sign(a) * (gb / count) * mask,)
        if p < 1:
            nz = a == 0
            scaled = where(nz, 0.0, sign(a) * where(nz, 1.0, ax) ** (p - 1))
            return (scaled * gb * nb ** (1 - p),)
        scale = where(zero, 0.0, gb / safe_n ** (p - 1))
        scaled = sign(a) * ax ** (p - 1) if p < 2 else a * ax ** (p - 2)
        return (scaled * scale,)


def _ord_str(ord) -> str:
    return f"{ord:g}" if isinstance(ord, float) else str(ord)


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """The ord-norm of x over dim (all elements when None)."""
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(
            f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not {type(ord).__name__}"
        )
    _check_float(x, "linalg.vector_norm", low_precision=True)
    if dtype is not None:
        dt = D.to_dtype(dtype)
        if not (dt.is_floating_point or dt.is_complex):
            raise RuntimeError(
                f"linalg.vector_norm: dtype should be floating point or complex, but got {_name(dt)}"
            )
        if D.promote_types(x._dtype, dt) is not dt:
            raise RuntimeError(
                f"linalg.vector_norm: the dtype of the input ({_name(x._dtype)}) should be convertible without "
                f"narrowing to the specified dtype ({_name(dt)})"
            )
        if dt is not x._dtype:
            x = x.to(dt)
    dims = norm_dims(dim, x._data.ndim)
    if ord < 0 or ord == _INF:
        if dims is None:
            if x._data.size == 0:
                raise RuntimeError(
                    f"linalg.vector_norm cannot compute the {_ord_str(ord)} norm on an empty tensor because the "
                    "operation does not have an identity"
                )
        else:
            for d in dims:
                if x._data.shape[d] == 0:
                    raise RuntimeError(
                        f"linalg.vector_norm cannot compute the {_ord_str(ord)} norm on the dimension {d}because "
                        "this dimension is empty and the operation does not have an identity"
                    )
    r = dispatch(VectorNorm, (x,), {"ord": float(ord), "dims": dims, "keepdim": keepdim})
    return _out(r, out)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """Matrix norms over the two dims `dim`: 'fro', 'nuc', +-1, +-2, +-inf."""
    _check_matrix(A, "linalg.matrix_norm")
    _check_float(A, "linalg.matrix_norm", low_precision=True)
    dim = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    d0, d1 = (_wrap_dim(d, A._data.ndim) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if isinstance(ord, str):
        if ord not in ("fro", "nuc"):
            raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    elif ord not in (1, -1, 2, -2, _INF, -_INF):
        raise RuntimeError(f"linalg.matrix_norm: Order {_ord_str(ord)} not supported.")
    if dtype is not None:
        A = A.to(D.to_dtype(dtype))
    if ord == "fro" or A.shape[d0] == 0 or A.shape[d1] == 0:
        return _out(vector_norm(A, 2, (d0, d1), keepdim), out)
    if ord in ("nuc", 2, -2):
        from .reduce import amax, amin

        s = svdvals(A.movedim((d0, d1), (-2, -1)))
        r = s.sum(-1) if ord == "nuc" else (amax if ord == 2 else amin)(s, -1)
        if keepdim:
            for d in sorted((d0, d1)):
                r = r.unsqueeze(d)
        return _out(r, out)
    from .reduce import amax, amin

    if abs(ord) == _INF:
        d0, d1 = d1, d0
    if not keepdim and d0 < d1:
        d1 -= 1
    r = (amax if ord > 0 else amin)(vector_norm(A, 1, d0, keepdim), d1, keepdim)
    return _out(r, out)


def linalg_norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """torch.linalg.norm: a vector norm or a matrix norm depending on ord and dim."""
    if dim is not None:
        dim = [dim] if isinstance(dim, int) else list(dim)
        if len(dim) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {dim}")
    elif ord is not None and A._data.ndim not in (1, 2):
        raise RuntimeError(
            f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {A._data.ndim}D."
        )
    if isinstance(ord, str):
        return matrix_norm(A, ord, dim if dim is not None else (-2, -1), keepdim, dtype=dtype, out=out)
    if ord is not None and ((dim is not None and len(dim) == 2) or (dim is None and A._data.ndim == 2)):
        return matrix_norm(A, ord, dim if dim is not None else (0, 1), keepdim, dtype=dtype, out=out)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype, out=out)


@autocast_policy("norm")
def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None, *, out=None) -> Tensor:
    """torch.norm: 'fro' / numeric p are vector norms over dim (all when None), 'nuc' a matrix norm."""
    _dim = [dim] if isinstance(dim, int) else (list(dim) if dim is not None else None)
    if isinstance(p, str):
        if p == "fro" and (dim is None or isinstance(dim, int) or len(dim) <= 2):
            return vector_norm(input, 2, _dim, keepdim, dtype=dtype, out=out)
        if _dim is None:
            _dim = list(range(input._data.ndim))
        return matrix_norm(input, p, _dim, keepdim, dtype=dtype, out=out)
    return vector_norm(input, 2.0 if p is None else p, _dim, keepdim, dtype=dtype, out=out)


# ------------------------------------------------------------------------------------------------ inv, solve, det


class Inv(Op):
    node_name = "LinalgInvExBackward0"

    @staticmethod
    def forward(ctx, a):
        try:
            with _checked(ctx.be):
                out = ctx.xp.linalg.inv(_own(ctx.be, a))
        except np.linalg.LinAlgError:
            i, info = _lapack_failure(ctx.be, a, "getrf") or (0, 0)
            raise LinAlgError(
                f"linalg.inv: {_batch_prefix(a, i)}The diagonal element {info} is zero, the inversion could not be "
                "completed because the input matrix is singular."
            ) from None
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (inv,) = ctx.saved_tensors
        ih = inv.mH
        return (-_mm(_mm(ih, g), ih),)


def _inv(A: Tensor) -> Tensor:
    return dispatch(Inv, (A,))


def inv(A: Tensor, *, out=None) -> Tensor:
    """The inverse of a (batch of) square matrices; LinAlgError if singular."""
    _check_square(A, "linalg.inv")
    _check_float(A, "linalg.inv")
    return _out(_inv(A), out)


def inverse(input: Tensor, *, out=None) -> Tensor:
    """torch.inverse: alias of linalg.inv."""
    return inv(input, out=out)


class Solve(Op):
    node_name = "LinalgSolveExBackward0"

    @staticmethod
    def forward(ctx, a, b):
        sa, sb = _own(ctx.be, a), _own(ctx.be, b)  # the solver's own copies; `a` itself is saved below
        if ctx.be.name != "cpu" and a.shape[:-2] != b.shape[:-2]:  # CuPy's solve does not broadcast batches
            batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            sa = ctx.xp.ascontiguousarray(ctx.xp.broadcast_to(sa, batch + a.shape[-2:]))
            sb = ctx.xp.ascontiguousarray(ctx.xp.broadcast_to(sb, batch + b.shape[-2:]))
        try:
            with _checked(ctx.be):
                x = ctx.xp.linalg.solve(sa, sb)
        except np.linalg.LinAlgError:
            batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            full = ctx.xp.broadcast_to(a, batch + a.shape[-2:])
            i, _ = _lapack_failure(ctx.be, full, "getrf") or (0, 0)
            raise LinAlgError(
                f"torch.linalg.solve: {_batch_prefix(full, i)}The solver failed because the input matrix is singular."
            ) from None
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        gb = _solve(a.mH, g)
        ga = -_mm(gb, x.mH) if ctx.needs_input_grad[0] else None
        return ga, (gb if ctx.needs_input_grad[1] else None)


def _solve(A: Tensor, B: Tensor) -> Tensor:
    return dispatch(Solve, (A, B))


def solve(A: Tensor, B: Tensor, *, left: bool = True, out=None) -> Tensor:
    """The solution X of AX = B (XA = B when left=False); B may be a (batch of) vector(s)."""
    _check_square(A, "linalg.solve")
    _check_float(A, "linalg.solve")
    if A._dtype is not B._dtype:
        raise RuntimeError(
            f"linalg.solve: Expected A and B to have the same dtype, but found A of type {_name(A._dtype)} and B of "
            f"type {_name(B._dtype)} instead"
        )
    n = A.shape[-1]
    vector = B._data.ndim == 1 or (B._data.ndim == A._data.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    eqn = "AX = B" if left else "XA = B"
    if vector:
        ok = left and B.shape[-1] == n
        desc = f"{B.shape[-1]}x1"
    else:
        ok = B._data.ndim >= 2 and (B.shape[-2] if left else B.shape[-1]) == n
        desc = f"{B.shape[-2]}x{B.shape[-1]}" if B._data.ndim >= 2 else f"{B.shape[-1]}x1"
    if not ok:
        raise RuntimeError(
            f"linalg.solve: Incompatible shapes of A and B for the equation {eqn} ({n}x{n} and {desc})"
        )
    from .shape import broadcast_shapes

    broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-1] if vector else B.shape[:-2]))
    if vector:
        return _out(_solve(A, B.unsqueeze(-1)).squeeze(-1), out)
    if not left:
        return _out(_solve(A.mT, B.mT).mT, out)
    return _out(_solve(A, B), out)


class Det(Op):
    node_name = "LinalgDetBackward0"

    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.asarray(ctx.xp.linalg.det(_own(ctx.be, a))).astype(a.dtype, copy=False)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from .elementwise import where

        a, det = ctx.saved_tensors
        # torch's formula: g * det * A^-H. On an exactly singular matrix torch solves with eps-perturbed LU
        # pivots and multiplies by det = 0, so the gradient there is 0 (not the cofactor matrix): same here.
        singular = (det == 0).unsqueeze(-1).unsqueeze(-1)
        safe = where(singular, _eye(a.shape[-1], a), a) if bool(singular._data.any()) else a
        return ((g * det).unsqueeze(-1).unsqueeze(-1) * _inv(safe.mH),)


def det(A: Tensor, *, out=None) -> Tensor:
    """Determinant of a (batch of) square matrices."""
    _check_square(A, "linalg.det")
    _check_float(A, "linalg.det")
    return _out(dispatch(Det, (A,)), out)


class Slogdet(Op):
    node_name = "LinalgSlogdetBackward0"
    num_outputs = 2  # the sign carries a (zero) gradient, as in torch

    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        sign, lad = xp.linalg.slogdet(_own(ctx.be, a))
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(a)
        return xp.asarray(sign).astype(a.dtype, copy=False), xp.asarray(lad).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g_sign, g_lad):
        if g_lad is None:
            return (None,)
        (a,) = ctx.saved_tensors
        return (g_lad.unsqueeze(-1).unsqueeze(-1) * _inv(a.mH),)


def slogdet(A: Tensor, *, out=None):
    """(sign, log|det|) of a (batch of) square matrices."""
    _check_square(A, "linalg.slogdet")
    _check_float(A, "linalg.slogdet")
    return _out(RT.slogdet(*dispatch(Slogdet, (A,))), out)


def logdet(input: Tensor) -> Tensor:
    """log(det(A)): nan for a negative determinant, -inf for a singular matrix."""
    from .elementwise import where

    sign, lad = slogdet(input)
    return where(sign < 0, math.nan, lad)


# ------------------------------------------------------------------------------------------------ decompositions


class Cholesky(Op):
    node_name = "LinalgCholeskyExBackward0"

    @staticmethod
    def forward(ctx, a, upper=False):
        try:
            if ctx.xp.__name__ == "numpy":
                out = ctx.xp.linalg.cholesky(_own(ctx.be, a), upper=upper)
            else:  # CuPy's cholesky has no `upper`: U = L^H
                with _checked(ctx.be):
                    out = ctx.xp.linalg.cholesky(_own(ctx.be, a))
                if upper:
                    out = ctx.xp.ascontiguousarray(ctx.xp.swapaxes(out, -1, -2).conj())
        except np.linalg.LinAlgError:
            i, info = _lapack_failure(ctx.be, a, "potrf") or (0, 0)
            raise LinAlgError(
                f"linalg.cholesky: {_batch_prefix(a, i)}The factorization could not be completed because the input "
                f"is not positive-definite (the leading minor of order {info} is not positive-definite)."
            ) from None
        ctx.upper = upper
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, gL):
        (L,) = ctx.saved_tensors
        if ctx.upper:
            L, gL = L.mH, gL.mH
        phi = _mm(L.mH, gL).tril()
        phi = 0.5 * (phi + phi.tril(-1).mH)
        ga = _solve(L.mH, phi)  # L^-H phi
        return (_solve(L.mH, ga.mH).mH,)  # (L^-H phi) L^-1


def linalg_cholesky(A: Tensor, *, upper: bool = False, out=None) -> Tensor:
    """The Cholesky factor (lower, or upper with upper=True) of Hermitian positive-definite matrices."""
    _check_square(A, "linalg.cholesky")
    _check_float(A, "linalg.cholesky")
    return _out(dispatch(Cholesky, (A,), {"upper": bool(upper)}), out)


def cholesky(input: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """torch.cholesky (deprecated in torch in favour of linalg.cholesky)."""
    warnings.warn(
        "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a future PyTorch "
        "release.",
        UserWarning,
        stacklevel=2,
    )
    return linalg_cholesky(input, upper=upper, out=out)


def _qr_backward_tall(Q, R, gQ, gR):
    """Gradient of A = QR (m >= n, reduced): (gQ + Q copyltu(M)) R^-H with M = R gR^H - gQ^H Q."""
    M = _mm(R, gR.mH) - _mm(gQ.mH, Q)
    low = M.tril()
    b = gQ + _mm(Q, low + M.tril(-1).mH)
    return _solve(R, b.mH).mH


class Qr(Op):
    node_name = "LinalgQrBackward0"
    num_outputs = 2

    @staticmethod
    def forward(ctx, a, mode="reduced"):
        xp = ctx.xp
        if mode == "r":
            r = xp.linalg.qr(_own(ctx.be, a), mode="r")
            q = xp.empty((0,), dtype=a.dtype)
        else:
            q, r = xp.linalg.qr(_own(ctx.be, a), mode=mode)
        ctx.mode = mode
        ctx.mn = a.shape[-2:]
        ctx.save_for_backward(q, r)
        return q, r

    @staticmethod
    def backward(ctx, gQ, gR):
        from .factory import zeros_like
        from .join import cat

        m, n = ctx.mn
        if ctx.mode == "r":
            raise RuntimeError(
                "The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please use "
                "linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr."
            )
        if ctx.mode == "complete" and m > n:
            raise RuntimeError(
                "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
            )
        Q, R = ctx.saved_tensors
        gQ = zeros_like(Q) if gQ is None else gQ
        gR = zeros_like(R) if gR is None else gR
        if m >= n:
            return (_qr_backward_tall(Q, R, gQ, gR),)
        # A = [X | Y] with X = Q U (square), Y = Q V
        U, V = R[..., :, :m], R[..., :, m:]
        gU, gV = gR[..., :, :m], gR[..., :, m:]
        Y = _mm(Q, V)
        gX = _qr_backward_tall(Q, U, gQ + _mm(Y, gV.mH), gU)
        return (cat([gX, _mm(Q, gV)], -1),)


def linalg_qr(A: Tensor, mode: str = "reduced", *, out=None):
    """QR decomposition (mode 'reduced', 'complete' or 'r')."""
    _check_matrix(A, "linalg.qr")
    _check_float(A, "linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or 'complete'"
        )
    return _out(RT.qr(*dispatch(Qr, (A,), {"mode": mode})), out)


def qr(input: Tensor, some: bool = True, *, out=None):
    """torch.qr: reduced (some=True) or complete QR (deprecated in torch in favour of linalg.qr)."""
    warnings.warn(
        "torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future PyTorch release.",
        UserWarning,
        stacklevel=2,
    )
    return linalg_qr(input, "reduced" if some else "complete", out=out)


class Svd(Op):
    node_name = "LinalgSvdBackward0"
    num_outputs = 3

    @staticmethod
    def forward(ctx, a, full_matrices=True):
        xp = ctx.xp
        m, n = a.shape[-2:]
        if a.size == 0:  # LAPACK does not take empty matrices
            k = min(m, n)
            batch = a.shape[:-2]
            eye_m = xp.broadcast_to(
                xp.eye(m, m if full_matrices else k, dtype=a.dtype), batch + (m, m if full_matrices else k)
            )
            eye_n = xp.broadcast_to(
                xp.eye(n if full_matrices else k, n, dtype=a.dtype), batch + (n if full_matrices else k, n)
            )
            u, s, vh = eye_m.copy(), xp.zeros(batch + (k,), dtype=a.dtype), eye_n.copy()
        else:
            u, s, vh = xp.linalg.svd(_own(ctx.be, a), full_matrices=full_matrices)
        ctx.full = full_matrices
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        m, n = U.shape[-2], Vh.shape[-1]
        k = S.shape[-1]
        if ctx.full:
            U, Vh = U[..., :, :k], Vh[..., :k, :]
            gU = gU[..., :, :k] if gU is not None else None
            gVh = gVh[..., :k, :] if gVh is not None else None
        if gU is None and gVh is None:
            if gS is None:
                return (None,)
            return (_mm(U, gS.unsqueeze(-1) * Vh) if m >= n else _mm(U * gS.unsqueeze(-2), Vh),)
        S2 = S * S
        E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + _eye(k, S)
        if gU is not None:
            UhgU = _mm(U.mH, gU)
            UhgU = UhgU - UhgU.mH
        if gVh is not None:
            VhgV = _mm(Vh, gVh.mH)
            VhgV = VhgV - VhgV.mH
        if gU is not None and gVh is not None:
            gA = (UhgU * S.unsqueeze(-2) + S.unsqueeze(-1) * VhgV) / E
        elif gU is not None:
            gA = (UhgU / E) * S.unsqueeze(-2)
        else:
            gA = S.unsqueeze(-1) * (VhgV / E)
        if gS is not None:
            gA = gA + gS.diag_embed()
        if m > n and gU is not None:
            gA = _mm(U, gA)
            gUSinv = gU / S.unsqueeze(-2)
            gA = gA + gUSinv - _mm(U, _mm(U.mH, gUSinv))
            gA = _mm(gA, Vh)
        elif m < n and gVh is not None:
            gA = _mm(gA, Vh)
            SinvgVh = gVh / S.unsqueeze(-1)
            gA = gA + SinvgVh - _mm(_mm(SinvgVh, Vh.mH), Vh)
            gA = _mm(U, gA)
        else:
            gA = _mm(U, _mm(gA, Vh)) if m >= n else _mm(_mm(U, gA), Vh)
        return (gA,)


def linalg_svd(A: Tensor, full_matrices: bool = True, *, driver=None, out=None):
    """Singular value decomposition A = U diag(S) Vh (singular values descending)."""
    _check_matrix(A, "linalg.svd")
    _check_float(A, "linalg.svd")
    return _out(RT.svd(*dispatch(Svd, (A,), {"full_matrices": bool(full_matrices)})), out)


def svd(input: Tensor, some: bool = True, compute_uv: bool = True, *, out=None):
    """torch.svd: (U, S, V) with V = Vh^H (reduced when some=True)."""
    U, S, Vh = linalg_svd(input, full_matrices=not some)
    if not compute_uv:
        from .factory import zeros

        m, n = input.shape[-2:]
        batch = tuple(input.shape[:-2])
        U = zeros(batch + (m, m), dtype=input.dtype, device=input.device)
        V = zeros(batch + (n, n), dtype=input.dtype, device=input.device)
        return _out(_svd_result(U, S.detach(), V), out)
    return _out(_svd_result(U, S, Vh.mH), out)


class Svdvals(Op):
    """Singular values only (used when no gradient is needed; svdvals goes through Svd otherwise)."""

    differentiable = False

    @staticmethod
    def forward(ctx, a):
        if a.size == 0:
            return ctx.xp.zeros(a.shape[:-2] + (min(a.shape[-2:]),), dtype=a.dtype)
        return ctx.xp.linalg.svd(_own(ctx.be, a), compute_uv=False)


def svdvals(A: Tensor, *, driver=None, out=None) -> Tensor:
    """Singular values of A, descending."""
    _check_matrix(A, "linalg.svdvals")
    _check_float(A, "linalg.svdvals")
    from ..autograd.grad_mode import is_grad_enabled

    if A.requires_grad and is_grad_enabled():
        return _out(dispatch(Svd, (A,), {"full_matrices": False})[1], out)
    return _out(dispatch(Svdvals, (A,)), out)


class Eigh(Op):
    node_name = "LinalgEighBackward0"
    num_outputs = 2

    @staticmethod
    def forward(ctx, a, UPLO="L"):
        w, v = ctx.xp.linalg.eigh(_own(ctx.be, a), UPLO=UPLO)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, gL, gV):
        L, V = ctx.saved_tensors
        if gV is None:
            if gL is None:
                return (None,)
            return (_mm(V * gL.unsqueeze(-2), V.mH),)
        VhgV = _mm(V.mH, gV)
        VhgV = 0.5 * (VhgV - VhgV.mH)
        E = L.unsqueeze(-2) - L.unsqueeze(-1) + _eye(L.shape[-1], L)
        gA = VhgV / E
        if gL is not None:
            gA = gA + gL.diag_embed()
        return (_mm(V, _mm(gA, V.mH)),)


def _check_uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def eigh(A: Tensor, UPLO: str = "L", *, out=None):
    """Eigenvalues (ascending) and eigenvectors of Hermitian matrices (reads the UPLO triangle)."""
    _check_square(A, "linalg.eigh")
    _check_float(A, "linalg.eigh")
    _check_uplo(UPLO)
    return _out(RT.eigh(*dispatch(Eigh, (A,), {"UPLO": UPLO})), out)


def eigvalsh(A: Tensor, UPLO: str = "L", *, out=None) -> Tensor:
    """Eigenvalues (ascending) of Hermitian matrices."""
    _check_square(A, "linalg.eigvalsh")
    _check_float(A, "linalg.eigvalsh")
    _check_uplo(UPLO)
    return _out(dispatch(Eigh, (A,), {"UPLO": UPLO})[0], out)


def _pinv_tol(xp, s, atol, rtol, m, n, dtype):
    """torch's threshold: max(atol, rtol * max singular value); rtol defaults to eps * max(m, n) (0 if atol > 0)."""
    smax = s.max(-1, keepdims=True) if s.shape[-1] else xp.zeros(s.shape[:-1] + (1,), dtype=s.dtype)
    atol_a = xp.asarray(0.0 if atol is None else atol, dtype=s.dtype)
    if atol_a.ndim:
        atol_a = atol_a[..., None]
    if rtol is None:
        default = np.finfo(dtype).eps * max(m, n)
        rtol_a = xp.where(atol_a > 0, 0.0, default) if atol is not None else xp.asarray(default)
    else:
        rtol_a = xp.asarray(rtol, dtype=s.dtype)
        if rtol_a.ndim:
            rtol_a = rtol_a[..., None]
    return xp.maximum(atol_a, rtol_a * smax)


class Pinv(Op):
    node_name = "LinalgPinvBackward0"
    tensor_attrs = True

    @staticmethod
    def forward(ctx, a, atol=None, rtol=None, hermitian=False):
        xp = ctx.xp
        m, n = a.shape[-2:]
        if a.size == 0:
            out = xp.zeros(a.shape[:-2] + (n, m), dtype=a.dtype)
        elif hermitian:
            w, v = xp.linalg.eigh(_own(ctx.be, a))
            s = xp.abs(w)
            thr = _pinv_tol(xp, s, atol, rtol, m, n, a.dtype)
            winv = xp.where(s > thr, 1.0 / xp.where(s > thr, w, 1.0), 0.0).astype(a.dtype)
            out = (v * winv[..., None, :]) @ xp.conj(xp.swapaxes(v, -1, -2))
        else:
            u, s, vh = xp.linalg.svd(_own(ctx.be, a), full_matrices=False)
            thr = _pinv_tol(xp, s, atol, rtol, m, n, a.dtype)
            sinv = xp.where(s > thr, 1.0 / xp.where(s > thr, s, 1.0), 0.0).astype(a.dtype)
            out = (xp.conj(xp.swapaxes(vh, -1, -2)) * sinv[..., None, :]) @ xp.conj(xp.swapaxes(u, -1, -2))
        ctx.save_for_backward(a, out)
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        A, pinvA = ctx.saved_tensors
        m, n = A.shape[-2:]
        pinvAh = pinvA.mH
        gradh = grad.mH
        if m <= n:
            K = _mm(gradh, pinvA)
            KpinvAh = _mm(K, pinvAh)
            return (
                -(_mm(pinvA, K)).mH
                + KpinvAh
                - _mm(_mm(A, pinvA), KpinvAh)
                + _mm(_mm(pinvAh, pinvA), gradh - _mm(K, A)),
            )
        K = _mm(pinvA, gradh)
        pinvAhK = _mm(pinvAh, K)
        return (
            -(_mm(K, pinvA)).mH
            + _mm(_mm(gradh - _mm(A, K), pinvA), pinvAh)
            + pinvAhK
            - _mm(_mm(pinvAhK, pinvA), A),
        )


def _tol_arg(x):
    if isinstance(x, Tensor):
        return x.detach()
    return None if x is None else float(x)


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False, out=None) -> Tensor:
    """Moore-Penrose pseudo-inverse; singular values <= max(atol, rtol * max(S)) are treated as zero."""
    if A._data.ndim < 2 or not (A._dtype in (D.float32, D.float64) or A._dtype.is_complex):
        raise RuntimeError(
            f"linalg.pinv({_name(A._dtype)}{{{list(A.shape)}}}): expected a tensor with 2 or more dimensions of "
            "float, double, cfloat or cdouble types"
        )
    kw = {"atol": _tol_arg(atol), "rtol": _tol_arg(rtol), "hermitian": bool(hermitian)}
    return _out(dispatch(Pinv, (A,), kw), out)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """torch.pinverse: pinv with relative tolerance rcond."""
    return pinv(input, rtol=rcond)


def matrix_rank(A: Tensor, tol=None, hermitian: bool = False, *, atol=None, rtol=None, out=None) -> Tensor:
    """Number of singular values above max(atol, rtol * max(S)) (int64)."""
    if not (A._dtype in (D.float32, D.float64) or A._dtype.is_complex):
        raise RuntimeError("This function doesn't handle types other than float and double")
    _check_matrix(A, "linalg.matrix_rank")
    if tol is not None:
        atol, rtol = tol, 0.0
    from ..autograd.grad_mode import no_grad

    with no_grad():
        A = A.detach()
        s = eigvalsh(A).abs() if hermitian else svdvals(A)
        from ..backend import get_backend

        xp = get_backend(A._device).xp
        m, n = A.shape[-2:]
        atol_v = atol._data if isinstance(atol, Tensor) else atol
        rtol_v = rtol._data if isinstance(rtol, Tensor) else rtol
        thr = _pinv_tol(xp, s._data, atol_v, rtol_v, m, n, s._data.dtype)
        r = (s > _const(xp.asarray(thr), s)).sum(-1)
    return _out(r, out)


def matrix_power(A: Tensor, n: int, *, out=None) -> Tensor:
    """A to the integer power n (n < 0 inverts first), by repeated squaring as in torch."""
    _check_square(A, "linalg.matrix_power")
    if n == 0:
        from .factory import eye

        e = eye(A.shape[-1], dtype=A.dtype, device=A.device)
        return _out(A.clone().copy_(e.expand(A.shape)), out)  # in A's graph with a zero gradient, as torch
    if n < 0:
        A = inv(A)
        n = -n
    if n == 1:
        return _out(A.clone(), out)
    if n == 2:
        return _out(_mm(A, A), out)
    if n == 3:
        return _out(_mm(_mm(A, A), A), out)
    z = result = None
    while n > 0:
        bit = n % 2
        n //= 2
        z = A if z is None else _mm(z, z)
        if bit:
            result = z if result is None else _mm(result, z)
    return _out(result, out)


# ------------------------------------------------------------------------------------------------ small ops


def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """Cross product of 3-vectors along dim (broadcasting the other dims)."""
    if input._data.ndim != other._data.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if input._dtype is not other._dtype:
        raise RuntimeError(f"expected scalar type {_name(input._dtype)} but found {_name(other._dtype)}")
    d = _wrap_dim(dim, input._data.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[d]} and {other.shape[d]}"
        )
    from .shape import broadcast_shapes

    broadcast_shapes(tuple(input.shape), tuple(other.shape))
    from .join import stack

    a0, a1, a2 = (input.select(d, i) for i in range(3))
    b0, b1, b2 = (other.select(d, i) for i in range(3))
    r = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)
    return _out(r, out)


def cross(input: Tensor, other: Tensor, dim=None, *, out=None) -> Tensor:
    """torch.cross: dim=None (deprecated) picks the first dim of size 3."""
    if dim is None:
        warnings.warn(
            "Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim explicitly "
            "or simply use torch.linalg.cross.\nThe default value of dim will change to agree with that of "
            "linalg.cross in a future release.",
            UserWarning,
            stacklevel=2,
        )
        dim = next((i for i, s in enumerate(input.shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return linalg_cross(input, other, dim=dim, out=out)


def trace(input: Tensor) -> Tensor:
    """Sum of the main diagonal of a 2-D tensor (integers sum to int64)."""
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    if input._dtype is D.bool_:
        raise RuntimeError("\"trace\" not implemented for 'Bool'")
    return input.diagonal().sum()


def kron(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Kronecker product (shapes padded with leading 1s to the same rank)."""
    nd = max(input._data.ndim, other._data.ndim)
    sa = (1,) * (nd - input._data.ndim) + tuple(input.shape)
    sb = (1,) * (nd - other._data.ndim) + tuple(other.shape)
    a = input.reshape([x for s in sa for x in (s, 1)])
    b = other.reshape([x for s in sb for x in (1, s)])
    return _out((a * b).reshape([x * y for x, y in zip(sa, sb)]), out)


@autocast_policy("cdist")
def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode=None) -> Tensor:
    """p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M): (..., P, R)."""
    for name, t in (("X1", x1), ("X2", x2)):
        if not t._dtype.is_floating_point:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {_name(t._dtype)}")
    for name, t in (("X1", x1), ("X2", x2)):
        if t._data.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t._data.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if x1._dtype is not x2._dtype:
        raise RuntimeError(f"expected scalar type {_name(x1._dtype)} but found {_name(x2._dtype)}")
    if x1._dtype in _HALF:
        raise RuntimeError(f"\"cdist\" not implemented for '{_name(x1._dtype)}'")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return vector_norm(diff, p, -1)


@autocast_policy("dist")
def dist(input: Tensor, other: Tensor, p=2) -> Tensor:
    """The p-norm of input - other (broadcast)."""
    d = input - other
    if not (d._dtype.is_floating_point or d._dtype.is_complex):
        raise RuntimeError(
            f"norm(): input dtype should be either floating point or complex. Got {_name(d._dtype)} instead."
        )
    return vector_norm(d, p)


@autocast_policy("renorm")
def renorm(input: Tensor, p, dim: int, maxnorm) -> Tensor:
    """Rescale each slice along dim whose p-norm exceeds maxnorm to norm maxnorm."""
    from .elementwise import where

    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    _check_float(input, "linalg.vector_norm", low_precision=True)
    d = _wrap_dim(dim, input._data.ndim)
    dims = [i for i in range(input._data.ndim) if i != d]
    nrm = vector_norm(input, p, dims, True)
    factor = where(nrm > maxnorm, maxnorm / (nrm + 1e-7), 1.0)
    return input * factor


@autocast_policy("multi_dot")
def multi_dot(tensors, *, out=None) -> Tensor:
    """Product of a chain of matrices (the first and last may be 1-D)."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first_1d = tensors[0]._data.ndim == 1
    last_1d = tensors[-1]._data.ndim == 1
    if first_1d:
        tensors[0] = tensors[0].unsqueeze(0)
    if last_1d:
        tensors[-1] = tensors[-1].unsqueeze(-1)
    for i, t in enumerate(tensors):
        if t._data.ndim != 2:
            which = "first" if i == 0 else ("last" if i == len(tensors) - 1 else None)
            if which:
                raise RuntimeError(
                    f"multi_dot(): the {which} tensor must be 1D or 2D but got {t._data.ndim}D"
                )
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t._data.ndim}D")
    from .matmul import mm

    r = tensors[0]
    for t in tensors[1:]:
        r = mm(r, t)
    if first_1d:
        r = r.squeeze(0)
    if last_1d:
        r = r.squeeze(-1)
    return _out(r, out)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """Dot products of vectors along dim (x conjugated), broadcasting the rest."""
    _check_float(x, "linalg.vecdot", low_precision=True)
    if x._dtype is not y._dtype:
        raise RuntimeError(
            f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type {_name(x._dtype)} and y of "
            f"type {_name(y._dtype)} instead"
        )
    xc = x.conj() if x.is_complex() else x
    return _out((xc * y).sum(dim), out)


def linalg_diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """linalg.diagonal: the diagonal of the last two dims by default."""
    return A.diagonal(offset, dim1, dim2)


__all__ = [
    "cdist",
    "cholesky",
    "cross",
    "det",
    "dist",
    "einsum",
    "inverse",
    "kron",
    "logdet",
    "matrix_power",
    "norm",
    "pinverse",
    "qr",
    "renorm",
    "slogdet",
    "svd",
    "tensordot",
    "trace",
]
