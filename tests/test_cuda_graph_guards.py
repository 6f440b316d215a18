"""What refuses to run inside a CUDA graph capture, checked without a GPU: CUDA random-number draws whose
kernels cannot read the graph's generator state (their replays would repeat the same numbers) and the fused
Adam step (bias corrections computed on the host); the bookkeeping of the graph-safe draws (offsets counted
from the graph's start, the generator advanced at each replay); and the ember.cuda graph API's error without
a GPU. The captures themselves: tests/gpu/test_cuda_graph.py."""

from __future__ import annotations

import types

import pytest

import ember
from ember.backend import cuda_graph, cuda_optim, philox


def test_cuda_random_streams_refuse_to_advance_during_capture(monkeypatch):
    eng = philox.PhiloxEngine(5, xp=types.SimpleNamespace(__name__="cupy"))  # stands for a CUDA generator
    assert eng.reserve(3) == (5, 0) and eng.reserve(2) == (5, 3)
    monkeypatch.setattr(cuda_graph, "CAPTURING", [1])
    monkeypatch.setattr(cuda_graph, "stream_capturing", lambda: True)
    with pytest.raises(RuntimeError, match="CUDA random numbers cannot be captured in a CUDA graph"):
        eng.reserve(1)
    with pytest.raises(RuntimeError, match="CUDA random numbers cannot be captured"):
        fake = type("ndarray", (), {"get": lambda self: None, "__module__": "cupy._core.core"})  # CuPy's
        philox._to_host(fake())  # what a sampler that reads values on the host (poisson, choice) calls
    assert eng.get_state() == {"seed": 5, "offset": 5}  # the refused call consumed nothing
    host = philox.PhiloxEngine(5)  # a CPU generator is not part of any capture
    assert host.reserve(1) == (5, 0)
    assert ember.rand(3, device="cpu").shape == (3,)


def test_graph_safe_draws_count_from_the_graph_and_advance_the_generator_per_replay(monkeypatch):
    """Inside a capture a graph-safe draw gets an offset counted from the graph's start and the graph's base
    buffer, and the generator does not move; before each replay the generator's (seed, offset) goes into the
    buffer and the generator moves past everything the graph draws: replays continue the stream as eager
    calls would."""
    a = philox.PhiloxEngine(5, xp=types.SimpleNamespace(__name__="cupy"))
    b = philox.PhiloxEngine(9, xp=types.SimpleNamespace(__name__="cupy"))
    assert a.reserve(4, graph_safe=True) == (5, 0, None)  # outside a capture: as before, no base
    made = []
    monkeypatch.setattr(cuda_graph, "_new_base", lambda engine: made.append(engine) or [0, 0, 0])
    monkeypatch.setattr(cuda_graph, "CAPTURING", [1])
    capturing = [False]  # the current stream: another stream's draws stay eager during a capture
    monkeypatch.setattr(cuda_graph, "stream_capturing", lambda: capturing[0])
    graph = cuda_graph.Graph()  # stands for the graph being captured
    uses = graph._rng
    cuda_graph._ACTIVE.append(graph)
    try:
        assert a.reserve(1, graph_safe=True) == (5, 4, None)  # not the captured stream: an ordinary draw
        a.set_state({"seed": 5, "offset": 4})
        capturing[0] = True
        s1, o1, base_a = a.reserve(3, graph_safe=True)
        saved = a.get_state()  # where a replay will be here (activation checkpointing saves this)
        s2, o2, base_a2 = a.reserve(2, graph_safe=True)
        a.set_state(saved)  # ... and restores it to recompute: the same offsets again
        s2b, o2b, _ = a.reserve(2, graph_safe=True)
        s3, o3, base_b = b.reserve(7, graph_safe=True)
        with pytest.raises(RuntimeError, match="cannot be reseeded inside a CUDA graph capture"):
            a.set_state({"seed": 6, "offset": 0})
    finally:
        cuda_graph._ACTIVE.pop()
    capturing[0] = False
    assert (s1, o1, s2, o2, s2b, o2b, s3, o3) == (5, 0, 5, 3, 5, 3, 9, 0) and saved == {"seed": 5, "offset": 7}
    assert base_a is base_a2 and base_a is not base_b and made == [a, b]  # one buffer per generator and graph
    assert a.get_state() == {"seed": 5, "offset": 4} and b.get_state()["offset"] == 0  # capture drew nothing
    writes = []
    setter = lambda buf, seed, offset: writes.append((buf is base_a, seed, offset))  # noqa: E731
    for _ in range(2):
        cuda_graph.advance_rng(uses, setter)
    assert writes == [(True, 5, 4), (False, 9, 0), (True, 5, 9), (False, 9, 7)]
    assert a.get_state()["offset"] == 14 and b.get_state()["offset"] == 14


def test_fused_adam_refuses_capture(monkeypatch):
    monkeypatch.setattr(cuda_graph, "CAPTURING", [1])
    with pytest.raises(RuntimeError, match="capturable=True"):
        cuda_optim.adam_step(None, [], None, None, None, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                             lr=1e-3, flags=0)  # fmt: skip


def test_optimizers_with_a_host_step_count_refuse_capture(monkeypatch):
    """Inside a capture, an optimizer that has a `capturable` option must have it on (its step count would be
    frozen at the captured value otherwise); one without the option (SGD) steps as usual."""
    w = ember.nn.Parameter(ember.ones(3, device="cpu"))  # the CPU even when the suite's default is CUDA
    w.grad = ember.ones(3, device="cpu")
    monkeypatch.setattr(cuda_graph, "CAPTURING", [1])
    for name in ("Adam", "AdamW", "NAdam", "RMSprop"):
        opt = getattr(ember.optim, name)([w], lr=0.1)
        with pytest.raises(RuntimeError, match=rf"{name}\.step\(\) is being captured.*capturable=True"):
            opt.step()
        assert not opt.state  # refused before touching anything
    assert w.tolist() == [1.0, 1.0, 1.0]
    ember.optim.Adam([w], lr=0.1, capturable=True).step()  # the tensor path: allowed
    ember.optim.SGD([w], lr=0.5).step()
    assert w.tolist()[0] < 1.0


def test_graph_api_names_the_missing_gpu():
    assert ember.cuda.is_current_stream_capturing() is False
    if ember.cuda.is_available():
        assert isinstance(ember.cuda.CUDAGraph(), ember.cuda.CUDAGraph)
        return
    for make in (ember.cuda.CUDAGraph, ember.cuda.graph_pool_handle):
        with pytest.raises(RuntimeError, match="no CUDA device is available"):
            make()
    with pytest.raises(TypeError, match="expected a CUDAGraph"):
        ember.cuda.graph(object())
