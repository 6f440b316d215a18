"""RAdam: Adam with a variance-rectified adaptive learning rate."""

from __future__ import annotations

from .. import ops as O
from .._tensor import Tensor
from .adam import _check_common
from .optimizer import Optimizer, _device_step, _host_value, _hp, _l2, _maybe_neg, _step_tensor

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """rho_t = rho_inf - 2t*b2^t/(1-b2^t); if rho_t > 5: p -= lr * m_hat * r_t * sqrt(1-b2^t)/(sqrt(v)+eps)
    else p -= lr * m_hat, with r_t the variance rectification term.

    State: ``step``, ``exp_avg``, ``exp_avg_sq``."""

    _group_compat = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
        "capturable": False,
    }

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_common(lr, eps, betas, weight_decay)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _init_state(self, p, state, group):
        state["step"] = _step_tensor(p, group["capturable"])
        state["exp_avg"] = O.zeros_like(p)
        state["exp_avg_sq"] = O.zeros_like(p)

    def _update(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        lr, wd, eps = _hp(group["lr"]), group["weight_decay"], group["eps"]
        exp_avg, exp_avg_sq, step_t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        grad = _maybe_neg(grad, group["maximize"])
        step_t += 1
        capturable = group["capturable"]
        step = _device_step(step_t, p) if capturable else _host_value(step_t)
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = _l2(grad, p, wd)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        bias_corrected_exp_avg = exp_avg / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2

        def rect():
            return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5

        def adaptive_lr():
            root = exp_avg_sq.sqrt()
            return (bias_correction2**0.5) / (root.add(eps) if group["differentiable"] else root.add_(eps))

        if capturable:
            # rho_t is a tensor: select without reading it on the host (rect() may be NaN where unused)
            update = O.where(rho_t > 5.0, rect() * adaptive_lr(), 1.0)
            p.add_(bias_corrected_exp_avg * lr * update, alpha=-1.0)
        elif rho_t > 5.0:
            p.add_(bias_corrected_exp_avg * lr * adaptive_lr() * rect(), alpha=-1.0)
        else:
            p.add_(bias_corrected_exp_avg * lr, alpha=-1.0)
