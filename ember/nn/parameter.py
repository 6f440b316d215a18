"""nn.Parameter and nn.Buffer: tensors that a Module registers as its state."""

from __future__ import annotations

from .._tensor import Tensor, _new


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning it to a Module attribute registers it.

    It aliases `data` (same storage and version counter) and is a leaf with requires_grad=True by default."""

    __slots__ = ()
    _is_param = True

    def __new__(cls, data=None, requires_grad: bool = True):
        if data is None:
            from ..ops.factory import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): expected a Tensor as data, got {type(data).__name__}")
        t = _new(cls)
        t._data = data._data
        t._dtype = data._dtype
        t._device = data._device
        t._requires_grad = False
        t.grad_fn = None
        t._out_nr = 0
        t._grad = None
        t._vc = data._shared_vc()
        t._base = None
        if requires_grad:
            t.requires_grad_(True)
        return t

    def __init__(self, data=None, requires_grad: bool = True):
        pass

    def __repr__(self) -> str:
        return super().__repr__()


class Buffer(Tensor):
    """Marker for tensors to register as buffers: ``self.b = nn.Buffer(t, persistent=True)``."""

    __slots__ = ()

    def __new__(cls, data=None, *, persistent: bool = True):
        from ..ops.factory import empty

        t = (data if data is not None else empty(0)).detach()
        t.__dict__["_buffer_persistent"] = persistent
        return t


class UninitializedParameter(Parameter):
    __slots__ = ()
