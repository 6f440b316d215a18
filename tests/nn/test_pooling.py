"""Pooling against torch: max/avg/lp pools, adaptive pools, max_unpool and the pooling layers."""

import numpy as np
import pytest
import torch

import ember
from tests.helpers import gradcheck_fn, parity, raises_like, randn, vals
from tests.nn_helpers import layer_parity

NAN, INF = float("nan"), float("inf")

# ------------------------------------------------------------------------------------------ max pool

MAX2D = [
    ((2, 3, 8, 8), (2,), {}),
    ((2, 3, 9, 7), (3,), {"stride": 2, "padding": 1}),
    ((2, 3, 9, 7), (3,), {"stride": 2, "padding": 1, "ceil_mode": True}),
    ((2, 3, 9, 7), ((3, 2),), {"stride": (1, 2), "padding": (1, 1), "dilation": (2, 1)}),
    ((2, 3, 10, 10), (3,), {"stride": 1, "dilation": 2, "ceil_mode": True}),
    ((2, 3, 5, 5), (2,), {"stride": 3, "ceil_mode": True}),
    ((3, 7, 6), (2,), {"padding": 1}),  # unbatched
    ((0, 3, 4, 4), (2,), {}),  # empty batch
]


@pytest.mark.parametrize("xs,args,kw", MAX2D)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ret", [False, True])
def test_max_pool2d(xs, args, kw, dtype, ret):
    parity(
        lambda t, x: t.nn.functional.max_pool2d(x, *args, return_indices=ret, **kw), randn(*xs, dtype=dtype)
    )


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 3},
        {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
        {"kernel_size": 2, "dilation": 3, "return_indices": True},
    ],
)
def test_max_pool1d_3d(kw):
    parity(lambda t, x: t.nn.functional.max_pool1d(x, **kw), randn(2, 3, 11))
    parity(lambda t, x: t.nn.functional.max_pool1d(x, **kw), randn(3, 11, dtype="float64"))
    kw3 = dict(kw, kernel_size=2) if "dilation" in kw else kw
    parity(lambda t, x: t.nn.functional.max_pool3d(x, **kw3), randn(2, 2, 7, 6, 7))


def test_max_pool_ties_nan_inf():
    """Ties route the gradient to the first maximum; NaN wins (the last NaN); all -inf -> first in-bounds."""
    ties = vals([[[[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0], [0.0, 3.0, 3.0, 0.0], [3.0, 3.0, 0.0, 3.0]]]])
    parity(lambda t, x: t.nn.functional.max_pool2d(x, 2, return_indices=True), ties)
    parity(lambda t, x: t.nn.functional.max_pool2d(x, 3, stride=1, padding=1, return_indices=True), ties)
    special = vals([[[[-INF, 1.0, NAN], [2.0, NAN, -INF], [-INF, -INF, -INF]]]])
    parity(lambda t, x: t.nn.functional.max_pool2d(x, 2, stride=1, padding=1, return_indices=True), special)
    parity(lambda t, x: t.nn.functional.max_pool2d(x, 2, ceil_mode=True, return_indices=True), special)
    parity(
        lambda t, x: t.nn.functional.max_pool1d(x, 3, stride=2, padding=1, return_indices=True),
        vals([[[-INF, -INF, -INF, 5.0, -INF, NAN, 1.0]]]),
    )


def test_max_pool_dtypes():
    parity(
        lambda t, x: t.nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True),
        vals(np.random.default_rng(0).integers(-9, 9, (2, 2, 7, 7)), "int64"),
    )
    parity(lambda t, x: t.nn.functional.max_pool2d(x, 2), vals(-np.arange(16).reshape(1, 1, 4, 4), "int32"))
    parity(lambda t, x: t.nn.functional.max_pool2d(x, 2, padding=1), randn(2, 3, 6, 6, dtype="bfloat16"))
    parity(lambda t, x: t.nn.functional.max_pool2d(x, 2), randn(2, 3, 6, 6, dtype="float16"))
    parity(lambda t, x: t.nn.functional.max_pool2d(x, 2, stride=1), randn(2, 3, 6, 5, noncontig=True))


# ------------------------------------------------------------------------------------------ avg pool

AVG2D = [
    ((2, 3, 8, 8), (2,), {}),
    ((2, 3, 9, 7), (3,), {"stride": 2, "padding": 1}),
    ((2, 3, 9, 7), (3,), {"stride": 2, "padding": 1, "ceil_mode": True}),
    ((2, 3, 9, 7), (3,), {"stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}),
    ((2, 3, 9, 7), ((3, 2),), {"stride": (1, 2), "padding": (1, 0), "divisor_override": 5}),
    ((2, 3, 10, 10), (4,), {"stride": 3, "padding": 2, "ceil_mode": True, "count_include_pad": False}),
    ((3, 7, 6), (2,), {"padding": 1}),
    ((0, 3, 4, 4), (2,), {}),
]


@pytest.mark.parametrize("xs,args,kw", AVG2D)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_avg_pool2d(xs, args, kw, dtype):
    parity(lambda t, x: t.nn.functional.avg_pool2d(x, *args, **kw), randn(*xs, dtype=dtype))


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 3},
        {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True, "count_include_pad": False},
        {"kernel_size": 2, "padding": 1},
    ],
)
def test_avg_pool1d_3d(kw):
    parity(lambda t, x: t.nn.functional.avg_pool1d(x, **kw), randn(2, 3, 11))
    parity(lambda t, x: t.nn.functional.avg_pool1d(x, **kw), randn(3, 11, dtype="float64"))
    kw3 = dict(kw, kernel_size=2) if kw["kernel_size"] == 4 else kw
    kw3 = dict(kw3, padding=min(kw3.get("padding", 0), kw3["kernel_size"] // 2))
    parity(lambda t, x: t.nn.functional.avg_pool3d(x, **kw3), randn(2, 2, 7, 6, 7))


def test_avg_pool_dtypes():
    ints = np.random.default_rng(0).integers(-20, 20, (2, 2, 7, 7))
    parity(lambda t, x: t.nn.functional.avg_pool2d(x, 3, 2, 1), vals(ints, "int64"))
    parity(lambda t, x: t.nn.functional.avg_pool2d(x, 3, 2, 1, count_include_pad=False), vals(ints, "int64"))
    parity(lambda t, x: t.nn.functional.avg_pool2d(x, 2, padding=1), randn(2, 3, 6, 6, dtype="bfloat16"))
    parity(lambda t, x: t.nn.functional.avg_pool2d(x, 3, 1, 1), randn(2, 3, 6, 5, noncontig=True))


# ------------------------------------------------------------------------------------------ adaptive pools

ADAPTIVE = [
    ((2, 3, 8, 8), 4),
    ((2, 3, 8, 8), (1, 1)),
    ((2, 3, 9, 7), (4, 3)),
    ((2, 3, 9, 7), (None, 3)),
    ((2, 3, 5, 6), (7, 9)),
    ((3, 10, 7), (3, 2)),
    ((2, 3, 9, 7), (3, 0)),
]


@pytest.mark.parametrize("xs,out", ADAPTIVE)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adaptive_avg_pool2d(xs, out, dtype):
    # torch's backward refuses an empty output, so that case compares values only
    parity(
        lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, out),
        randn(*xs, dtype=dtype),
        grad=not (isinstance(out, tuple) and 0 in out),
    )


@pytest.mark.parametrize("xs,out", [a for a in ADAPTIVE if a[1] != (3, 0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adaptive_max_pool2d(xs, out, dtype):
    parity(
        lambda t, x: t.nn.functional.adaptive_max_pool2d(x, out, return_indices=True), randn(*xs, dtype=dtype)
    )


@pytest.mark.parametrize("n,out", [(10, 4), (10, 5), (7, 10), (5, 1)])
def test_adaptive_pool1d_3d(n, out):
    parity(lambda t, x: t.nn.functional.adaptive_avg_pool1d(x, out), randn(2, 3, n))
    parity(lambda t, x: t.nn.functional.adaptive_max_pool1d(x, out, return_indices=True), randn(2, 3, n))
    parity(lambda t, x: t.nn.functional.adaptive_max_pool1d(x, out), randn(3, n, dtype="float64"))
    parity(lambda t, x: t.nn.functional.adaptive_avg_pool3d(x, (out, 2, None)), randn(2, 2, n, 5, 3))
    parity(lambda t, x: t.nn.functional.adaptive_max_pool3d(x, (out, 2, 3), True), randn(2, 2, n, 5, 4))


def test_adaptive_max_ties_nan():
    x = vals(
        [[[[1.0, 1.0, 1.0], [1.0, NAN, 1.0], [NAN, 1.0, 1.0]], [[2.0, 2.0, 0.0], [2.0, 2.0, 0.0], [0, 0, 2]]]]
    )
    parity(lambda t, x: t.nn.functional.adaptive_max_pool2d(x, 2, return_indices=True), x)
    parity(lambda t, x: t.nn.functional.adaptive_max_pool2d(x, (3, 2), return_indices=True), x)


# ------------------------------------------------------------------------------------------ lp, unpool


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_lp_pool(p):
    parity(lambda t, x: t.nn.functional.lp_pool2d(x, p, 3), randn(2, 3, 8, 7, dtype="float64"))
    parity(lambda t, x: t.nn.functional.lp_pool2d(x, p, (2, 3), stride=1, ceil_mode=True), randn(2, 3, 6, 7))
    parity(lambda t, x: t.nn.functional.lp_pool1d(x, p, 3, stride=2), randn(2, 3, 9, dtype="float64"))


@pytest.mark.parametrize("kw", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}])
def test_max_unpool(kw):
    def fn2(t, x):
        y, i = t.nn.functional.max_pool2d(x, return_indices=True, **kw)
        return t.nn.functional.max_unpool2d(y * 2, i, output_size=x.shape[-2:], **kw)

    def fn1(t, x):
        y, i = t.nn.functional.max_pool1d(x, return_indices=True, **kw)
        return t.nn.functional.max_unpool1d(y, i, **kw)

    parity(fn2, randn(2, 3, 7, 8))
    parity(fn2, randn(0, 3, 7, 8))
    parity(fn2, randn(3, 6, 6, dtype="float64"))
    parity(fn1, randn(2, 3, 9))

    def fn3(t, x):
        y, i = t.nn.functional.max_pool3d(x, 2, return_indices=True)
        return t.nn.functional.max_unpool3d(y, i, 2)

    parity(fn3, randn(2, 2, 4, 4, 6))


# ------------------------------------------------------------------------------------------ gradients


@pytest.mark.parametrize(
    "fn,shape",
    [
        (lambda t, x: t.nn.functional.max_pool2d(x, 2, stride=1, padding=1), (1, 2, 3, 4)),
        (lambda t, x: t.nn.functional.max_pool2d(x, 3, stride=2, dilation=1, ceil_mode=True), (1, 1, 5, 6)),
        (lambda t, x: t.nn.functional.max_pool1d(x, 2, dilation=2), (2, 2, 6)),
        (
            lambda t, x: t.nn.functional.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
            (1, 2, 5, 4),
        ),
        (lambda t, x: t.nn.functional.avg_pool1d(x, 3, 2, 1), (2, 2, 6)),
        (lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, (2, 3)), (1, 2, 5, 4)),
        (lambda t, x: t.nn.functional.adaptive_max_pool2d(x, (2, 3)), (1, 2, 5, 4)),
        (lambda t, x: t.nn.functional.lp_pool2d(x, 2.0, 2), (1, 2, 4, 4)),
        (lambda t, x: t.nn.functional.max_pool3d(x, 2, padding=1), (1, 1, 3, 3, 2)),
    ],
)
def test_pool_gradcheck(fn, shape):
    gradcheck_fn(fn, randn(*shape))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: ember.nn.functional.max_pool2d(x, 2, stride=1, padding=1),
        lambda x: ember.nn.functional.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
        lambda x: ember.nn.functional.adaptive_avg_pool2d(x, (2, 3)),
        lambda x: ember.nn.functional.adaptive_max_pool2d(x, (3, 2)),
    ],
)
def test_pool_gradgradcheck(fn):
    x = ember.tensor(np.random.default_rng(3).standard_normal((1, 2, 4, 5)), requires_grad=True)
    assert ember.autograd.gradgradcheck(fn, (x,))


# ------------------------------------------------------------------------------------------ errors

POOL_ERRORS = [
    (lambda t, x: t.nn.functional.max_pool2d(x, 2), (8, 8), "tensor expected"),
    (lambda t, x: t.nn.functional.max_pool2d(x, 0), (2, 3, 8, 8), None),
    (lambda t, x: t.nn.functional.max_pool2d(x, 3, padding=2), (2, 3, 8, 8), "pad should be"),
    (lambda t, x: t.nn.functional.max_pool2d(x, 3), (2, 3, 2, 2), "Output size is too small"),
    (lambda t, x: t.nn.functional.max_pool2d(x, 2, dilation=0), (2, 3, 8, 8), "dilation"),
    (lambda t, x: t.nn.functional.max_pool2d(x, (2, 2, 2)), (2, 3, 8, 8), "kernel_size"),
    (lambda t, x: t.nn.functional.max_pool2d(x, 2.0), (2, 3, 8, 8), None),
    (lambda t, x: t.nn.functional.max_pool2d(x, 2), (2, 0, 8, 8), None),
    (lambda t, x: t.nn.functional.max_pool1d(x, 2), (8,), None),
    (lambda t, x: t.nn.functional.avg_pool2d(x, 3, padding=2), (2, 3, 8, 8), "pad should be"),
    (lambda t, x: t.nn.functional.avg_pool2d(x, 3), (2, 3, 2, 2), "Output size is too small"),
    (lambda t, x: t.nn.functional.avg_pool2d(x, 2, divisor_override=0), (2, 3, 8, 8), "divisor"),
    (lambda t, x: t.nn.functional.avg_pool1d(x, 2), (8,), "dimensions"),
    (lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, 3), (8, 8), "Expected 3D or 4D"),
    (lambda t, x: t.nn.functional.adaptive_max_pool2d(x, 3), (8, 8), "Expected 3D or 4D"),
    (lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, (1, 2, 3)), (2, 3, 8, 8), "output_size"),
    (lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, (4,)), (2, 3, 8, 8), "output_size"),
    (lambda t, x: t.nn.functional.adaptive_max_pool2d(x, (4,)), (2, 3, 8, 8), "output_size"),
    (lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, 2), (2, 3, 0, 8), "non-zero size"),
    (lambda t, x: t.nn.functional.adaptive_avg_pool1d(x, 2), (8,), "dimensions"),
    (lambda t, x: t.nn.functional.adaptive_avg_pool2d(x.long(), 2), (2, 3, 8, 8), "not implemented"),
    (lambda t, x: t.nn.functional.adaptive_max_pool2d(x.long(), 2), (2, 3, 8, 8), "not implemented"),
]


@pytest.mark.parametrize("fn,shape,match", POOL_ERRORS)
def test_pool_errors(fn, shape, match):
    raises_like(fn, randn(*shape), match=match)


def test_unpool_errors():
    def bad_size(t, x):
        y, i = t.nn.functional.max_pool2d(x, 2, return_indices=True)
        return t.nn.functional.max_unpool2d(y, i, 2, output_size=(20, 20))

    raises_like(bad_size, randn(1, 1, 4, 4))


# ------------------------------------------------------------------------------------------ layers

POOL_LAYERS = [
    (lambda nn: nn.MaxPool2d(2), (2, 3, 8, 8)),
    (lambda nn: nn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 3, 9, 7)),
    (lambda nn: nn.MaxPool2d((3, 2), stride=(1, 2), dilation=(2, 1)), (3, 9, 8)),
    (lambda nn: nn.MaxPool2d(2, return_indices=True), (2, 3, 6, 6)),
    (lambda nn: nn.MaxPool1d(3, stride=2, padding=1), (2, 3, 9)),
    (lambda nn: nn.MaxPool1d(2, return_indices=True), (3, 8)),
    (lambda nn: nn.MaxPool3d(2, padding=1), (2, 2, 4, 5, 3)),
    (lambda nn: nn.AvgPool2d(2), (2, 3, 8, 8)),
    (lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 3, 9, 7)),
    (lambda nn: nn.AvgPool2d((2, 3), divisor_override=4), (3, 6, 6)),
    (lambda nn: nn.AvgPool1d(3, 2, 1), (2, 3, 9)),
    (lambda nn: nn.AvgPool1d(2), (3, 8)),
    (lambda nn: nn.AvgPool3d(2, stride=1), (2, 2, 4, 5, 3)),
    (lambda nn: nn.AdaptiveAvgPool2d((3, None)), (2, 3, 9, 7)),
    (lambda nn: nn.AdaptiveAvgPool2d(1), (2, 3, 9, 7)),
    (lambda nn: nn.AdaptiveAvgPool1d(4), (2, 3, 10)),
    (lambda nn: nn.AdaptiveAvgPool3d((2, 3, 1)), (2, 2, 5, 6, 4)),
    (lambda nn: nn.AdaptiveMaxPool2d((3, 4)), (2, 3, 9, 7)),
    (lambda nn: nn.AdaptiveMaxPool2d(2, return_indices=True), (3, 6, 6)),
    (lambda nn: nn.AdaptiveMaxPool1d(3), (2, 3, 10)),
    (lambda nn: nn.AdaptiveMaxPool3d(2), (2, 2, 5, 6, 4)),
    (lambda nn: nn.LPPool2d(2, 3, stride=2), (2, 3, 9, 7)),
    (lambda nn: nn.LPPool1d(3, 2), (2, 3, 8)),
]


@pytest.mark.parametrize("make,shape", POOL_LAYERS)
@pytest.mark.parametrize("dtype", [None, "float64"])
def test_pool_layer_parity(make, shape, dtype):
    layer_parity(make, randn(*shape, dtype=dtype or "float32"), dtype=dtype)
    assert repr(make(ember.nn)) == repr(make(torch.nn))


@pytest.mark.parametrize("cls", ["MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"])
def test_unpool_layers(cls):
    d = int(cls[-2])
    pool = {1: "max_pool1d", 2: "max_pool2d", 3: "max_pool3d"}[d]

    def call(layer, x):
        mod = torch if isinstance(x, torch.Tensor) else ember
        y, i = getattr(mod.nn.functional, pool)(x, 2, return_indices=True)
        return layer(y, i)

    layer_parity(lambda nn: getattr(nn, cls)(2), randn(2, 2, *([4] * d)), call=call)
    assert repr(getattr(ember.nn, cls)(3, 2, 1)) == repr(getattr(torch.nn, cls)(3, 2, 1))


def test_pool_layers_compose_with_conv():
    """A small LeNet-style stack: Conv -> ReLU -> MaxPool -> Conv -> AvgPool -> AdaptiveAvgPool -> Flatten."""

    def make(nn):
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3),
            nn.AvgPool2d(2, ceil_mode=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    layer_parity(make, randn(3, 1, 12, 12))


def test_max_pool_backward_with_nonfinite_gradients():
    """inf / NaN in the incoming gradient reach only the argmax positions (no 0 * inf elsewhere)."""

    def fn(t, x):
        y = t.nn.functional.max_pool2d(x, 2, stride=1)
        g = t.zeros_like(y)
        g[0, 0, 0, 0] = float("inf")
        g[0, 0, 1, 1] = float("nan")
        (gx,) = t.autograd.grad(y, x, g)
        return gx

    parity(fn, randn(1, 1, 3, 3), grad=False)
