"""Comparison, logical and bitwise ops, isclose/allclose/equal against torch: bool results, mixed-dtype
promotion, NaN, broadcasting, refusals (float bitwise, Python numbers where torch takes tensors), operators
and in-place variants."""

import math

import pytest
import torch

import ember
from tests.helpers import Spec, bools, ints, parity, raises_like, rand, vals

NAN, INF = math.nan, math.inf
DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"]

COMPARE = ["eq", "ne", "lt", "le", "gt", "ge", "not_equal", "less", "less_equal", "greater", "greater_equal"]
LOGICAL = ["logical_and", "logical_or", "logical_xor"]
BITWISE = ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"]


def check(fn, *specs, **kw):
    """parity where torch computes a result; where torch raises, ember must raise the same exception type."""
    t_inputs = [s.build(torch)[1] if isinstance(s, Spec) else s for s in specs]
    try:
        fn(torch, *t_inputs)
    except Exception:
        return raises_like(fn, *specs)
    return parity(fn, *specs, **kw)


def fn_of(name):
    return lambda t, x, y: getattr(t, name)(x, y)


def operands(name, dtype, sa=(3, 4), sb=(4,)):
    if dtype == "bool":
        return bools(*sa), bools(*sb)
    if "int" in dtype:
        lo = 0 if dtype == "uint8" else -3
        if "shift" in name:
            return ints(*sa, low=lo, high=20, dtype=dtype), ints(*sb, low=0, high=5, dtype=dtype)
        return ints(*sa, low=lo, high=4, dtype=dtype), ints(*sb, low=lo, high=4, dtype=dtype)
    # values on a coarse grid so that ties occur
    a, b = rand(*sa, dtype=dtype, kinks=[0.5, 0.0]), rand(*sb, dtype=dtype, kinks=[0.5, 0.0])
    return a, b


# ------------------------------------------------------------------------------------------------ dtype tables


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", COMPARE + LOGICAL + BITWISE)
def test_binary_predicates_dtypes(name, dtype):
    out = check(fn_of(name), *operands(name, dtype))
    if isinstance(out, ember.Tensor):
        assert not out.requires_grad  # comparisons never carry gradients


MIXED = [
    ("f32+f64", lambda: (rand(3, 4), rand(4, dtype="float64"))),
    ("f16+0d f64", lambda: (rand(3, 4, dtype="float16"), rand(dtype="float64"))),
    ("bf16+f16", lambda: (rand(3, 4, dtype="bfloat16"), rand(4, dtype="float16"))),
    ("int+f32", lambda: (ints(3, 4), rand(4))),
    ("f32+int", lambda: (rand(3, 4), ints(4))),
    ("uint8+int8", lambda: (ints(3, 4, low=0, dtype="uint8"), ints(4, low=-3, high=4, dtype="int8"))),
    ("int32+0d int64", lambda: (ints(3, 4, dtype="int32"), ints(dtype="int64", low=0, high=3))),
    ("bool+int", lambda: (bools(3, 4), ints(4, low=0, high=3))),
    ("int+bool", lambda: (ints(3, 4, low=0), bools(4))),
    ("f32+bool", lambda: (rand(3, 4), bools(4))),
    ("f16+scalar", lambda: (rand(3, 4, dtype="float16"), 0.5)),
    ("int+float scalar", lambda: (ints(3, 4), 1.5)),
    ("int+int scalar", lambda: (ints(3, 4), 1)),
    ("bool+bool scalar", lambda: (bools(3, 4), True)),
    ("bool+int scalar", lambda: (bools(3, 4), 1)),
    ("scalar+f32", lambda: (0.5, rand(3, 4))),
    ("int scalar+int", lambda: (3, ints(3, 4, low=0))),
]


@pytest.mark.parametrize("case", [m[0] for m in MIXED])
@pytest.mark.parametrize("name", COMPARE + LOGICAL + BITWISE)
def test_binary_predicates_mixed(name, case):
    """Mixed dtypes compare in the promoted dtype; Python numbers are accepted exactly where torch takes them."""
    check(fn_of(name), *dict(MIXED)[case]())


@pytest.mark.parametrize(
    "sa,sb",
    [((), ()), ((0,), (0,)), ((5,), (5,)), ((3, 1), (4,)), ((2, 0), (1,)), ((), (2, 3)), ((2, 3), (3, 2))],
)
@pytest.mark.parametrize("name", COMPARE + LOGICAL)
def test_binary_predicates_shapes(name, sa, sb):
    check(fn_of(name), rand(*sa), rand(*sb))
    check(fn_of(name), ints(*sa), ints(*sb))


@pytest.mark.parametrize("name", COMPARE + LOGICAL + BITWISE)
def test_binary_predicates_noncontig_and_method(name):
    a, b = operands(name, "int64", (4, 3), (4, 3))
    check(lambda t, x, y: getattr(t, name)(x.t(), y.t()), a, b)
    check(lambda t, x, y: getattr(t, name)(x.t(), y), a, ints(3, 4, low=0, high=3))
    check(lambda t, x, y: getattr(x, name)(y), a, b)
    check(fn_of(name), rand(3, 4, noncontig=True), rand(3, 4, noncontig=True))


@pytest.mark.parametrize("name", COMPARE + LOGICAL)
def test_nan_inf_signed_zero(name):
    a = [NAN, 1.0, NAN, INF, -INF, 0.0, -0.0, INF, 1.0]
    b = [NAN, NAN, 1.0, INF, INF, -0.0, 0.0, -INF, 1.0]
    for dtype in ["float32", "float64", "float16", "bfloat16"]:
        check(fn_of(name), vals(a, dtype=dtype), vals(b, dtype=dtype))


# ------------------------------------------------------------------------------------------------ unary logical / bitwise


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["logical_not", "bitwise_not"])
def test_unary_logical_bitwise(name, dtype):
    spec = operands(name, dtype)[0]
    check(lambda t, x: getattr(t, name)(x), spec)
    check(lambda t, x: getattr(x, name)(), spec)


def test_logical_not_nan_and_shapes():
    check(lambda t, x: t.logical_not(x), vals([NAN, 0.0, -0.0, INF, 1.0]))
    check(lambda t, x: t.logical_not(x), rand(0))
    check(lambda t, x: t.logical_not(x), rand())
    check(lambda t, x: t.bitwise_not(x), ints(4, 3, dtype="int8"))


# ------------------------------------------------------------------------------------------------ bitwise details


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8"])
@pytest.mark.parametrize("op", ["bitwise_left_shift", "bitwise_right_shift"])
def test_shifts(op, dtype):
    lo = 0 if dtype == "uint8" else -20
    check(fn_of(op), ints(3, 4, low=lo, high=20, dtype=dtype), ints(4, low=0, high=5, dtype=dtype))
    check(lambda t, x: getattr(t, op)(x, 2), ints(3, 4, low=lo, high=20, dtype=dtype))
    check(lambda t, x: getattr(t, op)(2, x), ints(3, 4, low=0, high=5, dtype=dtype))


def test_shift_amounts_out_of_range():
    x = vals([1, 2, -3, -1, 0], dtype="int64")
    check(lambda t, a: t.bitwise_right_shift(a, 70), x)
    check(lambda t, a: t.bitwise_left_shift(a, 64), x)
    check(lambda t, a: t.bitwise_left_shift(a, 63), x)
    check(lambda t, a: t.bitwise_left_shift(a, -1), x)
    check(lambda t, a: t.bitwise_right_shift(a, -1), x)


def test_bitwise_refusals():
    check(lambda t, x, y: t.bitwise_and(x, y), rand(3), rand(3))  # float: no kernel
    check(lambda t, x: t.bitwise_or(x, 1), rand(3))
    check(lambda t, x: t.bitwise_xor(x, 1.5), ints(3))  # float Python number
    check(lambda t, x, y: t.bitwise_and(x, y), ints(3), rand(3))
    check(lambda t, x, y: t.bitwise_left_shift(x, y), bools(3), bools(3))  # shifts: no bool kernel
    check(lambda t, x: t.bitwise_not(x), rand(3, dtype="bfloat16"))
    check(lambda t, x, y: t.bitwise_and(x, y), ints(3), ints(4))  # shape mismatch


def test_bitwise_out_of_range_scalar():
    check(lambda t, x: t.bitwise_and(x, -1), vals([0, 5, 200], dtype="uint8"))


def test_compare_out_of_range_scalar():
    check(lambda t, x: x < -1, vals([0, 5, 200], dtype="uint8"))


# ------------------------------------------------------------------------------------------------ isclose / allclose / equal


CLOSE_A = [1.0, NAN, INF, -INF, 1.0, 1.0, 0.0, 1e-9, INF, 100.0]
CLOSE_B = [1.0 + 1e-6, NAN, INF, INF, 1.3, 1.05, 1e-9, 0.0, NAN, 100.001]


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"rtol": 0.1},
        {"atol": 0.5},
        {"equal_nan": True},
        {"rtol": 0, "atol": 0},
        {"rtol": 0, "atol": 1e-8},
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_isclose_allclose(kw, dtype):
    check(lambda t, x, y: t.isclose(x, y, **kw), vals(CLOSE_A, dtype=dtype), vals(CLOSE_B, dtype=dtype))
    check(
        lambda t, x, y: t.allclose(x, y, **kw), vals(CLOSE_A[:3], dtype=dtype), vals(CLOSE_B[:3], dtype=dtype)
    )
    check(lambda t, x, y: x.isclose(y, **kw), rand(3, 1, dtype=dtype), rand(4, dtype=dtype))
    check(lambda t, x, y: x.allclose(y, **kw), rand(3, 4, dtype=dtype), rand(3, 4, dtype=dtype))


def test_isclose_dtypes_and_errors():
    check(lambda t, x, y: t.isclose(x, y), ints(5), ints(5))
    check(lambda t, x, y: t.isclose(x, y, atol=1), ints(5), ints(5))
    check(lambda t, x, y: t.isclose(x, y), bools(5), bools(5))
    check(lambda t, x, y: t.isclose(x, y), rand(5), rand(5, dtype="float64"))  # dtype mismatch
    check(lambda t, x, y: t.allclose(x, y), rand(5), rand(5, dtype="float64"))
    check(lambda t, x, y: t.isclose(x, y), ints(5, dtype="int32"), ints(5))
    check(lambda t, x: t.isclose(x, 1.0), rand(5))  # Python number: TypeError
    check(lambda t, x: t.isclose(1.0, x), rand(5))
    check(lambda t, x, y: t.isclose(x, y, rtol=-1), rand(3), rand(3))
    check(lambda t, x, y: t.isclose(x, y, atol=-1e-3), rand(3), rand(3))
    check(lambda t, x, y: t.isclose(x, y), rand(3), rand(4))
    check(lambda t, x, y: t.isclose(x, y), rand(0), rand(0))
    check(lambda t, x, y: t.allclose(x, y), rand(0), rand(0))


@pytest.mark.parametrize(
    "a,b",
    [
        (vals([1.0, 2.0]), vals([1.0, 2.0])),
        (vals([1.0, NAN]), vals([1.0, NAN])),
        (vals([1.0, 2.0]), vals([[1.0, 2.0]])),
        (vals([1.0, 2.0]), vals([1, 2], dtype="int64")),
        (vals([1.0, 2.0]), vals([1.0, 2.0], dtype="float64")),
        (rand(0), rand(0)),
        (vals([1.0, 1.0]), vals([1.0])),
        (vals([0.0]), vals([-0.0])),
        (bools(3), bools(3)),
        (ints(3, 4), ints(3, 4)),
    ],
)
def test_equal(a, b):
    out = check(lambda t, x, y: t.equal(x, y), a, b)
    assert type(out) is bool
    check(lambda t, x, y: x.equal(y), a, b)
    check(lambda t, x: t.equal(x, x), a)


# ------------------------------------------------------------------------------------------------ operators


CMP_OPS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@pytest.mark.parametrize("op", list(CMP_OPS))
def test_comparison_operators(op):
    f = CMP_OPS[op]
    check(lambda t, x, y: f(x, y), rand(3, 4, kinks=[0.5]), vals([0.5, 0.1, 1.0, -1.0]))
    check(lambda t, x: f(x, 0.5), rand(3, 4, kinks=[0.5]))
    check(lambda t, x: f(0.5, x), rand(3, 4, kinks=[0.5]))  # reflected
    check(lambda t, x: f(x, 1), ints(3, 4))
    check(lambda t, x: f(x, 1.5), ints(3, 4))
    check(lambda t, x, y: f(x, y), ints(3, 4), rand(4))
    check(lambda t, x, y: f(x, y), bools(3, 4), bools(4))


BIT_OPS = {
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
    "<<": lambda a, b: a << b,
    ">>": lambda a, b: a >> b,
}


@pytest.mark.parametrize("op", list(BIT_OPS))
def test_bitwise_operators(op):
    f = BIT_OPS[op]
    check(lambda t, x, y: f(x, y), ints(3, 4, low=0, high=30), ints(4, low=0, high=3))
    check(lambda t, x: f(x, 3), ints(3, 4, low=-10, high=30))
    check(lambda t, x: f(3, x), ints(3, 4, low=0, high=3))  # reflected
    check(lambda t, x, y: f(x, y), bools(3, 4), bools(4))
    check(lambda t, x: f(x, True), bools(3, 4))
    check(lambda t, x, y: f(x, y), rand(3), rand(3))  # float: error
    check(
        lambda t, x, y: f(x, y), ints(3, dtype="uint8", low=0, high=200), ints(3, dtype="int8", low=0, high=3)
    )


def test_invert_operator():
    check(lambda t, x: ~x, ints(3, 4))
    check(lambda t, x: ~x, ints(3, 4, dtype="uint8", low=0, high=255))
    check(lambda t, x: ~x, bools(3, 4))
    check(lambda t, x: t.bitwise_not(x), rand(3))  # float: no kernel


def test_invert_operator_float():
    check(lambda t, x: ~x, rand(3))


def test_eq_with_none_and_hash():
    x = ember.tensor([1.0, 2.0])
    assert (x == None) is False  # noqa: E711
    assert (x != None) is True  # noqa: E711
    assert x in {x}


INPLACE = ["eq_", "ne_", "lt_", "le_", "gt_", "ge_", "logical_and_", "logical_or_", "logical_xor_"]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_compare_methods(name):
    """x.lt_(y) writes the (0/1) result in x's own dtype."""
    check(
        lambda t, x, y: getattr(x, name)(y),
        rand(3, 4, kinks=[0.5], requires_grad=False),
        vals([0.5, 0.1, 1.0, -1.0], requires_grad=False),  # torch would give the float result a grad_fn
    )
    check(lambda t, x, y: getattr(x, name)(y), ints(3, 4), ints(4))
    check(lambda t, x: getattr(x, name)(1) if "logical" not in name else x, ints(3, 4))
    check(
        lambda t, x, y: getattr(x, name)(y), rand(4, requires_grad=False), rand(3, 4)
    )  # can't broadcast self


@pytest.mark.parametrize(
    "name", ["bitwise_and_", "bitwise_or_", "bitwise_xor_", "bitwise_not_", "logical_not_"]
)
def test_inplace_bitwise_methods(name):
    args = () if name.endswith("not_") else (3,)
    check(lambda t, x: getattr(x, name)(*args), ints(3, 4, low=0, high=30))
    check(lambda t, x: getattr(x, name)(*[True for _ in args]), bools(3, 4))
    check(lambda t, x: getattr(x, name)(*args), rand(3, 4, requires_grad=False))


@pytest.mark.parametrize("op", ["&=", "|=", "^="])
def test_inplace_bitwise_operators(op):
    def f(t, x, y):
        if op == "&=":
            x &= y
        elif op == "|=":
            x |= y
        else:
            x ^= y
        return x

    check(f, ints(3, 4, low=0, high=30), ints(4, low=0, high=30))
    check(f, bools(3, 4), bools(4))
    check(f, bools(3, 4), ints(4))  # int result can't be written into bool: error


@pytest.mark.parametrize(
    "name", ["less_", "greater_", "less_equal_", "greater_equal_", "not_equal_", "bitwise_left_shift_"]
)
def test_inplace_compare_aliases(name):
    check(lambda t, x, y: getattr(x, name)(y), ints(3, 4), ints(4, low=0, high=3))


def test_out_argument():
    check(lambda t, x, y: t.lt(x, y, out=t.empty(3, 4, dtype=t.bool)), rand(3, 4), rand(4))
    check(lambda t, x, y: t.eq(x, y, out=t.empty(0, dtype=t.float32)), rand(3, 4), rand(4))
    check(lambda t, x, y: t.logical_and(x, y, out=t.empty(3, dtype=t.int64)), bools(3), bools(3))
