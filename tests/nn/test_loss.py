"""Loss functionals and modules (and the distance functions) against torch: values, gradients, torch's
reduction rules (weighted means, ignore_index, label smoothing, batchmean), gradchecks and errors."""

import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.nn.functional.loss import _cross_entropy_reference
from tests.helpers import Spec, gradcheck_fn, ints, parity, positive, raises_like, rand, randn, vals
from tests.nn_helpers import layer_parity

REDUCTIONS = ["mean", "sum", "none"]


def lib(nn):
    """torch or ember, from the nn module layer_parity hands to the factory."""
    return torch if nn is torch.nn else ember


def labels(*shape, c=5, low=0, dtype="int64"):
    return ints(*shape, low=low, high=c, dtype=dtype)


def const(values, dtype="float32"):
    return vals(values, dtype=dtype, requires_grad=False)


def signs(*shape):
    g = np.random.default_rng(abs(hash(shape)) % 2**32)
    return Spec(np.where(g.random(shape) < 0.5, -1.0, 1.0), "float32", False)


# -------------------------------------------------------------------------------------- cross entropy


@pytest.mark.parametrize("shape", [(4, 5), (5,), (3, 5, 4), (2, 5, 3, 2), (2, 5, 2, 1, 3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_indices(shape, reduction, smoothing):
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    parity(
        lambda t, x, y: t.nn.functional.cross_entropy(x, y, reduction=reduction, label_smoothing=smoothing),
        randn(*shape, scale=2.0),
        labels(*tshape),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)])
def test_cross_entropy_weight_and_ignore_index(reduction, smoothing, shape):
    tshape = shape[:1] + shape[2:]

    def fn(t, x, y, w):
        y = t.where(y == 1, t.full_like(y, -100), y)  # some ignored targets
        return t.nn.functional.cross_entropy(x, y, weight=w, reduction=reduction, label_smoothing=smoothing)

    parity(fn, randn(*shape), labels(*tshape, c=4), positive(4, requires_grad=False))
    parity(
        lambda t, x, y, w: t.nn.functional.cross_entropy(
            x, y, weight=w, ignore_index=2, reduction=reduction, label_smoothing=smoothing
        ),
        randn(*shape, dtype="float64"),
        labels(*tshape, c=4),
        positive(4, dtype="float64", requires_grad=False),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("shape", [(4, 5), (5,), (2, 5, 3)])
def test_cross_entropy_probabilities(reduction, smoothing, shape):
    def fn(t, x, q):
        return t.nn.functional.cross_entropy(
            x, q.softmax(0 if x.dim() == 1 else 1), reduction=reduction, label_smoothing=smoothing
        )

    parity(fn, randn(*shape), randn(*shape))  # the target's gradient is compared too
    parity(
        lambda t, x, q, w: t.nn.functional.cross_entropy(
            x, q, weight=w, reduction=reduction, label_smoothing=smoothing
        ),
        randn(*shape, dtype="float64"),
        rand(*shape, low=0, high=1, dtype="float64"),
        positive(5, dtype="float64"),
    )


def test_cross_entropy_dtypes_and_layouts():
    parity(
        lambda t, x, y: t.nn.functional.cross_entropy(x, y), randn(8, 10, dtype="bfloat16"), labels(8, c=10)
    )
    parity(
        lambda t, x, y: t.nn.functional.cross_entropy(x, y, label_smoothing=0.2, reduction="none"),
        randn(2, 10, 3, dtype="bfloat16"),
        labels(2, 3, c=10),
    )
    parity(
        lambda t, x, y: t.nn.functional.cross_entropy(x, y), randn(6, 10, dtype="float16"), labels(6, c=10)
    )
    parity(lambda t, x, y: t.nn.functional.cross_entropy(x, y), randn(5, 7, noncontig=True), labels(5, c=7))
    parity(lambda t, x, y: t.nn.functional.cross_entropy(x, y), randn(4, 5), labels(4, dtype="uint8"))
    # float32 logits with float64 probabilities promote, as torch
    parity(
        lambda t, x, q: t.nn.functional.cross_entropy(x, q),
        randn(3, 4),
        rand(3, 4, low=0, high=1, dtype="float64"),
    )


def test_cross_entropy_edge_cases():
    # all targets ignored / empty batch: mean is 0/0 = nan (sum is 0), as torch
    for red in REDUCTIONS:
        parity(
            lambda t, x, red=red: t.nn.functional.cross_entropy(x, t.full((3,), -100), reduction=red),
            randn(3, 4),
        )
        parity(
            lambda t, x, w, red=red: t.nn.functional.cross_entropy(
                x, t.full((3,), -100), weight=w, reduction=red, label_smoothing=0.1
            ),
            randn(3, 4),
            positive(4, requires_grad=False),
        )
        parity(
            lambda t, x, red=red: t.nn.functional.cross_entropy(x, t.zeros(0, dtype=t.int64), reduction=red),
            randn(0, 4),
        )
        parity(
            lambda t, x, red=red: t.nn.functional.cross_entropy(x, x.softmax(1).detach(), reduction=red),
            randn(0, 4),
        )
    # an ignored target may be out of range; huge and -inf logits stay finite where torch's do
    parity(lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([7, 1]), ignore_index=7), randn(2, 3))
    parity(
        lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([0, 2])),
        vals([[1e4, -1e4, 0.0], [float("-inf"), 0.0, 30.0]]),
    )
    parity(lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([0, 1]), label_smoothing=1.0), randn(2, 3))
    parity(lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([0, 1]), label_smoothing=-0.5), randn(2, 3))


def test_cross_entropy_fused_matches_composition():
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((6, 5, 3)), requires_grad=True)
    y = ember.tensor(rng.integers(0, 5, (6, 3)))
    y[0, 0] = -100
    w = ember.tensor(rng.random(5))
    for red in REDUCTIONS:
        for ls in (0.0, 0.2):
            a = F.cross_entropy(x, y, weight=w, reduction=red, label_smoothing=ls)
            b = _cross_entropy_reference(x, y, w, reduction=red, label_smoothing=ls)
            np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(), rtol=1e-12, atol=1e-14)
            g = ember.randn(*a.shape, dtype=ember.float64)
            ga = ember.autograd.grad(a, x, g)[0].cpu().numpy()
            gb = ember.autograd.grad(b, x, g)[0].cpu().numpy()
            np.testing.assert_allclose(ga, gb, rtol=1e-10, atol=1e-14)
    assert type(F.cross_entropy(x, y).grad_fn).__name__ == "NllLossBackward0"


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradchecks(smoothing, reduction):
    y = ember.tensor([0, 3, -100])
    w = ember.tensor([0.5, 1.0, 2.0, 1.5], dtype=ember.float64)
    gradcheck_fn(
        lambda t, x: t.nn.functional.cross_entropy(
            x, y, weight=w, label_smoothing=smoothing, reduction=reduction
        ),
        randn(3, 4),
    )
    gradcheck_fn(
        lambda t, x, q: t.nn.functional.cross_entropy(x, q, label_smoothing=smoothing, reduction=reduction),
        randn(2, 3),
        rand(2, 3, low=0, high=1),
    )
    x = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradgradcheck(
        lambda x: F.cross_entropy(x, y, weight=w, label_smoothing=smoothing, reduction=reduction), (x,)
    )
    q = ember.rand(3, 4, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradgradcheck(
        lambda x, q: F.cross_entropy(x, q, label_smoothing=smoothing, reduction=reduction), (x, q)
    )


def test_cross_entropy_double_backward_parity():
    def fn(t, x):
        loss = t.nn.functional.cross_entropy(x, t.tensor([1, 0, 2]), label_smoothing=0.1)
        (g,) = t.autograd.grad(loss, x, create_graph=True)
        return (g * g).sum()

    parity(fn, randn(3, 4, dtype="float64"))


def test_cross_entropy_errors():
    x = randn(3, 5)
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([1.0, 2.0, 3.0])),
        x,
        match="expected target dtype to be Long or Byte, but got Float",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([1, 2, 3], dtype=t.int32)),
        x,
        match="Long or Byte",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([1, 2, 5])),
        x,
        match="Target 5 is out of bounds",
    )
    raises_like(lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([1, -1, 2])), x, match="Target -1")
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([1, 2])),
        x,
        match="Expected input batch_size (3) to match target batch_size (2)",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.zeros(3, 2, dtype=t.int64)),
        x,
        match="multi-target not supported",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([1, 2, 3]), reduction="foo"),
        x,
        match="foo is not a valid value for reduction",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([1, 2, 3]), weight=t.ones(4)),
        x,
        match="weight tensor should be defined either for all 5 classes",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([1, 2, 3]), weight=t.ones(5, dtype=t.float64)),
        x,
        match="expected scalar type Float but found Double",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.zeros(3, 5, dtype=t.int64)),
        x,
        match="Expected floating point type for target with class probabilities",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.rand(3, 5), ignore_index=1),
        x,
        match="ignore_index is not supported",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.rand(3, 5), label_smoothing=1.5),
        x,
        match="label_smoothing must be between 0.0 and 1.0",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([1, 2, 3]), label_smoothing=1.5),
        x,
        match="label_smoothing must be between 0.0 and 1.0",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.rand(3, 5), weight=t.ones(2)),
        x,
        match="cross_entropy: weight tensor",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x.long(), t.tensor([1, 2, 3])),
        x,
        match="not implemented for 'Long'",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.zeros(2, 3, dtype=t.int64)),
        randn(2, 5, 4),
        match="Expected target size [2, 4], got [2, 3]",
    )
    raises_like(
        lambda t, x: t.nn.functional.cross_entropy(x, t.zeros(2, 4, dtype=t.int64)),
        randn(2, 5, 3, 3),
        match="only batches of spatial targets supported",
    )
    raises_like(lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(0)), vals(1.0))
    raises_like(
        lambda t, x, w: t.nn.functional.cross_entropy(x, t.tensor([1, 2, 3]), weight=w), x, positive(5)
    )


# --------------------------------------------------------------------------------------------- nll loss


@pytest.mark.parametrize("shape", [(4, 5), (5,), (3, 5, 4), (2, 5, 3, 2)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(shape, reduction):
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    parity(
        lambda t, x, y, w: t.nn.functional.nll_loss(
            x.log_softmax(0 if x.dim() == 1 else 1), y, weight=w, ignore_index=3, reduction=reduction
        ),
        randn(*shape),
        labels(*tshape),
        positive(5, requires_grad=False),
    )


def test_nll_loss_gradcheck_and_errors():
    gradcheck_fn(lambda t, x: t.nn.functional.nll_loss(x, t.tensor([0, 2, 1])), randn(3, 3))
    raises_like(
        lambda t, x: t.nn.functional.nll_loss(x, t.tensor(0)),
        vals(1.0),
        match="Expected 1 or more dimensions",
    )
    raises_like(
        lambda t, x: t.nn.functional.nll_loss(x, t.tensor([0, 1, 7])),
        randn(3, 5),
        match="Target 7 is out of bounds",
    )
    raises_like(
        lambda t, x: t.nn.functional.nll_loss(x, t.zeros(4, dtype=t.int64)),
        randn(3, 5),
        match="to match target batch_size (4)",
    )
    raises_like(
        lambda t, x: t.nn.functional.nll_loss(x, t.tensor([1, 0, 2])),
        randn(3),
        match="1D target must have size 1",
    )
    raises_like(lambda t, x: t.nn.functional.nll_loss(x.long(), t.tensor([1, 0])), randn(2, 3))
    raises_like(
        lambda t, x: t.nn.functional.nll_loss(x, t.zeros(2, 4, 4, dtype=t.int64), weight=t.ones(2)),
        randn(2, 3, 4, 4),
        match="weight tensor should be defined either for all or no classes",
    )


# ------------------------------------------------------------------------------------ regression losses


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mse_l1(name, reduction, dtype):
    fn = lambda t, x, y: getattr(t.nn.functional, name)(x, y, reduction=reduction)  # noqa: E731
    parity(fn, randn(3, 4, dtype=dtype), randn(3, 4, dtype=dtype))
    parity(fn, rand(2, 3, 4, noncontig=True, kinks=[0.5]), vals(np.full((2, 3, 4), 0.5)))  # |d| kink at 0
    parity(
        lambda t, x, y, w: getattr(t.nn.functional, name)(x, y, reduction=reduction, weight=w),
        randn(3, 4, dtype=dtype),
        randn(3, 4, dtype=dtype),
        positive(3, 4, dtype=dtype, requires_grad=False),
    )


def test_mse_l1_broadcast_dtypes_and_errors():
    with pytest.warns(UserWarning, match="different to the input size"):
        parity(lambda t, x, y: t.nn.functional.mse_loss(x, y), randn(3, 4), randn(4))
    parity(lambda t, x, y: t.nn.functional.l1_loss(x, y), randn(3, 4), randn(3, 4, dtype="float64"))
    parity(lambda t, x, y: t.nn.functional.mse_loss(x, y), randn(3), ints(3, dtype="int64"))
    parity(lambda t, x, y: t.nn.functional.mse_loss(x, y), randn(0, 2), randn(0, 2))
    parity(lambda t, x, y: t.nn.functional.mse_loss(x, y, reduction="sum"), randn(), randn())
    raises_like(
        lambda t, x, y: t.nn.functional.mse_loss(x, y, reduction="bad"),
        randn(3),
        randn(3),
        match="bad is not a valid value for reduction",
    )
    raises_like(
        lambda t, x, y: t.nn.functional.mse_loss(x, y), ints(3), ints(3), match="not implemented for 'Long'"
    )
    raises_like(lambda t, x, y: t.nn.functional.l1_loss(x, y), ints(3), ints(3))
    with pytest.warns(UserWarning, match="different to the input size"):
        raises_like(
            lambda t, x, y: t.nn.functional.mse_loss(x, y), randn(3), randn(4), match="must match the size"
        )
    raises_like(
        lambda t, x, y, w: t.nn.functional.mse_loss(x, y, weight=w),
        randn(3),
        randn(3),
        randn(2),
        match="Weights and input must have the same size.",
    )


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_smooth_l1(beta, reduction):
    parity(
        lambda t, x, y: t.nn.functional.smooth_l1_loss(x, y, reduction=reduction, beta=beta),
        rand(4, 5, low=-3, high=3, kinks=[beta, -beta, 0.0]),
        vals(np.zeros((4, 5))),
    )
    parity(
        lambda t, x, y: t.nn.functional.smooth_l1_loss(x, y, beta=beta),
        randn(6, dtype="float64"),
        randn(6, dtype="float64"),
    )


@pytest.mark.parametrize("delta", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huber(delta, reduction):
    parity(
        lambda t, x, y: t.nn.functional.huber_loss(x, y, reduction=reduction, delta=delta),
        rand(4, 5, low=-4, high=4, kinks=[delta, -delta, 0.0]),
        vals(np.zeros((4, 5))),
    )
    parity(
        lambda t, x, y, w: t.nn.functional.huber_loss(x, y, reduction=reduction, delta=delta, weight=w),
        randn(3, 4),
        randn(3, 4),
        positive(3, 4, requires_grad=False),
    )


def test_smooth_l1_huber_errors_and_gradchecks():
    raises_like(
        lambda t, x, y: t.nn.functional.smooth_l1_loss(x, y, beta=-1.0),
        randn(3),
        randn(3),
        match="does not support negative values for beta",
    )
    raises_like(
        lambda t, x, y: t.nn.functional.huber_loss(x, y, delta=0.0),
        randn(3),
        randn(3),
        match="non-positive values for delta",
    )
    gradcheck_fn(lambda t, x, y: t.nn.functional.smooth_l1_loss(x, y, beta=0.7), randn(5), randn(5))
    gradcheck_fn(lambda t, x, y: t.nn.functional.huber_loss(x, y, delta=0.7), randn(5), randn(5))
    gradcheck_fn(lambda t, x, y: t.nn.functional.mse_loss(x, y, reduction="none"), randn(2, 3), randn(2, 3))
    gradcheck_fn(lambda t, x, y: t.nn.functional.l1_loss(x, y), randn(2, 3), randn(2, 3))


# ------------------------------------------------------------------------------------------------ BCE


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_cross_entropy(reduction, dtype):
    parity(
        lambda t, x, y: t.nn.functional.binary_cross_entropy(x, y, reduction=reduction),
        rand(4, 5, low=0.02, high=0.98, dtype=dtype),
        rand(4, 5, low=0, high=1, dtype=dtype),
    )
    parity(
        lambda t, x, y, w: t.nn.functional.binary_cross_entropy(x, y, weight=w, reduction=reduction),
        rand(4, 5, low=0.02, high=0.98, dtype=dtype),
        rand(4, 5, low=0, high=1, dtype=dtype),
        positive(5, dtype=dtype, requires_grad=False),
    )


def test_binary_cross_entropy_clamps_and_errors():
    # log(0) is clamped to -100 in the loss; the gradient uses max(x (1 - x), 1e-12) like torch
    parity(
        lambda t, x, y: t.nn.functional.binary_cross_entropy(x, y, reduction="none"),
        vals([0.0, 1.0, 0.0, 1.0, 0.5], dtype="float64"),
        const([0.0, 1.0, 1.0, 0.0, 0.3], dtype="float64"),
    )
    parity(
        lambda t, x, y: t.nn.functional.binary_cross_entropy(x, y),
        rand(3, 2, low=0.1, high=0.9, dtype="bfloat16"),
        rand(3, 2, low=0, high=1, dtype="bfloat16"),
    )
    gradcheck_fn(
        lambda t, x, y: t.nn.functional.binary_cross_entropy(x, y),
        rand(4, low=0.2, high=0.8),
        rand(4, low=0.1, high=0.9),
    )
    assert ember.autograd.gradgradcheck(
        lambda x: F.binary_cross_entropy(x, ember.tensor([0.2, 0.7], dtype=ember.float64)),
        (ember.tensor([0.3, 0.6], dtype=ember.float64, requires_grad=True),),
    )
    raises_like(
        lambda t, x, y: t.nn.functional.binary_cross_entropy(x, y),
        rand(3, low=0, high=1),
        rand(4, low=0, high=1),
        match="Please ensure they have the same size",
    )
    raises_like(
        lambda t, x, y: t.nn.functional.binary_cross_entropy(x, y),
        vals([1.5]),
        const([0.5]),
        match="all elements of input should be between 0 and 1",
    )
    raises_like(
        lambda t, x, y: t.nn.functional.binary_cross_entropy(x, y),
        rand(3, low=0, high=1),
        ints(3),
        match="Found dtype Long but expected Float",
    )
    raises_like(
        lambda t, x, y: t.nn.functional.binary_cross_entropy(x, y),
        rand(3, low=0, high=1),
        rand(3, low=0, high=1, dtype="float64"),
        match="Found dtype Double but expected Float",
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits(reduction):
    parity(
        lambda t, x, y: t.nn.functional.binary_cross_entropy_with_logits(x, y, reduction=reduction),
        randn(4, 5, scale=3.0),
        rand(4, 5, low=0, high=1),
    )
    parity(
        lambda t, x, y, w, pw: t.nn.functional.binary_cross_entropy_with_logits(
            x, y, weight=w, pos_weight=pw, reduction=reduction
        ),
        randn(4, 5, dtype="float64"),
        rand(4, 5, low=0, high=1, dtype="float64"),
        positive(5, dtype="float64", requires_grad=False),
        positive(5, dtype="float64", requires_grad=False),
    )


def test_bce_with_logits_extremes_and_errors():
    parity(
        lambda t, x, y: t.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none"),
        vals([-200.0, -30.0, 0.0, 30.0, 200.0]),
        const([1.0, 0.0, 0.5, 1.0, 0.0]),
    )
    parity(
        lambda t, x, y: t.nn.functional.binary_cross_entropy_with_logits(x, y),
        randn(3, 4),
        rand(3, 4, low=0, high=1, dtype="float64"),
    )
    gradcheck_fn(
        lambda t, x, y, pw: t.nn.functional.binary_cross_entropy_with_logits(x, y, pos_weight=pw),
        randn(2, 3),
        rand(2, 3, low=0, high=1),
        positive(3, requires_grad=False),
    )
    raises_like(
        lambda t, x, y: t.nn.functional.binary_cross_entropy_with_logits(x, y),
        randn(3),
        rand(4),
        match="must be the same as input size",
    )
    raises_like(
        lambda t, x, y: t.nn.functional.binary_cross_entropy_with_logits(x, y),
        randn(3),
        ints(3),
        match="can't be cast to the desired output type Long",
    )
    raises_like(
        lambda t, x, y, w: t.nn.functional.binary_cross_entropy_with_logits(x, y, weight=w),
        randn(3),
        rand(3),
        positive(3),
        match="not differentiable with respect to argument 'weight'",
    )
    raises_like(
        lambda t, x, y, w: t.nn.functional.binary_cross_entropy_with_logits(x, y, pos_weight=w),
        randn(3),
        rand(3),
        positive(3),
        match="argument 'pos_weight'",
    )


# ------------------------------------------------------------------------------------------- KL, Poisson


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    def fn(t, x, y):
        tgt = y.log_softmax(1) if log_target else y.softmax(1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return t.nn.functional.kl_div(x.log_softmax(1), tgt, reduction=reduction, log_target=log_target)

    parity(fn, randn(3, 4), randn(3, 4))


def test_kl_div_zero_targets_warnings_and_gradcheck():
    parity(
        lambda t, x, y: t.nn.functional.kl_div(x, y, reduction="sum"), randn(4), const([0.0, 0.5, 0.5, 0.0])
    )
    parity(
        lambda t, x, y: t.nn.functional.kl_div(x, y, reduction="batchmean"), randn(), rand(low=0.1, high=1)
    )
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(ember.randn(2), ember.rand(2))
    gradcheck_fn(
        lambda t, x, y: t.nn.functional.kl_div(x, y, reduction="batchmean"),
        randn(2, 3),
        rand(2, 3, low=0.1, high=1),
    )
    raises_like(
        lambda t, x, y: t.nn.functional.kl_div(x, y, reduction="bad"),
        randn(3),
        rand(3),
        match="bad is not a valid value",
    )


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_nll(log_input, full, reduction):
    parity(
        lambda t, x, y: t.nn.functional.poisson_nll_loss(
            x, y, log_input=log_input, full=full, reduction=reduction
        ),
        rand(3, 4, low=0.1, high=2.0),
        const(np.array([[0.0, 1.0, 2.0, 5.0]] * 3)),
    )
    gradcheck_fn(
        lambda t, x: t.nn.functional.poisson_nll_loss(
            x, t.tensor([0.0, 2.0, 3.0], dtype=x.dtype), log_input=log_input, full=full
        ),
        rand(3, low=0.2, high=2),
    )


# ------------------------------------------------------------------------------------------ Gaussian NLL


@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1), (1, 3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll(var_shape, reduction):
    parity(
        lambda t, x, y, v: t.nn.functional.gaussian_nll_loss(x, y, v, reduction=reduction),
        randn(4, 3),
        randn(4, 3),
        positive(*var_shape),
    )


def test_gaussian_nll_options_and_errors():
    # var below eps is clamped without blocking its gradient (torch clamps under no_grad)
    parity(
        lambda t, x, y, v: t.nn.functional.gaussian_nll_loss(x, y, v, full=True, eps=0.1),
        randn(5, dtype="float64"),
        randn(5, dtype="float64"),
        vals([0.0, 0.05, 0.2, 1.0, 3.0], dtype="float64"),
    )
    parity(lambda t, x, y: t.nn.functional.gaussian_nll_loss(x, y, 0.5), randn(3, 2), randn(3, 2))
    gradcheck_fn(
        lambda t, x, y, v: t.nn.functional.gaussian_nll_loss(x, y, v), randn(3), randn(3), positive(3)
    )
    raises_like(
        lambda t, x, y, v: t.nn.functional.gaussian_nll_loss(x, y, v),
        randn(3, 2),
        randn(3, 2),
        positive(3, 3),
        match="var is of incorrect size",
    )
    raises_like(
        lambda t, x, y, v: t.nn.functional.gaussian_nll_loss(x, y, v),
        randn(3, 2),
        randn(3, 2),
        vals([[-1.0, 1.0]] * 3),
        match="var has negative entry/entries",
    )
    raises_like(
        lambda t, x, y: t.nn.functional.gaussian_nll_loss(x, y, -1.0),
        randn(3),
        randn(3),
        match="var has negative",
    )
    raises_like(
        lambda t, x, y, v: t.nn.functional.gaussian_nll_loss(x, y, v, reduction="x"),
        randn(3),
        randn(3),
        positive(3),
        match="x is not valid",
    )


# ---------------------------------------------------------------------------------- margin/hinge losses


@pytest.mark.parametrize("margin", [0.0, 0.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking(margin, reduction):
    parity(
        lambda t, a, b, y: t.nn.functional.margin_ranking_loss(a, b, y, margin=margin, reduction=reduction),
        randn(6),
        randn(6),
        signs(6),
    )
    gradcheck_fn(
        lambda t, a, b: t.nn.functional.margin_ranking_loss(
            a, b, t.tensor([1.0, -1.0, 1.0], dtype=a.dtype), margin=margin
        ),
        randn(3),
        randn(3),
    )


@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding(margin, reduction):
    parity(
        lambda t, x, y: t.nn.functional.hinge_embedding_loss(x, y, margin=margin, reduction=reduction),
        randn(3, 4, scale=2.0),
        signs(3, 4),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_and_multilabel_soft_margin(reduction):
    parity(
        lambda t, x, y: t.nn.functional.soft_margin_loss(x, y, reduction=reduction), randn(3, 4), signs(3, 4)
    )
    parity(
        lambda t, x, y, w: t.nn.functional.multilabel_soft_margin_loss(x, y, weight=w, reduction=reduction),
        randn(3, 4),
        rand(3, 4, low=0, high=1),
        positive(4, requires_grad=False),
    )
    parity(
        lambda t, x, y: t.nn.functional.multilabel_soft_margin_loss(x, y, reduction=reduction),
        randn(5),
        rand(5, low=0, high=1),
    )


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [0.5, 1.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin(p, margin, reduction):
    parity(
        lambda t, x, y: t.nn.functional.multi_margin_loss(x, y, p=p, margin=margin, reduction=reduction),
        randn(4, 5),
        labels(4),
    )
    parity(
        lambda t, x, y, w: t.nn.functional.multi_margin_loss(
            x, y, p=p, margin=margin, weight=w, reduction=reduction
        ),
        randn(4, 5, dtype="float64"),
        labels(4),
        positive(5, dtype="float64", requires_grad=False),
    )
    parity(lambda t, x: t.nn.functional.multi_margin_loss(x, t.tensor(2), p=p, reduction=reduction), randn(5))


def test_multi_margin_errors_and_gradcheck():
    gradcheck_fn(lambda t, x: t.nn.functional.multi_margin_loss(x, t.tensor([0, 2]), p=2), randn(2, 3))
    raises_like(
        lambda t, x: t.nn.functional.multi_margin_loss(x, t.tensor([0, 1, 5])),
        randn(3, 4),
        match="target out of range",
    )
    raises_like(
        lambda t, x: t.nn.functional.multi_margin_loss(x, t.tensor([0, 1])),
        randn(3, 4),
        match="Expected target size [3], but got [2]",
    )
    raises_like(
        lambda t, x: t.nn.functional.multi_margin_loss(x, t.tensor([0, 1, 2]), weight=t.ones(3)),
        randn(3, 4),
        match="inconsistent weight size, expected 4 but got [3]",
    )
    raises_like(
        lambda t, x: t.nn.functional.multi_margin_loss(x, t.tensor([0, 1, 2])),
        randn(3, 4, 2),
        match="Expected non-empty vector or matrix",
    )
    raises_like(
        lambda t, x: t.nn.functional.multi_margin_loss(x, t.tensor([0]), p=3),
        randn(1, 4),
        match="only p == 1 and p == 2 supported",
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin(reduction):
    target = vals([[3, 0, -1, 1], [0, 1, 2, 3], [-1, 1, 2, 0]], dtype="int64")
    parity(
        lambda t, x, y: t.nn.functional.multilabel_margin_loss(x, y, reduction=reduction), randn(3, 4), target
    )
    parity(
        lambda t, x, y: t.nn.functional.multilabel_margin_loss(x, y, reduction=reduction),
        randn(4),
        vals([2, 2, -1, 0], dtype="int64"),
    )
    raises_like(
        lambda t, x, y: t.nn.functional.multilabel_margin_loss(x, y),
        randn(3, 4),
        vals([[0, 1, -1]] * 3, dtype="int64"),
        match="inconsistent target size",
    )
    raises_like(
        lambda t, x, y: t.nn.functional.multilabel_margin_loss(x, y),
        randn(3, 4),
        vals([[0, 1, 5, -1]] * 3, dtype="int64"),
        match="out of range",
    )


# ------------------------------------------------------------------------------- triplet, cosine, distance


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("shape", [(4, 5), (5,), (2, 3, 4)])
def test_triplet_margin(p, swap, shape):
    parity(
        lambda t, a, b, c: t.nn.functional.triplet_margin_loss(a, b, c, margin=0.7, p=p, swap=swap),
        randn(*shape),
        randn(*shape),
        randn(*shape),
    )


def test_triplet_options_and_errors():
    parity(
        lambda t, a, b, c: t.nn.functional.triplet_margin_loss(a, b, c, eps=1e-2, reduction="none"),
        randn(4, 3, dtype="float64"),
        randn(4, 3, dtype="float64"),
        randn(4, 3, dtype="float64"),
    )
    parity(
        lambda t, a, b, c: t.nn.functional.triplet_margin_with_distance_loss(
            a, b, c, distance_function=lambda u, v: 1 - t.nn.functional.cosine_similarity(u, v), swap=True
        ),
        randn(4, 3),
        randn(4, 3),
        randn(4, 3),
    )
    parity(
        lambda t, a, b, c: t.nn.functional.triplet_margin_with_distance_loss(a, b, c, reduction="sum"),
        randn(4, 3),
        randn(4, 3),
        randn(4, 3),
    )
    gradcheck_fn(
        lambda t, a, b, c: t.nn.functional.triplet_margin_loss(a, b, c, swap=True),
        randn(2, 3),
        randn(2, 3),
        randn(2, 3),
    )
    raises_like(
        lambda t, a: t.nn.functional.triplet_margin_loss(a, a, a, margin=0),
        randn(3, 4),
        match="margin must be greater than 0, got 0",
    )
    raises_like(
        lambda t, a, b: t.nn.functional.triplet_margin_loss(a, a, b),
        randn(3, 4),
        randn(4),
        match="anchor 2D, positive 2D, and negative 1D inputs",
    )


@pytest.mark.parametrize("margin", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding(margin, reduction):
    parity(
        lambda t, a, b, y: t.nn.functional.cosine_embedding_loss(a, b, y, margin=margin, reduction=reduction),
        randn(5, 4),
        randn(5, 4),
        signs(5),
    )
    parity(
        lambda t, a, b: t.nn.functional.cosine_embedding_loss(
            a, b, t.tensor(-1.0), margin=margin, reduction=reduction
        ),
        randn(4),
        randn(4),
    )


def test_cosine_embedding_errors_and_gradcheck():
    gradcheck_fn(
        lambda t, a, b: t.nn.functional.cosine_embedding_loss(a, b, t.tensor([1.0, -1.0], dtype=a.dtype)),
        randn(2, 3),
        randn(2, 3),
    )
    raises_like(
        lambda t, a, b: t.nn.functional.cosine_embedding_loss(a, b, t.ones(3)),
        randn(3, 4, 2),
        randn(3, 4, 2),
        match="1D target tensor expects 2D input tensors",
    )
    raises_like(lambda t, a, b: t.nn.functional.cosine_embedding_loss(a, b, t.ones(1)), randn(4), randn(4))
    raises_like(
        lambda t, a, b: t.nn.functional.cosine_embedding_loss(a, b, t.ones(2, 2)),
        randn(2, 4),
        randn(2, 4),
        match="0D or 1D target tensor expected",
    )


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("eps", [1e-8, 0.5])
def test_cosine_similarity(dim, eps):
    parity(
        lambda t, a, b: t.nn.functional.cosine_similarity(a, b, dim=dim, eps=eps), randn(3, 4), randn(3, 4)
    )
    parity(
        lambda t, a, b: t.nn.functional.cosine_similarity(a, b, dim=dim, eps=eps),
        randn(3, 4, noncontig=True),
        randn(1, 4),
    )


def test_cosine_similarity_edge_cases():
    # zero vectors: each norm is clamped at eps (torch 2.x semantics), the gradient flows through the norms
    parity(
        lambda t, a, b: t.nn.functional.cosine_similarity(a, b),
        vals([[0.0, 0.0], [1e-9, 0.0], [3.0, 4.0]]),
        vals([[1.0, 2.0], [1.0, 0.0], [0.0, 0.0]]),
    )
    parity(lambda t, a, b: t.nn.functional.cosine_similarity(a, b, dim=0), ints(4, dtype="int64"), randn(4))
    gradcheck_fn(lambda t, a, b: t.nn.functional.cosine_similarity(a, b), randn(2, 3), randn(2, 3))
    raises_like(
        lambda t, a, b: t.nn.functional.cosine_similarity(a, b),
        ints(3, 4),
        ints(3, 4),
        match="expected common dtype to be floating point",
    )
    raises_like(lambda t, a, b: t.nn.functional.cosine_similarity(a, b), randn(3, 4), randn(2, 4))


@pytest.mark.parametrize("p", [1.0, 2.0, 3.5, float("inf")])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(p, keepdim):
    parity(
        lambda t, a, b: t.nn.functional.pairwise_distance(a, b, p=p, keepdim=keepdim),
        randn(4, 5),
        randn(4, 5),
    )
    parity(
        lambda t, a, b: t.nn.functional.pairwise_distance(a, b, p=p, eps=0.1, keepdim=keepdim),
        randn(2, 3, 5),
        randn(5),
    )


def test_pairwise_distance_gradcheck_and_errors():
    gradcheck_fn(lambda t, a, b: t.nn.functional.pairwise_distance(a, b), randn(2, 3), randn(2, 3))
    gradcheck_fn(lambda t, a, b: t.nn.functional.pairwise_distance(a, b, p=1.0), randn(2, 3), randn(2, 3))
    raises_like(lambda t, a, b: t.nn.functional.pairwise_distance(a, b), randn(3, 4), randn(2, 4))


def test_soft_margin_hinge_gradchecks():
    gradcheck_fn(
        lambda t, x: t.nn.functional.soft_margin_loss(x, t.tensor([1.0, -1.0, 1.0], dtype=x.dtype)), randn(3)
    )
    gradcheck_fn(
        lambda t, x, y: t.nn.functional.multilabel_soft_margin_loss(x, y),
        randn(2, 3),
        rand(2, 3, low=0, high=1),
    )
    gradcheck_fn(
        lambda t, x: t.nn.functional.hinge_embedding_loss(x, t.tensor([1.0, -1.0, -1.0], dtype=x.dtype)),
        rand(3, low=0.1, high=0.8),
    )
    gradcheck_fn(
        lambda t, x: t.nn.functional.kl_div(
            x, t.tensor([0.2, 0.8], dtype=x.dtype), reduction="sum", log_target=False
        ),
        randn(2),
    )


# ------------------------------------------------------------------------------------------------ modules


def _w(nn, values):
    return lib(nn).tensor(values)


MODULE_CASES = [
    (lambda nn: nn.CrossEntropyLoss(), [randn(4, 5), labels(4)]),
    (
        lambda nn: nn.CrossEntropyLoss(
            weight=_w(nn, [1.0, 2.0, 0.5, 1.0, 3.0]), ignore_index=1, label_smoothing=0.1
        ),
        [randn(4, 5, 2), labels(4, 2)],
    ),
    (lambda nn: nn.CrossEntropyLoss(reduction="none"), [randn(4, 5), rand(4, 5, low=0, high=1)]),
    (
        lambda nn: nn.NLLLoss(weight=_w(nn, [1.0, 2.0, 0.5, 1.0, 3.0]), reduction="sum"),
        [randn(3, 5), labels(3)],
    ),
    (lambda nn: nn.MSELoss(), [randn(3, 4), randn(3, 4)]),
    (lambda nn: nn.L1Loss(reduction="sum"), [randn(3, 4), randn(3, 4)]),
    (lambda nn: nn.SmoothL1Loss(beta=0.5), [randn(3, 4), randn(3, 4)]),
    (lambda nn: nn.HuberLoss(delta=0.5), [randn(3, 4), randn(3, 4)]),
    (
        lambda nn: nn.BCELoss(weight=_w(nn, [0.5, 2.0, 1.0, 1.0])),
        [rand(3, 4, low=0.05, high=0.95), rand(3, 4, low=0, high=1)],
    ),
    (
        lambda nn: nn.BCEWithLogitsLoss(pos_weight=_w(nn, [0.5, 2.0, 1.0, 1.0])),
        [randn(3, 4), rand(3, 4, low=0, high=1)],
    ),
    (lambda nn: nn.KLDivLoss(reduction="batchmean", log_target=True), [randn(3, 4), randn(3, 4)]),
    (lambda nn: nn.PoissonNLLLoss(log_input=False, full=True), [positive(3, 4), positive(3, 4)]),
    (lambda nn: nn.GaussianNLLLoss(full=True), [randn(3, 4), randn(3, 4), positive(3, 4)]),
    (lambda nn: nn.MarginRankingLoss(margin=0.2), [randn(5), randn(5), signs(5)]),
    (lambda nn: nn.HingeEmbeddingLoss(margin=0.5), [randn(5), signs(5)]),
    (lambda nn: nn.SoftMarginLoss(), [randn(5), signs(5)]),
    (
        lambda nn: nn.MultiLabelSoftMarginLoss(weight=_w(nn, [1.0, 2.0, 0.5])),
        [randn(4, 3), rand(4, 3, low=0, high=1)],
    ),
    (lambda nn: nn.MultiLabelMarginLoss(), [randn(2, 3), vals([[2, -1, 0], [0, 1, 2]], dtype="int64")]),
    (
        lambda nn: nn.MultiMarginLoss(p=2, margin=0.5, weight=_w(nn, [1.0, 2.0, 0.5, 1.0, 3.0])),
        [randn(3, 5), labels(3)],
    ),
    (lambda nn: nn.CosineEmbeddingLoss(margin=0.1), [randn(4, 3), randn(4, 3), signs(4)]),
    (lambda nn: nn.TripletMarginLoss(margin=0.5, p=1.0, swap=True), [randn(4, 3), randn(4, 3), randn(4, 3)]),
    (lambda nn: nn.TripletMarginWithDistanceLoss(margin=0.5), [randn(4, 3), randn(4, 3), randn(4, 3)]),
    (lambda nn: nn.CosineSimilarity(dim=0, eps=1e-6), [randn(4, 3), randn(4, 3)]),
    (lambda nn: nn.PairwiseDistance(p=1.0, keepdim=True), [randn(4, 3), randn(4, 3)]),
]


@pytest.mark.parametrize("case", range(len(MODULE_CASES)))
def test_loss_modules(case):
    make, specs = MODULE_CASES[case]
    e_layer, t_layer = layer_parity(make, *specs)
    assert repr(e_layer) == repr(t_layer)


def test_loss_module_float64_and_bfloat16():
    layer_parity(
        lambda nn: nn.CrossEntropyLoss(label_smoothing=0.05),
        randn(5, 7, dtype="float64"),
        labels(5, c=7),
        dtype="float64",
    )
    layer_parity(lambda nn: nn.CrossEntropyLoss(), randn(5, 7, dtype="bfloat16"), labels(5, c=7))
    layer_parity(lambda nn: nn.MSELoss(), randn(5, 2, dtype="float64"), randn(5, 2, dtype="float64"))


def test_loss_module_buffers_and_legacy_args():
    w = [1.0, 2.0, 3.0]
    for name in ("CrossEntropyLoss", "NLLLoss", "BCELoss", "MultiLabelSoftMarginLoss"):
        e, t = (
            getattr(ember.nn, name)(weight=ember.tensor(w)),
            getattr(torch.nn, name)(weight=torch.tensor(w)),
        )
        assert list(e.state_dict().keys()) == list(t.state_dict().keys()) == ["weight"]
        assert list(getattr(ember.nn, name)().state_dict().keys()) == []
    e = ember.nn.BCEWithLogitsLoss(weight=ember.ones(3), pos_weight=ember.ones(3))
    assert list(e.state_dict().keys()) == ["weight", "pos_weight"]
    for size_average, reduce in [(False, None), (None, False), (True, True), (False, True)]:
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            e = ember.nn.MSELoss(size_average=size_average, reduce=reduce)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = torch.nn.MSELoss(size_average=size_average, reduce=reduce)
        assert e.reduction == t.reduction
    with pytest.warns(UserWarning):
        parity(lambda t, x, y: t.nn.functional.cross_entropy(x, y, reduce=False), randn(3, 4), labels(3, c=4))


def test_loss_module_constructor_errors():
    raises_like(lambda t: t.nn.MultiMarginLoss(p=3), match="only p == 1 and p == 2 supported")
    raises_like(
        lambda t: t.nn.MultiMarginLoss(weight=t.ones(2, 2)), match="expected weight to be None or 1D tensor"
    )
    raises_like(lambda t: t.nn.TripletMarginLoss(margin=0.0), match="expected margin to be greater than 0")
    raises_like(
        lambda t: t.nn.TripletMarginWithDistanceLoss(margin=-1.0), match="expected margin to be greater"
    )
    raises_like(lambda t: t.nn.HuberLoss(delta="1"), match="delta must be a float or int")
    raises_like(
        lambda t, x, y: t.nn.MSELoss(reduction="avg")(x, y), randn(2), randn(2), match="avg is not a valid"
    )
