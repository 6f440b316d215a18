"""NumPy kernels for the ops of ember's export graph format (v1): torch's semantics, with NumPy only.

``KERNELS[op](*args, **kwargs)`` takes NumPy arrays for tensors, Python ints for evaluated symbolic sizes and
decoded attributes (dtypes are NumPy dtypes, bfloat16 is ml_dtypes.bfloat16), and returns an array (or a tuple
of arrays for multi-output ops). API-level kernels (``F.``, ``T.``, ``E.``) follow the torch function of that
name; op-level kernels (``op.<Class>``) replicate the forward of that ember Op class after dispatch's type
promotion. float16/bfloat16 inputs compute in float32 and round once where ember does.

NOTE: this module must import only NumPy, ml_dtypes and the standard library (never ember, torch or SciPy).
"""

from __future__ import annotations

import functools
import itertools
import math

import ml_dtypes
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.polynomial import chebyshev as _cheb

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
I64 = np.dtype(np.int64)
BOOL = np.dtype(np.bool_)
_HALF = (F16, BF16)
_INF = float("inf")

KERNELS: dict = {}


def _as_out(out):
    if isinstance(out, tuple):
        return tuple(_as_out(o) for o in out)
    return out if isinstance(out, np.ndarray) else np.asarray(out)


def _reg(*names):
    """Register a kernel under `names`; its results become arrays (NumPy returns scalars for 0-d results)."""

    def deco(fn):
        @functools.wraps(fn)
        def kernel(*args, **kwargs):
            with np.errstate(all="ignore"):  # torch computes inf/nan silently
                return _as_out(fn(*args, **kwargs))

        for n in names:
            KERNELS[n] = kernel
        return kernel

    return deco


# ------------------------------------------------------------------------------------------ dtypes (torch's)


def _is_arr(x) -> bool:
    return isinstance(x, np.ndarray)


def _cat(dt) -> int:
    """Category: 0 bool, 1 integer, 2 floating, 3 complex."""
    k = dt.kind
    return 0 if k == "b" else 1 if k in "iu" else 3 if k == "c" else 2


def is_float(dt) -> bool:
    return _cat(np.dtype(dt)) == 2


_FRANK = {F16: 1, BF16: 1, F32: 2, F64: 3}


def promote_types(a, b):
    """torch.promote_types on NumPy dtypes."""
    a, b = np.dtype(a), np.dtype(b)
    if a == b:
        return a
    ca, cb = _cat(a), _cat(b)
    if ca != cb:
        hi, lo = (a, b) if ca > cb else (b, a)
        if _cat(hi) == 3 and lo == F64:
            return np.dtype(np.complex128)
        return hi
    if ca == 2:
        if {a, b} == {F16, BF16}:
            return F32
        return a if _FRANK[a] > _FRANK[b] else b
    if ca == 1:
        if {a, b} == {np.dtype(np.uint8), np.dtype(np.int8)}:
            return np.dtype(np.int16)
        if a == np.uint8:
            return b
        if b == np.uint8:
            return a
        return a if a.itemsize > b.itemsize else b
    return a if a.itemsize > b.itemsize else b


def _scalar_dtype(x):
    if isinstance(x, bool):
        return BOOL
    if isinstance(x, int):
        return I64
    if isinstance(x, float):
        return F32
    if isinstance(x, complex):
        return np.dtype(np.complex64)
    if isinstance(x, np.generic):
        return x.dtype
    raise TypeError(f"ember_runtime: expected a number, got {type(x).__name__}")


def _combine(hi, lo):
    """torch's combine_categories: a lower-priority group matters only when its category is higher."""
    if hi is None:
        return lo
    if lo is None:
        return hi
    ch, cl = _cat(hi), _cat(lo)
    if ch == 3:
        return hi
    if cl == 3:
        return np.dtype(np.complex128) if hi == F64 else (np.dtype(np.complex64) if ch == 2 else lo)
    if ch == 2:
        return hi
    if ch == 0 or cl == 2:
        return promote_types(hi, lo)
    return hi


def result_type(*args):
    """torch.result_type over arrays (dimensioned ones rank above 0-d ones) and Python scalars (lowest)."""
    groups = [None, None, None]
    for a in args:
        if a is None:
            continue
        if _is_arr(a):
            g, dt = (0 if a.ndim else 1), a.dtype
        else:
            g, dt = 2, _scalar_dtype(a)
        groups[g] = dt if groups[g] is None else promote_types(groups[g], dt)
    return _combine(groups[0], _combine(groups[1], groups[2]))


def _cdt(dt):
    """The compute dtype: float32 for float16/bfloat16."""
    return F32 if dt in _HALF else dt


def _up(a):
    """a in its compute dtype (halves become float32)."""
    return a.astype(F32) if _is_arr(a) and a.dtype in _HALF else a


def _wrap_int(v: int, dt):
    info = np.iinfo(dt)
    if info.min <= v <= info.max:
        return v
    return np.array(v, dtype=np.int64).astype(dt)[()]


NONE, SAME, FLOAT, BOOLEAN = 0, 1, 2, 3


def _promote(args, kind, upcast=False):
    """Dispatch's promotion: (args cast to the common dtype, result dtype or None)."""
    if not kind:
        return args, None
    common = result_type(*args)
    if kind == FLOAT and _cat(common) < 2:
        common = F32
    out = []
    for a in args:
        if _is_arr(a):
            if a.dtype != common:
                a = a.astype(common)
            if upcast and kind != BOOLEAN and common in _HALF:
                a = a.astype(F32)
        elif type(a) is int and _cat(common) == 1 and common != I64:
            a = _wrap_int(a, common)
        out.append(a)
    return out, (BOOL if kind == BOOLEAN else common)


def _op(*names, promote=NONE, upcast=False):
    """Register an op-level kernel: dispatch's promotion, the forward, then the cast to the result dtype."""

    def deco(fwd):
        def kernel(*args, **kwargs):
            args, rdt = _promote(args, promote, upcast)
            out = fwd(*args, **kwargs)
            if rdt is not None and not isinstance(out, tuple):
                out = np.asarray(out)
                if out.dtype != rdt:
                    out = out.astype(rdt)
            return out

        kernel.__name__ = fwd.__name__
        _reg(*names)(kernel)
        return kernel

    return deco


def _call(name, *args, **kwargs):
    return KERNELS[name](*args, **kwargs)


# ------------------------------------------------------------------------------------------ shapes and dims


def _wrap_dim(d: int, n: int) -> int:
    m = max(n, 1)
    if not -m <= d < m:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-m}, {m - 1}], but got {d})")
    return d % m


def _norm_dims(dim, n: int):
    """None (all dims) or a sorted tuple of wrapped dims."""
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        if len(dim) == 0:
            return None
        return tuple(sorted({_wrap_dim(int(d), n) for d in dim}))
    return (_wrap_dim(int(dim), n),)


def _axes(dims, a):
    return None if a.ndim == 0 or dims is None else tuple(dims)


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _infer_shape(shape, numel: int) -> tuple:
    if -1 in shape:
        rest = math.prod(s for s in shape if s != -1)
        if rest == 0 or numel % rest:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // rest if s == -1 else s for s in shape)
    if math.prod(shape) != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _ntuple(v, n: int) -> tuple:
    if isinstance(v, (tuple, list)):
        v = tuple(int(e) for e in v)
        return v * n if len(v) == 1 else v
    return (int(v),) * n


# ------------------------------------------------------------------------------------------ special functions


def _cheb_interp(f, a: float, b: float, deg: int):
    """Chebyshev coefficients of f's interpolant on [a, b] (f evaluated with Python floats)."""
    u = np.cos(np.pi * (np.arange(deg + 1) + 0.5) / (deg + 1))
    y = [f(float(v)) for v in (b - a) / 2 * u + (a + b) / 2]
    return _cheb.chebfit(u, np.array(y), deg)


def _erf_over_x(t: float) -> float:
    s = math.sqrt(t)
    return math.erf(s) / s if s else 2.0 / math.sqrt(math.pi)


# erf in float64 to ~1e-15: x * h(x^2) on |x| <= 1, else 1 - exp(-x^2) * erfcx(|x|), with Chebyshev
# interpolants of h and erfcx built once from the standard library's erf/erfc; |x| > 6 gives +-1
# (erfc(6) < 2.2e-17).
_ERF_SMALL = _cheb_interp(_erf_over_x, 0.0, 1.0, 14)
_ERFCX = [
    (lo, hi, _cheb_interp(lambda x: math.erfc(x) * math.exp(x * x), lo, hi, deg))
    for lo, hi, deg in ((1.0, 2.5, 18), (2.5, 4.0, 14), (4.0, 6.0, 12))
]


def _chebval(u, c):
    """Clenshaw's recurrence for sum c[k] T_k(u), in place on three buffers."""
    b0 = np.full_like(u, c[-1])
    b1 = np.zeros_like(u)
    t = np.empty_like(u)
    u2 = u + u
    for ck in c[-2:0:-1]:
        np.multiply(u2, b0, out=t)
        t -= b1
        t += ck
        b1, b0, t = b0, t, b1
    b0 *= u
    b0 -= b1
    b0 += c[0]
    return b0


def erf64(x):
    """erf of an array, computed in float64 (max error about 1e-15)."""
    x = np.asarray(x, dtype=F64)
    shape = x.shape
    x = x.reshape(-1)
    a = np.abs(x)
    out = np.sign(x)  # |x| > 6 (and +-inf); NaN stays NaN
    i = np.flatnonzero(a <= 1.0)
    if i.size:
        v = x[i]
        out[i] = v * _chebval(2.0 * v * v - 1.0, _ERF_SMALL)
    for lo, hi, c in _ERFCX:
        i = np.flatnonzero((a > lo) & (a <= hi))
        if i.size:
            v = a[i]
            e = 1.0 - np.exp(-v * v) * _chebval((2.0 * v - (lo + hi)) / (hi - lo), c)
            out[i] = np.copysign(e, x[i])
    return out.reshape(shape)


def _erf(a):
    """erf in a's (float) dtype."""
    return erf64(a).astype(a.dtype)


def _sigmoid(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


def _softplus(z):
    """log(1 + exp(z)), stable."""
    return np.logaddexp(0, z).astype(z.dtype, copy=False)


# --------------------------------------------------------------------------------------- op level: arithmetic


def _alpha_for(a, b, alpha):
    if _is_arr(a) and _is_arr(b) and a.dtype.kind == "b":
        return bool(alpha)
    return alpha


@_op("op.Add", promote=SAME)
def add(a, b, alpha=1):
    return a + b if alpha == 1 else a + _alpha_for(a, b, alpha) * b


@_op("op.Sub", promote=SAME)
def sub(a, b, alpha=1):
    return a - b if alpha == 1 else a - _alpha_for(a, b, alpha) * b


@_op("op.Mul", promote=SAME)
def mul(a, b):
    return a * b


def _kind(x) -> str:
    return np.asarray(x).dtype.kind


def _int_zero_check(b):
    if bool(np.any(np.asarray(b) == 0)):
        raise RuntimeError("ZeroDivisionError")


_true_div = _op(promote=FLOAT)(lambda a, b: a / b)


@_op(promote=SAME, upcast=True)
def _rounded_div(a, b, rounding_mode="trunc"):
    if _kind(a) in "iub" and _kind(b) in "iub":
        _int_zero_check(b)
        if rounding_mode == "floor":
            return np.floor_divide(a, b)
        q = np.floor_divide(a, b)
        r = a - q * b
        return q + ((r != 0) & ((np.asarray(a) < 0) != (np.asarray(b) < 0)))
    return np.floor_divide(a, b) if rounding_mode == "floor" else np.trunc(a / b)


@_reg("op.Div")
def div(a, b, rounding_mode=None):
    """ember's Div (true division, ints give floats) and DivRounded (rounding_mode 'trunc' / 'floor')."""
    if rounding_mode is None:
        return _true_div(a, b)
    return _rounded_div(a, b, rounding_mode=rounding_mode)


@_reg("op.DivRounded")
def div_rounded(a, b, rounding_mode="trunc"):
    return _rounded_div(a, b, rounding_mode=rounding_mode)


def _int_pow(a, b):
    neg = np.asarray(b) < 0
    if not np.any(neg):
        return np.power(a, b)
    dt = np.result_type(a, b)
    a_, b_ = np.asarray(a).astype(dt), np.asarray(b).astype(dt)
    out = np.power(a_, np.where(neg, 0, b_).astype(dt))
    odd = (b_ % 2) != 0
    small = np.where(a_ == 1, 1, np.where(a_ == -1, np.where(odd, -1, 1), 0)).astype(dt)
    return np.where(neg, small, out)


@_op("op.Pow", promote=SAME, upcast=True)
def pow_(a, b):
    if _is_arr(a) and a.dtype.kind == "b":
        return a.copy() if b else np.ones_like(a)
    if _kind(a) in "iu" and _kind(b) in "iu":
        if not _is_arr(b) and b < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return _int_pow(a, b)
    return a**b


@_op("op.Maximum", promote=SAME)
def maximum(a, b):
    return np.maximum(a, b)


@_op("op.Minimum", promote=SAME)
def minimum(a, b):
    return np.minimum(a, b)


# ------------------------------------------------------------------------------------------ op level: unary


@_op("op.Neg", promote=SAME)
def neg(a):
    if a.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported.")
    return -a


@_op("op.Abs", promote=SAME)
def abs_(a):
    if a.dtype.kind == "b":
        raise NotImplementedError("\"abs_cpu\" not implemented for 'Bool'")
    return np.abs(a)


@_op("op.Sign", promote=SAME)
def sign(a):
    if a.dtype.kind in "iu":
        return np.sign(a)
    if a.dtype.kind == "b":
        return a.copy()
    return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)


def _rounding(fn, name):
    def fwd(a, decimals=None):
        if a.dtype.kind in "iub":
            if a.dtype.kind == "b" or decimals is not None:
                raise NotImplementedError(f"\"{name}\" not implemented for '{a.dtype}'")
            return a.copy()
        return fn(a, decimals)

    return fwd


_op("op.Floor", promote=SAME)(_rounding(lambda a, d: np.floor(a), "floor_vml_cpu"))
_op("op.Ceil", promote=SAME)(_rounding(lambda a, d: np.ceil(a), "ceil_vml_cpu"))
_op("op.Round", promote=SAME, upcast=True)(_rounding(lambda a, d: np.round(a, d or 0), "round_vml_cpu"))

for _name, _fn in {
    "Exp": np.exp,
    "Log": np.log,
    "Sqrt": np.sqrt,
    "Rsqrt": lambda a: 1 / np.sqrt(a),
    "Sin": np.sin,
    "Cos": np.cos,
    "Tanh": np.tanh,
    "Sigmoid": _sigmoid,
    "Erf": _erf,
    "Reciprocal": lambda a: 1 / a,
}.items():
    _op(f"op.{_name}", promote=FLOAT, upcast=True)(_fn)


@_op("op.Clamp", promote=SAME)
def clamp(a, lo=None, hi=None):
    if a.dtype.kind == "b" and not (_is_arr(lo) or _is_arr(hi)):
        raise NotImplementedError("\"clamp_scalar_cpu\" not implemented for 'Bool'")
    out = a
    if lo is not None:
        out = np.maximum(out, lo)
    if hi is not None:
        out = np.minimum(out, hi)
    return out if out is not a else a.copy()


@_reg("op.Where")
def where_op(cond, a, b, dtype=None):
    out = np.where(cond, a, b)
    return out.astype(dtype) if dtype is not None and out.dtype != dtype else out


for _name, _fn in {
    "Eq": np.equal,
    "Ne": np.not_equal,
    "Lt": np.less,
    "Le": np.less_equal,
    "Gt": np.greater,
    "Ge": np.greater_equal,
    "LogicalAnd": np.logical_and,
    "LogicalOr": np.logical_or,
}.items():
    _op(f"op.{_name}", promote=BOOLEAN)(_fn)
_op("op.LogicalNot", promote=BOOLEAN)(np.logical_not)


# -------------------------------------------------------------------------------------- op level: activations


@_op("op.Relu", promote=SAME)
def relu(a):
    return np.maximum(a, 0).astype(a.dtype, copy=False)


_GELU_K = math.sqrt(2.0 / math.pi)


@_op("op.Gelu", promote=SAME, upcast=True)
def gelu(a, approximate="none"):
    if approximate == "tanh":  # x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3), in ember's order
        u = (a * a * 0.044715 + 1.0) * a * (-2.0 * _GELU_K)
        return a * (1.0 / (np.exp(u) + 1.0))
    x = a.astype(F64)
    return (x * (0.5 * (1.0 + erf64(x * (1.0 / math.sqrt(2.0)))))).astype(a.dtype)


@_op("op.Silu", promote=SAME, upcast=True)
def silu(a):
    return a * _sigmoid(a)


@_op("op.Softmax", promote=SAME, upcast=True)
def softmax_op(a, dim=-1):
    if a.ndim == 0:
        return np.ones_like(a)
    if a.size == 0:
        return a.copy()
    e = np.exp(a - np.max(a, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


@_op("op.LogSoftmax", promote=SAME, upcast=True)
def log_softmax_op(a, dim=-1):
    if a.ndim == 0:
        return np.zeros_like(a)
    if a.size == 0:
        return a.copy()
    m = np.max(a, axis=dim, keepdims=True)
    s = a - np.where(np.isfinite(m), m, 0).astype(a.dtype)
    return s - np.log(np.sum(np.exp(s), axis=dim, keepdims=True))


def _mm(a, b):
    """np.matmul; a batch times a matrix folds the batch into one BLAS call (as ember's CPU backend)."""
    if b.ndim == 2 and a.ndim > 2:
        return np.matmul(a.reshape(-1, a.shape[-1]), b).reshape(a.shape[:-1] + (b.shape[1],))
    return np.matmul(a, b)


@_op("op.Matmul", promote=SAME, upcast=True)
def matmul_op(a, b):
    return _mm(a, b)


# ------------------------------------------------------------------------------------------ op level: shapes


@_reg("op.Transpose")
def transpose(a, dim0=0, dim1=1):
    return np.swapaxes(a, dim0, dim1)


@_reg("op.Permute")
def permute(a, dims=()):
    return np.transpose(a, tuple(dims))


@_reg("op.Contiguous")
def contiguous(a, memory_format=None):
    return np.ascontiguousarray(a)


@_reg("op.Clone")
def clone(a, order="K"):
    return np.array(a, copy=True, order=order)


@_reg("op.ToCopy")
def to_copy(a, dtype=None, device=None, copy=False):
    if dtype is not None and a.dtype != dtype:
        return a.astype(dtype)
    return a.copy() if copy else a


@_reg("op.Expand")
def expand_op(a, shape=()):
    return np.broadcast_to(a, tuple(shape))


@_reg("op.Unsqueeze")
def unsqueeze_op(a, dim=0):
    return np.expand_dims(a, dim)


@_reg("op.Squeeze")
def squeeze_op(a, dims=None):
    if dims is None:
        return a.reshape(tuple(s for s in a.shape if s != 1))
    dims = tuple(d for d in dims if a.shape[d] == 1)
    return np.squeeze(a, dims) if dims else a


def _legacy_empty(a) -> bool:
    return a.ndim == 1 and a.shape[0] == 0


@_op("op.Cat", promote=SAME)
def cat_op(*arrays, dim=0):
    keep = [a for a in arrays if not _legacy_empty(a)] or list(arrays)
    return np.concatenate(keep, axis=dim)


def _sum(a, dims=None, keepdim=False, dtype=None):
    if dtype is not None:
        a = a.astype(dtype)
    if a.dtype.kind in "biu":
        acc = out_dt = a.dtype if dtype is not None else I64
    elif a.dtype in _HALF:
        acc, out_dt = F32, a.dtype
    else:
        acc, out_dt = None, a.dtype
    out = np.add.reduce(a, axis=_axes(dims, a), keepdims=keepdim, dtype=acc)
    return np.asarray(out).astype(out_dt, copy=False)


_reg("op.Sum")(_sum)


@_reg("op.Amax")
def amax_op(a, dims=None, keepdim=False, is_min=False):
    return (np.min if is_min else np.max)(a, axis=_axes(dims, a), keepdims=keepdim)


@_reg("op.Tril")
def tril_op(a, diagonal=0, upper=False):
    return (np.triu if upper else np.tril)(a, diagonal)


@_reg("op.MaskedFill")
def masked_fill_op(a, mask, value):
    return np.where(mask, np.asarray(value, dtype=a.dtype), a)


# ---------------------------------------------------------------------------------------- op level: beyond v1
# Primitives the tracer records at op level when a Tensor method outside the traceable list is called
# (x.max(dim), ~mask, x.exp() ...): cheap to support, each with the Op class's kwargs.


@_reg("op.MaxDim")
def max_dim_op(a, dim=0, keepdim=False, is_min=False):
    if a.ndim == 0:
        return a.copy(), np.zeros((), dtype=np.int64)
    idx = (np.argmin if is_min else np.argmax)(a, axis=dim, keepdims=True)
    vals = np.take_along_axis(a, idx, axis=dim)
    if not keepdim:
        vals, idx = vals.squeeze(dim), idx.squeeze(dim)
    return vals, idx.astype(np.int64)


@_reg("op.MaxAll")
def max_all_op(a, is_min=False):
    return (np.min if is_min else np.max)(a)


@_reg("op.Argmax")
def argmax_op(a, dim=None, keepdim=False, is_min=False):
    f = np.argmin if is_min else np.argmax
    if dim is None:
        out = np.asarray(f(a.reshape(-1))).astype(np.int64)
        return out.reshape((1,) * a.ndim) if keepdim else out
    if a.ndim == 0:
        return np.zeros((), dtype=np.int64)
    return f(a, axis=dim, keepdims=keepdim).astype(np.int64)


def _bitwise(fn, name):
    def fwd(*args):
        for a in args:
            if np.asarray(a).dtype.kind not in "iub":
                raise NotImplementedError(f"\"{name}\" not implemented for '{np.asarray(a).dtype}'")
        return fn(*args)

    return fwd


_op("op.BitwiseNot", promote=SAME)(_bitwise(np.invert, "bitwise_not_cpu"))
_op("op.BitwiseAnd", promote=SAME)(_bitwise(np.bitwise_and, "bitwise_and_cpu"))
_op("op.BitwiseOr", promote=SAME)(_bitwise(np.bitwise_or, "bitwise_or_cpu"))
_op("op.BitwiseXor", promote=SAME)(_bitwise(np.bitwise_xor, "bitwise_xor_cpu"))
_op("op.LogicalXor", promote=BOOLEAN)(np.logical_xor)
for _name, _fn in {"Isnan": np.isnan, "Isinf": np.isinf, "Isfinite": np.isfinite}.items():
    _op(f"op.{_name}", promote=BOOLEAN)(_fn)
for _name, _fn in {"Log1p": np.log1p, "Expm1": np.expm1, "Tan": np.tan, "Atan": np.arctan}.items():
    _op(f"op.{_name}", promote=FLOAT, upcast=True)(_fn)
_op("op.Trunc", promote=SAME)(_rounding(lambda a, d: np.trunc(a), "trunc_vml_cpu"))
_op("op.Square", promote=SAME, upcast=True)(lambda a: a * a)


@_op("op.FloorDivide", promote=SAME, upcast=True)
def floor_divide_op(a, b):
    if _kind(a) in "iub" and _kind(b) in "iub":
        _int_zero_check(b)
    return np.floor_divide(a, b)


@_op("op.Remainder", promote=SAME, upcast=True)
def remainder_op(a, b):
    if _kind(a) in "iu" and _kind(b) in "iu":
        _int_zero_check(b)
        return np.remainder(a, b)
    m = np.fmod(a, b)
    return np.where((m != 0) & ((np.asarray(b) < 0) != (m < 0)), m + b, m).astype(m.dtype, copy=False)


@_reg("op.View", "op.Reshape")
def view_op(a, shape=()):
    return a.reshape(tuple(shape))


@_reg("op.Slice", "op.Index")
def index_op(a, key=()):
    return a[tuple(key)]


@_reg("op.Repeat")
def repeat_op(a, repeats=()):
    return np.tile(a.reshape((1,) * (len(repeats) - a.ndim) + a.shape), tuple(repeats))


@_reg("op.SplitViews")
def split_views_op(a, dim=0, sizes=()):
    return _split_sizes(a, tuple(sizes), dim)


@_reg("op.Flip")
def flip_op(a, dims=()):
    return np.flip(a, tuple(dims)).copy() if dims else a.copy()


@_op("op.LeakyRelu", promote=SAME, upcast=True)
def leaky_relu_op(a, slope=0.01):
    return np.where(a > 0, a, a * slope)


@_op("op.Elu", promote=SAME, upcast=True)
def elu_op(a, alpha=1.0, scale=1.0, beta=1.0):
    return scale * np.where(a > 0, a, alpha * beta * np.expm1(np.minimum(a, 0) / beta))


@_op("op.Softplus", promote=SAME, upcast=True)
def softplus_op(a, beta=1.0, threshold=20.0):
    z = a * beta
    return np.where(z > threshold, a, _softplus(z) / beta)


@_op("op.Mish", promote=SAME, upcast=True)
def mish_op(a):
    return a * np.tanh(_softplus(a))


@_op("op.Hardtanh", promote=SAME)
def hardtanh_op(a, lo=-1.0, hi=1.0):
    return np.clip(a, lo, hi).astype(a.dtype, copy=False)


# ------------------------------------------------------------------------------------------ F: activations


@_reg("F.relu")
def f_relu(input, inplace=False):
    return relu(input)


@_reg("F.gelu")
def f_gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate}")
    return gelu(input, approximate=approximate)


@_reg("F.silu")
def f_silu(input, inplace=False):
    return silu(input)


@_reg("F.sigmoid")
def f_sigmoid(input):
    return _call("op.Sigmoid", input)


@_reg("F.tanh")
def f_tanh(input):
    return _call("op.Tanh", input)


@_reg("F.leaky_relu")
def f_leaky_relu(input, negative_slope=0.01, inplace=False):
    return leaky_relu_op(input, slope=negative_slope)


@_reg("F.elu")
def f_elu(input, alpha=1.0, inplace=False):
    return elu_op(input, alpha=alpha)


@_reg("F.softplus")
def f_softplus(input, beta=1.0, threshold=20.0):
    return softplus_op(input, beta=beta, threshold=threshold)


@_reg("F.mish")
def f_mish(input, inplace=False):
    return mish_op(input)


@_reg("F.hardtanh")
def f_hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return hardtanh_op(input, min_val, max_val)


def _softmax_args(input, dim, dtype):
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1
    x = input.astype(dtype) if dtype is not None else input
    if not is_float(x.dtype):
        raise RuntimeError(f"softmax: expected a floating point input, got {x.dtype}")
    return x, _wrap_dim(dim, x.ndim)


@_reg("F.softmax")
def f_softmax(input, dim=None, _stacklevel=3, dtype=None):
    x, d = _softmax_args(input, dim, dtype)
    return softmax_op(x, dim=d)


@_reg("F.log_softmax")
def f_log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    x, d = _softmax_args(input, dim, dtype)
    return log_softmax_op(x, dim=d)


@_reg("F.dropout")
def f_dropout(input, p=0.5, training=True, inplace=False):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 0 or not training or input.size == 0:
        return input
    if p == 1:
        return input * np.zeros((), dtype=input.dtype)
    raise NotImplementedError(
        "ember_runtime: dropout in training mode is random; export the model in eval mode"
    )


def _vector_norm(a, ord, dims, keepdim):
    """linalg.vector_norm in a's dtype (halves computed in float32 and rounded)."""
    x = np.abs(_up(a))
    ax = _axes(dims, a)
    if ord == 2:
        out = np.sqrt(np.sum(x * x, axis=ax, keepdims=keepdim))
    elif ord == _INF:
        out = np.max(x, axis=ax, keepdims=keepdim)
    elif ord == -_INF:
        out = np.min(x, axis=ax, keepdims=keepdim)
    elif ord == 0:
        out = np.sum(x != 0, axis=ax, keepdims=keepdim)
    elif ord == 1:
        out = np.sum(x, axis=ax, keepdims=keepdim)
    else:
        out = np.sum(x**ord, axis=ax, keepdims=keepdim) ** (1.0 / ord)
    return np.asarray(out).astype(a.dtype, copy=False)


@_reg("F.normalize")
def f_normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    denom = _vector_norm(input, float(p), _norm_dims(dim, input.ndim), True)
    denom = np.maximum(denom, eps).astype(input.dtype, copy=False)
    return _true_div(input, np.broadcast_to(denom, input.shape))


# ------------------------------------------------------------------------------------------ F: linear, conv


@_reg("F.linear")
def f_linear(input, weight, bias=None):
    if weight.ndim == 1:
        out = _call("E.matmul", input, weight)
        return add(out, bias) if bias is not None else out
    dt = result_type(input, weight)
    x, w = _up(input.astype(dt, copy=False)), _up(weight.astype(dt, copy=False))
    out = _mm(x, w.T)
    if bias is not None and tuple(bias.shape) in ((weight.shape[0],), (), (1,)):
        out = out + _up(bias).astype(out.dtype, copy=False)
        return out.astype(dt, copy=False)
    out = out.astype(dt, copy=False)
    return add(out, bias) if bias is not None else out


def _padded(x, lo, hi, fill=0):
    """x (N, C, *S) padded by lo/hi on its spatial dims with `fill`."""
    if not any(lo) and not any(hi):
        return x
    return np.pad(x, [(0, 0), (0, 0)] + list(zip(lo, hi)), constant_values=fill)


def _windows(buf, k, s, dl, O):
    """Strided view (N, C, *O, *k) of the windows of buf (N, C, *P): kernel k, stride s, dilation dl."""
    d = len(k)
    eff = tuple(dl[j] * (k[j] - 1) + 1 for j in range(d))
    win = sliding_window_view(buf, eff, axis=tuple(range(2, 2 + d)))
    key = (slice(None), slice(None))
    key += tuple(slice(0, (O[j] - 1) * s[j] + 1, s[j]) for j in range(d))
    key += tuple(slice(None, None, dl[j]) for j in range(d))
    return win[key]


def _conv(x, w, b, stride, padding, dilation, groups, d):
    batched = x.ndim == d + 2
    if not batched:
        x = x[None]
    dt = result_type(x, w) if b is None else result_type(x, w, b)
    x, w = _up(x.astype(dt, copy=False)), _up(w.astype(dt, copy=False))
    k = w.shape[2:]
    s, dl = _ntuple(stride, d), _ntuple(dilation, d)
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = (0,) * d
        elif padding == "same":
            total = tuple(dl[j] * (k[j] - 1) for j in range(d))
            lo = tuple(t // 2 for t in total)
            hi = tuple(t - a for t, a in zip(total, lo))
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        lo = hi = _ntuple(padding, d)
    buf = _padded(x, lo, hi)
    O = tuple((buf.shape[2 + j] - dl[j] * (k[j] - 1) - 1) // s[j] + 1 for j in range(d))
    n, c = x.shape[:2]
    oc, g = w.shape[0], groups
    win = _windows(buf, k, s, dl, O).reshape((n, g, c // g) + O + tuple(k))
    # im2col, channel-major (the copy then streams along the output rows): (G, Cg*K, N*L), then one
    # (Og, Cg*K) @ (Cg*K, N*L) product per group
    cols = win.transpose((1, 2) + tuple(range(3 + d, 3 + 2 * d)) + (0,) + tuple(range(3, 3 + d)))
    cols = cols.reshape(g, -1, n * math.prod(O))
    wm = w.reshape(g, oc // g, -1)
    out = (wm[0] @ cols[0])[None] if g == 1 else np.matmul(wm, cols)
    if b is not None:
        out += _up(b).reshape(g, oc // g, 1)
    out = out.reshape((g, oc // g, n) + O).transpose((2, 0, 1) + tuple(range(3, 3 + d))).reshape((n, oc) + O)
    out = out.astype(dt)
    return out if batched else out[0]


def _conv_transpose(x, w, b, stride, padding, output_padding, groups, dilation, d):
    batched = x.ndim == d + 2
    if not batched:
        x = x[None]
    dt = result_type(x, w) if b is None else result_type(x, w, b)
    x, w = _up(x.astype(dt, copy=False)), _up(w.astype(dt, copy=False))
    s, p, op, dl = (_ntuple(v, d) for v in (stride, padding, output_padding, dilation))
    k = w.shape[2:]
    n, cin = x.shape[:2]
    I = x.shape[2:]  # noqa: E741
    g = groups
    cg_out = w.shape[1]
    # cols (N, G, Cg_out*K, L) = w_g^T @ x_g, then each kernel offset's columns are added into the output
    wt = np.ascontiguousarray(
        w.reshape(g, cin // g, -1).transpose(0, 2, 1)
    )  # NumPy loops slowly over strided stacks
    cols = np.matmul(wt, x.reshape(n, g, cin // g, -1))
    cols = cols.reshape((n, g * cg_out) + tuple(k) + tuple(I))
    P = tuple((I[j] - 1) * s[j] + dl[j] * (k[j] - 1) + 1 + op[j] for j in range(d))
    buf = np.zeros((n, g * cg_out) + P, dtype=cols.dtype)
    for kk in itertools.product(*(range(kj) for kj in k)):
        key = tuple(slice(kk[j] * dl[j], kk[j] * dl[j] + (I[j] - 1) * s[j] + 1, s[j]) for j in range(d))
        buf[(slice(None), slice(None)) + key] += cols[(slice(None), slice(None)) + kk]
    S = tuple(P[j] - 2 * p[j] for j in range(d))
    out = buf[(slice(None), slice(None)) + tuple(slice(p[j], p[j] + S[j]) for j in range(d))]
    if b is not None:
        out = out + _up(b).reshape((1, -1) + (1,) * d)
    out = out.astype(dt)
    return out if batched else out[0]


def _reg_convs():
    for d in (1, 2, 3):

        def conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, _d=d):
            return _conv(input, weight, bias, stride, padding, dilation, groups, _d)

        def conv_t(
            input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, _d=d
        ):
            return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, _d)

        _reg(f"F.conv{d}d")(conv)
        _reg(f"F.conv_transpose{d}d")(conv_t)


_reg_convs()


# ------------------------------------------------------------------------------------------ F: pooling


def _pool_geom(x, kernel_size, stride, padding, dilation, ceil_mode, d):
    k = _ntuple(kernel_size, d)
    s = (
        k
        if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
        else _ntuple(stride, d)
    )
    p, dl = _ntuple(padding, d), _ntuple(dilation, d)
    S = x.shape[-d:]
    O = []
    for j in range(d):
        eff = dl[j] * (k[j] - 1) + 1
        o = (S[j] + 2 * p[j] - eff + ((s[j] - 1) if ceil_mode else 0)) // s[j] + 1
        if ceil_mode and (o - 1) * s[j] >= S[j] + p[j]:
            o -= 1
        O.append(o)
    if any(o < 1 for o in O):
        raise RuntimeError(f"pooling: output size {O} is too small for input {list(x.shape)}")
    return k, s, p, dl, tuple(S), tuple(O)


def _pool_buffer(x, k, s, p, dl, S, O, fill):
    """x padded with `fill`: p before each spatial dim, and after it up to what the last window reads."""
    d = len(k)
    P = [max(S[j] + 2 * p[j], (O[j] - 1) * s[j] + dl[j] * (k[j] - 1) + 1) for j in range(d)]
    return _padded(x, p, tuple(P[j] - S[j] - p[j] for j in range(d)), fill)


def _lowest(dt):
    return np.iinfo(dt).min if dt.kind in "iu" else -np.inf


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, d):
    batched = input.ndim == d + 2
    x = _up(input if batched else input[None])
    k, s, p, dl, S, O = _pool_geom(x, kernel_size, stride, padding, dilation, ceil_mode, d)
    low = _lowest(x.dtype)
    win = _windows(_pool_buffer(x, k, s, p, dl, S, O, low), k, s, dl, O)
    offsets = itertools.product(*(range(kj) for kj in k))
    out = win[(Ellipsis,) + next(offsets)].copy()
    for kk in offsets:  # a running maximum over the kernel offsets (NaN propagates)
        np.maximum(out, win[(Ellipsis,) + kk], out=out)
    out = out.astype(input.dtype)
    if not return_indices:
        return out if batched else out[0]
    # torch's indices: the first maximum of each window (the last NaN when there is one; the first position
    # inside the input when nothing beats the padding), as a flat position in the input plane
    K = math.prod(k)
    flat = win.reshape(win.shape[: 2 + d] + (K,))
    valid = _windows(_pool_buffer(np.ones((1, 1) + S, dtype=bool), k, s, p, dl, S, O, False), k, s, dl, O)
    valid = valid.reshape(valid.shape[: 2 + d] + (K,))
    m = np.max(flat, axis=-1, keepdims=True)
    first = np.argmax(valid & (flat == m), axis=-1)
    if x.dtype.kind == "f":
        nan = np.isnan(flat)
        last_nan = K - 1 - np.argmax(nan[..., ::-1], axis=-1)
        first = np.where(nan.any(-1), last_nan, first)
    idx = np.zeros(first.shape, dtype=np.int64)
    for j in range(d):
        kk = (first // math.prod(k[j + 1 :])) % k[j]
        o = np.arange(O[j]).reshape((1, 1) + tuple(-1 if i == j else 1 for i in range(d)))
        idx += (o * s[j] - p[j] + kk * dl[j]) * math.prod(S[j + 1 :])
    return (out, idx) if batched else (out[0], idx[0])


def _avg_divisor(k, s, p, S, O, count_include_pad, divisor_override):
    if divisor_override is not None:
        return float(divisor_override)
    d = len(k)
    div = np.ones((1, 1) + O)
    for j in range(d):
        start = np.arange(O[j]) * s[j] - p[j]
        end = np.minimum(start + k[j], S[j] + p[j])
        n = end - start if count_include_pad else np.minimum(end, S[j]) - np.maximum(start, 0)
        div = div * n.astype(np.float64).reshape((1, 1) + tuple(-1 if i == j else 1 for i in range(d)))
    flat = div.reshape(-1)
    if flat.size and (flat == flat[0]).all():
        return float(flat[0])
    return div


def _window_mean(x, k, s, p, dl, S, O, div):
    """Window sums over the kernel offsets in row-major order (as ember), divided by div."""
    win = _windows(_pool_buffer(x, k, s, p, dl, S, O, 0), k, s, dl, O)
    offsets = list(itertools.product(*(range(kj) for kj in k)))
    pick = (Ellipsis,)
    if is_float(x.dtype):
        acc = win[pick + offsets[0]].copy()
        for kk in offsets[1:]:
            acc += win[pick + kk]
        acc /= div
        return acc
    acc = win[pick + offsets[0]].astype(np.int64)
    for kk in offsets[1:]:
        acc += win[pick + kk]
    q = np.abs(acc) // np.asarray(div).astype(np.int64)
    return (np.sign(acc) * q).astype(x.dtype)


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, d):
    batched = input.ndim == d + 2
    x = _up(input if batched else input[None])
    k, s, p, dl, S, O = _pool_geom(x, kernel_size, stride, padding, 1, ceil_mode, d)
    div = _avg_divisor(k, s, p, S, O, count_include_pad, divisor_override)
    out = _window_mean(x, k, s, p, dl, S, O, div).astype(input.dtype, copy=False)
    return out if batched else out[0]


@_reg("F.max_pool1d")
def f_max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1)


@_reg("F.max_pool2d")
def f_max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2)


@_reg("F.avg_pool1d")
def f_avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1)


@_reg("F.avg_pool2d")
def f_avg_pool2d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2)


def _adaptive_avg(input, output_size, d):
    batched = input.ndim == d + 2
    x = _up(input if batched else input[None])
    S = x.shape[2:]
    osz = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * d
    osz = tuple(S[j] if v is None else int(v) for j, v in enumerate(osz))
    if all(o > 0 and n % o == 0 for n, o in zip(S, osz)):
        k = tuple(n // o for n, o in zip(S, osz))
        out = _window_mean(x, k, k, (0,) * d, (1,) * d, S, osz, float(math.prod(k)))
    else:
        out = x
        for j in range(d):  # separable: a few weighted taps per output position along each axis
            n, m = S[j], osz[j]
            i = np.arange(m)
            start, end = (i * n) // m, ((i + 1) * n + m - 1) // m
            kmax = int((end - start).max()) if m else 1
            t = np.arange(kmax)[:, None]
            idx = np.minimum(start[None, :] + t, np.maximum(end - 1, 0)[None, :])
            w = ((t < (end - start)[None, :]) / np.maximum(end - start, 1)[None, :]).astype(x.dtype)
            shape = (-1,) + (1,) * (d - 1 - j)
            acc = np.take(out, idx[0], axis=2 + j) * w[0].reshape(shape)
            for r in range(1, kmax):
                acc += np.take(out, idx[r], axis=2 + j) * w[r].reshape(shape)
            out = acc
    out = out.astype(input.dtype, copy=False)
    return out if batched else out[0]


@_reg("F.adaptive_avg_pool1d")
def f_adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg(input, output_size, 1)


@_reg("F.adaptive_avg_pool2d")
def f_adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg(input, output_size, 2)


# ------------------------------------------------------------------------------------------ F: normalization


def _norm(x, w, b, view, axes, pshape, eps, center):
    """(x - mean) * rsqrt(var + eps) * w + b over `axes` of x viewed as `view` (mean kept off for RMS)."""
    cdt = _cdt(x.dtype)
    a = x.reshape(view).astype(cdt)
    n = math.prod(view[i] for i in axes)
    if center:
        a = a - np.add.reduce(a, axis=axes, keepdims=True) / n
    var = np.add.reduce(a * a, axis=axes, keepdims=True) / n
    a = a * (1.0 / np.sqrt(var + eps))
    if w is not None:
        a = a * w.reshape(pshape).astype(cdt, copy=False)
    if b is not None:
        a = a + b.reshape(pshape).astype(cdt, copy=False)
    return a.reshape(x.shape).astype(x.dtype, copy=False)


def _normalized_shape(ns) -> tuple:
    return (int(ns),) if isinstance(ns, (int, np.integer)) else tuple(int(s) for s in ns)


@_reg("F.layer_norm")
def f_layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    ns = _normalized_shape(normalized_shape)
    nd, k = input.ndim, len(ns)
    if tuple(input.shape[nd - k :]) != ns:
        raise RuntimeError(
            f"layer_norm: normalized_shape {list(ns)} does not match input {list(input.shape)}"
        )
    return _norm(input, weight, bias, input.shape, tuple(range(nd - k, nd)), (1,) * (nd - k) + ns, eps, True)


@_reg("F.rms_norm")
def f_rms_norm(input, normalized_shape, weight=None, eps=None):
    ns = _normalized_shape(normalized_shape)
    if weight is not None and weight.dtype != input.dtype:
        if not (input.dtype in _HALF and weight.dtype == F32):
            common = promote_types(input.dtype, weight.dtype)
            input, weight = input.astype(common), weight.astype(common)
    if eps is None:
        eps = float(np.finfo(_cdt(input.dtype)).eps)
    nd, k = input.ndim, len(ns)
    return _norm(input, weight, None, input.shape, tuple(range(nd - k, nd)), (1,) * (nd - k) + ns, eps, False)


@_reg("F.group_norm")
def f_group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    n, c = input.shape[:2]
    g = num_groups
    if g <= 0 or c % g:
        raise RuntimeError(f"group_norm: {c} channels are not divisible by num_groups={g}")
    view = (n, g, c // g, math.prod(input.shape[2:]))
    return _norm(input, weight, bias, view, (2, 3), (1, g, c // g, 1), eps, True)


@_reg("F.batch_norm")
def f_batch_norm(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    c = input.shape[1]
    pshape = (1, c) + (1,) * (input.ndim - 2)
    if input.size == 0:
        out = input.copy()
        if weight is not None:
            out = mul(out, weight.reshape(pshape))
        if bias is not None:
            out = add(out, bias.reshape(pshape))
        return out
    if training or running_mean is None or running_var is None:  # batch statistics (biased variance)
        view = (input.shape[0], c, math.prod(input.shape[2:]))
        return _norm(input, weight, bias, view, (0, 2), (1, c, 1), eps, True)
    cdt = _cdt(input.dtype)
    scale = 1.0 / np.sqrt(running_var.astype(cdt) + eps)
    if weight is not None:
        scale = scale * weight.astype(cdt)
    shift = -running_mean.astype(cdt) * scale
    if bias is not None:
        shift = shift + bias.astype(cdt)
    y = input.astype(cdt) * scale.reshape(pshape) + shift.reshape(pshape)
    return y.astype(input.dtype, copy=False)


# ------------------------------------------------------------------------------------------ F: the rest


@_reg("F.embedding")
def f_embedding(
    input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False
):
    if input.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: expected integer indices, got {input.dtype}")
    num = weight.shape[0]
    if input.size and (int(input.min()) < 0 or int(input.max()) >= num):
        raise IndexError("index out of range in self")
    out = np.take(weight, input, axis=0)
    if max_norm is not None:  # torch renormalises the looked-up rows of weight (in place) before the lookup
        norms = _vector_norm(out, float(norm_type), (out.ndim - 1,), True)
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(out.dtype)
        out = out * scale
    return out


@_reg("F.scaled_dot_product_attention")
def f_sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    if dropout_p > 0.0:
        raise NotImplementedError("ember_runtime: attention dropout is random; export with dropout_p=0")
    out_dt = query.dtype
    sc = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    q, k, v = _up(query), _up(key), _up(value)
    mask = attn_mask
    if mask is not None and mask.dtype != BOOL:
        mask = _up(mask)
    if enable_gqa and q.ndim >= 3 and k.ndim >= 3 and q.shape[-3] != k.shape[-3]:
        groups = q.shape[-3] // k.shape[-3]
        k, v = np.repeat(k, groups, axis=-3), np.repeat(v, groups, axis=-3)
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * sc
    L, S = s.shape[-2], s.shape[-1]
    if is_causal:
        s = s + np.where(np.tri(L, S, dtype=bool), 0.0, -np.inf).astype(s.dtype)
    if mask is not None:
        s = np.where(mask, s, -np.inf).astype(s.dtype) if mask.dtype == BOOL else s + mask
    if S == 0:
        probs = np.zeros_like(s)
    else:  # fully masked rows give zeros (torch's safe softmax)
        m = np.max(s, axis=-1, keepdims=True)
        m = np.where(m == -np.inf, 0.0, m).astype(s.dtype)
        e = np.exp(s - m)
        den = np.sum(e, axis=-1, keepdims=True)
        probs = e / np.where(den == 0, 1.0, den).astype(s.dtype)
    return np.matmul(probs, v).astype(out_dt, copy=False)


def _pad_index(mode, n, lo, hi):
    if mode == "circular":
        start = max(-lo, 0)
        m = n - start - max(-hi, 0)
        j = np.arange(-max(lo, 0), m + max(hi, 0))
        return start + np.mod(j, m) if m > 0 else np.zeros(0, dtype=np.int64)
    j = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    j = np.abs(j)  # reflect
    return np.where(j >= n, 2 * (n - 1) - j, j)


@_reg("F.pad")
def f_pad(input, pad, mode="constant", value=None):
    pads = tuple(int(p) for p in pad)
    nd = len(pads) // 2
    x = input
    if mode == "constant":
        v = 0 if value is None else value
        if x.dtype.kind in "iub":
            v = bool(v) if x.dtype.kind == "b" else int(v)
        src = [slice(None)] * x.ndim
        dst = [slice(None)] * x.ndim
        shape = list(x.shape)
        for j in range(nd):
            ax = x.ndim - 1 - j
            lo, hi = pads[2 * j], pads[2 * j + 1]
            n = x.shape[ax]
            shape[ax] = n + lo + hi
            if shape[ax] < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
            src[ax] = slice(max(-lo, 0), n - max(-hi, 0))
            dst[ax] = slice(max(lo, 0), max(lo, 0) + max(n - max(-lo, 0) - max(-hi, 0), 0))
        out = np.full(tuple(shape), v, dtype=x.dtype)
        out[tuple(dst)] = x[tuple(src)]
        return out
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    for j in range(nd):
        ax = x.ndim - 1 - j
        lo, hi = pads[2 * j], pads[2 * j + 1]
        if lo or hi:
            x = np.take(x, _pad_index(mode, x.shape[ax], lo, hi), axis=ax)
    return x if x is not input else input.copy()


# ------------------------------------------------------------------------------------------ T: shapes


@_reg("T.view")
def t_view(self, *shape):
    if len(shape) == 1 and isinstance(shape[0], np.dtype):
        return self.view(shape[0])
    return self.reshape(_infer_shape(_shape_arg(shape), self.size))


@_reg("T.reshape")
def t_reshape(self, *shape):
    return self.reshape(_infer_shape(_shape_arg(shape), self.size))


@_reg("T.flatten")
def t_flatten(self, start_dim=0, end_dim=-1):
    n = self.ndim
    if n == 0:
        return self.reshape(1)
    s, e = _wrap_dim(start_dim, n), _wrap_dim(end_dim, n)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    sh = self.shape
    return self.reshape(sh[:s] + (math.prod(sh[s : e + 1]),) + sh[e + 1 :])


@_reg("T.unflatten")
def t_unflatten(self, dim, sizes):
    d = _wrap_dim(dim, self.ndim)
    sh = self.shape
    return self.reshape(sh[:d] + _infer_shape(tuple(int(s) for s in sizes), sh[d]) + sh[d + 1 :])


@_reg("T.squeeze")
def t_squeeze(self, dim=None):
    if dim is None:
        return squeeze_op(self)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    dims = tuple(sorted({_wrap_dim(d, self.ndim) for d in dims})) if self.ndim else ()
    return squeeze_op(self, dims)


@_reg("T.unsqueeze")
def t_unsqueeze(self, dim):
    return np.expand_dims(self, _wrap_dim(dim, self.ndim + 1))


@_reg("T.expand")
def t_expand(self, *sizes):
    sizes = _shape_arg(sizes)
    lead = len(sizes) - self.ndim
    if lead < 0:
        raise RuntimeError(f"expand: {len(sizes)} sizes for a tensor of {self.ndim} dims")
    shape = tuple(self.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return np.broadcast_to(self, shape)


@_reg("T.expand_as")
def t_expand_as(self, other):
    return np.broadcast_to(self, other.shape)


@_reg("T.repeat")
def t_repeat(self, *sizes):
    sizes = _shape_arg(sizes)
    if len(sizes) < self.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
        )
    return np.tile(self.reshape((1,) * (len(sizes) - self.ndim) + self.shape), sizes)


def _split_sizes(self, sizes, d):
    bounds = np.cumsum((0,) + tuple(sizes))
    key = [slice(None)] * self.ndim
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        key[d] = slice(int(lo), int(hi))
        out.append(self[tuple(key)])
    return tuple(out)


@_reg("T.split")
def t_split(self, split_size_or_sections=None, dim=0, split_size=None):
    sz = split_size if split_size_or_sections is None else split_size_or_sections
    d = _wrap_dim(dim, self.ndim)
    n = self.shape[d]
    if isinstance(sz, (int, np.integer)) or (_is_arr(sz) and sz.ndim == 0):
        step = int(sz)
        if n == 0:
            return _split_sizes(self, (0,), d)
        return _split_sizes(self, tuple(min(step, n - s) for s in range(0, n, step)), d)
    sections = tuple(int(s) for s in sz)
    if sum(sections) != n:
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {n}, but got {list(sections)}"
        )
    return _split_sizes(self, sections, d)


@_reg("T.chunk")
def t_chunk(self, chunks, dim=0):
    d = _wrap_dim(dim, self.ndim)
    n = self.shape[d]
    if n == 0:
        return _split_sizes(self, (0,) * chunks, d)
    return t_split(self, max(1, math.ceil(n / chunks)), d)


@_reg("T.contiguous")
def t_contiguous(self, memory_format=None):
    return np.ascontiguousarray(self)


# ------------------------------------------------------------------------------------------ T: indexing


def _index_item(k):
    """A key item in torch's terms: int, bool, slice, None, Ellipsis, or an int64 / bool index array."""
    if _is_arr(k):
        if k.dtype == np.uint8:
            k = k.astype(bool)
        if k.dtype.kind == "b":
            return bool(k) if k.ndim == 0 else k
        if k.dtype.kind not in "iu":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return int(k) if k.ndim == 0 else k.astype(np.int64, copy=False)
    if isinstance(k, (bool, np.bool_)):
        return bool(k)
    if isinstance(k, (int, np.integer)):
        return int(k)
    if isinstance(k, slice):
        if k.step is not None and int(k.step) <= 0:
            raise ValueError("step must be greater than zero")
        return k
    if k is None or k is Ellipsis:
        return k
    if isinstance(k, (list, tuple)):
        arr = np.asarray(k)
        if arr.size == 0:
            arr = arr.astype(np.int64)
        elif arr.dtype.kind not in "biu":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return arr if arr.dtype.kind == "b" else arr.astype(np.int64)
    raise IndexError(
        f"only integers, slices, ellipsis, None and integer or bool tensors are valid indices (got {k!r})"
    )


def _key_items(key) -> tuple:
    """torch's treatSequenceAsTuple."""
    if isinstance(key, tuple):
        return key
    if isinstance(key, list) and len(key) < 32:
        if any(_is_arr(k) or isinstance(k, (list, tuple, slice)) or k is None or k is Ellipsis for k in key):
            return tuple(key)
    return (key,)


@_reg("T.__getitem__")
def t_getitem(self, key):
    """torch indexing: ints, slices and None select first (a view), then index arrays and masks apply to
    that view (ints never join advanced-index broadcasting, unlike NumPy)."""
    items = [_index_item(k) for k in _key_items(key)]
    ndim = self.ndim
    specified = sum(
        (k.ndim if k.dtype.kind == "b" else 1)
        if _is_arr(k)
        else (k is not None and k is not Ellipsis and not isinstance(k, bool))
        for k in items
    )
    if specified > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    basic, adv = [], {}
    rdim = consumed = 0
    for k in items:
        if k is Ellipsis:
            n = max(0, min(ndim - specified, ndim - consumed))
            basic.extend([slice(None)] * n)
            rdim += n
            consumed += n
        elif k is None:
            basic.append(None)
            rdim += 1
        elif isinstance(k, bool):
            basic.append(None)
            adv[rdim] = np.zeros(1 if k else 0, dtype=np.int64)
            rdim += 1
        elif isinstance(k, int):
            basic.append(k)
            consumed += 1
        elif isinstance(k, slice):
            basic.append(k)
            rdim += 1
            consumed += 1
        else:
            n = k.ndim if k.dtype.kind == "b" else 1
            basic.extend([slice(None)] * n)
            adv[rdim] = k
            rdim += n
            consumed += n
    out = self[tuple(basic) + (Ellipsis,)]
    if not adv:
        return out
    akey, d = [], 0
    while d <= max(adv):
        k = adv.get(d)
        if k is None:
            akey.append(slice(None))
            d += 1
        else:
            akey.append(k)
            d += k.ndim if k.dtype.kind == "b" else 1
    return out[tuple(akey)]


@_reg("T.masked_fill")
def t_masked_fill(self, mask, value):
    if mask.dtype != BOOL:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    return masked_fill_op(self, mask, value)


# ------------------------------------------------------------------------------------------ T: reductions


@_reg("T.sum")
def t_sum(self, dim=None, keepdim=False, dtype=None, out=None):
    if isinstance(dim, np.dtype):
        dim, dtype = None, dim
    return _sum(self, _norm_dims(dim, self.ndim), keepdim, dtype)


@_reg("T.mean")
def t_mean(self, dim=None, keepdim=False, dtype=None, out=None):
    if isinstance(dim, np.dtype):
        dim, dtype = None, dim
    x = self.astype(dtype) if dtype is not None else self
    if _cat(x.dtype) < 2:
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be floating point, got {x.dtype}"
        )
    dims = _norm_dims(dim, x.ndim)
    n = math.prod(x.shape[d] for d in (dims if dims is not None else range(x.ndim)))
    s = _sum(x, dims, keepdim, F32 if x.dtype in _HALF else None)
    r = s / n if n else s * np.nan
    return r.astype(x.dtype, copy=False)


def _var(x, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):
        unbiased, dim = dim, None
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if _cat(x.dtype) < 2:
        raise RuntimeError(f"std and var only support floating point and complex dtypes, got {x.dtype}")
    a = _up(x)
    dims = _norm_dims(dim, a.ndim)
    n = math.prod(a.shape[d] for d in (dims if dims is not None else range(a.ndim)))
    mu = _sum(a, dims, True) / n if n else _sum(a, dims, True) * np.nan
    dd = a - mu
    v = _sum(dd * dd, dims, keepdim) / max(n - correction, 0)
    return v.astype(x.dtype, copy=False)


@_reg("T.var")
def t_var(self, dim=None, unbiased=None, keepdim=False, correction=None):
    return _var(self, dim, unbiased, keepdim, correction)


@_reg("T.std")
def t_std(self, dim=None, unbiased=None, keepdim=False, correction=None):
    v = _var(self, dim, unbiased, keepdim, correction)
    return np.sqrt(_up(v)).astype(v.dtype, copy=False)


@_reg("T.amax")
def t_amax(self, dim=(), keepdim=False):
    return amax_op(self, _norm_dims(dim, self.ndim), keepdim)


@_reg("T.amin")
def t_amin(self, dim=(), keepdim=False):
    return amax_op(self, _norm_dims(dim, self.ndim), keepdim, True)


def _max_or_min(self, dim, keepdim, other, out, lowest: bool):
    if out is not None:
        raise NotImplementedError("ember_runtime: max/min with out= (a graph has no outputs by reference)")
    if _is_arr(dim) and other is None:
        dim, other = None, dim
    if other is not None:
        return minimum(self, other) if lowest else maximum(self, other)
    if dim is None:
        return np.min(self) if lowest else np.max(self)
    d = _wrap_dim(dim, self.ndim)
    if self.ndim == 0:
        return self.copy(), np.zeros((), dtype=np.int64)
    idx = (np.argmin if lowest else np.argmax)(self, axis=d, keepdims=True)
    vals = np.take_along_axis(self, idx, axis=d)
    if not keepdim:
        vals, idx = vals.squeeze(d), idx.squeeze(d)
    return vals, idx.astype(np.int64)


@_reg("T.max")
def t_max(self, dim=None, keepdim=False, other=None, out=None):
    return _max_or_min(self, dim, keepdim, other, out, False)


@_reg("T.min")
def t_min(self, dim=None, keepdim=False, other=None, out=None):
    return _max_or_min(self, dim, keepdim, other, out, True)


# ------------------------------------------------------------------------------------------ T: conversions


def _to_dtype(self, dt):
    return self if dt is None or self.dtype == dt else self.astype(dt)


@_reg("T.to")
def t_to(self, *args, dtype=None, device=None, copy=False, non_blocking=False, memory_format=None):
    for a in args:
        if _is_arr(a) and dtype is None:
            dtype = a.dtype
        elif isinstance(a, np.dtype):
            dtype = a
    out = _to_dtype(self, dtype)
    return out.copy() if copy and out is self else out


@_reg("T.type_as")
def t_type_as(self, other):
    return _to_dtype(self, other.dtype)


for _name, _dt in {
    "float": F32,
    "half": F16,
    "bfloat16": BF16,
    "long": I64,
    "int": np.dtype(np.int32),
    "bool": BOOL,
}.items():
    _reg(f"T.{_name}")(lambda self, memory_format=None, _dt=_dt: _to_dtype(self, _dt))


# ------------------------------------------------------------------------------------------ E: factories


def _size_arg(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _default(dt, fill):
    if dt is not None:
        return dt
    if isinstance(fill, (bool, np.bool_)):
        return BOOL
    if isinstance(fill, (int, np.integer)):
        return I64
    if isinstance(fill, (complex, np.complexfloating)):
        return np.dtype(np.complex64)
    return F32


def _scalar(v):
    return v.item() if _is_arr(v) else v


@_reg("E.zeros")
def e_zeros(
    *size, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False, **kw
):
    return np.zeros(_size_arg(size or (kw["size"],)), dtype=F32 if dtype is None else dtype)  # torch's size=


@_reg("E.ones")
def e_ones(
    *size, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False, **kw
):
    return np.ones(_size_arg(size or (kw["size"],)), dtype=F32 if dtype is None else dtype)


@_reg("E.full")
def e_full(
    size, fill_value, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False
):
    fill_value = _scalar(fill_value)
    return np.full(_size_arg((size,)), fill_value, dtype=_default(dtype, fill_value))


@_reg("E.zeros_like")
def e_zeros_like(input, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    return np.zeros(input.shape, dtype=input.dtype if dtype is None else dtype)


@_reg("E.ones_like")
def e_ones_like(input, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    return np.ones(input.shape, dtype=input.dtype if dtype is None else dtype)


@_reg("E.full_like")
def e_full_like(
    input, fill_value, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None
):
    return np.full(input.shape, _scalar(fill_value), dtype=input.dtype if dtype is None else dtype)


@_reg("E.arange")
def e_arange(
    start=0,
    end=None,
    step=1,
    dtype=None,
    device=None,
    requires_grad=False,
    out=None,
    layout=None,
    pin_memory=False,
):
    if end is None:
        start, end = 0, start
    start, end, step = _scalar(start), _scalar(end), _scalar(step)
    if dtype is None:
        dtype = F32 if any(isinstance(v, (float, np.floating)) for v in (start, end, step)) else I64
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if not ((step > 0 and end >= start) or (step < 0 and end <= start)):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if dtype == I64:
        xs, xe, xst = int(start), int(end), int(step)
        if xst == 0:
            raise ValueError("step must be nonzero")
        sgn = (xst > 0) - (xst < 0)
        q = xe - xs + xst - sgn
        n = max(0, abs(q) // abs(xst) * (1 if (q >= 0) == (xst > 0) else -1))
    else:
        n = max(0, math.ceil((float(end) - float(start)) / float(step)))
    if _cat(dtype) < 2:
        return (np.arange(n, dtype=np.int64) * int(step) + int(start)).astype(dtype)
    acc = np.float64 if dtype in (F32, F64) else np.float32
    xs, xst = float(acc(start)), float(acc(step))
    return (xs + xst * np.arange(n, dtype=np.float64)).astype(acc).astype(dtype)


@_reg("E.tril")
def e_tril(input, diagonal=0):
    return np.tril(input, diagonal)


@_reg("E.triu")
def e_triu(input, diagonal=0):
    return np.triu(input, diagonal)


# ---------------------------------------------------------------------------------------- E: joins, selection


def _as_seq(tensors):
    return list(tensors)


@_reg("E.cat")
def e_cat(tensors, dim=0, out=None):
    tensors = _as_seq(tensors)
    keep = [t for t in tensors if not _legacy_empty(t)] or tensors
    return cat_op(*tensors, dim=_wrap_dim(dim, keep[0].ndim))


@_reg("E.stack")
def e_stack(tensors, dim=0, out=None):
    tensors = _as_seq(tensors)
    d = _wrap_dim(dim, tensors[0].ndim + 1)
    return cat_op(*(np.expand_dims(t, d) for t in tensors), dim=d)


@_reg("E.where")
def e_where(condition, input=None, other=None):
    if input is None and other is None:
        return tuple(np.nonzero(condition))
    dt = result_type(input, other)
    if condition.dtype == np.uint8:
        condition = condition.astype(bool)
    elif condition.dtype != BOOL:
        raise RuntimeError(
            f"where expected condition to be a boolean tensor, but got a tensor with dtype {condition.dtype}"
        )
    x = input.astype(dt, copy=False) if _is_arr(input) else input
    y = other.astype(dt, copy=False) if _is_arr(other) else other
    return where_op(condition, x, y, dtype=dt)


# ------------------------------------------------------------------------------------------ E: products


@_reg("E.matmul")
def e_matmul(input, other, out=None):
    if input.ndim == 0 or other.ndim == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D")
    return matmul_op(input, other)


@_reg("E.bmm")
def e_bmm(input, mat2, out=None):
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError("bmm: batch1 and batch2 must be 3D tensors")
    return matmul_op(input, mat2)


def _axpby(input, p, beta, alpha):
    input = np.broadcast_to(input, p.shape)
    if alpha != 1:
        p = mul(p, alpha)
    if beta == 0:
        return p
    return add(p, mul(input, beta) if beta != 1 else input)


@_reg("E.addmm")
def e_addmm(input, mat1, mat2, beta=1, alpha=1, out=None):
    return _axpby(input, matmul_op(mat1, mat2), beta, alpha)


@_reg("E.baddbmm")
def e_baddbmm(input, batch1, batch2, beta=1, alpha=1, out=None):
    return _axpby(input, e_bmm(batch1, batch2), beta, alpha)


@_reg("E.einsum")
def e_einsum(*args):
    if isinstance(args[0], str):
        eq, ops = args[0], args[1:]
        if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
            ops = tuple(ops[0])
        call = (eq.replace(" ", ""),) + tuple(ops)
    else:  # sublist format: op1, sub1, op2, sub2, ..., [out]
        ops = args[0::2] if len(args) % 2 == 0 else args[:-1][0::2]
        call = args
    dt = ops[0].dtype
    for o in ops[1:]:
        dt = promote_types(dt, o.dtype)
    call = tuple(_up(a.astype(dt, copy=False)) if _is_arr(a) else a for a in call)
    return np.asarray(np.einsum(*call, optimize=True)).astype(dt, copy=False)
