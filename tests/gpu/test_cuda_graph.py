"""ember.cuda.CUDAGraph / ember.cuda.graph: capture and replay against eager execution and against torch's
CUDA graphs (the same pattern: warm up on a side stream, capture, copy new data into the static inputs,
replay); what cannot be captured fails with a clear error and leaves the stream usable. Marked `cuda`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember

pytestmark = pytest.mark.cuda


def _mlp(m, seed):
    m.manual_seed(seed)
    return m.nn.Sequential(m.nn.Linear(33, 64), m.nn.GELU(), m.nn.Linear(64, 10)).to("cuda")


def test_replay_recomputes_from_the_static_input():
    x = ember.randn(5, 7, device="cuda")
    w = ember.randn(7, 3, device="cuda")
    g = ember.cuda.CUDAGraph()
    s = ember.cuda.Stream()
    s.wait_stream(ember.cuda.current_stream())
    with ember.cuda.stream(s):  # warm-up: kernels compile and load outside the capture
        (x @ w * 2.0 + 1.0).relu()
    ember.cuda.current_stream().wait_stream(s)
    with ember.cuda.graph(g):
        assert ember.cuda.is_current_stream_capturing()
        y = (x @ w * 2.0 + 1.0).relu()
    assert not ember.cuda.is_current_stream_capturing()
    for k in range(3):
        new = np.random.default_rng(k).standard_normal((5, 7)).astype(np.float32)
        x.copy_(ember.tensor(new, device="cuda"))
        g.replay()
        want = np.maximum(new @ w.cpu().numpy() * 2.0 + 1.0, 0.0)
        np.testing.assert_allclose(y.cpu().numpy(), want, rtol=1e-5, atol=1e-5)


def _train(m, graphed, batches, opt_name, kw):
    """8 steps of the MLP on `batches` with library m: eagerly, or 3 warm-up steps on a side stream (they
    train too, as in torch's recipe) then one captured step replayed for the other 5 batches."""
    model = _mlp(m, 0)
    if m is torch:  # ember's initial weights
        with torch.no_grad():
            for p, q in zip(model.parameters(), _mlp(ember, 0).parameters()):
                p.copy_(torch.tensor(q.detach().cpu().numpy()))
    opt = getattr(m.optim, opt_name)(model.parameters(), **kw)
    sx = m.zeros(16, 33, device="cuda")
    sy = m.zeros(16, dtype=m.int64, device="cuda")

    def step():
        loss = m.nn.functional.cross_entropy(model(sx), sy)
        loss.backward()
        opt.step()
        return loss

    def feed(i):
        sx.copy_(m.tensor(batches[i][0], device="cuda"))
        sy.copy_(m.tensor(batches[i][1], device="cuda"))

    losses = []
    if not graphed:
        for i in range(8):
            feed(i)
            opt.zero_grad(set_to_none=True)
            losses.append(float(step()))
    else:
        s = m.cuda.Stream()
        s.wait_stream(m.cuda.current_stream())
        with m.cuda.stream(s):
            for i in range(3):
                feed(i)
                opt.zero_grad(set_to_none=True)
                losses.append(float(step()))
        m.cuda.current_stream().wait_stream(s)
        g = m.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with m.cuda.graph(g):
            static_loss = step()
        for i in range(3, 8):
            feed(i)
            g.replay()
            losses.append(float(static_loss))
    return losses, [p.detach().cpu().numpy() for p in model.parameters()]


@pytest.mark.parametrize("opt_name", ["SGD", "AdamW"])
def test_captured_training_step_matches_eager_and_torch(opt_name):
    """A whole step (forward, cross-entropy, backward, optimizer) captured once and replayed for new batches:
    the losses and parameters follow the eager run of the same batches, and torch's CUDA-graph run."""
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((16, 33)).astype(np.float32), rng.integers(0, 10, 16)) for _ in range(8)]
    # the forms a graph can hold, in both libraries: SGD's per-tensor path, AdamW's device-side step count
    kw = (
        {"lr": 0.05, "momentum": 0.9, "foreach": False}
        if opt_name == "SGD"
        else {"lr": 1e-2, "capturable": True}
    )
    eager = _train(ember, False, batches, opt_name, kw)
    graphed = _train(ember, True, batches, opt_name, kw)
    tgraph = _train(torch, True, batches, opt_name, kw)
    np.testing.assert_allclose(graphed[0], eager[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(graphed[0], tgraph[0], rtol=1e-4, atol=1e-5)
    for a, b, c in zip(graphed[1], eager[1], tgraph[1]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(a, c, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "float16"])
@pytest.mark.parametrize(
    "shapes", [((5, 7), (7, 3)), ((2, 4, 7), (7, 3)), ((2, 4, 7), (2, 7, 3)), ((7,), (7, 3))]
)
def test_captured_matmuls_match_torch(dtype, shapes):
    """GEMMs inside a capture (CuPy's cuBLAS wrappers refuse a capturing stream; ember calls cuBLAS itself
    there): one and batched GEMMs, every float dtype, recomputed from new inputs on replay."""
    rng = np.random.default_rng(1)
    dt = getattr(ember, dtype)
    a = ember.zeros(shapes[0], dtype=dt, device="cuda")
    b = ember.zeros(shapes[1], dtype=dt, device="cuda")
    a @ b  # warm-up outside the capture
    g = ember.cuda.CUDAGraph()
    with ember.cuda.graph(g):
        c = a @ b
        d = (a @ b).sum()  # a second GEMM and its reduction in the same graph
    tol = {"float32": 1e-5, "float64": 1e-12, "bfloat16": 2e-2, "float16": 2e-3}[dtype]
    for _ in range(2):
        na, nb = (rng.standard_normal(s).astype(np.float32) for s in shapes)
        ta, tb = (torch.tensor(v, dtype=getattr(torch, dtype), device="cuda") for v in (na, nb))
        a.copy_(ember.tensor(ta.float().cpu().numpy(), device="cuda").to(dt))
        b.copy_(ember.tensor(tb.float().cpu().numpy(), device="cuda").to(dt))
        g.replay()
        want = (ta @ tb).double().cpu().numpy()
        got = c.double().cpu().numpy()
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)
        np.testing.assert_allclose(float(d), want.sum(), rtol=tol * 10, atol=tol * 100)


def test_what_cannot_be_captured_says_so_and_the_stream_still_works():
    x = ember.randn(64, device="cuda")
    for bad, words in (
        (lambda: ember.poisson(x.abs()), "read on the host"),
        (lambda: float(x.sum()), "read on the host"),
        (lambda: x + ember.tensor([1.0], device="cuda"), "copied from the host"),
    ):
        g = ember.cuda.CUDAGraph()
        with pytest.raises(Exception) as info:
            with ember.cuda.graph(g):
                bad()
        assert words in str(info.value)
        assert not ember.cuda.is_current_stream_capturing()
    y = (x * 2).sum()  # the device and the default stream work after the failed captures
    assert abs(float(y) - 2 * float(x.sum())) < 1e-3


def _random_steps(graphed: bool, steps: int = 3):
    """Dropout forward and backward, rand, randn and bernoulli_ on CUDA, `steps` times from seed 123: eagerly,
    or captured once and replayed. Returns per step the outputs and the dropout input's gradient, as NumPy."""
    x = ember.linspace(-1, 1, 1001, device="cuda").requires_grad_()
    b = ember.empty(300, device="cuda")

    def body():
        x.grad = None
        y = ember.nn.functional.dropout(x * 2, 0.4, training=True)
        y.pow(2).sum().backward()
        return y, ember.rand(37, device="cuda"), ember.randn(5, 3, device="cuda"), b.bernoulli_(0.3), x.grad

    body()  # compiles the kernels (draws from the stream before the seed is set below)
    ember.cuda.manual_seed(123)
    out = []
    if not graphed:
        for _ in range(steps):
            out.append([t.detach().cpu().numpy().copy() for t in body()])
        return out, ember.cuda.get_rng_state().cpu().numpy()
    g = ember.cuda.CUDAGraph()
    with ember.cuda.graph(g):
        static = body()
    for _ in range(steps):
        g.replay()
        out.append([t.detach().cpu().numpy().copy() for t in static])
    return out, ember.cuda.get_rng_state().cpu().numpy()


def test_captured_random_numbers_continue_the_stream_like_eager_calls():
    """Dropout (forward and its regenerated backward mask), rand, randn and bernoulli_ inside a graph: each
    replay draws new numbers, the very ones the same eager calls draw from the same seed, and leaves the
    generator where they leave it."""
    eager, eager_state = _random_steps(False)
    graphed, graphed_state = _random_steps(True)
    for e_step, g_step in zip(eager, graphed):
        for e, g in zip(e_step, g_step):
            np.testing.assert_array_equal(g, e)
    assert not np.array_equal(graphed[0][0], graphed[1][0])  # replays differ from each other
    assert not np.array_equal(graphed[1][1], graphed[2][1])
    assert (graphed_state == eager_state).all()


def _eager_and_graphed(body, seed: int, steps: int) -> dict:
    """{False: eager, True: captured once and replayed}: per mode, `steps` runs of body() from generator seed
    `seed` (its outputs as float NumPy copies) and the generator state after them."""
    results = {}
    for graphed in (False, True):
        ember.cuda.manual_seed(seed)
        if graphed:
            g = ember.cuda.CUDAGraph()
            with ember.cuda.graph(g):
                static = body()
            outs = []
            for _ in range(steps):
                g.replay()
                outs.append([t.detach().float().cpu().numpy().copy() for t in static])
        else:
            outs = [[t.detach().float().cpu().numpy().copy() for t in body()] for _ in range(steps)]
        results[graphed] = (outs, ember.cuda.get_rng_state().cpu().numpy())
    return results


def test_flash_attention_dropout_in_a_graph_draws_like_eager_calls():
    """Attention dropout drawn inside the flash kernels (forward and backward) in a captured step: each replay
    drops what the same eager step drops from the same seed, replays differ, and the generator ends where the
    eager steps leave it."""
    pytest.importorskip("triton")
    rng = np.random.default_rng(2)
    q, k, v = (
        ember.tensor(rng.standard_normal((2, 3, 40, 32)).astype(np.float32), device="cuda")
        .to(ember.bfloat16)
        .requires_grad_()
        for _ in range(3)
    )

    def body():
        q.grad = k.grad = v.grad = None
        out = ember.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=0.3, is_causal=True)
        out.float().pow(2).sum().backward()
        return out, q.grad, k.grad, v.grad

    body()  # warm-up: the kernels compile outside the capture
    results = _eager_and_graphed(body, seed=21, steps=3)
    for e_step, g_step in zip(results[False][0], results[True][0]):
        for e, g in zip(e_step, g_step):
            np.testing.assert_array_equal(g, e)
    assert not np.array_equal(results[True][0][0][0], results[True][0][1][0])
    assert np.array_equal(results[False][1], results[True][1])


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_checkpointed_dropout_in_a_graph_recomputes_its_mask(use_reentrant):
    """Activation checkpointing inside a capture: the recomputation restores the generator state it saved, so
    the backward's dropout mask is the forward's, and replays match eager steps (gradients and generator)."""
    x = ember.linspace(-1, 1, 999, device="cuda").requires_grad_()

    def seg(t):
        return ember.nn.functional.dropout(t * 3, 0.5, training=True).sin()

    def body():
        x.grad = None
        y = ember.utils.checkpoint.checkpoint(seg, x, use_reentrant=use_reentrant)
        y.sum().backward()
        return y, x.grad

    body()  # warm-up
    results = _eager_and_graphed(body, seed=7, steps=2)
    for e, g in zip(results[False][0], results[True][0]):
        np.testing.assert_array_equal(g[0], e[0])
        np.testing.assert_array_equal(g[1], e[1])
        # the gradient is 6 cos(6x) where the forward kept x (y = sin(6x) != 0 there, but at x = 0), else 0
        nz = x.detach().cpu().numpy() != 0
        np.testing.assert_array_equal((e[1] != 0)[nz], (e[0] != 0)[nz])
    assert np.array_equal(results[False][1], results[True][1])


@pytest.mark.parametrize(
    "opt_name,kw,words",
    [
        ("AdamW", {"fused": True}, "capturable=True"),
        ("Adam", {"foreach": False}, "capturable=True"),
        ("SGD", {}, "foreach=False"),
    ],
)
def test_multi_tensor_optimizers_refuse_capture_and_name_the_form_that_works(opt_name, kw, words):
    model = _mlp(ember, 1)
    opt = getattr(ember.optim, opt_name)(model.parameters(), lr=1e-3, **kw)
    x = ember.randn(4, 33, device="cuda")
    model(x).sum().backward()
    opt.step()  # warm-up
    g = ember.cuda.CUDAGraph()
    with pytest.raises(RuntimeError, match=words):
        with ember.cuda.graph(g):
            model(x).sum().backward()
            opt.step()


def test_graphs_share_a_pool_and_capture_needs_a_side_stream():
    x = ember.ones(8, device="cuda")
    (x + 1) * 3
    g1, g2 = ember.cuda.CUDAGraph(), ember.cuda.CUDAGraph()
    with ember.cuda.graph(g1):
        a = x + 1
    with ember.cuda.graph(g2, pool=g1.pool()):
        b = a * 3
    g1.replay()
    g2.replay()
    assert b.cpu().tolist() == [6.0] * 8
    with pytest.raises(RuntimeError, match="default stream"):
        ember.cuda.CUDAGraph().capture_begin()
    with pytest.raises(RuntimeError, match="nothing captured"):
        ember.cuda.CUDAGraph().replay()
