"""Activation checkpointing: run a segment without saving activations, recompute it in backward.

NOTE: both `use_reentrant` settings use the reentrant algorithm (torch's original): backward re-runs the
function with grad enabled and backpropagates through the recomputed graph, accumulating parameter gradients
directly. As in torch's reentrant mode, `autograd.grad` w.r.t. parameters used inside the segment is not
supported; `.backward()` is.
"""

from __future__ import annotations

from .._generator import default_generator_for
from .._tensor import Tensor
from ..autograd.engine import backward as _backward
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, no_grad


def _rng_states(args) -> dict:
    """The states of the generators the segment may draw from: the CPU's, and those of the GPUs that hold
    tensor arguments or are the default device (as torch stashes the devices of the inputs)."""
    from ..ops._dispatch import _default_device

    devices = {"cpu"}
    devices.update(str(a.device) for a in args if isinstance(a, Tensor) and a.device.type != "cpu")
    default = _default_device()
    if default.type != "cpu":
        devices.add(str(default))
    gens = [default_generator_for(d) for d in sorted(devices)]
    return {g: g.get_state() for g in gens}


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        ctx.run_function = run_function
        ctx.preserve = preserve_rng_state
        if preserve_rng_state:
            ctx.rng_state = _rng_states(args)
        ctx.inputs = args
        tensors = [a for a in args if isinstance(a, Tensor)]
        ctx.save_for_backward(*tensors)
        with no_grad():
            out = run_function(*args)
        return out

    @staticmethod
    def backward(ctx, *grads):
        saved = iter(ctx.saved_tensors)
        inputs = []
        for a in ctx.inputs:
            if isinstance(a, Tensor):
                t = next(saved).detach()
                t.requires_grad_(a.requires_grad)
                inputs.append(t)
            else:
                inputs.append(a)
        if ctx.preserve:
            current = {g: g.get_state() for g in ctx.rng_state}
            for g, state in ctx.rng_state.items():
                g.set_state(state)
        try:
            with enable_grad():
                outs = ctx.run_function(*inputs)
        finally:
            if ctx.preserve:
                for g, state in current.items():
                    g.set_state(state)
        outs = (outs,) if isinstance(outs, Tensor) else tuple(outs)
        pairs = [
            (o, g) for o, g in zip(outs, grads) if isinstance(o, Tensor) and o.requires_grad and g is not None
        ]
        if pairs:
            _backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(
            t.grad if isinstance(t, Tensor) and t.requires_grad else None for t in inputs
        )


def checkpoint(
    function,
    *args,
    use_reentrant=None,
    context_fn=None,
    determinism_check="default",
    debug=False,
    preserve_rng_state: bool = True,
    **kwargs,
):
    """function(*args, **kwargs), recomputed during backward instead of keeping its activations."""
    if kwargs:
        fn = function

        def function(*a):
            return fn(*a, **kwargs)

    return _Checkpoint.apply(function, preserve_rng_state, *args)


def checkpoint_sequential(functions, segments: int, input, use_reentrant=None, **kwargs):
    """Checkpoint a Sequential (or list of modules) in `segments` chunks."""
    funcs = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = max(1, len(funcs) // segments)

    def run(start, end):
        def f(x):
            for fn in funcs[start:end]:
                x = fn(x)
            return x

        return f

    end = 0
    for start in range(0, len(funcs) - size, size):
        end = start + size
        input = checkpoint(run(start, end), input, **kwargs)
    return run(end, len(funcs))(input)


__all__ = ["checkpoint", "checkpoint_sequential"]
