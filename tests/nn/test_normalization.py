"""Normalization layers and functionals against torch: batch/instance/layer/group/RMS norm, normalize, LRN."""

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.nn.functional.normalization import _layer_norm_reference
from tests.helpers import assert_close, gradcheck_fn, parity, raises_like, rand, randn, vals
from tests.nn_helpers import copy_state, layer_parity

# ------------------------------------------------------------------------------------------- layer norm


@pytest.mark.parametrize(
    "shape,ns",
    [
        ((4, 8), (8,)),
        ((2, 3, 4), (4,)),
        ((2, 3, 4), (3, 4)),
        ((5,), (5,)),
        ((0, 6), (6,)),
        ((2, 1, 3), (1, 3)),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_norm_module(shape, ns, dtype):
    layer_parity(lambda nn: nn.LayerNorm(ns), randn(*shape, dtype=dtype), dtype=dtype)


@pytest.mark.parametrize("kw", [{"elementwise_affine": False}, {"bias": False}, {"eps": 1e-2}])
def test_layer_norm_module_options(kw):
    layer_parity(lambda nn: nn.LayerNorm((3, 4), **kw), randn(2, 3, 4))
    layer_parity(lambda nn: nn.LayerNorm(4, **kw), randn(6, 4, noncontig=True))


def test_layer_norm_module_trained_params():
    # non-trivial weight/bias (copied from torch) so their gradients are exercised
    def make(nn):
        layer = nn.LayerNorm(6)
        if nn is torch.nn:
            with torch.no_grad():
                layer.weight.uniform_(-2, 2)
                layer.bias.uniform_(-1, 1)
        return layer

    layer_parity(make, randn(3, 5, 6, scale=4.0))


def test_layer_norm_bfloat16():
    layer_parity(lambda nn: nn.LayerNorm(16), randn(4, 16, dtype="bfloat16"), dtype="bfloat16")
    parity(
        lambda t, x, w, b: t.nn.functional.layer_norm(x, (8,), w, b),
        randn(3, 8, dtype="bfloat16"),
        randn(8, dtype="bfloat16"),
        randn(8, dtype="bfloat16"),
    )
    # bfloat16 input with float32 parameters (torch's CPU mixed-dtype rule; torch rounds the parameter
    # gradients through bfloat16, ember keeps them in float32)
    parity(
        lambda t, x, w, b: t.nn.functional.layer_norm(x, (8,), w, b),
        randn(3, 8, dtype="bfloat16"),
        randn(8),
        randn(8),
        grad_rtol=2e-2,
        grad_atol=2e-2,
    )


@pytest.mark.parametrize("noncontig", [False, True])
def test_layer_norm_functional(noncontig):
    parity(
        lambda t, x, w, b: t.nn.functional.layer_norm(x, (5,), w, b, eps=1e-3),
        randn(3, 4, 5, noncontig=noncontig),
        randn(5),
        randn(5),
    )
    parity(
        lambda t, x, w: t.nn.functional.layer_norm(x, [4, 5], w),
        randn(2, 4, 5, noncontig=noncontig),
        randn(4, 5),
    )
    parity(lambda t, x: t.nn.functional.layer_norm(x, t.Size([5])), randn(7, 5, noncontig=noncontig))


def test_layer_norm_extreme_values():
    parity(
        lambda t, x: t.nn.functional.layer_norm(x, (4,)), vals([[1e4, -1e4, 0.0, 3.0], [2.0, 2.0, 2.0, 2.0]])
    )
    parity(lambda t, x: t.nn.functional.layer_norm(x, (3,)), randn(4, 3, dtype="float64", scale=1e3))


def test_layer_norm_fused_matches_composition():
    x = ember.randn(6, 10, dtype=ember.float64, requires_grad=True)
    w = ember.randn(10, dtype=ember.float64, requires_grad=True)
    b = ember.randn(10, dtype=ember.float64, requires_grad=True)
    g = ember.randn(6, 10, dtype=ember.float64)
    fused = F.layer_norm(x, (10,), w, b)
    ref = _layer_norm_reference(x, (10,), w, b)
    np.testing.assert_allclose(fused.detach().cpu().numpy(), ref.detach().cpu().numpy(), rtol=1e-12, atol=1e-12)
    for a, c in zip(ember.autograd.grad(fused, [x, w, b], g), ember.autograd.grad(ref, [x, w, b], g)):
        np.testing.assert_allclose(a.cpu().numpy(), c.cpu().numpy(), rtol=1e-10, atol=1e-12)
    assert type(fused.grad_fn).__name__ == "NativeLayerNormBackward0"


def test_layer_norm_gradchecks():
    gradcheck_fn(
        lambda t, x, w, b: t.nn.functional.layer_norm(x, (4,), w, b), randn(3, 4), randn(4), randn(4)
    )
    gradcheck_fn(lambda t, x: t.nn.functional.layer_norm(x, (2, 3)), randn(2, 2, 3))
    x = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    w = ember.randn(4, dtype=ember.float64, requires_grad=True)
    b = ember.randn(4, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradgradcheck(lambda x, w, b: F.layer_norm(x, (4,), w, b), (x, w, b))
    assert ember.autograd.gradgradcheck(
        lambda x: F.layer_norm(x, (2, 2)), (ember.randn(2, 2, 2, dtype=ember.float64, requires_grad=True),)
    )


def test_layer_norm_double_backward_parity():
    def fn(t, x, w):
        y = t.nn.functional.layer_norm(x, (4,), w)
        (gx,) = t.autograd.grad((y * y * y).sum(), x, create_graph=True)
        return gx

    parity(fn, randn(3, 4, dtype="float64"), randn(4, dtype="float64"))


def test_layer_norm_saved_input_modified_in_place():
    x = ember.randn(3, 4, requires_grad=True)
    h = x * 1
    y = F.layer_norm(h, (4,))
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_layer_norm_errors():
    raises_like(lambda t, x: t.nn.functional.layer_norm(x, (5,)), rand(3, 4), match="normalized_shape=[5]")
    raises_like(lambda t, x: t.nn.functional.layer_norm(x, (3, 5)), rand(3, 4, 5), match="[*, 3, 5]")
    raises_like(lambda t, x, w: t.nn.functional.layer_norm(x, (4,), w), rand(3, 4), rand(3), match="weight")
    raises_like(
        lambda t, x, b: t.nn.functional.layer_norm(x, (4,), None, b), rand(3, 4), rand(2), match="bias"
    )
    raises_like(lambda t, x: t.nn.functional.layer_norm(x, (4,)), vals([[1, 2, 3, 4]], dtype="int64"))
    raises_like(lambda t, x: t.nn.functional.layer_norm(x, ()), rand(3, 4), match="at least 1-dimensional")
    raises_like(
        lambda t, x, w: t.nn.functional.layer_norm(x, (4,), w),
        rand(3, 4),
        rand(4, dtype="float64"),
        match="mixed dtype",
    )


# -------------------------------------------------------------------------------------------- RMS norm


@pytest.mark.parametrize("shape,ns", [((4, 8), 8), ((2, 3, 4), (3, 4)), ((6,), 6)])
@pytest.mark.parametrize("eps", [None, 1e-3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rms_norm_module(shape, ns, eps, dtype):
    layer_parity(lambda nn: nn.RMSNorm(ns, eps=eps), randn(*shape, dtype=dtype), dtype=dtype)


def test_rms_norm_options_and_functional():
    layer_parity(lambda nn: nn.RMSNorm(5, elementwise_affine=False), randn(3, 5, noncontig=True))
    layer_parity(lambda nn: nn.RMSNorm(16), randn(4, 16, dtype="bfloat16"), dtype="bfloat16")
    parity(lambda t, x, w: t.nn.functional.rms_norm(x, (5,), w), randn(3, 5), randn(5))
    parity(lambda t, x: t.nn.functional.rms_norm(x, [2, 5], eps=1e-2), randn(3, 2, 5))
    parity(lambda t, x: t.nn.functional.rms_norm(x, (4,)), vals([[1e-3, 1e-3, 1e-3, 1e-3]]))
    parity(lambda t, x: t.nn.functional.rms_norm(x, (4,)), vals([[1e-3, 1e-3, 1e-3, 1e-3]], dtype="bfloat16"))
    gradcheck_fn(lambda t, x, w: t.nn.functional.rms_norm(x, (3,), w), randn(2, 3), randn(3))
    assert ember.autograd.gradgradcheck(
        lambda x, w: F.rms_norm(x, (3,), w),
        (
            ember.randn(2, 3, dtype=ember.float64, requires_grad=True),
            ember.randn(3, dtype=ember.float64, requires_grad=True),
        ),
    )
    raises_like(lambda t, x: t.nn.functional.rms_norm(x, (5,)), rand(3, 4), match="[*5]")
    raises_like(lambda t, x: t.nn.functional.rms_norm(x, (4,)), vals([[1, 2, 3, 4]], dtype="int64"))


# ------------------------------------------------------------------------------------------ batch norm


@pytest.mark.parametrize(
    "cls,shape",
    [
        ("BatchNorm1d", (8, 3)),
        ("BatchNorm1d", (4, 3, 5)),
        ("BatchNorm2d", (2, 3, 4, 5)),
        ("BatchNorm3d", (2, 3, 2, 3, 2)),
    ],
)
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"affine": False},
        {"track_running_stats": False},
        {"momentum": None},
        {"momentum": 0.5, "eps": 1e-3},
    ],
)
def test_batch_norm_module(cls, shape, kw):
    layer_parity(lambda nn: getattr(nn, cls)(3, **kw), randn(*shape))


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (6, 4)), ("BatchNorm2d", (3, 4, 3, 3))])
def test_batch_norm_module_float64_and_bias_false(cls, shape):
    layer_parity(lambda nn: getattr(nn, cls)(4), randn(*shape, dtype="float64", scale=3.0), dtype="float64")
    layer_parity(lambda nn: getattr(nn, cls)(4, bias=False), randn(*shape))


@pytest.mark.parametrize("momentum", [0.1, None, 0.7])
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (5, 3)), ("BatchNorm2d", (2, 3, 4, 4))])
def test_batch_norm_running_stats_evolve(momentum, cls, shape):
    t_layer = getattr(torch.nn, cls)(3, momentum=momentum)
    e_layer = getattr(ember.nn, cls)(3, momentum=momentum)
    copy_state(t_layer, e_layer)
    for step in range(4):
        x = randn(*shape, scale=1.0 + step, requires_grad=False)
        shift = float(step)
        t_out = t_layer(x.build(torch)[1] + shift)
        e_out = e_layer(x.build(ember)[1] + shift)
        assert_close(e_out, t_out, what=f"step {step} output")
        for (name, tb), (_, eb) in zip(t_layer.named_buffers(), e_layer.named_buffers()):
            assert_close(eb, tb, what=f"step {step} buffer {name}")
    t_layer.eval()
    e_layer.eval()
    x = randn(*shape, requires_grad=False)
    assert_close(e_layer(x.build(ember)[1]), t_layer(x.build(torch)[1]), what="eval output")
    assert int(e_layer.num_batches_tracked) == 4


def test_batch_norm_functional():
    def train(t, x, w, b):
        rm = t.zeros(4, dtype=x.dtype)
        rv = t.ones(4, dtype=x.dtype)
        y = t.nn.functional.batch_norm(x, rm, rv, w, b, training=True, momentum=0.3)
        return y, rm, rv

    parity(train, randn(5, 4, 3), randn(4), randn(4))
    parity(
        train,
        randn(5, 4, 3, dtype="float64", noncontig=True),
        randn(4, dtype="float64"),
        randn(4, dtype="float64"),
    )

    def evaluate(t, x, rm, rv, w, b):
        return t.nn.functional.batch_norm(x, rm, rv, w, b, training=False)

    parity(evaluate, randn(5, 4, 2), randn(4, requires_grad=False), positive(4), randn(4), randn(4))
    parity(lambda t, x: t.nn.functional.batch_norm(x, None, None, training=True), randn(6, 2))
    parity(
        lambda t, x: t.nn.functional.batch_norm(x, None, None, training=True),
        randn(3, 2, 4, dtype="bfloat16"),
    )
    parity(lambda t, x, w: t.nn.functional.batch_norm(x, None, None, w, training=True), randn(0, 3), randn(3))


def positive(*shape, **kw):
    from tests.helpers import positive as _positive

    return _positive(*shape, requires_grad=False, **kw)


def test_batch_norm_gradchecks():
    gradcheck_fn(
        lambda t, x, w, b: t.nn.functional.batch_norm(x, None, None, w, b, training=True),
        randn(3, 2, 2),
        randn(2),
        randn(2),
    )
    gradcheck_fn(
        lambda t, x, w, b: t.nn.functional.batch_norm(
            x, t.zeros(2, dtype=x.dtype), t.ones(2, dtype=x.dtype), w, b, training=False
        ),
        randn(3, 2),
        randn(2),
        randn(2),
    )
    assert ember.autograd.gradgradcheck(
        lambda x, w: F.batch_norm(x, None, None, w, training=True),
        (
            ember.randn(3, 2, dtype=ember.float64, requires_grad=True),
            ember.randn(2, dtype=ember.float64, requires_grad=True),
        ),
    )


def test_batch_norm_errors():
    raises_like(
        lambda t, x: t.nn.functional.batch_norm(x, None, None, training=True),
        rand(1, 3),
        match="more than 1 value per channel",
    )
    raises_like(
        lambda t, x: t.nn.functional.batch_norm(x, t.zeros(4), t.ones(4), training=True),
        rand(2, 3),
        match="running_mean should contain 3 elements not 4",
    )
    raises_like(
        lambda t, x: t.nn.functional.batch_norm(x, None, None, training=False),
        rand(2, 3),
        match="running_mean must be defined",
    )
    raises_like(
        lambda t, x: t.nn.functional.batch_norm(x, None, None, t.ones(4), training=True),
        rand(2, 3),
        match="weight should contain 3 elements",
    )
    raises_like(
        lambda t, x: t.nn.functional.batch_norm(x, None, None, training=True, eps=0.0),
        rand(3, 2),
        match="eps must be positive",
    )
    raises_like(lambda t, x: t.nn.functional.batch_norm(x, None, None, training=True), rand(3))
    raises_like(
        lambda t, x: t.nn.BatchNorm1d(3)(x), rand(2, 3, 4, 5), match="expected 2D or 3D input (got 4D input)"
    )
    raises_like(lambda t, x: t.nn.BatchNorm2d(3)(x), rand(2, 3, 4), match="expected 4D input (got 3D input)")
    raises_like(
        lambda t, x: t.nn.BatchNorm3d(3)(x), rand(2, 3, 4, 2), match="expected 5D input (got 4D input)"
    )


def test_batch_norm_state_dict_and_legacy_checkpoint():
    e = ember.nn.BatchNorm2d(3)
    assert list(e.state_dict().keys()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert e.num_batches_tracked.dtype == ember.int64
    sd = {k: v for k, v in e.state_dict().items() if k != "num_batches_tracked"}  # pre-0.4 checkpoint
    e.load_state_dict(sd)  # version-1 metadata is absent: the missing key is filled in
    assert list(ember.nn.BatchNorm1d(3, track_running_stats=False).state_dict().keys()) == ["weight", "bias"]


# --------------------------------------------------------------------------------------- instance norm


@pytest.mark.parametrize(
    "cls,shape",
    [("InstanceNorm1d", (2, 3, 5)), ("InstanceNorm2d", (2, 3, 4, 3)), ("InstanceNorm3d", (1, 3, 2, 3, 2))],
)
@pytest.mark.parametrize(
    "kw", [{}, {"affine": True}, {"track_running_stats": True}, {"affine": True, "track_running_stats": True}]
)
def test_instance_norm_module(cls, shape, kw):
    layer_parity(lambda nn: getattr(nn, cls)(3, **kw), randn(*shape))


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 5)), ("InstanceNorm2d", (3, 4, 3))])
def test_instance_norm_unbatched(cls, shape):
    layer_parity(lambda nn: getattr(nn, cls)(3, affine=True, track_running_stats=True), randn(*shape))


def test_instance_norm_functional_and_errors():
    def fn(t, x, w, b):
        rm = t.zeros(3, dtype=x.dtype)
        rv = t.ones(3, dtype=x.dtype)
        y = t.nn.functional.instance_norm(x, rm, rv, w, b, momentum=0.2)
        return y, rm, rv

    parity(fn, randn(2, 3, 4), randn(3), randn(3))
    parity(fn, randn(2, 3, 4, 2, dtype="float64"), randn(3, dtype="float64"), randn(3, dtype="float64"))
    gradcheck_fn(lambda t, x, w: t.nn.functional.instance_norm(x, weight=w), randn(2, 2, 3), randn(2))
    raises_like(
        lambda t, x: t.nn.functional.instance_norm(x), rand(2, 3, 1), match="more than 1 spatial element"
    )
    raises_like(lambda t, x: t.nn.functional.instance_norm(x, use_input_stats=False), rand(2, 3, 4))
    raises_like(lambda t, x: t.nn.InstanceNorm1d(3)(x), rand(2, 3, 4, 5), match="expected 2D or 3D input")
    raises_like(lambda t, x: t.nn.InstanceNorm1d(4, affine=True)(x), rand(2, 3, 4), match="num_features")


# ------------------------------------------------------------------------------------------ group norm


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
@pytest.mark.parametrize("shape", [(2, 6, 5), (3, 6), (2, 6, 3, 2)])
def test_group_norm_module(groups, shape):
    # one element per group normalises to exactly 0 in ember; torch leaves ~1e-5 of rounding noise
    atol = 1e-4 if groups == 6 and len(shape) == 2 else None
    layer_parity(lambda nn: nn.GroupNorm(groups, 6), randn(*shape), atol=atol, grad_atol=atol)


def test_group_norm_options_and_functional():
    layer_parity(lambda nn: nn.GroupNorm(2, 4, affine=False), randn(2, 4, 3))
    layer_parity(lambda nn: nn.GroupNorm(2, 4, bias=False), randn(2, 4, 3, dtype="float64"), dtype="float64")
    parity(
        lambda t, x, w, b: t.nn.functional.group_norm(x, 2, w, b, eps=1e-3),
        randn(3, 4, 5, noncontig=True),
        randn(4),
        randn(4),
    )
    parity(lambda t, x: t.nn.functional.group_norm(x, 2), randn(2, 4, 6, dtype="bfloat16"))
    gradcheck_fn(
        lambda t, x, w, b: t.nn.functional.group_norm(x, 2, w, b), randn(2, 4, 2), randn(4), randn(4)
    )
    assert ember.autograd.gradgradcheck(
        lambda x, w: F.group_norm(x, 2, w),
        (
            ember.randn(2, 4, 2, dtype=ember.float64, requires_grad=True),
            ember.randn(4, dtype=ember.float64, requires_grad=True),
        ),
    )


def test_group_norm_errors():
    raises_like(lambda t, x: t.nn.functional.group_norm(x, 4), rand(2, 6, 3), match="divisible by num_groups")
    raises_like(lambda t, x: t.nn.functional.group_norm(x, 2), rand(6), match="at least 2 dimensions")
    raises_like(
        lambda t, x, w: t.nn.functional.group_norm(x, 2, w),
        rand(2, 6, 3),
        rand(5),
        match="Expected weight to be a vector",
    )
    raises_like(
        lambda t, x: t.nn.functional.group_norm(x, 6), rand(1, 6), match="more than 1 value per channel"
    )
    with pytest.raises(ValueError, match="must be divisible by num_groups"):
        ember.nn.GroupNorm(4, 6)


# ---------------------------------------------------------------------------------- normalize, LRN


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, float("inf")])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_normalize(p, dim):
    parity(lambda t, x: t.nn.functional.normalize(x, p=p, dim=dim), randn(3, 4))
    parity(lambda t, x: t.nn.functional.normalize(x, p=p, dim=dim, eps=0.5), randn(3, 4, 2, noncontig=True))


def test_normalize_edge_cases():
    parity(lambda t, x: t.nn.functional.normalize(x), vals([[0.0, 0.0], [3.0, 4.0]]))
    gradcheck_fn(lambda t, x: t.nn.functional.normalize(x, dim=0), randn(3, 2))
    raises_like(lambda t, x: t.nn.functional.normalize(x), vals([[1, 2]], dtype="int64"))


@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("shape", [(2, 6, 4), (2, 5, 3, 3), (1, 4, 2, 2, 2)])
def test_local_response_norm(size, shape):
    layer_parity(lambda nn: nn.LocalResponseNorm(size, alpha=0.1, beta=0.6, k=2.0), randn(*shape, scale=2.0))


def test_local_response_norm_functional():
    parity(lambda t, x: t.nn.functional.local_response_norm(x, 3), randn(2, 4, 5, dtype="float64"))
    parity(lambda t, x: t.nn.functional.local_response_norm(x, 2), randn(0, 4, 5))
    gradcheck_fn(lambda t, x: t.nn.functional.local_response_norm(x, 3, alpha=0.5), randn(1, 3, 2))
    raises_like(lambda t, x: t.nn.functional.local_response_norm(x, 3), rand(3, 4), match="3D or higher")


# ---------------------------------------------------------------------------------- module surface


MODULES = [
    lambda nn: nn.BatchNorm1d(3),
    lambda nn: nn.BatchNorm2d(4, eps=1e-3, momentum=None, affine=False),
    lambda nn: nn.BatchNorm3d(2, track_running_stats=False, bias=False),
    lambda nn: nn.InstanceNorm1d(3),
    lambda nn: nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
    lambda nn: nn.InstanceNorm3d(2, momentum=0.3),
    lambda nn: nn.LayerNorm(5),
    lambda nn: nn.LayerNorm([2, 3], eps=1e-6, elementwise_affine=False),
    lambda nn: nn.LayerNorm(4, bias=False),
    lambda nn: nn.GroupNorm(2, 4),
    lambda nn: nn.GroupNorm(1, 3, affine=False),
    lambda nn: nn.RMSNorm(4),
    lambda nn: nn.RMSNorm([2, 2], eps=1e-5, elementwise_affine=False),
    lambda nn: nn.LocalResponseNorm(3),
]


@pytest.mark.parametrize("make", MODULES)
def test_repr_state_dict_and_init(make):
    t_layer, e_layer = make(torch.nn), make(ember.nn)
    assert repr(e_layer) == repr(t_layer)
    assert list(e_layer.state_dict().keys()) == list(t_layer.state_dict().keys())
    for (k, tv), (_, ev) in zip(t_layer.state_dict().items(), e_layer.state_dict().items()):
        assert_close(ev, tv, what=k)  # default init: weight 1, bias 0, running stats 0 / 1 / 0
    e64 = e_layer.to(ember.float64)
    for k, v in e64.state_dict().items():
        assert v.dtype == (ember.int64 if k == "num_batches_tracked" else ember.float64), k


def test_to_float64_then_forward():
    e = ember.nn.BatchNorm1d(3).to(ember.float64)
    y = e(ember.randn(4, 3, dtype=ember.float64))
    assert y.dtype == ember.float64 and e.running_mean.dtype == ember.float64
