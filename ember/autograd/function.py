"""ember.autograd.Function: users' custom differentiable ops, with torch's API.

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

forward runs without recording a graph and sees Tensors; backward sees Tensors and is itself
differentiable when its ops are (so double backward works without ``once_differentiable``).
"""

from __future__ import annotations

import functools

from .grad_mode import STATE, no_grad
from .node import _SEQ, Node, SavedInput, SavedOutput, edge_of

_NO_EDGE = (None, 0)


class FunctionCtx:
    """Methods available on ``ctx`` in a Function's forward/backward (the ctx is the graph node)."""

    def save_for_backward(self, *tensors) -> None:
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_diff = getattr(self, "_non_diff", set()) | {id(t) for t in tensors}

    def mark_dirty(self, *tensors) -> None:
        self._dirty = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value


class BackwardCFunction(FunctionCtx, Node):
    """The node (and ctx) of one Function application."""

    _forward_cls = None
    materialize_grads = True

    def apply(self, *grads):
        from ..ops.factory import zeros

        cls = self._forward_cls
        if self.materialize_grads:
            grads = tuple(
                g if g is not None else zeros(shape, dtype=dt, device=dev)
                for g, (shape, dt, dev) in zip(grads, self._out_meta)
            )
        res = cls.backward(self, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        n = len(self.next_functions)
        if len(res) < n:
            raise RuntimeError(
                f"function {type(self).__name__} returned an incorrect number of gradients (expected {n}, "
                f"got {len(res)})"
            )
        for _i, g in enumerate(res[n:]):
            if g is not None:
                raise RuntimeError(
                    f"function {type(self).__name__} returned an incorrect number of gradients (expected {n}, "
                    f"got {len(res)})"
                )
        return res[:n]

    @property
    def saved_tensors(self):
        return Node.saved_tensors.fget(self)


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        cls._backward_cls = type(f"{name}Backward", (BackwardCFunction,), {"_forward_cls": cls})
        super().__init__(name, bases, attrs)


class Function(metaclass=_FunctionMeta):
    """Base class for custom autograd ops: define static forward(ctx, ...) and backward(ctx, *grads)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        from .._tensor import Tensor

        ctx = cls._backward_cls()
        ctx._to_save = ()
        tensors = [a for a in args if isinstance(a, Tensor)]
        record = STATE.enabled and any(t._requires_grad for t in tensors)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        with no_grad():
            if "setup_context" in cls.__dict__ and cls.setup_context is not Function.setup_context:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        if not record:
            return out
        non_diff = getattr(ctx, "_non_diff", set())
        dirty = getattr(ctx, "_dirty", set())
        ctx.next_functions = tuple(
            (edge_of(a) or _NO_EDGE) if isinstance(a, Tensor) else _NO_EDGE for a in args
        )
        ctx._meta = [(a._data.shape, a._dtype) if isinstance(a, Tensor) else None for a in args]
        ctx._seq = next(_SEQ)
        ctx._freed = False
        ctx.num_outputs = len(outs)
        ctx._out_meta = [
            (o._data.shape, o._dtype, o._device) if isinstance(o, Tensor) else ((), None, None) for o in outs
        ]
        input_ids = {id(a) for a in tensors}
        new_outs = []
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                new_outs.append(o)
                continue
            if id(o) in input_ids and id(o) not in dirty:
                o = o.detach()  # returning an input: the output is a new tensor that aliases it
            if id(o) not in non_diff and (o._dtype.is_floating_point or o._dtype.is_complex):
                o._requires_grad = True
                o.grad_fn = ctx
                o._out_nr = i
            new_outs.append(o)
        outs_by_id = {id(o): i for i, o in enumerate(new_outs) if isinstance(o, Tensor)}
        orig_by_id = {id(o): i for i, o in enumerate(outs) if isinstance(o, Tensor)}
        saved = []
        for t in ctx._to_save:
            if t is None:
                saved.append(None)
            elif id(t) in orig_by_id or id(t) in outs_by_id:
                k = orig_by_id.get(id(t), outs_by_id.get(id(t)))
                o = new_outs[k]
                saved.append(SavedOutput(o._data, o._shared_vc(), o._version, k, o._dtype, o._device))
            else:
                saved.append(SavedInput(t, t._version))
        ctx._saved = tuple(saved)
        del ctx._to_save
        return new_outs[0] if single else tuple(new_outs)

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError


def once_differentiable(fn):
    """Run a backward without recording a graph (its result then can't be differentiated again)."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)

    return wrapper
