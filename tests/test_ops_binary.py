"""Binary arithmetic against torch: add/sub/mul/div (rounding modes), floor_divide/remainder/fmod sign rules,
pow in every operand form, maximum/minimum/fmax/fmin ties and NaN, atan2/hypot/copysign/logaddexp; type
promotion, broadcasting, integer division by zero, Python operators (incl. reflected/in-place) and methods."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ember
from tests.helpers import (
    Spec,
    bools,
    gradcheck_fn,
    ints,
    parity,
    positive,
    raises_like,
    rand,
    vals,
)

NAN, INF = math.nan, math.inf
FLOATS = ["float32", "float64", "float16", "bfloat16"]
INTS = ["int64", "int32", "uint8", "int8", "bool"]


def check(fn, *specs, **kw):
    """parity where torch computes a result; where torch raises, ember must raise the same exception type."""
    t_inputs = [s.build(torch)[1] if isinstance(s, Spec) else s for s in specs]
    try:
        fn(torch, *t_inputs)
    except Exception:
        return raises_like(fn, *specs)
    return parity(fn, *specs, **kw)


def backward_raises_like(fn, *specs):
    """fn's forward works on both; its backward raises the same exception type (ops torch has no derivative for)."""

    def run(t, *xs):
        out = fn(t, *xs)
        assert out.requires_grad
        out.sum().backward()

    return raises_like(run, *specs)


# name -> whether torch differentiates it (floor_divide has no derivative in torch)
BINARY = [
    "add",
    "sub",
    "mul",
    "div",
    "floor_divide",
    "remainder",
    "fmod",
    "pow",
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "atan2",
    "hypot",
    "copysign",
    "logaddexp",
    "float_power",
    "subtract",
    "multiply",
    "divide",
    "true_divide",
    "arctan2",
    "rsub",
]
NO_GRAD = {"floor_divide"}
# (op, case) pairs whose backward torch itself cannot run: remainder(Number, Tensor) has no derivative, and
# pow/logaddexp with a bool tensor operand fail inside torch's backward formula
TORCH_NO_BACKWARD = {
    ("remainder", "scalar+f32"),
    ("pow", "f32+bool"),
    ("logaddexp", "f32+bool"),
    ("float_power", "f32+bool"),
}


def fn_of(name):
    return lambda t, x, y: getattr(t, name)(x, y)


def operands(name, dtype, sa=(3, 4), sb=(4,)):
    """Random operands in `dtype` suited to `name` (nonzero divisors, positive pow bases)."""
    if dtype == "bool":
        return bools(*sa), bools(*sb)
    if "int" in dtype:
        lo = 0 if dtype == "uint8" else -5
        b = (
            ints(*sb, low=1, high=4, dtype=dtype)
            if name in ("div", "floor_divide", "remainder", "fmod", "pow")
            else None
        )
        return ints(*sa, low=lo, high=6, dtype=dtype), b or ints(*sb, low=lo, high=6, dtype=dtype)
    if name in ("pow", "float_power"):
        return positive(*sa, dtype=dtype, low=0.2, high=2), rand(*sb, dtype=dtype)
    if name in ("div", "floor_divide", "remainder", "fmod", "divide", "true_divide"):
        return rand(*sa, dtype=dtype, low=-3, high=3), positive(*sb, dtype=dtype, low=0.3, high=2)
    return rand(*sa, dtype=dtype), rand(*sb, dtype=dtype)


# ------------------------------------------------------------------------------------------------ parity tables


@pytest.mark.parametrize("dtype", FLOATS + INTS)
@pytest.mark.parametrize("name", BINARY)
def test_binary_dtypes(name, dtype):
    check(fn_of(name), *operands(name, dtype), grad=name not in NO_GRAD)


@pytest.mark.parametrize(
    "sa,sb",
    [((), ()), ((0,), (0,)), ((5,), (5,)), ((3, 1), (4,)), ((2, 0), (1,)), ((3, 4), ()), ((), (2, 3))],
)
@pytest.mark.parametrize("name", BINARY)
def test_binary_shapes(name, sa, sb):
    check(fn_of(name), *operands(name, "float32", sa, sb), grad=name not in NO_GRAD)


@pytest.mark.parametrize("name", BINARY)
def test_binary_noncontig_and_method(name):
    a, b = operands(name, "float32", (3, 4), (3, 4))
    check(
        fn_of(name),
        rand(3, 4, noncontig=True, low=0.2),
        positive(3, 4, noncontig=True),
        grad=name not in NO_GRAD,
    )
    if name != "rsub":  # torch.Tensor has no rsub method
        check(lambda t, x, y: getattr(x, name)(y), a, b, grad=name not in NO_GRAD)


MIXED = [
    ("f32+f64", lambda: (rand(3, 4, low=0.2), positive(4, dtype="float64"))),
    ("f16+0d f32", lambda: (rand(3, 4, dtype="float16", low=0.2), positive(dtype="float32"))),
    ("bf16+f16", lambda: (rand(3, 4, dtype="bfloat16", low=0.2), positive(4, dtype="float16"))),
    ("int+f32", lambda: (ints(3, 4, low=1), positive(4))),
    ("f32+int", lambda: (positive(3, 4), ints(4, low=1, high=4))),
    ("uint8+int8", lambda: (ints(3, 4, low=1, dtype="uint8"), ints(4, low=1, high=4, dtype="int8"))),
    ("int32+0d int64", lambda: (ints(3, 4, low=1, dtype="int32"), ints(low=1, high=4, dtype="int64"))),
    ("bool+int", lambda: (bools(3, 4), ints(4, low=1, high=4))),
    ("f16+scalar", lambda: (positive(3, 4, dtype="float16"), 1.5)),
    ("scalar+f32", lambda: (1.5, positive(3, 4))),
    ("int+float scalar", lambda: (ints(3, 4, low=1), 1.5)),
    ("int+int scalar", lambda: (ints(3, 4, low=1), 2)),
    ("int scalar+int", lambda: (3, ints(3, 4, low=1, high=4))),
    ("bool+int scalar", lambda: (bools(3, 4), 2)),
    ("bool+bool scalar", lambda: (bools(3, 4), True)),
    ("f32+bool", lambda: (positive(3, 4), bools(4))),
]


@pytest.mark.parametrize("case", [m[0] for m in MIXED])
@pytest.mark.parametrize("name", BINARY)
def test_binary_type_promotion(name, case):
    """Result dtype follows torch (0-d tensors and Python numbers are 'weak'); refusals raise like torch."""
    a, b = dict(MIXED)[case]()
    # a float32 leaf behind a half-precision result: torch keeps the 0-d operand in float32 inside the
    # kernel while ember rounds it to the result dtype first; allow the half result's precision
    tol = {"grad_rtol": 5e-3, "grad_atol": 5e-3} if case == "f16+0d f32" else {}
    grad = name not in NO_GRAD and (name, case) not in TORCH_NO_BACKWARD
    check(fn_of(name), a, b, grad=grad, **tol)


SPECIAL_A = [0.0, -0.0, 1.0, -1.0, NAN, INF, -INF, 2.5, -2.5, 0.0, INF, -3.0, 3.0, 5.0, -5.0, 1e-30]
SPECIAL_B = [0.0, 0.0, -0.0, 0.0, 1.0, 1.0, INF, -2.0, 2.0, NAN, INF, 2.0, -2.0, -INF, INF, -1.0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", BINARY)
def test_binary_special_values(name, dtype):
    """Float division by zero (inf/nan), NaN/inf operands, signed zeros, modulus by +-inf."""
    out = check(fn_of(name), vals(SPECIAL_A, dtype=dtype), vals(SPECIAL_B, dtype=dtype), grad=False)
    # signs of zero results agree too (except max/min-like ops, whose choice between +0 and -0 on a tie
    # differs even between torch's own vectorized and scalar paths)
    if name not in ("maximum", "minimum", "fmax", "fmin") and out.dtype.is_floating_point:
        t = fn_of(name)(
            torch,
            torch.tensor(SPECIAL_A, dtype=getattr(torch, dtype)),
            torch.tensor(SPECIAL_B, dtype=getattr(torch, dtype)),
        )
        zero = t == 0
        np.testing.assert_array_equal(
            np.signbit(out.detach().cpu().numpy())[zero.cpu().numpy()], torch.signbit(t)[zero].cpu().numpy()
        )


@pytest.mark.parametrize("name", BINARY)
def test_binary_ties_grad(name):
    """Equal operands (maximum/minimum split the gradient evenly, fmax/fmin give it to input)."""
    check(
        fn_of(name),
        vals([1.0, 2.0, -1.0, 0.5, 3.0]),
        vals([1.0, 2.0, -1.0, 0.5, 3.0]),
        grad=name not in NO_GRAD,
    )


@pytest.mark.parametrize("name", [n for n in BINARY if n not in NO_GRAD])
def test_binary_gradcheck(name):
    a, b = operands(name, "float64", (2, 3), (3,))
    gradcheck_fn(fn_of(name), a, b)


@pytest.mark.parametrize(
    "name", ["mul", "div", "pow", "atan2", "hypot", "logaddexp", "copysign", "maximum", "fmin", "minimum"]
)
def test_binary_gradgradcheck(name):
    """Second derivatives (backward formulas are themselves differentiable ember ops)."""
    a, b = operands(name, "float64", (3,), (3,))
    ea, eb = a.build(ember)[1], b.build(ember)[1]
    assert ember.autograd.gradgradcheck(lambda x, y: getattr(ember, name)(x, y), (ea, eb))


def test_gradgradcheck_identity_grad():
    ea, eb = rand(3, dtype="float64").build(ember)[1], positive(3, dtype="float64").build(ember)[1]
    assert ember.autograd.gradgradcheck(lambda x, y: ember.remainder(x, y), (ea, eb))


@settings(deadline=None, max_examples=30)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    name=st.sampled_from(["add", "sub", "mul", "div", "maximum", "atan2", "remainder", "pow"]),
)
def test_binary_broadcasting_property(shapes, name):
    sa, sb = shapes.input_shapes
    check(fn_of(name), *operands(name, "float32", sa, sb))


# ------------------------------------------------------------------------------------------------ add / sub alpha


@pytest.mark.parametrize("alpha", [2, -1, 0.5, True, 0])
@pytest.mark.parametrize("op", ["add", "sub"])
def test_alpha(op, alpha):
    check(lambda t, x, y: getattr(t, op)(x, y, alpha=alpha), rand(3, 4), rand(4))
    check(lambda t, x, y: getattr(t, op)(x, y, alpha=alpha), ints(3, 4), ints(4))  # float alpha: error
    check(lambda t, x, y: getattr(t, op)(x, y, alpha=alpha), bools(3, 4), bools(4))  # bool alpha rules
    check(lambda t, x: getattr(t, op)(x, 1.5, alpha=alpha), ints(3, 4))
    check(lambda t, x: getattr(t, op)(x, 2, alpha=alpha), ints(3, 4))
    check(
        lambda t, x, y: getattr(x, op)(y, alpha=alpha), rand(3, 4, dtype="float16"), rand(4, dtype="float16")
    )


def test_sub_bool_refused_and_rsub():
    check(lambda t, x, y: t.sub(x, y), bools(3), bools(3))
    check(lambda t, x: t.sub(x, 2), bools(3))
    check(lambda t, x: t.sub(x, True), bools(3))
    check(lambda t, x: x - 1, bools(3))
    check(lambda t, x: 1 - x, bools(3))
    check(lambda t, x, y: t.rsub(x, y, alpha=2), rand(3, 4), rand(4))
    check(lambda t, x: t.rsub(x, 3), rand(3, 4))
    check(lambda t, x, y: t.add(x, y), bools(3), bools(3))


# ------------------------------------------------------------------------------------------------ division


DIV_VALUES = (
    [7, -7, 7, -7, 0, 1, 6, -6, 5, -1],
    [2, 2, -2, -2, 3, 5, 3, 3, -10, 10],
)


@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
@pytest.mark.parametrize(
    "dtype", ["int64", "int32", "int8", "uint8", "float32", "float64", "float16", "bfloat16"]
)
def test_div_rounding_modes_signs(mode, dtype):
    a, b = DIV_VALUES
    if dtype == "uint8":
        a, b = [abs(v) for v in a], [abs(v) for v in b]
    check(lambda t, x, y: t.div(x, y, rounding_mode=mode), vals(a, dtype=dtype), vals(b, dtype=dtype))
    check(lambda t, x: t.div(x, 3, rounding_mode=mode), vals(a, dtype=dtype))
    check(lambda t, x: t.div(x, -2.5, rounding_mode=mode), vals(a, dtype=dtype))
    check(lambda t, y: t.div(7, y, rounding_mode=mode), vals(b, dtype=dtype))


@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
def test_div_rounding_float_edges_and_grad(mode):
    check(lambda t, x, y: t.div(x, y, rounding_mode=mode), rand(3, 4, low=-5, high=5), positive(4))
    check(
        lambda t, x, y: t.div(x, y, rounding_mode=mode),
        vals([7.0, -7.0, 0.3, -1.0, 1e30]),
        vals([0.1, 0.1, 0.1, 3.0, 1e-10]),
    )
    check(lambda t, x, y: t.div(x, y, rounding_mode=mode), vals(SPECIAL_A), vals(SPECIAL_B), grad=False)
    check(
        lambda t, x, y: x.div(y, rounding_mode=mode),
        rand(3, 4, noncontig=True),
        positive(3, 4, noncontig=True),
    )
    check(lambda t, x, y: t.div(x, y, rounding_mode=mode), bools(3), bools(3))
    check(lambda t, x, y: t.divide(x, y, rounding_mode=mode), rand(3, 1), positive(4, dtype="float64"))


def test_div_errors_and_true_divide():
    check(lambda t, x, y: t.div(x, y, rounding_mode="round"), rand(3), rand(3))
    check(lambda t, x, y: t.div(x, y), ints(3, 4), ints(4, low=1))  # ints give floats
    check(lambda t, x: t.true_divide(x, 2), ints(3, 4))
    check(lambda t, x: t.div(x, 0), ints(4))  # int true division by zero: inf/nan, no error
    check(lambda t, x: t.div(x, 0.0), rand(4, kinks=[0.0]), grad=False)


@pytest.mark.parametrize(
    "fn",
    [
        lambda t, x, y: t.div(x, y, rounding_mode="trunc"),
        lambda t, x, y: t.div(x, y, rounding_mode="floor"),
        lambda t, x, y: t.floor_divide(x, y),
        lambda t, x, y: t.remainder(x, y),
        lambda t, x, y: t.fmod(x, y),
        lambda t, x, y: x // y,
        lambda t, x, y: x % y,
        lambda t, x, y: t.remainder(5, y),
    ],
)
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_integer_division_by_zero_raises(fn, dtype):
    """torch raises RuntimeError('ZeroDivisionError') for integer division/modulus by zero."""
    raises_like(fn, ints(4, low=1, dtype=dtype), vals([1, 0, 2, 3], dtype=dtype), match="ZeroDivisionError")
    raises_like(fn, ints(4, low=1, dtype=dtype), vals(0, dtype=dtype))
    check(lambda t, x: t.fmod(x, 0), ints(3, dtype=dtype))
    check(lambda t, x: x // 0, ints(3, dtype=dtype))


def test_floor_divide_has_no_derivative():
    check(lambda t, x, y: t.floor_divide(x, y), rand(3, 4), positive(4), grad=False)
    backward_raises_like(lambda t, x, y: t.floor_divide(x, y), rand(3, 4), positive(4))
    backward_raises_like(lambda t, x: x // 2, rand(3, 4))
    backward_raises_like(lambda t, x: 2.5 // x, positive(3, 4))


# ------------------------------------------------------------------------------------------------ remainder / fmod


SIGNS_A = [3.0, -3.0, 3.0, -3.0, 0.0, -0.0, 4.0, -4.0, 5.5, -5.5, 1e-30, -1.0, 1.0]
SIGNS_B = [2.0, 2.0, -2.0, -2.0, 2.0, 2.0, -2.0, 2.0, 2.0, -2.5, -1.0, INF, -INF]


@pytest.mark.parametrize("op", ["remainder", "fmod"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_modulus_sign_conventions_float(op, dtype):
    """remainder takes the divisor's sign, fmod the dividend's (incl. zero results and infinite divisors)."""
    out = check(fn_of(op), vals(SIGNS_A, dtype=dtype), vals(SIGNS_B, dtype=dtype))
    t = getattr(torch, op)(
        torch.tensor(SIGNS_A, dtype=getattr(torch, dtype)), torch.tensor(SIGNS_B, dtype=getattr(torch, dtype))
    )
    assert np.array_equal(np.signbit(out.detach().float().cpu().numpy()), torch.signbit(t).cpu().numpy())


@pytest.mark.parametrize("op", ["remainder", "fmod"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "int8"])
def test_modulus_sign_conventions_int(op, dtype):
    a, b = [3, -3, 3, -3, 0, 7, -7, 6], [2, 2, -2, -2, 5, 3, 3, -3]
    check(fn_of(op), vals(a, dtype=dtype), vals(b, dtype=dtype))
    check(lambda t, x: getattr(t, op)(x, -4), vals(a, dtype=dtype))
    check(lambda t, x: getattr(t, op)(x, 2.5), vals(a, dtype=dtype))


def test_modulus_scalar_first():
    check(lambda t, y: t.remainder(5, y), ints(4, low=1))
    check(lambda t, y: t.remainder(5.5, y), vals([2, -3, 4, -1], dtype="int64"))
    check(lambda t, y: t.remainder(-5.5, y), positive(4), grad=False)
    backward_raises_like(lambda t, y: t.remainder(5.5, y), positive(4))  # torch: no derivative
    check(lambda t, y: t.fmod(5, y), ints(4, low=1))  # fmod takes no Python number first
    check(lambda t, x: x % 2.5, rand(3, 4, low=-5, high=5))
    check(lambda t, x: 7 % x, ints(3, 4, low=1))


# ------------------------------------------------------------------------------------------------ pow


@pytest.mark.parametrize(
    "fn,specs",
    [
        (lambda t, x: t.pow(x, 2), [rand(3, 4)]),
        (lambda t, x: t.pow(x, 3), [rand(3, 4)]),
        (lambda t, x: t.pow(x, 0), [rand(3, 4, kinks=[0.0])]),
        (lambda t, x: t.pow(x, 0.5), [positive(3, 4)]),
        (lambda t, x: t.pow(x, -1), [positive(3, 4)]),
        (lambda t, x: t.pow(x, -2.5), [positive(3, 4)]),
        (lambda t, x: t.pow(x, 2), [vals([-2.0, -1.0, 0.0, -0.0, 1.5, -1.5])]),
        (lambda t, x: t.pow(x, 0.5), [vals([-2.0, 0.0, 4.0])]),  # negative base, fractional exponent: nan
        (lambda t, x: t.pow(x, -1), [vals([0.0, -0.0, 2.0])]),
        (lambda t, x: t.pow(x, 1), [vals([0.0, -3.0, 2.0])]),
        (lambda t, e: t.pow(2.0, e), [rand(3, 4)]),
        (lambda t, e: t.pow(2, e), [rand(3, 4)]),
        (lambda t, e: t.pow(0.0, e), [vals([0.0, 1.0, -1.0, 2.5])]),  # 0**0 = 1, 0**-1 = inf
        (lambda t, e: t.pow(-2.0, e), [vals([2.0, 3.0, 0.5, 0.0])]),
        (lambda t, e: t.pow(1.0, e), [vals([NAN, INF, 2.0])]),
        (lambda t, x, e: t.pow(x, e), [positive(3, 4), rand(4)]),
        (
            lambda t, x, e: t.pow(x, e),
            [vals([0.0, 0.0, 0.0, -2.0, -2.0, 2.0]), vals([0.0, 2.0, -1.0, 2.0, 3.0, 0.5])],
        ),
        (lambda t, x, e: t.pow(x, e), [rand(3, 1, noncontig=False), rand(1, 4)]),
        (lambda t, x, e: t.pow(x, e), [positive(4, 3, noncontig=True), rand(4, 3, noncontig=True)]),
        (lambda t, x, e: t.pow(x, e), [positive(3, 4, dtype="float16"), rand(4, dtype="float16")]),
        (lambda t, x, e: t.pow(x, e), [positive(3, 4, dtype="bfloat16"), rand(4, dtype="bfloat16")]),
        (lambda t, x, e: t.pow(x, e), [positive(3, 4), ints(4, low=-2, high=3)]),
        (lambda t, x, e: t.pow(x, e), [ints(3, 4, low=1), rand(4)]),
    ],
)
def test_pow_float_forms(fn, specs):
    check(fn, *specs)


@pytest.mark.parametrize("dtype", ["int64", "int32", "int8", "uint8"])
def test_pow_integers(dtype):
    lo = 0 if dtype == "uint8" else -3
    check(lambda t, x: t.pow(x, 2), ints(3, 4, low=lo, high=4, dtype=dtype))
    check(lambda t, x: t.pow(x, 0), ints(3, 4, low=lo, high=4, dtype=dtype))
    check(
        lambda t, x: t.pow(x, -1), ints(3, 4, low=lo, high=4, dtype=dtype)
    )  # scalar negative exponent: error
    check(lambda t, x: x**-2, ints(3, 4, low=lo, high=4, dtype=dtype))
    check(lambda t, x: t.pow(x, 1.5), ints(3, 4, low=0, high=4, dtype=dtype))  # float exponent: float result
    check(
        lambda t, x, e: t.pow(x, e),
        ints(3, 4, low=lo, high=4, dtype=dtype),
        ints(4, low=0, high=4, dtype=dtype),
    )
    check(lambda t, e: t.pow(2, e), ints(3, 4, low=0, high=6, dtype=dtype))
    check(lambda t, x: t.pow(x, 40), vals([2, 3, -1, 0], dtype="int64"))  # wraps like C


def test_pow_integer_negative_tensor_exponents():
    """A tensor of negative exponents is allowed: 1 for base 1, +-1 for base -1, else 0."""
    base = vals([3, -1, 1, 0, 2, -1, -2, 1], dtype="int64")
    check(lambda t, x, e: t.pow(x, e), base, vals([-1, -1, -5, -1, -2, -2, -3, 0], dtype="int64"))
    check(lambda t, x, e: t.pow(x, e), base, vals(-1, dtype="int64"))
    check(lambda t, e: t.pow(-1, e), vals([-1, -2, 3, -4, 0], dtype="int64"))
    check(lambda t, e: t.pow(2, e), vals([-1, 2, 0, 62], dtype="int64"))
    check(lambda t, x, e: t.pow(x, e), vals([2], dtype="uint8"), vals([-1], dtype="int8"))


def test_pow_bool_and_float_power():
    check(lambda t, x, y: t.pow(x, y), bools(4), bools(4))
    check(lambda t, x: t.pow(x, 2), bools(4))
    check(lambda t, x: t.pow(x, 2.5), bools(4))
    check(lambda t, x: t.pow(x, True), ints(4))
    check(lambda t, x: t.float_power(x, 2), ints(4))
    check(lambda t, x: t.float_power(x, -1), ints(4, low=1))
    check(lambda t, e: t.float_power(2, e), ints(4))
    check(lambda t, x, e: t.float_power(x, e), positive(3, 4), rand(4))
    check(lambda t, x: t.float_power(x, 2), bools(4))
    gradcheck_fn(lambda t, e: t.pow(2.5, e), rand(4))
    gradcheck_fn(lambda t, x: t.pow(x, 3), rand(4))
    gradcheck_fn(lambda t, x: t.pow(x, -1.5), positive(4))


# ------------------------------------------------------------------------------------------------ max / min family


def test_maximum_minimum_nan_and_ties():
    a = vals([NAN, 1.0, 2.0, 1.0, NAN, -0.0, 0.0, INF])
    b = vals([1.0, NAN, 2.0, 3.0, NAN, 0.0, -0.0, INF])
    for name in ["maximum", "minimum", "fmax", "fmin"]:
        check(fn_of(name), a, b)
    check(lambda t, x, y: t.maximum(x, y), ints(3, 4), ints(4))
    check(lambda t, x, y: t.fmin(x, y), bools(3, 4), bools(4))


@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin", "atan2", "hypot", "logaddexp"])
def test_tensor_only_functions_refuse_numbers(name):
    check(lambda t, x: getattr(t, name)(x, 1.5), rand(3))
    check(lambda t, x: getattr(t, name)(2, x), rand(3))


def test_atan2_quadrants_and_origin():
    # signed zeros pick the quadrant; the gradient at the origin is 0 (as in torch)
    y = vals([0.0, 0.0, -0.0, -0.0, 1.0, -1.0, 1.0, -1.0, INF, 0.0])
    x = vals([0.0, -0.0, 0.0, -0.0, 1.0, 1.0, -1.0, -1.0, INF, 2.0])
    check(lambda t, a, b: t.atan2(a, b), y, x)
    check(lambda t, a, b: t.atan2(a, b), ints(3, 4), ints(4))  # ints give floats


def test_hypot_copysign_logaddexp_edges():
    check(lambda t, a, b: t.hypot(a, b), vals([0.0, 3.0, INF, NAN, -5.0]), vals([0.0, 4.0, NAN, INF, 12.0]))
    check(lambda t, a, b: t.hypot(a, b), ints(3), ints(3))
    check(
        lambda t, a, b: t.copysign(a, b),
        vals([0.0, 1.0, -2.0, 2.0, NAN, 3.0]),
        vals([-1.0, -1.0, 1.0, 0.0, -1.0, -0.0]),
    )
    check(lambda t, a, b: t.copysign(a, b), ints(3, 4), ints(4))
    check(lambda t, a: t.copysign(a, -1), rand(3, 4))
    check(lambda t, a, b: t.copysign(a, b), bools(3), bools(3))
    check(
        lambda t, a, b: t.logaddexp(a, b),
        vals([-INF, INF, 0.0, 100.0, -100.0]),
        vals([-INF, INF, 1.0, 100.0, 5.0]),
    )
    check(lambda t, a, b: t.logaddexp(a, b), ints(3), ints(3))


# ------------------------------------------------------------------------------------------------ operators


OPS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
    "**": lambda a, b: a**b,
}


@pytest.mark.parametrize("op", list(OPS))
def test_python_operators(op):
    f = OPS[op]
    g = op != "//"
    check(lambda t, x, y: f(x, y), rand(3, 4, low=0.5), positive(4), grad=g)
    check(lambda t, x: f(x, 2), positive(3, 4), grad=g)
    check(lambda t, x: f(x, 2.5), positive(3, 4), grad=g)
    check(lambda t, x: f(2, x), positive(3, 4), grad=g and op != "%")  # reflected: 2 - x, 2 ** x, ...
    check(lambda t, x: f(2.5, x), positive(3, 4), grad=g and op != "%")
    check(lambda t, x, y: f(x, y), ints(3, 4), ints(4, low=1, high=3))
    check(lambda t, x: f(3, x), ints(3, 4, low=1, high=4))
    check(lambda t, x: f(x, np.float64(2.0)), positive(3, 4), grad=g)
    check(lambda t, x, y: f(x, y), rand(3, 4, dtype="float16", low=0.5), positive(4, dtype="float64"), grad=g)


def test_unary_operators_and_matmul():
    check(lambda t, x: -x, rand(3, 4))
    check(lambda t, x: -x, ints(3, 4, dtype="uint8", low=0, high=200))
    check(lambda t, x: -x, bools(3))
    check(lambda t, x: +x, rand(3, 4))
    check(lambda t, x: abs(x), rand(3, 4, kinks=[0.0]))
    check(lambda t, x, y: x @ y, rand(3, 4), rand(4, 2))
    check(lambda t, x, y: x @ y, rand(4), rand(4))


INPLACE_OPS = ["+=", "-=", "*=", "/=", "%=", "**=", "//="]


def _iop(op, z, y):
    if op == "+=":
        z += y
    elif op == "-=":
        z -= y
    elif op == "*=":
        z *= y
    elif op == "/=":
        z /= y
    elif op == "%=":
        z %= y
    elif op == "**=":
        z **= y
    else:
        z //= y
    return z


@pytest.mark.parametrize("op", INPLACE_OPS)
def test_inplace_operators(op):
    g = op != "//="
    check(lambda t, x, y: _iop(op, x * 1, y), positive(3, 4), positive(4), grad=g)
    check(lambda t, x: _iop(op, x * 1, 2.0), positive(3, 4), grad=g)
    check(lambda t, x, y: _iop(op, x, y), positive(3, 4), positive(4))  # leaf that requires grad: error
    check(lambda t, x, y: _iop(op, x, y), ints(3, 4), ints(4, low=1, high=3))
    check(
        lambda t, x, y: _iop(op, x, y), ints(3, 4), positive(4, requires_grad=False)
    )  # float into int: error
    check(
        lambda t, x, y: _iop(op, x, y), positive(3, requires_grad=False), positive(2, 3)
    )  # can't broadcast self
    check(lambda t, x, y: _iop(op, x, y), positive(3, 4, requires_grad=False), ints(4, low=1, high=3))


def test_inplace_operator_keeps_identity_and_version():
    x = ember.ones(3)
    y = x
    x += 1
    assert x is y and x._version == 1
    np.testing.assert_array_equal(y.cpu().numpy(), [2.0, 2.0, 2.0])


# ------------------------------------------------------------------------------------------------ in-place methods


INPLACE_METHODS = [
    lambda t, y, w: y.add_(w, alpha=2),
    lambda t, y, w: y.add_(1.5),
    lambda t, y, w: y.sub_(w, alpha=0.5),
    lambda t, y, w: y.subtract_(w),
    lambda t, y, w: y.mul_(w),
    lambda t, y, w: y.multiply_(3),
    lambda t, y, w: y.div_(w),
    lambda t, y, w: y.div_(w, rounding_mode="trunc"),
    lambda t, y, w: y.divide_(2),
    lambda t, y, w: y.true_divide_(w),
    lambda t, y, w: y.pow_(w),
    lambda t, y, w: y.pow_(2),
    lambda t, y, w: y.fmod_(w),
    lambda t, y, w: y.remainder_(w),
    lambda t, y, w: y.atan2_(w),
    lambda t, y, w: y.arctan2_(w),
    lambda t, y, w: y.hypot_(w),
    lambda t, y, w: y.copysign_(w),
    lambda t, y, w: y.copysign_(-1.0),
]


@pytest.mark.parametrize("i", range(len(INPLACE_METHODS)))
def test_inplace_methods(i):
    fn = INPLACE_METHODS[i]
    check(lambda t, x, w: fn(t, x * 1, w), positive(3, 4, low=0.2, high=0.9), positive(4, low=0.2, high=0.9))
    check(lambda t, x, w: fn(t, x, w), positive(3, 4, requires_grad=False), positive(4, requires_grad=False))
    check(lambda t, x, w: fn(t, x, w), positive(3, 4), positive(4))  # leaf that requires grad: error
    check(lambda t, x, w: fn(t, x[0], w), positive(3, 4, requires_grad=False), positive(4))  # through a view


def test_inplace_integer_rules():
    check(lambda t, x: x.add_(2, alpha=3), ints(3, 4))
    check(lambda t, x: x.div_(2), ints(3, 4))  # true division can't be written into an int tensor
    check(lambda t, x: x.div_(2, rounding_mode="floor"), ints(3, 4))
    check(lambda t, x: x.floor_divide_(2), ints(3, 4))
    check(lambda t, x: x.mul_(1.5), ints(3, 4))
    check(lambda t, x: x.pow_(2), ints(3, 4))
    check(lambda t, x: x.floor_divide_(0), ints(3, 4))


def test_float_power_inplace():
    check(lambda t, x: x.float_power_(2), rand(3, dtype="float64", requires_grad=False))


def test_integer_scalar_wraparound():
    check(lambda t, x: x + (-1), vals([0, 5, 200], dtype="uint8"))
    check(lambda t, x: x * 300, vals([0, 5, 200], dtype="uint8"))
    check(lambda t, x: t.add(x, -1, alpha=2), vals([0, 5, 200], dtype="uint8"))


def test_out_argument():
    check(
        lambda t, x, y: t.add(x, y, out=t.empty(3, 4)),
        rand(3, 4, requires_grad=False),
        rand(4, requires_grad=False),
    )
    check(
        lambda t, x, y: t.div(x, y, rounding_mode="floor", out=t.empty(0)),
        rand(3, requires_grad=False),
        positive(3, requires_grad=False),
    )
    check(
        lambda t, x, y: t.maximum(x, y, out=t.empty(3, dtype=t.int64)),
        rand(3, requires_grad=False),
        rand(3, requires_grad=False),
    )
    check(lambda t, x, y: t.add(x, y, out=t.empty(3)), rand(3), rand(3))  # out= with grad: error


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_broadcast_gradient_of_half_precision_accumulates_in_float32(dtype):
    """The gradient of a broadcast operand sums over the broadcast rows in float32, as torch does: summing
    4096 rows in bfloat16 (kind 'V' in NumPy, which a float16-only check missed) was off by ~10%."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4096, 8)).astype(np.float32)
    g = rng.standard_normal((4096, 8)).astype(np.float32)
    grads = []
    for m in (torch, ember):
        dt = getattr(m, dtype)
        b = m.zeros(8, dtype=dt, requires_grad=True)
        y = m.tensor(x).to(dt) + b
        y.backward(m.tensor(g).to(dt))
        assert b.grad.dtype == dt
        grads.append(b.grad.float().cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=2 * 2.0**-8, atol=0.05)


@pytest.mark.parametrize("bshape", [(41, 5), (5,)])
@pytest.mark.parametrize("alpha", [1, 0.5])
@pytest.mark.parametrize("name", ["add", "sub"])
@pytest.mark.parametrize("da,db", [("float32", "bfloat16"), ("bfloat16", "float32"), ("float16", "bfloat16")])
def test_mixed_float_add_sub_bit_exact_with_gradient_dtypes(name, da, db, alpha, bshape):
    """add/sub of float32 and half operands read each operand in its dtype (no cast op before them, as in torch):
    the float32 result and each gradient, cast back to its input's dtype, are bit-for-bit torch's."""
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 3, 41, 5)).astype(np.float32)
    y = rng.standard_normal(bshape).astype(np.float32)
    out = {}
    for m in (torch, ember):
        a = m.tensor(x).to(getattr(m, da)).requires_grad_()
        b = m.tensor(y).to(getattr(m, db)).requires_grad_()
        r = getattr(m, name)(a, b, alpha=alpha)
        (r * m.tensor(w)).sum().backward()
        out[m] = (r, a.grad, b.grad)
    for k, (e, t) in enumerate(zip(out[ember], out[torch])):
        assert str(e.dtype) == str(t.dtype).replace("torch", "ember")
        ev, tv = e.detach().float().cpu().numpy(), t.detach().float().numpy()
        if k == 2 and (bshape == (5,) or e.device.type == "cuda"):  # b.grad: a float32 sum, in another order
            np.testing.assert_allclose(ev, tv, rtol=1e-5 if e.dtype == ember.float32 else 8e-3)
        else:
            np.testing.assert_array_equal(ev, tv)
