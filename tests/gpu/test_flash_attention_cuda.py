"""Flash attention on CUDA (Triton kernels, ember/backend/cuda_flash.py) against torch's float64 math on the
same rounded inputs: forward and backward, causal and not, lengths that are not multiples of the tiles, L != S,
head dims 8..128, unbatched, strided q/k/v views (GPT-2's split of the fused projection), boolean and additive
masks broadcast over batch or heads (fully masked rows included), grouped-query attention, dropout drawn inside
the kernels (the composed path's mask from the same seed; its own mask for any length; no (L, S) memory), and a
GPT training run whose losses match the unfused (cuBLAS + row-softmax) path."""

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


def _run(dtype, causal, batch, L, S, D, seed, strided=False, mask=None, groups=1, mask_dtype=None):
    rng = np.random.default_rng(seed)
    tdt = getattr(torch, dtype)
    kv = batch[:-1] + (batch[-1] // groups,) if groups > 1 else batch
    arrs = [torch.tensor(rng.standard_normal(b + (n, D))).to(tdt) for b, n in ((batch, L), (kv, S), (kv, S))]
    g = torch.tensor(rng.standard_normal(batch + (L, D))).to(tdt)
    ref_in = [a.double().requires_grad_() for a in arrs]
    tmask = (
        None if mask is None else torch.tensor(mask if mask.dtype == np.bool_ else mask.astype(np.float64))
    )
    ref = torch.nn.functional.scaled_dot_product_attention(
        *ref_in, attn_mask=tmask, is_causal=causal, enable_gqa=groups > 1
    )
    ref.backward(g.double())
    ein = []
    for a in arrs:
        e = ember.tensor(a.float().numpy(), device="cuda").to(getattr(ember, dtype))
        if strided and e.dim() == 4:  # stored (B, T, H, D), seen as (B, H, T, D): strided, as in GPT-2
            e = e.transpose(1, 2).contiguous().transpose(1, 2)
        ein.append(e.requires_grad_())
    emask = None if mask is None else ember.tensor(mask, device="cuda")
    if mask_dtype is not None:
        emask = emask.to(getattr(ember, mask_dtype))
    out = ember.nn.functional.scaled_dot_product_attention(
        *ein, attn_mask=emask, is_causal=causal, enable_gqa=groups > 1
    )
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


MASKS = [  # batch, L, S, D, kind, mask shape (broadcast to batch + (L, S))
    ((2, 3), 9, 70, 16, "bool", (3, 9, 70)),
    ((2, 2), 65, 33, 32, "float32", (2, 1, 65, 33)),
    ((1, 4), 130, 130, 64, "float32", (130, 130)),
    ((2, 2), 200, 77, 64, "bool", (2, 2, 200, 77)),
    ((3,), 17, 9, 128, "same", (3, 17, 9)),
    ((1, 2), 33, 300, 64, "bool", (1, 300)),  # a key-padding mask (torch wants at least 2-D)
]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("case", MASKS)
def test_flash_with_masks(dtype, case, flash_calls):
    """A boolean mask (True takes part; a fully masked row gives zeros, as torch's) or an additive one (with
    -inf entries), broadcast through strides: flash runs it, forward and backward."""
    batch, L, S, D, kind, mshape = case
    rng = np.random.default_rng(L + S)
    if kind == "bool":
        mask = rng.random(mshape) < 0.7
        if len(mshape) >= 2 and mshape[-2] > 1:  # one fully masked query row (a (1, S) mask is shared by all)
            mask[..., min(1, L - 1), :] = False
    else:
        mask = rng.standard_normal(mshape).astype(np.float32)
        mask[..., 0, min(3, S - 1)] = -np.inf
        if kind == "same":  # a mask in the query's dtype (rounded the same on both sides)
            mask = torch.tensor(mask).to(getattr(torch, dtype)).float().numpy()
    _run(
        dtype, False, batch, L, S, D, seed=L * 7 + S, mask=mask, mask_dtype=dtype if kind == "same" else None
    )
    assert flash_calls == {"fwd": 1, "bwd": 1}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize(
    "case", [((2, 8), 65, 65, 64, 4, True), ((1, 6), 33, 100, 32, 3, False), ((12,), 20, 20, 16, 12, True)]
)
def test_flash_grouped_query_attention(dtype, case, flash_calls):
    """enable_gqa: query head h reads key/value head h // groups; dK/dV sum over the group, no repeat."""
    batch, L, S, D, groups, causal = case
    _run(dtype, causal, batch, L, S, D, seed=L + groups, groups=groups)
    assert flash_calls == {"fwd": 1, "bwd": 1}


def test_mask_that_needs_a_gradient_takes_the_composed_path(flash_calls):
    """The flash kernels give no gradient for the mask: a float mask that requires grad is not sent there,
    and its gradient matches torch's."""
    rng = np.random.default_rng(5)
    q = rng.standard_normal((1, 2, 9, 16)).astype(np.float32)
    m = rng.standard_normal((9, 9)).astype(np.float32)
    eq = ember.tensor(q, device="cuda").to(ember.bfloat16).requires_grad_()
    em = ember.tensor(m, device="cuda").requires_grad_()
    ember.nn.functional.scaled_dot_product_attention(eq, eq, eq, attn_mask=em).float().sum().backward()
    tq = torch.tensor(eq.detach().float().cpu().numpy()).double().requires_grad_()
    tm = torch.tensor(m).double().requires_grad_()
    torch.nn.functional.scaled_dot_product_attention(tq, tq, tq, attn_mask=tm).sum().backward()
    assert flash_calls["fwd"] == 0
    assert _rel(em.grad.cpu().numpy(), tm.grad.numpy()) < 3e-2


def test_flash_not_used_where_unsupported(flash_calls):
    """Float32 and head dims over 128 take the other paths (and still agree with torch)."""
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


def _half_inputs(batch, L, S, D, groups, dtype, seed):
    rng = np.random.default_rng(seed)
    kv = batch[:-1] + (batch[-1] // groups,)
    shapes = (batch + (L, D), kv + (S, D), kv + (S, D), batch + (L, D))
    q, k, v, g = (
        ember.tensor(rng.standard_normal(s).astype(np.float32), device="cuda").to(dtype) for s in shapes
    )
    return q, k, v, g


def _dropout_run(q, k, v, g, p, causal, groups, seed):
    """sdpa with dropout from generator seed `seed`: (output, dq, dk, dv) as float64 NumPy, and the state after."""
    ember.cuda.manual_seed(seed)
    ins = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    out = ember.nn.functional.scaled_dot_product_attention(
        *ins, dropout_p=p, is_causal=causal, enable_gqa=groups > 1
    )
    out.backward(g)
    res = [t.detach().double().cpu().numpy() for t in [out] + [t.grad for t in ins]]
    return res, ember.cuda.get_rng_state().cpu().numpy()


DROPOUT = [  # batch, L, S, D, causal, p, groups (S % 4 == 0)
    ((2, 3), 64, 64, 32, True, 0.1, 1),
    ((1, 2), 100, 132, 64, False, 0.5, 1),
    ((2, 4), 65, 68, 16, True, 0.3, 2),
    ((3,), 200, 256, 128, False, 0.2, 1),
]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("case", DROPOUT)
def test_flash_dropout_is_the_composed_paths_dropout_from_the_same_seed(
    dtype, case, monkeypatch, flash_calls
):
    """With S % 4 == 0 the kernels keep exactly what rand(..., L, S) >= p keeps from the same generator state:
    flash with dropout, forward and backward, agrees with the composed path (which stores that mask) run from the
    same seed, and leaves the generator where the composed path leaves it."""
    batch, L, S, D, causal, p, groups = case
    dt = getattr(ember, dtype)
    q, k, v, g = _half_inputs(batch, L, S, D, groups, dt, seed=L + S)
    be = type(get_backend(ember.device("cuda")))
    got, got_state = _dropout_run(q, k, v, g, p, causal, groups, seed=99)
    assert flash_calls == {"fwd": 1, "bwd": 1}
    monkeypatch.setattr(be, "flash_attention", False)
    want, want_state = _dropout_run(q, k, v, g, p, causal, groups, seed=99)
    tol = 1e-2 if dtype == "bfloat16" else 3e-3
    for name, a, b in zip(("out", "dq", "dk", "dv"), got, want):
        assert _rel(a, b) < tol, name
    assert (got_state == want_state).all()
    other, _ = _dropout_run(q, k, v, g, p, causal, groups, seed=100)
    assert _rel(other[0], got[0]) > 10 * tol  # another seed drops other positions


@pytest.mark.parametrize("case", [((2, 2), 33, 70, 16, True, 0.25), ((1, 1), 7, 5, 8, False, 0.6)])
def test_flash_dropout_any_length_against_torch_with_its_mask(case, flash_calls):
    """Any S (here S % 4 != 0): the kernels' output and gradients are torch's float64 attention with the keep
    mask the kernels drew (regenerated from the same reservation of the generator), which keeps about 1 - p."""
    from ember.backend import cuda_flash
    from ember.nn.functional.attention import _flash_dropout_rng

    batch, L, S, D, causal, p = case
    q, k, v, g = _half_inputs(batch, L, S, D, 1, ember.float16, seed=S)
    state = ember.cuda.get_rng_state()
    got, _ = _dropout_run(q, k, v, g, p, causal, 1, seed=5)
    ember.cuda.manual_seed(5)
    keep = cuda_flash.dropout_keep(_flash_dropout_rng(q, k, v, None, 1), q._data, k._data, p).get()
    ember.cuda.set_rng_state(state)
    tq, tk, tv = (torch.tensor(t.double().cpu().numpy(), requires_grad=True) for t in (q, k, v))
    s = tq @ tk.transpose(-1, -2) / np.sqrt(D)
    if causal:
        s = s.masked_fill(~torch.ones(L, S, dtype=torch.bool).tril(), float("-inf"))
    out = (s.softmax(-1) * torch.tensor(keep) / (1 - p)) @ tv
    out.backward(torch.tensor(g.double().cpu().numpy()))
    for name, a, b in zip(("out", "dq", "dk", "dv"), got, (out, tq.grad, tk.grad, tv.grad)):
        assert _rel(a, b.detach().numpy()) < 3e-3, name
    assert flash_calls == {"fwd": 1, "bwd": 1}
    assert keep.shape == tuple(batch) + (L, S)
    frac = float(cuda_flash.dropout_keep(cuda_flash.dropout_rng(7, 0), *_big_qk(), p).mean())
    assert abs(frac - (1 - p)) < 5e-3  # 4M positions: 20 standard deviations


def _big_qk():
    """Arrays shaped (4, 1024, 8) and (4, 1024, 8): 4M mask positions for the kept-fraction check."""
    import cupy

    a = cupy.zeros((4, 1024, 8), dtype=cupy.float16)
    return a, a


def test_flash_dropout_one_drops_everything_and_stores_no_mask(flash_calls):
    """dropout_p=1 gives zeros and zero gradients (as the composed path); any p allocates no (L, S) array."""
    q, k, v, g = _half_inputs((1, 1), 2048, 2048, 64, 1, ember.bfloat16, seed=1)
    got, _ = _dropout_run(q, k, v, g, 1.0, False, 1, seed=3)
    for a in got:
        assert not a.any()
    ins = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    ember.cuda.synchronize()
    before = ember.cuda.memory_allocated()
    ember.cuda.reset_peak_memory_stats()
    out = ember.nn.functional.scaled_dot_product_attention(*ins, dropout_p=0.1, is_causal=True)
    out.backward(g)
    peak = ember.cuda.max_memory_allocated() - before
    assert peak < 2048 * 2048  # a bool mask alone would take 4 MiB; q, k, v, out and their grads take 1.5 MiB
    assert flash_calls == {"fwd": 2, "bwd": 2}


def test_flash_dropout_double_backward_uses_the_kernels_mask(monkeypatch, flash_calls):
    """create_graph through flash attention with dropout: the second derivative is the composed path's from the
    same seed (the backward rebuilds the kernels' keep mask)."""
    q, k, v, g = _half_inputs((1, 2), 16, 32, 16, 1, ember.float16, seed=4)
    be = type(get_backend(ember.device("cuda")))
    res = {}
    for flash in (True, False):
        monkeypatch.setattr(be, "flash_attention", flash)
        ember.cuda.manual_seed(8)
        x = q.detach().float().requires_grad_()
        out = ember.nn.functional.scaled_dot_product_attention(x.to(ember.float16), k, v, dropout_p=0.4)
        (gx,) = ember.autograd.grad((out * g).sum(), x, create_graph=True)
        (ggx,) = ember.autograd.grad(gx.pow(2).sum(), x)
        res[flash] = [t.double().cpu().numpy() for t in (out.detach(), gx.detach(), ggx)]
    for a, b in zip(res[True], res[False]):
        assert _rel(a, b) < 5e-3
