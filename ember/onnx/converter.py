"""ember export graph (format v1, ember/export/FORMAT.md) -> onnx.ModelProto, built with onnx.helper.

Every node of the graph becomes a small ONNX subgraph. The converter tracks, for each value, its dtype and
its shape (ints where static, dynamic-axis names or None where not), so that it can apply torch's type
promotion, wrap dims and pick static attributes; sizes that are dynamic stay dynamic: `sym.*` nodes become
int64 scalar computations (Shape/Gather/Add/Mul/Div...) and shape arguments that mention them are built with
Concat at run time.
"""

from __future__ import annotations

import ast
import math
import string

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import _dtype as D

DEFAULT_OPSET = 17  # keep in sync with ember/onnx/__init__.py
MIN_OPSET = 15  # Shape(start, end), Trilu, Range, axes-as-input Squeeze/Unsqueeze/Split
_INT64_MAX = 2**63 - 1
_NEG_INF = float("-inf")
IN_MEMORY_LIMIT = 2**31 - (64 << 20)  # weight bytes above which a model is checked and saved as external data

_ONNX_TYPE = {
    D.float32: TensorProto.FLOAT,
    D.float16: TensorProto.FLOAT16,
    D.bfloat16: TensorProto.BFLOAT16,
    D.float64: TensorProto.DOUBLE,
    D.int64: TensorProto.INT64,
    D.int32: TensorProto.INT32,
    D.int16: TensorProto.INT16,
    D.int8: TensorProto.INT8,
    D.uint8: TensorProto.UINT8,
    D.bool_: TensorProto.BOOL,
}
_EXTRA_DTYPE_NAMES = {"byte": D.uint8, "char": D.int8, "bool": D.bool_, "bfloat16": D.bfloat16}
_HALF = (D.float16, D.bfloat16)


def _dtype(name) -> D.dtype:
    """An ember dtype from a format dtype name ("float32", or torch's "float", "long", "byte", ...)."""
    if isinstance(name, D.dtype):
        return name
    name = str(name).lower()
    if name in _EXTRA_DTYPE_NAMES:
        return _EXTRA_DTYPE_NAMES[name]
    return D.to_dtype(name)


# ------------------------------------------------------------------------------------------------ values


class _T:
    """A tensor value: its ONNX name, ember dtype and shape (int, dynamic-axis name or None per dim)."""

    __slots__ = ("name", "dtype", "shape")

    def __init__(self, name: str, dtype, shape):
        self.name = name
        self.dtype = dtype
        self.shape = tuple(shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"_T({self.name}, {self.dtype}, {self.shape})"


class _S:
    """A symbolic int: a static value, or an int64 scalar computed at run time (`name`, made lazily when it
    is a dim of a tensor: `src` = (tensor, dim)); `label` names the dynamic axis it equals, when known."""

    __slots__ = ("name", "value", "label", "src")

    def __init__(self, name=None, value=None, label=None, src=None):
        self.name = name
        self.value = value
        self.label = label
        self.src = src

    def dim(self):
        """The shape entry this size gives: its value, its axis name, or None."""
        return self.value if self.value is not None else self.label


def _static(d) -> bool:
    return isinstance(d, int) and not isinstance(d, bool)


def _bdim(a, b):
    if a == 1:
        return b
    if b == 1:
        return a
    if _static(a):
        return a
    if _static(b):
        return b
    return a if a == b and a is not None else None


def _bcast(*shapes) -> tuple:
    n = max((len(s) for s in shapes), default=0)
    out = [1] * n
    for s in shapes:
        s = (1,) * (n - len(s)) + tuple(s)
        out = [_bdim(a, c) for a, c in zip(out, s)]
    return tuple(out)


def _wrap(d: int, n: int) -> int:
    if not -max(n, 1) <= d < max(n, 1):
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-max(n, 1)}, {max(n, 1) - 1}], but got {d})"
        )
    return d % max(n, 1) if n else 0


def _infer_minus_one(shape, rest):
    """The size a -1 takes in a view of `shape` whose other sizes are `rest` (axis names cancel out)."""
    if any(d is None for d in shape) or any(d is None for d in rest):
        return None
    labels = [d for d in shape if not _static(d)]
    for d in rest:
        if not _static(d):
            if d not in labels:
                return None
            labels.remove(d)
    if labels:
        return (
            labels[0]
            if len(labels) == 1
            and math.prod(d for d in rest if _static(d)) == math.prod(d for d in shape if _static(d))
            else None
        )
    total, known = math.prod(d for d in shape if _static(d)), math.prod(d for d in rest if _static(d))
    return total // known if known and total % known == 0 else None


def _prod(dims):
    if all(_static(d) for d in dims):
        return math.prod(dims)
    return None


# ------------------------------------------------------------------------------------------------ builder


class _Builder:
    def __init__(self, opset: int):
        self.opset = opset
        self.nodes: list = []
        self.inits: list = []
        self.used: set = set()
        self.count = 0
        self.scope = ""
        self.op = ""
        self._consts: dict = {}
        self._shape_cache: dict = {}

    # -- names and nodes
    def fresh(self, hint: str) -> str:
        while True:
            self.count += 1
            name = f"{hint}_{self.count}"
            if name not in self.used:
                self.used.add(name)
                return name

    def add(self, op_type: str, inputs, n_out: int = 1, **attrs):
        """Append one ONNX node; returns its output name (or the list of names when n_out > 1)."""
        ins = [i.name if isinstance(i, _T) else ("" if i is None else i) for i in inputs]
        outs = [self.fresh(op_type.lower()) for _ in range(n_out)]
        prefix = f"/{self.scope}" if self.scope else ""
        node = helper.make_node(op_type, ins, outs, name=f"{prefix}/{op_type}_{self.count}", **attrs)
        self.nodes.append(node)
        return outs[0] if n_out == 1 else outs

    def t(self, op_type: str, inputs, dtype, shape, **attrs) -> _T:
        return _T(self.add(op_type, inputs, **attrs), dtype, shape)

    # -- constants
    def const(self, arr) -> str:
        arr = np.require(np.asarray(arr), requirements="C")
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        name = self._consts.get(key)
        if name is None:
            name = self.fresh("const")
            self.inits.append(numpy_helper.from_array(arr, name))
            self._consts[key] = name
        return name

    def i64(self, values) -> str:
        """A 1-D int64 constant."""
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1))

    def scalar(self, value, dtype) -> _T:
        """A 0-d constant of an ember dtype."""
        if isinstance(value, _S):
            return self.cast(_T(self.sym(value), D.int64, ()), dtype)
        return _T(self.const(np.asarray(value).astype(dtype.np)), dtype, ())

    # -- dtypes
    def cast(self, x: _T, dtype) -> _T:
        if x.dtype is dtype:
            return x
        return self.t("Cast", [x], dtype, x.shape, to=_ONNX_TYPE[dtype])

    def operand(self, x, dtype) -> _T:
        """A tensor, symbolic int or Python number as a tensor of `dtype`."""
        if isinstance(x, _T):
            return self.cast(x, dtype)
        if isinstance(x, _S):
            if x.value is not None:
                return self.scalar(x.value, dtype)
            return self.cast(_T(self.sym(x), D.int64, ()), dtype)
        if dtype is D.bool_ and not isinstance(x, bool):
            x = bool(x)
        return self.scalar(x, dtype)

    # -- shapes and symbolic ints
    def shape_of(self, x: _T, start: int = 0, end=None) -> str:
        """Shape(x)[start:end] (1-D int64)."""
        key = (x.name, start, end)
        name = self._shape_cache.get(key)
        if name is None:
            attrs = {} if start == 0 else {"start": start}
            if end is not None and end != x.ndim:
                attrs["end"] = end
            name = self._shape_cache[key] = self.add("Shape", [x], **attrs)
        return name

    def size(self, x: _T, d: int) -> _S:
        """x.size(d) as a symbolic int (static when the dim is)."""
        d = _wrap(d, x.ndim)
        v = x.shape[d]
        if _static(v):
            return _S(value=v)
        return _S(label=v, src=(x, d))

    def sizes(self, x: _T, start: int = 0, end=None) -> list:
        end = x.ndim if end is None else end
        return [self.size(x, i) for i in range(start, end)]

    def sym(self, s) -> str:
        """The ONNX name of a symbolic int (0-d int64), made on demand."""
        if not isinstance(s, _S):
            return self.const(np.asarray(int(s), dtype=np.int64))
        if s.name is None:
            if s.value is not None:
                s.name = self.const(np.asarray(s.value, dtype=np.int64))
            else:
                x, d = s.src
                s.name = self.add("Squeeze", [self.shape_of(x, d, d + 1), self.i64([0])])
        return s.name

    def vec(self, items) -> str:
        """A 1-D int64 tensor from ints and symbolic ints (runs of dims of one tensor use one Shape)."""
        parts: list = []
        static: list = []
        run = None  # (tensor, start, end)

        def flush_static():
            if static:
                parts.append(self.i64(static))
                static.clear()

        def flush_run():
            nonlocal run
            if run is not None:
                parts.append(self.shape_of(run[0], run[1], run[2]))
                run = None

        for it in items:
            if isinstance(it, _S) and it.value is not None:
                it = it.value
            if not isinstance(it, _S):
                flush_run()
                static.append(int(it))
                continue
            flush_static()
            if it.name is None and it.src is not None:
                x, d = it.src
                if run is not None and run[0] is x and run[2] == d:
                    run = (x, run[1], d + 1)
                    continue
                flush_run()
                run = (x, d, d + 1)
                continue
            flush_run()
            parts.append(self.add("Unsqueeze", [self.sym(it), self.i64([0])]))
        flush_run()
        flush_static()
        if not parts:
            return self.i64([])
        if len(parts) == 1:
            return parts[0]
        return self.add("Concat", parts, axis=0)

    def sym_op(self, kind: str, a, b=None) -> _S:
        """Integer arithmetic on ints / symbolic ints (folded when static)."""
        va = a.value if isinstance(a, _S) else a
        vb = b.value if isinstance(b, _S) else b
        if va is not None and (b is None or vb is not None):
            va, vb = int(va), (None if vb is None else int(vb))
            r = {
                "add": lambda: va + vb,
                "sub": lambda: va - vb,
                "mul": lambda: va * vb,
                "floordiv": lambda: va // vb,
                "mod": lambda: va % vb,
                "neg": lambda: -va,
                "max": lambda: max(va, vb),
                "min": lambda: min(va, vb),
            }[kind]()
            return _S(value=r)
        if kind == "mul" and (va == 1 or vb == 1):
            return b if va == 1 else a
        if kind in ("add", "sub") and vb == 0:
            return a
        na = self.sym(a)
        if kind == "neg":
            return _S(self.add("Neg", [na]))
        nb = self.sym(b)
        if kind == "floordiv":  # Python's floor division: (a - a mod b) / b, exact
            m = self.add("Mod", [na, nb], fmod=0)
            return _S(self.add("Div", [self.add("Sub", [na, m]), nb]))
        if kind == "mod":
            return _S(self.add("Mod", [na, nb], fmod=0))
        op = {"add": "Add", "sub": "Sub", "mul": "Mul", "max": "Max", "min": "Min"}[kind]
        return _S(self.add(op, [na, nb]))

    # -- common tensor ops
    def reshape(self, x: _T, sizes) -> _T:
        """x.view(sizes): sizes are ints (-1 allowed once) and symbolic ints."""
        sizes = list(sizes)
        out = []
        for s in sizes:
            if isinstance(s, _S):
                out.append(s.dim())
            else:
                out.append(None if s == -1 else int(s))
        if -1 in [s for s in sizes if not isinstance(s, _S)]:
            i = [k for k, s in enumerate(sizes) if not isinstance(s, _S) and s == -1][0]
            out[i] = _infer_minus_one(x.shape, [d for k, d in enumerate(out) if k != i])
        if list(x.shape) == out and all(d is not None for d in out) and all(_static(d) for d in out):
            return x
        allowzero = 0 if -1 in [s for s in sizes if not isinstance(s, _S)] else 1
        return self.t("Reshape", [x, self.vec(sizes)], x.dtype, out, allowzero=allowzero)

    def unsqueeze(self, x: _T, axes) -> _T:
        axes = sorted(_wrap(a, x.ndim + len(axes)) for a in axes)
        shape = list(x.shape)
        for a in axes:
            shape.insert(a, 1)
        return self.t("Unsqueeze", [x, self.i64(axes)], x.dtype, shape)

    def squeeze(self, x: _T, axes) -> _T:
        axes = sorted({_wrap(a, x.ndim) for a in axes})
        if not axes:
            return x
        shape = [d for i, d in enumerate(x.shape) if i not in axes]
        return self.t("Squeeze", [x, self.i64(axes)], x.dtype, shape)

    def transpose(self, x: _T, perm) -> _T:
        perm = [int(p) for p in perm]
        if perm == list(range(x.ndim)):
            return x
        return self.t("Transpose", [x], x.dtype, [x.shape[p] for p in perm], perm=perm)

    def reduce(self, op: str, x: _T, axes, keepdims: bool, dtype=None) -> _T:
        """ReduceSum/Mean/Max/Min/Prod/L1/L2 over `axes` (None: all), axes as input where the opset wants."""
        n = x.ndim
        axes = None if axes is None else sorted({_wrap(a, n) for a in axes})
        if axes is not None and len(axes) == n:
            axes = None
        if axes is None:
            shape = [1] * n if keepdims else []
        else:
            shape = (
                [1 if i in axes else d for i, d in enumerate(x.shape)]
                if keepdims
                else [d for i, d in enumerate(x.shape) if i not in axes]
            )
        if n == 0:
            return x
        inputs = [x]
        attrs = {"keepdims": int(bool(keepdims))}
        if axes is not None:
            if op == "ReduceSum" or self.opset >= 18:
                inputs.append(self.i64(axes))
            else:
                attrs["axes"] = axes
        return self.t(op, inputs, dtype or x.dtype, shape, **attrs)

    def concat(self, xs, axis: int) -> _T:
        xs = list(xs)
        if len(xs) == 1:
            return xs[0]
        n = xs[0].ndim
        axis = _wrap(axis, n)
        shape = list(_concat_shape([x.shape for x in xs], axis))
        return self.t("Concat", xs, xs[0].dtype, shape, axis=axis)

    def expand(self, x: _T, sizes, shape) -> _T:
        return self.t("Expand", [x, self.vec(sizes)], x.dtype, shape)

    def promote(self, operands, kind: str = "same"):
        """torch's result dtype of tensors / symbolic ints / numbers ('float': ints become the default float)."""
        dims, zeros, wrapped = [], [], []
        for o in operands:
            if isinstance(o, _T):
                (dims if o.ndim else zeros).append(o.dtype)
            elif isinstance(o, _S):
                wrapped.append(D.int64)
            elif o is not None:
                wrapped.append(D.scalar_dtype(o))
        dt = D.result_type_from(tuple(dims), tuple(zeros), tuple(wrapped))
        if kind == "float" and not dt.is_floating_point:
            dt = D.get_default_dtype()
        return dt

    def binary(self, op_type: str, a, b, kind: str = "same", out_dtype=None) -> _T:
        dt = self.promote([a, b], kind)
        x, y = self.operand(a, dt), self.operand(b, dt)
        return self.t(op_type, [x, y], out_dtype or dt, _bcast(x.shape, y.shape))

    def unary(self, op_type: str, x: _T, kind: str = "float", **attrs) -> _T:
        if kind == "float" and not x.dtype.is_floating_point:
            x = self.cast(x, D.get_default_dtype())
        return self.t(op_type, [x], x.dtype, x.shape, **attrs)

    def mul(self, a, b) -> _T:
        return self.binary("Mul", a, b)

    def add_(self, a, b) -> _T:
        return self.binary("Add", a, b)


def _concat_shape(shapes, axis):
    out = []
    for i in range(len(shapes[0])):
        col = [s[i] for s in shapes]
        if i == axis:
            out.append(sum(col) if all(_static(c) for c in col) else None)
        else:
            known = [c for c in col if _static(c)]
            out.append(known[0] if known else (col[0] if all(c == col[0] for c in col) else None))
    return tuple(out)


# ------------------------------------------------------------------------------------------------ registry

_REQUIRED = object()
_HANDLERS: dict = {}


class _Args(dict):
    __getattr__ = dict.__getitem__


def _parse_sig(sig: str):
    params = []
    for part in sig.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" in part:
            name, default = part.split("=", 1)
            params.append((name.strip(), ast.literal_eval(default.strip())))
        else:
            params.append((part, _REQUIRED))
    return params


def _bind(op: str, params, args, kwargs) -> _Args:
    out = _Args()
    kwargs = dict(kwargs)
    i = 0
    extra = None
    for name, default in params:
        if name.startswith("**"):
            extra = name[2:]
            continue
        if name.startswith("*"):
            out[name[1:]] = list(args[i:])
            i = len(args)
            continue
        if i < len(args):
            out[name] = args[i]
            i += 1
        elif name in kwargs:
            out[name] = kwargs.pop(name)
        elif default is not _REQUIRED:
            out[name] = default
        else:
            raise TypeError(f"ember.onnx: '{op}' is missing its argument '{name}'")
    if i < len(args):
        raise TypeError(f"ember.onnx: '{op}' got {len(args)} positional arguments, expected at most {i}")
    if extra is not None:
        out[extra] = kwargs
    elif kwargs:
        raise TypeError(f"ember.onnx: '{op}' got unexpected keyword arguments {sorted(kwargs)}")
    return out


def _reg(names: str, sig: str):
    params = _parse_sig(sig)

    def deco(fn):
        for n in names.split():
            _HANDLERS[n] = (fn, params)
        return fn

    return deco


def supported_ops() -> list:
    """The graph op names this converter maps to ONNX."""
    return sorted(_HANDLERS)


# ------------------------------------------------------------------------------------------------ helpers


def _seq(v):
    """A size argument given as varargs or as one list/tuple."""
    if len(v) == 1 and isinstance(v[0], (list, tuple)):
        return list(v[0])
    return list(v)


def _tup(v, n: int) -> list:
    if isinstance(v, (list, tuple)):
        v = list(v)
        return v * n if len(v) == 1 else v
    return [v] * n


def _int(v) -> int:
    if isinstance(v, _S):
        if v.value is None:
            raise NotImplementedError("ember.onnx: this argument must be a static int, got a dynamic size")
        return v.value
    return int(v)


def _float_input(b: _Builder, x: _T) -> _T:
    return x if x.dtype.is_floating_point else b.cast(x, D.get_default_dtype())


def _compute_dtype(x: _T):
    """float32 for half inputs of ops that compute in float32 (norms, attention), else the input's dtype."""
    return D.float32 if x.dtype in _HALF else x.dtype


def _no_out(a) -> None:
    if a.get("out") is not None:
        raise NotImplementedError("ember.onnx: out= is not supported in exported graphs")


# ------------------------------------------------------------------------------------------------ sym.*


@_reg("sym.size", "input, dim")
def _sym_size(b, a):
    return b.size(a.input, _int(a.dim))


for _k in ("add", "sub", "mul", "floordiv", "mod", "max", "min"):
    _reg(f"sym.{_k}", "a, b")(lambda b, a, _k=_k: b.sym_op(_k, a.a, a.b))
_reg("sym.neg", "a")(lambda b, a: b.sym_op("neg", a.a))


# ------------------------------------------------------------------------------------------------ op.* elementwise


@_reg("op.Add", "a, b, alpha=1")
def _op_add(b, a):
    return _add(b, a.a, a.b, a.alpha, "Add")


@_reg("op.Sub", "a, b, alpha=1")
def _op_sub(b, a):
    return _add(b, a.a, a.b, a.alpha, "Sub")


def _add(b, x, y, alpha, op):
    dt = b.promote([x, y])
    x, y = b.operand(x, dt), b.operand(y, dt)
    if dt is D.bool_:
        if op == "Sub":
            raise NotImplementedError("ember.onnx: subtraction of bool tensors")
        return b.t("Or", [x, y], dt, _bcast(x.shape, y.shape))
    if alpha != 1:
        y = b.mul(y, b.scalar(alpha, dt))
    return b.t(op, [x, y], dt, _bcast(x.shape, y.shape))


@_reg("op.Mul", "a, b")
def _op_mul(b, a):
    dt = b.promote([a.a, a.b])
    if dt is D.bool_:
        return b.binary("And", a.a, a.b)
    return b.binary("Mul", a.a, a.b)


@_reg("op.Div", "a, b, rounding_mode=None")
def _op_div(b, a):
    return _div(b, a.a, a.b, a.rounding_mode)


@_reg("op.DivRounded", "a, b, rounding_mode='trunc'")
def _op_div_rounded(b, a):
    return _div(b, a.a, a.b, a.rounding_mode)


def _div(b, x, y, rounding_mode):
    if rounding_mode is None:
        return b.binary("Div", x, y, "float")
    dt = b.promote([x, y])
    xs, ys = b.operand(x, dt), b.operand(y, dt)
    shape = _bcast(xs.shape, ys.shape)
    if not dt.is_floating_point:
        if rounding_mode == "trunc":  # ONNX integer Div truncates toward zero
            return b.t("Div", [xs, ys], dt, shape)
        m = b.t("Mod", [xs, ys], dt, shape, fmod=0)
        return b.t("Div", [b.t("Sub", [xs, m], dt, shape), ys], dt, shape)
    q = b.t("Div", [xs, ys], dt, shape)
    if rounding_mode == "floor":
        return b.t("Floor", [q], dt, shape)
    return _trunc(b, q)


def _trunc(b, q):
    neg = b.binary("Less", q, 0.0, out_dtype=D.bool_)
    return b.t(
        "Where",
        [neg, b.t("Ceil", [q], q.dtype, q.shape), b.t("Floor", [q], q.dtype, q.shape)],
        q.dtype,
        q.shape,
    )


@_reg("op.Pow", "a, b")
def _op_pow(b, a):
    x, y = a.a, a.b
    dt = b.promote([x, y])
    if not isinstance(y, (_T, _S)) and y == 2 and dt.is_floating_point:
        xs = b.operand(x, dt)
        return b.t("Mul", [xs, xs], dt, xs.shape)
    return b.binary("Pow", x, y)


for _name, _onnx in (
    ("Exp", "Exp"),
    ("Log", "Log"),
    ("Sqrt", "Sqrt"),
    ("Sin", "Sin"),
    ("Cos", "Cos"),
    ("Tanh", "Tanh"),
    ("Sigmoid", "Sigmoid"),
    ("Erf", "Erf"),
    ("Reciprocal", "Reciprocal"),
):
    _reg(f"op.{_name}", "a")(lambda b, a, _o=_onnx: b.unary(_o, a.a))


@_reg("op.Rsqrt", "a")
def _op_rsqrt(b, a):
    return b.unary("Reciprocal", b.unary("Sqrt", a.a))


@_reg("op.Neg", "a")
def _op_neg(b, a):
    return b.unary("Neg", a.a, "same")


@_reg("op.Abs", "a")
def _op_abs(b, a):
    return b.unary("Abs", a.a, "same")


@_reg("op.Floor op.Ceil", "a")
def _op_floor(b, a):
    x = a.a
    if not x.dtype.is_floating_point:
        return x
    return b.unary("Floor" if b.op == "op.Floor" else "Ceil", x, "same")


@_reg("op.Round", "a, decimals=None")
def _op_round(b, a):
    x = a.a
    if not x.dtype.is_floating_point:
        return x
    if not a.decimals:
        return b.unary("Round", x, "same")
    f = b.scalar(10.0**a.decimals, x.dtype)
    r = b.unary("Round", b.mul(x, f), "same")
    return b.binary("Div", r, f)


@_reg("op.Sign", "a")
def _op_sign(b, a):
    x = a.a
    if x.dtype is D.bool_:
        return x
    if not x.dtype.is_floating_point:
        return b.unary("Sign", x, "same")
    # torch: sign(nan) = 0 and sign(-0.0) = 0
    pos = b.cast(b.binary("Greater", x, 0.0, out_dtype=D.bool_), x.dtype)
    neg = b.cast(b.binary("Less", x, 0.0, out_dtype=D.bool_), x.dtype)
    return b.t("Sub", [pos, neg], x.dtype, x.shape)


@_reg("op.Clamp", "a, lo=None, hi=None")
def _op_clamp(b, a):
    return _clamp(b, a.a, a.lo, a.hi)


def _clamp(b, x, lo, hi):
    dt = b.promote([x, lo, hi])
    out = b.operand(x, dt)
    if lo is not None:
        out = b.binary("Max", out, b.operand(lo, dt))
    if hi is not None:
        out = b.binary("Min", out, b.operand(hi, dt))
    return out if out is not x else b.t("Identity", [x], x.dtype, x.shape)


@_reg("op.Maximum", "a, b")
def _op_maximum(b, a):
    return b.binary("Max", a.a, a.b)


@_reg("op.Minimum", "a, b")
def _op_minimum(b, a):
    return b.binary("Min", a.a, a.b)


@_reg("op.Where", "cond, a, b, dtype=None")
def _op_where(b, a):
    return _where(b, a.cond, a.a, a.b, None if a.dtype is None else _dtype(a.dtype))


def _where(b, cond, x, y, dtype=None):
    dt = dtype or b.promote([x, y])
    c = b.operand(cond, D.bool_)
    xs, ys = b.operand(x, dt), b.operand(y, dt)
    return b.t("Where", [c, xs, ys], dt, _bcast(c.shape, xs.shape, ys.shape))


_COMPARE = {"Eq": "Equal", "Lt": "Less", "Le": "LessOrEqual", "Gt": "Greater", "Ge": "GreaterOrEqual"}


@_reg("op.Eq op.Ne op.Lt op.Le op.Gt op.Ge", "a, b")
def _op_compare(b, a):
    return _compare(b, b.op.split(".")[1], a.a, a.b)


def _compare(b, kind, x, y):
    if kind == "Ne":
        e = b.binary("Equal", x, y, out_dtype=D.bool_)
        return b.t("Not", [e], D.bool_, e.shape)
    return b.binary(_COMPARE[kind], x, y, out_dtype=D.bool_)


@_reg("op.LogicalAnd op.LogicalOr op.LogicalXor", "a, b")
def _op_logical(b, a):
    op = {"op.LogicalAnd": "And", "op.LogicalOr": "Or", "op.LogicalXor": "Xor"}[b.op]
    x, y = b.operand(a.a, D.bool_), b.operand(a.b, D.bool_)
    return b.t(op, [x, y], D.bool_, _bcast(x.shape, y.shape))


@_reg("op.LogicalNot", "a")
def _op_logical_not(b, a):
    x = b.operand(a.a, D.bool_)
    return b.t("Not", [x], D.bool_, x.shape)


# ------------------------------------------------------------------------------------------------ activations


def _gelu(b, x, approximate="none"):
    x = _float_input(b, x)
    dt = x.dtype
    if approximate == "tanh":
        k = math.sqrt(2.0 / math.pi)
        x3 = b.mul(b.mul(x, x), x)
        inner = b.mul(b.add_(x, b.mul(x3, b.scalar(0.044715, dt))), b.scalar(k, dt))
        t = b.unary("Tanh", inner)
    else:
        t = b.unary("Erf", b.mul(x, b.scalar(1.0 / math.sqrt(2.0), dt)))
    return b.mul(b.mul(x, b.scalar(0.5, dt)), b.add_(t, b.scalar(1.0, dt)))


def _silu(b, x):
    x = _float_input(b, x)
    return b.mul(x, b.unary("Sigmoid", x))


@_reg("op.Relu", "a")
def _op_relu(b, a):
    return b.unary("Relu", a.a, "same")


@_reg("op.Gelu", "a, approximate='none'")
def _op_gelu(b, a):
    return _gelu(b, a.a, a.approximate)


@_reg("op.Silu", "a")
def _op_silu(b, a):
    return _silu(b, a.a)


def _softmax(b, x, dim, dtype, log):
    if dtype is not None:
        x = b.cast(x, _dtype(dtype))
    x = _float_input(b, x)
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1
    if x.ndim == 0:
        return b.expand(b.scalar(0.0 if log else 1.0, x.dtype), [], ())
    return b.unary("LogSoftmax" if log else "Softmax", x, axis=_wrap(dim, x.ndim))


@_reg("op.Softmax op.LogSoftmax", "a, dim=-1")
def _op_softmax(b, a):
    return _softmax(b, a.a, a.dim, None, b.op == "op.LogSoftmax")


@_reg("F.softmax F.log_softmax", "input, dim=None, _stacklevel=3, dtype=None")
def _f_softmax(b, a):
    return _softmax(b, a.input, a.dim, a.dtype, b.op == "F.log_softmax")


@_reg("F.relu", "input, inplace=False")
def _f_relu(b, a):
    return b.unary("Relu", a.input, "same")


@_reg("F.gelu", "input, approximate='none'")
def _f_gelu(b, a):
    return _gelu(b, a.input, a.approximate)


@_reg("F.silu", "input, inplace=False")
def _f_silu(b, a):
    return _silu(b, a.input)


@_reg("F.sigmoid", "input")
def _f_sigmoid(b, a):
    return b.unary("Sigmoid", a.input)


@_reg("F.tanh", "input")
def _f_tanh(b, a):
    return b.unary("Tanh", a.input)


@_reg("F.leaky_relu", "input, negative_slope=0.01, inplace=False")
def _f_leaky_relu(b, a):
    return b.unary("LeakyRelu", a.input, alpha=float(a.negative_slope))


@_reg("F.elu", "input, alpha=1.0, inplace=False")
def _f_elu(b, a):
    return b.unary("Elu", a.input, alpha=float(a.alpha))


def _softplus(b, x, beta=1.0, threshold=20.0):
    x = _float_input(b, x)
    z = x if beta == 1 else b.mul(x, b.scalar(beta, x.dtype))
    sp = b.unary("Softplus", z)
    if beta != 1:
        sp = b.binary("Div", sp, b.scalar(beta, x.dtype))
    return _where(b, b.binary("Greater", z, b.scalar(threshold, x.dtype), out_dtype=D.bool_), x, sp)


@_reg("F.softplus", "input, beta=1.0, threshold=20.0")
def _f_softplus(b, a):
    return _softplus(b, a.input, float(a.beta), float(a.threshold))


@_reg("F.hardtanh", "input, min_val=-1.0, max_val=1.0, inplace=False")
def _f_hardtanh(b, a):
    x = a.input
    lo, hi = b.operand(a.min_val, x.dtype), b.operand(a.max_val, x.dtype)
    return b.t("Clip", [x, lo, hi], x.dtype, x.shape)


@_reg("F.mish", "input, inplace=False")
def _f_mish(b, a):
    x = _float_input(b, a.input)
    return b.mul(x, b.unary("Tanh", b.unary("Softplus", x)))


@_reg("F.dropout", "input, p=0.5, training=True, inplace=False")
def _f_dropout(b, a):
    if a.training and a.p:
        raise NotImplementedError(
            f"ember.onnx: dropout in training mode (p={a.p}) cannot be exported; call model.eval() first"
        )
    x = a.input
    return b.t("Identity", [x], x.dtype, x.shape)


@_reg("F.normalize", "input, p=2.0, dim=1, eps=1e-12, out=None")
def _f_normalize(b, a):
    _no_out(a)
    x = _float_input(b, a.input)
    n = _norm(b, x, float(a.p), [_wrap(a.dim, x.ndim)], True)
    den = b.binary("Max", n, b.scalar(a.eps, x.dtype))
    return b.binary("Div", x, den)


def _norm(b, x, p, axes, keepdim):
    if p == 2:
        return b.reduce("ReduceL2", x, axes, keepdim)
    if p == 1:
        return b.reduce("ReduceL1", x, axes, keepdim)
    ax = b.unary("Abs", x, "same")
    if p == math.inf:
        return b.reduce("ReduceMax", ax, axes, keepdim)
    if p == -math.inf:
        return b.reduce("ReduceMin", ax, axes, keepdim)
    if p == 0:
        eq = b.binary("Equal", x, 0.0, out_dtype=D.bool_)
        nz = b.cast(b.t("Not", [eq], D.bool_, eq.shape), x.dtype)
        return b.reduce("ReduceSum", nz, axes, keepdim)
    s = b.reduce("ReduceSum", b.binary("Pow", ax, b.scalar(p, x.dtype)), axes, keepdim)
    return b.binary("Pow", s, b.scalar(1.0 / p, x.dtype))


# ------------------------------------------------------------------------------------------------ linear / conv


@_reg("F.linear", "input, weight, bias=None")
def _f_linear(b, a):
    x, w, bias = a.input, a.weight, a.bias
    if w.ndim == 2 and x.ndim == 2:
        out_shape = (x.shape[0], w.shape[0])
        inputs = [x, w] + ([bias] if bias is not None else [])
        return b.t("Gemm", inputs, x.dtype, out_shape, transB=1)
    if w.ndim == 2:
        wt = b.transpose(w, [1, 0])
    else:
        wt = w
    y = _matmul(b, x, wt)
    if bias is not None:
        y = b.t("Add", [y, bias], y.dtype, _bcast(y.shape, bias.shape))
    return y


def _matmul_shape(sa, sb):
    a1, b1 = len(sa) == 1, len(sb) == 1
    sa = (1,) + tuple(sa) if a1 else tuple(sa)
    sb = tuple(sb) + (1,) if b1 else tuple(sb)
    batch = _bcast(sa[:-2], sb[:-2])
    out = list(batch) + [sa[-2], sb[-1]]
    if b1:
        out.pop(-1)
    if a1:
        out.pop(-2 if not b1 else -1)
    return tuple(out)


def _matmul(b, x, y):
    dt = b.promote([x, y])
    x, y = b.cast(x, dt), b.cast(y, dt)
    return b.t("MatMul", [x, y], dt, _matmul_shape(x.shape, y.shape))


@_reg("op.Matmul", "a, b")
def _op_matmul(b, a):
    return _matmul(b, a.a, a.b)


@_reg("E.matmul", "input, other, out=None")
def _e_matmul(b, a):
    _no_out(a)
    return _matmul(b, a.input, a.other)


@_reg("E.bmm", "input, mat2, out=None")
def _e_bmm(b, a):
    _no_out(a)
    return _matmul(b, a.input, a.mat2)


@_reg("E.baddbmm", "input, batch1, batch2, beta=1, alpha=1, out=None")
def _e_baddbmm(b, a):
    _no_out(a)
    return _addmm_like(b, a.input, _matmul(b, a.batch1, a.batch2), a.beta, a.alpha)


@_reg("E.addmm", "input, mat1, mat2, beta=1, alpha=1, out=None")
def _e_addmm(b, a):
    _no_out(a)
    x, m1, m2 = a.input, a.mat1, a.mat2
    if a.beta != 0 and m1.ndim == 2 and m2.ndim == 2:
        shape = (m1.shape[0], m2.shape[1])
        return b.t("Gemm", [m1, m2, x], m1.dtype, shape, alpha=float(a.alpha), beta=float(a.beta))
    return _addmm_like(b, x, _matmul(b, m1, m2), a.beta, a.alpha)


def _addmm_like(b, x, prod, beta, alpha):
    if alpha != 1:
        prod = b.mul(prod, b.scalar(alpha, prod.dtype))
    if beta == 0:  # torch ignores input (nan/inf included) when beta is 0
        return prod
    if beta != 1:
        x = b.mul(x, b.scalar(beta, x.dtype))
    return b.add_(x, prod)


@_reg("E.einsum", "equation, *operands")
def _e_einsum(b, a):
    ops = a.operands
    if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
        ops = list(ops[0])
    eq = a.equation.replace(" ", "")
    dt = b.promote(ops)
    ops = [b.cast(o, dt) for o in ops]
    return b.t("Einsum", ops, dt, _einsum_shape(eq, [o.shape for o in ops]), equation=eq)


def _einsum_shape(eq, shapes):
    lhs, _, rhs = eq.partition("->")
    terms = lhs.split(",")
    sizes: dict = {}
    ell: tuple = ()
    for term, shape in zip(terms, shapes):
        if "..." in term:
            pre, post = term.split("...")
            n_ell = len(shape) - len(pre) - len(post)
            ell = _bcast(ell, shape[len(pre) : len(pre) + n_ell])
            letters = list(pre) + [None] * n_ell + list(post)
        else:
            letters = list(term)
        for c, d in zip(letters, shape):
            if c is not None:
                sizes[c] = _bdim(sizes.get(c, 1), d)
    if "->" not in eq:
        counts = {c: lhs.count(c) for c in set(lhs) if c in string.ascii_letters}
        rhs = ("..." if "..." in lhs else "") + "".join(sorted(c for c, k in counts.items() if k == 1))
    out = []
    i = 0
    while i < len(rhs):
        if rhs.startswith("...", i):
            out.extend(ell)
            i += 3
        else:
            out.append(sizes.get(rhs[i]))
            i += 1
    return tuple(out)


def _conv_pads(padding, nsp, k, dilation):
    if isinstance(padding, str):
        if padding == "valid":
            return [0] * nsp, [0] * nsp
        if padding == "same":
            total = [d * (kk - 1) for d, kk in zip(dilation, k)]
            begin = [t // 2 for t in total]
            return begin, [t - bb for t, bb in zip(total, begin)]
        raise ValueError(f"ember.onnx: unknown conv padding '{padding}'")
    p = [int(v) for v in _tup(padding, nsp)]
    return p, p


def _unbatched(b, x, nsp):
    """(input with a batch dim, whether it was added) for ops that accept unbatched input."""
    if x.ndim == nsp + 1:
        return b.unsqueeze(x, [0]), True
    return x, False


def _conv_out(n, k, s, p0, p1, d, ceil=False):
    if not _static(n):
        return None
    v = n + p0 + p1 - d * (k - 1) - 1
    return (-(-v // s) if ceil else v // s) + 1


@_reg(
    "F.conv1d F.conv2d F.conv3d",
    "input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1",
)
def _f_conv(b, a):
    w = a.weight
    nsp = w.ndim - 2
    x, added = _unbatched(b, a.input, nsp)
    k = [int(v) for v in w.shape[2:]]
    stride = [int(v) for v in _tup(a.stride, nsp)]
    dilation = [int(v) for v in _tup(a.dilation, nsp)]
    p0, p1 = _conv_pads(a.padding, nsp, k, dilation)
    spatial = [_conv_out(x.shape[2 + i], k[i], stride[i], p0[i], p1[i], dilation[i]) for i in range(nsp)]
    inputs = [x, w] + ([a.bias] if a.bias is not None else [])
    y = b.t(
        "Conv",
        inputs,
        x.dtype,
        [x.shape[0], w.shape[0]] + spatial,
        kernel_shape=k,
        strides=stride,
        dilations=dilation,
        pads=p0 + p1,
        group=int(a.groups),
    )
    return b.squeeze(y, [0]) if added else y


@_reg(
    "F.conv_transpose1d F.conv_transpose2d F.conv_transpose3d",
    "input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1",
)
def _f_conv_transpose(b, a):
    w = a.weight
    nsp = w.ndim - 2
    x, added = _unbatched(b, a.input, nsp)
    k = [int(v) for v in w.shape[2:]]
    stride = [int(v) for v in _tup(a.stride, nsp)]
    dilation = [int(v) for v in _tup(a.dilation, nsp)]
    pad = [int(v) for v in _tup(a.padding, nsp)]
    opad = [int(v) for v in _tup(a.output_padding, nsp)]
    spatial = []
    for i in range(nsp):
        n = x.shape[2 + i]
        spatial.append(
            (n - 1) * stride[i] - 2 * pad[i] + dilation[i] * (k[i] - 1) + opad[i] + 1 if _static(n) else None
        )
    inputs = [x, w] + ([a.bias] if a.bias is not None else [])
    y = b.t(
        "ConvTranspose",
        inputs,
        x.dtype,
        [x.shape[0], w.shape[1] * int(a.groups)] + spatial,
        kernel_shape=k,
        strides=stride,
        dilations=dilation,
        pads=pad + pad,
        output_padding=opad,
        group=int(a.groups),
    )
    return b.squeeze(y, [0]) if added else y


# ------------------------------------------------------------------------------------------------ pooling


def _pool_args(a, nsp):
    k = [int(v) for v in _tup(a.kernel_size, nsp)]
    stride = a.stride
    stride = (
        k
        if stride is None or (isinstance(stride, (list, tuple)) and not stride)
        else [int(v) for v in _tup(stride, nsp)]
    )
    pad = [int(v) for v in _tup(a.padding, nsp)]
    return k, stride, pad


def _pool_out(n, k, s, p, d, ceil):
    """torch's pooling output size (with ceil_mode, the last window must start inside the input)."""
    if not _static(n):
        return None
    out = _conv_out(n, k, s, p, p, d, ceil)
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


@_reg(
    "F.max_pool1d F.max_pool2d F.max_pool3d",
    "input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False",
)
def _f_max_pool(b, a):
    if a.return_indices:
        raise NotImplementedError("ember.onnx: max_pool with return_indices=True has no ONNX mapping")
    nsp = int(b.op[-2])
    x, added = _unbatched(b, a.input, nsp)
    k, stride, pad = _pool_args(a, nsp)
    dil = [int(v) for v in _tup(a.dilation, nsp)]
    spatial = [_pool_out(x.shape[2 + i], k[i], stride[i], pad[i], dil[i], a.ceil_mode) for i in range(nsp)]
    y = b.t(
        "MaxPool",
        [x],
        x.dtype,
        list(x.shape[:2]) + spatial,
        kernel_shape=k,
        strides=stride,
        pads=pad + pad,
        dilations=dil,
        ceil_mode=int(bool(a.ceil_mode)),
    )
    return b.squeeze(y, [0]) if added else y


@_reg(
    "F.avg_pool1d F.avg_pool2d F.avg_pool3d",
    "input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None",
)
def _f_avg_pool(b, a):
    if a.divisor_override is not None:
        raise NotImplementedError("ember.onnx: avg_pool with divisor_override has no ONNX mapping")
    nsp = int(b.op[-2])
    x, added = _unbatched(b, a.input, nsp)
    k, stride, pad = _pool_args(a, nsp)
    spatial = [_pool_out(x.shape[2 + i], k[i], stride[i], pad[i], 1, a.ceil_mode) for i in range(nsp)]
    y = b.t(
        "AveragePool",
        [x],
        x.dtype,
        list(x.shape[:2]) + spatial,
        kernel_shape=k,
        strides=stride,
        pads=pad + pad,
        ceil_mode=int(bool(a.ceil_mode)),
        count_include_pad=int(bool(a.count_include_pad)),
    )
    return b.squeeze(y, [0]) if added else y


def _adaptive_matrix(n, m):
    """(m, n) averaging matrix of torch's adaptive pooling bins: [floor(i n / m), ceil((i + 1) n / m))."""
    p = np.zeros((m, n), dtype=np.float64)
    for i in range(m):
        s, e = (i * n) // m, -((-(i + 1) * n) // m)
        p[i, s:e] = 1.0 / (e - s)
    return p


@_reg("F.adaptive_avg_pool1d F.adaptive_avg_pool2d F.adaptive_avg_pool3d", "input, output_size")
def _f_adaptive_avg_pool(b, a):
    nsp = int(b.op[-2])
    x, added = _unbatched(b, a.input, nsp)
    ins = list(x.shape[2:])
    outs = [ins[i] if o is None else _int(o) for i, o in enumerate(_tup(a.output_size, nsp))]
    if all(o == 1 for o in outs):
        y = b.t("GlobalAveragePool", [x], x.dtype, list(x.shape[:2]) + [1] * nsp)
    elif not all(_static(n) for n in ins):
        raise NotImplementedError(
            f"ember.onnx: {b.op} to output size {outs} needs static spatial sizes, got {ins} "
            f"(called at module '{b.scope}')"
        )
    elif all(n % o == 0 for n, o in zip(ins, outs)):
        k = [n // o for n, o in zip(ins, outs)]
        y = b.t(
            "AveragePool",
            [x],
            x.dtype,
            list(x.shape[:2]) + outs,
            kernel_shape=k,
            strides=k,
            pads=[0] * 2 * nsp,
        )
    else:  # uneven bins: pooling is linear, one averaging matrix per spatial dim
        np_dt = x.dtype.np
        y = x
        for i in range(nsp):
            axis = 2 + i
            p = _T(b.const(_adaptive_matrix(ins[i], outs[i]).T.astype(np_dt)), x.dtype, (ins[i], outs[i]))
            last = y.ndim - 1
            if axis != last:
                perm = list(range(y.ndim))
                perm[axis], perm[last] = last, axis
                y = b.transpose(_matmul(b, b.transpose(y, perm), p), perm)
            else:
                y = _matmul(b, y, p)
    return b.squeeze(y, [0]) if added else y


# ------------------------------------------------------------------------------------------------ normalization


def _affine_ones(b, shape, dtype, value):
    return _T(b.const(np.full(shape, value, dtype=dtype.np)), dtype, tuple(shape))


@_reg("F.layer_norm", "input, normalized_shape, weight=None, bias=None, eps=1e-05")
def _f_layer_norm(b, a):
    x = a.input
    ns = a.normalized_shape
    ns = [_int(v) for v in (ns if isinstance(ns, (list, tuple)) else [ns])]
    k = len(ns)
    cdt = _compute_dtype(x)
    xc = b.cast(x, cdt)
    w = b.cast(a.weight, cdt) if a.weight is not None else None
    bias = b.cast(a.bias, cdt) if a.bias is not None else None
    if b.opset >= 17:
        if w is None:
            w = _affine_ones(b, ns, cdt, 1.0)
        y = b.t(
            "LayerNormalization",
            [xc, w] + ([bias] if bias is not None else []),
            cdt,
            x.shape,
            axis=-k,
            epsilon=float(a.eps),
        )
    else:
        axes = list(range(x.ndim - k, x.ndim))
        y = _normalize_axes(b, xc, axes, float(a.eps))
        if w is not None:
            y = b.mul(y, w)
        if bias is not None:
            y = b.add_(y, bias)
    return b.cast(y, x.dtype)


def _normalize_axes(b, x, axes, eps):
    mean = b.reduce("ReduceMean", x, axes, True)
    d = b.t("Sub", [x, mean], x.dtype, x.shape)
    var = b.reduce("ReduceMean", b.mul(d, d), axes, True)
    return b.binary("Div", d, b.unary("Sqrt", b.add_(var, b.scalar(eps, x.dtype))))


@_reg("F.rms_norm", "input, normalized_shape, weight=None, eps=None")
def _f_rms_norm(b, a):
    x = a.input
    ns = a.normalized_shape if isinstance(a.normalized_shape, (list, tuple)) else [a.normalized_shape]
    k = len(ns)
    cdt = _compute_dtype(x)
    w = a.weight
    if w is not None and w.dtype is not x.dtype and not (x.dtype in _HALF and w.dtype is D.float32):
        cdt = D.promote_types(cdt, w.dtype)
    eps = D.finfo(cdt if cdt not in _HALF else D.float32).eps if a.eps is None else float(a.eps)
    xc = b.cast(x, cdt)
    ms = b.reduce("ReduceMean", b.mul(xc, xc), list(range(x.ndim - k, x.ndim)), True)
    y = b.mul(xc, b.unary("Reciprocal", b.unary("Sqrt", b.add_(ms, b.scalar(eps, cdt)))))
    if w is not None:
        y = b.mul(y, b.cast(w, cdt))
    out_dt = (
        x.dtype if w is None or w.dtype is x.dtype or (x.dtype in _HALF and w.dtype is D.float32) else cdt
    )
    return b.cast(y, out_dt)


@_reg("F.group_norm", "input, num_groups, weight=None, bias=None, eps=1e-05")
def _f_group_norm(b, a):
    x = a.input
    g = _int(a.num_groups)
    cdt = _compute_dtype(x)
    xc = b.cast(x, cdt)
    n = b.size(x, 0)
    grouped = b.reshape(xc, [n, g, -1])
    ones, zeros = _affine_ones(b, [g], cdt, 1.0), _affine_ones(b, [g], cdt, 0.0)
    y = b.t("InstanceNormalization", [grouped, ones, zeros], cdt, grouped.shape, epsilon=float(a.eps))
    y = b.t("Reshape", [y, b.shape_of(x)], cdt, x.shape)
    pshape = [-1] + [1] * (x.ndim - 2)
    if a.weight is not None:
        y = b.mul(y, b.reshape(b.cast(a.weight, cdt), pshape))
    if a.bias is not None:
        y = b.add_(y, b.reshape(b.cast(a.bias, cdt), pshape))
    return b.cast(y, x.dtype)


@_reg(
    "F.batch_norm",
    "input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-05",
)
def _f_batch_norm(b, a):
    x = a.input
    cdt = _compute_dtype(x)
    xc = b.cast(x, cdt)
    c = x.shape[1]
    pshape = [-1] + [1] * (x.ndim - 2)
    if a.training or a.running_mean is None:
        axes = [0] + list(range(2, x.ndim))
        y = _normalize_axes(b, xc, axes, float(a.eps))
        if a.weight is not None:
            y = b.mul(y, b.reshape(b.cast(a.weight, cdt), pshape))
        if a.bias is not None:
            y = b.add_(y, b.reshape(b.cast(a.bias, cdt), pshape))
        return b.cast(y, x.dtype)
    if not _static(c):
        c = a.running_mean.shape[0]
    w = b.cast(a.weight, cdt) if a.weight is not None else _affine_ones(b, [c], cdt, 1.0)
    bias = b.cast(a.bias, cdt) if a.bias is not None else _affine_ones(b, [c], cdt, 0.0)
    mean, var = b.cast(a.running_mean, cdt), b.cast(a.running_var, cdt)
    y = b.t("BatchNormalization", [xc, w, bias, mean, var], cdt, x.shape, epsilon=float(a.eps))
    return b.cast(y, x.dtype)


@_reg(
    "F.embedding",
    "input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False",
)
def _f_embedding(b, a):
    idx, w = a.input, a.weight
    if idx.dtype not in (D.int64, D.int32):
        idx = b.cast(idx, D.int64)
    rows = b.t("Gather", [w, idx], w.dtype, tuple(idx.shape) + tuple(w.shape[1:]), axis=0)
    if a.max_norm is None:
        return rows
    # torch renormalises the looked-up rows whose norm exceeds max_norm (scale max_norm / (norm + 1e-7))
    norm = _norm(b, rows, float(a.norm_type), [-1], True)
    mx = b.scalar(float(a.max_norm), w.dtype)
    scale = b.binary("Div", mx, b.add_(norm, b.scalar(1e-7, w.dtype)))
    keep = b.binary("Greater", norm, mx, out_dtype=D.bool_)
    return b.mul(rows, _where(b, keep, scale, b.scalar(1.0, w.dtype)))


@_reg(
    "F.scaled_dot_product_attention",
    "query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False",
)
def _f_sdpa(b, a):
    if a.dropout_p:
        raise NotImplementedError(
            f"ember.onnx: scaled_dot_product_attention with dropout_p={a.dropout_p} cannot be exported; "
            "pass dropout_p=0.0 (eval mode)"
        )
    q, k, v, mask = a.query, a.key, a.value, a.attn_mask
    out_dt = q.dtype
    cdt = _compute_dtype(q)
    q, k, v = b.cast(q, cdt), b.cast(k, cdt), b.cast(v, cdt)
    if a.enable_gqa and q.ndim >= 3 and k.ndim >= 3 and q.shape[-3] != k.shape[-3]:
        hq, hk = q.shape[-3], k.shape[-3]
        if not (_static(hq) and _static(hk)):
            raise NotImplementedError("ember.onnx: enable_gqa needs static head counts")
        groups = hq // hk
        k, v = _repeat_interleave_heads(b, k, groups), _repeat_interleave_heads(b, v, groups)
    e = q.shape[-1]
    if a.scale is not None:
        sc = float(a.scale)
    elif _static(e):
        sc = 1.0 / math.sqrt(e)
    else:
        sc = None
    kt = b.transpose(k, list(range(k.ndim - 2)) + [k.ndim - 1, k.ndim - 2])
    s = _matmul(b, q, kt)
    if sc is not None:
        s = b.mul(s, b.scalar(sc, cdt))
    else:
        es = b.cast(_T(b.sym(b.size(q, -1)), D.int64, ()), cdt)
        s = b.binary("Div", s, b.unary("Sqrt", es))
    masked = False
    if a.is_causal:
        L, S = b.size(s, -2), b.size(s, -1)
        neg = b.expand(b.scalar(_NEG_INF, cdt), [L, S], (L.dim(), S.dim()))
        causal = b.t("Trilu", [neg, b.sym(1)], cdt, neg.shape, upper=1)
        s = b.add_(s, causal)
        masked = True
    if mask is not None:
        if mask.dtype is D.bool_:
            s = _where(b, mask, s, b.scalar(_NEG_INF, cdt))
        else:
            s = b.add_(s, b.cast(mask, cdt))
        masked = True
    p = b.unary("Softmax", s, axis=-1)
    if masked:  # fully masked rows give zeros, as ember's (and torch's) attention does
        p = _where(b, b.t("IsNaN", [p], D.bool_, p.shape), b.scalar(0.0, cdt), p)
    return b.cast(_matmul(b, p, v), out_dt)


def _repeat_interleave_heads(b, x, groups):
    """x.repeat_interleave(groups, dim=-3) for a (..., H, S, E) tensor."""
    n = x.ndim
    u = b.unsqueeze(x, [n - 2])
    sizes = b.sizes(u)
    sizes[n - 2] = groups
    shape = list(u.shape)
    shape[n - 2] = groups
    ex = b.expand(u, sizes, shape)
    h = x.shape[-3] * groups
    new = b.sizes(x)
    new[-3] = h
    return b.reshape(ex, new)


# ------------------------------------------------------------------------------------------------ pad


@_reg("F.pad", "input, pad, mode='constant', value=None")
def _f_pad(b, a):
    x = a.input
    pad = list(a.pad)
    n = x.ndim
    if len(pad) % 2 or len(pad) // 2 > n:
        raise ValueError(f"ember.onnx: pad of length {len(pad)} for a {n}-d input")
    begin, end = [0] * n, [0] * n
    for i in range(len(pad) // 2):
        begin[n - 1 - i] = pad[2 * i]
        end[n - 1 - i] = pad[2 * i + 1]
    mode = a.mode
    if mode == "circular" and b.opset < 19:
        return _pad_circular(b, x, begin, end)
    if mode == "constant" and any(not isinstance(p, _S) and p < 0 for p in begin + end):
        x, begin, end = _crop(b, x, begin, end)
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(
        mode
    )
    if onnx_mode is None:
        raise NotImplementedError(f"ember.onnx: pad mode '{mode}' has no ONNX mapping")
    shape = []
    for d, p0, p1 in zip(x.shape, begin, end):
        ok = _static(d) and not isinstance(p0, _S) and not isinstance(p1, _S)
        shape.append(d + p0 + p1 if ok else (d if p0 == 0 and p1 == 0 else None))
    inputs = [x, b.vec(begin + end)]
    if mode == "constant":
        inputs.append(b.operand(0 if a.value is None else a.value, x.dtype))
    return b.t("Pad", inputs, x.dtype, shape, mode=onnx_mode)


def _slice(b, x, axis, start, stop, step=1) -> _T:
    """x[..., start:stop:step, ...] along one axis (start/stop: ints, symbolic ints or None)."""
    axis = _wrap(axis, x.ndim)
    start = 0 if start is None else start
    stop = _INT64_MAX if stop is None else stop
    step = 1 if step is None else step
    if (
        not isinstance(start, _S)
        and not isinstance(stop, _S)
        and start == 0
        and stop == _INT64_MAX
        and step == 1
    ):
        return x
    d = x.shape[axis]
    size = None
    if _static(d) and all(not isinstance(v, _S) or v.value is not None for v in (start, stop, step)):
        size = len(range(*slice(_int(start), _int(stop), _int(step)).indices(d)))
    shape = list(x.shape)
    shape[axis] = size
    return b.t("Slice", [x, b.vec([start]), b.vec([stop]), b.i64([axis]), b.vec([step])], x.dtype, shape)


def _crop(b, x, begin, end):
    for i, (p0, p1) in enumerate(zip(begin, end)):
        if not isinstance(p0, _S) and p0 < 0:
            x = _slice(b, x, i, -p0, None)
            begin[i] = 0
        if not isinstance(p1, _S) and p1 < 0:
            x = _slice(b, x, i, 0, p1)
            end[i] = 0
    return x, begin, end


def _pad_circular(b, x, begin, end):
    for i, (p0, p1) in enumerate(zip(begin, end)):
        if p0 == 0 and p1 == 0:
            continue
        parts = []
        if p0:
            parts.append(_slice(b, x, i, -_int(p0), None))
        parts.append(x)
        if p1:
            parts.append(_slice(b, x, i, 0, _int(p1)))
        x = b.concat(parts, i)
    return x


# ------------------------------------------------------------------------------------------------ shapes


@_reg("T.view T.reshape", "self, *shape")
def _t_view(b, a):
    x = a.self
    shape = _seq(a.shape)
    if len(shape) == 1 and isinstance(shape[0], (D.dtype, dict, str)):
        raise NotImplementedError("ember.onnx: view(dtype) has no ONNX mapping")
    if any(isinstance(s, _T) for s in shape):
        raise NotImplementedError("ember.onnx: tensor-valued sizes are not supported")
    return b.reshape(x, shape)


@_reg("T.flatten", "self, start_dim=0, end_dim=-1")
def _t_flatten(b, a):
    x = a.self
    if x.ndim == 0:
        return b.reshape(x, [1])
    s, e = _wrap(a.start_dim, x.ndim), _wrap(a.end_dim, x.ndim)
    if s == e:
        return x
    mid = _prod(x.shape[s : e + 1])
    sizes = b.sizes(x, 0, s) + [-1 if mid is None else mid] + b.sizes(x, e + 1)
    return b.reshape(x, sizes)


@_reg("T.unflatten", "self, dim, sizes")
def _t_unflatten(b, a):
    x = a.self
    d = _wrap(a.dim, x.ndim)
    return b.reshape(x, b.sizes(x, 0, d) + list(a.sizes) + b.sizes(x, d + 1))


def _squeeze(b, x, dims):
    """torch's squeeze: removes the given dims (all when None) that have size 1."""
    if x.ndim == 0:
        return x
    dims = list(range(x.ndim)) if dims is None else sorted({_wrap(d, x.ndim) for d in dims})
    static = [d for d in dims if x.shape[d] == 1]
    dynamic = [d for d in dims if not _static(x.shape[d])]
    if not dynamic:
        return b.squeeze(x, static) if static else x
    # a dynamic dim is squeezed only if it is 1 at run time: keep the shape entries that are not
    # (the tracked shape assumes dynamic dims are not 1)
    shape = b.shape_of(x)
    is_one = b.add("Equal", [shape, b.i64([1])])
    candidate = b.const(np.array([i in dims for i in range(x.ndim)]))
    drop = b.add("And", [is_one, candidate])
    new = b.add("Compress", [shape, b.add("Not", [drop])], axis=0)
    out_shape = [d for i, d in enumerate(x.shape) if i not in static]
    return b.t("Reshape", [x, new], x.dtype, out_shape, allowzero=1)


@_reg("T.squeeze", "self, dim=None")
def _t_squeeze(b, a):
    dim = a.dim
    return _squeeze(
        b, a.self, None if dim is None else (list(dim) if isinstance(dim, (list, tuple)) else [dim])
    )


@_reg("op.Squeeze", "a, dims=None")
def _op_squeeze(b, a):
    return _squeeze(b, a.a, None if a.dims is None else list(a.dims))


@_reg("T.unsqueeze", "self, dim")
def _t_unsqueeze(b, a):
    return b.unsqueeze(a.self, [_int(a.dim)])


@_reg("op.Unsqueeze", "a, dim=0")
def _op_unsqueeze(b, a):
    return b.unsqueeze(a.a, [_int(a.dim)])


def _expand(b, x, sizes):
    n_new = len(sizes) - x.ndim
    if n_new < 0:
        raise ValueError(f"ember.onnx: expand to {len(sizes)} dims of a {x.ndim}-d tensor")
    target, shape = [], []
    for i, s in enumerate(sizes):
        cur = x.shape[i - n_new] if i >= n_new else 1
        if not isinstance(s, _S) and s == -1:
            target.append(1)
            shape.append(cur)
        else:
            target.append(s)
            shape.append(s.dim() if isinstance(s, _S) else int(s))
    return b.expand(x, target, shape)


@_reg("T.expand", "self, *sizes")
def _t_expand(b, a):
    return _expand(b, a.self, _seq(a.sizes))


@_reg("op.Expand", "a, shape=()")
def _op_expand(b, a):
    return _expand(b, a.a, list(a.shape))


@_reg("T.expand_as", "self, other")
def _t_expand_as(b, a):
    x, o = a.self, a.other
    return b.t("Expand", [x, b.shape_of(o)], x.dtype, o.shape)


@_reg("T.repeat", "self, *sizes")
def _t_repeat(b, a):
    x = a.self
    reps = _seq(a.sizes)
    lead = len(reps) - x.ndim
    if lead:
        x = b.unsqueeze(x, list(range(lead)))
    shape = []
    for d, r in zip(x.shape, reps):
        rv = r.value if isinstance(r, _S) else int(r)
        shape.append(d * rv if _static(d) and rv is not None else (d if rv == 1 else None))
    return b.t("Tile", [x, b.vec(reps)], x.dtype, shape)


@_reg("op.Permute", "a, dims=()")
def _op_permute(b, a):
    x = a.a
    return b.transpose(x, [_wrap(d, x.ndim) for d in a.dims])


@_reg("T.permute", "self, *dims")
def _t_permute(b, a):
    x = a.self
    return b.transpose(x, [_wrap(d, x.ndim) for d in _seq(a.dims)])


def _swap(b, x, d0, d1):
    if x.ndim == 0:
        return x
    d0, d1 = _wrap(d0, x.ndim), _wrap(d1, x.ndim)
    perm = list(range(x.ndim))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return b.transpose(x, perm)


@_reg("op.Transpose", "a, dim0=0, dim1=1")
def _op_transpose(b, a):
    return _swap(b, a.a, a.dim0, a.dim1)


@_reg("T.transpose", "self, dim0, dim1")
def _t_transpose(b, a):
    return _swap(b, a.self, a.dim0, a.dim1)


def _split(b, x, sizes, dim, nout):
    d = _wrap(dim, x.ndim)
    shapes = []
    for s in sizes:
        sh = list(x.shape)
        sh[d] = s.dim() if isinstance(s, _S) else s
        shapes.append(sh)
    names = b.add("Split", [x, b.vec(sizes)], n_out=len(sizes), axis=d)
    names = [names] if isinstance(names, str) else names
    return [_T(n, x.dtype, sh) for n, sh in zip(names, shapes)]


@_reg("T.split", "self, split_size, dim=0")
def _t_split(b, a):
    x = a.self
    nout = b.nout
    s = a.split_size
    if isinstance(s, (list, tuple)):
        return _split(b, x, list(s), a.dim, nout)
    n = b.size(x, a.dim)
    # `nout` chunks of split_size, the last one holding what remains
    last = b.sym_op("sub", n, b.sym_op("mul", s, nout - 1))
    return _split(b, x, [s] * (nout - 1) + [last], a.dim, nout)


@_reg("T.chunk", "self, chunks, dim=0")
def _t_chunk(b, a):
    x = a.self
    nout = b.nout
    n = b.size(x, a.dim)
    c = b.sym_op("floordiv", b.sym_op("add", n, _int(a.chunks) - 1), _int(a.chunks))
    last = b.sym_op("sub", n, b.sym_op("mul", c, nout - 1))
    return _split(b, x, [c] * (nout - 1) + [last], a.dim, nout)


def _is_legacy_empty(x):
    return x.ndim == 1 and x.shape[0] == 0


@_reg("E.cat", "tensors, dim=0, out=None")
def _e_cat(b, a):
    _no_out(a)
    return _cat(b, list(a.tensors), a.dim)


@_reg("op.Cat", "*arrays, dim=0")
def _op_cat(b, a):
    return _cat(b, list(a.arrays), a.dim)


def _cat(b, xs, dim):
    dt = b.promote(xs)
    keep = [x for x in xs if not _is_legacy_empty(x)] or xs
    keep = [b.cast(x, dt) for x in keep]
    return b.concat(keep, _wrap(dim, keep[0].ndim))


@_reg("E.stack", "tensors, dim=0, out=None")
def _e_stack(b, a):
    _no_out(a)
    xs = list(a.tensors)
    dt = b.promote(xs)
    d = _wrap(a.dim, xs[0].ndim + 1)
    return b.concat([b.unsqueeze(b.cast(x, dt), [d]) for x in xs], d)


# ------------------------------------------------------------------------------------------------ indexing


def _index_const(b, v) -> _T:
    arr = np.asarray(v)
    if arr.size == 0 or arr.dtype.kind in "iuf":
        arr = arr.astype(np.int64)
    return _T(b.const(arr), D.bool_ if arr.dtype == np.bool_ else D.int64, arr.shape)


@_reg("T.__getitem__", "self, key")
def _t_getitem(b, a):
    return _getitem(b, a.self, a.key)


def _getitem(b, x, key):
    a_input = x
    items = list(key) if isinstance(key, tuple) else [key]
    norm = []
    for k in items:
        if isinstance(k, list) and any(isinstance(v, _S) for v in k):  # [0, n - 1] with symbolic ints
            k = _T(b.vec(k), D.int64, (len(k),))
        elif isinstance(k, list):
            k = _index_const(b, k)
        if isinstance(k, bool):  # a new dim indexed by [0] (True) or [] (False)
            norm.append(("false", _index_const(b, np.zeros((1,) if k else (0,), np.int64))))
            continue
        if isinstance(k, _T) and k.dtype is not D.bool_ and k.ndim == 0:
            norm.append(("int", k))
            continue
        if isinstance(k, _T):
            norm.append(("adv", k))
            continue
        norm.append(k)
    specified = 0
    for k in norm:
        if isinstance(k, tuple) and k[0] == "adv":
            t = k[1]
            specified += t.ndim if t.dtype is D.bool_ else 1
        elif k is not None and k is not Ellipsis and not (isinstance(k, tuple) and k[0] == "false"):
            specified += 1
    if specified > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    # basic indexing first (ints, slices, None, Ellipsis), tensor indices kept for a second pass
    adv = []
    d = 0
    n_ellipsis = x.ndim - specified
    for k in norm:
        if k is Ellipsis:
            d += n_ellipsis
            n_ellipsis = 0
        elif k is None:
            x = b.unsqueeze(x, [d])
            d += 1
        elif isinstance(k, tuple) and k[0] == "false":
            x = b.unsqueeze(x, [d])
            adv.append((d, k[1]))
            d += 1
        elif isinstance(k, tuple) and k[0] == "int":
            idx = b.cast(k[1], D.int64)
            x = b.t("Gather", [x, idx], x.dtype, x.shape[:d] + x.shape[d + 1 :], axis=d)
        elif isinstance(k, tuple):
            t = k[1]
            adv.append((d, t))
            d += t.ndim if t.dtype is D.bool_ else 1
        elif isinstance(k, slice):
            x = _slice(b, x, d, k.start, k.stop, k.step)
            d += 1
        else:  # int or symbolic int
            idx = _T(b.sym(k), D.int64, ())
            x = b.t("Gather", [x, idx], x.dtype, x.shape[:d] + x.shape[d + 1 :], axis=d)
    if not adv:
        return x if x is not a_input else _copy(b, x)
    return _advanced(b, x, adv)


def _advanced(b, x, adv):
    """x[adv] with NumPy's rules for tensor indices (bool masks expand to their nonzero coordinates)."""
    if len(adv) == 1 and adv[0][1].dtype is not D.bool_:
        p, idx = adv[0]
        idx = b.cast(idx, D.int64)
        return b.t("Gather", [x, idx], x.dtype, x.shape[:p] + idx.shape + x.shape[p + 1 :], axis=p)
    positions, indices = [], []
    for p, t in adv:
        if t.dtype is D.bool_:
            nz = b.add("NonZero", [t])  # (k, nnz)
            for j in range(t.ndim):
                row = b.t("Gather", [nz, b.scalar(j, D.int64)], D.int64, (None,), axis=0)
                positions.append(p + j)
                indices.append(row)
        else:
            positions.append(p)
            indices.append(b.cast(t, D.int64))
    if len(indices) == 1:
        p, idx = positions[0], indices[0]
        return b.t("Gather", [x, idx], x.dtype, x.shape[:p] + idx.shape + x.shape[p + 1 :], axis=p)
    bshape = _bcast(*[i.shape for i in indices])
    total = indices[0]
    for i in indices[1:]:
        total = b.t("Add", [total, i], D.int64, _bcast(total.shape, i.shape))
    full = b.shape_of(total)
    stacked = [b.unsqueeze(b.t("Expand", [i, full], D.int64, bshape), [-1]) for i in indices]
    ind = b.concat(stacked, -1)
    rest = [i for i in range(x.ndim) if i not in positions]
    xt = b.transpose(x, positions + rest)
    g = b.t("GatherND", [xt, ind], x.dtype, tuple(bshape) + tuple(x.shape[i] for i in rest))
    adjacent = positions == list(range(positions[0], positions[0] + len(positions)))
    if adjacent and positions[0] > 0:
        nb, p0 = len(bshape), positions[0]
        perm = list(range(nb, nb + p0)) + list(range(nb)) + list(range(nb + p0, g.ndim))
        g = b.transpose(g, perm)
    return g


# ------------------------------------------------------------------------------------------------ reductions


def _dims_arg(dim, n):
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        return None if len(dim) == 0 else [_wrap(d, n) for d in dim]
    return [_wrap(dim, n)]


@_reg("T.sum", "self, dim=None, keepdim=False, dtype=None")
def _t_sum(b, a):
    x = a.self
    if isinstance(a.dim, dict):  # sum(dtype) positional form
        a.dim, a.dtype = None, a.dim
    return _sum(b, x, _dims_arg(a.dim, x.ndim), a.keepdim, a.dtype)


@_reg("op.Sum", "a, dims=None, keepdim=False, dtype=None")
def _op_sum(b, a):
    return _sum(b, a.a, None if a.dims is None else list(a.dims), a.keepdim, a.dtype)


def _sum(b, x, dims, keepdim, dtype):
    if dtype is not None:
        x = b.cast(x, _dtype(dtype))
    elif not x.dtype.is_floating_point:
        x = b.cast(x, D.int64)
    cdt = _compute_dtype(x)
    return b.cast(b.reduce("ReduceSum", b.cast(x, cdt), dims, keepdim), x.dtype)


@_reg("T.mean", "self, dim=None, keepdim=False, dtype=None")
def _t_mean(b, a):
    x = a.self
    if a.dtype is not None:
        x = b.cast(x, _dtype(a.dtype))
    if not x.dtype.is_floating_point:
        raise TypeError(f"ember.onnx: mean of a {x.dtype} tensor (torch needs a floating dtype)")
    cdt = _compute_dtype(x)
    y = b.reduce("ReduceMean", b.cast(x, cdt), _dims_arg(a.dim, x.ndim), a.keepdim)
    return b.cast(y, x.dtype)


@_reg("T.amax T.amin", "self, dim=(), keepdim=False")
def _t_amax(b, a):
    x = a.self
    return b.reduce("ReduceMax" if b.op == "T.amax" else "ReduceMin", x, _dims_arg(a.dim, x.ndim), a.keepdim)


@_reg("op.Amax", "a, dims=None, keepdim=False, is_min=False")
def _op_amax(b, a):
    x = a.a
    return b.reduce(
        "ReduceMin" if a.is_min else "ReduceMax", x, None if a.dims is None else list(a.dims), a.keepdim
    )


@_reg("T.max T.min", "self, dim=None, keepdim=False")
def _t_max(b, a):
    x, dim = a.self, a.dim
    is_max = b.op == "T.max"
    if isinstance(dim, _T):
        return b.binary("Max" if is_max else "Min", x, dim)
    red = "ReduceMax" if is_max else "ReduceMin"
    if dim is None:
        return b.reduce(red, x, None, False)
    d = _wrap(dim, x.ndim)
    values = b.reduce(red, x, [d], a.keepdim)
    if x.ndim == 0:
        return values, b.expand(b.scalar(0, D.int64), [], ())
    arg = "ArgMax" if is_max else "ArgMin"
    indices = b.t(arg, [x], D.int64, values.shape, axis=d, keepdims=int(bool(a.keepdim)))
    return values, indices


@_reg("T.var T.std", "self, dim=None, unbiased=None, keepdim=False, correction=None")
def _t_var(b, a):
    x, dim, unbiased = a.self, a.dim, a.unbiased
    if isinstance(dim, bool):  # var(unbiased) positional form
        dim, unbiased = None, dim
    if a.correction is not None:
        corr = float(a.correction)
    else:
        corr = 0.0 if unbiased is False else 1.0
    x = _float_input(b, x)
    cdt = _compute_dtype(x)
    xc = b.cast(x, cdt)
    dims = _dims_arg(dim, x.ndim)
    mean = b.reduce("ReduceMean", xc, dims, True)
    dev = b.t("Sub", [xc, mean], cdt, xc.shape)
    ss = b.reduce("ReduceSum", b.mul(dev, dev), dims, a.keepdim)
    axes = list(range(x.ndim)) if dims is None else dims
    n = _prod([x.shape[i] for i in axes])
    if n is not None:
        den = b.scalar(max(n - corr, 0.0), cdt)
    else:
        cnt = b.cast(_T(b.sym(_numel(b, x, axes)), D.int64, ()), cdt)
        den = b.binary("Max", b.binary("Sub", cnt, b.scalar(corr, cdt)), b.scalar(0.0, cdt))
    var = b.binary("Div", ss, den)
    if b.op == "T.std":
        var = b.unary("Sqrt", var)
    return b.cast(var, x.dtype)


def _numel(b, x, axes) -> _S:
    n = _S(value=1)
    for i in axes:
        n = b.sym_op("mul", n, b.size(x, i))
    return n


# ------------------------------------------------------------------------------------------------ masks, casts


@_reg("T.masked_fill", "self, mask, value")
def _t_masked_fill(b, a):
    return _masked_fill(b, a.self, a.mask, a.value)


@_reg("op.MaskedFill", "a, mask, value")
def _op_masked_fill(b, a):
    return _masked_fill(b, a.a, a.mask, a.value)


def _masked_fill(b, x, mask, value):
    m = b.operand(mask, D.bool_)
    v = b.operand(value, x.dtype)
    return b.t("Where", [m, v, x], x.dtype, _bcast(m.shape, x.shape))


@_reg("op.Tril", "a, diagonal=0, upper=False")
def _op_tril(b, a):
    return _trilu(b, a.a, a.diagonal, a.upper)


@_reg("E.tril E.triu", "input, diagonal=0, out=None")
def _e_tril(b, a):
    _no_out(a)
    return _trilu(b, a.input, a.diagonal, b.op == "E.triu")


def _trilu(b, x, diagonal, upper):
    k = _T(b.sym(diagonal), D.int64, ())
    native = (D.float32, D.float64, D.int64, D.int32, D.bool_)  # Trilu kernels of ONNX Runtime's CPU provider
    xc = x if x.dtype in native else b.cast(x, D.float32 if x.dtype.is_floating_point else D.int64)
    return b.cast(b.t("Trilu", [xc, k], xc.dtype, x.shape, upper=int(bool(upper))), x.dtype)


def _copy(b, x):
    return b.t("Identity", [x], x.dtype, x.shape)


@_reg("T.contiguous", "self, memory_format=None")
def _t_contiguous(b, a):
    return _copy(b, a.self)


@_reg("op.Contiguous", "a")
def _op_contiguous(b, a):
    return _copy(b, a.a)


@_reg("op.Clone", "a, order='K'")
def _op_clone(b, a):
    return _copy(b, a.a)


@_reg("op.ToCopy", "a, dtype=None, device=None, copy=False")
def _op_tocopy(b, a):
    x = a.a
    if a.dtype is None:
        return _copy(b, x)
    return b.cast(x, _dtype(a.dtype))


@_reg("T.type_as", "self, other")
def _t_type_as(b, a):
    return b.cast(a.self, a.other.dtype)


_CAST_METHODS = {
    "T.float": D.float32,
    "T.half": D.float16,
    "T.bfloat16": D.bfloat16,
    "T.double": D.float64,
    "T.long": D.int64,
    "T.int": D.int32,
    "T.bool": D.bool_,
}


@_reg(" ".join(_CAST_METHODS), "self, memory_format=None")
def _t_cast(b, a):
    return b.cast(a.self, _CAST_METHODS[b.op])


@_reg("T.to", "self, *args, **kwargs")
def _t_to(b, a):
    x = a.self
    dtype = a.kwargs.get("dtype")
    for v in a.args:
        if isinstance(v, _T):
            dtype = dtype or v.dtype
        elif isinstance(v, D.dtype):
            dtype = v
        elif isinstance(v, str):
            try:
                dtype = _dtype(v)
            except (TypeError, KeyError):
                pass  # a device string
    if dtype is None:
        return x
    return b.cast(x, _dtype(dtype))


# ------------------------------------------------------------------------------------------------ factories


def _fill(b, value, dtype, sizes) -> _T:
    sizes = list(sizes)
    shape = [s.dim() if isinstance(s, _S) else int(s) for s in sizes]
    base = dtype if dtype is not D.bfloat16 else D.float32
    y = b.expand(b.operand(value, base), sizes, shape)
    return b.cast(y, dtype)


def _factory_dtype(dtype, value):
    if dtype is not None:
        return _dtype(dtype)
    if isinstance(value, bool):
        return D.bool_
    if isinstance(value, (int, _S)):
        return D.int64
    return D.get_default_dtype()


@_reg("E.zeros E.ones", "*size, **kwargs")
def _e_zeros(b, a):
    dtype = a.kwargs.get("dtype")
    dt = _dtype(dtype) if dtype is not None else D.get_default_dtype()
    size = _seq(a.size) if a.size else list(a.kwargs["size"])
    return _fill(b, 0 if b.op == "E.zeros" else 1, dt, size)


@_reg("E.full", "size, fill_value, **kwargs")
def _e_full(b, a):
    size = a.size if isinstance(a.size, (list, tuple)) else [a.size]
    return _fill(b, a.fill_value, _factory_dtype(a.kwargs.get("dtype"), a.fill_value), size)


@_reg("E.zeros_like E.ones_like", "input, **kwargs")
def _e_zeros_like(b, a):
    x = a.input
    dtype = a.kwargs.get("dtype")
    dt = _dtype(dtype) if dtype is not None else x.dtype
    value = 0 if b.op == "E.zeros_like" else 1
    base = dt if dt is not D.bfloat16 else D.float32
    return b.cast(b.t("Expand", [b.scalar(value, base), b.shape_of(x)], base, x.shape), dt)


@_reg("E.full_like", "input, fill_value, **kwargs")
def _e_full_like(b, a):
    x = a.input
    dtype = a.kwargs.get("dtype")
    dt = _dtype(dtype) if dtype is not None else x.dtype
    base = dt if dt is not D.bfloat16 else D.float32
    return b.cast(b.t("Expand", [b.operand(a.fill_value, base), b.shape_of(x)], base, x.shape), dt)


@_reg("E.arange", "*args, **kwargs")
def _e_arange(b, a):
    pos, kw = list(a.args), a.kwargs
    if len(pos) >= 2:
        start, end = pos[0], pos[1]
        step = pos[2] if len(pos) > 2 else kw.get("step", 1)
    elif len(pos) == 1 and "end" in kw:
        start, end, step = pos[0], kw["end"], kw.get("step", 1)
    elif len(pos) == 1:
        start, end, step = kw.get("start", 0), pos[0], kw.get("step", 1)
    else:
        start, end, step = kw.get("start", 0), kw["end"], kw.get("step", 1)
    vals = [start, end, step]
    dtype = kw.get("dtype")
    if dtype is not None:
        dt = _dtype(dtype)
    elif any(isinstance(v, float) for v in vals):
        dt = D.get_default_dtype()
    else:
        dt = D.int64
    static = all(not isinstance(v, _S) or v.value is not None for v in vals)
    length = None
    if static:
        sv = [v.value if isinstance(v, _S) else v for v in vals]
        length = max(0, math.ceil((sv[1] - sv[0]) / sv[2]))
    elif start == 0 and step == 1 and isinstance(end, _S):
        length = end.dim()
    base = dt if dt in (D.float32, D.float64, D.int32, D.int64, D.int16) else D.float32
    r = b.t("Range", [b.operand(v, base) for v in vals], base, (length,))
    return b.cast(r, dt)


@_reg("E.where", "condition, input=None, other=None")
def _e_where(b, a):
    if a.input is None or a.other is None:
        raise NotImplementedError("ember.onnx: where(condition) (nonzero) is not supported")
    return _where(b, a.condition, a.input, a.other)


# ------------------------------------------------------------------------------------------------ extra op.* (beyond v1)


@_reg("op.View op.Reshape", "a, shape=()")
def _op_view(b, a):
    return b.reshape(a.a, list(a.shape))


@_reg("op.Slice op.Index", "a, key=()")
def _op_slice(b, a):
    return _getitem(b, a.a, a.key)


for _name, _onnx in (("Tan", "Tan"), ("Atan", "Atan")):
    _reg(f"op.{_name}", "a")(lambda b, a, _o=_onnx: b.unary(_o, a.a))


@_reg("op.Trunc", "a")
def _op_trunc(b, a):
    return a.a if not a.a.dtype.is_floating_point else _trunc(b, a.a)


@_reg("op.Square", "a")
def _op_square(b, a):
    return b.mul(a.a, a.a)


@_reg("op.Log1p op.Expm1 op.Log2 op.Exp2", "a")
def _op_log1p(b, a):
    x = _float_input(b, a.a)
    one = b.scalar(1.0, x.dtype)
    if b.op == "op.Log1p":
        return b.unary("Log", b.add_(x, one))
    if b.op == "op.Expm1":
        return b.t("Sub", [b.unary("Exp", x), one], x.dtype, x.shape)
    ln2 = b.scalar(math.log(2.0), x.dtype)
    if b.op == "op.Log2":
        return b.binary("Div", b.unary("Log", x), ln2)
    return b.unary("Exp", b.mul(x, ln2))


@_reg("op.Remainder op.FloorDivide", "a, b")
def _op_remainder(b, a):
    if b.op == "op.FloorDivide":
        return _div(b, a.a, a.b, "floor")
    dt = b.promote([a.a, a.b])
    x, y = b.operand(a.a, dt), b.operand(a.b, dt)
    shape = _bcast(x.shape, y.shape)
    if not dt.is_floating_point:
        return b.t("Mod", [x, y], dt, shape, fmod=0)
    m = b.t("Mod", [x, y], dt, shape, fmod=1)  # sign of the dividend; move it to the divisor's sign
    zero = b.scalar(0.0, dt)
    signs_differ = _ne(
        b, b.binary("Less", m, zero, out_dtype=D.bool_), b.binary("Less", y, zero, out_dtype=D.bool_)
    )
    fix = b.t("And", [_ne(b, m, zero), signs_differ], D.bool_, shape)
    return _where(b, fix, b.add_(m, y), m)


def _ne(b, x, y):
    e = b.binary("Equal", x, y, out_dtype=D.bool_)
    return b.t("Not", [e], D.bool_, e.shape)


@_reg("op.LeakyRelu", "a, slope=0.01")
def _op_leaky_relu(b, a):
    return b.unary("LeakyRelu", a.a, alpha=float(a.slope))


@_reg("op.Elu", "a, alpha=1.0, scale=1.0, beta=1.0")
def _op_elu(b, a):
    x = _float_input(b, a.a)
    if a.beta == 1:
        y = b.unary("Elu", x, alpha=float(a.alpha))
    else:
        e = b.t(
            "Sub",
            [b.unary("Exp", b.binary("Div", x, b.scalar(a.beta, x.dtype))), b.scalar(1.0, x.dtype)],
            x.dtype,
            x.shape,
        )
        neg = b.mul(e, b.scalar(a.alpha * a.beta, x.dtype))
        y = _where(b, b.binary("Greater", x, 0.0, out_dtype=D.bool_), x, neg)
    return y if a.scale == 1 else b.mul(y, b.scalar(a.scale, x.dtype))


@_reg("op.Softplus", "a, beta=1.0, threshold=20.0")
def _op_softplus(b, a):
    return _softplus(b, a.a, float(a.beta), float(a.threshold))


@_reg("op.Hardtanh", "a, lo=-1.0, hi=1.0")
def _op_hardtanh(b, a):
    x = a.a
    return b.t("Clip", [x, b.operand(a.lo, x.dtype), b.operand(a.hi, x.dtype)], x.dtype, x.shape)


@_reg("op.Mish", "a")
def _op_mish(b, a):
    x = _float_input(b, a.a)
    return b.mul(x, b.unary("Tanh", b.unary("Softplus", x)))


@_reg("op.Hardsigmoid op.Hardswish", "a")
def _op_hardsigmoid(b, a):
    x = _float_input(b, a.a)
    hs = b.unary("HardSigmoid", x, alpha=1.0 / 6.0, beta=0.5)
    return hs if b.op == "op.Hardsigmoid" else b.mul(x, hs)


@_reg("op.Argmax", "a, dim=None, keepdim=False, is_min=False")
def _op_argmax(b, a):
    x = a.a
    op = "ArgMin" if a.is_min else "ArgMax"
    if x.ndim == 0:
        return b.expand(b.scalar(0, D.int64), [], ())
    if a.dim is None:
        flat = b.reshape(x, [-1])
        r = b.t(op, [flat], D.int64, (), axis=0, keepdims=0)
        return b.reshape(r, [1] * x.ndim) if a.keepdim else r
    d = _wrap(a.dim, x.ndim)
    shape = (
        [1 if i == d else s for i, s in enumerate(x.shape)]
        if a.keepdim
        else [s for i, s in enumerate(x.shape) if i != d]
    )
    return b.t(op, [x], D.int64, shape, axis=d, keepdims=int(bool(a.keepdim)))


@_reg("op.Prod", "a, dim=None, keepdim=False, dtype=None")
def _op_prod(b, a):
    x = a.a
    if a.dtype is not None:
        x = b.cast(x, _dtype(a.dtype))
    elif not x.dtype.is_floating_point:
        x = b.cast(x, D.int64)
    dims = None if a.dim is None else (list(a.dim) if isinstance(a.dim, (list, tuple)) else [a.dim])
    return b.reduce("ReduceProd", x, dims, a.keepdim)


@_reg("op.Cumsum", "a, dim=0, dtype=None")
def _op_cumsum(b, a):
    x = a.a
    if a.dtype is not None:
        x = b.cast(x, _dtype(a.dtype))
    elif not x.dtype.is_floating_point:
        x = b.cast(x, D.int64)
    if x.ndim == 0:
        return _copy(b, x)
    return b.t("CumSum", [x, b.scalar(_wrap(a.dim, x.ndim), D.int64)], x.dtype, x.shape)


@_reg("op.Logsumexp", "a, dims=None, keepdim=False")
def _op_logsumexp(b, a):
    x = _float_input(b, a.a)
    dims = None if a.dims is None else list(a.dims)
    m = b.reduce("ReduceMax", x, dims, True)
    finite = b.t("Not", [b.t("IsInf", [m], D.bool_, m.shape)], D.bool_, m.shape)
    m = _where(b, finite, m, b.scalar(0.0, x.dtype))
    e = b.unary("Exp", b.t("Sub", [x, m], x.dtype, x.shape))
    out = b.add_(b.unary("Log", b.reduce("ReduceSum", e, dims, True)), m)
    if not a.keepdim and x.ndim:
        out = b.squeeze(out, list(range(x.ndim)) if dims is None else dims)
    return out


@_reg("op.Repeat", "a, repeats=()")
def _op_repeat(b, a):
    return _t_repeat(b, _Args(self=a.a, sizes=list(a.repeats)))


@_reg("op.Flip", "a, dims=()")
def _op_flip(b, a):
    x = a.a
    if not a.dims:
        return _copy(b, x)
    dims = [_wrap(d, x.ndim) for d in a.dims]
    n = len(dims)
    return b.t(
        "Slice", [x, b.i64([-1] * n), b.i64([-(2**63)] * n), b.i64(dims), b.i64([-1] * n)], x.dtype, x.shape
    )


@_reg("op.Gather", "a, dim=0, index=None")
def _op_gather(b, a):
    x, idx = a.a, a.index
    if x.ndim == 0:
        return b.t("Expand", [x, b.shape_of(idx)], x.dtype, idx.shape)
    return b.t("GatherElements", [x, b.cast(idx, D.int64)], x.dtype, idx.shape, axis=_wrap(a.dim, x.ndim))


# ------------------------------------------------------------------------------------------------ driver


def _decode(obj, env: dict):
    if isinstance(obj, dict):
        if "$v" in obj:
            return env[obj["$v"]]
        if "$s" in obj:
            return env[obj["$s"]]
        if "$f" in obj:
            return float(obj["$f"])
        if "$tuple" in obj:
            return tuple(_decode(v, env) for v in obj["$tuple"])
        if "$slice" in obj:
            return slice(*(_decode(v, env) for v in obj["$slice"]))
        if "$ellipsis" in obj:
            return Ellipsis
        if "$dtype" in obj:
            return _dtype(obj["$dtype"])
        if "$none" in obj:
            return None
        return {k: _decode(v, env) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, env) for v in obj]
    return obj


def _to_numpy(x):
    if isinstance(x, np.ndarray):
        return x
    data = getattr(x, "_data", None)
    if data is not None:
        if not isinstance(data, np.ndarray):
            data = x.cpu()._data
        return np.asarray(data)
    return np.asarray(x)


def _dim_names(spec, rank: int, name: str) -> dict:
    """{axis: label} from a torch.onnx dynamic_axes entry ({axis: label} or [axes])."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {int(k) % max(rank, 1): str(v) for k, v in spec.items()}
    return {int(k) % max(rank, 1): f"{name}_dim{int(k) % max(rank, 1)}" for k in spec}


def graph_to_onnx(
    graph: dict,
    params: dict,
    *,
    opset: int = DEFAULT_OPSET,
    input_names=None,
    output_names=None,
    dynamic_axes=None,
    model_name: str = "ember",
    check: bool = True,
) -> onnx.ModelProto:
    """Convert an ember export graph and its parameters (value name -> array or Tensor) to an ONNX model."""
    opset = int(opset)
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(
            f"ember.onnx: opset {opset} is not supported (need {MIN_OPSET} to {onnx.defs.onnx_opset_version()})"
        )
    if graph.get("format", 1) != 1:
        raise ValueError(f"ember.onnx: unknown graph format {graph.get('format')!r}")
    b = _Builder(opset)
    env: dict = {}
    dyn = dict(dynamic_axes or {})

    g_inputs = []
    for i, inp in enumerate(graph["inputs"]):
        name = input_names[i] if input_names is not None and i < len(input_names) else inp["name"]
        shape = list(inp["shape"])
        for ax, label in _dim_names(dyn.get(name, dyn.get(inp["name"])), len(shape), name).items():
            if _static(shape[ax]):
                raise ValueError(
                    f"ember.onnx: axis {ax} of input '{name}' was traced with the static size {shape[ax]}; "
                    "pass dynamic_axes to the tracer (ember.onnx.export does)"
                )
            shape[ax] = label
        dt = _dtype(inp["dtype"])
        b.used.add(name)
        g_inputs.append(
            helper.make_tensor_value_info(name, _ONNX_TYPE[dt], [d if _static(d) else str(d) for d in shape])
        )
        env[inp["value"]] = _T(name, dt, [d if _static(d) else str(d) for d in shape])

    for p in graph["params"]:
        value = p["value"]
        if value not in params:
            raise KeyError(f"ember.onnx: no data for parameter '{p.get('key', value)}' ({value})")
        dt = _dtype(p.get("dtype") or D.from_numpy_dtype(_to_numpy(params[value]).dtype))
        arr = np.require(_to_numpy(params[value]), requirements="C")
        if arr.dtype != dt.np:
            arr = arr.astype(dt.np)
        key = p.get("key") or value
        name = key if key not in b.used else b.fresh(key)
        b.used.add(name)
        b.inits.append(numpy_helper.from_array(arr, name))
        env[value] = _T(name, dt, arr.shape)

    for node in graph["nodes"]:
        op = node["op"]
        scope = node.get("scope", "")
        entry = _HANDLERS.get(op)
        if entry is None:
            raise NotImplementedError(
                f"ember.onnx: no ONNX mapping for op '{op}' (called at module '{scope}')"
            )
        fn, sig = entry
        b.scope, b.op = scope, op
        outs = node["outputs"]
        b.nout = len(outs)
        args = [_decode(v, env) for v in node["args"]]
        kwargs = {k: _decode(v, env) for k, v in node["kwargs"].items()}
        try:
            res = fn(b, _bind(op, sig, args, kwargs))
        except NotImplementedError as e:
            msg = str(e)
            if "called at module" not in msg:
                msg = f"{msg} (op '{op}', called at module '{scope}')"
            raise NotImplementedError(msg) from None
        except Exception as e:
            e.add_note(f"ember.onnx: while converting op '{op}' (called at module '{scope}')")
            raise
        if isinstance(res, (_T, _S)):
            res = [res]
        res = list(res)
        if len(res) != len(outs):
            raise RuntimeError(f"ember.onnx: '{op}' gave {len(res)} outputs, the graph lists {len(outs)}")
        for name, r in zip(outs, res):
            if name is not None:
                env[name] = r

    g_outputs = []
    for i, out in enumerate(graph["outputs"]):
        if out.get("value") is None:
            continue
        t = env[out["value"]]
        if isinstance(t, _S):
            t = _T(b.sym(t), D.int64, ())
        name = output_names[i] if output_names is not None and i < len(output_names) else out["name"]
        if name in b.used:
            raise ValueError(f"ember.onnx: output name '{name}' is already used by an input or parameter")
        b.used.add(name)
        b.nodes.append(helper.make_node("Identity", [t.name], [name], name=f"/output_{i}"))
        shape = list(t.shape)
        for ax, label in _dim_names(dyn.get(name, dyn.get(out["name"])), len(shape), name).items():
            if not _static(shape[ax]):
                shape[ax] = label
        dims = [d if _static(d) else (d if isinstance(d, str) else None) for d in shape]
        g_outputs.append(helper.make_tensor_value_info(name, _ONNX_TYPE[t.dtype], dims))

    g = helper.make_graph(b.nodes, model_name, g_inputs, g_outputs, initializer=b.inits)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(g, opset_imports=opsets, producer_name="ember")
    model.ir_version = helper.find_min_ir_version_for(opsets)
    if check:
        if sum(len(t.raw_data) for t in b.inits) < IN_MEMORY_LIMIT:
            onnx.checker.check_model(model)
        else:  # over 2 GiB the in-memory checker refuses: check the graph with the weights as typed inputs
            light = helper.make_graph(
                b.nodes,
                model_name,
                g_inputs
                + [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in b.inits],
                g_outputs,
            )
            onnx.checker.check_model(
                helper.make_model(light, opset_imports=opsets, ir_version=model.ir_version)
            )
    return model
