"""Backward-graph nodes: the base Node (a tensor's ``grad_fn``), saved tensors, AccumulateGrad."""

from __future__ import annotations

import itertools
import weakref

from .. import _tensor as _T  # partly initialised here (it imports this package): used at call time
from .grad_mode import STATE

_SEQ = itertools.count()

_FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they have "
    "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
    "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
    "if you need to access saved tensors after calling backward."
)


class RemovableHandle:
    """Returned by register_*hook; ``remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks_dict: dict):
        self._hooks = hooks_dict
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Node:
    """A node of the backward graph. For ember's own ops it is also the ``ctx`` that forward sees.

    next_functions: one (node, output_nr) edge per differentiable input, (None, 0) where no grad flows.
    _meta: per input, (shape, dtype) used by the engine to reduce broadcast grads and cast them back.
    """

    __slots__ = ("next_functions", "needs_input_grad", "_meta", "_seq", "__dict__", "__weakref__")

    # Rarely-set fields: class defaults, instance values live in __dict__ when set.
    _saved = ()
    _freed = False
    _pre_hooks = None
    _post_hooks = None
    _tensor_pre_hooks = None
    num_outputs = 1

    # -- API shared with torch's grad_fn objects
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def apply(self, *grads):
        raise NotImplementedError

    def __call__(self, *grads):
        return self.apply(*grads)

    @property
    def metadata(self) -> dict:
        return self.__dict__.setdefault("_metadata", {})

    def register_hook(self, fn) -> RemovableHandle:
        """fn(grad_inputs, grad_outputs) -> new grad_inputs or None; runs after this node's backward."""
        if self._post_hooks is None:
            self._post_hooks = {}
        h = RemovableHandle(self._post_hooks)
        self._post_hooks[h.id] = fn
        return h

    def register_prehook(self, fn) -> RemovableHandle:
        """fn(grad_outputs) -> new grad_outputs or None; runs before this node's backward."""
        if self._pre_hooks is None:
            self._pre_hooks = {}
        h = RemovableHandle(self._pre_hooks)
        self._pre_hooks[h.id] = fn
        return h

    def _register_tensor_hook(self, output_nr: int, fn) -> RemovableHandle:
        if self._tensor_pre_hooks is None:
            self._tensor_pre_hooks = {}
        per_output = self._tensor_pre_hooks.setdefault(output_nr, {})
        h = RemovableHandle(per_output)
        per_output[h.id] = fn
        return h

    def _release(self) -> None:
        self._freed = True
        self._saved = ()

    # -- saving for backward
    def save_for_backward(self, *values) -> None:
        self._saved = values

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        return tuple(_unpack(self, s) for s in self._saved)


class SavedInput:
    """An input tensor saved for backward, with the version it had when saved."""

    __slots__ = ("tensor", "version")

    def __init__(self, tensor, version):
        self.tensor = tensor
        self.version = version


class SavedUpcast:
    """A float16/bfloat16 input that an op saved as its float32 upcast (ops with upcast_half). Unpacked as the
    saved float32 array, except under create_graph, where it is the differentiable cast of the input, so that
    higher derivatives see the dependence on the input."""

    __slots__ = ("tensor", "version", "data", "dtype")

    def __init__(self, tensor, version, data, dtype):
        self.tensor = tensor
        self.version = version
        self.data = data
        self.dtype = dtype


class SavedOutput:
    """An output saved for backward. Holds the array, not the Tensor, to avoid a tensor<->node cycle."""

    __slots__ = ("data", "vc", "version", "output_nr", "dtype", "device")

    def __init__(self, data, vc, version, output_nr, dtype, device):
        self.data = data
        self.vc = vc
        self.version = version
        self.output_nr = output_nr
        self.dtype = dtype
        self.device = device


class SavedUpcastOutput(SavedOutput):
    """The float32 result an op computed for a float16/bfloat16 output (upcast_half) and saved for backward.
    Unpacked as that float32 array, except under create_graph, where it is the output itself (re-attached to
    the node, its values rounded to the output's dtype, as the output holds them) cast to float32, so that
    higher derivatives see its dependence on the inputs."""

    __slots__ = ("up_dtype",)

    def __init__(self, data, vc, version, output_nr, dtype, device, up_dtype):
        super().__init__(data, vc, version, output_nr, dtype, device)
        self.up_dtype = up_dtype


def _version_error(node, shape, dtype, now, then, output_nr=0):
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"[{dtype} {list(shape)}], which is output {output_nr} of {node.name()}, is at version {now}; "
        f"expected version {then} instead. Hint: the tensor was changed in place after it was saved for "
        "backward; clone() it before the in-place operation."
    )


def _check_input(node, s):
    """The saved input tensor of a SavedInput / SavedUpcast, unless it was modified in place since."""
    t = s.tensor
    vc = t._vc
    now = vc[0] if vc is not None else 0
    if now != s.version:
        gf = t.grad_fn
        raise _version_error(gf if gf is not None else node, t.shape, t.dtype, now, s.version, t._out_nr)
    return t


def _check_output(node, s) -> None:
    """Raise if the output a SavedOutput / SavedUpcastOutput stands for was modified in place since."""
    now = s.vc[0] if s.vc is not None else 0
    if now != s.version:
        raise _version_error(node, s.data.shape, s.dtype, now, s.version, s.output_nr)


def _reattached(node, s, data):
    """The output as a Tensor whose grad_fn is this node again, so create_graph=True differentiates through it."""
    t = _T._wrap(data, s.dtype, s.device)
    t._requires_grad = True
    t.grad_fn = node
    t._out_nr = s.output_nr
    t._vc = s.vc
    return t


def _unpack(node, s):
    if type(s) is SavedInput:  # the common case first, and no import on its path
        return _check_input(node, s)
    if type(s) is SavedOutput:
        _check_output(node, s)
        return _reattached(node, s, s.data)
    _wrap = _T._wrap
    if type(s) is SavedUpcast:
        t = _check_input(node, s)
        return t.to(s.dtype) if STATE.enabled else _wrap(s.data, s.dtype, t._device)
    if type(s) is SavedUpcastOutput:
        _check_output(node, s)
        if not STATE.enabled:
            return _wrap(s.data, s.up_dtype, s.device)
        return _reattached(node, s, s.data.astype(s.dtype.np)).to(s.up_dtype)
    if s is None:
        return None
    return s  # a constant Tensor made at save time


class AccumulateGrad(Node):
    """The sink node of a leaf tensor: adds the incoming gradient into ``variable.grad``."""

    __slots__ = ("_var",)

    def __init__(self, var):
        self._var = weakref.ref(var)
        self.next_functions = ()
        self._seq = next(_SEQ)

    @property
    def variable(self):
        return self._var()


def accumulate_node(t) -> AccumulateGrad:
    """The (cached) AccumulateGrad node of leaf tensor `t`."""
    acc = t._accum
    if acc is None:
        acc = AccumulateGrad(t)
        t._accum = acc
    return acc


def edge_of(t):
    """The graph edge a tensor's gradient flows into: (grad_fn, output_nr), (AccumulateGrad, 0) or None."""
    if t.grad_fn is not None:
        return (t.grad_fn, t._out_nr)
    if t._requires_grad:
        return (accumulate_node(t), 0)
    return None
