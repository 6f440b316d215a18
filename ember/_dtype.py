"""dtypes, torch's type promotion, the default dtype, finfo/iinfo.

NOTE: promotion follows PyTorch, not NumPy: a Python float never widens a float tensor, an integer
tensor with a Python float becomes the default float dtype, float16 with bfloat16 gives float32, and
0-d tensors rank below dimensioned ones (they only win when their category is higher).
"""

from __future__ import annotations

import builtins

import ml_dtypes
import numpy as np

_CAT_BOOL, _CAT_INT, _CAT_FLOAT, _CAT_COMPLEX = 0, 1, 2, 3


class dtype:
    """An ember data type (``ember.float32`` ...). Wraps the NumPy dtype that backs it."""

    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_complex", "is_signed", "_cat", "_rank")

    def __init__(self, name: str, npdt, cat: int, rank: int):
        self.name = name
        self.np = np.dtype(npdt)
        self.itemsize = self.np.itemsize
        self.is_floating_point = cat == _CAT_FLOAT
        self.is_complex = cat == _CAT_COMPLEX
        self.is_signed = name not in ("uint8", "bool")
        self._cat = cat
        self._rank = rank

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    def to_real(self) -> dtype:
        return {complex64: float32, complex128: float64}.get(self, self)

    def to_complex(self) -> dtype:
        return {float64: complex128}.get(self, complex64)


bool_ = dtype("bool", np.bool_, _CAT_BOOL, 0)
uint8 = dtype("uint8", np.uint8, _CAT_INT, 1)
int8 = dtype("int8", np.int8, _CAT_INT, 1)
int16 = dtype("int16", np.int16, _CAT_INT, 2)
int32 = dtype("int32", np.int32, _CAT_INT, 3)
int64 = dtype("int64", np.int64, _CAT_INT, 4)
float16 = dtype("float16", np.float16, _CAT_FLOAT, 1)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, _CAT_FLOAT, 1)
float32 = dtype("float32", np.float32, _CAT_FLOAT, 2)
float64 = dtype("float64", np.float64, _CAT_FLOAT, 3)
complex64 = dtype("complex64", np.complex64, _CAT_COMPLEX, 2)
complex128 = dtype("complex128", np.complex128, _CAT_COMPLEX, 3)

ALL_DTYPES = (
    bool_,
    uint8,
    int8,
    int16,
    int32,
    int64,
    float16,
    bfloat16,
    float32,
    float64,
    complex64,
    complex128,
)
_BY_NAME = {d.name: d for d in ALL_DTYPES}
_BY_NAME.update(
    {
        "half": float16,
        "float": float32,
        "double": float64,
        "short": int16,
        "int": int32,
        "long": int64,
        "cfloat": complex64,
        "cdouble": complex128,
    }
)
_FROM_NP = {d.np: d for d in ALL_DTYPES}


def _dtype_by_name(name: str) -> dtype:
    return _BY_NAME[name]


def from_numpy_dtype(npdt) -> dtype:
    """The ember dtype for a NumPy dtype; raises TypeError for types ember has no equivalent of."""
    try:
        return _FROM_NP[npdt]
    except KeyError:
        pass
    npdt = np.dtype(npdt)
    if npdt in _FROM_NP:
        return _FROM_NP[npdt]
    # NOTE: unsigned integers wider than 8 bits are not torch dtypes for everyday ops; map to signed.
    fallback = {np.dtype(np.uint16): int32, np.dtype(np.uint32): int64, np.dtype(np.uint64): int64}
    if npdt in fallback:
        return fallback[npdt]
    raise TypeError(f"ember: can't convert NumPy dtype {npdt} to an ember dtype")


def to_dtype(d) -> dtype:
    """Normalise a dtype-like (ember dtype, NumPy dtype, Python type, name) to an ember dtype."""
    if isinstance(d, dtype):
        return d
    if d is builtins.float:
        return get_default_dtype()
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool_
    if d is builtins.complex:
        return complex64 if get_default_dtype() is float32 else complex128
    if isinstance(d, str):
        name = d.removeprefix("torch.").removeprefix("ember.")
        if name in _BY_NAME:
            return _BY_NAME[name]
    return from_numpy_dtype(d)


# ---------------------------------------------------------------- promotion


def _promote_pair(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if a._cat != b._cat:
        hi, lo = (a, b) if a._cat > b._cat else (b, a)
        if hi._cat == _CAT_COMPLEX and lo._cat == _CAT_FLOAT and lo is float64:
            return complex128
        return hi
    if a._cat == _CAT_FLOAT:
        if {a, b} == {float16, bfloat16}:
            return float32
        return a if a._rank > b._rank else b
    if a._cat == _CAT_INT:
        if {a, b} == {uint8, int8}:
            return int16
        if a is uint8:
            return b
        if b is uint8:
            return a
        return a if a._rank > b._rank else b
    if a._cat == _CAT_COMPLEX:
        return a if a._rank > b._rank else b
    return a


_PAIR = {(a, b): _promote_pair(a, b) for a in ALL_DTYPES for b in ALL_DTYPES}


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both can be cast to without losing category."""
    return _PAIR[(to_dtype(a), to_dtype(b))]


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    # Mirrors PyTorch's combine_categories: a lower-priority operand only matters when its
    # category is higher than the higher-priority operand's.
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher._cat == _CAT_COMPLEX:
        return higher
    if lower._cat == _CAT_COMPLEX:
        if higher._cat == _CAT_FLOAT:
            return complex128 if higher is float64 else complex64
        return lower
    if higher._cat == _CAT_FLOAT:
        return higher
    if higher is bool_ or lower._cat == _CAT_FLOAT:
        return _PAIR[(higher, lower)]
    return higher


_RESULT_CACHE: dict = {}


def result_type_from(dims, zeros, wrapped) -> dtype:
    """Result dtype from three groups: dtypes of dimensioned tensors, of 0-d tensors, of Python scalars."""
    key = (dims, zeros, wrapped, _DEFAULT[0])
    r = _RESULT_CACHE.get(key)
    if r is not None:
        return r
    d = z = w = None
    for t in dims:
        d = t if d is None else _PAIR[(d, t)]
    for t in zeros:
        z = t if z is None else _PAIR[(z, t)]
    for t in wrapped:
        w = t if w is None else _PAIR[(w, t)]
    r = _combine(d, _combine(z, w))
    _RESULT_CACHE[key] = r
    return r


def scalar_dtype(x) -> dtype:
    """The dtype a Python scalar takes when it is a wrapped number in an op."""
    if isinstance(x, builtins.bool):
        return bool_
    if isinstance(x, builtins.int):
        return int64
    if isinstance(x, builtins.float):
        return _DEFAULT[0]
    if isinstance(x, builtins.complex):
        return complex64 if _DEFAULT[0] is not float64 else complex128
    if isinstance(x, np.generic):
        return from_numpy_dtype(x.dtype)
    raise TypeError(f"ember: expected a number, got {type(x).__name__}")


# ---------------------------------------------------------------- default dtype

_DEFAULT = [float32]


def set_default_dtype(d) -> None:
    """Set the dtype of Python floats and of float factories (float32 or float64, like torch)."""
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point types are supported, got {d}")
    _DEFAULT[0] = d


def get_default_dtype() -> dtype:
    return _DEFAULT[0]


def is_floating_point(t) -> bool:
    return t.dtype.is_floating_point


def is_float_array_dtype(npdt) -> bool:
    """Whether an array's NumPy dtype is a float one: kind 'f', or ml_dtypes' bfloat16, whose kind is 'V' (a
    check of kind 'f' alone misses it)."""
    return npdt.kind in "fV"


def is_complex(t) -> bool:
    return t.dtype.is_complex


# ---------------------------------------------------------------- finfo / iinfo


class finfo:
    """Machine limits for floating types: bits, eps, max, min, tiny, smallest_normal, resolution."""

    def __init__(self, type: dtype | None = None):
        d = to_dtype(type) if type is not None else get_default_dtype()
        if not (d.is_floating_point or d.is_complex):
            raise TypeError(f"finfo: expected a floating point dtype, got {d}")
        d = d.to_real()
        info = ml_dtypes.finfo(d.np) if d is bfloat16 else np.finfo(d.np)
        self.dtype = d.name
        self.bits = d.itemsize * 8
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = float(info.tiny)
        self.smallest_normal = self.tiny
        self.resolution = float(10.0 ** -int(info.precision))

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={self.resolution}, min={self.min:.6g}, max={self.max:.6g}, eps={self.eps:.6g}, "
            f"smallest_normal={self.smallest_normal:.6g}, tiny={self.tiny:.6g}, dtype={self.dtype})"
        )


class iinfo:
    """Machine limits for integer types: bits, max, min."""

    def __init__(self, type: dtype):
        d = to_dtype(type)
        if d.is_floating_point or d.is_complex or d is bool_:
            raise TypeError(f"iinfo: expected an integer dtype, got {d}")
        info = np.iinfo(np.uint8) if d is bool_ else np.iinfo(d.np)
        self.dtype = d.name
        self.bits = d.itemsize * 8
        self.max = int(info.max) if d is not bool_ else 1
        self.min = int(info.min)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


# torch's ScalarType names, used in error messages users already know.
SCALAR_NAME = {
    bool_: "Bool",
    uint8: "Byte",
    int8: "Char",
    int16: "Short",
    int32: "Int",
    int64: "Long",
    float16: "Half",
    bfloat16: "BFloat16",
    float32: "Float",
    float64: "Double",
    complex64: "ComplexFloat",
    complex128: "ComplexDouble",
}


def can_cast(src: dtype, dst: dtype) -> bool:
    """torch.can_cast: whether an op result of dtype `src` may be written into a tensor of dtype `dst`."""
    return src._cat <= dst._cat
