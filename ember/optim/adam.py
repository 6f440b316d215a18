"""Adam (with AMSGrad, L2 or decoupled weight decay, maximize)."""

from __future__ import annotations

import numpy as np

from .. import _dtype as D
from .. import ops as O
from .._tensor import Tensor
from ..backend import cuda_graph, cuda_optim, get_backend
from .optimizer import (
    Optimizer,
    _check_lr,
    _dense32,
    _device_step,
    _host_value,
    _hp,
    _l2,
    _maybe_neg,
    _multi_tensor_group,
    _plans,
    _same,
    _split_by_device,
    _step_tensor,
    _to_scalar,
)

__all__ = ["Adam"]


def _check_betas(betas) -> None:
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")


def _check_common(lr, eps, betas, weight_decay) -> None:
    _check_lr(lr)
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    _check_betas(betas)
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


_FAST_DTYPES = (D.float32, D.float64)


def _adam_arrays(p: Tensor, grad: Tensor, state: dict, group: dict, step: float, beta1: float, beta2: float):
    """The Adam/AdamW update on the backend arrays, in place, with torch's formulas and rounding order.

    NOTE: this is the fast path (no graph, no dispatch per elementwise op: ~2-4x faster for small models);
    the Tensor-op path below stays for capturable/differentiable/half-precision and as the reference."""
    lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
    pd, g = p._data, grad._data
    m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
    if group["maximize"]:
        g = -g
    if wd != 0:
        if group["decoupled_weight_decay"]:
            pd *= 1 - lr * wd
        else:
            g = g + wd * pd
    xp = get_backend(p.device).xp
    w = 1 - beta1  # exp_avg.lerp_(g, w) with torch's two-sided formula
    d = xp.subtract(g, m)  # the one scratch buffer, reused below
    if abs(w) < 0.5:
        d *= w
        m += d
    else:
        d *= 1 - w
        xp.subtract(g, d, out=m)
    xp.multiply(g, g, out=d)  # exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
    d *= 1 - beta2
    v *= beta2
    v += d
    second = v
    if group["amsgrad"]:
        mx = state["max_exp_avg_sq"]._data
        xp.maximum(mx, v, out=mx)
        second = mx
        state["max_exp_avg_sq"]._bump_version()
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    xp.sqrt(second, out=d)  # denom = sqrt(v) / sqrt(bc2) + eps
    d /= bias_correction2**0.5
    d += eps
    xp.divide(m, d, out=d)  # p.addcdiv_(m, denom, value=-lr / bc1)
    d *= -(lr / bias_correction1)
    pd += d
    p._bump_version()
    state["exp_avg"]._bump_version()
    state["exp_avg_sq"]._bump_version()


def _zeros_like(p: Tensor) -> Tensor:
    return O.zeros_like(p)


class _AdamPlan:
    """The cached pointer table of one (group, device) and the host mirror of its device step counters."""

    __slots__ = ("objs", "table", "mirror")

    def __init__(self, objs: list, table, mirror: list) -> None:
        self.objs = objs  # the arrays / step tensors the table points at, compared by identity each step
        self.table = table
        self.mirror = mirror  # per tensor: [step tensor, its version after our write, its value] or None


def _step_ok(state: dict, dev) -> bool:
    """The step counter is a 0-d host tensor, or a float32 one on the param's device (fused=True)."""
    s = state.get("step")
    return isinstance(s, Tensor) and s.dim() == 0 and (s._device.type == "cpu" or _dense32(s, dev))


class Adam(Optimizer):
    """m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; p -= lr/(1-b1^t) * m / (sqrt(v/(1-b2^t)) + eps).

    State: ``step`` (0-d float), ``exp_avg``, ``exp_avg_sq`` and ``max_exp_avg_sq`` (amsgrad)."""

    _group_compat = {
        "amsgrad": False,
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
        "fused": None,
    }

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        if isinstance(lr, Tensor):
            if foreach and not capturable:
                raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
        _check_common(lr, eps, betas, weight_decay)
        if not (
            (isinstance(betas[0], float) and isinstance(betas[1], float))
            or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))
        ):
            raise ValueError("betas must be either both floats or both Tensors")
        for i in (0, 1):
            if isinstance(betas[i], Tensor):
                if not capturable and foreach:
                    raise ValueError(
                        f"betas[{i}] as a Tensor is not supported for capturable=False and foreach=True"
                    )
                if betas[i].numel() != 1:
                    raise ValueError(f"Tensor betas[{i}] must be 1-element")
        betas = tuple(map(_to_scalar, betas))
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def _init_state(self, p, state, group):
        state["step"] = _step_tensor(p, bool(group["capturable"] or group["fused"]), bool(group["fused"]))
        state["exp_avg"] = _zeros_like(p)
        state["exp_avg_sq"] = _zeros_like(p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _zeros_like(p)

    def _step_group(self, group):
        if not _multi_tensor_group(group, capturable_ok=True):
            return super()._step_group(group)
        keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if group["amsgrad"] else ("exp_avg", "exp_avg_sq")
        by_dev, rest = _split_by_device(
            self, group, keys, _device_step_ok if group["capturable"] else _step_ok
        )
        for p in rest:
            self._step_param(p, group)
        for dev, items in by_dev.items():
            if group["capturable"]:
                self._capturable_adam(group, dev, items)
            else:
                self._fused_adam(group, dev, items)

    def _capturable_adam(self, group, dev, items) -> None:
        """capturable=True: the multi-tensor kernel with bias corrections from the device step counters, so
        a step reads nothing from the host and can be captured in a CUDA graph. A plan (pointer table)
        built during a capture holds data that only a replay copies in, so it serves that call alone."""
        amsgrad = group["amsgrad"]
        objs = _plan_objs(items, amsgrad)
        pkey = (id(group), dev, "capturable")
        plan = self.__dict__.get("_fused_plans", {}).get(pkey)
        if plan is None or not _same(plan.objs, objs):
            plan = _build_adam_plan(items, objs, amsgrad, read_steps=False)
            if not cuda_graph.CAPTURING[0]:
                _plans(self)[pkey] = plan
        beta1, beta2 = _hp(group["betas"][0]), _hp(group["betas"][1])
        wd = group["weight_decay"]
        cuda_optim.adam_step_capturable(
            plan.table,
            [p.grad._data for p, _ in items],
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=wd,
            lr=group["lr"],
            flags=_adam_flags(group, wd),
        )
        _bump_updated(items, amsgrad)
        for _, st in items:
            st["step"]._bump_version()

    def _fused_adam(self, group, dev, items) -> None:
        """One multi-tensor kernel launch for the (param, state) pairs of `group` on CUDA device `dev`."""
        amsgrad = group["amsgrad"]
        objs = _plan_objs(items, amsgrad)
        # per tensor: the new host count, or None for a device counter (mirror below)
        host_steps = [_bump_host_step(s) if s._device.type == "cpu" else None for s in objs[4::5]]
        pkey = (id(group), dev)
        plan = self.__dict__.get("_fused_plans", {}).get(pkey)
        if plan is None or not _same(plan.objs, objs):
            plan = _plans(self)[pkey] = _build_adam_plan(items, objs, amsgrad)
        steps = np.empty(len(items), dtype=np.float64)
        for i, (hs, mir) in enumerate(zip(host_steps, plan.mirror)):
            if hs is not None:
                steps[i] = hs
                continue
            s = mir[0]
            if s._version != mir[1]:  # written by someone else since: read it once
                mir[2] = s.item()
            steps[i] = mir[2] = mir[2] + 1
        beta1, beta2 = _hp(group["betas"][0]), _hp(group["betas"][1])
        lr, wd = group["lr"], group["weight_decay"]
        step_size = lr / (1 - beta1**steps)
        bc2_sqrt = np.sqrt(1 - beta2**steps)
        flags = _adam_flags(group, wd)
        cuda_optim.adam_step(
            plan.table,
            [p.grad._data for p, _ in items],
            step_size,
            bc2_sqrt,
            steps,
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=wd,
            lr=lr,
            flags=flags,
        )
        _bump_updated(items, amsgrad)
        for mir in plan.mirror:
            if mir is not None:
                s = mir[0]
                s._bump_version()
                mir[1] = s._version

    def _update(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        exp_avg, exp_avg_sq, step_t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        if (
            not (group["capturable"] or group["differentiable"])
            and not isinstance(lr, Tensor)
            and p.dtype in _FAST_DTYPES
            and not isinstance(wd, Tensor)
        ):
            step_t += 1
            _adam_arrays(p, grad, state, group, _host_value(step_t), _hp(beta1), _hp(beta2))
            return
        grad = _maybe_neg(grad, group["maximize"])
        step_t += 1
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = _l2(grad, p, wd)
        exp_avg.lerp_(grad, 1 - _hp(beta1))
        exp_avg_sq.mul_(_hp(beta2)).addcmul_(grad, grad, value=1 - _hp(beta2))
        if group["amsgrad"]:
            max_sq = state["max_exp_avg_sq"]
            if group["differentiable"]:
                max_sq.copy_(O.maximum(max_sq.clone(), exp_avg_sq))
            else:
                O.maximum(max_sq, exp_avg_sq, out=max_sq)
            second = max_sq
        else:
            second = exp_avg_sq

        if group["capturable"] or group["differentiable"]:
            # tensor path: the step count is never read on the host
            step = _device_step(step_t, p) if group["capturable"] else step_t
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            step_size_neg = (lr / bias_correction1).neg()
            denom = (second.sqrt() / (bias_correction2.sqrt() * step_size_neg)).add_(eps / step_size_neg)
            p.addcdiv_(exp_avg.clone() if group["differentiable"] else exp_avg, denom)
            return
        step = _host_value(step_t)
        beta1, beta2 = _hp(beta1), _hp(beta2)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1  # a 0-d tensor when lr is one, as in torch
        denom = (second.sqrt() / bias_correction2**0.5).add_(eps)
        p.addcdiv_(exp_avg, denom, value=-_hp(step_size))


def _bump_host_step(s: Tensor) -> float:
    """step += 1 on a host-resident counter; returns the new value (a host read, no device involved)."""
    d = s._data
    if isinstance(d, np.ndarray) and d.flags.writeable:
        d += 1
        s._bump_version()
    else:
        s += 1
    return float(s._data)


def _plan_objs(items: list, amsgrad: bool) -> list:
    """What a plan's table points at, five per tensor (param, exp_avg, exp_avg_sq and max_exp_avg_sq arrays,
    the step tensor), compared by identity at each step to reuse the plan."""
    objs = []
    for p, st in items:
        mx = st["max_exp_avg_sq"]._data if amsgrad else None
        objs += (p._data, st["exp_avg"]._data, st["exp_avg_sq"]._data, mx, st["step"])
    return objs


def _bump_updated(items: list, amsgrad: bool) -> None:
    """The version counters of what a multi-tensor step wrote: each param and its moments."""
    for p, st in items:
        p._bump_version()
        st["exp_avg"]._bump_version()
        st["exp_avg_sq"]._bump_version()
        if amsgrad:
            st["max_exp_avg_sq"]._bump_version()


def _adam_flags(group: dict, wd) -> int:
    return (
        (cuda_optim.ADAMW if group["decoupled_weight_decay"] else 0)
        | (cuda_optim.AMSGRAD if group["amsgrad"] else 0)
        | (cuda_optim.MAXIMIZE if group["maximize"] else 0)
        | (cuda_optim.WEIGHT_DECAY if wd != 0 else 0)
    )


def _device_step_ok(state: dict, dev) -> bool:
    """capturable=True: the step counter is a float32 0-d tensor on the param's device."""
    s = state.get("step")
    return isinstance(s, Tensor) and s.dim() == 0 and _dense32(s, dev)


def _build_adam_plan(items: list, objs: list, amsgrad: bool, read_steps: bool = True) -> _AdamPlan:
    """The static table (param, exp_avg, exp_avg_sq, max_exp_avg_sq, device step pointers) and the mirror
    of the device step counters: read once here (one small copy each), then kept on the host. The capturable
    step keeps no mirror (read_steps=False): its kernel reads the counters on the device."""
    mirror, step_ptrs = [], []
    for _, st in items:
        s = st["step"]
        if s._device.type == "cpu":
            mirror.append(None)
            step_ptrs.append(0)
        else:
            mirror.append([s, s._version, 0.0])
            step_ptrs.append(s._data.data.ptr)
    on_dev = [m for m in mirror if m is not None]
    # one device read for all counters (plans are rebuilt only when pointers change)
    if on_dev and read_steps:
        xp = get_backend(on_dev[0][0]._device).xp
        values = xp.stack([m[0]._data.reshape(1) for m in on_dev]).get().reshape(-1)
        for m, v in zip(on_dev, values):
            m[2] = float(v)
    columns = [
        [p._data for p, _ in items],
        [st["exp_avg"]._data for _, st in items],
        [st["exp_avg_sq"]._data for _, st in items],
        [st["max_exp_avg_sq"]._data if amsgrad else None for _, st in items],
    ]
    return _AdamPlan(objs, cuda_optim.MultiTensorTable(columns, [step_ptrs]), mirror)
