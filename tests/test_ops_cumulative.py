"""Cumulative ops against torch: cumsum, cumprod (exact gradients through zeros), cummax/cummin, logcumsumexp."""

import pytest
import torch

import ember
from tests.helpers import assert_close, gradcheck_fn, ints, parity, raises_like, rand, vals

SHAPE_DIMS = [((), 0), ((), -1), ((0,), 0), ((7,), 0), ((7,), -1), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1)]
SHAPE_DIMS += [((2, 3, 4), d) for d in (0, 1, 2, -1, -2, -3)] + [((2, 0, 3), 1), ((2, 0, 3), 2)]
FLOATS = ["float32", "float64"]


@pytest.mark.parametrize("shape,dim", SHAPE_DIMS)
@pytest.mark.parametrize("op", ["cumsum", "cumprod", "logcumsumexp"])
def test_cumulative_float32(op, shape, dim):
    parity(lambda t, x: getattr(t, op)(x, dim), rand(*shape))


@pytest.mark.parametrize("shape,dim", SHAPE_DIMS)
@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_cummin(op, shape, dim):
    parity(lambda t, x: tuple(getattr(t, op)(x, dim)), rand(*shape))


@pytest.mark.parametrize("op", ["cumsum", "cumprod", "logcumsumexp", "cummax", "cummin"])
@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_cumulative_dtypes(op, dtype):
    parity(lambda t, x: getattr(t, op)(x, 1), rand(3, 6, dtype=dtype, low=0.5, high=1.5))


@pytest.mark.parametrize("op", ["cumsum", "cumprod", "cummax", "cummin"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "int8", "uint8", "bool"])
def test_cumulative_ints(op, dtype):
    spec = (
        ints(3, 5, low=0, high=2, dtype="bool") if dtype == "bool" else ints(3, 5, low=0, high=4, dtype=dtype)
    )
    parity(lambda t, x: getattr(t, op)(x, -1), spec)


def test_cumsum_int_result_is_int64():
    parity(lambda t, x: t.cumsum(x, 0), ints(6, dtype="int32"))


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_cumsum_dtype_kwarg(dtype):
    parity(lambda t, x: t.cumsum(x, 0, dtype=getattr(t, dtype)), rand(5, requires_grad=dtype == "float64"))
    parity(lambda t, x: t.cumprod(x, 0, dtype=t.float64), ints(5, dtype="int64"))


def test_cumsum_half_accumulates_in_float32():
    # A bfloat16 accumulator would stall at 256; torch accumulates in float32 and rounds each output.
    for dt in ("float16", "bfloat16"):
        parity(lambda t, x: t.cumsum(x, 0), vals([1.0] * 300, dt), grad=False)


def test_cumsum_noncontig_and_methods():
    parity(lambda t, x: x.cumsum(0) + x.cumprod(-1), rand(3, 4, noncontig=True))
    parity(lambda t, x: (x.cummax(1).values, x.cummin(0).indices), rand(3, 4, noncontig=True))
    parity(lambda t, x: x.logcumsumexp(0), rand(3, 4, noncontig=True))


def test_cumsum_inplace_method():
    def f(t):
        x = t.tensor([[1.0, 2.0], [3.0, 4.0]])
        x.cumsum_(0)
        y = t.tensor([1, 2, 3])
        y.cumprod_(0)
        return x, y

    assert_close(f(ember), f(torch))


@pytest.mark.parametrize(
    "data",
    [
        [2.0, 0.0, 3.0, 4.0],
        [0.0, 2.0, 3.0, 4.0],
        [2.0, 3.0, 4.0, 0.0],
        [2.0, 0.0, 3.0, 0.0, 5.0],
        [0.0, 0.0, 0.0],
        [1.5, -2.0, 0.5, 3.0],
    ],
)
def test_cumprod_grad_exact_with_zeros(data):
    out = parity(lambda t, x: t.cumprod(x, 0), vals(data))
    x = ember.tensor(data, requires_grad=True)
    (g,) = ember.autograd.grad(ember.cumprod(x, 0), x, ember.ones(len(data)))
    assert bool(ember.isfinite(g).all())
    assert out.shape == (len(data),)


def test_cumprod_grad_zeros_2d_each_dim():
    spec = vals([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0], [2.0, -1.0, 0.5]])
    for d in (0, 1):
        parity(lambda t, x, d: t.cumprod(x, d), spec, d)


@pytest.mark.parametrize("data", [[2.0, 0.0, 3.0, 0.5], [0.0, 2.0, 0.0, 3.0], [1.5, 2.0, -1.0, 3.0]])
def test_cumprod_double_backward(data):
    def f(t):
        x = t.tensor([data, data[::-1]], dtype=t.float64, requires_grad=True)
        v = t.tensor([[1.0, -1.0, 2.0, 0.5], [0.3, 1.0, -2.0, 1.5]], dtype=t.float64)
        (g,) = t.autograd.grad(t.cumprod(x, 1), x, v, create_graph=True)
        (gg,) = t.autograd.grad((g * v.flip(1)).sum(), x)
        return g, gg

    assert_close(f(ember), f(torch))


@pytest.mark.parametrize(
    "data",
    [
        [1.0, 3.0, 3.0, 2.0, 3.0, 0.0],
        [1.0, float("nan"), 2.0, float("nan"), 0.0],
        [2.0, 2.0, 2.0],
        [float("-inf"), 1.0, float("inf"), 0.0],
    ],
)
@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_ties_and_nan_indices(op, data):
    parity(lambda t, x: tuple(getattr(t, op)(x, 0)), vals(data))


def test_cummax_ints_ties():
    parity(lambda t, x: tuple(t.cummax(x, 1)), ints(4, 9, low=0, high=3))
    parity(lambda t, x: tuple(t.cummin(x, 0)), ints(4, 9, low=0, high=3))


@pytest.mark.parametrize(
    "data",
    [[0.0, 1000.0, -1000.0, 5.0], [float("-inf"), 0.0, 1.0], [-50.0, -60.0, -70.0], [80.0, 90.0, 100.0]],
)
def test_logcumsumexp_extremes(data):
    parity(lambda t, x: t.logcumsumexp(x, 0), vals(data, "float64"))


@pytest.mark.parametrize(
    "fn",
    [
        lambda t, x: t.cumsum(x, 1),
        lambda t, x: t.cumsum(x, 0),
        lambda t, x: t.cumprod(x, 1),
        lambda t, x: t.cumprod(x, 0),
        lambda t, x: t.cummax(x, 1).values,
        lambda t, x: t.cummin(x, 0).values,
        lambda t, x: t.logcumsumexp(x, 1),
        lambda t, x: t.logcumsumexp(x, 0),
    ],
)
def test_cumulative_gradcheck(fn):
    gradcheck_fn(fn, rand(3, 4))


def test_cumprod_gradcheck_with_zeros():
    gradcheck_fn(lambda t, x: t.cumprod(x, 1), vals([[1.5, 0.0, 2.0, 0.7], [0.0, -1.2, 0.0, 3.0]]))


@pytest.mark.parametrize("op", ["cumsum", "cumprod", "logcumsumexp", "cummax", "cummin"])
def test_cumulative_bad_dim(op):
    raises_like(lambda t, x: getattr(t, op)(x, 2), rand(3, 4))
    raises_like(lambda t, x: getattr(t, op)(x, -3), rand(3, 4))
    raises_like(lambda t, x: getattr(t, op)(x, 1), rand())


def test_logcumsumexp_rejects_ints():
    raises_like(lambda t, x: t.logcumsumexp(x, 0), ints(4))
