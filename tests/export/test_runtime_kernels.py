"""ember_runtime: each NumPy kernel against ember's eager op of the same name, and the graph interpreter."""

import json
import os
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.ops._dispatch import dispatch
from ember.ops.op import Op
from ember_runtime.interpreter import decode, run_graph
from ember_runtime.kernels import KERNELS, erf64
from tests.helpers import rng

BF16 = np.dtype(ml_dtypes.bfloat16)
NAN, INF = float("nan"), float("inf")
_TOL = {"float64": (1e-7, 1e-9), "float32": (1e-5, 1e-5), "float16": (2e-3, 2e-3), "bfloat16": (1.6e-2, 1e-2)}
_ED = {
    np.dtype(np.float32): ember.float32,
    np.dtype(np.float64): ember.float64,
    np.dtype(np.float16): ember.float16,
    BF16: ember.bfloat16,
    np.dtype(np.int64): ember.int64,
    np.dtype(np.int32): ember.int32,
    np.dtype(np.bool_): ember.bool,
}


def _op_classes() -> dict:
    out, stack = {}, [Op]
    while stack:
        for s in stack.pop().__subclasses__():
            out.setdefault(s.__name__, s)
            stack.append(s)
    return out


OPS = _op_classes()

# ------------------------------------------------------------------------------------------ inputs


class R:
    """Input builders on the test's seeded generator; noncontig=True gives a transposed (strided) view."""

    def __init__(self):
        self.g = rng()

    def f(self, *shape, dtype="float32", low=-2.0, high=2.0, noncontig=False):
        shape = tuple(shape)
        if noncontig and len(shape) >= 2:
            a = self.g.uniform(low, high, shape[:-2] + (shape[-1], shape[-2])).swapaxes(-1, -2)
        else:
            a = self.g.uniform(low, high, shape)
        return a.astype(np.float32).astype(BF16) if dtype == "bfloat16" else a.astype(dtype)

    def i(self, *shape, low=-5, high=6, dtype="int64"):
        return self.g.integers(low, high, size=tuple(shape)).astype(dtype)

    def b(self, *shape, p=0.5):
        return self.g.random(tuple(shape)) < p


def to_ember(x):
    if isinstance(x, np.ndarray):
        return ember.tensor(np.array(x, order="C"))  # (ascontiguousarray would make 0-d arrays 1-d)
    if isinstance(x, np.dtype):
        return _ED[x]
    if isinstance(x, list):
        return [to_ember(v) for v in x]
    if isinstance(x, tuple):
        return tuple(to_ember(v) for v in x)
    return x


def compare(got, want, rtol=None, atol=None, what="output"):
    if isinstance(want, ember.Tensor):
        assert isinstance(got, np.ndarray), f"{what}: expected an array, got {type(got).__name__}"
        w = want.detach()._data
        assert got.shape == w.shape, f"{what}: shape {got.shape} != ember {w.shape}"
        assert got.dtype == w.dtype, f"{what}: dtype {got.dtype} != ember {w.dtype}"
        if w.dtype.kind in "biu":
            np.testing.assert_array_equal(got, w, err_msg=what)
        else:
            r0, a0 = _TOL[str(w.dtype)]
            np.testing.assert_allclose(
                got.astype(np.float64),
                w.astype(np.float64),
                rtol=r0 if rtol is None else rtol,
                atol=a0 if atol is None else atol,
                equal_nan=True,
                err_msg=what,
            )
        return
    assert isinstance(want, (tuple, list)), f"{what}: cannot compare with {type(want).__name__}"
    assert isinstance(got, tuple) and len(got) == len(want), (
        f"{what}: {len(got)} outputs != ember {len(want)}"
    )
    for i, (g, w) in enumerate(zip(got, want)):
        compare(g, w, rtol, atol, f"{what}[{i}]")


def check(name, ember_fn, *args, rtol=None, atol=None, **kwargs):
    """KERNELS[name](*args, **kwargs) against ember_fn on the same values (as ember tensors)."""
    got = KERNELS[name](*args, **kwargs)
    want = ember_fn(*to_ember(args), **{k: to_ember(v) for k, v in kwargs.items()})
    compare(got, want, rtol, atol)
    return got


def check_op(cls_name, *args, kernel=None, **kwargs):
    """An op-level kernel against ember's dispatch of the Op class with the same inputs and kwargs."""
    cls = OPS[cls_name]
    return check(kernel or f"op.{cls_name}", lambda *a, **k: dispatch(cls, a, k), *args, **kwargs)


def check_method(name, self, *args, **kwargs):
    return check(f"T.{name}", lambda s, *a, **k: getattr(s, name)(*a, **k), self, *args, **kwargs)


# ------------------------------------------------------------------------------------------ op level: binary

BINARY = ["Add", "Sub", "Mul", "Div", "Pow", "Maximum", "Minimum", "Eq", "Ne", "Lt", "Le", "Gt", "Ge"]


def _binary_inputs(r, case):
    return {
        "bcast": (r.f(3, 4), r.f(4)),
        "noncontig_scalar": (r.f(3, 4, noncontig=True), 2.5),
        "scalar_first": (1.5, r.f(2, 3, low=0.5)),
        "int_float_scalar": (r.i(3, 4, low=1), 0.5),
        "ints": (r.i(3, 4), r.i(4, low=1, high=4)),
        "int_scalar": (r.i(2, 3, dtype="int32"), 3),
        "bf16": (r.f(3, 4, dtype="bfloat16"), r.f(3, 4, dtype="bfloat16", low=0.5)),
        "zero_dim_rank": (r.f(dtype="float64"), r.f(2, 3)),
        "mixed": (r.f(2, 3, dtype="float64"), r.f(3)),
        "empty": (r.f(0, 3), r.f(3)),
    }[case]


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize(
    "case",
    [
        "bcast",
        "noncontig_scalar",
        "scalar_first",
        "int_float_scalar",
        "ints",
        "int_scalar",
        "bf16",
        "zero_dim_rank",
        "mixed",
        "empty",
    ],
)
def test_op_binary(op, case):
    a, b = _binary_inputs(R(), case)
    if op == "Pow":
        a = np.abs(a) if isinstance(a, np.ndarray) else abs(a)
        if case in ("ints", "int_scalar"):
            b = np.abs(b) % 3 if isinstance(b, np.ndarray) else 2
    check_op(op, a, b)


@pytest.mark.parametrize("op", ["Add", "Sub"])
@pytest.mark.parametrize("alpha", [2, 0.5, -1])
def test_op_add_sub_alpha(op, alpha):
    r = R()
    check_op(op, r.f(3, 4), r.f(3, 4, noncontig=True), alpha=alpha)
    if not isinstance(alpha, float):
        check_op(op, r.i(3, 4), r.i(4), alpha=alpha)


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_op_div_rounding(mode):
    r = R()
    for a, b in [
        (r.f(3, 4, low=-5, high=5), r.f(4)),
        (r.i(3, 4), r.i(4, low=1)),
        (r.i(3, 4), -3),
        (r.f(2, 3, dtype="bfloat16"), 0.7),
    ]:
        check_op("DivRounded", a, b, kernel="op.Div", rounding_mode=mode)
        check_op("DivRounded", a, b, rounding_mode=mode)


def test_op_int_div_by_zero_raises():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        KERNELS["op.Div"](np.array([1, 2]), np.array([1, 0]), rounding_mode="floor")


def test_op_pow_int_rules():
    a, b = np.array([1, -1, 2, -1, 3]), np.array([-2, -3, -1, 2, 0])
    check_op("Pow", a, b)
    check_op("Pow", np.array([True, False]), True)
    with pytest.raises(RuntimeError, match="negative integer powers"):
        KERNELS["op.Pow"](np.array([1, 2]), -1)


@pytest.mark.parametrize("op", ["LogicalAnd", "LogicalOr"])
def test_op_logical(op):
    r = R()
    check_op(op, r.b(3, 4), r.b(4))
    check_op(op, r.f(3, 4), r.i(3, 4, low=0, high=2))
    check_op("LogicalNot", r.i(2, 3, low=0, high=2))
    check_op("LogicalNot", r.b(2, 3))


def test_op_bool_add_mul():
    r = R()
    check_op("Add", r.b(3, 4), r.b(3, 4))
    check_op("Mul", r.b(3, 4), r.b(4))
    check_op("Add", r.b(3, 4), 2)


def test_op_nan_compare_and_extrema():
    a = np.array([NAN, 1.0, -INF, INF, 0.0, -0.0], dtype=np.float32)
    b = np.array([1.0, NAN, 0.0, INF, -0.0, 0.0], dtype=np.float32)
    for op in ("Maximum", "Minimum", "Eq", "Ne", "Lt", "Ge"):
        check_op(op, a, b)


# ------------------------------------------------------------------------------------------ op level: unary

UNARY_FLOAT = ["Exp", "Sin", "Cos", "Tanh", "Sigmoid", "Erf", "Reciprocal"]
UNARY_POS = ["Log", "Sqrt", "Rsqrt"]
UNARY_SAME = ["Neg", "Abs", "Sign", "Floor", "Ceil", "Round", "Relu"]


def _unary_inputs(r, case, positive):
    lo = 0.1 if positive else -3.0
    return {
        "f32": r.f(3, 4, low=lo, high=3.0),
        "noncontig": r.f(2, 3, 5, low=lo, high=3.0, noncontig=True),
        "f64": r.f(4, 5, dtype="float64", low=lo, high=3.0),
        "bf16": r.f(3, 4, dtype="bfloat16", low=lo, high=3.0),
        "scalar": r.f(low=lo, high=3.0),
        "empty": r.f(0, 3),
        "int": r.i(3, 4, low=1 if positive else -5),
    }[case]


@pytest.mark.parametrize("op", UNARY_FLOAT + UNARY_POS + UNARY_SAME)
@pytest.mark.parametrize("case", ["f32", "noncontig", "f64", "bf16", "scalar", "empty", "int"])
def test_op_unary(op, case):
    x = _unary_inputs(R(), case, op in UNARY_POS)
    check_op(op, x)


def test_op_unary_specials():
    x = np.array([NAN, INF, -INF, 0.0, -0.0, 1e-30, -1e-30, 20.0, -20.0, 0.5], dtype=np.float32)
    for op in UNARY_FLOAT + ["Sign", "Round", "Floor", "Relu", "Abs", "Silu", "Gelu"]:
        check_op(op, x)
    check_op("Round", np.array([0.5, 1.5, 2.5, -0.5, -1.5], dtype=np.float32))
    check_op("Round", np.array([0.125, 1.375, 2.5, -0.61], dtype=np.float32), decimals=2)


def test_erf_accuracy():
    import math

    x = np.concatenate(
        [np.linspace(-7, 7, 20001), np.geomspace(1e-300, 7, 2001), [0.0, -0.0, INF, -INF, NAN]]
    )
    ref = np.array([math.erf(v) for v in x])
    got = erf64(x)
    np.testing.assert_allclose(got, ref, rtol=5e-15, atol=1e-300)
    assert np.signbit(erf64(np.array([-0.0])))[0]
    x32 = x.astype(np.float32)
    np.testing.assert_array_equal(
        KERNELS["op.Erf"](x32), np.array([math.erf(float(v)) for v in x32]).astype(np.float32)
    )


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_op_gelu_silu(approximate, dtype):
    r = R()
    x = r.f(4, 5, dtype=dtype, low=-6, high=6, noncontig=True)
    check_op("Gelu", x, approximate=approximate)
    check_op("Silu", x)


def test_op_clamp():
    r = R()
    x = r.f(3, 4, noncontig=True)
    check_op("Clamp", x, -0.5, 0.5)
    check_op("Clamp", x, None, 0.25)
    check_op("Clamp", x, -1, None)
    check_op("Clamp", x, r.f(4, low=-1, high=0), r.f(3, 1, low=0, high=1))
    check_op("Clamp", r.i(3, 4), -2, 2)
    check_op("Clamp", r.i(3, 4), 0.5, None)
    check_op("Clamp", r.f(3, dtype="bfloat16"), -0.3, 0.3)
    check_op("Clamp", np.array([NAN, 1.0, -5.0], dtype=np.float32), -1.0, 1.0)


def test_op_where():
    r = R()
    c = r.b(3, 4)
    check_op("Where", c, r.f(3, 4), r.f(4), dtype=np.dtype(np.float32))
    check_op("Where", c, r.f(3, 4, dtype="float64"), 0.5, dtype=np.dtype(np.float64))
    check_op("Where", c, r.i(3, 4), 0.5, dtype=np.dtype(np.float32))
    check_op("Where", r.b(4), r.i(3, 4), r.i(3, 1))


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_op_softmax(op, dtype):
    r = R()
    check_op(op, r.f(3, 4, 5, dtype=dtype, low=-5, high=5, noncontig=True), dim=1)
    check_op(op, r.f(3, 4, dtype=dtype), dim=-1)
    check_op(op, r.f(dtype=dtype), dim=0)
    check_op(op, r.f(0, 4, dtype=dtype), dim=1)
    check_op(op, np.array([[-INF, 0.0, 1.0], [-INF, -INF, 2.0]], dtype=dtype), dim=1)


@pytest.mark.parametrize(
    "sa,sb", [((2, 3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 1, 3, 4), (5, 4, 2))]
)
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "int64"])
def test_op_matmul(sa, sb, dtype):
    r = R()
    mk = (lambda *s: r.i(*s)) if dtype == "int64" else (lambda *s: r.f(*s, dtype=dtype, noncontig=True))
    check_op("Matmul", mk(*sa), mk(*sb))
    check("E.matmul", ember.matmul, mk(*sa), mk(*sb))


# ------------------------------------------------------------------------------------------ op level: shapes


def test_op_shapes():
    r = R()
    x = r.f(2, 3, 4, noncontig=True)
    check_op("Transpose", x, dim0=0, dim1=2)
    check_op("Permute", x, dims=(2, 0, 1))
    check_op("Contiguous", x)
    check_op("Clone", x)
    check_op("Clone", x, order="C")
    check_op("Expand", r.f(3, 1), shape=(2, 3, 5))
    check_op("Unsqueeze", x, dim=3)
    check_op("Unsqueeze", r.f(), dim=0)
    check_op("Squeeze", r.f(1, 3, 1, 2))
    check_op("Squeeze", r.f(1, 3, 1, 2), dims=(0, 1))
    check_op("Squeeze", r.f())
    check_op("Tril", r.f(4, 5), diagonal=1)
    check_op("Tril", r.f(2, 4, 5, noncontig=True), diagonal=-1, upper=True)
    for dt in (np.float64, ml_dtypes.bfloat16, np.int64, np.bool_, np.float32):
        check_op("ToCopy", x, dtype=np.dtype(dt))
    check_op("ToCopy", x, copy=True)


def test_op_cat():
    r = R()
    check_op("Cat", r.f(2, 3), r.f(4, 3, noncontig=True), dim=0)
    check_op("Cat", r.f(2, 3), r.i(2, 2), r.f(2, 1, dtype="float64"), dim=1)
    check_op("Cat", r.f(2, 3), np.zeros(0, dtype=np.float32), dim=1)
    check_op("Cat", r.f(2, 3, dtype="bfloat16"), r.f(2, 3, dtype="bfloat16"), dim=-1)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "int64", "bool", "int32"])
def test_op_sum_amax(dtype):
    r = R()
    x = (
        r.b(3, 4, 5)
        if dtype == "bool"
        else r.i(3, 4, 5, dtype=dtype)
        if "int" in dtype
        else r.f(3, 4, 5, dtype=dtype)
    )
    check_op("Sum", x)
    check_op("Sum", x, dims=(0, 2), keepdim=True)
    check_op("Sum", x, dims=(1,), dtype=np.dtype(np.float64))
    if dtype != "bool":
        check_op("Amax", x, dims=(1,), keepdim=False)
        check_op("Amax", x, dims=None, keepdim=True, is_min=True)
    check_op("Sum", x[0, 0, 0].copy(), dims=None)


def test_op_masked_fill():
    r = R()
    x, m = r.f(3, 4, noncontig=True), r.b(4)
    check_op("MaskedFill", x, m, -INF)
    check_op("MaskedFill", x, m, np.array(2.5, dtype=np.float32))
    check_op("MaskedFill", r.i(3, 4), r.b(3, 1), 7)
    check_op("MaskedFill", r.f(3, dtype="bfloat16"), r.b(3), -1e9)
    check_method("masked_fill", x, r.b(3, 4), 0.0)
    check_method("masked_fill", r.f(2, 3, dtype="bfloat16"), r.b(3), np.array(-1.0, dtype=BF16))


# ---------------------------------------------------------------------------------------- op level: beyond v1


def test_op_extras():
    """Primitives the tracer records for Tensor methods outside its traceable list (x.max(dim), ~m, ...)."""
    r = R()
    x, xb, xi = r.f(3, 4, 5, noncontig=True), r.f(3, 4, dtype="bfloat16"), r.i(3, 4)
    for a in (x, xb, xi, np.array([[1.0, NAN, 3.0], [2.0, 2.0, -INF]], dtype=np.float32)):
        check_op("MaxDim", a, dim=1)
        check_op("MaxDim", a, dim=0, keepdim=True, is_min=True)
        check_op("MaxAll", a)
        check_op("MaxAll", a, is_min=True)
        check_op("Argmax", a)
        check_op("Argmax", a, dim=1, keepdim=True, is_min=True)
        check_op("Argmax", a, keepdim=True)
    check_op("MaxDim", r.f(), dim=0)
    check_op("BitwiseNot", r.b(3, 4))
    check_op("BitwiseNot", xi)
    for op in ("BitwiseAnd", "BitwiseOr", "BitwiseXor"):
        check_op(op, r.b(3, 4), r.b(4))
        check_op(op, xi, r.i(4))
        check_op(op, xi, 6)
    check_op("LogicalXor", r.b(3, 4), r.f(4))
    special = np.array([NAN, INF, -INF, 0.0, 1.5, -2.5], dtype=np.float32)
    for op in ("Isnan", "Isinf", "Isfinite", "Trunc", "Square", "Log1p", "Expm1", "Tan", "Atan"):
        for a in (special, xb, xi if op != "Trunc" else r.f(2)):
            check_op(op, a)
    for op in ("FloorDivide", "Remainder"):
        check_op(op, r.f(3, 4, low=-5, high=5), r.f(4, low=0.5, high=2))
        check_op(op, r.f(3, 4, low=-5, high=5), -1.5)
        check_op(op, xi, r.i(4, low=1, high=4))
        check_op(op, xi, -3)
    check_op("View", x.copy(), shape=(12, 5))
    check_op("Reshape", x, shape=(5, 12))
    check_op("Slice", x, key=(1, slice(None, None, 2), None, Ellipsis))
    check_op("Index", x, key=(slice(None), r.i(2, 2, low=0, high=4)))
    check_op("Repeat", r.f(2, 3), repeats=(2, 1, 3))
    check_op("SplitViews", x, dim=1, sizes=(1, 3))
    check_op("Flip", x, dims=(0, 2))
    check_op("Flip", x, dims=())
    for a in (x, xb, special):
        check_op("LeakyRelu", a, slope=0.1)
        check_op("Elu", a, alpha=1.5, scale=1.05, beta=2.0)
        check_op("Softplus", a, beta=0.5, threshold=2.0)
        check_op("Mish", a)
        check_op("Hardtanh", a, lo=-0.5, hi=0.5)


# ------------------------------------------------------------------------------------------ F: activations


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
@pytest.mark.parametrize(
    "name,kw",
    [
        ("relu", {}),
        ("gelu", {}),
        ("gelu", {"approximate": "tanh"}),
        ("silu", {}),
        ("sigmoid", {}),
        ("tanh", {}),
        ("leaky_relu", {}),
        ("leaky_relu", {"negative_slope": 0.2}),
        ("elu", {"alpha": 0.7}),
        ("softplus", {}),
        ("softplus", {"beta": 2.0, "threshold": 3.0}),
        ("hardtanh", {}),
        ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
        ("mish", {}),
    ],
)
def test_f_activations(name, kw, dtype):
    r = R()
    for x in (
        r.f(3, 4, 5, dtype=dtype, low=-25, high=25, noncontig=True),
        r.f(0, 2, dtype=dtype),
        r.f(1, dtype=dtype),
    ):
        check(f"F.{name}", getattr(F, name), x, **kw)
    if not (name == "gelu" and kw):
        check(f"F.{name}", getattr(F, name), r.f(dtype=dtype), **kw)  # 0-d


def test_f_gelu_tanh_zero_dim():
    check("F.gelu", F.gelu, np.array(1.5, dtype=np.float32), approximate="tanh")


def test_f_relu_int_and_specials():
    check("F.relu", F.relu, np.array([-3, 0, 4]))
    x = np.array([NAN, INF, -INF, 0.0, -0.0], dtype=np.float32)
    for name in (
        "relu",
        "gelu",
        "silu",
        "sigmoid",
        "tanh",
        "leaky_relu",
        "elu",
        "softplus",
        "hardtanh",
        "mish",
    ):
        check(f"F.{name}", getattr(F, name), x)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_f_softmax(name):
    r = R()
    fn = getattr(F, name)
    for shape in ((5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)):
        check(f"F.{name}", fn, r.f(*shape, low=-4, high=4))  # torch's implicit dim
    check(f"F.{name}", fn, r.f(3, 4, noncontig=True), dim=0)
    check(f"F.{name}", fn, r.f(3, 4), -1, dtype=np.dtype(np.float64))
    check(f"F.{name}", fn, r.i(3, 4), dim=1, dtype=np.dtype(np.float32))
    check(f"F.{name}", fn, r.f(2, 6, dtype="bfloat16"), dim=1)


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1, -1), (INF, 0), (3.0, 1), (0.5, 1)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_f_normalize(p, dim, dtype):
    r = R()
    check("F.normalize", F.normalize, r.f(3, 4, 2, dtype=dtype, noncontig=True), p=p, dim=dim)
    check("F.normalize", F.normalize, np.zeros((2, 3), dtype=np.float32), p=p, dim=dim if dim != -1 else 1)


def test_f_dropout():
    r = R()
    x = r.f(3, 4)
    check("F.dropout", F.dropout, x, 0.3, False)
    check("F.dropout", F.dropout, x, p=0.0, training=True)
    check("F.dropout", F.dropout, x, p=1.0, training=True)
    with pytest.raises(NotImplementedError, match="eval mode"):
        KERNELS["F.dropout"](x, 0.5, True)


# ------------------------------------------------------------------------------------------ F: linear, conv


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_f_linear(dtype):
    r = R()
    x, w, b = r.f(2, 3, 4, dtype=dtype, noncontig=True), r.f(5, 4, dtype=dtype), r.f(5, dtype=dtype)
    check("F.linear", F.linear, x, w, b)
    check("F.linear", F.linear, x, w)
    check("F.linear", F.linear, r.f(4, dtype=dtype), w, bias=b)
    check("F.linear", F.linear, x, r.f(4, dtype=dtype), r.f(dtype=dtype))
    check("F.linear", F.linear, r.f(0, 4, dtype=dtype), w, b)
    check("F.linear", F.linear, x, w, r.f(2, 1, 5, dtype=dtype))  # a bias that broadcasts, added after


CONV = [
    (1, (2, 4, 9), (6, 4, 3), {}),
    (1, (2, 4, 9), (6, 2, 3), {"stride": 2, "padding": 1, "groups": 2}),
    (1, (4, 9), (6, 4, 3), {"padding": "same", "dilation": 2}),
    (2, (2, 3, 8, 7), (4, 3, 3, 2), {"stride": (2, 1), "padding": (1, 0)}),
    (2, (2, 4, 8, 8), (4, 1, 3, 3), {"padding": 1, "groups": 4}),
    (2, (1, 3, 9, 9), (5, 3, 3, 3), {"padding": "same", "dilation": (2, 1)}),
    (2, (2, 3, 6, 6), (4, 3, 2, 2), {"padding": "valid", "stride": 3}),
    (3, (1, 2, 5, 6, 4), (3, 2, 2, 3, 2), {"stride": (1, 2, 1), "padding": (1, 0, 1)}),
]


@pytest.mark.parametrize("d,xs,ws,kw", CONV)
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_f_conv(d, xs, ws, kw, dtype):
    r = R()
    x, w, b = r.f(*xs, dtype=dtype, noncontig=True), r.f(*ws, dtype=dtype), r.f(ws[0], dtype=dtype)
    fn = getattr(F, f"conv{d}d")
    check(f"F.conv{d}d", fn, x, w, b, **kw)
    check(f"F.conv{d}d", fn, x, w, None, **kw)


CONVT = [
    (1, (2, 4, 7), (4, 3, 3), {}),
    (1, (2, 4, 7), (4, 2, 3), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
    (1, (4, 5), (4, 3, 2), {"dilation": 2, "stride": 3}),
    (2, (2, 3, 5, 4), (3, 4, 3, 2), {"stride": (2, 1), "padding": (1, 0), "output_padding": (1, 0)}),
    (2, (1, 4, 4, 4), (4, 1, 3, 3), {"stride": 2, "padding": 1, "groups": 4, "dilation": 2}),
]


@pytest.mark.parametrize("d,xs,ws,kw", CONVT)
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_f_conv_transpose(d, xs, ws, kw, dtype):
    r = R()
    g = kw.get("groups", 1)
    x, w, b = r.f(*xs, dtype=dtype, noncontig=True), r.f(*ws, dtype=dtype), r.f(ws[1] * g, dtype=dtype)
    fn = getattr(F, f"conv_transpose{d}d")
    check(f"F.conv_transpose{d}d", fn, x, w, b, **kw)
    check(f"F.conv_transpose{d}d", fn, x, w, **kw)


# ------------------------------------------------------------------------------------------ F: pooling

POOL = [
    (1, (2, 3, 9), {"kernel_size": 3}),
    (1, (3, 10), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    (2, (2, 3, 8, 8), {"kernel_size": 2}),
    (2, (2, 3, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1}),
    (2, (2, 3, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    (2, (1, 2, 9, 7), {"kernel_size": (3, 2), "stride": (1, 2), "padding": (1, 1)}),
    (2, (3, 5, 5), {"kernel_size": 2, "stride": 3, "ceil_mode": True}),
]


@pytest.mark.parametrize("d,xs,kw", POOL)
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "int64"])
def test_f_pools(d, xs, kw, dtype):
    r = R()
    x = r.i(*xs) if dtype == "int64" else r.f(*xs, dtype=dtype, noncontig=True)
    check(f"F.max_pool{d}d", getattr(F, f"max_pool{d}d"), x, **kw)
    check(f"F.max_pool{d}d", getattr(F, f"max_pool{d}d"), x, **kw, return_indices=True)
    if dtype != "int64":
        check(f"F.max_pool{d}d", getattr(F, f"max_pool{d}d"), x, **kw, dilation=2 if xs[-1] >= 7 else 1)
    check(f"F.avg_pool{d}d", getattr(F, f"avg_pool{d}d"), x, **kw)
    check(f"F.avg_pool{d}d", getattr(F, f"avg_pool{d}d"), x, **kw, count_include_pad=False)
    if d == 2:
        check("F.avg_pool2d", F.avg_pool2d, x, **kw, divisor_override=3)


def test_f_max_pool_specials():
    x = np.array([[[NAN, 1.0, 2.0, NAN, 3.0, -INF, -INF, 4.0, 4.0]]], dtype=np.float32)
    check("F.max_pool1d", F.max_pool1d, x, 3, return_indices=True)
    check("F.max_pool1d", F.max_pool1d, x, 2, 1, 1, return_indices=True)
    y = np.full((1, 1, 4, 4), -INF, dtype=np.float32)
    check("F.max_pool2d", F.max_pool2d, y, 3, 2, 1, return_indices=True)
    z = np.array([[[[1.0, 1.0], [1.0, 0.0]]]], dtype=np.float32)  # ties: the first maximum
    check("F.max_pool2d", F.max_pool2d, z, 2, return_indices=True)


@pytest.mark.parametrize(
    "d,xs,out",
    [
        (1, (2, 3, 8), 4),
        (1, (3, 7), 3),
        (1, (2, 3, 5), 7),
        (2, (2, 3, 8, 6), (4, 3)),
        (2, (2, 3, 7, 9), (3, 4)),
        (2, (3, 5, 5), (None, 2)),
        (2, (1, 2, 6, 6), 1),
        (2, (1, 2, 4, 4), (0, 2)),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_f_adaptive_avg_pool(d, xs, out, dtype):
    x = R().f(*xs, dtype=dtype, noncontig=True)
    check(f"F.adaptive_avg_pool{d}d", getattr(F, f"adaptive_avg_pool{d}d"), x, out)


# ------------------------------------------------------------------------------------------ F: normalization


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_f_norms(dtype):
    r = R()
    x = r.f(2, 3, 4, 5, dtype=dtype, low=-3, high=5, noncontig=True)
    w, b = r.f(4, 5, dtype=dtype), r.f(4, 5, dtype=dtype)
    check("F.layer_norm", F.layer_norm, x, (4, 5), w, b)
    check("F.layer_norm", F.layer_norm, x, [5], eps=1e-3)
    check("F.layer_norm", F.layer_norm, x, 5, r.f(5, dtype=dtype), None)
    check("F.rms_norm", F.rms_norm, x, (5,), r.f(5, dtype=dtype))
    check("F.rms_norm", F.rms_norm, x, [4, 5], eps=1e-2)
    cw, cb = r.f(3, dtype=dtype), r.f(3, dtype=dtype)
    check("F.group_norm", F.group_norm, x, 3, cw, cb)
    check("F.group_norm", F.group_norm, x, 1, eps=1e-3)
    check(
        "F.group_norm", F.group_norm, r.f(2, 6, 4, dtype=dtype), 2, r.f(6, dtype=dtype), r.f(6, dtype=dtype)
    )
    rm, rv = r.f(3, dtype=dtype), r.f(3, dtype=dtype, low=0.1, high=2)
    check("F.batch_norm", F.batch_norm, x, rm, rv, cw, cb)
    check("F.batch_norm", F.batch_norm, x, rm, rv, eps=1e-3)
    check("F.batch_norm", F.batch_norm, r.f(4, 3, dtype=dtype), rm, rv, cw, cb, False)
    check("F.batch_norm", F.batch_norm, x, None, None, cw, cb, True)  # batch statistics
    check("F.batch_norm", F.batch_norm, r.f(0, 3, 2, dtype=dtype), rm, rv, cw, cb)


def test_f_norm_half_with_float32_params():
    r = R()
    x = r.f(2, 3, 8, dtype="bfloat16")
    check("F.layer_norm", F.layer_norm, x, (8,), r.f(8), r.f(8))
    check("F.rms_norm", F.rms_norm, x, (8,), r.f(8))
    check("F.rms_norm", F.rms_norm, r.f(2, 8), (8,), r.f(8, dtype="float64"))  # promotes to float64
    check("F.batch_norm", F.batch_norm, x, r.f(3), r.f(3, low=0.5), r.f(3), r.f(3))


# ------------------------------------------------------------------------------------------ F: the rest


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_f_embedding(dtype):
    r = R()
    w = r.f(10, 4, dtype=dtype)
    check("F.embedding", F.embedding, r.i(3, 5, low=0, high=10), w)
    check("F.embedding", F.embedding, r.i(7, low=0, high=10, dtype="int32"), w, padding_idx=0)
    check("F.embedding", F.embedding, np.zeros((2, 0), dtype=np.int64), w)
    check("F.embedding", F.embedding, np.array(3), w)
    got = check(
        "F.embedding",
        lambda i, w_, **k: F.embedding(i, w_.clone(), **k),
        r.i(6, low=0, high=10),
        w,
        max_norm=1.0,
    )
    assert (np.linalg.norm(got.astype(np.float64), axis=-1) <= 1.0 + 1e-2).all()
    with pytest.raises(IndexError, match="index out of range"):
        KERNELS["F.embedding"](np.array([0, 10]), w)


SDPA = [
    ((2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 5), {}),
    ((2, 3, 5, 8), (2, 3, 5, 8), (2, 3, 5, 8), {"is_causal": True}),
    ((2, 3, 4, 6), (2, 3, 7, 6), (2, 3, 7, 6), {"is_causal": True, "scale": 0.3}),
    ((4, 8), (6, 8), (6, 3), {}),
    ((1, 4, 3, 8), (1, 2, 5, 8), (1, 2, 5, 8), {"enable_gqa": True}),
]


@pytest.mark.parametrize("qs,ks,vs,kw", SDPA)
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_f_sdpa(qs, ks, vs, kw, dtype):
    r = R()
    q, k, v = r.f(*qs, dtype=dtype, noncontig=True), r.f(*ks, dtype=dtype), r.f(*vs, dtype=dtype)
    check("F.scaled_dot_product_attention", F.scaled_dot_product_attention, q, k, v, **kw)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_f_sdpa_masks(dtype):
    r = R()
    q, k, v = r.f(2, 2, 4, 8, dtype=dtype), r.f(2, 2, 5, 8, dtype=dtype), r.f(2, 2, 5, 8, dtype=dtype)
    mask = r.b(4, 5)
    mask[1] = False  # a fully masked row gives zeros
    sdpa = F.scaled_dot_product_attention
    check("F.scaled_dot_product_attention", sdpa, q, k, v, attn_mask=mask)
    check("F.scaled_dot_product_attention", sdpa, q, k, v, r.b(2, 1, 1, 5), 0.0)
    fmask = r.f(2, 1, 4, 5)
    fmask[0, 0, 2] = -INF
    check("F.scaled_dot_product_attention", sdpa, q, k, v, attn_mask=fmask)
    check("F.scaled_dot_product_attention", sdpa, q, k, v, attn_mask=r.f(4, 5, dtype=dtype), scale=2.0)


@pytest.mark.parametrize(
    "shape,pad,mode,value",
    [
        ((2, 3, 4), (1, 2), "constant", None),
        ((2, 3, 4), (1, 2, 0, 1), "constant", 1.5),
        ((2, 3, 4), (-1, 2, 1, -2), "constant", -1.0),
        ((2, 3, 4, 5), (1, 1, 2, 0, 1, 1), "constant", 0.0),
        ((2, 3, 5), (2, 1), "reflect", None),
        ((2, 3, 4, 5), (1, 2, 3, 1), "reflect", None),
        ((2, 3, 4), (3, 2), "replicate", None),
        ((2, 3, 4, 5), (2, 0, 1, 3), "replicate", None),
        ((2, 3, 4), (2, 3), "circular", None),
        ((2, 3, 4, 5), (1, 2, 3, 4), "circular", None),
        ((1, 2, 3, 4, 5), (1, 1, 1, 1, 1, 1), "replicate", None),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int64"])
def test_f_pad(shape, pad, mode, value, dtype):
    r = R()
    x = r.i(*shape) if dtype == "int64" else r.f(*shape, dtype=dtype, noncontig=True)
    check("F.pad", F.pad, x, pad, mode=mode, value=value)
    check("F.pad", F.pad, x, list(pad), mode)


# ------------------------------------------------------------------------------------------ T: shapes


def test_t_views():
    r = R()
    x = r.f(2, 3, 4, noncontig=True)
    check_method("view", np.ascontiguousarray(x), -1, 4)
    check_method("view", np.ascontiguousarray(x), (6, -1))
    check_method("view", np.ascontiguousarray(x), np.dtype(np.int32))
    check_method("reshape", x, 4, -1)
    check_method("reshape", x, [24])
    check_method("reshape", r.f(), (1, 1))
    check_method("flatten", x)
    check_method("flatten", x, 1)
    check_method("flatten", x, 0, 1)
    check_method("flatten", x, start_dim=-1)
    check_method("flatten", r.f())
    check_method("unflatten", x, 2, (2, -1))
    check_method("unflatten", x, -3, [1, 2])
    y = r.f(1, 3, 1, 2)
    check_method("squeeze", y)
    check_method("squeeze", y, 0)
    check_method("squeeze", y, 1)
    check_method("squeeze", y, (0, -2))
    check_method("squeeze", r.f(), 0)
    check_method("unsqueeze", x, -1)
    check_method("unsqueeze", x, 0)
    check_method("unsqueeze", r.f(), 0)
    check_method("expand", r.f(3, 1), 2, 3, 5)
    check_method("expand", r.f(3, 1), (-1, 4))
    check_method("expand_as", r.f(1, 4), r.f(3, 4))
    check_method("repeat", x, 2, 1, 1)
    check_method("repeat", r.f(3), (2, 2))
    check_method("repeat", x, 1, 2, 1, 3)
    check_method("contiguous", x)


def test_t_split_chunk():
    r = R()
    x = r.f(7, 4, noncontig=True)
    check_method("split", x, 3)
    check_method("split", x, [2, 5])
    check_method("split", x, 2, 1)
    check_method("split", x, 4, dim=-1)
    check_method("split", r.f(0, 3), 2)
    check_method("chunk", x, 3)
    check_method("chunk", x, 2, dim=1)
    check_method("chunk", r.f(5, 2), 4)
    check_method("chunk", r.f(6, 2), 4)


def test_t_conversions():
    r = R()
    x = r.f(3, 4, low=-300, high=300, noncontig=True)
    for name in ("float", "half", "bfloat16", "long", "int", "bool"):
        check_method(name, x)
    check_method("to", x, np.dtype(np.float64))
    check_method("to", x, dtype=BF16)
    check_method("to", x, r.i(2))
    check_method("to", x, "cpu")
    check_method("to", x, "cpu", np.dtype(np.int64))
    check_method("type_as", x, r.i(1))
    check_method("type_as", r.i(3), r.f(1, dtype="bfloat16"))
    check_method("float", r.f(3, dtype="bfloat16"))


GETITEM_KEYS = [
    1,
    -1,
    slice(1, None),
    slice(None, None, 2),
    slice(-3, -1),
    slice(10, 20),
    (slice(None), 2),
    (Ellipsis, 1),
    (None, 0),
    (1, None, slice(None), None),
    (Ellipsis, None),
    (0, Ellipsis, slice(1, 3)),
    True,
    False,
    (slice(None), True),
    [0, 2],
    [[0, 1], [2, 3]],
    [True, False, True, False],
    ([0, 1], slice(None), [1, 2]),
    (0, slice(None), [1, 2]),  # torch: the int selects first (NumPy would move the index dim to the front)
    (slice(None), [0, 2], [1, 3]),
    ([0, 1], [0, 1], [0, 1]),
    (Ellipsis, [3, 0]),
    (None, [1, 2], None),
]


@pytest.mark.filterwarnings(
    "ignore:Using a non-tuple sequence"
)  # ember warns like torch for [[0, 1], [2, 3]]
@pytest.mark.parametrize("key", GETITEM_KEYS, ids=[repr(k) for k in GETITEM_KEYS])
def test_t_getitem(key):
    x = R().f(4, 5, 6, noncontig=True)
    check_method("__getitem__", x, key)


def test_t_getitem_tensor_keys():
    r = R()
    x = r.f(4, 5, 6)
    check_method("__getitem__", x, r.i(3, low=0, high=4))
    check_method("__getitem__", x, r.i(2, 3, low=-4, high=4))
    check_method("__getitem__", x, (slice(None), r.i(2, 2, low=0, high=5), 1))
    check_method("__getitem__", x, (0, r.i(3, low=0, high=5), r.i(3, low=0, high=6)))
    check_method("__getitem__", x, r.b(4, 5))
    check_method("__getitem__", x, (r.b(4), Ellipsis, r.i(1, low=0, high=6)))
    check_method("__getitem__", x, (slice(None), r.b(5), slice(1, 4)))
    check_method("__getitem__", x, np.array(2))
    check_method("__getitem__", x, (np.array(1), slice(None), np.array(True)))
    check_method("__getitem__", x, r.i(3, low=0, high=4, dtype="int32"))
    check_method("__getitem__", r.f(), None)
    check_method("__getitem__", r.f(), Ellipsis)
    check_method("__getitem__", r.b(3, 4), (slice(None), [0, 0, 3]))
    with pytest.raises(IndexError):
        KERNELS["T.__getitem__"](x, (0, 0, 0, 0))


# ------------------------------------------------------------------------------------------ T: reductions


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_t_reductions_float(dtype):
    r = R()
    x = r.f(3, 4, 5, dtype=dtype, low=-5, high=5, noncontig=True)
    for name in ("mean", "sum", "amax", "amin", "var", "std"):
        check_method(name, x)
        check_method(name, x, 1)
        check_method(name, x, (0, 2), True)
        check_method(name, x, dim=[-1], keepdim=False)
        check_method(name, r.f(dtype=dtype))
    check_method("mean", x, dtype=np.dtype(np.float64))
    check_method("mean", r.f(0, 3, dtype=dtype), 0)
    check_method("sum", r.f(0, 3, dtype=dtype), 0)
    check_method("sum", x, 2, dtype=np.dtype(np.float64))
    check_method("var", x, 1, correction=0)
    check_method("var", x, 1, unbiased=False, keepdim=True)
    check_method("std", x, (0, 1), correction=2)
    check_method("var", r.f(1, 3, dtype=dtype), 0)
    check_method("max", x)
    check_method("max", x, 1)
    check_method("max", x, -1, True)
    check_method("max", x, r.f(5, dtype=dtype))
    check_method("max", r.f(dtype=dtype), 0)


def test_t_reductions_int_bool_nan():
    r = R()
    xi, xb = r.i(3, 4), r.b(3, 4)
    check_method("sum", xi, 1)
    check_method("sum", xb)
    check_method("sum", r.i(3, 4, dtype="int32"), 0, True)
    check_method("sum", xi, 0, dtype=np.dtype(np.float32))
    check_method("mean", xi, dtype=np.dtype(np.float32))
    check_method("amax", xi, 0)
    check_method("max", xi, 1)
    check_method("max", np.array([[1, 3, 3, 0]]), 1)  # ties: the first index
    xn = np.array([[1.0, NAN, 3.0], [INF, -INF, 0.0]], dtype=np.float32)
    for name in ("sum", "mean", "amax", "amin", "max"):
        check_method(name, xn, 1)


# ------------------------------------------------------------------------------------------ E


def test_e_factories():
    r = R()
    check("E.arange", ember.arange, 5)
    check("E.arange", ember.arange, 1, 10, 3)
    check("E.arange", ember.arange, 10, 1, -2)
    check("E.arange", ember.arange, 0.0, 1.0, 0.1)
    check("E.arange", ember.arange, -1, 2.5, 0.25)
    check("E.arange", ember.arange, 7, dtype=np.dtype(np.float32))
    check("E.arange", ember.arange, 0, 5.5, 2, dtype=np.dtype(np.int64))
    check("E.arange", ember.arange, -3.5, 5, 1.5, dtype=np.dtype(np.int32))
    check("E.arange", ember.arange, 2, 3000, 0.7, dtype=np.dtype(np.float64))
    check("E.arange", ember.arange, 0, 9, dtype=BF16)
    check("E.arange", ember.arange, np.array(6))
    for fn in ("zeros", "ones"):
        check(f"E.{fn}", getattr(ember, fn), 2, 3)
        check(f"E.{fn}", getattr(ember, fn), (2, 3), dtype=np.dtype(np.int64))
        check(f"E.{fn}", getattr(ember, fn), [4], dtype=BF16)
        check(f"E.{fn}", getattr(ember, fn), ())
        np.testing.assert_array_equal(KERNELS[f"E.{fn}"](size=(2, 3)), getattr(np, fn)((2, 3), np.float32))
        check(f"E.{fn}_like", getattr(ember, f"{fn}_like"), r.f(2, 3, noncontig=True))
        check(f"E.{fn}_like", getattr(ember, f"{fn}_like"), r.f(2, 3), dtype=np.dtype(np.bool_))
    check("E.full", ember.full, (2, 3), 1.5)
    check("E.full", ember.full, [2], 7)
    check("E.full", ember.full, (2, 2), True)
    check("E.full", ember.full, (3,), -INF, dtype=BF16)
    check("E.full", ember.full, (2,), np.array(2.5, dtype=np.float32))
    check("E.full_like", ember.full_like, r.i(2, 3), 2.7)
    check("E.full_like", ember.full_like, r.f(2, 3), 3, dtype=np.dtype(np.float64))
    check("E.tril", ember.tril, r.f(4, 5, noncontig=True))
    check("E.tril", ember.tril, r.f(2, 4, 5), diagonal=-1)
    check("E.triu", ember.triu, r.i(4, 5), 2)
    check("E.triu", ember.triu, r.b(3, 3))


def test_e_joins_where():
    r = R()
    check("E.cat", ember.cat, [r.f(2, 3), r.f(1, 3, noncontig=True)])
    check("E.cat", ember.cat, [r.f(2, 3), r.i(2, 2)], 1)
    check("E.cat", ember.cat, (r.f(2, 3, dtype="bfloat16"), r.f(2, 3, dtype="float64")), dim=-1)
    check("E.cat", ember.cat, [np.zeros(0, dtype=np.float32), r.f(2, 3)], dim=1)
    check("E.cat", ember.cat, [r.f(3)])
    check("E.stack", ember.stack, [r.f(2, 3), r.f(2, 3, noncontig=True)])
    check("E.stack", ember.stack, [r.f(2, 3), r.i(2, 3)], -1)
    check("E.stack", ember.stack, (r.f(2), r.f(2)), dim=1)
    c = r.b(3, 4)
    check("E.where", ember.where, c, r.f(3, 4), r.f(4))
    check("E.where", ember.where, c, r.f(3, 4, noncontig=True), 0.0)
    check("E.where", ember.where, c, 1.0, r.f(3, 4, dtype="float64"))
    check("E.where", ember.where, c, r.i(3, 4), 0.5)
    check("E.where", ember.where, c, r.i(3, 4), r.f(1, dtype="bfloat16"))
    check("E.where", ember.where, c, 1, 0)
    check("E.where", ember.where, r.b(3, 1), r.f(3, 4, dtype="bfloat16"), -INF)
    check("E.where", ember.where, r.i(4, low=0, high=2, dtype="uint8"), r.f(4), r.f(4))
    check("E.where", ember.where, c)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_e_products(dtype):
    r = R()

    def f(*s, **k):
        return r.f(*s, dtype=dtype, **k)

    check("E.bmm", ember.bmm, f(3, 2, 4, noncontig=True), f(3, 4, 5))
    check("E.addmm", ember.addmm, f(5), f(3, 4), f(4, 5, noncontig=True))
    check("E.addmm", ember.addmm, f(3, 5), f(3, 4), f(4, 5), beta=0.5, alpha=2.0)
    nan_in = f(3, 5)
    nan_in[0, 0] = NAN
    check("E.addmm", ember.addmm, nan_in, f(3, 4), f(4, 5), beta=0)
    check("E.baddbmm", ember.baddbmm, f(2, 3, 5), f(2, 3, 4), f(2, 4, 5))
    check("E.baddbmm", ember.baddbmm, f(1, 5), f(2, 3, 4), f(2, 4, 5), beta=2, alpha=0.5)
    check("E.einsum", ember.einsum, "ij,jk->ik", f(3, 4), f(4, 5, noncontig=True))
    check("E.einsum", ember.einsum, "bhqd,bhkd->bhqk", f(2, 3, 4, 5), f(2, 3, 6, 5))
    check("E.einsum", ember.einsum, "...ij,...jk", f(2, 3, 4), f(1, 4, 5))
    check("E.einsum", ember.einsum, "ii->i", f(4, 4))
    check("E.einsum", ember.einsum, "i,j->ij", [f(3), f(4)])
    check("E.einsum", ember.einsum, "bij,bjk,bkl->bil", f(2, 3, 4), f(2, 4, 5), f(2, 5, 2))
    check("E.einsum", ember.einsum, "ij->", f(3, 4))
    check("E.einsum", ember.einsum, f(3, 4), [0, 1], f(4, 5), [1, 2], [0, 2])


# ------------------------------------------------------------------------------------------ interpreter


def _v(name):
    return {"$v": name}


def _s(name):
    return {"$s": name}


def _node(op, args, outputs, kwargs=None, scope=""):
    return {"op": op, "args": args, "kwargs": kwargs or {}, "outputs": outputs, "scope": scope}


MLP = {
    "format": 1,
    "inputs": [{"name": "x", "value": "v0", "dtype": "float32", "shape": ["batch", 6]}],
    "outputs": [{"name": "output", "value": "v4"}, {"name": "hidden", "value": "v3"}],
    "params": [
        {"value": "p0", "key": "0.weight", "dtype": "float32", "shape": [4, 6]},
        {"value": "p1", "key": "0.bias", "dtype": "float32", "shape": [4]},
    ],
    "nodes": [
        _node("F.linear", [_v("v0"), _v("p0"), _v("p1")], ["v1"], scope="0"),
        _node("sym.size", [_v("v1"), 0], ["s0"]),
        _node("sym.size", [_v("v1"), -1], ["s1"]),
        _node("sym.floordiv", [_s("s1"), 2], ["s2"]),
        _node("T.view", [_v("v1"), _s("s0"), _s("s2"), 2], ["v2"]),
        _node("F.gelu", [_v("v2")], ["v3"], {"approximate": "tanh"}, scope="1"),
        _node("T.sum", [_v("v3")], ["v4"], {"dim": {"$tuple": [1, 2]}, "keepdim": False}),
    ],
}


def _mlp_reference(x, w, b):
    h = x @ w.T + b
    h = h.reshape(x.shape[0], 2, 2)
    g = ember.nn.functional.gelu(ember.tensor(h), approximate="tanh")._data
    return g.sum((1, 2)), g


@pytest.mark.parametrize("batch", [1, 3, 0])
def test_run_graph_mlp_dynamic_batch(batch):
    r = R()
    w, b = r.f(4, 6), r.f(4)
    x = r.f(batch, 6)
    out, hidden = run_graph(MLP, {"p0": w, "p1": b, "unused": r.f(2)}, [x])
    ref_out, ref_hidden = _mlp_reference(x, w, b)
    assert out.shape == (batch,) and hidden.shape == (batch, 2, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out, ref_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hidden, ref_hidden, rtol=1e-5, atol=1e-6)


def test_run_graph_multi_output_and_null_outputs():
    graph = {
        "format": 1,
        "inputs": [{"name": "x", "value": "v0", "dtype": "float64", "shape": [6, "n"]}],
        "outputs": [{"name": "y", "value": "v5"}, {"name": "idx", "value": "v7"}],
        "params": [],
        "nodes": [
            _node("T.split", [_v("v0"), 2], ["v1", None, "v3"]),
            _node("op.Add", [_v("v1"), _v("v3")], ["v4"], {"alpha": 2}),
            _node("op.Mul", [_v("v4"), {"$f": "inf"}], ["v5"]),
            _node("T.max", [_v("v0"), 0], [None, "v7"]),
        ],
    }
    x = R().f(6, 3, dtype="float64")
    y, idx = run_graph(graph, {}, [x])
    np.testing.assert_array_equal(y, (x[0:2] + 2 * x[4:6]) * INF)
    np.testing.assert_array_equal(idx, np.argmax(x, 0))
    assert idx.dtype == np.int64
    bad = json.loads(json.dumps(graph))
    bad["nodes"][0]["outputs"] = ["v1", "v3"]
    with pytest.raises(RuntimeError, match="returned 3 values where the graph expects 2"):
        run_graph(bad, {}, [x])


def test_run_graph_input_validation():
    r = R()
    params = {"p0": r.f(4, 6), "p1": r.f(4)}
    with pytest.raises(
        ValueError, match=r"input 'x' expects float32 of shape \[batch, 6\], got float64 of shape"
    ):
        run_graph(MLP, params, [r.f(2, 6, dtype="float64")])
    with pytest.raises(ValueError, match=r"input 'x' expects .* got float32 of shape \[2, 5\]"):
        run_graph(MLP, params, [r.f(2, 5)])
    with pytest.raises(ValueError, match=r"got float32 of shape \[2, 6, 1\]"):
        run_graph(MLP, params, [r.f(2, 6, 1)])
    with pytest.raises(ValueError, match=r"takes 1 inputs \(x\), got 2"):
        run_graph(MLP, params, [r.f(2, 6), r.f(2, 6)])
    with pytest.raises(ValueError, match="missing parameter 'p1'"):
        run_graph(MLP, {"p0": params["p0"]}, [r.f(2, 6)])
    with pytest.raises(ValueError, match=r"parameter 'p0' \(0.weight\) expects float32 of shape \[4, 6\]"):
        run_graph(MLP, {"p0": r.f(4, 5), "p1": params["p1"]}, [r.f(2, 6)])
    bf = dict(MLP, inputs=[{"name": "x", "value": "v0", "dtype": "bfloat16", "shape": [2, 6]}])
    with pytest.raises(ValueError, match="expects bfloat16 of shape \\[2, 6\\], got float32"):
        run_graph(bf, params, [r.f(2, 6)])


def test_run_graph_unknown_op():
    graph = {
        "format": 1,
        "inputs": [{"name": "x", "value": "v0", "dtype": "float32", "shape": [2]}],
        "outputs": [{"name": "y", "value": "v1"}],
        "params": [],
        "nodes": [_node("F.frobnicate", [_v("v0")], ["v1"], scope="encoder.layers.0")],
    }
    with pytest.raises(NotImplementedError) as e:
        run_graph(graph, {}, [np.zeros(2, dtype=np.float32)])
    assert (
        str(e.value) == "ember_runtime: no kernel for op 'F.frobnicate' (called at module 'encoder.layers.0')"
    )


def test_run_graph_kernel_error_names_op_and_scope():
    graph = {
        "format": 1,
        "inputs": [{"name": "x", "value": "v0", "dtype": "float32", "shape": ["n"]}],
        "outputs": [{"name": "y", "value": "v1"}],
        "params": [],
        "nodes": [_node("T.view", [_v("v0"), 2, 3], ["v1"], scope="head")],
    }
    with pytest.raises(RuntimeError, match="invalid for input of size 5") as e:
        run_graph(graph, {}, [np.zeros(5, dtype=np.float32)])
    assert any("op 'T.view' (called at module 'head')" in n for n in e.value.__notes__)


def test_run_graph_outputs_never_alias_inputs_or_params():
    graph = {
        "format": 1,
        "inputs": [{"name": "x", "value": "v0", "dtype": "int64", "shape": [3]}],
        "outputs": [
            {"name": "a", "value": "v0"},
            {"name": "b", "value": "v1"},
            {"name": "c", "value": "p0"},
            {"name": "d", "value": "v2"},
        ],
        "params": [{"value": "p0", "key": "c", "dtype": "int64", "shape": [2, 3]}],
        "nodes": [
            _node("T.__getitem__", [_v("p0"), {"$tuple": [{"$slice": [None, None, None]}, 1]}], ["v1"]),
            _node("T.expand", [_v("v0"), 2, -1], ["v2"]),
        ],
    }
    x, p = np.arange(3), np.arange(6).reshape(2, 3)
    a, b, c, d = run_graph(graph, {"p0": p}, [x])
    for o in (a, b, c, d):
        assert o.flags.writeable
        assert not np.may_share_memory(o, x) and not np.may_share_memory(o, p)
    np.testing.assert_array_equal(b, [1, 4])
    np.testing.assert_array_equal(d, [[0, 1, 2], [0, 1, 2]])


def test_decode():
    env = {"v1": np.zeros(2), "s0": 5}
    enc = [
        _v("v1"),
        _s("s0"),
        {"$tuple": [1, _s("s0"), {"$tuple": []}]},
        {"$slice": [None, _s("s0"), 2]},
        {"$ellipsis": True},
        {"$dtype": "bfloat16"},
        {"$dtype": "bool"},
        {"$f": "-inf"},
        [1, [2.5, None, "x", True]],
    ]
    out = decode(enc, env)
    assert out[0] is env["v1"]
    assert out[1:] == [
        5,
        (1, 5, ()),
        slice(None, 5, 2),
        Ellipsis,
        BF16,
        np.dtype(np.bool_),
        -INF,
        [1, [2.5, None, "x", True]],
    ]
    assert np.isnan(decode({"$f": "nan"}, env))
    with pytest.raises(ValueError, match="'v9' is used before it is defined"):
        decode(_v("v9"), env)
    with pytest.raises(ValueError, match="unknown dtype"):
        decode({"$dtype": "float8"}, env)
    with pytest.raises(ValueError, match="unknown encoded value"):
        decode({"$weird": 1}, env)


# the op names of the export format's v1 list (ember/export/FORMAT.md); T.size is never emitted (sym.size is)
V1_OPS = {
    "F": "linear conv1d conv2d conv3d conv_transpose1d conv_transpose2d max_pool1d max_pool2d avg_pool1d avg_pool2d "
    "adaptive_avg_pool1d adaptive_avg_pool2d layer_norm group_norm batch_norm rms_norm embedding "
    "scaled_dot_product_attention softmax log_softmax pad dropout gelu relu silu sigmoid tanh leaky_relu elu "
    "softplus hardtanh mish normalize",
    "T": "view reshape flatten unflatten squeeze unsqueeze expand expand_as repeat split chunk __getitem__ mean sum "
    "amax amin max var std masked_fill type_as to float half bfloat16 long int bool contiguous",
    "E": "arange cat stack zeros ones full zeros_like ones_like full_like tril triu where matmul bmm einsum baddbmm "
    "addmm",
    "op": "Add Sub Mul Div Pow Neg Abs Exp Log Sqrt Rsqrt Sin Cos Tanh Sigmoid Erf Reciprocal Floor Ceil Round Sign "
    "Clamp Maximum Minimum Where Eq Ne Lt Le Gt Ge LogicalAnd LogicalOr LogicalNot Relu Gelu Silu Softmax "
    "LogSoftmax Matmul Transpose Permute Contiguous Clone ToCopy Expand Unsqueeze Squeeze Cat Sum Amax Tril "
    "MaskedFill",
}


def test_every_v1_op_has_a_kernel():
    names = [f"{ns}.{n}" for ns, ops in V1_OPS.items() for n in ops.split()]
    assert len(names) == 132
    assert [n for n in names if n not in KERNELS] == []
    assert all(callable(KERNELS[n]) for n in names)


class _Mixed(ember.nn.Module):
    """Many traced ops in one model, with shapes that follow the dynamic axes."""

    def __init__(self):
        super().__init__()
        nn = ember.nn
        self.emb = nn.Embedding(10, 8, padding_idx=0)
        self.gn = nn.GroupNorm(2, 8)
        self.ct = nn.ConvTranspose1d(8, 4, 3, stride=2, padding=1, output_padding=1)
        self.c1 = nn.Conv1d(4, 4, 3, padding=1)
        self.attn = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)

    def forward(self, tok, mask):
        h = self.attn(self.emb(tok))  # (B, T, 8)
        B, T, C = h.shape
        h = self.gn(h.transpose(1, 2))
        h = F.avg_pool1d(self.c1(self.ct(h)), 2)  # (B, 4, T)
        h = F.adaptive_avg_pool1d(F.pad(h, (1, 1), mode="replicate"), 3)
        s = h.sum(-1, keepdim=True).expand(B, 4, T).masked_fill(~mask[:, None, :], float("-inf"))
        s = F.log_softmax(s, -1)
        z = ember.arange(T).float() / T
        a, b = s.chunk(2, dim=1)
        return (
            F.normalize(s[:, :, : T // 2].exp(), dim=-1),
            ember.where(mask, z, ember.zeros_like(z)),
            a.max(-1)[0] + b.amax(-1),
            F.silu(h).var(-1),
            ember.cat([a, b], 1)[..., 0],
        )


def test_run_graph_on_traced_models():
    from ember.export import trace

    r = R()
    model = _Mixed().eval()
    mask = np.ones((2, 6), dtype=bool)
    prog = trace(
        model,
        (ember.tensor(r.i(2, 6, low=0, high=10)), ember.tensor(mask)),
        dynamic_axes={"tok": {0: "b", 1: "t"}, "mask": {0: "b", 1: "t"}},
    )
    params = {k: v._data for k, v in prog.params.items()}
    for b, t in ((3, 8), (1, 5)):
        tok, mask = r.i(b, t, low=0, high=10), r.b(b, t, p=0.7)
        mask[:, 0] = True
        got = run_graph(prog.graph, params, [tok, mask])
        with ember.no_grad():
            want = model(ember.tensor(tok), ember.tensor(mask))
        compare(tuple(got), want)


def test_kernels_accept_the_signatures_of_ember_traceable_functions():
    """Every function the tracer records by name has a kernel taking its parameters (same names, same
    positional order), so the args/kwargs recorded from any call bind the same way."""
    import inspect

    from ember._trace_hooks import REGISTRY

    assert REGISTRY and set(REGISTRY) <= set(KERNELS)
    for name, fn in REGISTRY.items():
        theirs = list(inspect.signature(fn).parameters.values())
        mine = inspect.signature(KERNELS[name]).parameters
        skip = 1 if name.startswith("T.") else 0  # self is always args[0]
        for p in theirs[skip:]:
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                assert p.name in mine, f"{name}: no parameter {p.name!r}"
        pos = [p.name for p in theirs[skip:] if p.kind == p.POSITIONAL_OR_KEYWORD]
        my_pos = [n for n, p in list(mine.items())[skip:] if p.kind == p.POSITIONAL_OR_KEYWORD]
        if not any(p.kind == p.VAR_POSITIONAL for p in theirs):
            assert my_pos[: len(pos)] == pos, f"{name}: positional {my_pos} != ember's {pos}"


_NO_EMBER = r"""
import sys
sys.modules["ember"] = None
sys.modules["torch"] = None
sys.modules["scipy"] = None
try:
    import ember
except ImportError:
    pass
else:
    raise SystemExit("importing ember should fail here")
import numpy as np
import ember_runtime.interpreter, ember_runtime.kernels
from ember_runtime.interpreter import run_graph
g = {"format": 1, "inputs": [{"name": "x", "value": "v0", "dtype": "float32", "shape": ["n", 3]}],
     "outputs": [{"name": "y", "value": "v2"}], "params": [{"value": "p0", "key": "w", "dtype": "float32",
     "shape": [2, 3]}], "nodes": [{"op": "F.linear", "args": [{"$v": "v0"}, {"$v": "p0"}], "kwargs": {},
     "outputs": ["v1"], "scope": ""}, {"op": "F.softmax", "args": [{"$v": "v1"}], "kwargs": {"dim": -1},
     "outputs": ["v2"], "scope": ""}]}
y = run_graph(g, {"p0": np.ones((2, 3), np.float32)}, [np.ones((4, 3), np.float32)])[0]
assert y.shape == (4, 2) and np.allclose(y, 0.5), y
bad = [m for m in sys.modules if m.split(".")[0] in ("ember", "torch", "scipy") and sys.modules[m] is not None]
assert not bad, bad
print("ok")
"""


def test_runtime_imports_without_ember_torch_scipy():
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    res = subprocess.run(
        [sys.executable, "-c", _NO_EMBER], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
