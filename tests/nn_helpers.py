"""Layer parity: the same layer in ember.nn and torch.nn, weights copied through state_dict.

    layer_parity(lambda nn: nn.Conv2d(3, 8, 3, padding=1), randn(2, 3, 8, 8))

`make(nn)` builds the layer with the given nn module (ember.nn or torch.nn). torch's state_dict is
loaded into ember's layer (so key names and shapes must match), both run in train and eval mode on the
same inputs, and outputs plus the gradients of every parameter and every input are compared against a
random cotangent.
"""

from __future__ import annotations

import numpy as np
import torch

import ember
from tests.helpers import Spec, _flat_tensors, _gen, assert_close


def copy_state(t_layer, e_layer) -> None:
    """Load torch's state_dict into the ember layer; key names and shapes must match exactly."""
    t_sd = t_layer.state_dict()
    e_keys = list(e_layer.state_dict().keys())
    assert list(t_sd.keys()) == e_keys, (
        f"state_dict keys differ:\n torch {list(t_sd.keys())}\n ember {e_keys}"
    )
    converted = {}
    for k, v in t_sd.items():
        if v.dtype == torch.bfloat16:
            converted[k] = ember.tensor(v.float().cpu().numpy()).to(ember.bfloat16)
        else:
            converted[k] = ember.tensor(v.cpu().numpy())
    e_layer.load_state_dict(converted)


def layer_parity(
    make,
    *specs,
    modes=("train", "eval"),
    dtype=None,
    rtol=None,
    atol=None,
    grad_rtol=None,
    grad_atol=None,
    call=None,
    check_dtype=True,
):
    """Compare a layer's outputs and parameter/input gradients between ember and torch.

    call(layer, *inputs) customises the call (default: layer(*inputs)). dtype='float64' casts both layers.
    Returns (ember_layer, torch_layer)."""
    t_layer = make(torch.nn)
    e_layer = make(ember.nn)
    if dtype is not None:
        t_layer = t_layer.to(getattr(torch, dtype))
        e_layer = e_layer.to(getattr(ember, dtype))
    copy_state(t_layer, e_layer)
    call = call or (lambda layer, *xs: layer(*xs))
    for mode in modes:
        t_layer.train(mode == "train")
        e_layer.train(mode == "train")
        e_leaves, e_inputs, t_leaves, t_inputs = [], [], [], []
        for s in specs:
            if isinstance(s, Spec):
                eb, ei = s.build(ember)
                tb, ti = s.build(torch)
                if s.requires_grad:
                    e_leaves.append(eb)
                    t_leaves.append(tb)
                e_inputs.append(ei)
                t_inputs.append(ti)
            else:
                e_inputs.append(s)
                t_inputs.append(s)
        t_out = call(t_layer, *t_inputs)
        e_out = call(e_layer, *e_inputs)
        assert_close(e_out, t_out, rtol, atol, f"{mode} forward", check_dtype)
        # buffers (running stats ...) must evolve identically
        for (k, tb), (k2, eb) in zip(t_layer.named_buffers(), e_layer.named_buffers()):
            assert k == k2
            assert_close(eb, tb, rtol, atol, f"{mode} buffer {k}")
        t_outs = [o for o in _flat_tensors(t_out) if o.requires_grad]
        e_outs = [o for o, to in zip(_flat_tensors(e_out), _flat_tensors(t_out)) if to.requires_grad]
        t_params = [p for p in t_layer.parameters() if p.requires_grad]
        e_params = [p for p in e_layer.parameters() if p.requires_grad]
        if not t_outs:
            continue
        g = _gen()
        cots = [g.standard_normal(tuple(o.shape)) for o in t_outs]
        t_cots = [torch.tensor(c, dtype=o.dtype) for c, o in zip(cots, t_outs)]
        e_cots = [
            ember.tensor(c.astype(np.float32) if o.dtype == ember.bfloat16 else c, dtype=o.dtype)
            for c, o in zip(cots, e_outs)
        ]
        t_grads = torch.autograd.grad(t_outs, t_params + t_leaves, t_cots, allow_unused=True)
        e_grads = ember.autograd.grad(e_outs, e_params + e_leaves, e_cots, allow_unused=True)
        names = [n for n, p in t_layer.named_parameters() if p.requires_grad] + [
            f"input {i}" for i in range(len(t_leaves))
        ]
        for name, eg, tg, ref in zip(names, e_grads, t_grads, t_params + t_leaves):
            if tg is None:
                tg = torch.zeros_like(ref)
            if eg is None:
                eg = ember.zeros(tuple(ref.shape), dtype=getattr(ember, str(ref.dtype).split(".")[-1]))
            dt = str(ref.dtype).split(".")[-1]
            r = grad_rtol if grad_rtol is not None else {"float64": 1e-6, "float32": 1e-4}.get(dt, 2e-2)
            a = grad_atol if grad_atol is not None else {"float64": 1e-8, "float32": 1e-5}.get(dt, 2e-2)
            assert_close(eg, tg, r, a, f"{mode} grad of {name}")
    return e_layer, t_layer
