"""ember.Tensor: a backend array plus dtype, device and autograd fields.

The math lives in ``ember.ops``; ``ember/_tensor_methods.py`` binds it onto this class. This module only
holds what a tensor *is*: storage, metadata, autograd bookkeeping and Python protocol methods.
"""

from __future__ import annotations

import numpy as np

from . import _dtype as D
from ._device import CPU, to_device
from ._size import Size, _fast_size
from ._trace_hooks import ACTIVE as _TRACING
from .autograd.grad_mode import STATE
from .backend import get_backend

_new = object.__new__


class Tensor:
    """A multi-dimensional array with autograd, speaking torch.Tensor's API."""

    __slots__ = (
        "_data",
        "_dtype",
        "_device",
        "_requires_grad",
        "grad_fn",
        "_out_nr",
        "_grad",
        "_vc",
        "_base",
        "__dict__",
        "__weakref__",
    )

    # Rarely-set fields live in the instance __dict__ with these class-level defaults, so that the hot
    # constructor only sets the slots above.
    _accum = None  # cached AccumulateGrad node of a leaf
    _hooks = None  # leaf tensor hooks {id: fn}
    _retains_grad = False
    _is_param = False

    __array_ufunc__ = None  # NumPy defers to ember's reflected operators
    __array_priority__ = 1000

    def __new__(cls, *args, **kwargs):
        # torch.Tensor(2, 3) -> uninitialised float tensor; torch.Tensor([1, 2]) -> float tensor from data.
        from .ops.factory import _legacy_tensor_new

        return _legacy_tensor_new(cls, *args, **kwargs)

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self) -> Size:
        if _TRACING[0] is not None:  # export tracing: sizes of traced values are symbolic
            return _TRACING[0].size_of(self)
        return _fast_size(self._data.shape)

    def size(self, dim: int | None = None):
        if _TRACING[0] is not None:
            s = _TRACING[0].size_of(self)
            return s if dim is None else s[_wrap_dim(dim, self._data.ndim, "size")]
        if dim is None:
            return _fast_size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim, "size")]

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self) -> D.dtype:
        return self._dtype

    @property
    def device(self):
        return self._device

    @property
    def is_cuda(self) -> bool:
        return self._device.type == "cuda"

    is_xpu = False
    is_mps = False
    is_meta = False
    is_sparse = False
    is_quantized = False
    is_nested = False

    @property
    def is_cpu(self) -> bool:
        return self._device.type == "cpu"

    def get_device(self) -> int:
        return -1 if self._device.type == "cpu" else (self._device.index or 0)

    def element_size(self) -> int:
        return self._dtype.itemsize

    def is_floating_point(self) -> bool:
        return self._dtype.is_floating_point

    def is_complex(self) -> bool:
        return self._dtype.is_complex

    def stride(self, dim: int | None = None):
        a = self._data
        if a.size == 0:  # NumPy zeroes the strides of empty arrays; torch keeps row-major ones
            st, cur = [], 1
            for n in reversed(a.shape):
                st.append(cur)
                cur *= max(n, 1)
            st = tuple(reversed(st))
        else:
            isz = a.itemsize
            st = tuple(s // isz for s in a.strides)
        if dim is None:
            return st
        return st[_wrap_dim(dim, self._data.ndim, "stride")]

    def storage_offset(self) -> int:
        if self._base is None:
            return 0
        be = get_backend(self._device)
        return be.byte_offset(self._data, self._base._data) // self._data.itemsize

    def is_contiguous(self, memory_format=None) -> bool:
        return bool(get_backend(self._device).is_contiguous(self._data))

    def data_ptr(self) -> int:
        a = self._data
        if isinstance(a, np.ndarray):
            return a.__array_interface__["data"][0]
        return a.data.ptr

    def untyped_storage(self):
        return _StorageView(self)

    @property
    def _version(self) -> int:
        vc = self._vc
        return 0 if vc is None else vc[0]

    def _bump_version(self) -> None:
        vc = self._vc
        if vc is None:
            self._vc = [1]
        else:
            vc[0] += 1

    def _shared_vc(self) -> list:
        vc = self._vc
        if vc is None:
            vc = self._vc = [0]
        return vc

    def _is_view(self) -> bool:
        return self._base is not None

    # ------------------------------------------------------------------ autograd fields
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if self.grad_fn is not None and not value:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a computed "
                "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
            )
        if value and not (self._dtype.is_floating_point or self._dtype.is_complex):
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        self._requires_grad = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got {type(value).__name__}"
                )
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"assigned grad has data of a different size: grad {list(value.shape)}, "
                    f"tensor {list(self.shape)}"
                )
            if value._dtype is not self._dtype:
                raise RuntimeError(
                    f"assigned grad has data of a different type: grad {value._dtype}, tensor {self._dtype}"
                )
            if value._device != self._device:
                raise RuntimeError(
                    f"assigned grad has data located on a different device: grad {value._device}, "
                    f"tensor {self._device}"
                )
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        node = self.grad_fn
        retained = node.__dict__.setdefault("_retained_outputs", {})
        import weakref

        retained[self._out_nr] = weakref.ref(self)

    def register_hook(self, hook):
        """hook(grad) -> Tensor or None, run when the gradient of this tensor is computed."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .autograd.node import RemovableHandle

        if self.grad_fn is not None:
            return self.grad_fn._register_tensor_hook(self._out_nr, hook)
        if self._hooks is None:
            self._hooks = {}
        h = RemovableHandle(self._hooks)
        self._hooks[h.id] = hook
        return h

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        from .autograd.engine import backward

        backward(
            (self,), None if gradient is None else (gradient,), retain_graph, create_graph, inputs=inputs
        )

    def detach(self) -> Tensor:
        """A tensor sharing storage and version counter with this one, outside the graph."""
        t = _wrap(self._data, self._dtype, self._device)
        t._vc = self._shared_vc()
        return t

    def detach_(self) -> Tensor:
        if self._base is not None and self.grad_fn is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._out_nr = 0
        self._requires_grad = False
        return self

    @property
    def data(self) -> Tensor:
        """The same storage, detached and with its own version counter (changes are not tracked)."""
        return _wrap(self._data, self._dtype, self._device)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data = value._data
        self._dtype = value._dtype
        self._device = value._device

    # ------------------------------------------------------------------ conversion to Python / NumPy
    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return _to_host(self).reshape(()).item()

    def tolist(self):
        return _to_host(self).tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        if self._device.type != "cpu" and not force:
            raise TypeError(
                f"can't convert {self._device} device type tensor to numpy. Use Tensor.cpu() to copy the "
                "tensor to host memory first."
            )
        return _to_host(self)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()  # like torch: refuses tensors that require grad
        if dtype is not None:
            a = a.astype(dtype, copy=bool(copy))
        elif copy:
            a = a.copy()
        return a

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous"
                if self._data.size > 1
                else "Boolean value of Tensor with no values is ambiguous"
            )
        return bool(self.item())

    def _scalar(self):
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return _to_host(self).reshape(()).item()

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def __complex__(self) -> complex:
        return complex(self._scalar())

    def __index__(self) -> int:
        if self._dtype.is_floating_point or self._dtype.is_complex or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self) -> int:
        return id(self)

    def __reversed__(self):
        return self if self._data.ndim == 0 else self.flip(0)

    def __contains__(self, element) -> bool:
        if isinstance(element, (Tensor, int, float, bool)):
            return bool((self == element).any().item())
        raise RuntimeError(
            f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a {type(element)}."
        )

    def __repr__(self, *, tensor_contents=None) -> str:
        from ._tensor_repr import tensor_repr

        return tensor_repr(self)

    def __str__(self) -> str:
        return self.__repr__()

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, protocol):
        # Pickling (DataLoader workers, checkpoints): plain data only (raw bytes, shape, dtype name), no graph.
        a = np.asarray(_to_host(self), order="C")
        args = (a.tobytes(), tuple(a.shape), self._dtype.name, str(self._device), self._requires_grad)
        state = {k: v for k, v in self.__dict__.items() if k not in _UNPICKLED}
        if type(self) is Tensor and not state:
            return (_rebuild, args)
        return (_rebuild_typed, (type(self), args, state))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol at the "
                "moment. If you were attempting to deepcopy a module, this may be because of a torch.nn.utils."
                "weight_norm usage, see https://github.com/pytorch/pytorch/pull/103001"
            )
        if id(self) in memo:
            return memo[id(self)]
        new = _wrap(self._data.copy(), self._dtype, self._device)
        if type(self) is not Tensor:
            new.__class__ = type(self)  # subclasses (Parameter) add no slots: same layout
        new._requires_grad = self._requires_grad
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        extra = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        import copy

        for k, v in extra.items():
            setattr(new, k, copy.deepcopy(v, memo))
        memo[id(self)] = new
        return new


class _StorageView:
    """Minimal stand-in for torch's untyped_storage(): identity and size of the underlying memory."""

    def __init__(self, t: Tensor):
        owner = t._base if t._base is not None else t
        self._owner = owner

    def data_ptr(self) -> int:
        return self._owner.data_ptr()

    def nbytes(self) -> int:
        return int(self._owner._data.nbytes)

    def size(self) -> int:
        return self.nbytes()


_UNPICKLED = ("_accum", "_hooks", "_retains_grad")


def _rebuild(data, *args):
    """Unpickle a tensor from (bytes, shape, dtype name, device, requires_grad)."""
    if isinstance(data, np.ndarray):  # older pickles: (array, dtype name, device, requires_grad)
        arr, (dtype_name, device, requires_grad) = data, args
    else:
        shape, dtype_name, device, requires_grad = args
        arr = np.frombuffer(bytearray(data), dtype=D._BY_NAME[dtype_name].np).reshape(shape)
    t = _wrap(arr, D._BY_NAME[dtype_name], CPU)
    if device != "cpu":
        t = t.to(device)
    t._requires_grad = requires_grad
    return t


def _rebuild_typed(cls, args, state):
    """Unpickle a tensor subclass (e.g. a Parameter) or a tensor with Python attributes."""
    t = _rebuild(*args)
    if cls is not Tensor:
        new = _new(cls)
        for name in Tensor.__slots__[:-2]:
            setattr(new, name, getattr(t, name))
        t = new
    t.__dict__.update(state)
    return t


def _to_host(t: Tensor) -> np.ndarray:
    if _TRACING[0] is not None:
        _TRACING[0].host_read(t)  # raises when a traced value would steer Python control flow
    if t._device.type == "cpu":
        return t._data
    return get_backend(t._device).to_numpy(t._data)


def _wrap(data, dtype, device, requires_grad: bool = False) -> Tensor:
    """Fast internal constructor: wraps a backend array (no copy, no checks)."""
    t = _new(Tensor)
    t._data = data
    t._dtype = dtype
    t._device = device
    t._requires_grad = requires_grad
    t.grad_fn = None
    t._out_nr = 0
    t._grad = None
    t._vc = None
    t._base = None
    return t


def _wrap_dim(dim: int, ndim: int, op: str = "") -> int:
    """Normalise a possibly negative dim; IndexError like torch when out of range."""
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim + n if dim < 0 else dim


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


__all__ = ["Tensor", "is_tensor", "to_device", "STATE"]
