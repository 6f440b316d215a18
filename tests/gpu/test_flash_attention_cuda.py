"""Flash attention on CUDA (Triton kernels, ember/backend/cuda_flash.py) against torch's float64 math on the
same rounded inputs: forward and backward, causal and not, lengths that are not multiples of the tiles, L != S,
head dims 8..128, unbatched, strided q/k/v views (GPT-2's split of the fused projection), and a GPT training
run whose losses match the unfused (cuBLAS + row-softmax) path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember.backend import get_backend
from tests.gpu.counting import count_calls

pytestmark = pytest.mark.cuda

pytest.importorskip("triton")


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert np.isfinite(a).all(), "non-finite values"
    nb = np.linalg.norm(b)
    if nb < 1e-6:  # an exactly-zero reference (one key: the softmax is constant): absolute error
        return float(np.abs(a).max(initial=0.0))
    return float(np.linalg.norm(a - b) / nb)


@pytest.fixture
def flash_calls(monkeypatch):
    be = get_backend(ember.device("cuda"))
    monkeypatch.setattr(type(be), "flash_attention", True)
    monkeypatch.setattr(type(be), "fused_attention", True)
    return count_calls(monkeypatch, type(be), fwd="flash_forward", bwd="flash_backward")


SHAPES = [  # batch, L, S, D
    ((2, 3), 5, 7, 8),
    ((1, 1), 1, 1, 16),
    ((2, 2), 33, 17, 24),
    ((1, 2), 300, 1030, 64),
    ((2, 4), 128, 128, 128),
    ((3,), 17, 9, 32),
    ((), 6, 11, 8),
    ((1, 4), 1024, 1024, 64),
    ((2, 2), 200, 200, 80),
]


def _run(dtype, causal, batch, L, S, D, seed, strided=False):
    rng = np.random.default_rng(seed)
    tdt = getattr(torch, dtype)
    arrs = [torch.tensor(rng.standard_normal(batch + (n, D))).to(tdt) for n in (L, S, S)]
    g = torch.tensor(rng.standard_normal(batch + (L, D))).to(tdt)
    ref_in = [a.double().requires_grad_() for a in arrs]
    ref = torch.nn.functional.scaled_dot_product_attention(*ref_in, is_causal=causal)
    ref.backward(g.double())
    ein = []
    for a in arrs:
        e = ember.tensor(a.float().numpy(), device="cuda").to(getattr(ember, dtype))
        if strided and e.dim() == 4:  # stored (B, T, H, D), seen as (B, H, T, D): strided, as in GPT-2
            e = e.transpose(1, 2).contiguous().transpose(1, 2)
        ein.append(e.requires_grad_())
    out = ember.nn.functional.scaled_dot_product_attention(*ein, is_causal=causal)
    assert out.dtype is getattr(ember, dtype) and tuple(out.shape) == tuple(ref.shape)
    out.backward(ember.tensor(g.float().numpy(), device="cuda").to(out.dtype))
    tol = 1e-2 if dtype == "bfloat16" else 2e-3
    assert _rel(out.detach().float().cpu().numpy(), ref.detach().numpy()) < tol
    for name, e, r in zip("qkv", ein, ref_in):
        assert e.grad.dtype is e.dtype and tuple(e.grad.shape) == tuple(r.shape)
        assert _rel(e.grad.float().cpu().numpy(), r.grad.numpy()) < 2 * tol, name


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_flash_sdpa_forward_backward(dtype, causal, shape, flash_calls):
    batch, L, S, D = shape
    _run(dtype, causal, batch, L, S, D, seed=L * 1000 + S + causal)
    assert flash_calls == {"fwd": 1, "bwd": 1}


@pytest.mark.parametrize("causal", [False, True])
def test_flash_reads_strided_views(causal, flash_calls):
    _run("bfloat16", causal, (2, 3), 97, 97, 64, seed=7, strided=True)
    assert flash_calls == {"fwd": 1, "bwd": 1}


def test_flash_not_used_where_unsupported(flash_calls):
    """Float32, masks, dropout and head dims over 128 take the other paths (and still agree with torch)."""
    rng = np.random.default_rng(3)
    q = ember.tensor(rng.standard_normal((1, 2, 9, 160)).astype(np.float32), device="cuda").to(ember.bfloat16)
    out = ember.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    tq = torch.tensor(q.float().cpu().numpy()).double()
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tq, tq, is_causal=True)
    assert _rel(out.float().cpu().numpy(), ref.numpy()) < 1e-2
    x = ember.tensor(rng.standard_normal((1, 2, 9, 16)).astype(np.float32), device="cuda")
    ember.nn.functional.scaled_dot_product_attention(x, x, x, is_causal=True)
    assert flash_calls["fwd"] == 0


def test_gpt_training_losses_match_unfused_path(monkeypatch):
    """Five AdamW steps of a small GPT under bf16 autocast: flash kernels vs the cuBLAS + row-softmax path."""
    from ember.models.gpt import GPT, GPTConfig

    be = type(get_backend(ember.device("cuda")))
    cfg = GPTConfig(block_size=128, vocab_size=97, n_layer=2, n_head=4, n_embd=128)
    rng = np.random.default_rng(11)
    idx = rng.integers(0, 97, (4, 129))
    x, y = (ember.tensor(np.ascontiguousarray(a), device="cuda") for a in (idx[:, :-1], idx[:, 1:]))
    losses = {}
    for flash in (False, True):
        monkeypatch.setattr(be, "flash_attention", flash)
        ember.manual_seed(0)
        model = GPT(cfg).to("cuda")
        opt = ember.optim.AdamW(model.parameters(), lr=1e-3)
        run = []
        for _ in range(5):
            with ember.autocast("cuda", dtype=ember.bfloat16):
                _, loss = model(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run.append(loss.item())
        losses[flash] = run
    assert np.all(np.isfinite(losses[True]))
    np.testing.assert_allclose(losses[True], losses[False], rtol=2e-2)
    assert losses[True][-1] < losses[True][0]
