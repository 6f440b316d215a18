"""scaled_dot_product_attention (fused op vs torch and vs the ember composition) and MultiheadAttention."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ember
from ember.nn.functional.attention import _scaled_dot_product_attention_math
from tests.helpers import bools, gradcheck_fn, parity, raises_like, rand, randn, vals
from tests.nn_helpers import layer_parity

# ------------------------------------------------------------------------------------------ SDPA parity

SHAPES = [
    ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)),  # T_q != T_k, Ev != E
    ((2, 4, 8), (2, 4, 8), (2, 4, 8)),  # 3-D
    ((5, 4), (3, 4), (3, 2)),  # 2-D
    ((2, 3, 4, 8), (3, 6, 8), (3, 6, 8)),  # key/value broadcast over the batch dim
    ((1, 2, 7, 3), (1, 2, 7, 3), (1, 2, 7, 3)),
]


def _sdpa(**kw):
    return lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(q, k, v, **kw)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "shapes", SHAPES, ids=lambda s: "x".join(map(str, s[0])) + "-" + "x".join(map(str, s[1]))
)
def test_sdpa_no_mask(shapes, dtype):
    parity(_sdpa(), *(randn(*s, dtype=dtype) for s in shapes))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shapes", SHAPES[:3], ids=["4d", "3d", "2d"])
def test_sdpa_is_causal(shapes, dtype):
    parity(_sdpa(is_causal=True), *(randn(*s, dtype=dtype) for s in shapes))


@pytest.mark.parametrize("lq,lk", [(3, 6), (6, 3), (1, 1)])
def test_sdpa_causal_rectangular(lq, lk):
    parity(_sdpa(is_causal=True), randn(2, 2, lq, 4), randn(2, 2, lk, 4), randn(2, 2, lk, 3))


@pytest.mark.parametrize("scale", [0.1, 1.0, 2.5])
def test_sdpa_scale(scale):
    parity(_sdpa(scale=scale), randn(2, 2, 4, 8), randn(2, 2, 6, 8), randn(2, 2, 6, 8))


MASK_SHAPES = [(4, 5), (2, 1, 4, 5), (1, 3, 1, 5), (2, 3, 4, 5)]


@pytest.mark.parametrize("mshape", MASK_SHAPES, ids=str)
def test_sdpa_bool_mask(mshape):
    parity(
        lambda t, q, k, v, m: t.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m),
        randn(2, 3, 4, 8),
        randn(2, 3, 5, 8),
        randn(2, 3, 5, 6),
        bools(*mshape, p=0.7),
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mshape", MASK_SHAPES, ids=str)
def test_sdpa_float_mask_with_grad(mshape, dtype):
    parity(
        lambda t, q, k, v, m: t.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m),
        randn(2, 3, 4, 8, dtype=dtype),
        randn(2, 3, 5, 8, dtype=dtype),
        randn(2, 3, 5, 6, dtype=dtype),
        randn(*mshape, dtype=dtype),
    )


def test_sdpa_float32_mask_with_float64_query():
    parity(
        lambda t, q, k, v, m: t.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m),
        randn(2, 4, 8, dtype="float64"),
        randn(2, 5, 8, dtype="float64"),
        randn(2, 5, 8, dtype="float64"),
        randn(4, 5, requires_grad=False),
    )


def test_sdpa_fully_masked_rows_give_zeros():
    mask = np.ones((4, 5), dtype=bool)
    mask[1] = False
    out = parity(
        lambda t, q, k, v, m: t.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m),
        randn(2, 4, 8),
        randn(2, 5, 8),
        randn(2, 5, 8),
        vals(mask, dtype="bool"),
    )
    assert float(out[:, 1].abs().sum()) == 0.0


def test_sdpa_float_mask_minus_inf_row():
    m = np.zeros((3, 4))
    m[0] = -np.inf
    m[2, 1] = -np.inf
    parity(
        lambda t, q, k, v, m: t.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m),
        randn(2, 3, 4),
        randn(2, 4, 4),
        randn(2, 4, 4),
        vals(m, requires_grad=False),
    )


@pytest.mark.parametrize(
    "hq,hk,causal",
    [(6, 3, False), (4, 1, False), (4, 2, True), (2, 2, False)],
    ids=["6-3", "4-1", "4-2-causal", "2-2"],
)
def test_sdpa_gqa(hq, hk, causal):
    parity(
        _sdpa(enable_gqa=True, is_causal=causal), randn(2, hq, 4, 8), randn(2, hk, 5, 8), randn(2, hk, 5, 8)
    )


def test_sdpa_gqa_3d():
    parity(_sdpa(enable_gqa=True), randn(6, 4, 8), randn(3, 4, 8), randn(3, 4, 8))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_sdpa_half(dtype):
    parity(
        _sdpa(is_causal=True),
        randn(2, 2, 4, 8, dtype=dtype),
        randn(2, 2, 4, 8, dtype=dtype),
        randn(2, 2, 4, 8, dtype=dtype),
        atol=2e-2,
        rtol=2e-2,
        grad_atol=5e-2,
        grad_rtol=5e-2,
    )


def test_sdpa_noncontiguous():
    parity(
        _sdpa(),
        randn(2, 4, 8, noncontig=True),
        randn(2, 5, 8, noncontig=True),
        randn(2, 5, 3, noncontig=True),
    )


@pytest.mark.parametrize(
    "shapes", [((2, 0, 8), (2, 5, 8), (2, 5, 4)), ((2, 3, 8), (2, 0, 8), (2, 0, 4))], ids=["L0", "S0"]
)
def test_sdpa_empty(shapes):
    parity(_sdpa(), *(randn(*s) for s in shapes))


def test_sdpa_dropout_matches_composition_with_same_keep_mask():
    q, k, v = (ember.randn(2, 3, 4, 8, requires_grad=True) for _ in range(3))
    p = 0.4
    ember.manual_seed(7)
    out = ember.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=p)
    ember.manual_seed(7)
    keep = ember.rand(2, 3, 4, 4) >= p
    ref = _scaled_dot_product_attention_math(q, k, v, dropout_p=p, keep=keep)
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
    g = ember.randn(*out.shape)
    ga = ember.autograd.grad(out, (q, k, v), g)
    gb = ember.autograd.grad(ref, (q, k, v), g)
    for a, b in zip(ga, gb):
        np.testing.assert_allclose(a.cpu().numpy(), b.cpu().numpy(), rtol=1e-4, atol=1e-5)
    assert 0.2 < float((~keep).float().mean()) < 0.6


def test_sdpa_half_dropout_double_backward_against_torch_with_the_same_mask():
    """create_graph through float16 attention with dropout: the mask is applied in the probabilities' dtype
    (a bool mask times 1 / (1 - p) would make float32 gradients meet float16 operands), and the first and second
    derivatives are torch's float64 ones with the same keep mask."""
    rng = np.random.default_rng(4)
    qn, kn, vn = (
        rng.standard_normal(s).astype(np.float16) for s in ((1, 2, 6, 8), (1, 2, 8, 8), (1, 2, 8, 8))
    )
    gn = rng.standard_normal((1, 2, 6, 8)).astype(np.float32)
    p = 0.4
    ember.manual_seed(11)
    keep = (ember.rand(1, 2, 6, 8) >= p).cpu().numpy()
    ember.manual_seed(11)
    x = ember.tensor(qn.astype(np.float32), requires_grad=True)
    out = ember.nn.functional.scaled_dot_product_attention(
        x.half(), ember.tensor(kn), ember.tensor(vn), dropout_p=p
    )
    (gx,) = ember.autograd.grad((out.float() * ember.tensor(gn)).sum(), x, create_graph=True)
    (ggx,) = ember.autograd.grad(gx.pow(2).sum(), x)
    tx = torch.tensor(qn.astype(np.float64), requires_grad=True)
    tk, tv = torch.tensor(kn.astype(np.float64)), torch.tensor(vn.astype(np.float64))
    tout = ((tx @ tk.mT) / np.sqrt(8)).softmax(-1) * torch.tensor(keep) / (1 - p) @ tv
    (tgx,) = torch.autograd.grad((tout * torch.tensor(gn, dtype=torch.float64)).sum(), tx, create_graph=True)
    (tggx,) = torch.autograd.grad(tgx.pow(2).sum(), tx)
    assert out.dtype == ember.float16 and gx.dtype == ember.float32
    for a, b in ((out, tout), (gx, tgx), (ggx, tggx)):
        np.testing.assert_allclose(
            a.detach().double().cpu().numpy(), b.detach().numpy(), rtol=2e-2, atol=2e-2
        )


def test_sdpa_dropout_one_gives_zeros():
    q = ember.randn(2, 3, 4)
    out = ember.nn.functional.scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    assert float(out.abs().sum()) == 0.0


@pytest.mark.parametrize(
    "kw", [{}, {"is_causal": True}, {"scale": 0.7}, {"attn_mask": "bool"}, {"attn_mask": "float"}], ids=str
)
def test_sdpa_fused_matches_math_composition(kw):
    rng = np.random.default_rng(0)
    q, k, v = (ember.tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True) for _ in range(3))
    kw = dict(kw)
    if kw.get("attn_mask") == "bool":
        kw["attn_mask"] = ember.tensor(rng.random((5, 5)) < 0.7)
    elif kw.get("attn_mask") == "float":
        kw["attn_mask"] = ember.tensor(rng.standard_normal((2, 1, 5, 5)))
    out = ember.nn.functional.scaled_dot_product_attention(q, k, v, **kw)
    ref = _scaled_dot_product_attention_math(q, k, v, **kw)
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref.detach().cpu().numpy(), rtol=1e-12, atol=1e-12)
    g = ember.tensor(rng.standard_normal(tuple(out.shape)))
    for a, b in zip(ember.autograd.grad(out, (q, k, v), g), ember.autograd.grad(ref, (q, k, v), g)):
        np.testing.assert_allclose(a.cpu().numpy(), b.cpu().numpy(), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------------------ SDPA gradcheck


def test_sdpa_gradcheck_float_mask():
    gradcheck_fn(
        lambda t, q, k, v, m: t.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m),
        randn(2, 3, 4),
        randn(2, 4, 4),
        randn(2, 4, 3),
        randn(3, 4),
    )


def test_sdpa_gradcheck_causal_gqa():
    gradcheck_fn(
        lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(
            q, k, v, is_causal=True, enable_gqa=True
        ),
        randn(1, 4, 3, 2),
        randn(1, 2, 3, 2),
        randn(1, 2, 3, 2),
    )


def test_sdpa_gradcheck_dropout_seeded():
    def fn(t, q, k, v):
        t.manual_seed(3)
        return t.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=0.3)

    gradcheck_fn(fn, randn(2, 3, 4), randn(2, 3, 4), randn(2, 3, 4))


def test_sdpa_gradgradcheck():
    rng = np.random.default_rng(1)
    q, k, v = (
        ember.tensor(rng.standard_normal(s), requires_grad=True) for s in ((1, 3, 2), (1, 4, 2), (1, 4, 2))
    )
    m = ember.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    sdpa = ember.nn.functional.scaled_dot_product_attention
    f = lambda q, k, v, m: sdpa(q, k, v, attn_mask=m)  # noqa: E731
    assert ember.autograd.gradgradcheck(f, (q, k, v, m))
    fc = lambda q, k, v: sdpa(q, k, v, is_causal=True)  # noqa: E731
    assert ember.autograd.gradgradcheck(fc, (q, k, v))


# ------------------------------------------------------------------------------------------ SDPA errors


def test_sdpa_error_mask_and_causal():
    raises_like(
        lambda t, q, m: t.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=m, is_causal=True),
        randn(2, 3, 4),
        bools(3, 3),
        match="is_causal",
    )


def test_sdpa_error_dtype_mismatch():
    raises_like(
        lambda t, q, v: t.nn.functional.scaled_dot_product_attention(q, q, v),
        randn(2, 3, 4),
        randn(2, 3, 4, dtype="float64"),
        match="same dtype",
    )


def test_sdpa_error_mask_dtype():
    raises_like(
        lambda t, q, m: t.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=m),
        randn(2, 3, 4),
        randn(3, 3, dtype="float64"),
        match="attn_mask dtype",
    )


def test_sdpa_error_1d():
    raises_like(
        lambda t, q: t.nn.functional.scaled_dot_product_attention(q, q, q), randn(4), match="2 dimensional"
    )


def test_sdpa_error_mask_shape():
    raises_like(
        lambda t, q, m: t.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=m),
        randn(2, 3, 4),
        randn(3, 5),
    )


def test_sdpa_error_gqa_heads():
    raises_like(
        lambda t, q, k: t.nn.functional.scaled_dot_product_attention(q, k, k, enable_gqa=True),
        randn(1, 6, 3, 2),
        randn(1, 4, 3, 2),
    )


# ------------------------------------------------------------------------------------- MultiheadAttention


def _mha_call(**kw):
    return lambda layer, q, k, v, *masks: layer(q, k, v, **kw)


MHA_CONFIGS = [
    ("basic", {}, {}),
    ("batch_first", {"batch_first": True}, {}),
    ("no_bias", {"bias": False}, {}),
    ("bias_kv", {"add_bias_kv": True}, {}),
    ("zero_attn", {"add_zero_attn": True}, {}),
    ("bias_kv_zero_attn", {"add_bias_kv": True, "add_zero_attn": True}, {}),
    ("kdim_vdim", {"kdim": 5, "vdim": 3}, {}),
    ("per_head_weights", {}, {"average_attn_weights": False}),
    ("no_weights", {}, {"need_weights": False}),
    ("no_weights_batch_first", {"batch_first": True}, {"need_weights": False}),
    ("dropout_eval_only", {"dropout": 0.5}, {}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,ctor,call", MHA_CONFIGS, ids=[c[0] for c in MHA_CONFIGS])
def test_mha(name, ctor, call, dtype):
    E, H, L, S, N = 8, 2, 4, 6, 3
    kd, vd = ctor.get("kdim", E), ctor.get("vdim", E)
    bf = ctor.get("batch_first", False)

    def shp(T, D):
        return (N, T, D) if bf else (T, N, D)

    modes = ("eval",) if ctor.get("dropout") else ("train", "eval")
    layer_parity(
        lambda nn: nn.MultiheadAttention(E, H, **ctor),
        randn(*shp(L, E), dtype=dtype),
        randn(*shp(S, kd), dtype=dtype),
        randn(*shp(S, vd), dtype=dtype),
        dtype=dtype,
        call=_mha_call(**call),
        modes=modes,
    )


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_self_attention_same_tensor(need_weights):
    layer_parity(
        lambda nn: nn.MultiheadAttention(8, 4, batch_first=True),
        randn(2, 5, 8),
        call=lambda layer, x: layer(x, x, x, need_weights=need_weights),
    )


MASK_CASES = [
    ("kpm_bool", lambda: bools(3, 6, p=0.3), "key_padding_mask"),
    ("kpm_float", lambda: rand(3, 6, requires_grad=False), "key_padding_mask"),
    ("attn_bool_2d", lambda: bools(4, 6, p=0.3), "attn_mask"),
    ("attn_float_2d", lambda: rand(4, 6, requires_grad=False), "attn_mask"),
    ("attn_bool_3d", lambda: bools(6, 4, 6, p=0.3), "attn_mask"),
    ("attn_float_3d", lambda: rand(6, 4, 6, requires_grad=False), "attn_mask"),
]


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("name,spec,arg", MASK_CASES, ids=[c[0] for c in MASK_CASES])
def test_mha_masks(name, spec, arg, need_weights):
    mask = spec()
    if mask.dtype == "bool":  # keep every row attending to something: column 0 never masked
        mask.data[..., 0] = False
    layer_parity(
        lambda nn: nn.MultiheadAttention(8, 2),
        randn(4, 3, 8),
        randn(6, 3, 8),
        randn(6, 3, 8),
        mask,
        call=lambda layer, q, k, v, m: layer(q, k, v, need_weights=need_weights, **{arg: m}),
    )


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_both_masks_and_bias_kv(need_weights):
    kpm = bools(3, 6, p=0.3)
    kpm.data[:, 0] = False
    layer_parity(
        lambda nn: nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True),
        randn(4, 3, 8),
        randn(6, 3, 8),
        randn(6, 3, 8),
        kpm,
        rand(4, 6, requires_grad=False),
        call=lambda layer, q, k, v, kp, am: layer(
            q, k, v, key_padding_mask=kp, attn_mask=am, need_weights=need_weights
        ),
    )


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_is_causal_with_causal_mask(need_weights):
    causal = np.triu(np.full((5, 5), -np.inf), 1)
    layer_parity(
        lambda nn: nn.MultiheadAttention(8, 2, batch_first=True),
        randn(2, 5, 8),
        vals(causal, requires_grad=False),
        call=lambda layer, x, m: layer(x, x, x, attn_mask=m, is_causal=True, need_weights=need_weights),
    )


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched(need_weights):
    layer_parity(
        lambda nn: nn.MultiheadAttention(6, 3),
        randn(4, 6),
        randn(5, 6),
        randn(5, 6),
        bools(5, p=0.3),
        call=lambda layer, q, k, v, m: layer(q, k, v, key_padding_mask=m, need_weights=need_weights),
    )


def test_mha_unbatched_3d_mask():
    m = bools(3, 4, 5, p=0.3)
    m.data[..., 0] = False
    layer_parity(
        lambda nn: nn.MultiheadAttention(6, 3),
        randn(4, 6),
        randn(5, 6),
        randn(5, 6),
        m,
        call=lambda layer, q, k, v, m: layer(q, k, v, attn_mask=m),
    )


def test_mha_functional_parity():
    """F.multi_head_attention_forward called directly with separate projection weights."""

    def fn(t, q, k, v, wq, wk, wv, b, wo, bo):
        out, w = t.nn.functional.multi_head_attention_forward(
            q,
            k,
            v,
            4,
            2,
            None,
            b,
            None,
            None,
            False,
            0.0,
            wo,
            bo,
            training=True,
            use_separate_proj_weight=True,
            q_proj_weight=wq,
            k_proj_weight=wk,
            v_proj_weight=wv,
        )
        return out, w

    parity(
        fn,
        randn(3, 2, 4),
        randn(5, 2, 3),
        randn(5, 2, 2),
        randn(4, 4),
        randn(4, 3),
        randn(4, 2),
        randn(12),
        randn(4, 4),
        randn(4),
    )


def test_mha_mismatched_mask_types_warn_like_torch():
    m = ember.nn.MultiheadAttention(8, 2)
    x = ember.randn(3, 2, 8)
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        m(x, x, x, key_padding_mask=ember.zeros(2, 3, dtype=ember.bool), attn_mask=ember.zeros(3, 3))


def test_mha_train_dropout_weights_are_scaled_or_zero():
    layer = ember.nn.MultiheadAttention(8, 2, dropout=0.5)
    q = ember.randn(4, 3, 8)
    layer.eval()
    _, w_eval = layer(q, q, q, average_attn_weights=False)
    layer.train()
    _, w_train = layer(q, q, q, average_attn_weights=False)
    we, wt = w_eval.detach().cpu().numpy(), w_train.detach().cpu().numpy()
    kept = wt != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(wt[kept], 2 * we[kept], rtol=1e-5)


def test_mha_repr_and_keys():
    for kw in ({}, {"kdim": 3, "vdim": 5, "add_bias_kv": True}, {"bias": False}):
        e, t = ember.nn.MultiheadAttention(8, 2, **kw), torch.nn.MultiheadAttention(8, 2, **kw)
        assert repr(e) == repr(t)
        assert list(e.state_dict()) == list(t.state_dict())


def test_mha_default_init():
    m = ember.nn.MultiheadAttention(16, 4, add_bias_kv=True)
    bound = math.sqrt(6.0 / (16 + 48))
    w = m.in_proj_weight.detach().cpu().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert float(m.in_proj_bias.abs().sum()) == 0.0 and float(m.out_proj.bias.abs().sum()) == 0.0
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert isinstance(m.out_proj, ember.nn.Linear)
    assert m.bias_k.shape == (1, 1, 16)


def test_mha_to_float64():
    m = ember.nn.MultiheadAttention(8, 2).to(ember.float64)
    assert m.in_proj_weight.dtype == ember.float64 and m.out_proj.weight.dtype == ember.float64
    x = ember.randn(3, 2, 8, dtype=ember.float64)
    out, w = m(x, x, x)
    assert out.dtype == ember.float64 and w.dtype == ember.float64


def test_mha_errors():
    with pytest.raises(ValueError):
        ember.nn.MultiheadAttention(0, 2)
    with pytest.raises(AssertionError):
        ember.nn.MultiheadAttention(7, 2)
    m, tm = ember.nn.MultiheadAttention(8, 2), torch.nn.MultiheadAttention(8, 2)
    raises_like(
        lambda t, q: (m if t is ember else tm)(q, q, q, attn_mask=None, is_causal=True),
        randn(3, 2, 8),
        match="attn_mask",
    )
    raises_like(
        lambda t, q, am: (m if t is ember else tm)(q, q, q, attn_mask=am), randn(3, 2, 8), bools(2, 3)
    )
    raises_like(lambda t, q: (m if t is ember else tm)(q, q, q), randn(3, 2, 2, 8))
