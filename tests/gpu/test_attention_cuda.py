"""CUDA attention paths against a float64 reference (torch on the CPU, same rounded inputs): the float32
fused softmax kernel and the half-precision path (tensor-core products, float32 softmax statistics),
forward and backward, causal and not, odd lengths, L != S, unbatched and multi-head with weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember.backend import get_backend
from tests.gpu.counting import count_calls

pytestmark = pytest.mark.cuda


@pytest.fixture(autouse=True)
def _fused_attention_on(monkeypatch):
    """These tests check the row-softmax kernels and the half-precision cuBLAS path (used where the flash
    kernels are not: head dims over 128, no Triton), so the flash kernels are turned off here."""
    monkeypatch.setattr(type(get_backend(ember.device("cuda"))), "fused_attention", True)
    monkeypatch.setattr(type(get_backend(ember.device("cuda"))), "flash_attention", False)


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert np.isfinite(a).all(), "non-finite values"
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


@pytest.fixture
def half_calls(monkeypatch):
    """Counts calls of the backend's half-precision attention (so the tests know the path was taken)."""
    be = get_backend(ember.device("cuda"))
    return count_calls(monkeypatch, type(be), fwd="attention_half", bwd="attention_half_backward")


SHAPES = [  # batch, L, S, E, Ev
    ((2, 3), 5, 7, 8, 8),
    ((1, 1), 1, 1, 4, 4),
    ((2, 2), 33, 17, 16, 24),
    ((1, 2), 300, 1030, 64, 64),
    ((2, 4), 128, 128, 128, 128),
    ((3,), 17, 9, 32, 16),
    ((), 6, 11, 8, 8),
]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_half_sdpa_forward_backward(dtype, causal, shape, half_calls):
    batch, L, S, E, Ev = shape
    rng = np.random.default_rng(L * 1000 + S + causal)
    tdt = getattr(torch, dtype)
    # inputs rounded to the half dtype once; the reference runs on exactly those values in float64
    arrs = [
        torch.tensor(rng.standard_normal(s)).to(tdt)
        for s in (batch + (L, E), batch + (S, E), batch + (S, Ev))
    ]
    g = torch.tensor(rng.standard_normal(batch + (L, Ev))).to(tdt)
    ref_in = [a.double().requires_grad_() for a in arrs]
    ref = torch.nn.functional.scaled_dot_product_attention(*ref_in, is_causal=causal)
    ref.backward(g.double())
    ein = [
        ember.tensor(a.float().numpy(), device="cuda").to(getattr(ember, dtype)).requires_grad_()
        for a in arrs
    ]
    out = ember.nn.functional.scaled_dot_product_attention(*ein, is_causal=causal)
    assert out.dtype is getattr(ember, dtype) and tuple(out.shape) == tuple(ref.shape)
    out.backward(ember.tensor(g.float().numpy(), device="cuda").to(out.dtype))
    assert half_calls == {"fwd": 1, "bwd": 1}
    tol = 1e-2 if dtype == "bfloat16" else 2e-3
    assert _rel(out.detach().float().cpu().numpy(), ref.detach().numpy()) < tol
    for e, r in zip(ein, ref_in):
        assert e.grad.dtype is e.dtype
        assert _rel(e.grad.float().cpu().numpy(), r.grad.numpy()) < 2 * tol


def test_half_sdpa_under_autocast_and_inputs_needing_no_grad(half_calls):
    rng = np.random.default_rng(5)
    q, k, v = (
        ember.tensor(rng.standard_normal((2, 2, 40, 32)).astype(np.float32), device="cuda") for _ in range(3)
    )
    q.requires_grad_()
    with ember.autocast("cuda", dtype=ember.bfloat16):
        out = ember.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out.dtype is ember.bfloat16
    out.float().sum().backward()
    assert q.grad is not None and k.grad is None and q.grad.dtype is ember.float32
    tq, tk, tv = (torch.tensor(t.cpu().numpy()).to(torch.bfloat16).double() for t in (q.detach(), k, v))
    tq.requires_grad_()
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    ref.sum().backward()
    assert _rel(out.detach().float().cpu().numpy(), ref.detach().numpy()) < 1e-2
    assert _rel(q.grad.cpu().numpy(), tq.grad.numpy()) < 2e-2
    assert half_calls["fwd"] == 1 and half_calls["bwd"] == 1


def test_half_multihead_attention_with_weights(half_calls):
    """need_weights returns the probabilities too: their gradient joins dP in the half path's backward."""
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(32, 4, batch_first=True).double()
    em = ember.nn.MultiheadAttention(32, 4, batch_first=True)
    em.load_state_dict({k: ember.tensor(v.float().numpy()) for k, v in tm.state_dict().items()})
    em.to("cuda").to(ember.bfloat16)
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.standard_normal((2, 9, 32))).to(torch.bfloat16)
    cw = rng.standard_normal((2, 9, 9))
    co = rng.standard_normal((2, 9, 32))
    tx = x.double().requires_grad_()
    to, tw = tm(tx, tx, tx, need_weights=True)
    ((to * torch.tensor(co)).sum() + (tw * torch.tensor(cw)).sum()).backward()
    ex = ember.tensor(x.float().numpy(), device="cuda").to(ember.bfloat16).requires_grad_()
    eo, ew = em(ex, ex, ex, need_weights=True)
    (
        (eo.float() * ember.tensor(co, device="cuda")).sum()
        + (ew.float() * ember.tensor(cw, device="cuda")).sum()
    ).backward()
    assert half_calls == {"fwd": 1, "bwd": 1}
    assert _rel(eo.detach().float().cpu().numpy(), to.detach().numpy()) < 3e-2
    assert _rel(ew.detach().float().cpu().numpy(), tw.detach().numpy()) < 3e-2
    assert _rel(ex.grad.float().cpu().numpy(), tx.grad.numpy()) < 5e-2
    tp = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        assert _rel(p.grad.float().cpu().numpy(), tp[name].grad.numpy()) < 5e-2, name


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 1, 1, 1), (2, 4, 33, 33), (1, 2, 300, 1030), (3, 17, 9)])
@pytest.mark.parametrize("causal", [False, True])
def test_fused_scaled_softmax_kernel(shape, causal):
    """The float32 path's in-place kernel equals softmax(s * scale) with torch's top-left causal mask."""
    be = get_backend(ember.device("cuda"))
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(shape) * 4).astype(np.float32)
    if a.shape[-1] > 1:
        a[..., 0] = -1e30  # very negative entries must not break the max
    s = be.xp.asarray(a)
    be.scaled_softmax_(s, 0.37, causal)
    t = torch.tensor(a) * 0.37
    if causal:
        L, S = shape[-2], shape[-1]
        t = t.masked_fill(~torch.ones(L, S, dtype=torch.bool).tril(), float("-inf"))
    want = torch.softmax(t, -1).numpy()
    np.testing.assert_allclose(be.to_numpy(s), want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32"])
def test_gemm_batched_transposes_and_float32_output(trans_a, trans_b, dtype):
    from ember.backend.cuda_blas import gemm_batched

    be = get_backend(ember.device("cuda"))
    rng = np.random.default_rng(7)
    m, n, k = 37, 19, 70
    a = rng.standard_normal((3, k, m) if trans_a else (3, m, k)).astype(np.float32)
    b = rng.standard_normal((3, n, k) if trans_b else (3, k, n)).astype(np.float32)
    ea = ember.tensor(a, device="cuda").to(getattr(ember, dtype))
    eb = ember.tensor(b, device="cuda").to(getattr(ember, dtype))
    ra, rb = ea.float().cpu().numpy().astype(np.float64), eb.float().cpu().numpy().astype(np.float64)
    want = np.matmul(ra.transpose(0, 2, 1) if trans_a else ra, rb.transpose(0, 2, 1) if trans_b else rb)
    for out_dtype in (None, np.float32):
        c = gemm_batched(ea._data, eb._data, trans_a, trans_b, out_dtype=out_dtype)
        assert c.shape == (3, m, n) and c.flags.c_contiguous
        got = be.to_numpy(c).astype(np.float32).astype(np.float64)
        assert _rel(got, want) < (1e-2 if dtype != "float32" else 1e-5)
