"""Dropout family: random streams differ from torch, so the tests check statistics and exact structure:
fraction zeroed, the 1/(1-p) scaling, eval/p=0 identity, p=1, gradient == mask * scale, channel-wise masks,
in-place variants, reproducibility under ember.manual_seed, argument errors and module surface."""

import math

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from tests.helpers import gradcheck_fn, ints, parity, raises_like, rand, randn
from tests.nn_helpers import layer_parity

DROPOUTS = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]
SHAPE = {
    "dropout": (64, 50),
    "dropout1d": (16, 40, 6),
    "dropout2d": (16, 40, 3, 2),
    "dropout3d": (8, 40, 2, 2, 2),
    "alpha_dropout": (64, 50),
    "feature_alpha_dropout": (16, 40, 3),
}


def _x(shape, dtype=ember.float32):
    return (ember.rand(*shape, dtype=dtype) + 0.5).requires_grad_(True)  # no zeros in the input


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_dropout_statistics_scale_and_grad(p, dtype):
    ember.manual_seed(0)
    x = _x((200, 100), dtype)
    y = F.dropout(x, p)
    mask = y.detach() != 0
    frac = 1 - float(mask.float().mean())
    assert abs(frac - p) < 4 * math.sqrt(p * (1 - p) / x.numel()) + 1e-3
    kept = mask.cpu().numpy()
    np.testing.assert_allclose(y.detach().cpu().numpy()[kept], x.detach().cpu().numpy()[kept] / (1 - p), rtol=1e-6)
    assert y.dtype == dtype
    g = ember.randn(200, 100, dtype=dtype)
    (gx,) = ember.autograd.grad(y, x, g)
    np.testing.assert_allclose(gx.cpu().numpy(), (g * mask.to(dtype) / (1 - p)).cpu().numpy(), rtol=1e-6)


@pytest.mark.parametrize("fn", ["dropout1d", "dropout2d", "dropout3d"])
@pytest.mark.parametrize("p", [0.25, 0.6])
def test_channel_dropout_masks_whole_channels(fn, p):
    ember.manual_seed(1)
    x = _x(SHAPE[fn])
    y = getattr(F, fn)(x, p)
    flat = y.detach().cpu().numpy().reshape(x.shape[0], x.shape[1], -1)
    zero = (flat == 0).all(-1)
    assert ((flat != 0).all(-1) | zero).all(), "a channel is partly dropped"
    assert abs(zero.mean() - p) < 4 * math.sqrt(p * (1 - p) / zero.size) + 1e-3
    scale = flat / x.detach().cpu().numpy().reshape(flat.shape)
    np.testing.assert_allclose(scale[~zero], 1 / (1 - p), rtol=1e-5)
    g = ember.randn(*x.shape)
    (gx,) = ember.autograd.grad(y, x, g)
    np.testing.assert_allclose(gx.cpu().numpy(), g.cpu().numpy() * scale.reshape(x.shape), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn,shape", [("dropout1d", (5, 7)), ("dropout3d", (5, 2, 2, 3))])
def test_channel_dropout_unbatched(fn, shape):
    ember.manual_seed(2)
    x = _x(shape)
    y = getattr(F, fn)(x, 0.5)
    assert tuple(y.shape) == shape
    flat = y.detach().cpu().numpy().reshape(shape[0], -1)
    assert ((flat == 0).all(-1) | (flat != 0).all(-1)).all()


@pytest.mark.parametrize("fn", ["alpha_dropout", "feature_alpha_dropout"])
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_alpha_dropout_affine_structure(fn, p):
    ember.manual_seed(3)
    alpha = 1.7580993408473766
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    b_drop = -alpha * a + alpha * a * p  # value a dropped unit takes
    x = _x(SHAPE[fn], ember.float64)
    y = getattr(F, fn)(x, p, training=True)
    yn, xn = y.detach().cpu().numpy(), x.detach().cpu().numpy()
    dropped = np.isclose(yn, b_drop)
    kept_ok = np.isclose(yn, xn * a + alpha * a * p)
    assert (dropped | kept_ok).all()
    assert abs(dropped.mean() - p) < 0.05
    g = ember.randn(*x.shape, dtype=ember.float64)
    (gx,) = ember.autograd.grad(y, x, g)
    np.testing.assert_allclose(gx.cpu().numpy(), g.cpu().numpy() * np.where(dropped, 0.0, a), rtol=1e-10)
    # SELU-normalised input keeps (approximately) zero mean and unit variance
    z = ember.randn(400, 100, dtype=ember.float64)
    out = F.alpha_dropout(z, p, training=True)
    assert abs(float(out.mean())) < 0.05 and abs(float(out.std()) - 1) < 0.05


@pytest.mark.parametrize("fn", DROPOUTS)
def test_eval_and_p0_return_input(fn):
    x = _x(SHAPE[fn])
    assert getattr(F, fn)(x, 0.5, training=False) is x
    assert getattr(F, fn)(x, 0.0, training=True) is x
    parity(lambda t, x: getattr(t.nn.functional, fn)(x, 0.3, training=False), rand(*SHAPE[fn]))


@pytest.mark.parametrize("fn", DROPOUTS)
def test_p1_zeroes_everything(fn):
    # p == 1: input * 0 (gradient 0), as torch; nan stays nan
    parity(lambda t, x: getattr(t.nn.functional, fn)(x, 1.0, training=True), rand(*SHAPE[fn]))
    x = ember.tensor([[float("nan"), 1.0], [2.0, 3.0]])
    assert np.isnan(F.dropout(x, 1.0).cpu().numpy()[0, 0])


@pytest.mark.parametrize(
    "fn", ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]
)
def test_inplace(fn):
    ember.manual_seed(4)
    base = ember.rand(*SHAPE[fn]) + 0.5
    x = base.clone()
    ember.manual_seed(5)
    ref = getattr(F, fn)(base, 0.4, training=True)
    ember.manual_seed(5)
    out = getattr(F, fn)(x, 0.4, training=True, inplace=True)
    assert out is x or out._data.base is x._data or np.shares_memory(out.cpu().numpy(), x.cpu().numpy())
    np.testing.assert_allclose(x.cpu().numpy(), ref.cpu().numpy(), rtol=1e-6)


def test_inplace_on_leaf_requiring_grad_raises():
    raises_like(lambda t, x: t.nn.functional.dropout(x, 0.5, inplace=True), rand(4, 4))
    # through a non-leaf it is fine and the gradient is the mask * scale
    ember.manual_seed(6)
    x = _x((30, 30))
    h = x * 1
    y = F.dropout(h, 0.5, inplace=True)
    (gx,) = ember.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(gx.cpu().numpy(), (y.detach() != 0).float().cpu().numpy() * 2.0)


def test_reproducible_with_manual_seed_and_generator_state():
    ember.manual_seed(123)
    a = F.dropout(ember.ones(50, 50), 0.5)
    ember.manual_seed(123)
    b = F.dropout(ember.ones(50, 50), 0.5)
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    state = ember.get_rng_state()
    c = F.dropout2d(ember.ones(4, 8, 3, 3), 0.5)
    ember.set_rng_state(state)
    d = F.dropout2d(ember.ones(4, 8, 3, 3), 0.5)
    np.testing.assert_array_equal(c.cpu().numpy(), d.cpu().numpy())
    assert not np.array_equal(F.dropout(ember.ones(50, 50), 0.5).cpu().numpy(), a.cpu().numpy())  # the stream moves on


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision(dtype):
    ember.manual_seed(7)
    x = ember.ones(100, 100, dtype=getattr(ember, dtype))
    y = F.dropout(x, 0.5)
    assert y.dtype == x.dtype
    vals = set(np.unique(y.float().cpu().numpy()).tolist())
    assert vals == {0.0, 2.0}


def test_empty_and_scalar_inputs():
    parity(lambda t, x: t.nn.functional.dropout(x, 0.5), rand(0, 3))
    ember.manual_seed(8)
    s = F.dropout(ember.tensor(3.0), 0.5)
    assert float(s) in (0.0, 6.0)


@pytest.mark.parametrize("fn", DROPOUTS)
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_bad_p(fn, p):
    raises_like(lambda t, x: getattr(t.nn.functional, fn)(x, p), rand(2, 3, 4, 5), match="between 0 and 1")


def test_shape_errors_and_warnings():
    raises_like(lambda t, x: t.nn.functional.dropout1d(x), rand(2, 3, 4, 5), match="Expected 2D or 3D input")
    raises_like(
        lambda t, x: t.nn.functional.dropout(x, 0.5), ints(3, 3, low=1, high=5), match="can't be cast"
    )
    raises_like(lambda t, x: t.nn.functional.feature_alpha_dropout(x, 0.5, True), rand(4))
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        F.dropout2d(ember.ones(2, 3, 4))
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout3d"):
        F.dropout3d(ember.ones(2, 3), training=False)


MODULES = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]
MOD_SHAPE = {
    "Dropout": (6, 5),
    "Dropout1d": (4, 3, 5),
    "Dropout2d": (2, 3, 4, 4),
    "Dropout3d": (2, 3, 2, 2, 2),
    "AlphaDropout": (6, 5),
    "FeatureAlphaDropout": (2, 3, 4),
}


@pytest.mark.parametrize("name", MODULES)
def test_module_eval_parity_and_repr(name):
    layer_parity(lambda nn: getattr(nn, name)(0.3), randn(*MOD_SHAPE[name]), modes=("eval",))
    layer_parity(lambda nn: getattr(nn, name)(0.0), randn(*MOD_SHAPE[name]))
    for kw in ({}, {"p": 0.2}, {"p": 0.7, "inplace": True}):
        assert repr(getattr(ember.nn, name)(**kw)) == repr(getattr(torch.nn, name)(**kw))
    assert list(getattr(ember.nn, name)().state_dict().keys()) == []


@pytest.mark.parametrize("name", MODULES)
def test_module_train_statistics(name):
    ember.manual_seed(9)
    p = 0.5
    m = getattr(ember.nn, name)(p)
    x = ember.rand(*[s * 4 for s in MOD_SHAPE[name][:2]], *MOD_SHAPE[name][2:]) + 1.0
    y = m(x)
    if "Alpha" in name:
        alpha = 1.7580993408473766
        a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
        dropped = np.isclose(y.cpu().numpy(), -alpha * a * (1 - p))
    else:
        dropped = y.cpu().numpy() == 0
    assert 0.3 < dropped.mean() < 0.7
    m.eval()
    assert m(x) is x


def test_module_bad_p():
    raises_like(lambda t: t.nn.Dropout(1.2), match="between 0 and 1")
    raises_like(lambda t: t.nn.Dropout2d(-0.5), match="between 0 and 1")


@pytest.mark.parametrize("fn", DROPOUTS)
def test_gradcheck_with_fixed_mask(fn):
    # reseeding inside the function fixes the mask, so finite differences see the same dropout pattern
    shape = {"dropout2d": (2, 3, 1, 2), "dropout3d": (2, 3, 2, 1, 2)}.get(fn, (2, 3, 2))

    def f(t, x):
        t.manual_seed(11)
        return getattr(t.nn.functional, fn)(x, 0.4, training=True)

    gradcheck_fn(f, randn(*shape))
