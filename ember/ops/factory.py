"""Creation functions: tensor, as_tensor, from_numpy, zeros/ones/full/empty(_like), arange, linspace, eye, ...

Every factory takes dtype=, device= and requires_grad=, and builds its array through ``dispatch`` (so export
tracing sees ``arange(T)`` and friends), on the backend of the requested device.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _dtype as D
from .._device import to_device
from .._size import Size
from .._tensor import Tensor, _wrap
from .._trace_hooks import traceable
from ..backend import get_backend
from ._dispatch import _default_device, dispatch
from .op import Op


def _size_arg(size, fn: str) -> tuple:
    """Accept f(2, 3), f((2, 3)), f([2, 3]), f(Size) and f(tensor_of_ints)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(
                f"{fn}(): argument 'size' must be tuple of ints, but found element of type {type(s).__name__}"
            )
        if s < 0:
            raise RuntimeError(f"{fn}(): Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _finish(t: Tensor, requires_grad: bool) -> Tensor:
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dev(device):
    return to_device(device) if device is not None else _default_device()


class Full(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, shape=(), fill_value=0, dtype=None, device=None, strides=None):
        if type(fill_value) is int and fill_value < 0 and dtype is D.uint8:
            fill_value = np.asarray(fill_value, dtype=np.int64).astype(np.uint8)  # wraps, as in torch
        if type(fill_value) is float and fill_value == 0 and np.signbit(fill_value) and ctx.be.name != "cpu":
            return -ctx.xp.zeros(shape, dtype=dtype.np)  # CuPy fills zeros with memset, losing -0.0's sign
        if strides is None:
            return ctx.xp.full(shape, fill_value, dtype=dtype.np)
        out = ctx.be.empty_strided(shape, strides, dtype.np)
        out[...] = fill_value
        return out


class Empty(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, shape=(), dtype=None, device=None, strides=None):
        if strides is None:
            return ctx.xp.empty(shape, dtype=dtype.np)
        return ctx.be.empty_strided(shape, strides, dtype.np)


def _fill_dtype(fill_value) -> D.dtype:
    """torch's dtype for full(): a Python/NumPy scalar is a Number (bool, int64, default float or complex)."""
    if isinstance(fill_value, Tensor):  # a 0-d tensor counts as the Python number it holds
        if fill_value._data.ndim != 0:
            raise TypeError("full(): argument 'fill_value' (position 2) must be Number, not Tensor")
        fill_value = fill_value.item()
    if isinstance(fill_value, bool):
        return D.bool_
    if isinstance(fill_value, np.bool_):  # not a Python number: torch reads it as a float
        return D._DEFAULT[0]
    if isinstance(fill_value, (int, np.integer)):
        return D.int64
    if isinstance(fill_value, (float, np.floating)):
        return D._DEFAULT[0]
    if isinstance(fill_value, (complex, np.complexfloating)):
        return D.complex128 if D._DEFAULT[0] is D.float64 else D.complex64
    raise TypeError(
        f"full(): argument 'fill_value' (position 2) must be Number, not {type(fill_value).__name__}"
    )


_C_NAME = {
    D.uint8: "uint8_t",
    D.int8: "int8_t",
    D.int16: "int16_t",
    D.int32: "int",
    D.int64: "int64_t",
    D.float16: "c10::Half",
    D.bfloat16: "c10::BFloat16",
    D.float32: "float",
    D.float64: "double",
}


_LIMITS: dict = {}


def _limits(dt: D.dtype):
    r = _LIMITS.get(dt)
    if r is None:
        if dt.is_floating_point:
            f = D.finfo(dt)
            r = (f.min, f.max)
        else:
            i = np.iinfo(dt.np)
            r = (int(i.min), int(i.max))
        _LIMITS[dt] = r
    return r


def _overflows(v, dt: D.dtype) -> bool:
    """c10::overflows<T>(v): Scalar.to<T>() refuses values outside T (negative ints may wrap into unsigned)."""
    if dt is D.bool_ or dt.is_complex or isinstance(v, (bool, np.bool_, complex, np.complexfloating)):
        return False
    lo, hi = _limits(dt)
    if isinstance(v, (float, np.floating)):
        if math.isinf(v):
            return not dt.is_floating_point
        if math.isnan(v):
            return not dt.is_floating_point
        return v < lo or v > hi
    v = int(v)
    if dt is D.uint8:
        return v > hi or (v < 0 and -v > hi)
    return v < lo or v > hi


def _checked(v, dt: D.dtype, name=None):
    """The scalar `v` for a `dt` tensor; RuntimeError like torch when it does not fit."""
    if _overflows(v, dt):
        raise RuntimeError(f"value cannot be converted to type {name or _C_NAME[dt]} without overflow")
    return v


def _fill_scalar(fill_value, fn: str, dt: D.dtype):
    if isinstance(fill_value, Tensor):
        if fill_value._data.ndim != 0:
            raise TypeError(f"{fn}(): argument 'fill_value' (position 2) must be Number, not Tensor")
        return fill_value.item()
    if not isinstance(fill_value, (numbers.Number, np.bool_)):
        raise TypeError(
            f"{fn}(): argument 'fill_value' (position 2) must be Number, not {type(fill_value).__name__}"
        )
    return _checked(fill_value, dt)


@traceable("E.full")
def full(
    size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False
) -> Tensor:
    """A tensor of shape `size` filled with `fill_value` (dtype inferred from the value when not given)."""
    shape = _size_arg((size,), "full")
    dt = D.to_dtype(dtype) if dtype is not None else _fill_dtype(fill_value)
    fill_value = _fill_scalar(fill_value, "full", dt)
    t = dispatch(Full, (), {"shape": shape, "fill_value": fill_value, "dtype": dt, "device": _dev(device)})
    return _finish(t, requires_grad)


@traceable("E.zeros")
def zeros(*args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False):
    shape = _size_arg(args if size is None else (size,), "zeros")
    dt = D.to_dtype(dtype) if dtype is not None else D._DEFAULT[0]
    t = dispatch(Full, (), {"shape": shape, "fill_value": 0, "dtype": dt, "device": _dev(device)})
    return _finish(t, requires_grad)


@traceable("E.ones")
def ones(*args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False):
    shape = _size_arg(args if size is None else (size,), "ones")
    dt = D.to_dtype(dtype) if dtype is not None else D._DEFAULT[0]
    t = dispatch(Full, (), {"shape": shape, "fill_value": 1, "dtype": dt, "device": _dev(device)})
    return _finish(t, requires_grad)


def empty(
    *args,
    size=None,
    dtype=None,
    device=None,
    requires_grad=False,
    out=None,
    layout=None,
    pin_memory=False,
    memory_format=None,
):
    shape = _size_arg(args if size is None else (size,), "empty")
    dt = D.to_dtype(dtype) if dtype is not None else D._DEFAULT[0]
    t = dispatch(Empty, (), {"shape": shape, "dtype": dt, "device": _dev(device)})
    return _finish(t, requires_grad)


def _non_overlapping_and_dense(sizes, strides) -> bool:
    """torch's is_non_overlapping_and_dense for element strides."""
    perm = sorted(range(len(sizes)), key=lambda d: (sizes[d] < 2, strides[d]))
    need = 1
    for d in perm:
        if sizes[d] < 2:
            return True
        if strides[d] != need:
            return False
        need *= sizes[d]
    return True


def _infer_dense_strides(sizes, strides) -> tuple:
    """torch's infer_dense_strides: a dense layout ordered like `strides` (0-stride dims stay put)."""
    nd = len(sizes)
    perm = list(range(nd - 1, -1, -1))

    def should_swap(d0, d1):
        s0, s1 = strides[d0], strides[d1]
        if s0 == 0 or s1 == 0:
            return 0
        if s0 != s1:
            return -1 if s0 < s1 else 1
        return 1 if sizes[d0] > sizes[d1] else 0

    for i in range(1, nd):
        d1 = i
        for d0 in range(i - 1, -1, -1):
            c = should_swap(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    out = [0] * nd
    cur = 1
    for d in perm:
        out[d] = cur
        if sizes[d] > 1:
            cur *= sizes[d]
    return tuple(out)


def _like_strides(t: Tensor, memory_format=None):
    """Byte strides for a *_like result that preserves `t`'s layout (None: plain row-major)."""
    a = t._data
    if a.ndim < 2 or a.flags.c_contiguous:
        return None
    from .. import _formats

    if memory_format not in (None, _formats.preserve_format):
        return None
    sizes, st = a.shape, t.stride()
    if not _non_overlapping_and_dense(sizes, st):
        st = _infer_dense_strides(sizes, st)
    cont = []
    cur = 1
    for n in reversed(sizes):
        cont.append(cur)
        cur *= max(n, 1)
    if all(sizes[i] < 2 or st[i] == c for i, c in enumerate(reversed(cont))):
        return None
    return tuple(s * a.itemsize for s in st)


def _like(fn_name, t, dtype, device, memory_format=None):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn_name}(): argument 'input' (position 1) must be Tensor, not {type(t).__name__}")
    dt = D.to_dtype(dtype) if dtype is not None else t._dtype
    dev = to_device(device) if device is not None else t._device
    kw = {"shape": t._data.shape, "dtype": dt, "device": dev}
    strides = _like_strides(t, memory_format)
    if strides is not None:
        kw["strides"] = tuple(s // t._data.itemsize * dt.itemsize for s in strides)
    return kw


@traceable("E.zeros_like")
def zeros_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    kw = _like("zeros_like", input, dtype, device, memory_format)
    return _finish(dispatch(Full, (), {**kw, "fill_value": 0}), requires_grad)


@traceable("E.ones_like")
def ones_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    kw = _like("ones_like", input, dtype, device, memory_format)
    return _finish(dispatch(Full, (), {**kw, "fill_value": 1}), requires_grad)


@traceable("E.full_like")
def full_like(
    input, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None
):
    kw = _like("full_like", input, dtype, device, memory_format)
    fill_value = _fill_scalar(fill_value, "full_like", kw["dtype"])
    return _finish(dispatch(Full, (), {**kw, "fill_value": fill_value}), requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    kw = _like("empty_like", input, dtype, device, memory_format)
    return _finish(dispatch(Empty, (), kw), requires_grad)


# ------------------------------------------------------------------------------------------- from data


_PLAIN = frozenset((int, float, bool, complex))
_SEQ = (list, tuple)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _np_dtype_of(arr: np.ndarray) -> D.dtype:
    if arr.dtype.byteorder == (">" if np.little_endian else "<"):
        raise ValueError(
            "given numpy array has byte order different from the native byte order. Conversion between byte "
            "orders is currently not supported."
        )
    try:
        return D.from_numpy_dtype(arr.dtype)
    except TypeError:
        raise TypeError(
            f"can't convert np.ndarray of type {arr.dtype}. The only supported types are: float64, float32, "
            "float16, complex64, complex128, int64, int32, int16, int8, uint8, and bool."
        ) from None


def _check_int(x: int) -> None:
    if not _INT64_MIN <= x <= _INT64_MAX:
        raise ValueError("Overflow when unpacking long long")


def _has_special(seq) -> bool:
    """Whether a nested sequence holds anything but Python numbers (tensors, NumPy arrays or scalars)."""
    types = set(map(type, seq))
    if types <= _PLAIN:
        return False
    if types - _PLAIN - {list, tuple}:
        return True
    return any(_has_special(x) for x in seq if type(x) in _SEQ)


def _leaf_dtype(x) -> D.dtype:
    """torch's infer_scalar_type for one leaf of a nested sequence."""
    if isinstance(x, Tensor):
        return x._dtype
    if isinstance(x, np.ndarray):
        return _np_dtype_of(x)
    if isinstance(x, np.generic):
        return D.from_numpy_dtype(x.dtype)
    if isinstance(x, (bool, int, float, complex)):
        return D.scalar_dtype(x)
    if isinstance(x, str):
        raise TypeError("new(): invalid data type 'str'")
    raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")


def _unwrap_leaves(seq, dts: list):
    """Replace tensors (which must hold one element) and NumPy values by Python data; collect leaf dtypes."""
    out = []
    for x in seq:
        if type(x) in _SEQ:
            out.append(_unwrap_leaves(x, dts))
            continue
        dts.append(_leaf_dtype(x))
        if isinstance(x, Tensor):
            if x._data.size != 1:
                raise ValueError("only one element tensors can be converted to Python scalars")
            x = x.item()
        elif isinstance(x, np.ndarray):
            x = x.tolist()
        elif isinstance(x, np.generic):
            x = x.item()
        out.append(x)
    return out


def _kind_dtype(arr: np.ndarray) -> D.dtype:
    kind = arr.dtype.kind
    if kind == "b":
        return D.bool_
    if kind == "i":
        return D.int64
    if kind == "u":  # only numbers >= 2**63 make NumPy pick uint64
        raise ValueError("Overflow when unpacking long long")
    if kind == "f":
        return D._DEFAULT[0]
    if kind == "c":
        return D.complex128 if D._DEFAULT[0] is D.float64 else D.complex64
    if kind in "US":
        raise ValueError("too many dimensions 'str'")
    raise TypeError(f"tensor(): can't convert data of type {arr.dtype}")


def _asarray_seq(data, dtype=None) -> np.ndarray:
    try:
        arr = np.asarray(data, dtype=dtype)
    except OverflowError:
        raise ValueError("Overflow when unpacking long long") from None
    except ValueError as e:
        if "sequence" in str(e) or "inhomogeneous" in str(e):
            _raise_ragged(data)
        raise
    if arr.dtype == object:
        for x in arr.reshape(-1).tolist() if arr.ndim else [arr.item()]:
            if isinstance(x, int) and not isinstance(x, bool):
                _check_int(x)
            elif x is None or not isinstance(x, (int, float, complex)):
                _leaf_dtype(x)
        raise ValueError("tensor(): expected a rectangular nested sequence of numbers")
    return arr


def _raise_ragged(data) -> None:
    """torch's errors for a non-rectangular nested sequence (TypeError on depth, ValueError on length)."""
    shape = []
    x = data
    while type(x) in _SEQ:
        shape.append(len(x))
        if not x:
            break
        x = x[0]

    def walk(x, dim):
        if dim == len(shape):
            if type(x) in _SEQ:
                raise TypeError(f"'{type(x).__name__}' object cannot be interpreted as an integer")
            return
        if type(x) not in _SEQ:
            raise TypeError("not a sequence")
        if len(x) != shape[dim]:
            raise ValueError(f"expected sequence of length {shape[dim]} at dim {dim} (got {len(x)})")
        for y in x:
            walk(y, dim + 1)

    walk(data, 0)
    raise ValueError("tensor(): expected a rectangular nested sequence")


def _infer_np(data):
    """Python data -> (NumPy array, dtype) with torch's dtype inference (promote_types over every leaf)."""
    if isinstance(data, np.ndarray):
        return data, _np_dtype_of(data)
    if isinstance(data, np.generic):
        return np.asarray(data), D.from_numpy_dtype(data.dtype)
    if isinstance(data, (bool, int, float, complex)):
        if isinstance(data, int) and not isinstance(data, bool):
            _check_int(data)
        return np.asarray(data), D.scalar_dtype(data)  # full precision; FromData casts once
    if isinstance(data, _SEQ):
        if not _has_special(data):
            arr = _asarray_seq(data)
            return arr, _kind_dtype(arr)
        dts: list = []
        plain = _unwrap_leaves(data, dts)
        dt = dts[0] if dts else D._DEFAULT[0]
        for d in dts[1:]:
            dt = D.promote_types(dt, d)
        return _asarray_seq(plain, dt.np), dt
    if isinstance(data, str):
        raise TypeError("new(): invalid data type 'str'")
    if hasattr(data, "__array__") or hasattr(data, "__dlpack__"):
        arr = np.asarray(data)
        return arr, _np_dtype_of(arr)
    raise RuntimeError(f"Could not infer dtype of {type(data).__name__}")


def _check_array(arr: np.ndarray, dt: D.dtype) -> None:
    """torch.tensor(data, dtype=...) refuses Python numbers that do not fit `dt` (like Scalar.to<T>)."""
    if arr.dtype.kind not in "iuf" or dt is D.bool_:
        return
    lo, hi = arr.min(), arr.max()
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        lo = hi = float("nan")
    for v in (lo, hi):
        _checked(v.item() if isinstance(v, np.generic) else v, dt, name=dt.name)


class FromData(Op):
    differentiable = False
    host_kwargs = True

    @staticmethod
    def forward(ctx, data=None, dtype=None, device=None):
        return ctx.be.from_numpy(np.array(data, dtype=dtype.np, copy=True), device)


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, scalars, NumPy arrays or tensors)."""
    if isinstance(data, Tensor):
        arr = data.detach().cpu()._data if data._device.type != "cpu" else data._data
        dt = data._dtype
    else:
        arr, dt = _infer_np(data)
    if dtype is not None:
        req = D.to_dtype(dtype)
        if req is not dt and not isinstance(data, (np.ndarray, Tensor)) and arr.size and not req.is_complex:
            if arr.dtype.kind == "c":
                raise TypeError("must be real number, not complex")
            _check_array(arr, req)
        dt = req
    t = dispatch(FromData, (), {"data": arr, "dtype": dt, "device": _dev(device)})
    return _finish(t, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like tensor(), but shares memory with a tensor or NumPy array when dtype and device allow."""
    dt = D.to_dtype(dtype) if dtype is not None else None
    dev = to_device(device) if device is not None else None
    if isinstance(data, Tensor):
        return data.to(device=dev, dtype=dt) if (dt or dev) else data
    if isinstance(data, np.ndarray) and (dev is None or dev.type == "cpu"):
        t = from_numpy(data)
        return t.to(dt) if dt is not None else t
    return tensor(data, dtype=dt, device=dev)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with `ndarray` (writes through either are seen by both)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dt = _np_dtype_of(ndarray)
    if dt.np != ndarray.dtype:
        raise TypeError(
            f"can't convert np.ndarray of type {ndarray.dtype}. The only supported types are: float64, "
            "float32, float16, complex64, complex128, int64, int32, int16, int8, uint8, and bool."
        )
    from .._device import CPU

    return _wrap(ndarray, dt, CPU)


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False) -> Tensor:
    dt = D.to_dtype(dtype)
    return _finish(from_numpy(np.frombuffer(buffer, dtype=dt.np, count=count, offset=offset)), requires_grad)


def _legacy_tensor_new(cls, *args, **kwargs):
    """torch.Tensor(...) legacy constructor: sizes give an uninitialised tensor, data gives a float copy."""
    device = kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"Tensor(): unexpected keyword arguments {sorted(kwargs)}")
    if not args:
        t = empty(0, device=device)
    elif all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        t = empty(*args, device=device)
    elif len(args) == 1 and isinstance(args[0], Size):
        t = empty(args[0], device=device)
    elif len(args) == 1 and isinstance(args[0], Tensor):
        t = args[0].detach()
    elif len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray)):
        t = tensor(args[0], dtype=D._DEFAULT[0], device=device)
    elif len(args) == 1:
        raise TypeError(f"new(): data must be a sequence (got {type(args[0]).__name__})")
    else:
        raise TypeError(f"Tensor(): could not interpret arguments {args!r}")
    if cls is not Tensor:
        return cls._from_tensor(t) if hasattr(cls, "_from_tensor") else t
    return t


# ------------------------------------------------------------------------------------------- ranges


# torch's CPU kernels are vectorised with AVX2 registers (32 bytes); arange's element values depend on it.
_VEC_BYTES = 32
_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's constant for float64


def _fma(xp, a, b, c):
    """a * b + c rounded once (float64, via error-free transformations), as a fused multiply-add gives."""
    a, b, c = (xp.asarray(v, dtype=np.float64) for v in (a, b, c))
    p = a * b
    t = _SPLIT * a
    ah = t - (t - a)
    al = a - ah
    t = _SPLIT * b
    bh = t - (t - b)
    bl = b - bh
    ep = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = p + c
    bb = s - p
    es = (p - (s - bb)) + (c - bb)
    with np.errstate(invalid="ignore", over="ignore"):
        r = s + (ep + es)
    return xp.where(xp.isfinite(r), r, p + c)


def _trunc_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _to_int(v) -> int:
    """Scalar.to<int64_t>(): truncation toward zero."""
    return int(v) if isinstance(v, (int, np.integer)) else int(math.trunc(v))


def _arange_size(start, end, step, dtype: D.dtype) -> int:
    """torch's compute_arange_size (bounds checked in double; int64 counts in exact integers)."""
    ds, de, dst = float(start), float(end), float(step)
    if not (dst > 0 or dst < 0):
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(ds) and math.isfinite(de)):
        raise RuntimeError(f"unsupported range: {ds:g} -> {de:g}")
    if not ((dst > 0 and de >= ds) or (dst < 0 and de <= ds)):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if dtype is D.int64:
        xs, xe, xst = _to_int(start), _to_int(end), _to_int(step)
        if xst == 0:
            raise ValueError("step must be nonzero")
        sgn = (xst > 0) - (xst < 0)
        return max(0, _trunc_div(xe - xs + xst - sgn, xst))
    size = math.ceil((de - ds) / dst)
    if not 0 <= size <= 2**63 - 1:
        raise RuntimeError("invalid size, possible overflow?")
    return int(size)


class Arange(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, start=0, end=None, step=1, dtype=None, device=None):
        xp = ctx.xp
        n = _arange_size(start, end, step, dtype)
        if not dtype.is_floating_point:
            # accumulate in int64 (start and step truncated), then wrap into the dtype like a C cast
            xs, xst = _to_int(start), _to_int(step)
            return (xp.arange(n, dtype=np.int64) * xst + xs).astype(dtype.np)
        acc = np.float64 if dtype in (D.float32, D.float64) else np.float32
        xs, xst = float(acc(start)), float(acc(step))
        idx = xp.arange(n, dtype=np.float64)
        out = _fma(xp, xst, idx, xs)  # the serial tail: start + step * idx
        vec = _VEC_BYTES // dtype.itemsize
        nvec = n // (2 * vec) * 2 * vec
        if nvec:
            # vectorised body: Vectorized::arange(start + step * j, step) for each register j
            i = idx[:nvec]
            base = _fma(xp, xst, i - i % vec, xs).astype(acc).astype(dtype.np).astype(np.float64)
            out[:nvec] = _fma(xp, i % vec, xst, base)
        return out.astype(acc).astype(dtype.np)


@traceable("E.arange")
def arange(
    start=0,
    end=None,
    step=1,
    *,
    dtype=None,
    device=None,
    requires_grad=False,
    out=None,
    layout=None,
    pin_memory=False,
) -> Tensor:
    """Values from start (inclusive) to end (exclusive) by step; int64 unless any bound is a float."""
    if end is None:
        start, end = 0, start
    vals = []
    for name, v in (("start", start), ("end", end), ("step", step)):
        if isinstance(v, Tensor):
            v = v.item()
        if not isinstance(v, numbers.Number) or isinstance(v, complex):
            raise TypeError(f"arange(): argument '{name}' must be Number, not {type(v).__name__}")
        vals.append(v)
    start, end, step = vals
    if dtype is None:
        is_float = any(isinstance(v, (float, np.floating)) for v in vals)
        dt = D._DEFAULT[0] if is_float else D.int64
    else:
        dt = D.to_dtype(dtype)
    if dt is D.bool_ or dt.is_complex:
        raise NotImplementedError(f"\"arange_cpu\" not implemented for '{D.SCALAR_NAME[dt]}'")
    _arange_size(start, end, step, dt)  # validate before dispatch
    t = dispatch(Arange, (), {"start": start, "end": end, "step": step, "dtype": dt, "device": _dev(device)})
    return _finish(t, requires_grad)


def _round_each(dt: D.dtype):
    """Round a float64 array to `dt` and back: emulates one c10::Half / BFloat16 operation."""
    return lambda a: a.astype(dt.np).astype(np.float64)


class Linspace(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, start=0.0, end=1.0, steps=100, dtype=None, device=None, base=None):
        xp = ctx.xp
        if base is not None:
            return _logspace_values(xp, start, end, steps, base, dtype)
        if steps == 0:
            return xp.empty((0,), dtype=dtype.np)
        if steps == 1 or dtype.is_complex:
            if steps == 1:
                return xp.full((1,), start).astype(dtype.np)
            st = (end - start) / (steps - 1)
            i = xp.arange(steps)
            vals = xp.where(i < steps // 2, start + i * st, end - (steps - 1 - i) * st)
            return vals.astype(dtype.np)
        half = steps // 2
        i = xp.arange(steps, dtype=np.float64)
        lo = i < half
        if not dtype.is_floating_point:
            # scalar_t start/end, a double step; start + step * idx (fused) truncated into the dtype
            s0, e0 = float(_to_int(start)), float(_to_int(end))
            st = (e0 - s0) / (steps - 1)
            vals = xp.where(lo, _fma(xp, st, i, s0), _fma(xp, -st, steps - 1 - i, e0))
            return xp.trunc(vals).astype(np.int64).astype(dtype.np)
        if dtype in (D.float32, D.float64):
            r = dtype.np.type
            s0, e0 = float(r(start)), float(r(end))
            st = float(r(r(e0) - r(s0)) / r(steps - 1))
            vals = xp.where(lo, _fma(xp, st, i, s0), _fma(xp, -st, steps - 1 - i, e0))
            return vals.astype(dtype.np)
        # Half / BFloat16: every operation rounds to the dtype (idx too)
        rd = _round_each(dtype)
        s0, e0 = rd(np.float64(start)), rd(np.float64(end))
        st = rd(rd(e0 - s0) / rd(np.float64(steps - 1)))
        j = rd(xp.where(lo, i, steps - 1 - i))
        prod = rd(st * j)
        return rd(xp.where(lo, s0 + prod, e0 - prod)).astype(dtype.np)


def _logspace_values(xp, start, end, steps, base, dtype):
    if steps == 0:
        return xp.empty((0,), dtype=dtype.np)
    if steps == 1:
        with np.errstate(all="ignore"):
            v = np.float64(base) ** np.float64(start)
        if dtype.is_floating_point or dtype.is_complex:
            return xp.full((1,), v).astype(dtype.np)
        return _c_float_to_int(xp, xp.full((1,), v), dtype)
    if dtype.is_floating_point:
        r = dtype.np.type
        s0, e0 = r(start), r(end)
        diff = float(r(e0 - s0))
        s0, e0 = float(s0), float(e0)
    else:
        s0, e0 = float(_to_int(start)), float(_to_int(end))
        diff = e0 - s0
    st = diff / (steps - 1)
    i = xp.arange(steps, dtype=np.float64)
    expo = xp.where(i < steps // 2, s0 + st * i, e0 - st * (steps - 1 - i))  # not fused here
    with np.errstate(all="ignore"):
        vals = xp.power(np.float64(base), expo)
    if dtype.is_floating_point:
        return vals.astype(dtype.np)
    return _c_float_to_int(xp, vals, dtype)


def _c_float_to_int(xp, vals, dtype: D.dtype):
    """static_cast<int type>(double) as x86 does it: out-of-range and NaN give the 'integer indefinite'
    value (INT_MIN of the 32- or 64-bit conversion), narrower types keep the low bits."""
    wide = dtype is D.int64
    lim = 2.0**63 if wide else 2.0**31
    bad = ~((vals >= -lim) & (vals < lim))
    with np.errstate(invalid="ignore"):
        ints = xp.where(bad, 0.0, xp.trunc(vals)).astype(np.int64)
    ints = xp.where(bad, -(2**63) if wide else -(2**31), ints)
    return ints.astype(dtype.np)


def _steps_arg(steps, fn: str) -> int:
    if isinstance(steps, Tensor):
        steps = steps.item()
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, (bool, np.bool_)):
        raise TypeError(f"{fn}(): argument 'steps' (position 3) must be int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    return int(steps)


def _range_scalar(v, fn: str):
    if isinstance(v, Tensor):
        if v._data.ndim != 0:
            raise RuntimeError(
                f"{fn} only supports 0-dimensional start and end tensors, but got a tensor with "
                f"{v._data.ndim} dimension(s)."
            )
        return v.item()
    if not isinstance(v, numbers.Number):
        raise TypeError(f"{fn}(): argument 'start' must be Number, not {type(v).__name__}")
    return v


def _range_dtype(dtype, start, end, fn: str) -> D.dtype:
    if dtype is not None:
        dt = D.to_dtype(dtype)
    elif isinstance(start, complex) or isinstance(end, complex):
        dt = D.complex128 if D._DEFAULT[0] is D.float64 else D.complex64
    else:
        dt = D._DEFAULT[0]
    if dt is D.bool_:
        raise NotImplementedError(f"\"{fn}_cpu\" not implemented for 'Bool'")
    return dt


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """`steps` evenly spaced values from start to end inclusive."""
    start, end = _range_scalar(start, "linspace"), _range_scalar(end, "linspace")
    steps = _steps_arg(steps, "linspace")
    dt = _range_dtype(dtype, start, end, "linspace")
    if not dt.is_complex:
        start, end = _checked(start, dt), _checked(end, dt)
    t = dispatch(
        Linspace, (), {"start": start, "end": end, "steps": steps, "dtype": dt, "device": _dev(device)}
    )
    return _finish(t, requires_grad)


def logspace(
    start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False, out=None, layout=None
):
    """base ** linspace(start, end, steps)."""
    start, end = _range_scalar(start, "logspace"), _range_scalar(end, "logspace")
    steps = _steps_arg(steps, "logspace")
    dt = _range_dtype(dtype, start, end, "logspace")
    if not dt.is_complex:
        start, end = _checked(start, dt), _checked(end, dt)
    t = dispatch(
        Linspace,
        (),
        {
            "start": start,
            "end": end,
            "steps": steps,
            "dtype": dt,
            "device": _dev(device),
            "base": float(base),
        },
    )
    return _finish(t, requires_grad)


class Eye(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, n=1, m=None, dtype=None, device=None):
        return ctx.xp.eye(n, m, dtype=dtype.np)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """The n x m identity matrix."""
    for name, v in (("n", n), ("m", m)):
        if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool)):
            raise TypeError(f"eye(): argument '{name}' must be int, not {type(v).__name__}")
    if n < 0:
        raise RuntimeError(f"eye(): n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"eye(): m must be greater or equal to 0, got {m}")
    dt = D.to_dtype(dtype) if dtype is not None else D._DEFAULT[0]
    t = dispatch(
        Eye, (), {"n": int(n), "m": None if m is None else int(m), "dtype": dt, "device": _dev(device)}
    )
    return _finish(t, requires_grad)


class TrilIndices(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, row=0, col=0, offset=0, upper=False, dtype=None, device=None):
        xp = ctx.xp
        r, c = (xp.triu_indices if upper else xp.tril_indices)(row, offset, col)
        return xp.stack([r, c]).astype(dtype.np)


def _tri_indices(row, col, offset, dtype, device, upper: bool) -> Tensor:
    fn = "triu_indices" if upper else "tril_indices"
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    dt = D.to_dtype(dtype) if dtype is not None else D.int64
    if dt not in (D.int64, D.int32):
        raise NotImplementedError(f"\"{fn}\" not implemented for '{D.SCALAR_NAME[dt]}'")
    kw = {"row": int(row), "col": int(col), "offset": int(offset), "dtype": dt, "device": _dev(device)}
    if upper:
        kw["upper"] = True
    return dispatch(TrilIndices, (), kw)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None) -> Tensor:
    """2 x N indices of the lower triangle of a row x col matrix (row-major order)."""
    return _tri_indices(row, col, offset, dtype, device, upper=False)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None) -> Tensor:
    """2 x N indices of the upper triangle of a row x col matrix (row-major order)."""
    return _tri_indices(row, col, offset, dtype, device, upper=True)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full((), s, dtype=dtype or D._DEFAULT[0], device=device, requires_grad=requires_grad)


def get_backend_of(t: Tensor):
    return get_backend(t._device)


__all__ = [
    "arange",
    "as_tensor",
    "asarray",
    "empty",
    "empty_like",
    "eye",
    "from_numpy",
    "frombuffer",
    "full",
    "full_like",
    "linspace",
    "logspace",
    "ones",
    "ones_like",
    "scalar_tensor",
    "tensor",
    "tril_indices",
    "triu_indices",
    "zeros",
    "zeros_like",
]
