"""Adamax: Adam with the infinity norm of past gradients."""

from __future__ import annotations

from .. import ops as O
from .._tensor import Tensor
from .adam import _check_common
from .optimizer import Optimizer, _device_step, _host_value, _hp, _l2, _maybe_neg, _step_tensor

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """m = b1*m + (1-b1)*g; u = max(b2*u, |g| + eps); p -= lr/(1-b1^t) * m/u.

    State: ``step``, ``exp_avg``, ``exp_inf``."""

    _group_compat = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def __init__(
        self,
        params,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        _check_common(lr, eps, betas, weight_decay)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _init_state(self, p, state, group):
        state["step"] = _step_tensor(p, group["capturable"])
        state["exp_avg"] = O.zeros_like(p)
        state["exp_inf"] = O.zeros_like(p)

    def _update(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        exp_avg, exp_inf, step_t = state["exp_avg"], state["exp_inf"], state["step"]
        grad = _maybe_neg(grad, group["maximize"])
        step_t += 1
        grad = _l2(grad, p, group["weight_decay"])
        exp_avg.lerp_(grad, 1 - beta1)
        if group["differentiable"]:
            # stack + amax keep autograd's saved tensors intact across the in-place copy
            norm_buf = O.stack([exp_inf.mul_(beta2), grad.abs().add_(group["eps"])], 0)
            exp_inf.copy_(O.amax(norm_buf, 0))
        else:
            O.maximum(exp_inf.mul_(beta2), grad.abs().add_(group["eps"]), out=exp_inf)
        if group["capturable"]:
            neg_bias_correction = beta1 ** _device_step(step_t, p) - 1
            neg_bias_correction.div_(group["lr"])
            p.addcdiv_(exp_avg, exp_inf * neg_bias_correction)
            return
        clr = _hp(group["lr"]) / (1 - beta1 ** _host_value(step_t))
        p.addcdiv_(exp_avg, exp_inf, value=-clr)
