"""CUDA-specific behaviour: the device model, ember.cuda, memory statistics, out-of-memory reports, streams
and events, half-precision matmul, the CUDA generator, no hidden synchronisation, and end-to-end training on
the GPU against the CPU and against torch (with CUDA, as on the GPU machine). All marked `cuda`."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ember

pytestmark = pytest.mark.cuda
sys.path.insert(0, str(Path(__file__).parent.parent.parent / "benchmarks"))


# ------------------------------------------------------------------------------------------- device model


def test_device_model():
    d = ember.device("cuda", 0)
    assert d == ember.device("cuda:0") and str(d) == "cuda:0" and d.type == "cuda" and d.index == 0
    x = ember.arange(6.0, device="cpu").reshape(2, 3)
    g = x.cuda()
    assert g.is_cuda and g.device == d and not x.is_cuda
    assert g.to("cpu").device.type == "cpu" and g.cpu().tolist() == x.tolist()
    h = x.to("cuda", non_blocking=True)
    assert h.device == d and h.cpu().tolist() == x.tolist()
    assert x.to(d, ember.float16).dtype is ember.float16 and x.to(d, ember.float16).is_cuda
    for fn in (ember.zeros, ember.ones, ember.empty, ember.rand, ember.randn):
        assert fn(2, 3, device="cuda").device == d
    assert ember.full((2,), 3.0, device="cuda").is_cuda and ember.eye(3, device="cuda").is_cuda
    assert ember.arange(5, device="cuda").is_cuda and ember.tensor([1, 2], device="cuda").is_cuda
    assert ember.randint(0, 5, (3,), device="cuda").is_cuda and ember.linspace(0, 1, 5, device="cuda").is_cuda
    assert ember.zeros_like(g).is_cuda and ember.empty_like(x, device="cuda").is_cuda
    outside = ember.zeros(1).device  # the CPU, or CUDA when the whole suite runs there (EMBER_TEST_DEVICE)
    with ember.device("cuda"), torch.device("cuda"):  # the default device of factories, as in torch
        got = [(str(m.zeros(2).device), str(m.arange(3).device)) for m in (torch, ember)]
        assert ember.nn.Linear(2, 2).weight.is_cuda
    assert got[1] == got[0] and ember.zeros(1).device == outside


def test_module_to_and_load_map_location(tmp_path):
    m = ember.nn.Sequential(ember.nn.Linear(4, 3), ember.nn.BatchNorm1d(3))
    w = m[0].weight
    m.to("cuda")
    assert m[0].weight is w and w.is_cuda and m[1].running_mean.is_cuda
    path = tmp_path / "m.ember"
    ember.save(m.state_dict(), path)
    on_cpu = ember.load(path, map_location="cpu")
    assert all(not v.is_cuda for v in on_cpu.values())
    back = ember.load(path)  # saved from CUDA: loads onto CUDA, as torch
    assert all(v.is_cuda for v in back.values())
    on_gpu = ember.load(path, map_location=ember.device("cuda:0"))
    np.testing.assert_array_equal(on_gpu["0.weight"].cpu().numpy(), w.detach().cpu().numpy())
    mapped = ember.load(path, map_location={"cuda:0": "cpu"})
    assert not mapped["0.bias"].is_cuda


def test_device_mismatch_errors_like_torch():
    a = ember.ones(3, device="cuda")
    b = ember.ones(3, device="cpu")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device") as e:
        a + b.reshape(3)
    assert "cuda:0" in str(e.value) and "cpu" in str(e.value)
    with pytest.raises(RuntimeError, match="same device"):
        ember.nn.functional.linear(ember.ones(2, 3, device="cpu"), ember.ones(4, 3, device="cuda"))
    assert (a + ember.tensor(2.0, device="cpu")).is_cuda  # 0-d CPU tensors join any device, as in torch
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        a.numpy()


def test_out_of_range_targets_give_nan_without_a_host_sync():
    """torch reports these with an asynchronous device assert; ember gives a NaN loss and never waits."""
    x = ember.randn(3, 5, device="cuda", requires_grad=True)
    for t in ([0, 7, 2], [0, -3, 2]):
        loss = ember.nn.functional.cross_entropy(x, ember.tensor(t, device="cuda"))
        assert np.isnan(loss.item())
        per = ember.nn.functional.nll_loss(
            x.log_softmax(-1), ember.tensor(t, device="cuda"), reduction="none"
        )
        assert np.isnan(per[1].item()) and np.isfinite(per[0].item())
    ok = ember.nn.functional.cross_entropy(x, ember.tensor([0, -100, 2], device="cuda"))  # ignore_index
    assert np.isfinite(ok.item())


# ------------------------------------------------------------------------------------------ ember.cuda


def test_cuda_namespace():
    assert ember.cuda.is_available() and ember.cuda.device_count() >= 1
    assert ember.cuda.current_device() == 0
    assert "H100" in ember.cuda.get_device_name() or "H200" in ember.cuda.get_device_name() or True
    assert ember.cuda.get_device_name() == torch.cuda.get_device_name()
    assert (
        ember.cuda.is_bf16_supported()
        and ember.cuda.get_device_capability() == torch.cuda.get_device_capability()
    )
    ember.cuda.synchronize()
    with ember.cuda.device(0):
        assert ember.cuda.current_device() == 0


def test_memory_statistics_move_as_expected():
    ember.cuda.synchronize()
    ember.cuda.empty_cache()
    ember.cuda.reset_peak_memory_stats()
    base = ember.cuda.memory_allocated()
    x = ember.empty(1 << 20, dtype=ember.float32, device="cuda")  # 4 MiB
    assert ember.cuda.memory_allocated() - base >= 4 << 20
    assert ember.cuda.memory_reserved() >= ember.cuda.memory_allocated()
    peak = ember.cuda.max_memory_allocated()
    assert peak >= base + (4 << 20)
    del x
    assert ember.cuda.memory_allocated() == base
    assert ember.cuda.max_memory_allocated() == peak  # the peak stays until reset
    ember.cuda.reset_peak_memory_stats()
    assert ember.cuda.max_memory_allocated() == base
    reserved = ember.cuda.memory_reserved()
    ember.cuda.empty_cache()
    assert ember.cuda.memory_reserved() <= reserved
    assert ember.cuda.max_memory_reserved() >= ember.cuda.memory_reserved()
    summary = ember.cuda.memory_summary()
    assert "Allocated" in summary and "Reserved" in summary
    free, total = ember.cuda.mem_get_info()
    assert 0 < free <= total


def test_out_of_memory_report():
    total = ember.cuda.mem_get_info()[1]
    ember.cuda.set_per_process_memory_fraction(0.01)
    try:
        with pytest.raises(ember.cuda.OutOfMemoryError) as e:
            ember.empty(int(total * 0.02) // 4, dtype=ember.float32, device="cuda")
        msg = str(e.value)
        assert "Tried to allocate" in msg and "allocated" in msg and "reserved" in msg
        assert isinstance(e.value, RuntimeError)  # as torch.cuda.OutOfMemoryError
    finally:
        ember.cuda.set_per_process_memory_fraction(1.0)
    assert ember.empty(1024, device="cuda").is_cuda  # the allocator works again


def test_streams_and_events():
    s = ember.cuda.Stream()
    start, end = ember.cuda.Event(enable_timing=True), ember.cuda.Event(enable_timing=True)
    a = ember.randn(512, 512, device="cuda")
    with ember.cuda.stream(s):
        assert ember.cuda.current_stream() == s
        start.record()
        b = a @ a
        end.record()
    assert ember.cuda.current_stream() == ember.cuda.default_stream()
    end.synchronize()
    assert end.query() and start.elapsed_time(end) >= 0.0
    ember.cuda.current_stream().wait_stream(s)
    np.testing.assert_allclose(b.cpu().numpy(), a.cpu().numpy() @ a.cpu().numpy(), rtol=2e-2, atol=2e-1)


# ---------------------------------------------------------------------------------------- matmul, RNG


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize(
    "shapes",
    [
        ((64, 32), (32, 48)),
        ((3, 64, 32), (3, 32, 48)),
        ((2, 3, 8, 16), (16, 5)),
        ((5, 16), (2, 16, 7)),
        ((16,), (4, 16, 3)),
        ((4, 16, 3), (3,)),
    ],
)
def test_half_matmul_batched_and_broadcast(dtype, shapes):
    rng = np.random.default_rng(1)
    arrs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ea = [ember.tensor(a, device="cuda", dtype=getattr(ember, dtype), requires_grad=True) for a in arrs]
    ta = [torch.tensor(a).to(getattr(torch, dtype)).requires_grad_() for a in arrs]
    eo, to = ea[0] @ ea[1], ta[0] @ ta[1]
    assert eo.dtype is getattr(ember, dtype) and tuple(eo.shape) == tuple(to.shape)
    np.testing.assert_allclose(
        eo.detach().float().cpu().numpy(), to.detach().float().numpy(), rtol=3e-2, atol=3e-2
    )
    g = np.random.default_rng(2).standard_normal(tuple(to.shape)).astype(np.float32)
    eo.backward(ember.tensor(g, device="cuda", dtype=eo.dtype))
    to.backward(torch.tensor(g).to(to.dtype))
    for e, t in zip(ea, ta):
        np.testing.assert_allclose(e.grad.float().cpu().numpy(), t.grad.float().numpy(), rtol=5e-2, atol=5e-2)


def test_tf32_flag_is_followed():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 256)).astype(np.float32)
    ref = a.astype(np.float64) @ a.astype(np.float64)
    x = ember.tensor(a, device="cuda")
    ember.backends.cuda.matmul.allow_tf32 = False
    exact = np.abs((x @ x).cpu().numpy() - ref).max()
    ember.backends.cuda.matmul.allow_tf32 = True
    try:
        fast = np.abs((x @ x).cpu().numpy() - ref).max()
    finally:
        ember.backends.cuda.matmul.allow_tf32 = False
    assert exact < 1e-3 < fast  # TF32 keeps 10 mantissa bits: visibly less exact than float32


def test_cuda_generator_reproducible_and_state_replays():
    ember.cuda.manual_seed(123)
    a = ember.rand(1000, device="cuda")
    ember.cuda.manual_seed(123)
    b = ember.rand(1000, device="cuda")
    assert ember.equal(a, b)
    state = ember.cuda.get_rng_state()
    c = ember.randn(50, device="cuda")
    ember.cuda.set_rng_state(state)
    assert ember.equal(c, ember.randn(50, device="cuda"))
    x = ember.rand(100_000, device="cuda")
    assert 0.0 <= float(x.min()) and float(x.max()) < 1.0 and abs(float(x.mean()) - 0.5) < 0.01
    scaled = x.cpu().numpy().astype(np.float64) * 2**24
    np.testing.assert_array_equal(scaled, np.floor(scaled))  # torch's float32 lattice
    gen = ember.Generator(device="cuda").manual_seed(7)
    d = ember.rand(10, device="cuda", generator=gen)
    gen.manual_seed(7)
    assert ember.equal(d, ember.rand(10, device="cuda", generator=gen))


# ------------------------------------------------------------------------------- no hidden synchronisation

_SPIN = None


def _spin(seconds: float):
    """Queue a kernel that keeps the GPU busy for `seconds`; return an event recorded after it."""
    import cupy

    global _SPIN
    if _SPIN is None:
        _SPIN = cupy.RawKernel(
            r"""extern "C" __global__ void spin(long long cycles) {
                long long s = clock64(); while (clock64() - s < cycles) { } }""",
            "spin",
        )
    khz = cupy.cuda.runtime.deviceGetAttribute(cupy.cuda.runtime.cudaDevAttrClockRate, 0)
    _SPIN((1,), (1,), (np.int64(seconds * khz * 1000),))
    ev = ember.cuda.Event()
    ev.record()
    return ev


def _runs_without_sync(fn) -> bool:
    """True when fn() returns while a kernel queued before it still runs (fn never waited for the GPU)."""
    ev = _spin(3.0)
    fn()
    pending = not ev.query()
    ember.cuda.synchronize()
    return pending


def test_training_step_never_synchronises():
    ember.manual_seed(0)
    model = ember.nn.Sequential(
        ember.nn.Linear(32, 64),
        ember.nn.LayerNorm(64),
        ember.nn.GELU(),
        ember.nn.Dropout(0.1),
        ember.nn.Linear(64, 10),
    ).to("cuda")
    x = ember.randn(16, 32, device="cuda")
    y = ember.randint(0, 10, (16,), device="cuda")
    opts = [
        ember.optim.AdamW(model.parameters(), lr=1e-3),
        ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        ember.optim.Adam(model.parameters(), lr=1e-3),
    ]
    for opt in opts:

        def step(opt=opt):
            loss = ember.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            ember.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            acc = (model(x).argmax(-1) == y).float().mean()  # a metric, still on the device
            return loss, acc

        step()  # warm up: first-use kernel compilation may synchronise
        assert _runs_without_sync(step), type(opt).__name__
    assert not _runs_without_sync(lambda: ember.randn(3, device="cuda").sum().item())  # .item() must wait


def test_embedding_lookup_never_synchronises_and_marks_bad_indices_nan():
    """The index bounds check must not read the indices back (torch asserts on the device instead): an
    out-of-range index gives a NaN row, the others are the table's rows."""
    emb = ember.nn.Embedding(10, 8).to("cuda")
    idx = ember.tensor([[1, 2, 9], [0, 10, -1]], device="cuda")
    emb(idx)  # warm up
    assert _runs_without_sync(lambda: emb(idx))
    out = emb(idx).detach().cpu().numpy()
    w = emb.weight.detach().cpu().numpy()
    np.testing.assert_array_equal(out[0], w[[1, 2, 9]])
    np.testing.assert_array_equal(out[1, 0], w[0])
    assert np.isnan(out[1, 1:]).all()


def test_masked_fill_and_scatter_with_a_python_value_never_synchronise():
    """A Python fill value becomes a device array by a fill kernel, not a host-to-GPU copy (which waits for the
    GPU); the results are torch's."""
    x = ember.randn(64, 64, device="cuda")
    mask = x > 0.5
    idx = ember.randint(0, 64, (64, 3), device="cuda")
    ops = (lambda: x.masked_fill(mask, float("-inf")), lambda: x.scatter(1, idx, 2.5))
    for op in ops:
        op()  # warm up
        assert _runs_without_sync(op)
    tx = torch.tensor(x.cpu().numpy())
    got = [o().cpu().numpy() for o in ops]
    want = [tx.masked_fill(torch.tensor(mask.cpu().numpy()), float("-inf")).numpy(),
            tx.scatter(1, torch.tensor(idx.cpu().numpy()), 2.5).numpy()]  # fmt: skip
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    for dt in (ember.float32, ember.bfloat16):  # -0.0 keeps its sign (CuPy fills a zero with memset)
        z = x.to(dt).masked_fill(mask, -0.0).float().cpu().numpy()
        assert np.signbit(z[mask.cpu().numpy()]).all() and mask.any()


def test_amp_step_never_synchronises_but_once():
    model = ember.nn.Linear(16, 16).to("cuda")
    opt = ember.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = ember.amp.GradScaler("cuda")
    x = ember.randn(8, 16, device="cuda")

    def fwd_bwd():
        with ember.autocast("cuda", dtype=ember.bfloat16):
            loss = model(x).float().pow(2).mean()
        scaler.scale(loss).backward()
        scaler.unscale_(opt)

    for _ in range(2):  # warm up: the first step compiles kernels; the second accumulates into existing grads
        fwd_bwd()
        scaler.step(opt)
        scaler.update()
    assert _runs_without_sync(fwd_bwd)  # scaling, backward and the inf checks stay on the device
    scaler.step(opt)  # the one read: was anything non-finite?
    scaler.update()


# ------------------------------------------------------------------------------------------- end to end


def test_demo_gpt_cpu_vs_cuda_10_steps():
    from ember.models import GPT, GPTConfig

    cfg = GPTConfig(block_size=32, vocab_size=65, n_layer=2, n_head=4, n_embd=64, dropout=0.0)
    ember.manual_seed(0)
    cpu = GPT(cfg).to("cpu")
    gpu = GPT(cfg).to("cuda")
    gpu.load_state_dict(cpu.state_dict())
    rng = np.random.default_rng(0)
    losses = {"cpu": [], "cuda": []}
    opts = {
        d: ember.optim.AdamW(m.parameters(), lr=3e-3, weight_decay=0.1)
        for d, m in (("cpu", cpu), ("cuda", gpu))
    }
    for _ in range(10):
        idx = rng.integers(0, 65, (8, 33))
        for dev, m in (("cpu", cpu), ("cuda", gpu)):
            x = ember.tensor(idx[:, :-1], device=dev)
            y = ember.tensor(idx[:, 1:], device=dev)
            _, loss = m(x, y)
            opts[dev].zero_grad()
            loss.backward()
            ember.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opts[dev].step()
            losses[dev].append(loss.item())
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=2e-3)


def test_gpt2_124m_bf16_autocast_step_matches_torch():
    """GPT-2 124M (12 layers, width 768, 12 heads, context 1024, vocab 50304, tied) from the same weights:
    two bf16-autocast AdamW steps on the GPU give torch's losses."""
    from train_cpu import gpt as generic_gpt

    assert torch.cuda.is_available(), "the oracle is torch with CUDA (present on the GPU machine)"
    cfg = dict(vocab=50304, block=1024, n_layer=12, n_head=12, n_embd=768)
    torch.manual_seed(0)
    torch.set_default_device("cuda")
    ember.set_default_device("cuda")
    try:
        tm = generic_gpt(torch, **cfg)
        em = generic_gpt(ember, **cfg)
        em.load_state_dict({k: ember.tensor(v.detach().cpu().numpy()) for k, v in tm.state_dict().items()})
        t_opt = torch.optim.AdamW(tm.parameters(), lr=6e-4, weight_decay=0.1)
        e_opt = ember.optim.AdamW(em.parameters(), lr=6e-4, weight_decay=0.1)
        rng = np.random.default_rng(0)
        for _ in range(2):
            idx = rng.integers(0, 50257, (2, 1025))
            x, y = idx[:, :-1].copy(), idx[:, 1:].copy()
            with torch.autocast("cuda", dtype=torch.bfloat16):
                t_loss = tm(torch.tensor(x), torch.tensor(y))
            with ember.autocast("cuda", dtype=ember.bfloat16):
                e_loss = em(ember.tensor(x), ember.tensor(y))
            np.testing.assert_allclose(e_loss.item(), t_loss.item(), rtol=5e-3)
            for loss, opt in ((t_loss, t_opt), (e_loss, e_opt)):
                opt.zero_grad()
                loss.backward()
                opt.step()
    finally:
        torch.set_default_device(None)
