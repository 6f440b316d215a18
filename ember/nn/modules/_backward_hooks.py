"""Full backward hooks for Modules: identity autograd Functions around a module's inputs and outputs.

The output-side identity sees grad_output first (and runs backward pre-hooks, which may replace it); the
input-side identity then sees grad_input and runs the full backward hooks, which may replace it.
"""

from __future__ import annotations

from ..._tensor import Tensor
from ...autograd.function import Function


class _Identity(Function):
    @staticmethod
    def forward(ctx, state, is_output, *tensors):
        ctx.state = state
        ctx.is_output = is_output
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.state
        if ctx.is_output:
            grads = state.on_grad_output(grads)
        else:
            grads = state.on_grad_input(grads)
        return (None, None) + tuple(grads)


class BackwardHookState:
    """Per-call state linking the output-side and input-side identities of one module call."""

    def __init__(self, module):
        self.module = module
        self.grad_output = None
        self.n_inputs = 0

    def setup_inputs(self, args):
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        self.n_inputs = len(idx)
        if not idx:
            return args
        outs = _Identity.apply(self, False, *[args[i] for i in idx])
        args = list(args)
        for i, o in zip(idx, outs):
            args[i] = o
        return tuple(args)

    def setup_outputs(self, result):
        single = isinstance(result, Tensor)
        outs = (result,) if single else result
        if not isinstance(outs, (tuple, list)):
            return result
        idx = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not idx:
            return result
        new = _Identity.apply(self, True, *[outs[i] for i in idx])
        outs = list(outs)
        for i, o in zip(idx, new):
            outs[i] = o
        return outs[0] if single else type(result)(outs) if isinstance(result, tuple) else outs

    def on_grad_output(self, grads):
        for hook in self.module._backward_pre_hooks.values():
            r = hook(self.module, tuple(grads))
            if r is not None:
                grads = tuple(r)
        self.grad_output = tuple(grads)
        if self.n_inputs == 0:
            for hook in self.module._backward_hooks.values():
                hook(self.module, (None,), self.grad_output)
        return grads

    def on_grad_input(self, grads):
        for hook in self.module._backward_hooks.values():
            r = hook(self.module, tuple(grads), self.grad_output)
            if r is not None:
                grads = tuple(r)
        return grads
