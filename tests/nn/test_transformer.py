"""Transformer encoder/decoder layers, stacks, the full Transformer and a pytorch/examples-style subclass."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ember
from tests.helpers import bools, ints, parity, raises_like, randn, vals
from tests.nn_helpers import layer_parity

pytestmark = [
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
    pytest.mark.filterwarnings("ignore:Support for mismatched"),
    pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors"),
]

D_MODEL, NHEAD, FF = 8, 2, 16


def _causal(n):
    return vals(np.triu(np.full((n, n), -np.inf), 1), requires_grad=False)


def _kpm(n, s):
    m = bools(n, s, p=0.3)
    m.data[:, 0] = False  # every sequence keeps at least one key
    return m


# ------------------------------------------------------------------------------------------ encoder layer

ENC_CONFIGS = {
    "post_norm": {},
    "pre_norm": {"norm_first": True},
    "batch_first": {"batch_first": True},
    "pre_norm_batch_first": {"norm_first": True, "batch_first": True},
    "gelu_str": {"activation": "gelu"},
    "no_bias": {"bias": False},
    "eps": {"layer_norm_eps": 1e-3},
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cfg", list(ENC_CONFIGS))
def test_encoder_layer(cfg, dtype):
    kw = ENC_CONFIGS[cfg]
    x = randn(2, 5, D_MODEL, dtype=dtype) if kw.get("batch_first") else randn(5, 2, D_MODEL, dtype=dtype)
    layer_parity(lambda nn: nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=0.0, **kw), x, dtype=dtype)


@pytest.mark.parametrize("act", ["functional_gelu", "module_gelu", "lambda_tanh"])
def test_encoder_layer_callable_activation(act):
    def make(nn):
        lib = torch if nn is torch.nn else ember
        a = {
            "functional_gelu": nn.functional.gelu,
            "module_gelu": nn.GELU(),
            "lambda_tanh": lambda x: lib.tanh(x),
        }[act]
        return nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=0.0, activation=a)

    e, _ = layer_parity(make, randn(5, 2, D_MODEL))
    assert e.activation_relu_or_gelu == (2 if "gelu" in act else 0)


MASKS = ["causal_float", "causal_bool", "float", "kpm_bool", "kpm_float", "causal_and_kpm", "is_causal_hint"]


def _enc_masks(kind, S=5, N=2):
    """(specs, call) for an encoder layer / encoder on a (S, N, E) input."""
    if kind == "causal_float":
        return [_causal(S)], lambda m, x, a: m(x, a)
    if kind == "causal_bool":
        return [vals(np.triu(np.ones((S, S), bool), 1), dtype="bool")], lambda m, x, a: m(x, a)
    if kind == "float":
        return [randn(S, S, requires_grad=False)], lambda m, x, a: m(x, a)
    if kind == "kpm_bool":
        return [_kpm(N, S)], lambda m, x, k: m(x, src_key_padding_mask=k)
    if kind == "kpm_float":
        return [randn(N, S, requires_grad=False)], lambda m, x, k: m(x, src_key_padding_mask=k)
    if kind == "causal_and_kpm":
        kpm = vals(np.zeros((N, S)), requires_grad=False)
        kpm.data[1, 3:] = -np.inf
        return [_causal(S), kpm], lambda m, x, a, k: m(x, a, k)
    if kind == "is_causal_hint":
        return [_causal(S)], lambda m, x, a: m(x, a, is_causal=True)
    raise AssertionError(kind)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("kind", MASKS)
def test_encoder_layer_masks(kind, norm_first):
    specs, call = _enc_masks(kind)
    layer_parity(
        lambda nn: nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=0.0, norm_first=norm_first),
        randn(5, 2, D_MODEL),
        *specs,
        call=call,
    )


def test_encoder_layer_unbatched():
    layer_parity(lambda nn: nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=0.0), randn(5, D_MODEL))


def test_encoder_layer_dropout_eval():
    layer_parity(
        lambda nn: nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=0.3),
        randn(5, 2, D_MODEL),
        modes=("eval",),
    )


def test_encoder_layer_dropout_train_differs_from_eval():
    layer = ember.nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=0.5)
    x = ember.randn(5, 2, D_MODEL)
    a = layer(x)
    layer.eval()
    b = layer(x)
    assert not np.allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy())


# ------------------------------------------------------------------------------------------ decoder layer

DEC_CONFIGS = {
    "post_norm": {},
    "pre_norm": {"norm_first": True},
    "batch_first": {"batch_first": True},
    "gelu": {"activation": "gelu"},
    "no_bias": {"bias": False},
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cfg", list(DEC_CONFIGS))
def test_decoder_layer(cfg, dtype):
    kw = DEC_CONFIGS[cfg]
    if kw.get("batch_first"):
        tgt, mem = randn(2, 4, D_MODEL, dtype=dtype), randn(2, 6, D_MODEL, dtype=dtype)
    else:
        tgt, mem = randn(4, 2, D_MODEL, dtype=dtype), randn(6, 2, D_MODEL, dtype=dtype)
    layer_parity(
        lambda nn: nn.TransformerDecoderLayer(D_MODEL, NHEAD, FF, dropout=0.0, **kw), tgt, mem, dtype=dtype
    )


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_all_masks(norm_first):
    layer_parity(
        lambda nn: nn.TransformerDecoderLayer(D_MODEL, NHEAD, FF, dropout=0.0, norm_first=norm_first),
        randn(4, 2, D_MODEL),
        randn(6, 2, D_MODEL),
        _causal(4),
        randn(4, 6, requires_grad=False),
        _kpm(2, 4),
        _kpm(2, 6),
        call=lambda m, t, mem, tm, mm, tk, mk: m(
            t, mem, tgt_mask=tm, memory_mask=mm, tgt_key_padding_mask=tk, memory_key_padding_mask=mk
        ),
    )


def test_decoder_layer_causal_hint():
    layer_parity(
        lambda nn: nn.TransformerDecoderLayer(D_MODEL, NHEAD, FF, dropout=0.0, batch_first=True),
        randn(2, 4, D_MODEL),
        randn(2, 6, D_MODEL),
        _causal(4),
        call=lambda m, t, mem, tm: m(t, mem, tgt_mask=tm, tgt_is_causal=True),
    )


def test_decoder_layer_unbatched():
    layer_parity(
        lambda nn: nn.TransformerDecoderLayer(D_MODEL, NHEAD, FF, dropout=0.0),
        randn(4, D_MODEL),
        randn(6, D_MODEL),
    )


# ------------------------------------------------------------------------------------------ stacks


@pytest.mark.parametrize("with_norm", [False, True])
@pytest.mark.parametrize("kind", ["none", "causal_float", "kpm_bool", "causal_and_kpm"])
def test_encoder_stack(kind, with_norm):
    specs, call = _enc_masks(kind) if kind != "none" else ([], lambda m, x: m(x))
    if kind != "none":
        inner = call

        def call(m, x, *masks):  # the stack's keywords: mask / src_key_padding_mask
            if kind == "kpm_bool":
                return m(x, src_key_padding_mask=masks[0])
            if kind == "causal_and_kpm":
                return m(x, mask=masks[0], src_key_padding_mask=masks[1])
            return inner(m, x, *masks)

    def make(nn):
        norm = nn.LayerNorm(D_MODEL) if with_norm else None
        layer = nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=0.0)
        return nn.TransformerEncoder(layer, num_layers=2, norm=norm, enable_nested_tensor=False)

    layer_parity(make, randn(5, 2, D_MODEL), *specs, call=call)


def test_encoder_stack_layers_are_copies():
    layer = ember.nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF)
    enc = ember.nn.TransformerEncoder(layer, num_layers=3)
    ws = [m.linear1.weight for m in enc.layers]
    assert ws[0] is not ws[1] and ws[0] is not layer.linear1.weight
    np.testing.assert_array_equal(ws[0].detach().cpu().numpy(), ws[2].detach().cpu().numpy())
    assert len(list(enc.parameters())) == 3 * len(list(layer.parameters()))


def test_encoder_nested_tensor_warning_like_torch():
    with pytest.warns(UserWarning, match="enable_nested_tensor is True"):
        ember.nn.TransformerEncoder(ember.nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF), 2)
    enc = ember.nn.TransformerEncoder(
        ember.nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, batch_first=True), 2
    )
    t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, batch_first=True), 2)
    assert enc.use_nested_tensor == t.use_nested_tensor and enc.enable_nested_tensor is True


@pytest.mark.parametrize("with_norm", [False, True])
@pytest.mark.parametrize("pad", ["right", "left", "none"])
def test_encoder_inference_nested_tensor_path(pad, with_norm):
    """torch's eval/no-grad nested-tensor path zeros right-padded positions (before the final norm)."""
    kpm = np.zeros((3, 6), dtype=bool)
    if pad == "right":
        kpm[1, 4:] = kpm[2, 2:] = True
    elif pad == "left":
        kpm[1, :2] = True

    def make(nn):
        layer = nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, batch_first=True)
        return nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(D_MODEL) if with_norm else None).eval()

    t_enc, e_enc = make(torch.nn), make(ember.nn)
    e_enc.load_state_dict({k: ember.tensor(v.cpu().numpy()) for k, v in t_enc.state_dict().items()})

    def fn(lib, x, m):
        with lib.no_grad():
            return (e_enc if lib is ember else t_enc)(x, src_key_padding_mask=m)

    parity(fn, randn(3, 6, D_MODEL, requires_grad=False), vals(kpm, dtype="bool"), grad=False)


@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_stack(batch_first):
    def make(nn):
        layer = nn.TransformerDecoderLayer(D_MODEL, NHEAD, FF, dropout=0.0, batch_first=batch_first)
        return nn.TransformerDecoder(layer, num_layers=2, norm=nn.LayerNorm(D_MODEL))

    tgt = randn(2, 4, D_MODEL) if batch_first else randn(4, 2, D_MODEL)
    mem = randn(2, 6, D_MODEL) if batch_first else randn(6, 2, D_MODEL)
    layer_parity(make, tgt, mem, _causal(4), call=lambda m, t, mem, tm: m(t, mem, tgt_mask=tm))


# ------------------------------------------------------------------------------------------ Transformer


def _transformer(nn, **kw):
    return nn.Transformer(
        d_model=D_MODEL,
        nhead=NHEAD,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dim_feedforward=FF,
        dropout=0.0,
        **kw,
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "kw", [{}, {"batch_first": True}, {"norm_first": True}, {"activation": "gelu"}], ids=str
)
def test_transformer(kw, dtype):
    bf = kw.get("batch_first", False)
    src = randn(2, 6, D_MODEL, dtype=dtype) if bf else randn(6, 2, D_MODEL, dtype=dtype)
    tgt = randn(2, 4, D_MODEL, dtype=dtype) if bf else randn(4, 2, D_MODEL, dtype=dtype)
    layer_parity(lambda nn: _transformer(nn, **kw), src, tgt, dtype=dtype)


def test_transformer_all_masks():
    layer_parity(
        _transformer,
        randn(6, 2, D_MODEL),
        randn(4, 2, D_MODEL),
        _causal(4),
        _kpm(2, 6),
        _kpm(2, 4),
        call=lambda m, s, t, tm, sk, tk: m(
            s, t, tgt_mask=tm, src_key_padding_mask=sk, tgt_key_padding_mask=tk, memory_key_padding_mask=sk
        ),
    )


def test_transformer_unbatched():
    layer_parity(_transformer, randn(6, D_MODEL), randn(4, D_MODEL))


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_generate_square_subsequent_mask(n, dtype):
    parity(lambda t: t.nn.Transformer.generate_square_subsequent_mask(n, dtype=getattr(t, dtype)), grad=False)


def test_transformer_errors():
    e, t = _transformer(ember.nn), _transformer(torch.nn)
    raises_like(
        lambda lib, s, g: (e if lib is ember else t)(s, g),
        randn(6, 2, D_MODEL),
        randn(4, 3, D_MODEL),
        match="batch number",
    )
    raises_like(
        lambda lib, s, g: (e if lib is ember else t)(s, g),
        randn(6, 2, D_MODEL),
        randn(4, 2, 4),
        match="feature number",
    )
    with pytest.raises(RuntimeError, match="relu/gelu"):
        ember.nn.TransformerEncoderLayer(D_MODEL, NHEAD, activation="tanh")


@pytest.mark.parametrize(
    "ctor",
    [
        lambda nn: nn.TransformerEncoderLayer(8, 2, 16),
        lambda nn: nn.TransformerDecoderLayer(8, 2, 16, activation=nn.GELU(), bias=False),
        lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 1, norm=nn.LayerNorm(8)),
        lambda nn: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 1),
        lambda nn: nn.Transformer(8, 2, 1, 1, 16),
    ],
)
def test_repr_and_keys(ctor):
    e, t = ctor(ember.nn), ctor(torch.nn)
    assert repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())


def test_repr_of_repeated_layers():
    e = ember.nn.TransformerEncoder(ember.nn.TransformerEncoderLayer(8, 2, 16), 2)
    t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16), 2)
    assert repr(e) == repr(t)


def test_transformer_init_xavier():
    m = ember.nn.Transformer(16, 2, 1, 1, 32)
    w = m.encoder.layers[0].linear1.weight.detach().cpu().numpy()  # (32, 16): xavier bound sqrt(6 / 48)
    assert np.abs(w).max() <= math.sqrt(6 / 48) and np.abs(w).max() > 0.8 * math.sqrt(6 / 48)
    assert float(m.encoder.layers[0].self_attn.in_proj_bias.abs().sum()) == 0.0


def test_transformer_to_float64():
    m = _transformer(ember.nn).to(ember.float64)
    out = m(ember.randn(5, 2, D_MODEL, dtype=ember.float64), ember.randn(3, 2, D_MODEL, dtype=ember.float64))
    assert out.dtype == ember.float64 and out.shape == (3, 2, D_MODEL)


# --------------------------------------------------------------------------------- examples-style subclass


def _word_language_model(nn):
    """pytorch/examples word_language_model's TransformerModel (and PositionalEncoding) for either library."""
    lib = torch if nn is torch.nn else ember

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, dropout=0.1, max_len=64):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            pe = lib.zeros(max_len, d_model)
            position = lib.arange(0, max_len, dtype=lib.float).unsqueeze(1)
            div_term = lib.exp(lib.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = lib.sin(position * div_term)
            pe[:, 1::2] = lib.cos(position * div_term)
            pe = pe.unsqueeze(0).transpose(0, 1)
            self.register_buffer("pe", pe)

        def forward(self, x):
            x = x + self.pe[: x.size(0), :]
            return self.dropout(x)

    class TransformerModel(nn.Transformer):
        def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
            super().__init__(
                d_model=ninp, nhead=nhead, dim_feedforward=nhid, num_encoder_layers=nlayers, dropout=dropout
            )
            self.model_type = "Transformer"
            self.src_mask = None
            self.pos_encoder = PositionalEncoding(ninp, dropout)
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.ninp = ninp
            self.decoder = nn.Linear(ninp, ntoken)
            self.init_weights()

        def _generate_square_subsequent_mask(self, sz):
            return lib.log(lib.tril(lib.ones(sz, sz)))

        def init_weights(self):
            initrange = 0.1
            nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, src, has_mask=True):
            if has_mask:
                if self.src_mask is None or self.src_mask.size(0) != len(src):
                    self.src_mask = self._generate_square_subsequent_mask(len(src)).to(src.device)
            else:
                self.src_mask = None
            src = self.input_emb(src) * math.sqrt(self.ninp)
            src = self.pos_encoder(src)
            output = self.encoder(src, mask=self.src_mask)
            output = self.decoder(output)
            return nn.functional.log_softmax(output, dim=-1)

    return TransformerModel(ntoken=11, ninp=8, nhead=2, nhid=16, nlayers=2, dropout=0.0)


@pytest.mark.parametrize("has_mask", [True, False])
def test_word_language_model_subclass(has_mask):
    e, t = layer_parity(
        _word_language_model, ints(7, 3, low=0, high=11), call=lambda m, src: m(src, has_mask=has_mask)
    )
    assert isinstance(e, ember.nn.Transformer) and isinstance(e.decoder, ember.nn.Linear)
    assert list(e.state_dict()) == list(t.state_dict())
    assert (e.src_mask is None) == (not has_mask)


def test_word_language_model_repr():
    assert repr(_word_language_model(ember.nn)) == repr(_word_language_model(torch.nn))
