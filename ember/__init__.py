"""ember: a deep-learning framework that speaks PyTorch's API.

``import ember as torch`` — tensors, define-by-run autograd and the everyday op surface, on NumPy (CPU).
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import (
    _dtype,
    _tensor_methods,  # binds the op table onto Tensor
    autograd,
    linalg,
    nn,
    optim,
    return_types,
    utils,
)
from . import random as random
from ._device import device
from ._dtype import (
    bfloat16,
    complex64,
    complex128,
    dtype,
    finfo,
    float16,
    float32,
    float64,
    get_default_dtype,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from ._dtype import bool_ as bool
from ._formats import channels_last, contiguous_format, layout, memory_format, preserve_format, strided
from ._generator import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from ._size import Size
from ._tensor import Tensor, is_tensor
from ._tensor_repr import get_printoptions, printoptions, set_printoptions
from .autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .ops import *
from .ops import linalg_ops as _linalg_ops

half = float16
float = float32
double = float64
short = int16
int = int32
long = int64
cfloat = complex64
cdouble = complex128


def is_floating_point(input):
    return input.dtype.is_floating_point


def is_complex(input):
    return input.dtype.is_complex


def is_nonzero(input):
    if input.numel() != 1:
        raise RuntimeError(
            "Boolean value of Tensor with more than one value is ambiguous"
            if input.numel() > 1
            else "Boolean value of Tensor with no values is ambiguous"
        )
    return input.item() != 0


def numel(input):
    return input.numel()


def set_default_device(dev) -> None:
    from ._device import DEFAULT, to_device

    DEFAULT[0] = None if dev is None else to_device(dev)


def get_default_device():
    from .ops._dispatch import _default_device

    return _default_device()


def typename(obj) -> str:
    if isinstance(obj, Tensor):
        return f"ember.{_dtype.SCALAR_NAME[obj.dtype]}Tensor"
    return type(obj).__name__


def compile(
    model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None, disable=False
):
    """torch.compile: returns the model (or function) unchanged for now; usable as a decorator too."""
    if model is None:
        return lambda m: m
    return model


from . import (  # noqa: E402
    amp,
    backends,
    compat,
    cuda,
    export,
)
from .cuda import amp as _cuda_amp  # noqa: E402, F401  (ember.cuda.amp, torch.cuda.amp's old spellings)
from .ops._autocast import (  # noqa: E402
    autocast,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_available,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
)
from .serialization import load, save  # noqa: E402


def __getattr__(name: str):
    """ember.onnx loads on first use (it needs the optional onnx package)."""
    if name == "onnx":
        import importlib

        return importlib.import_module(".onnx", __name__)
    raise AttributeError(f"module 'ember' has no attribute {name!r}")
