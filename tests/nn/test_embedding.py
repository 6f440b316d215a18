"""embedding / Embedding / EmbeddingBag / one_hot against torch: lookups, scatter-add gradients with
padding_idx and scale_grad_by_freq, in-place max_norm renormalisation, from_pretrained, errors."""

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from tests.helpers import Spec, gradcheck_fn, ints, parity, raises_like, randn, vals
from tests.nn_helpers import layer_parity


def idx(*shape, high=10, dtype="int64"):
    return ints(*shape, low=0, high=high, dtype=dtype)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 2), (0,), (4, 0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_functional(shape, dtype):
    parity(lambda t, i, w: t.nn.functional.embedding(i, w), idx(*shape), randn(10, 4, dtype=dtype))


@pytest.mark.parametrize("padding_idx", [0, 3, -1, -10])
@pytest.mark.parametrize("scale", [False, True])
def test_embedding_padding_and_freq(padding_idx, scale):
    # repeated indices (high=5) so scatter-add accumulation and the frequency scaling both matter
    parity(
        lambda t, i, w: t.nn.functional.embedding(i, w, padding_idx=padding_idx, scale_grad_by_freq=scale),
        idx(6, 7, high=5),
        randn(10, 3),
    )


def test_embedding_int32_indices_and_bfloat16_weight():
    parity(lambda t, i, w: t.nn.functional.embedding(i, w), idx(3, 4, dtype="int32"), randn(10, 4))
    parity(lambda t, i, w: t.nn.functional.embedding(i, w), idx(3, 4), randn(10, 8, dtype="bfloat16"))


def test_embedding_noncontiguous_weight():
    parity(lambda t, i, w: t.nn.functional.embedding(i, w), idx(4, 3, high=6), randn(6, 5, noncontig=True))


def test_embedding_gradient_is_scatter_add():
    w = ember.randn(5, 2, requires_grad=True)
    i = ember.tensor([[1, 1, 4], [1, 0, 4]])
    y = F.embedding(i, w)
    g = ember.arange(12.0).reshape(2, 3, 2)
    (gw,) = ember.autograd.grad(y, w, g)
    expect = np.zeros((5, 2))
    np.add.at(expect, i.cpu().numpy().reshape(-1), g.cpu().numpy().reshape(-1, 2))
    np.testing.assert_array_equal(gw.cpu().numpy(), expect)
    assert type(y.grad_fn).__name__ == "EmbeddingBackward0"


def test_embedding_large_backward_matches_add_at():
    rng = np.random.default_rng(0)
    i = rng.integers(0, 300, size=(64, 50))
    w = ember.randn(300, 16, requires_grad=True)
    g = ember.randn(64, 50, 16)
    (gw,) = ember.autograd.grad(F.embedding(ember.tensor(i), w, padding_idx=7), w, g)
    expect = np.zeros((300, 16), np.float64)
    np.add.at(expect, i.reshape(-1), g.cpu().numpy().reshape(-1, 16).astype(np.float64))
    expect[7] = 0
    np.testing.assert_allclose(gw.cpu().numpy(), expect, rtol=1e-5, atol=1e-5)


def test_embedding_gradchecks():
    i = ember.tensor([[0, 2, 2], [1, 0, 3]])
    gradcheck_fn(lambda t, w: t.nn.functional.embedding(i, w), randn(4, 2))
    # (padding_idx / scale_grad_by_freq gradients differ from finite differences by design, as in torch)
    assert ember.autograd.gradgradcheck(
        lambda w: F.embedding(i, w) ** 2,
        (ember.randn(4, 2, dtype=ember.float64, requires_grad=True),),
    )


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 1.5])
def test_embedding_max_norm_renormalises_in_place(norm_type, max_norm):
    def fn(t, i, w):
        w = w * 1  # a non-leaf copy: the lookup renormalises it in place
        out = t.nn.functional.embedding(i, w, max_norm=max_norm, norm_type=norm_type)
        return out, w

    parity(fn, idx(3, 4, high=6), randn(6, 3, scale=2.0))


def test_embedding_max_norm_leaf_weight():
    ew = ember.randn(6, 3) * 3
    tw = torch.tensor(ew.cpu().numpy())
    i = np.array([[0, 1, 1], [5, 2, 0]])
    F.embedding(ember.tensor(i), ew, max_norm=1.0)
    torch.nn.functional.embedding(torch.tensor(i), tw, max_norm=1.0)
    np.testing.assert_allclose(ew.cpu().numpy(), tw.cpu().numpy(), rtol=1e-6)
    untouched = [3, 4]
    norms = np.linalg.norm(ew.cpu().numpy(), axis=1)
    assert (norms[[0, 1, 2, 5]] <= 1.0 + 1e-6).all() and (norms[untouched] > 0).all()


def test_embedding_errors():
    raises_like(
        lambda t, i, w: t.nn.functional.embedding(i, w),
        vals([1.0]),
        randn(3, 2),
        match="Expected tensor for argument #1 'indices'",
    )
    raises_like(
        lambda t, i, w: t.nn.functional.embedding(i, w),
        vals([5], dtype="int64"),
        randn(3, 2),
        match="index out of range in self",
    )
    raises_like(
        lambda t, i, w: t.nn.functional.embedding(i, w),
        vals([-1], dtype="int64"),
        randn(3, 2),
        match="index out of range in self",
    )
    raises_like(
        lambda t, i, w: t.nn.functional.embedding(i, w),
        vals([1], dtype="int64"),
        randn(3),
        match="'weight' must be 2-D",
    )
    raises_like(
        lambda t, i, w: t.nn.functional.embedding(i, w, padding_idx=3),
        vals([1], dtype="int64"),
        randn(3, 2),
        match="Padding_idx must be within num_embeddings",
    )
    raises_like(
        lambda t, i, w: t.nn.functional.embedding(i, w, padding_idx=-4), vals([1], dtype="int64"), randn(3, 2)
    )


# ------------------------------------------------------------------------------------------ modules


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"padding_idx": 2},
        {"padding_idx": -1},
        {"scale_grad_by_freq": True},
        {"max_norm": 1.0},
        {"max_norm": 2.0, "norm_type": 1.0},
    ],
)
@pytest.mark.parametrize("shape", [(4,), (3, 5)])
def test_embedding_module(kw, shape):
    layer_parity(lambda nn: nn.Embedding(8, 3, **kw), idx(*shape, high=8))


def test_embedding_module_float64():
    layer_parity(lambda nn: nn.Embedding(8, 3), idx(2, 6, high=8), dtype="float64")


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"padding_idx": 1},
        {"padding_idx": -2},
        {"max_norm": 1.0},
        {"norm_type": 1.0},
        {"scale_grad_by_freq": True},
        {"sparse": True},
    ],
)
def test_embedding_repr(kw):
    assert repr(ember.nn.Embedding(10, 3, **kw)) == repr(torch.nn.Embedding(10, 3, **kw))


def test_embedding_init():
    ember.manual_seed(0)
    e = ember.nn.Embedding(2000, 50, padding_idx=3)
    w = e.weight.detach().cpu().numpy()
    assert (w[3] == 0).all()
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.mean()) < 0.01 and abs(rest.std() - 1) < 0.01  # N(0, 1)
    assert list(e.state_dict().keys()) == ["weight"]
    assert e.weight.requires_grad
    assert e.to(ember.float64).weight.dtype == ember.float64


def test_embedding_from_pretrained():
    w = ember.randn(4, 3)
    e = ember.nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad and e.num_embeddings == 4 and e.embedding_dim == 3
    np.testing.assert_array_equal(e(ember.tensor([2, 0])).cpu().numpy(), w.cpu().numpy()[[2, 0]])
    e2 = ember.nn.Embedding.from_pretrained(w, freeze=False, padding_idx=1)
    assert e2.weight.requires_grad and e2.padding_idx == 1
    assert (e2.weight.detach().cpu().numpy()[1] == w.cpu().numpy()[1]).all()  # from_pretrained keeps the padding row
    out = e2(ember.tensor([1, 2, 1]))
    out.sum().backward()
    assert (e2.weight.grad.cpu().numpy()[1] == 0).all() and (e2.weight.grad.cpu().numpy()[2] == 1).all()
    tw = torch.tensor(w.cpu().numpy())
    assert repr(ember.nn.Embedding.from_pretrained(w, padding_idx=1)) == repr(
        torch.nn.Embedding.from_pretrained(tw, padding_idx=1)
    )
    raises_like(lambda t, w: t.nn.Embedding.from_pretrained(w), randn(4), match="2-dimensional")
    raises_like(
        lambda t: t.nn.Embedding(5, 2, padding_idx=5), match="Padding_idx must be within num_embeddings"
    )
    raises_like(lambda t, w: t.nn.Embedding(5, 2, _weight=w), randn(4, 2), match="Shape of weight")


# ------------------------------------------------------------------------------------------ one_hot


@pytest.mark.parametrize("num_classes", [-1, 7])
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
def test_one_hot(num_classes, shape):
    parity(lambda t, i: t.nn.functional.one_hot(i, num_classes), idx(*shape, high=6))


def test_one_hot_edge_cases_and_errors():
    parity(lambda t, i: t.nn.functional.one_hot(i, 3), Spec(np.zeros((0, 2), dtype=np.int64), "int64", False))
    raises_like(
        lambda t, i: t.nn.functional.one_hot(i),
        Spec(np.zeros(0, dtype=np.int64), "int64", False),
        match="Can not infer total number of classes",
    )
    raises_like(lambda t, i: t.nn.functional.one_hot(i), vals([1.0, 2.0]), match="LongTensor")
    raises_like(lambda t, i: t.nn.functional.one_hot(i), vals([1, 2], dtype="int32"), match="LongTensor")
    raises_like(lambda t, i: t.nn.functional.one_hot(i), vals([1, -2], dtype="int64"), match="non-negative")
    raises_like(lambda t, i: t.nn.functional.one_hot(i, 3), vals([1, 4], dtype="int64"), match="smaller than")


# ------------------------------------------------------------------------------------------ embedding_bag


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_bag_offsets(mode, padding_idx):
    offsets = vals([0, 2, 2, 6], dtype="int64")
    parity(
        lambda t, i, o, w: t.nn.functional.embedding_bag(i, w, o, mode=mode, padding_idx=padding_idx),
        idx(9, high=6),
        offsets,
        randn(6, 3),
    )
    last = vals([0, 3, 3, 9], dtype="int64")
    parity(
        lambda t, i, o, w: t.nn.functional.embedding_bag(
            i, w, o, mode=mode, padding_idx=padding_idx, include_last_offset=True
        ),
        idx(9, high=6),
        last,
        randn(6, 3),
    )


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_2d_and_module(mode):
    parity(lambda t, i, w: t.nn.functional.embedding_bag(i, w, mode=mode), idx(3, 4, high=7), randn(7, 2))
    layer_parity(lambda nn: nn.EmbeddingBag(7, 3, mode=mode), idx(2, 5, high=7))
    assert repr(ember.nn.EmbeddingBag(7, 3, mode=mode, padding_idx=0)) == repr(
        torch.nn.EmbeddingBag(7, 3, mode=mode, padding_idx=0)
    )


def test_embedding_bag_per_sample_weights_and_errors():
    parity(
        lambda t, i, o, w, s: t.nn.functional.embedding_bag(i, w, o, mode="sum", per_sample_weights=s),
        idx(6, high=5),
        vals([0, 4], dtype="int64"),
        randn(5, 3),
        randn(6),
    )
    raises_like(
        lambda t, i, w: t.nn.functional.embedding_bag(i, w),
        idx(6, high=5),
        randn(5, 3),
        match="offsets has to be a 1D Tensor but got None",
    )
    raises_like(
        lambda t, i, w, s: t.nn.functional.embedding_bag(i, w, mode="mean", per_sample_weights=s),
        idx(2, 3, high=5),
        randn(5, 3),
        randn(2, 3),
    )
    for mode in ("sum", "mean", "max"):
        gradcheck_fn(
            lambda t, w, mode=mode: t.nn.functional.embedding_bag(
                t.tensor([0, 2, 2, 1, 3]), w, t.tensor([0, 2, 2]), mode=mode
            ),
            randn(4, 2),
        )
    gradcheck_fn(
        lambda t, w, s: t.nn.functional.embedding_bag(
            t.tensor([[0, 2], [1, 1]]), w, mode="sum", per_sample_weights=s
        ),
        randn(3, 2),
        randn(2, 2),
    )
    e = ember.nn.EmbeddingBag.from_pretrained(ember.randn(5, 2))
    assert not e.weight.requires_grad and e.mode == "mean"
