"""autocast: mixed precision as a dispatch mode, with torch's per-op policy for CUDA and for the CPU.

Inside ``autocast(device_type, dtype)`` every op on a tensor of that device type is looked up by name in the
device type's policy: LOWER ops (matmul, linear, conv, attention) run in the autocast dtype, FP32 ops
(CUDA: softmax, log_softmax, norms, losses, sum, exp/log...; CPU: losses and linear algebra) run in float32,
and every other op runs in the dtype its inputs have. Float64 inputs are never lowered. The casts are
ordinary differentiable ops, so gradients flow back in each parameter's own dtype. Backward passes do not
autocast (the engine runs them outside the mode), and an op that autocast has cast runs its inner ops as
they are (torch excludes autocast below an autocast kernel too).

Ops are matched by their Op class (for the primitives that dispatch sees) and by name for composite public
functions (losses, normalize, cdist...), which wear the ``autocast_policy(name)`` decorator.
"""

from __future__ import annotations

import functools
import threading
import warnings

from .. import _dtype as D
from .._tensor import Tensor
from ..autograd.grad_mode import STATE as _GRAD_STATE
from ._dispatch import MODES, _run, dispatch, pop_mode, push_mode
from .convert import to_dtype

LOWER, FP32 = "lower", "fp32"

# torch's CUDA lists (aten/src/ATen/autocast_mode.cpp), as the names of ember's ops and functions
_CUDA_LOWER = {
    "Matmul",
    "_Linear",
    "_Conv",
    "_ConvTranspose",
    "_Attention",
    "_AttentionWeights",
    "Einsum",
    "matmul",
    "mm",
    "bmm",
    "baddbmm",
    "addbmm",
    "addmm",
    "addmv",
    "addr",
    "mv",
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "scaled_dot_product_attention",
    "prelu",
    "chain_matmul",
    "multi_dot",
}
_CUDA_FP32 = {
    "Pow",
    "Acos",
    "Asin",
    "Cosh",
    "Sinh",
    "Tan",
    "Erfinv",
    "Exp",
    "Expm1",
    "Log",
    "Log10",
    "Log1p",
    "Log2",
    "Reciprocal",
    "Rsqrt",
    "Softmax",
    "LogSoftmax",
    "Softplus",
    "Sum",
    "Prod",
    "Cumsum",
    "Cumprod",
    "_LayerNorm",
    "_GroupNorm",
    "_CrossEntropyIdx",
    "_CrossEntropyProb",
    "VectorNorm",
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "kl_div",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multilabel_margin_loss",
    "multi_margin_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "poisson_nll_loss",
    "cosine_similarity",
    "cdist",
    "pdist",
    "dist",
    "normalize",
    "layer_norm",
    "group_norm",
    "softmin",
    "renorm",
    "norm",
}
# torch's CPU lists: only the matrix products run low; losses and linear algebra run in float32
_CPU_LOWER = {
    "Matmul",
    "_Linear",
    "_Conv",
    "_ConvTranspose",
    "_Attention",
    "_AttentionWeights",
    "_RecurrentLayer",
    "matmul",
    "mm",
    "bmm",
    "baddbmm",
    "addbmm",
    "addmm",
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "scaled_dot_product_attention",
    "prelu",
    # composites of bmm/mm in torch, so they run low there too
    "einsum",
    "multi_dot",
    "chain_matmul",
}
_CPU_FP32 = {
    "Prod",
    "Cholesky",
    "Inv",
    "Qr",
    "Svd",
    "Svdvals",
    "Eigh",
    "Solve",
    "Det",
    "Slogdet",
    "Pinv",
    "_CrossEntropyIdx",
    "_CrossEntropyProb",
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "kl_div",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multilabel_margin_loss",
    "multi_margin_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "poisson_nll_loss",
    "cdist",
    "ctc_loss",
}
_POLICY = {
    "cuda": {**dict.fromkeys(_CUDA_LOWER, LOWER), **dict.fromkeys(_CUDA_FP32, FP32)},
    "cpu": {**dict.fromkeys(_CPU_LOWER, LOWER), **dict.fromkeys(_CPU_FP32, FP32)},
}
_BANNED_CUDA = {"binary_cross_entropy", "_BinaryCrossEntropy"}
# every name autocast acts on, on some device: other ops (most of them: add, view, ...) leave at once
_NAMED = frozenset(_POLICY["cuda"]) | frozenset(_POLICY["cpu"]) | _BANNED_CUDA
_BANNED_MSG = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
    "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast."
).replace("torch.", "ember.")
_DEFAULT_DTYPE = {"cuda": D.float16, "cpu": D.bfloat16}
_SUPPORTED = {"cuda": (D.float16, D.bfloat16), "cpu": (D.float16, D.bfloat16)}


class _AutocastState(threading.local):
    def __init__(self):
        self.enabled = {"cuda": False, "cpu": False}
        self.dtype = dict(_DEFAULT_DTYPE)
        self.depth = 0  # autocast contexts entered in this thread
        self.mode_on = False  # the dispatch mode is installed (by the outermost enabled context)
        self.inside = 0  # > 0 while an op that autocast has cast runs


_STATE = _AutocastState()


def is_autocast_available(device_type: str) -> bool:
    return device_type in _POLICY


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for `device_type` (default "cuda", as torch)."""
    return _STATE.enabled.get(device_type or "cuda", False)


def set_autocast_enabled(device_type, enabled=None) -> None:
    if enabled is None:  # torch's old one-argument form: the CUDA flag
        device_type, enabled = "cuda", device_type
    _STATE.enabled[device_type] = bool(enabled)


def get_autocast_dtype(device_type: str):
    return _STATE.dtype.get(device_type, _DEFAULT_DTYPE.get(device_type, D.float16))


def set_autocast_dtype(device_type: str, dtype) -> None:
    _STATE.dtype[device_type] = D.to_dtype(dtype)


def is_autocast_cpu_enabled() -> bool:
    return is_autocast_enabled("cpu")


def get_autocast_gpu_dtype():
    return get_autocast_dtype("cuda")


def get_autocast_cpu_dtype():
    return get_autocast_dtype("cpu")


def clear_autocast_cache() -> None:
    """Casts are not cached (each op casts its inputs afresh), so there is nothing to clear."""


# ----------------------------------------------------------------------------------------------- casting


def _policy(name: str, args, kwargs):
    """(policy, device type, target dtype) for a call, or None when autocast leaves it alone."""
    if name not in _NAMED or _STATE.inside or _GRAD_STATE.in_backward:
        return None
    dev = None
    for a in args:
        if isinstance(a, Tensor):
            dev = a._device.type
            break
    else:
        for a in kwargs.values():
            if isinstance(a, Tensor):
                dev = a._device.type
                break
    if dev is None or not _STATE.enabled.get(dev, False):
        return None
    if dev == "cuda" and name in _BANNED_CUDA:
        raise RuntimeError(_BANNED_MSG)
    policy = _POLICY.get(dev, {}).get(name)
    if policy is None:
        return None
    return policy, dev, (_STATE.dtype[dev] if policy == LOWER else D.float32)


def _cast(a, dev: str, policy: str, dtype):
    if not isinstance(a, Tensor) or a._device.type != dev:
        if isinstance(a, (list, tuple)) and a and isinstance(a[0], Tensor):
            return type(a)(_cast(x, dev, policy, dtype) for x in a)
        return a
    dt = a._dtype
    if not dt.is_floating_point or dt is D.float64 or dt is dtype:
        return a
    if policy == FP32 and dt not in (D.float16, D.bfloat16):
        return a
    return to_dtype(a, dtype)  # NOTE: straight to the cast op (Tensor.to parses its arguments first)


def _mode(op, args, kwargs, inplace):
    plan = None if inplace or getattr(op, "tensor_attrs", False) else _policy(op.__name__, args, kwargs)
    if plan is None:
        if not MODES.stack:  # no mode below this one (dispatch popped it while it runs)
            return _run(op, args, kwargs, inplace)
        return dispatch(op, args, kwargs, inplace)
    policy, dev, dtype = plan
    args = tuple(_cast(a, dev, policy, dtype) for a in args)
    _STATE.inside += 1
    try:
        return dispatch(op, args, kwargs, inplace)
    finally:
        _STATE.inside -= 1


def autocast_policy(name: str):
    """Decorate a composite public function so that autocast treats it as one op named `name`."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if not _STATE.depth:
                return fn(*args, **kwargs)
            plan = _policy(name, args, kwargs)
            if plan is None:
                return fn(*args, **kwargs)
            policy, dev, dtype = plan
            args = tuple(_cast(a, dev, policy, dtype) for a in args)
            kwargs = {k: _cast(v, dev, policy, dtype) for k, v in kwargs.items()}
            _STATE.inside += 1
            try:
                return fn(*args, **kwargs)
            finally:
                _STATE.inside -= 1

        return wrapper

    return deco


# --------------------------------------------------------------------------------------------- the context


class autocast:
    """Run the ops of a region in mixed precision: ``with ember.autocast("cuda", dtype=ember.bfloat16):``.

    Also a decorator. Nested regions restore the outer state on exit."""

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else D.to_dtype(dtype)
        self._cache_enabled = cache_enabled
        enabled = bool(enabled)
        if device_type not in _POLICY:
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        if enabled and device_type == "cuda":
            from .. import cuda

            if not cuda.is_available():
                warnings.warn(
                    "User provided device_type of 'cuda', but CUDA is not available. Disabling", stacklevel=2
                )
                enabled = False
        if enabled and self.fast_dtype not in _SUPPORTED[device_type]:
            where = "CPU" if device_type == "cpu" else "CUDA"
            warnings.warn(
                f"In {where} autocast, but the target dtype is not supported. Disabling autocast.\n"
                f"{where} Autocast only supports dtype of "
                + " and ".join(f"ember.{D.SCALAR_NAME[d].lower()}" for d in _SUPPORTED[device_type])
                + " currently.",
                stacklevel=2,
            )
            enabled = False
        self._enabled = enabled

    def __enter__(self):
        st = _STATE
        self._prev = (st.enabled[self.device], st.dtype[self.device])
        st.enabled[self.device] = self._enabled
        st.dtype[self.device] = self.fast_dtype
        # the mode only where some autocast is on: a disabled region costs the ops nothing
        self._pushed = self._enabled and not st.mode_on
        if self._pushed:
            push_mode(_mode)
            st.mode_on = True
        st.depth += 1
        return self

    def __exit__(self, *exc):
        st = _STATE
        st.enabled[self.device], st.dtype[self.device] = self._prev
        st.depth -= 1
        if self._pushed:
            pop_mode()
            st.mode_on = False
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return func(*args, **kwargs)

        return wrapper


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Decorate a custom Function's forward: with cast_inputs, run it in that dtype with autocast off."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def wrapper(*args, **kwargs):
        if cast_inputs is None or not is_autocast_enabled(device_type):
            return fwd(*args, **kwargs)
        dt = D.to_dtype(cast_inputs)
        args = tuple(_cast(a, device_type, LOWER, dt) for a in args)
        kwargs = {k: _cast(v, device_type, LOWER, dt) for k, v in kwargs.items()}
        with autocast(device_type, enabled=False):
            return fwd(*args, **kwargs)

    return wrapper


def custom_bwd(bwd=None, *, device_type: str):
    """Decorate a custom Function's backward (ember's backward never autocasts, so this is a pass-through)."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    return bwd
