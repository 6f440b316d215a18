"""What refuses to run inside a CUDA graph capture, checked without a GPU: CUDA random-number streams (their
replays would repeat the same numbers) and the fused Adam step (bias corrections computed on the host); and
the ember.cuda graph API's error without a GPU. The captures themselves: tests/gpu/test_cuda_graph.py."""

from __future__ import annotations

import types

import pytest

import ember
from ember.backend import cuda_graph, cuda_optim, philox


def test_cuda_random_streams_refuse_to_advance_during_capture(monkeypatch):
    eng = philox.PhiloxEngine(5, xp=types.SimpleNamespace(__name__="cupy"))  # stands for a CUDA generator
    assert eng.reserve(3) == (5, 0) and eng.reserve(2) == (5, 3)
    monkeypatch.setattr(cuda_graph, "CAPTURING", [1])
    with pytest.raises(RuntimeError, match="random numbers on CUDA .* cannot be captured"):
        eng.reserve(1)
    assert eng.get_state() == {"seed": 5, "offset": 5}  # the refused call consumed nothing
    host = philox.PhiloxEngine(5)  # a CPU generator is not part of any capture
    assert host.reserve(1) == (5, 0)
    assert ember.rand(3, device="cpu").shape == (3,)


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
