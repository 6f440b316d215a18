"""Reductions against torch: every dim form (None, int, negative, tuple), keepdim, dtypes (halves accumulate in
float32, ints give int64), ties and NaN, empty inputs and the errors torch raises."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import Spec, assert_close, bools, gradcheck_fn, ints, parity, raises_like, rand, vals

# torch warns when the degrees of freedom of var/std are <= 0 (ember returns the same inf/nan silently).
pytestmark = pytest.mark.filterwarnings(
    "ignore:var\\(\\)|std\\(\\)|std_mean\\(\\)|var_mean\\(\\):UserWarning"
)


def _dims(ndim):
    out = [None] + list(range(-ndim, ndim)) if ndim else [None, 0, -1]
    if ndim == 2:
        out += [(0, 1), (-1, 0)]
    if ndim == 3:
        out += [(0, 2), (1, -1), (0, 1, 2)]
    return out


SHAPES = [(), (0,), (7,), (3, 4), (2, 3, 4)]
SHAPE_DIMS = [(s, d) for s in SHAPES for d in _dims(len(s))]
INT_SHAPE_DIMS = [(s, d) for s, d in SHAPE_DIMS if not isinstance(d, tuple)]
NONEMPTY_INT_DIMS = [(s, d) for s, d in INT_SHAPE_DIMS if 0 not in s and d is not None]


def _kw(dim, keepdim):
    return {} if dim is None else {"dim": dim, "keepdim": keepdim}


def _ties(*shape, dtype="float32", noncontig=False):
    """Small integers as floats: plenty of ties for max/min/median/mode."""
    g = np.random.default_rng(abs(hash(shape)) % 2**32)
    return Spec(g.integers(0, 3, size=shape).astype(np.float64), dtype, True)


# ------------------------------------------------------------------------------------------ sum / mean / var


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", SHAPE_DIMS)
@pytest.mark.parametrize("op", ["sum", "mean", "nansum", "nanmean"])
def test_sum_mean(op, shape, dim, keepdim):
    parity(lambda t, x: getattr(t, op)(x, **_kw(dim, keepdim)), rand(*shape))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", SHAPE_DIMS)
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std(op, shape, dim, keepdim):
    parity(lambda t, x: getattr(t, op)(x, **_kw(dim, keepdim)), rand(*shape))


@pytest.mark.parametrize(
    "kw", [{"correction": 0}, {"correction": 2}, {"unbiased": False}, {"unbiased": True}]
)
@pytest.mark.parametrize("op", ["var", "std", "var_mean", "std_mean"])
def test_var_std_correction(op, kw):
    parity(lambda t, x: _tup(getattr(t, op)(x, 1, keepdim=True, **kw)), rand(3, 5))
    parity(lambda t, x: _tup(getattr(t, op)(x, (0, -1), **kw)), rand(2, 3, 4))
    parity(lambda t, x: _tup(getattr(t, op)(x, **kw)), rand(4, 3))


def _tup(r):
    return tuple(r) if isinstance(r, tuple) else r


@pytest.mark.parametrize("op", ["var_mean", "std_mean"])
def test_var_mean_namedtuple(op):
    out = parity(lambda t, x: tuple(getattr(t, op)(x, dim=0)), rand(3, 4))
    e = getattr(ember, op)(ember.ones(3, 4), 1)
    assert type(e).__name__ == op and getattr(e, op[:3]) is e[0] and e.mean is e[1]
    assert len(out) == 2


def test_var_positional_unbiased():
    parity(lambda t, x: t.var(x, False), rand(4, 3))
    parity(lambda t, x: t.std(x, True), rand(4, 3))


def test_var_too_few_samples_is_nan_or_inf():
    parity(lambda t, x: t.var(x), rand(1), grad=False)
    parity(lambda t, x: t.std(x, correction=2), rand(1, 3), grad=False)
    parity(lambda t, x: t.var(x, 0), rand(1, 3), grad=False)


def test_std_zero_spread_grad_is_zero():
    parity(lambda t, x: t.std(x, 1), vals([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]]))


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
@pytest.mark.parametrize(
    "op", ["sum", "mean", "nansum", "nanmean", "var", "std", "prod", "amax", "amin", "logsumexp"]
)
def test_reduce_float_dtypes(op, dtype):
    spec = rand(3, 5, dtype=dtype, low=0.5, high=1.5)
    parity(lambda t, x: getattr(t, op)(x, 1), spec)
    parity(lambda t, x: getattr(t, op)(x, -1, keepdim=True), spec)
    if op != "logsumexp":
        parity(lambda t, x: getattr(t, op)(x), spec)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("op", ["sum", "mean", "nansum"])
def test_half_reductions_accumulate_in_float32(op, dtype):
    # A half accumulator stalls (bfloat16 at 256, float16 at 2048); torch's accumulates in float32.
    parity(lambda t, x: getattr(t, op)(x), vals([1.0] * 3000, dtype), grad=False)
    parity(lambda t, x: getattr(t, op)(x, 0), vals([[1.0] * 3] * 3000, dtype), grad=False)


def test_half_var_accumulates_in_float32():
    parity(lambda t, x: t.var(x), vals([1.0, 3.0] * 1500, "bfloat16"), grad=False)


@pytest.mark.parametrize("dtype", ["int64", "int32", "int8", "uint8", "bool"])
@pytest.mark.parametrize("op", ["sum", "nansum", "prod"])
def test_int_sums_give_int64(op, dtype):
    spec = (
        bools(3, 4) if dtype == "bool" else ints(3, 4, low=0 if dtype == "uint8" else -3, high=4, dtype=dtype)
    )
    parity(lambda t, x: getattr(t, op)(x), spec)
    parity(lambda t, x: getattr(t, op)(x, 0), spec)
    parity(lambda t, x: getattr(t, op)(x, 1, keepdim=True), spec)


@pytest.mark.parametrize("op", ["sum", "mean", "prod"])
def test_dtype_kwarg(op):
    parity(lambda t, x: getattr(t, op)(x, dtype=t.float64), rand(3, 4))
    parity(lambda t, x: getattr(t, op)(x, 0, dtype=t.float64), ints(3, 4))
    parity(lambda t, x: getattr(t, op)(x, dtype=t.float32), ints(3, 4))


def test_sum_dtype_int32_keeps_int32():
    parity(lambda t, x: t.sum(x, dtype=t.int32), ints(3, 4, dtype="int8"))
    parity(lambda t, x: t.prod(x, 1, dtype=t.int16), ints(3, 4, dtype="int64"))


def test_mean_of_int_raises():
    raises_like(lambda t, x: t.mean(x), ints(3), match="mean")
    raises_like(lambda t, x: t.var(x), ints(3))
    raises_like(lambda t, x: t.std(x, 0), ints(3))


def test_reductions_noncontig():
    spec = rand(3, 5, noncontig=True)
    parity(lambda t, x: (t.sum(x, 0), t.mean(x, 1), t.var(x, 0), t.prod(x, 1), t.amax(x, 0)), spec)
    parity(lambda t, x: (t.logsumexp(x, 1), t.max(x, 0).values, t.std(x, (0, 1))), spec)


def test_nan_reductions():
    spec = vals([[1.0, math.nan, 3.0], [math.nan, math.nan, math.nan], [1.0, 2.0, 3.0]])
    parity(lambda t, x: (t.nansum(x, 1), t.nanmean(x, 1), t.nansum(x), t.nanmean(x, 0)), spec)
    parity(lambda t, x: (t.sum(x, 1), t.mean(x, 0)), spec)


@pytest.mark.parametrize("shape,dim", [((0,), None), ((0,), 0), ((2, 0), 1), ((2, 0), 0), ((0, 3), (0, 1))])
def test_empty_sum_mean_prod(shape, dim):
    parity(lambda t, x: (t.sum(x, **_kw(dim, False)), t.mean(x, **_kw(dim, False))), rand(*shape))
    if not isinstance(dim, tuple):
        parity(lambda t, x: t.prod(x, **_kw(dim, True)), rand(*shape))


# ------------------------------------------------------------------------------------------ prod


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", INT_SHAPE_DIMS)
def test_prod(shape, dim, keepdim):
    parity(lambda t, x: t.prod(x, **_kw(dim, keepdim)), rand(*shape, low=0.5, high=1.5))


@pytest.mark.parametrize(
    "data",
    [
        [[2.0, 0.0, 3.0], [1.0, 2.0, 3.0]],
        [[0.0, 0.0, 3.0], [1.0, 0.0, 3.0]],
        [[0.0, 5.0, -1.0], [4.0, 2.0, 0.0]],
    ],
)
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_prod_grad_exact_with_zeros(data, dim):
    parity(lambda t, x: t.prod(x, **_kw(dim, False)), vals(data))


def test_prod_double_backward_with_zeros():
    def f(t):
        x = t.tensor([[2.0, 0.0, 3.0], [0.0, 0.0, 1.5]], dtype=t.float64, requires_grad=True)
        (g,) = t.autograd.grad(t.prod(x, 1).sum() + t.prod(x), x, create_graph=True)
        (gg,) = t.autograd.grad((g * t.tensor([[1.0, 2.0, -1.0], [0.5, 1.0, 3.0]], dtype=t.float64)).sum(), x)
        return g, gg

    assert_close(f(ember), f(torch))


def test_prod_tuple_dim_raises():
    raises_like(lambda t, x: t.prod(x, (0, 1)), rand(2, 3))


# ------------------------------------------------------------------------------------------ extrema


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", [(s, d) for s, d in SHAPE_DIMS if 0 not in s])
@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin_ties_share_grad(op, shape, dim, keepdim):
    parity(lambda t, x: getattr(t, op)(x, **_kw(dim, keepdim)), _ties(*shape))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", NONEMPTY_INT_DIMS)
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_dim(op, shape, dim, keepdim):
    parity(lambda t, x: tuple(getattr(t, op)(x, dim, keepdim)), rand(*shape))
    out = getattr(ember, op)(ember.ones(*shape), dim, keepdim)
    assert type(out).__name__ == op and out.values is out[0] and out.indices is out[1]


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", NONEMPTY_INT_DIMS)
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_dim_ties_first_index(op, shape, dim, keepdim):
    parity(lambda t, x: tuple(getattr(t, op)(x, dim=dim, keepdim=keepdim)), _ties(*shape))


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_full_ties_and_nan(op):
    parity(lambda t, x: getattr(t, op)(x), _ties(3, 4))
    parity(lambda t, x: getattr(t, op)(x), vals([1.0, math.nan, 3.0, math.nan]))
    parity(lambda t, x: getattr(t, op)(x), rand())
    parity(
        lambda t, x: tuple(getattr(t, op)(x, 1)), vals([[1.0, math.nan, 3.0, math.nan], [1.0, 2.0, 3.0, 3.0]])
    )


@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_nan(op):
    parity(lambda t, x: getattr(t, op)(x, 1), vals([[1.0, math.nan, 3.0], [1.0, 2.0, 3.0]]))


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_binary_form(op):
    parity(lambda t, x, y: getattr(t, op)(x, y), rand(3, 4), rand(4))
    parity(lambda t, x, y: getattr(x, op)(y), rand(3, 1), rand(1, 4))


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("op", ["max", "min", "amax", "amin"])
def test_extrema_ints(op, dtype):
    spec = bools(3, 4) if dtype == "bool" else ints(3, 4, low=0, high=5, dtype=dtype)
    parity(lambda t, x: getattr(t, op)(x), spec)
    if op in ("max", "min"):
        parity(lambda t, x: tuple(getattr(t, op)(x, 1)), spec)
    else:
        parity(lambda t, x: getattr(t, op)(x, 0, True), spec)


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_aminmax(dim, keepdim):
    kw = {} if dim is None else {"dim": dim}
    parity(lambda t, x: tuple(t.aminmax(x, keepdim=keepdim, **kw)), _ties(3, 4))
    out = ember.aminmax(ember.ones(3, 4), keepdim=keepdim, **kw)
    assert type(out).__name__ == "aminmax" and out.min is out[0] and out.max is out[1]


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", [(s, d) for s, d in INT_SHAPE_DIMS if 0 not in s])
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin_first_occurrence(op, shape, dim, keepdim):
    parity(lambda t, x: getattr(t, op)(x, dim=dim, keepdim=keepdim), _ties(*shape))


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_nan_and_ints(op):
    parity(lambda t, x: getattr(t, op)(x), vals([1.0, math.nan, 3.0, math.nan]))
    parity(lambda t, x: getattr(t, op)(x, 1), vals([[1.0, math.nan, 3.0], [2.0, 2.0, 1.0]]))
    parity(lambda t, x: getattr(t, op)(x, 0), ints(4, 3, low=0, high=2))
    parity(lambda t, x: getattr(t, op)(x, 0, True), ints(4, 3, low=0, high=2, dtype="uint8"))


# ------------------------------------------------------------------------------------------ logsumexp


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", [(s, d) for s, d in SHAPE_DIMS if d is not None])
def test_logsumexp(shape, dim, keepdim):
    parity(lambda t, x: t.logsumexp(x, dim, keepdim), rand(*shape, low=-5, high=5))


@pytest.mark.parametrize(
    "data",
    [
        [[1000.0, 1000.0], [-1000.0, -999.0]],
        [[-math.inf, -math.inf], [0.0, -math.inf]],
        [[math.inf, 1.0], [math.inf, -math.inf]],
        [[math.nan, 1.0], [2.0, 3.0]],
    ],
)
def test_logsumexp_extremes(data):
    parity(lambda t, x: t.logsumexp(x, 1), vals(data, "float64"), grad=not math.isinf(data[1][0]))


def test_logsumexp_int_input_gives_float():
    parity(lambda t, x: t.logsumexp(x, 0), ints(3, 4))


# ------------------------------------------------------------------------------------------ all / any / count


@pytest.mark.parametrize("dtype", ["bool", "uint8", "float32", "int64"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("op", ["all", "any"])
def test_all_any(op, dim, dtype):
    spec = bools(3, 4, p=0.8) if dtype == "bool" else ints(3, 4, low=0, high=3, dtype=dtype)
    if dtype == "float32":
        spec = vals([[0.0, 1.0, 2.0, math.nan], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    parity(lambda t, x: getattr(t, op)(x, **_kw(dim, False)), spec, grad=False)
    parity(lambda t, x: getattr(t, op)(x, **_kw(dim, True)), spec, grad=False)


@pytest.mark.parametrize("op", ["all", "any"])
def test_all_any_empty_and_scalar(op):
    parity(lambda t, x: (getattr(t, op)(x), getattr(t, op)(x, 0)), bools(0), grad=False)
    parity(lambda t, x: getattr(t, op)(x, 1), ints(2, 0, dtype="uint8"), grad=False)
    parity(lambda t, x: getattr(t, op)(x), bools(), grad=False)
    parity(lambda t, x: getattr(t, op)(x, (0, 1)), bools(2, 3), grad=False)


@pytest.mark.parametrize("shape,dim", SHAPE_DIMS)
def test_count_nonzero(shape, dim):
    parity(lambda t, x: t.count_nonzero(x, dim), ints(*shape, low=0, high=2), grad=False)
    parity(lambda t, x: t.count_nonzero(x, dim), bools(*shape), grad=False)


# ------------------------------------------------------------------------------------------ gradcheck


@pytest.mark.parametrize(
    "fn",
    [
        lambda t, x: t.sum(x, 1),
        lambda t, x: t.mean(x, (0, 1)),
        lambda t, x: t.nansum(x, 0),
        lambda t, x: t.nanmean(x, 1, keepdim=True),
        lambda t, x: t.var(x, 1),
        lambda t, x: t.std(x, 0, correction=0),
        lambda t, x: t.var_mean(x, 1)[0] + t.var_mean(x, 1)[1],
        lambda t, x: t.std_mean(x)[0],
        lambda t, x: t.prod(x, 1),
        lambda t, x: t.prod(x),
        lambda t, x: t.amax(x, 1),
        lambda t, x: t.amin(x, (0, 1)),
        lambda t, x: t.max(x, 0).values,
        lambda t, x: t.min(x, 1, keepdim=True).values,
        lambda t, x: t.max(x),
        lambda t, x: t.aminmax(x, dim=0).max,
        lambda t, x: t.logsumexp(x, 1),
    ],
)
def test_reduce_gradcheck(fn):
    gradcheck_fn(fn, rand(3, 4))


def test_prod_gradcheck_with_zero():
    gradcheck_fn(lambda t, x: t.prod(x, 1), vals([[1.5, 0.0, 2.0], [0.0, -1.2, 0.0]]))
    gradcheck_fn(lambda t, x: t.prod(x), vals([[1.5, 0.0, 2.0], [0.7, -1.2, 1.1]]))


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "fn",
    [
        lambda t, x: t.sum(x, 2),
        lambda t, x: t.sum(x, (0, 0)),
        lambda t, x: t.mean(x, -3),
        lambda t, x: t.var(x, (1, -1)),
        lambda t, x: t.prod(x, 5),
        lambda t, x: t.amax(x, 2),
        lambda t, x: t.max(x, 2),
        lambda t, x: t.min(x, -3),
        lambda t, x: t.argmax(x, 2),
        lambda t, x: t.logsumexp(x, 3),
        lambda t, x: t.all(x, 2),
        lambda t, x: t.count_nonzero(x, 4),
        lambda t, x: t.var(x, 0, unbiased=True, correction=1),
    ],
)
def test_bad_dims_raise(fn):
    raises_like(fn, rand(3, 4))


@pytest.mark.parametrize(
    "fn,shape",
    [
        (lambda t, x: t.max(x), (0,)),
        (lambda t, x: t.min(x), (2, 0)),
        (lambda t, x: t.amax(x), (0,)),
        (lambda t, x: t.amin(x, 1), (2, 0)),
        (lambda t, x: t.max(x, 1), (2, 0)),
        (lambda t, x: t.min(x, 0), (0, 3)),
        (lambda t, x: t.argmax(x), (0,)),
        (lambda t, x: t.argmin(x, 1), (2, 0)),
        (lambda t, x: t.aminmax(x), (0,)),
        (lambda t, x: t.aminmax(x, dim=1), (2, 0)),
    ],
)
def test_empty_extrema_raise(fn, shape):
    raises_like(fn, rand(*shape), match=None)


def test_empty_extrema_messages():
    raises_like(lambda t, x: t.max(x), rand(0), match="max(): Expected reduction dim to be specified")
    raises_like(lambda t, x: t.amax(x, 1), rand(2, 0), match="amax(): Expected reduction dim 1")


def test_extrema_over_nonempty_dim_of_empty_tensor():
    parity(lambda t, x: (t.amax(x, 1), tuple(t.max(x, 1)), t.argmin(x, 1), t.logsumexp(x, 1)), rand(0, 3))


def test_argmax_bool_raises():
    raises_like(lambda t, x: t.argmax(x), bools(3))


# ------------------------------------------------------------------------------------------ properties


@st.composite
def _shape_and_dims(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=4)))
    nd = len(shape)
    if nd == 0 or draw(st.booleans()):
        dims = None
    else:
        picked = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
        dims = tuple(d - nd if draw(st.booleans()) else d for d in picked)
    return shape, dims, draw(st.booleans()), draw(st.integers(0, 2**31 - 1))


@settings(deadline=None, max_examples=30)
@given(_shape_and_dims())
def test_reductions_property(case):
    shape, dims, keepdim, seed = case
    data = np.random.default_rng(seed).uniform(-2, 2, size=shape)
    kw = {} if dims is None else {"dim": dims, "keepdim": keepdim}
    for name in ("sum", "mean", "amax", "var", "logsumexp", "nansum"):
        if name == "logsumexp" and dims is None:
            continue
        e = getattr(ember, name)(ember.tensor(data), **kw)
        t = getattr(torch, name)(torch.tensor(data), **kw)
        assert_close(e, t, what=f"{name}{kw}")


@settings(deadline=None, max_examples=30)
@given(_shape_and_dims())
def test_single_dim_reductions_property(case):
    shape, dims, keepdim, seed = case
    d = 0 if dims is None else dims[0]
    data = np.random.default_rng(seed).integers(0, 3, size=shape).astype(np.float64)
    for name in ("max", "min"):
        e = getattr(ember, name)(ember.tensor(data), d, keepdim)
        t = getattr(torch, name)(torch.tensor(data), d, keepdim)
        assert_close(tuple(e), tuple(t), what=name)
    for name in ("argmax", "argmin", "prod"):
        assert_close(
            getattr(ember, name)(ember.tensor(data), d, keepdim),
            getattr(torch, name)(torch.tensor(data), d, keepdim),
        )
