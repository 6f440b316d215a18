"""Elementwise unary math, predicates, where/clamp/lerp/addcmul/addcdiv against torch: values, result dtypes,
gradients (parity + float64 gradcheck), domain edges (NaN/inf/poles), int/bool inputs, in-place variants."""

import math

import pytest
import torch

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
    randn,
    vals,
)

NAN, INF = math.nan, math.inf
FLOATS = ["float32", "float64", "float16", "bfloat16"]


def check(fn, *specs, **kw):
    """parity where torch computes a result; where torch raises, ember must raise the same exception type."""
    t_inputs = [s.build(torch)[1] if isinstance(s, Spec) else s for s in specs]
    try:
        fn(torch, *t_inputs)
    except Exception:
        return raises_like(fn, *specs)
    return parity(fn, *specs, **kw)


# ------------------------------------------------------------------------------------------------ op table

# name -> (low, high) of a domain where the op is smooth (for values, grads and gradcheck)
DOMAIN = {
    "neg": (-2, 2),
    "abs": (-2, 2),
    "sign": (-2, 2),
    "floor": (-3, 3),
    "ceil": (-3, 3),
    "trunc": (-3, 3),
    "frac": (-3, 3),
    "round": (-3, 3),
    "exp": (-2, 2),
    "exp2": (-2, 2),
    "expm1": (-2, 2),
    "log": (0.1, 3),
    "log2": (0.1, 3),
    "log10": (0.1, 3),
    "log1p": (-0.8, 3),
    "sqrt": (0.1, 3),
    "rsqrt": (0.2, 3),
    "reciprocal": (0.2, 3),
    "square": (-2, 2),
    "sin": (-3, 3),
    "cos": (-3, 3),
    "tan": (-1.2, 1.2),
    "asin": (-0.9, 0.9),
    "acos": (-0.9, 0.9),
    "atan": (-3, 3),
    "sinh": (-2, 2),
    "cosh": (-2, 2),
    "tanh": (-2, 2),
    "asinh": (-3, 3),
    "acosh": (1.1, 3),
    "atanh": (-0.9, 0.9),
    "deg2rad": (-180, 180),
    "rad2deg": (-3, 3),
    "sigmoid": (-4, 4),
    "logit": (0.05, 0.95),
    "erf": (-2, 2),
    "erfc": (-2, 2),
    "erfinv": (-0.9, 0.9),
    "lgamma": (0.2, 4),
    "digamma": (0.3, 4),
    "sinc": (-2, 2),
    "nan_to_num": (-2, 2),
    "positive": (-2, 2),
    "absolute": (-2, 2),
    "negative": (-2, 2),
    "fix": (-3, 3),
    "arcsin": (-0.9, 0.9),
    "arccos": (-0.9, 0.9),
    "arctan": (-3, 3),
    "arcsinh": (-3, 3),
    "arccosh": (1.1, 3),
    "arctanh": (-0.9, 0.9),
}
UNARY = sorted(DOMAIN)
# rounding ops have zero gradients (finite differences jump); positive returns its input itself
SMOOTH = [n for n in UNARY if n not in ("floor", "ceil", "trunc", "round", "fix", "sign", "positive")]
PREDICATES = ["isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit"]
SPECIAL = [0.0, -0.0, 1.0, -1.0, NAN, INF, -INF, 0.5, -0.5, 1.5, -2.5, 2.5, 100.0, -100.0, 1e-30, -3.0]


def dom(name, *shape, **kw):
    lo, hi = DOMAIN[name]
    return rand(*shape, low=lo, high=hi, **kw)


def fn_of(name):
    return lambda t, x: getattr(t, name)(x)


# ------------------------------------------------------------------------------------------------ unary parity


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", UNARY)
def test_unary_float_dtypes(name, dtype):
    check(fn_of(name), dom(name, 3, 4, dtype=dtype))


@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 0)])
@pytest.mark.parametrize("name", UNARY)
def test_unary_shapes(name, shape):
    check(fn_of(name), dom(name, *shape))


@pytest.mark.parametrize("name", UNARY)
def test_unary_noncontig_and_method(name):
    check(fn_of(name), dom(name, 3, 4, noncontig=True))
    check(lambda t, x: getattr(x, name)(), dom(name, 4, 3, dtype="float64"))


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "int8", "bool"])
@pytest.mark.parametrize("name", UNARY + PREDICATES)
def test_unary_integral_inputs(name, dtype):
    """Result dtypes (ints promote to float for float-valued ops) and torch's refusals for bool/int."""
    spec = (
        bools(3, 4) if dtype == "bool" else ints(3, 4, low=0 if dtype == "uint8" else -3, high=4, dtype=dtype)
    )
    check(fn_of(name), spec)


@pytest.mark.parametrize("name", UNARY + PREDICATES)
def test_unary_special_values(name):
    """NaN, +-inf, +-0, poles and out-of-domain points (log(0), sqrt(-1), lgamma(-inf), digamma(-0), ...)."""
    check(fn_of(name), vals(SPECIAL), grad=False)
    check(fn_of(name), vals(SPECIAL, dtype="float64"), grad=False)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", PREDICATES)
def test_predicates(name, dtype):
    values = SPECIAL
    if name == "signbit" and dtype == "bfloat16":  # torch's float->bfloat16 cast sets NaN's sign bit
        values = [v for v in SPECIAL if not math.isnan(v)]
    out = check(fn_of(name), vals(values, dtype=dtype))
    assert out.dtype == ember.bool and not out.requires_grad


@pytest.mark.parametrize(
    "name", ["abs", "sign", "sgn", "frac", "sqrt", "reciprocal", "sinc", "logit", "acosh"]
)
def test_kinks_and_edges_grad(name):
    """Gradients exactly at kinks/edges (abs'(0) = 0, sqrt'(0) = inf, sinc'(0) = 0, logit'(0) = inf, ...)."""
    # sgn's torch gradient is a ZeroTensor that the harness cannot read: add x to make it dense
    fn = (lambda t, x: t.sgn(x) + x) if name == "sgn" else fn_of(name)
    check(fn, vals([0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -3.0]))
    check(lambda t, x: fn(t, x) * -2.0, vals([0.0, -0.0, 1.0, 2.0]))  # negative cotangents at the edges


def test_sgn_matches_sign():
    check(lambda t, x: t.sgn(x) + x, rand(3, 4, kinks=[0.0]))
    check(lambda t, x: t.sgn(x), vals(SPECIAL), grad=False)
    check(lambda t, x: t.sgn(x), ints(5))


@pytest.mark.parametrize("name", SMOOTH)
def test_unary_gradcheck(name):
    gradcheck_fn(fn_of(name), dom(name, 2, 3))


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "round", "fix", "sign", "sgn"])
def test_piecewise_constant_gradcheck(name):
    """Zero gradients away from the jumps (values kept off integers, and off 0 for sign)."""
    gradcheck_fn(fn_of(name), rand(2, 3, low=0.2, high=0.8))
    gradcheck_fn(fn_of(name), rand(2, 3, low=-2.8, high=-2.2))


@pytest.mark.parametrize(
    "name", ["exp", "sin", "tanh", "sigmoid", "sqrt", "log", "erf", "atan", "rsqrt", "lgamma"]
)
def test_unary_gradgradcheck(name):
    x = dom(name, 4, dtype="float64")
    xe = x.build(ember)[1]
    assert ember.autograd.gradgradcheck(lambda a: getattr(ember, name)(a), (xe,))


@pytest.mark.parametrize("name", ["abs", "sigmoid", "tanh", "exp", "log1p", "atan"])
def test_unary_randn_wide(name):
    check(fn_of(name), randn(64, scale=3.0))


# ------------------------------------------------------------------------------------------------ keyword variants


@pytest.mark.parametrize("decimals", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("dtype", FLOATS)
def test_round_decimals(decimals, dtype):
    check(lambda t, x: t.round(x, decimals=decimals), rand(3, 4, dtype=dtype, low=-300, high=300))


def test_round_half_to_even_and_ints():
    check(lambda t, x: t.round(x), vals([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, NAN, INF, -INF]))
    check(lambda t, x: t.round(x, decimals=1), vals([0.25, 0.35, 1.45, -0.25, 12.345]))
    check(lambda t, x: t.round(x), ints(5))  # ints pass through unchanged
    check(lambda t, x: t.round(x, decimals=0), ints(5))  # explicit decimals: torch has no int kernel
    check(lambda t, x: t.round(x, decimals=2), ints(5))
    check(lambda t, x: x.round(decimals=1), rand(3, 4))


@pytest.mark.parametrize("eps", [None, 0.0, 1e-6, 0.2, 0.5, 0.6])
def test_logit_eps(eps):
    check(lambda t, x: t.logit(x, eps), rand(3, 4, low=-0.2, high=1.2, kinks=[0.0, 1.0, 0.2, 0.8]))
    check(lambda t, x: t.logit(x, eps=eps), rand(5, dtype="float16", low=0.05, high=0.95))
    check(lambda t, x: x.logit(eps), rand(5, dtype="float64", low=0.1, high=0.9))


def test_logit_int_and_gradcheck():
    check(lambda t, x: t.logit(x), ints(5, low=0, high=2))
    gradcheck_fn(lambda t, x: t.logit(x, eps=0.1), rand(5, low=0.15, high=0.85))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(
    "kw", [{}, {"nan": 1.0}, {"nan": 2.0, "posinf": 3.0, "neginf": -4.0}, {"posinf": 1e30}, {"neginf": -7}]
)
def test_nan_to_num(kw, dtype):
    check(lambda t, x: t.nan_to_num(x, **kw), vals([NAN, INF, -INF, 1.0, -2.0, 0.0], dtype=dtype))


def test_nan_to_num_ints_method_inplace():
    check(lambda t, x: t.nan_to_num(x, nan=1.0), ints(5))
    check(lambda t, x: t.nan_to_num(x), bools(5))
    check(lambda t, x: x.nan_to_num(posinf=9.0), vals([NAN, INF, 1.0]))
    check(lambda t, x: (x * 2).nan_to_num_(nan=5.0), vals([NAN, INF, -INF, 1.5]))
    gradcheck_fn(lambda t, x: t.nan_to_num(x), rand(4))


def test_xlogy():
    check(lambda t, x, y: t.xlogy(x, y), rand(3, 4, kinks=[0.0]), positive(4))
    check(lambda t, x, y: t.xlogy(x, y), rand(3, 1, kinks=[0.0]), positive(4, dtype="float64"))
    # x == 0 edges: 0 * log(0) = 0, 0 * log(-1) = 0, NaN y propagates, grads masked like torch
    check(
        lambda t, x, y: t.xlogy(x, y),
        vals([0.0, 0.0, 0.0, 1.0, 2.0, NAN, 0.0, 0.0]),
        vals([0.0, NAN, INF, 0.0, -1.0, 1.0, -1.0, 2.0]),
    )
    check(lambda t, y: t.xlogy(2.0, y), positive(3))
    check(lambda t, x: t.xlogy(x, 3), rand(3))
    check(lambda t, x, y: t.xlogy(x, y), ints(5, low=0), ints(5, low=0))
    check(lambda t, x, y: t.xlogy(x, y), rand(5, dtype="float16"), positive(5, dtype="float16"))
    check(lambda t, x, y: t.xlogy(x, y), rand(5, dtype="bfloat16"), positive(5, dtype="float64"))
    check(lambda t, x, y: x.xlogy(y), rand(2, 3, noncontig=True), positive(3, 2, noncontig=True))
    check(lambda t, x, y: t.xlogy(x, y), rand(0), positive(0))
    gradcheck_fn(lambda t, x, y: t.xlogy(x, y), rand(2, 3), positive(3))


# ------------------------------------------------------------------------------------------------ where


@pytest.mark.parametrize(
    "shapes",
    [
        ((3, 4), (3, 4), (3, 4)),
        ((3, 4), (4,), (3, 1)),
        ((3, 1), (1, 4), (3, 1)),
        ((), (), ()),
        ((0,), (0,), (1,)),
    ],
)
def test_where_broadcast(shapes):
    sc, sx, sy = shapes
    check(lambda t, c, x, y: t.where(c, x, y), bools(*sc), rand(*sx), rand(*sy))


@pytest.mark.parametrize(
    "x,y",
    [
        (2.0, "t"),
        ("t", 0),
        (1.0, 0),
        (1, 0),
        (True, False),
        ("t", 1.5),
        (-1, "t"),
    ],
)
def test_where_scalar_branches(x, y):
    def fn(t, c, a):
        return t.where(c, a if x == "t" else x, a if y == "t" else y)

    check(fn, bools(3, 4), rand(3, 4))


@pytest.mark.parametrize(
    "sx,sy",
    [
        (rand(4, dtype="float64"), ints(3, 4)),
        (rand(4, dtype="float16"), rand(dtype="float64")),
        (ints(4, dtype="int32"), ints(3, 4, dtype="int64")),
        (bools(4), ints(3, 4, dtype="uint8")),
        (rand(4, dtype="bfloat16"), rand(3, 4, dtype="float16")),
    ],
)
def test_where_mixed_dtypes(sx, sy):
    check(lambda t, c, x, y: t.where(c, x, y), bools(3, 4), sx, sy)


def test_where_variants_and_errors():
    check(lambda t, c, x, y: x.where(c, y), bools(3, 4), rand(4), rand(3, 4))
    check(lambda t, c, x: x.where(c, 1.5), bools(3, 4), rand(3, 4))
    check(
        lambda t, c, x, y: t.where(c, x, y),
        bools(3, 4),
        rand(3, 4, noncontig=True),
        rand(3, 4, noncontig=True),
    )
    check(
        lambda t, c, x, y: t.where(c, x, y),
        vals([True, False, True], dtype="bool"),
        vals([NAN, 1.0, INF]),
        rand(3),
    )
    check(lambda t, c: t.where(c), bools(3, 4))
    check(lambda t, c, x, y: t.where(c, x, y), ints(3, 4, low=0, high=2), rand(4), rand(3, 4))
    check(lambda t, c, x, y: t.where(c, x, y), bools(3, 4), rand(3), rand(3, 4))
    gradcheck_fn(lambda t, c, x, y: t.where(c, x, y), bools(2, 3), rand(3), rand(2, 1))


# ------------------------------------------------------------------------------------------------ clamp / clip


def _cx():
    return rand(3, 4, kinks=[0.5, -0.5, 1.0])


@pytest.mark.parametrize(
    "fn",
    [
        lambda t, x: t.clamp(x, -0.5, 0.5),
        lambda t, x: t.clamp(x, min=-0.5),
        lambda t, x: t.clamp(x, max=0.5),
        lambda t, x: t.clamp(x, 1.0, -1.0),  # min > max: every element is max
        lambda t, x: t.clamp(x, 0.5, 0.5),
        lambda t, x: t.clamp(x, NAN, 0.5),
        lambda t, x: t.clamp(x, max=NAN),
        lambda t, x: t.clip(x, -0.5, 0.5),
        lambda t, x: t.clamp_min(x, 0.1),
        lambda t, x: t.clamp_max(x, 0.1),
        lambda t, x: x.clamp(min=0.1),
        lambda t, x: x.clip(max=0.2),
    ],
)
def test_clamp_scalar_bounds(fn):
    check(fn, _cx())
    check(fn, rand(4, 3, noncontig=True))
    check(fn, rand())
    check(fn, rand(0))
    check(fn, rand(3, 4, dtype="float16"))
    check(fn, rand(3, 4, dtype="bfloat16"))


@pytest.mark.parametrize(
    "lo,hi",
    [
        (rand(4, low=-1, high=0), rand(3, 1, low=0, high=1)),
        (rand(4, low=0, high=1), rand(3, 1, low=-1, high=0)),  # min > max: max wins, min gets no grad
        (rand(4), None),
        (None, rand(4)),
        (rand(dtype="float64"), None),  # 0-d higher-precision bound keeps input's dtype
        (rand(4, dtype="float64"), None),  # dim'd float64 bound promotes
    ],
)
def test_clamp_tensor_bounds(lo, hi):
    check(lambda t, x, a, b: t.clamp(x, a, b), _cx(), lo, hi)


def test_clamp_ties_and_nan():
    # x at a bound: the input gets the gradient; min == max: nobody else gets it (torch's rule)
    check(
        lambda t, x, a, b: t.clamp(x, a, b),
        vals([0.0, 1.0, 2.0]),
        vals([0.0, 0.0, 1.0]),
        vals([1.0, 1.0, 2.0]),
    )
    check(
        lambda t, x, a, b: t.clamp(x, a, b),
        vals([0.0, 1.0, 2.0, 0.5]),
        vals([1.0, 1.0, 1.0, 1.0]),
        vals([1.0, 1.0, 1.0, 1.0]),
    )
    check(lambda t, x: t.clamp(x, -0.5, 0.5), vals([NAN, 1.0, -1.0, 0.5, -0.5]))
    check(lambda t, x, a: t.clamp(x, min=a), vals([0.0, 1.0, -1.0]), vals([NAN, 0.0, NAN]))
    check(lambda t, x, b: t.clamp(x, max=b), vals([0.0, 1.0, NAN]), vals([NAN, 0.0, 2.0]))


def test_clamp_dtypes_and_errors():
    check(lambda t, x: t.clamp(x, -2, 3), ints(3, 4))
    check(lambda t, x: t.clamp(x, -2.5, 3), ints(3, 4))  # float bound: float result
    check(lambda t, x, a: t.clamp(x, a), ints(3, 4), rand(4))
    check(lambda t, x: t.clamp(x, 2, 200), ints(3, 4, low=0, high=255, dtype="uint8"))
    check(lambda t, x: t.clamp(x, min=0), bools(3))  # int bound on bool: int64 result
    check(lambda t, x: t.clamp(x, min=False), bools(3))  # torch has no bool kernel
    check(lambda t, x, a: t.clamp(x, a), rand(3, 4, dtype="bfloat16"), rand(4, dtype="float32"))
    check(lambda t, x: t.clamp(x), rand(3))  # neither bound
    check(lambda t, x, a: t.clamp(x, a), rand(3), rand(4))  # shape mismatch
    gradcheck_fn(lambda t, x: t.clamp(x, -0.5, 0.5), rand(5, low=-1, high=1))
    gradcheck_fn(
        lambda t, x, a, b: t.clamp(x, a, b),
        rand(2, 3),
        rand(3, low=-1.5, high=-0.5),
        rand(2, 1, low=0.5, high=1),
    )


# ------------------------------------------------------------------------------------------------ lerp / addcmul / addcdiv


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.5, 0.7, 1.0, -0.5, 1.5])
def test_lerp_scalar_weight(weight):
    check(lambda t, a, b: t.lerp(a, b, weight), rand(3, 4), rand(4))
    check(lambda t, a, b: t.lerp(a, b, weight), rand(3, 4, dtype="bfloat16"), rand(4, dtype="bfloat16"))


@pytest.mark.parametrize("dtype", FLOATS)
def test_lerp_tensor_weight(dtype):
    check(
        lambda t, a, b, w: t.lerp(a, b, w),
        rand(3, 4, dtype=dtype),
        rand(4, dtype=dtype),
        rand(3, 1, dtype=dtype),
    )
    check(
        lambda t, a, b, w: a.lerp(b, w),
        rand(4, 3, dtype=dtype, noncontig=True),
        rand(3, dtype=dtype),
        rand(dtype=dtype),
    )


def test_lerp_dtypes_and_errors():
    check(
        lambda t, a, b, w: t.lerp(a, b, w), rand(3, 4), rand(4), rand(dtype="float64")
    )  # 0-d weight: any dtype
    check(lambda t, a, b, w: t.lerp(a, b, w), rand(3, 4), rand(4), ints(low=0, high=2))
    check(lambda t, a, b: t.lerp(a, b, 0.5), rand(3, 4), rand(4, dtype="float64"))
    check(lambda t, a, b: t.lerp(a, b, 0.5), rand(3, 4), rand(dtype="float64"))
    check(lambda t, a, b, w: t.lerp(a, b, w), rand(3, 4), rand(4), rand(4, dtype="float64"))
    check(lambda t, a, b: t.lerp(a, b, 0.5), ints(3, 4), ints(4))
    check(lambda t, a, b, w: t.lerp(a, b, w), ints(3, 4), ints(4), rand(4))
    check(lambda t, a, b: t.lerp(a, b, 0.5), rand(3), rand(4))
    check(lambda t, a, b: t.lerp(a, b, 0.5), rand(0), rand(0))
    gradcheck_fn(lambda t, a, b, w: t.lerp(a, b, w), rand(2, 3), rand(3), rand(2, 1))
    gradcheck_fn(lambda t, a, b: t.lerp(a, b, 0.7), rand(2, 3), rand(3))


@pytest.mark.parametrize("value", [1, 2, -0.5, 0.5, True])
@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
def test_addcmul_addcdiv_values(op, value):
    check(lambda t, a, b, c: getattr(t, op)(a, b, c, value=value), rand(3, 4), rand(4), positive(3, 1))
    check(lambda t, a, b, c: getattr(a, op)(b, c, value=value), rand(4), rand(3, 4), positive(3, 1))
    check(
        lambda t, a, b, c: getattr(t, op)(a, b, c, value=value),
        rand(3, 4, dtype="float16"),
        rand(4, dtype="float16"),
        positive(3, 1, dtype="float16"),
    )


@pytest.mark.parametrize("value", [1, 2, 0.5, 1.5])
def test_addcmul_addcdiv_integral(value):
    check(
        lambda t, a, b, c: t.addcmul(a, b, c, value=value), ints(3, 4), ints(4), ints(3, 1)
    )  # value truncated
    check(
        lambda t, a, b, c: t.addcdiv(a, b, c, value=value), rand(3, 4), ints(4), ints(3, 1, low=1)
    )  # int/int
    check(lambda t, a, b, c: t.addcdiv(a, b, c, value=value), ints(3, 4), rand(4), positive(3, 1))


def test_addcmul_addcdiv_errors_and_gradcheck():
    check(lambda t, a, b, c: t.addcmul(a, b, c), bools(3), bools(3), bools(3))
    check(lambda t, a, b, c: t.addcmul(a, b, c), rand(3), rand(4), rand(3, 1))
    check(lambda t, a, b, c: t.addcdiv(a, b, c, value=2), rand(3, 4, noncontig=True), rand(4), positive(3, 4))
    gradcheck_fn(lambda t, a, b, c: t.addcmul(a, b, c, value=-0.5), rand(2, 3), rand(3), rand(2, 1))
    gradcheck_fn(lambda t, a, b, c: t.addcdiv(a, b, c, value=2), rand(2, 3), rand(3), positive(2, 1))


# ------------------------------------------------------------------------------------------------ misc / in-place


def test_positive_is_identity_and_refuses_bool():
    x = ember.randn(3)
    assert ember.positive(x) is x
    check(lambda t, x: t.positive(x), rand(3, 4))
    check(lambda t, x: t.positive(x), bools(3))


def test_square_bool_promotes():
    check(lambda t, x: t.square(x), bools(3, 4))
    check(lambda t, x: t.square(x), ints(3, 4, dtype="uint8", low=0, high=20))


INPLACE_UNARY = [
    "neg_", "abs_", "sign_", "floor_", "ceil_", "trunc_", "frac_", "exp_", "exp2_", "expm1_", "log_", "log2_",
    "log10_", "log1p_", "sqrt_", "rsqrt_", "reciprocal_", "square_", "sin_", "cos_", "tan_", "asin_", "acos_",
    "atan_", "sinh_", "cosh_", "tanh_", "asinh_", "atanh_", "sigmoid_", "erf_", "erfc_", "erfinv_", "lgamma_",
    "digamma_", "deg2rad_", "rad2deg_", "fix_", "negative_", "absolute_", "arcsin_", "arccos_", "arctan_",
    "logit_", "round_", "nan_to_num_", "sgn_",
]  # fmt: skip


@pytest.mark.parametrize("name", INPLACE_UNARY)
def test_inplace_unary_methods(name):
    """x.op_() on a non-leaf: values and gradients through the in-place node; on a leaf: torch's error."""

    def fn(t, x):
        y = x * 1
        out = getattr(y, name)()
        assert out is y
        return out + x if name == "sgn_" else out  # sgn's torch grad is a ZeroTensor: make it dense

    # torch has no derivative for in-place asinh_/atanh_ (ember has one): compare their values only
    check(fn, rand(3, 4, low=0.1, high=0.9), grad=name not in ("asinh_", "atanh_"))
    check(lambda t, x: getattr(x, name)(), rand(4, 3, low=0.1, high=0.9, requires_grad=False, noncontig=True))
    check(lambda t, x: getattr(x, name)(), rand(3, low=0.1, high=0.9))  # leaf that requires grad


@pytest.mark.parametrize("name", ["arcsinh_", "arccosh_", "arctanh_", "sinc_"])
def test_inplace_unary_missing_aliases(name):
    # torch has no derivative for the in-place arc-hyperbolic aliases: compare values only
    check(lambda t, x: getattr(x * 1, name)(), rand(3, low=1.1, high=1.5), grad=name == "sinc_")


@pytest.mark.parametrize(
    "fn",
    [
        lambda t, y, w: y.clamp_(min=0.3),
        lambda t, y, w: y.clamp_(0.2, 0.8),
        lambda t, y, w: y.clamp_(min=w),
        lambda t, y, w: y.clamp_min_(0.5),
        lambda t, y, w: y.clamp_max_(0.5),
        lambda t, y, w: y.clip_(max=0.5),
        lambda t, y, w: y.lerp_(w, 0.3),
        lambda t, y, w: y.lerp_(w, w),
        lambda t, y, w: y.addcmul_(w, w, value=2),
        lambda t, y, w: y.addcdiv_(w, w, value=-1.5),
        lambda t, y, w: y.xlogy_(w),
        lambda t, y, w: y.logit_(eps=0.2),
        lambda t, y, w: y.round_(decimals=1),
        lambda t, y, w: y.nan_to_num_(nan=1.0),
    ],
)
def test_inplace_elementwise_methods(fn):
    check(lambda t, x, w: fn(t, x * 1, w), rand(3, 4, low=0.1, high=0.9), rand(4, low=0.1, high=0.9))
    check(
        lambda t, x, w: fn(t, x, w),
        rand(3, 4, low=0.1, high=0.9, requires_grad=False),
        rand(4, low=0.1, high=0.9),
    )
    check(
        lambda t, x, w: fn(t, x, w), rand(3, 4, low=0.1, high=0.9), rand(4, low=0.1, high=0.9)
    )  # leaf error


def test_out_argument():
    check(lambda t, x: t.exp(x, out=t.empty(3, 4)), rand(3, 4, requires_grad=False))
    check(lambda t, x: t.clamp(x, 0, 1, out=t.empty(0)), rand(3, 4, requires_grad=False))
    check(lambda t, x: t.square(x, out=t.empty(3)), rand(3, requires_grad=False))
