"""Optimizer base class: param groups, per-parameter state, state_dict in torch's format, step hooks.

Subclasses follow the MLX pattern: ``_init_state(p, state, group)`` fills a fresh per-parameter state dict
and ``_update(p, grad, state, group)`` updates one parameter in place from its gradient and state. The
base ``step`` walks the groups and calls them for every parameter that has a gradient.
"""

from __future__ import annotations

import functools
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from copy import deepcopy
from itertools import chain
from typing import Any

from .. import ops as O
from .._dtype import float32, float64, get_default_dtype
from .._tensor import Tensor
from ..autograd.grad_mode import enable_grad, set_grad_enabled
from ..autograd.node import RemovableHandle
from ..backend import cuda_graph as _cuda_graph
from ..backend import cuda_optim as _cuda_optim

__all__ = ["Optimizer", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook", "required"]

_global_optimizer_pre_hooks: dict[int, Any] = OrderedDict()
_global_optimizer_post_hooks: dict[int, Any] = OrderedDict()


class _RequiredParameter:
    """Singleton marking a hyper-parameter that every param group must specify."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj) -> str:
    """torch.typename-like name of an object for error messages."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module in ("builtins", None) else f"{module}.{name}"


def _get_scalar_dtype():
    """dtype of scalar state such as ``step``: float64 under a float64 default dtype, else float32."""
    return float64 if get_default_dtype() == float64 else float32


def _to_scalar(x):
    """Squeeze a 1-element hyper-parameter tensor to 0-d; Python numbers pass through."""
    if isinstance(x, Tensor) and x.dim() != 0:
        return x.squeeze()
    return x


def _step_tensor(p: Tensor, on_param_device: bool, fused: bool = False) -> Tensor:
    """A fresh 0-d ``step`` counter: on the host (like torch), or on p's device when capturable/fused."""
    dtype = float32 if fused else _get_scalar_dtype()
    return O.zeros((), dtype=dtype, device=p.device if on_param_device else "cpu")


def _host_value(t):
    """Python value of a host-resident 0-d state tensor (``step``, ``mu_product``).

    These counters live on the host exactly as in torch, so this reads host memory and never waits on an
    accelerator; Python numbers pass through."""
    if isinstance(t, Tensor):
        if t.device.type == "cpu":
            return t._data.reshape(()).item()
        return t.item()
    return t


def _device_step(step_t: Tensor, p: Tensor) -> Tensor:
    """The step counter for the capturable (tensor) path: widened to float64 for float64 params so that
    bias corrections keep full precision (torch computes them in the counter's float32)."""
    return step_t.to(float64) if p.dtype == float64 and step_t.dtype != float64 else step_t


def _hp(x):
    """A hyper-parameter as a Python number (a Tensor lr is read once, as torch's Scalar conversion does)."""
    if isinstance(x, Tensor):
        return _to_scalar(x).item()
    return x


def _check_lr(lr) -> None:
    """torch's learning-rate validation (1-element tensor, non-negative)."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def register_optimizer_step_pre_hook(hook) -> RemovableHandle:
    """Register hook(optimizer, args, kwargs) -> None | (args, kwargs), run before every optimizer's step."""
    handle = RemovableHandle(_global_optimizer_pre_hooks)
    _global_optimizer_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook) -> RemovableHandle:
    """Register hook(optimizer, args, kwargs) -> None, run after every optimizer's step."""
    handle = RemovableHandle(_global_optimizer_post_hooks)
    _global_optimizer_post_hooks[handle.id] = hook
    return handle


class Optimizer:
    """Base class of all optimizers: holds ``param_groups`` (dicts of params + hyper-parameters) and
    ``state`` (a dict from parameter to its per-parameter state dict)."""

    # group keys that load_state_dict/__setstate__ fill in when an older state dict lacks them
    _group_compat: dict[str, Any] = {}

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: dict[int, Any] = OrderedDict()
        self._optimizer_step_post_hooks: dict[int, Any] = OrderedDict()
        self._optimizer_state_dict_pre_hooks: dict[int, Any] = OrderedDict()
        self._optimizer_state_dict_post_hooks: dict[int, Any] = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks: dict[int, Any] = OrderedDict()
        self._optimizer_load_state_dict_post_hooks: dict[int, Any] = OrderedDict()
        self._patch_step_function()

        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, but got "
                + _typename(params)
            )
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []

        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # ------------------------------------------------------------------ pickling / repr
    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name in (
            "_optimizer_step_pre_hooks",
            "_optimizer_step_post_hooks",
            "_optimizer_state_dict_pre_hooks",
            "_optimizer_state_dict_post_hooks",
            "_optimizer_load_state_dict_pre_hooks",
            "_optimizer_load_state_dict_post_hooks",
        ):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        self._patch_step_function()
        self.defaults.setdefault("differentiable", False)
        for group in self.param_groups:
            for key, value in self._group_compat.items():
                group.setdefault(key, value)
            for p in group["params"]:
                p_state = self.state.get(p)
                if p_state and "step" in p_state and not isinstance(p_state["step"], Tensor):
                    on_dev = bool(group.get("capturable", False) or group.get("fused", False))
                    p_state["step"] = O.tensor(
                        float(p_state["step"]),
                        dtype=_get_scalar_dtype(),
                        device=p.device if on_dev else "cpu",
                    )

    def __repr__(self) -> str:
        format_string = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            format_string += "\n"
            format_string += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    format_string += f"    {key}: {group[key]}\n"
        format_string += ")"
        return format_string

    # ------------------------------------------------------------------ step hooks
    @staticmethod
    def profile_hook_step(func):
        """Wrap a step function so that the global and per-instance pre/post hooks run around it."""

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            self = args[0]
            for pre_hook in chain(
                _global_optimizer_pre_hooks.values(), self._optimizer_step_pre_hooks.values()
            ):
                result = pre_hook(self, args, kwargs)
                if result is not None:
                    if isinstance(result, tuple) and len(result) == 2:
                        args, kwargs = result
                    else:
                        raise RuntimeError(
                            f"{func} must return None or a tuple of (new_args, new_kwargs), but got {result}."
                        )
            out = func(*args, **kwargs)
            for post_hook in chain(
                self._optimizer_step_post_hooks.values(), _global_optimizer_post_hooks.values()
            ):
                post_hook(self, args, kwargs)
            return out

        return wrapper

    def _patch_step_function(self) -> None:
        hooked = getattr(self.__class__.step, "hooked", None)
        if not hooked:
            self.__class__.step = self.profile_hook_step(self.__class__.step)
            self.__class__.step.hooked = True

    def register_step_pre_hook(self, hook) -> RemovableHandle:
        """Register hook(optimizer, args, kwargs) -> None | (new_args, new_kwargs), run before step."""
        handle = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook) -> RemovableHandle:
        """Register hook(optimizer, args, kwargs) -> None, run after step."""
        handle = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    @staticmethod
    def _register(hooks: dict, hook, prepend: bool) -> RemovableHandle:
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Register hook(optimizer) -> None, run before state_dict()."""
        return self._register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Register hook(optimizer, state_dict) -> state_dict | None, run after state_dict()."""
        return self._register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Register hook(optimizer, state_dict) -> state_dict | None, run before load_state_dict()."""
        return self._register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Register hook(optimizer) -> None, run after load_state_dict()."""
        return self._register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------------ state_dict
    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: per-param state}, "param_groups": [{hyper-parameters..., "params": [indices]}]}.

        Indices number the parameters in group order; state tensors are returned by reference, as in torch."""
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        param_mappings: dict[int, int] = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update(
                {id(p): i for i, p in enumerate(group["params"], start_index) if id(p) not in param_mappings}
            )
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {
            (param_mappings[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()
        }
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            hook_result = post_hook(self, state_dict)
            if hook_result is not None:
                state_dict = hook_result
        return state_dict

    @staticmethod
    def _process_value_according_to_param_policy(param, value, param_id, param_groups, key=None):
        """Cast a loaded state tensor: floating state to the param's dtype/device; ``step`` left alone
        unless the group is capturable/fused (then float32 on the param's device)."""
        fused = capturable = False
        for pg in param_groups:
            if param_id in pg["params"]:
                fused = pg.get("fused", False)
                capturable = pg.get("capturable", False)
                break
        if key == "step":
            if capturable or fused:
                return value.to(dtype=float32, device=param.device)
            return value
        if param.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device)
        return value.to(device=param.device)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict produced by state_dict() of an optimizer with the same group/param layout."""
        state_dict = state_dict.copy()
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            hook_result = pre_hook(self, state_dict)
            if hook_result is not None:
                state_dict = hook_result

        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )

        def _cast(param, value, param_id=None, param_groups=None, key=None):
            if isinstance(value, Tensor):
                return Optimizer._process_value_according_to_param_policy(
                    param, value, param_id, param_groups, key
                )
            if isinstance(value, dict):
                return {
                    k: _cast(param, v, param_id=param_id, param_groups=param_groups, key=k)
                    for k, v in value.items()
                }
            if isinstance(value, Iterable) and not isinstance(value, str):
                return type(value)(
                    _cast(param, v, param_id=param_id, param_groups=param_groups) for v in value
                )
            return value

        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v, param_id=k, param_groups=state_dict["param_groups"])
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    # ------------------------------------------------------------------ groups / grads
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors (to None by default, else to zeros in place)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        if p.grad.grad_fn is not None:
                            p.grad.detach_()
                        else:
                            p.grad.requires_grad_(False)
                        p.grad.zero_()

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with optional per-group hyper-parameters) to ``param_groups``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering of tensors "
                "in sets will change between runs. Please use a list instead."
            )
        else:
            param_group["params"] = list(params)

        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) == len(tensors):
                param_group["param_names"] = names
            else:
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are missing"
                )

        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is " + _typename(param)
                )
            if not self.defaults.get("differentiable", None) and not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization parameter {name}"
                )
            param_group.setdefault(name, default)

        params = param_group["params"]
        if len(params) != len({id(p) for p in params}):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this will cause an "
                "error; see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )

        param_set: set[int] = set()
        for group in self.param_groups:
            param_set.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                current = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {current} to the optimizer"
                )
        if not param_set.isdisjoint(id(p) for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ the update loop
    def _init_state(self, p: Tensor, state: dict, group: dict) -> None:
        """Fill the empty state dict of parameter p (lazily, at its first step)."""

    def _update(self, p: Tensor, grad: Tensor, state: dict, group: dict) -> None:
        """Update parameter p in place from its gradient and state (no host reads of device values)."""
        raise NotImplementedError

    def step(self, closure=None):
        """Perform one optimization step; returns the closure's loss (evaluated with grad enabled)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        if _cuda_graph.CAPTURING[0]:
            self._check_capturable()
        with set_grad_enabled(bool(self.defaults.get("differentiable", False))):
            for group in self.param_groups:
                self._step_group(group)
        return loss

    def _check_capturable(self) -> None:
        """Inside a CUDA-graph capture, an optimizer with a `capturable` option must have it on in every group:
        otherwise its step count lives on the host and the graph would replay the captured count forever
        (torch raises here too)."""
        name = type(self).__name__
        for group in self.param_groups:
            if "capturable" in group and not group["capturable"]:
                raise RuntimeError(
                    f"ember: {name}.step() is being captured in a CUDA graph but a param group has "
                    "capturable=False: its step count is kept on the host, so every replay would repeat the "
                    f"captured count. Construct {name}(..., capturable=True) to capture its step"
                )

    def _step_group(self, group: dict) -> None:
        """Update every parameter of `group` that has a gradient, one at a time.

        NOTE: subclasses override this to update many parameters at once (the multi-tensor CUDA kernels of
        ember/backend/cuda_optim.py) and hand the parameters they cannot take to `_step_param`."""
        for p in group["params"]:
            if p.grad is not None:
                self._step_param(p, group)

    def _step_param(self, p: Tensor, group: dict) -> None:
        """The per-parameter update: lazily initialised state, then `_update`."""
        state = self.state.get(p)
        fresh = state is None
        if fresh:
            state = {}
        if len(state) == 0:
            self._init_state(p, state, group)
        self._update(p, p.grad, state, group)
        if fresh and state:
            self.state[p] = state

    def _state_of(self, p: Tensor, group: dict) -> dict:
        """p's state dict, initialised (and stored) when empty."""
        state = self.state.get(p)
        if not state:
            state = {}
            self._init_state(p, state, group)
            self.state[p] = state
        return state


def _maybe_neg(grad: Tensor, maximize: bool) -> Tensor:
    return -grad if maximize else grad


def _l2(grad: Tensor, p: Tensor, weight_decay) -> Tensor:
    """grad + weight_decay * p (torch's coupled L2 penalty); a no-op when weight_decay == 0."""
    if isinstance(weight_decay, Tensor):
        return grad.add(p * weight_decay)
    if weight_decay != 0:
        return grad.add(p, alpha=weight_decay)
    return grad


# ------------------------------------------------------------------ multi-tensor CUDA path helpers


def _multi_tensor_group(group: dict, capturable_ok: bool = False) -> bool:
    """Whether a group may take the multi-tensor CUDA kernel: fused=True, or the default (torch picks its
    foreach path on CUDA), with Python-number hyper-parameters and not differentiable; capturable groups
    only where the optimizer has a capturable kernel (`capturable_ok`)."""
    fused = group.get("fused")
    return (
        _cuda_optim.ENABLED
        and (bool(fused) or (fused is None and group.get("foreach") is not False))
        and (capturable_ok or not group.get("capturable", False))
        and not group.get("differentiable", False)
        and not isinstance(group["lr"], Tensor)
        and not isinstance(group["weight_decay"], Tensor)
        and not any(isinstance(b, Tensor) for b in group.get("betas", ()))
    )


def _dense32(t: Tensor | None, device) -> bool:
    """A C-contiguous float32 tensor on `device` (None passes: an absent optional state)."""
    return t is None or (t._dtype is float32 and t._device == device and t._data.flags.c_contiguous)


def _split_by_device(opt, group: dict, state_keys: tuple = (), state_ok=None, stateful: bool = True):
    """Params of `group` with a gradient: ({cuda device: [(p, state)]} for those the kernel can take, [the
    rest]). Taken: p and its grad dense float32 on one CUDA device and, when `stateful`, the state tensors
    named by state_keys too and state_ok(state, device) true; stateful=False (an optimizer that keeps no
    state, SGD without momentum) gives (p, None) pairs and leaves the state alone."""
    by_dev: dict = {}
    rest = []
    for p in group["params"]:
        g = p.grad
        if g is None:
            continue
        dev = p._device
        if (
            dev.type != "cuda"
            or getattr(g, "is_sparse", False)
            or not (_dense32(p, dev) and _dense32(g, dev))
        ):
            rest.append(p)
            continue
        if not stateful:
            by_dev.setdefault(dev, []).append((p, None))
            continue
        state = opt._state_of(p, group)
        if all(_dense32(state.get(k), dev) for k in state_keys) and (
            state_ok is None or state_ok(state, dev)
        ):
            by_dev.setdefault(dev, []).append((p, state))
        else:
            rest.append(p)
    return by_dev, rest


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def _plans(opt) -> dict:
    """The optimizer's cache of multi-tensor plans, {(id(group), device): plan}, without the plans of groups
    it no longer has (load_state_dict replaces the group dicts). Not part of the pickled state."""
    plans = opt.__dict__.setdefault("_fused_plans", {})
    live = {id(g) for g in opt.param_groups}
    for key in [k for k in plans if k[0] not in live]:
        del plans[key]
    return plans
