"""RNN / LSTM / GRU, their cells, and nn.utils.rnn (pad / pack helpers) against torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ember
from ember.nn.modules.rnn import _layer, _layer_math
from tests.helpers import gradcheck_fn, parity, raises_like, randn
from tests.nn_helpers import layer_parity

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")


def _lib(layer):
    return torch if isinstance(layer, torch.nn.Module) else ember


# ------------------------------------------------------------------------------------------ full layers

KINDS = {
    "rnn_tanh": ("RNN", {}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "lstm_proj": ("LSTM", {"proj_size": 2}),
    "gru": ("GRU", {}),
}
CONFIGS = {
    "basic": {},
    "two_layers": {"num_layers": 2},
    "bidirectional": {"bidirectional": True},
    "bidir_two_layers_batch_first": {"bidirectional": True, "num_layers": 2, "batch_first": True},
    "no_bias": {"bias": False},
}
I, H, T, N = 3, 4, 5, 2


def _make(kind, cfg):
    cls, kw = KINDS[kind]
    return lambda nn: getattr(nn, cls)(I, H, **kw, **CONFIGS[cfg])


def _x(cfg, dtype="float32"):
    return randn(N, T, I, dtype=dtype) if CONFIGS[cfg].get("batch_first") else randn(T, N, I, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_layer(kind, cfg, dtype):
    layer_parity(_make(kind, cfg), _x(cfg, dtype), dtype=dtype)


def _hidden_specs(kind, layers, dirs, batch=(N,), dtype="float32"):
    cls, kw = KINDS[kind]
    hout = kw.get("proj_size", H)
    h = randn(layers * dirs, *batch, hout, dtype=dtype)
    if cls == "LSTM":
        return h, randn(layers * dirs, *batch, H, dtype=dtype)
    return (h,)


@pytest.mark.parametrize("kind", list(KINDS))
def test_layer_initial_states(kind):
    cls, kw = KINDS[kind]
    hs = _hidden_specs(kind, 2, 2)

    def call(layer, x, *h):
        return layer(x, tuple(h) if cls == "LSTM" else h[0])

    layer_parity(
        lambda nn: getattr(nn, cls)(I, H, num_layers=2, bidirectional=True, **kw),
        randn(T, N, I),
        *hs,
        call=call,
    )


@pytest.mark.parametrize("with_h", [False, True])
@pytest.mark.parametrize("kind", list(KINDS))
def test_layer_unbatched(kind, with_h):
    cls, kw = KINDS[kind]
    hs = _hidden_specs(kind, 1, 2, batch=()) if with_h else ()

    def call(layer, x, *h):
        if not h:
            return layer(x)
        return layer(x, tuple(h) if cls == "LSTM" else h[0])

    layer_parity(lambda nn: getattr(nn, cls)(I, H, bidirectional=True, **kw), randn(T, I), *hs, call=call)


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_layer_dropout_eval_mode(kind):
    cls, kw = KINDS[kind]
    layer_parity(
        lambda nn: getattr(nn, cls)(I, H, num_layers=3, dropout=0.5, **kw), randn(T, N, I), modes=("eval",)
    )


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_layer_empty_batch(kind):
    cls, kw = KINDS[kind]
    layer_parity(lambda nn: getattr(nn, cls)(I, H, bidirectional=True, **kw), randn(T, 0, I))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_layer_longer_sequence_float64(kind):
    cls, kw = KINDS[kind]
    layer_parity(
        lambda nn: getattr(nn, cls)(4, 6, num_layers=2, **kw),
        randn(20, 3, 4, dtype="float64"),
        dtype="float64",
    )


# ------------------------------------------------------------------------------------------ packed input

LENGTHS = [[5, 3, 3, 1], [2, 5, 1, 4]]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", LENGTHS, ids=["sorted", "unsorted"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_packed_input(kind, lengths, batch_first):
    cls, kw = KINDS[kind]

    def call(layer, x):
        lib = _lib(layer)
        packed = lib.nn.utils.rnn.pack_padded_sequence(
            x, lengths, batch_first=batch_first, enforce_sorted=lengths == sorted(lengths, reverse=True)
        )
        out, h = layer(packed)
        padded, lens = lib.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first)
        assert type(out).__name__ == "PackedSequence"
        return out.data, padded, lens, h

    x = randn(4, 5, I) if batch_first else randn(5, 4, I)
    layer_parity(
        lambda nn: getattr(nn, cls)(I, H, num_layers=2, bidirectional=True, batch_first=batch_first, **kw),
        x,
        call=call,
    )


@pytest.mark.parametrize("kind", ["lstm", "gru", "lstm_proj"])
def test_packed_input_with_initial_state(kind):
    cls, kw = KINDS[kind]
    lengths = [2, 5, 1, 4]
    hs = _hidden_specs(kind, 1, 2, batch=(4,))

    def call(layer, x, *h):
        lib = _lib(layer)
        packed = lib.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, hn = layer(packed, tuple(h) if cls == "LSTM" else h[0])
        return out.data, hn

    layer_parity(lambda nn: getattr(nn, cls)(I, H, bidirectional=True, **kw), randn(5, 4, I), *hs, call=call)


# ------------------------------------------------------------------------------------------ cells

CELLS = {
    "rnn_tanh": lambda nn, **kw: nn.RNNCell(I, H, **kw),
    "rnn_relu": lambda nn, **kw: nn.RNNCell(I, H, nonlinearity="relu", **kw),
    "lstm": lambda nn, **kw: nn.LSTMCell(I, H, **kw),
    "gru": lambda nn, **kw: nn.GRUCell(I, H, **kw),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("variant", ["no_hx", "hx", "unbatched", "no_bias"])
@pytest.mark.parametrize("kind", list(CELLS))
def test_cell(kind, variant, dtype):
    batch = () if variant == "unbatched" else (N,)
    kw = {"bias": False} if variant == "no_bias" else {}
    hs = ()
    if variant in ("hx", "unbatched"):
        hs = (randn(*batch, H, dtype=dtype),) * (2 if kind == "lstm" else 1)
        hs = tuple(randn(*batch, H, dtype=dtype) for _ in hs)

    def call(layer, x, *h):
        if not h:
            return layer(x)
        return layer(x, tuple(h) if kind == "lstm" else h[0])

    layer_parity(lambda nn: CELLS[kind](nn, **kw), randn(*batch, I, dtype=dtype), *hs, dtype=dtype, call=call)


def test_cell_unrolled_matches_lstm_layer():
    """An LSTMCell stepped over time gives the same outputs as the LSTM layer with the same weights."""
    lstm = ember.nn.LSTM(I, H)
    cell = ember.nn.LSTMCell(I, H)
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x = ember.randn(T, N, I)
    out, (hn, cn) = lstm(x)
    h = c = ember.zeros(N, H)
    steps = []
    for t in range(T):
        h, c = cell(x[t], (h, c))
        steps.append(h)
    np.testing.assert_allclose(
        ember.stack(steps).detach().cpu().numpy(), out.detach().cpu().numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(c.detach().cpu().numpy(), cn[0].detach().cpu().numpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------ gradcheck

MODES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _layer_fn(mode, batch_sizes, reverse, proj=False):
    def fn(t, x, h0, w, *rest):
        rest = list(rest)
        c0 = rest.pop(0) if mode == "LSTM" else None
        b = rest.pop(0) if mode == "GRU" else None
        whr = rest.pop(0) if proj else None
        out, hn, cn = _layer(mode, x, h0, c0, w, b, whr, batch_sizes, reverse)
        return (out, hn) if cn is None else (out, hn, cn)

    return fn


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mode", list(MODES))
def test_fused_layer_gradcheck(mode, reverse):
    g, h = MODES[mode], 2
    batch_sizes = (3, 2, 2, 1)
    extra = []
    if mode == "LSTM":
        extra.append(randn(3, h))
    if mode == "GRU":
        extra.append(randn(g * h))
    gradcheck_fn(_layer_fn(mode, batch_sizes, reverse), randn(8, g * h), randn(3, h), randn(g * h, h), *extra)


def test_fused_lstm_projection_gradcheck():
    gradcheck_fn(
        _layer_fn("LSTM", (2, 2, 1), False, proj=True),
        randn(5, 8),
        randn(2, 1),
        randn(8, 1),
        randn(2, 2),
        randn(1, 2),
    )


@pytest.mark.parametrize("mode", list(MODES))
def test_fused_layer_gradgradcheck(mode):
    g, h = MODES[mode], 2
    rng = np.random.default_rng(0)

    def T_(*s):
        return ember.tensor(rng.standard_normal(s), requires_grad=True)

    ins = [T_(3, g * h), T_(2, h), T_(g * h, h)]
    if mode == "LSTM":
        ins.append(T_(2, h))
    if mode == "GRU":
        ins.append(T_(g * h))
    fn = _layer_fn(mode, (2, 1), True)
    assert ember.autograd.gradgradcheck(lambda *xs: fn(ember, *xs), tuple(ins))


@pytest.mark.parametrize("mode", list(MODES))
def test_fused_layer_matches_composition(mode):
    """The fused op and the ember-op composition (the create_graph path) agree on values and gradients."""
    g, h = MODES[mode], 3
    rng = np.random.default_rng(1)
    bs = (4, 3, 3, 1)

    def T_(*s):
        return ember.tensor(rng.standard_normal(s), requires_grad=True)

    x, h0, w = T_(11, g * h), T_(4, h), T_(g * h, h)
    c0 = T_(4, h) if mode == "LSTM" else None
    b = T_(g * h) if mode == "GRU" else None
    for reverse in (False, True):
        fused = _layer(mode, x, h0, c0, w, b, None, bs, reverse)
        ref = _layer_math(mode, x, h0, c0, w, b, None, bs, reverse)
        outs = [(f, r) for f, r in zip(fused, ref) if r is not None]
        for f, r in outs:
            np.testing.assert_allclose(f.detach().cpu().numpy(), r.detach().cpu().numpy(), rtol=1e-12, atol=1e-12)
        cots = [ember.tensor(rng.standard_normal(tuple(r.shape))) for _, r in outs]
        wrt = [a for a in (x, h0, c0, w, b) if a is not None]
        ga = ember.autograd.grad([f for f, _ in outs], wrt, cots)
        gb = ember.autograd.grad([r for _, r in outs], wrt, cots)
        for a, b_ in zip(ga, gb):
            np.testing.assert_allclose(a.cpu().numpy(), b_.cpu().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_cell_gradcheck_inputs(kind):
    ember.manual_seed(0)
    cell = CELLS[kind](ember.nn).to(ember.float64)

    def fn(t, x, *h):
        return cell(x, tuple(h) if kind == "lstm" else h[0])

    hs = (randn(2, H), randn(2, H)) if kind == "lstm" else (randn(2, H),)
    gradcheck_fn(fn, randn(2, I), *hs)


def test_layer_half_precision_runs():
    for dt in (ember.float16, ember.bfloat16):
        m = ember.nn.LSTM(I, H).to(dt)
        x = ember.randn(T, N, I, dtype=dt, requires_grad=True)
        out, (hn, cn) = m(x)
        assert out.dtype == dt and hn.dtype == dt and cn.dtype == dt
        out.sum().backward()
        assert x.grad.dtype == dt and m.weight_hh_l0.grad.dtype == dt


# ------------------------------------------------------------------------------------------ module surface


@pytest.mark.parametrize(
    "ctor",
    [
        lambda nn: nn.RNN(3, 4),
        lambda nn: nn.RNN(
            3, 4, 2, nonlinearity="relu", bias=False, batch_first=True, dropout=0.5, bidirectional=True
        ),
        lambda nn: nn.LSTM(3, 4, proj_size=2, num_layers=2),
        lambda nn: nn.GRU(3, 4, bidirectional=True),
        lambda nn: nn.RNNCell(3, 4, nonlinearity="relu", bias=False),
        lambda nn: nn.LSTMCell(3, 4),
        lambda nn: nn.GRUCell(3, 4, bias=False),
    ],
)
def test_repr_and_keys(ctor):
    e, t = ctor(ember.nn), ctor(torch.nn)
    assert repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())
    assert [list(p.shape) for p in e.parameters()] == [list(p.shape) for p in t.parameters()]


def test_all_weights_and_flat_names():
    e, t = (
        ember.nn.LSTM(3, 4, 2, bidirectional=True, proj_size=1),
        torch.nn.LSTM(3, 4, 2, bidirectional=True, proj_size=1),
    )
    assert e._flat_weights_names == t._flat_weights_names
    assert [[tuple(w.shape) for w in ws] for ws in e.all_weights] == [
        [tuple(w.shape) for w in ws] for ws in t.all_weights
    ]


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_default_init_bounds(cls):
    m = getattr(ember.nn, cls)(10, 16)
    bound = 1 / math.sqrt(16)
    for p in m.parameters():
        a = p.detach().cpu().numpy()
        assert np.abs(a).max() <= bound
        assert a.std() > 0.4 * bound  # U(-b, b) has std b / sqrt(3)


def test_to_float64():
    m = ember.nn.GRU(3, 4, num_layers=2).to(ember.float64)
    out, h = m(ember.randn(5, 2, 3, dtype=ember.float64))
    assert out.dtype == ember.float64 and h.dtype == ember.float64 and m.weight_ih_l1.dtype == ember.float64


def test_dropout_train_mode_is_random_and_seeded():
    m = ember.nn.GRU(3, 8, num_layers=2, dropout=0.5)
    x = ember.randn(4, 2, 3)
    ember.manual_seed(1)
    a, _ = m(x)
    ember.manual_seed(1)
    b, _ = m(x)
    c, _ = m(x)
    m.eval()
    d, _ = m(x)
    np.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().cpu().numpy())
    assert not np.allclose(a.detach().cpu().numpy(), c.detach().cpu().numpy())
    assert not np.allclose(a.detach().cpu().numpy(), d.detach().cpu().numpy())


def _raises(ctor, call, *specs, match=None):
    e_layer, t_layer = ctor(ember.nn), ctor(torch.nn)
    raises_like(lambda t, *xs: call(e_layer if t is ember else t_layer, *xs), *specs, match=match)


def test_errors_forward():
    _raises(lambda nn: nn.LSTM(3, 4), lambda m, x: m(x), randn(2, 3, 4, 3), match="2D or 3D")
    _raises(lambda nn: nn.GRU(3, 4), lambda m, x: m(x), randn(5, 2, 4), match="input_size")
    _raises(
        lambda nn: nn.RNN(3, 4),
        lambda m, x, h: m(x, h),
        randn(5, 2, 3),
        randn(1, 3, 4),
        match="Expected hidden size",
    )
    _raises(lambda nn: nn.RNN(3, 4), lambda m, x, h: m(x, h), randn(5, 2, 3), randn(2, 4), match="3-D")
    _raises(lambda nn: nn.LSTM(3, 4), lambda m, x, h: m(x, (h, h)), randn(5, 3), randn(1, 1, 4), match="2-D")
    _raises(lambda nn: nn.RNN(3, 4), lambda m, x: m(x), randn(5, 2, 3, dtype="float64"), match="dtype")
    _raises(lambda nn: nn.LSTM(3, 4), lambda m, x: m(x), randn(0, 2, 3), match="sequence length")
    _raises(lambda nn: nn.LSTMCell(3, 4), lambda m, x: m(x), randn(2, 2, 3))
    _raises(lambda nn: nn.GRUCell(3, 4), lambda m, x: m(x), randn(2, 5))
    _raises(lambda nn: nn.RNNCell(3, 4), lambda m, x, h: m(x, h), randn(2, 3), randn(3, 4))


def test_errors_constructor():
    for kw in ({"dropout": 1.5}, {"proj_size": 4}, {"num_layers": 0}, {"proj_size": -1}):
        with pytest.raises(ValueError):
            ember.nn.LSTM(3, 4, **kw)
    with pytest.raises(ValueError, match="proj_size"):
        ember.nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="nonlinearity"):
        ember.nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(TypeError):
        ember.nn.RNN(3, 4, bias=1)
    with pytest.warns(UserWarning, match="dropout"):
        ember.nn.GRU(3, 4, dropout=0.2)


# ------------------------------------------------------------------------------------------ nn.utils.rnn


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence(batch_first, side):
    parity(
        lambda t, a, b, c: t.nn.utils.rnn.pad_sequence(
            [a, b, c], batch_first=batch_first, padding_value=-2.0, padding_side=side
        ),
        randn(3, 2, 2),
        randn(5, 2, 2),
        randn(1, 2, 2),
    )


def test_pad_sequence_1d_and_tensor_input():
    parity(lambda t, a, b: t.nn.utils.rnn.pad_sequence([a, b]), randn(4), randn(2))
    parity(lambda t, a: t.nn.utils.rnn.pad_sequence(a, batch_first=True), randn(3, 2, 4))


@pytest.mark.parametrize("total_length", [None, 7])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize(
    "lengths", [[5, 3, 3, 1], [2, 5, 1, 4], [3, 3, 3, 3]], ids=["sorted", "unsorted", "equal"]
)
def test_pack_pad_roundtrip(lengths, batch_first, total_length):
    sorted_ = lengths == sorted(lengths, reverse=True)

    def fn(t, x):
        p = t.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=sorted_)
        padded, lens = t.nn.utils.rnn.pad_packed_sequence(
            p, batch_first=batch_first, padding_value=9.0, total_length=total_length
        )
        return p.data, p.batch_sizes, padded, lens

    parity(fn, randn(4, 5, 3) if batch_first else randn(5, 4, 3))


def test_pack_padded_lengths_tensor_and_indices():
    def fn(t, x):
        p = t.nn.utils.rnn.pack_padded_sequence(x, t.tensor([2, 4, 1]), enforce_sorted=False)
        return p.data, p.batch_sizes, p.sorted_indices, p.unsorted_indices

    parity(fn, randn(4, 3, 2))


def test_pack_sequence_and_unpack():
    def fn(t, a, b, c):
        p = t.nn.utils.rnn.pack_sequence([a, b, c], enforce_sorted=False)
        return p.data, tuple(t.nn.utils.rnn.unpack_sequence(p))

    parity(fn, randn(2, 3), randn(4, 3), randn(1, 3))


@pytest.mark.parametrize("batch_first", [False, True])
def test_unpad_sequence(batch_first):
    def fn(t, x):  # x * 1: torch transposes its argument in place when batch_first=False
        return tuple(t.nn.utils.rnn.unpad_sequence(x * 1, t.tensor([3, 1, 2]), batch_first=batch_first))

    parity(fn, randn(3, 3, 2))


def test_invert_permutation_and_packed_to():
    perm = ember.tensor([2, 0, 3, 1])
    inv = ember.nn.utils.rnn.invert_permutation(perm)
    assert inv.tolist() == torch.nn.utils.rnn.invert_permutation(torch.tensor([2, 0, 3, 1])).tolist()
    assert ember.nn.utils.rnn.invert_permutation(None) is None
    p = ember.nn.utils.rnn.pack_sequence([ember.randn(3, 2), ember.randn(1, 2)])
    q = p.to(ember.float64)
    assert q.data.dtype == ember.float64 and q.batch_sizes.tolist() == [2, 1, 1]
    assert p.to(ember.float32) is p
    assert isinstance(p, tuple) and len(p) == 4


def test_utils_errors():
    raises_like(
        lambda t, x: t.nn.utils.rnn.pack_padded_sequence(x, [1, 3]),
        randn(3, 2, 2),
        match="sorted in decreasing",
    )
    raises_like(lambda t, x: t.nn.utils.rnn.pack_padded_sequence(x, [3, 0]), randn(3, 2, 2))
    raises_like(lambda t, x: t.nn.utils.rnn.pack_padded_sequence(x, [3, 2, 1]), randn(3, 2, 2))
    raises_like(
        lambda t, x: t.nn.utils.rnn.pad_packed_sequence(
            t.nn.utils.rnn.pack_padded_sequence(x, [3, 2]), total_length=2
        ),
        randn(3, 2, 2),
        match="total_length",
    )
    raises_like(lambda t, a: t.nn.utils.rnn.pad_sequence([a], padding_side="middle"), randn(2, 2))
