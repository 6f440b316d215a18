"""GradScaler: dynamic loss scaling for mixed-precision training, with torch.amp.GradScaler's API and semantics.

Inf/NaN checks and scale updates are device tensor ops (no host read per parameter); the one host read per
``step`` decides whether ``optimizer.step()`` runs, exactly as in torch.
"""

from __future__ import annotations

import inspect
import warnings
from collections import abc, defaultdict
from enum import Enum
from typing import Any

from .. import ops as O
from .._dtype import float16, float32, float64, int32
from .._tensor import Tensor
from ..autograd.grad_mode import no_grad

__all__ = ["OptState", "GradScaler"]


class _MultiDeviceReplicator:
    """Lazily serves (cached) copies of a master tensor on the devices asked for."""

    def __init__(self, master_tensor: Tensor) -> None:
        self.master = master_tensor
        self._per_device_tensors: dict = {}

    def get(self, device) -> Tensor:
        """The copy of the master tensor on ``device`` (made once, then cached)."""
        retval = self._per_device_tensors.get(device, None)
        if retval is None:
            retval = self.master.to(device=device, non_blocking=True, copy=True)
            self._per_device_tensors[device] = retval
        return retval


class OptState(Enum):
    """Where an optimizer is in the current iteration: nothing done, grads unscaled, or stepped."""

    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state() -> dict[str, Any]:
    """A fresh per-optimizer state (a module-level function, so that GradScaler pickles)."""
    return {"stage": OptState.READY, "found_inf_per_device": {}}


def _cuda_definitely_not_available() -> bool:
    """True when no CUDA device can be used (torch.cuda.amp.common.amp_definitely_not_available)."""
    from .. import cuda

    return not cuda.is_available()


def _non_finite_check_and_unscale_(grads: list, found_inf: Tensor, inv_scale: Tensor) -> None:
    """torch._amp_foreach_non_finite_check_and_unscale_: grads *= inv_scale in place; found_inf = 1.0 where any
    grad holds an inf/NaN. Tensor ops only: nothing is read back to the host."""
    if not grads:
        return
    finite = [O.isfinite(g).all() for g in grads if g.numel() > 0]
    if finite:
        all_finite = finite[0] if len(finite) == 1 else O.stack(finite).all()
        found_inf.copy_(O.where(all_finite, found_inf, O.ones_like(found_inf)))
    for g in grads:
        g.mul_(inv_scale)


def _amp_update_scale_(
    scale: Tensor,
    growth_tracker: Tensor,
    found_inf: Tensor,
    growth_factor: float,
    backoff_factor: float,
    growth_interval: int,
) -> None:
    """torch._amp_update_scale_ as device tensor ops: back off and reset the tracker after an inf/NaN, else
    count a clean step and grow the scale (if the result is finite) every ``growth_interval`` of them."""
    found = found_inf != 0
    successful = growth_tracker + 1
    hit = successful == growth_interval
    # torch multiplies the float32 scale by the double factor in double, then rounds to float32
    grown = (scale.to(float64) * growth_factor).to(float32)
    backed_off = (scale.to(float64) * backoff_factor).to(float32)
    new_scale = O.where(found, backed_off, O.where(hit & O.isfinite(grown), grown, scale))
    new_tracker = O.where(found | hit, O.zeros_like(growth_tracker), successful)
    scale.copy_(new_scale)
    growth_tracker.copy_(new_tracker)


class GradScaler:
    """Dynamic loss scaling: ``scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update()``.

    ``step`` unscales the gradients and skips ``optimizer.step()`` when any is inf/NaN; ``update`` multiplies
    the scale by ``backoff_factor`` after such a step, and by ``growth_factor`` after ``growth_interval``
    consecutive clean steps. With ``enabled=False`` every method is a pass-through / no-op.
    """

    def __init__(
        self,
        device: str = "cuda",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        self._device = device
        self._enabled = enabled
        if self._device == "cuda":
            if enabled and _cuda_definitely_not_available():
                warnings.warn(
                    "torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                    stacklevel=2,
                )
                self._enabled = False

        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")

            self._init_scale = init_scale
            # _scale and _growth_tracker are created lazily, on the outputs' device, by the first scale()
            self._scale: Tensor | None = None
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker: Tensor | None = None
            self._per_optimizer_states: dict[int, dict[str, Any]] = defaultdict(_refresh_per_optimizer_state)

    def _check_scale_growth_tracker(self, funcname: str) -> tuple[Tensor, Tensor]:
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  " + fix)
        if self._growth_tracker is None:
            raise AssertionError(f"Attempted {funcname} but _growth_tracker is None.  " + fix)
        return (self._scale, self._growth_tracker)

    def _lazy_init_scale_growth_tracker(self, dev) -> None:
        if self._growth_tracker is not None:
            raise AssertionError("_growth_tracker initialized before _scale")
        self._scale = O.full((), self._init_scale, dtype=float32, device=dev)
        self._growth_tracker = O.full((), self._init_growth_tracker, dtype=int32, device=dev)

    # ------------------------------------------------------------------ scaling
    def scale(self, outputs):
        """Multiply a tensor (or nested lists/tuples/iterables of tensors) by the scale factor."""
        if not self._enabled:
            return outputs

        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker(outputs.device)
            scale = self._scale
            if scale is None:
                raise AssertionError("_scale should not be None after lazy init")
            return outputs * scale.to(device=outputs.device, non_blocking=True)

        stash: list[_MultiDeviceReplicator] = []

        def apply_scale(val):
            if isinstance(val, Tensor):
                if len(stash) == 0:
                    if self._scale is None:
                        self._lazy_init_scale_growth_tracker(val.device)
                    scale = self._scale
                    if scale is None:
                        raise AssertionError("_scale should not be None after lazy init")
                    stash.append(_MultiDeviceReplicator(scale))
                return val * stash[0].get(val.device)
            if isinstance(val, abc.Iterable):
                iterable = map(apply_scale, val)
                if isinstance(val, (list, tuple)):
                    return type(val)(iterable)
                return iterable
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")

        return apply_scale(outputs)

    def _unscale_grads_(self, optimizer, inv_scale: Tensor, found_inf: Tensor, allow_fp16: bool) -> dict:
        per_device_inv_scale = _MultiDeviceReplicator(inv_scale)
        per_device_found_inf = _MultiDeviceReplicator(found_inf)

        # one pass over the params, bucketing grads by device and dtype
        per_device_and_dtype_grads: dict = defaultdict(lambda: defaultdict(list))
        with no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    if not isinstance(param, Tensor):
                        raise AssertionError(f"expected param to be torch.Tensor, got {type(param).__name__}")
                    if param.grad is None:
                        continue
                    if (not allow_fp16) and param.grad.dtype == float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    to_unscale = param.grad
                    per_device_and_dtype_grads[to_unscale.device][to_unscale.dtype].append(to_unscale)

            for device, per_dtype_grads in per_device_and_dtype_grads.items():
                for grads in per_dtype_grads.values():
                    _non_finite_check_and_unscale_(
                        grads, per_device_found_inf.get(device), per_device_inv_scale.get(device)
                    )

        return per_device_found_inf._per_device_tensors

    def unscale_(self, optimizer) -> None:
        """Divide ("unscale") the optimizer's gradients by the scale factor, in place, recording inf/NaNs."""
        if not self._enabled:
            return

        self._check_scale_growth_tracker("unscale_")

        optimizer_state = self._per_optimizer_states[id(optimizer)]

        if optimizer_state["stage"] is OptState.UNSCALED:
            raise RuntimeError(
                "unscale_() has already been called on this optimizer since the last update()."
            )
        elif optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")

        if self._scale is None:
            raise AssertionError("_scale is None in unscale_")
        # the reciprocal is taken in float64, as torch does (float32 division can be imprecise)
        with no_grad():
            inv_scale = self._scale.double().reciprocal().float()
            found_inf = O.full((), 0.0, dtype=float32, device=self._scale.device)

        optimizer_state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale, found_inf, False)
        optimizer_state["stage"] = OptState.UNSCALED

    def _maybe_opt_step(self, optimizer, optimizer_state: dict[str, Any], *args: Any, **kwargs: Any):
        retval = None
        found = list(optimizer_state["found_inf_per_device"].values())
        with no_grad():
            total = found[0]
            for t in found[1:]:
                total = total + t.to(total.device, non_blocking=True)
        if not total.item():  # the single host read of the iteration
            retval = optimizer.step(*args, **kwargs)
        return retval

    def step(self, optimizer, *args: Any, **kwargs: Any):
        """Unscale the grads (unless unscale_ was called) and run ``optimizer.step(*args, **kwargs)`` unless
        they hold an inf/NaN; returns optimizer.step's return value (None when skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)

        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")

        self._check_scale_growth_tracker("step")

        optimizer_state = self._per_optimizer_states[id(optimizer)]

        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")

        retval = None

        if getattr(optimizer, "_step_supports_amp_scaling", False):
            # The optimizer handles scaling itself: it gets either ``grad_scaler=self`` (deprecated contract)
            # or the ``grad_scale`` and ``found_inf`` tensors as attributes for the duration of its step.
            kwargs_ = kwargs
            has_grad_scaler_kwarg = "grad_scaler" in inspect.signature(optimizer.step).parameters
            if has_grad_scaler_kwarg:
                warnings.warn(
                    "GradScaler is going to stop passing itself as a keyword argument to the passed "
                    "optimizer. In the near future GradScaler registers `grad_scale: Tensor` and "
                    "`found_inf: Tensor` to the passed optimizer and let the optimizer use them directly.",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs_.update({"grad_scaler": self})
            else:
                if optimizer_state["stage"] is OptState.READY:
                    self._check_inf_per_device(optimizer)
                scaler = self._get_scale_async()
                if scaler is None:
                    raise AssertionError("_get_scale_async returned None")
                with no_grad():
                    found_inf = sum(
                        t.to(scaler.device, non_blocking=True)
                        for t in optimizer_state["found_inf_per_device"].values()
                    )
                    optimizer.grad_scale = (
                        getattr(optimizer, "grad_scale", None)
                        if optimizer_state["stage"] == OptState.UNSCALED
                        else scaler * getattr(optimizer, "grad_scale", 1)
                    )
                optimizer.found_inf = found_inf
            retval = optimizer.step(*args, **kwargs_)
            optimizer_state["stage"] = OptState.STEPPED
            if not has_grad_scaler_kwarg:
                del optimizer.grad_scale
                del optimizer.found_inf
            return retval

        if optimizer_state["stage"] is OptState.READY:
            self.unscale_(optimizer)

        if len(optimizer_state["found_inf_per_device"]) == 0:
            raise AssertionError("No inf checks were recorded for this optimizer.")

        retval = self._maybe_opt_step(optimizer, optimizer_state, *args, **kwargs)

        optimizer_state["stage"] = OptState.STEPPED

        return retval

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Update the scale: back off after a skipped step, grow after ``growth_interval`` clean ones, or set it
        to ``new_scale`` (a float or a 1-element float32 tensor, copied) when given."""
        if not self._enabled:
            return

        _scale, _growth_tracker = self._check_scale_growth_tracker("update")

        with no_grad():
            if new_scale is not None:
                if self._scale is None:
                    raise AssertionError("_scale is None in update")
                if isinstance(new_scale, float):
                    self._scale.fill_(new_scale)
                else:
                    reason = (
                        "new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                        "torch.FloatTensor with requires_grad=False."
                    )
                    if new_scale.device.type != self._device:
                        raise AssertionError(reason)
                    if new_scale.numel() != 1:
                        raise AssertionError(reason)
                    if new_scale.requires_grad is True:
                        raise AssertionError(reason)
                    self._scale.copy_(new_scale)
            else:
                # consume the inf/NaN flags every optimizer recorded this iteration
                found_infs = [
                    found_inf.to(device=_scale.device, non_blocking=True)
                    for state in self._per_optimizer_states.values()
                    for found_inf in state["found_inf_per_device"].values()
                ]

                if len(found_infs) == 0:
                    raise AssertionError("No inf checks were recorded prior to update.")

                found_inf_combined = found_infs[0]
                for f in found_infs[1:]:
                    found_inf_combined = found_inf_combined + f

                _amp_update_scale_(
                    _scale,
                    _growth_tracker,
                    found_inf_combined,
                    self._growth_factor,
                    self._backoff_factor,
                    self._growth_interval,
                )

        # clear the data collected from optimizers this iteration
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    # ------------------------------------------------------------------ accessors
    def _get_scale_async(self) -> Tensor | None:
        return self._scale

    def get_scale(self) -> float:
        """The current scale as a Python float (1.0 when disabled); reads the scale back to the host."""
        if self._enabled:
            scale = self._get_scale_async()
            return self._init_scale if scale is None else scale.item()
        return 1.0

    def get_growth_factor(self) -> float:
        """The scale growth factor."""
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        """Set the scale growth factor."""
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        """The scale backoff factor."""
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        """Set the scale backoff factor."""
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        """The number of consecutive clean steps after which the scale grows."""
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        """Set the growth interval."""
        self._growth_interval = new_interval

    def _get_growth_tracker(self) -> int:
        if self._enabled:
            return self._init_growth_tracker if self._growth_tracker is None else self._growth_tracker.item()
        return 0

    def is_enabled(self) -> bool:
        """Whether this scaler is enabled."""
        return self._enabled

    # ------------------------------------------------------------------ serialization
    def state_dict(self) -> dict[str, Any]:
        """scale, growth_factor, backoff_factor, growth_interval and _growth_tracker ({} when disabled)."""
        if self._enabled:
            return {
                "scale": self.get_scale(),
                "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker(),
            }
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state produced by state_dict() (a no-op when disabled)."""
        if not self._enabled:
            return

        if len(state_dict) == 0:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved "
                "from a disabled instance of GradScaler."
            )

        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale.fill_(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(state_dict["_growth_tracker"])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise AssertionError(
                    "A GradScaler instance may only be pickled at the beginning "
                    "of an iteration, or at the end after scaler.update()."
                )
            # the unpickled instance re-creates _scale and _growth_tracker lazily
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _check_inf_per_device(self, optimizer) -> dict[str, Any]:
        _scale, _ = self._check_scale_growth_tracker("_check_inf_per_device")

        with no_grad():
            dummy_inv_scale = O.full((), 1.0, dtype=float32, device=_scale.device)
            found_inf = O.full((), 0.0, dtype=float32, device=_scale.device)

        self._per_optimizer_states[id(optimizer)]["found_inf_per_device"] = self._unscale_grads_(
            optimizer, dummy_inv_scale, found_inf, True
        )

        return self._per_optimizer_states[id(optimizer)]["found_inf_per_device"]

    def _found_inf_per_device(self, optimizer) -> dict[str, Any]:
        return self._per_optimizer_states[id(optimizer)]["found_inf_per_device"]
