"""NAdam: Adam with Nesterov momentum (momentum-decay schedule), optional decoupled weight decay."""

from __future__ import annotations

from .. import ops as O
from .._tensor import Tensor
from .adam import _check_common
from .optimizer import (
    Optimizer,
    _device_step,
    _get_scalar_dtype,
    _host_value,
    _hp,
    _l2,
    _maybe_neg,
    _step_tensor,
)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """mu_t = b1*(1 - 0.5*0.96^(t*psi)); m, v as in Adam; p -= lr*(1-mu_t)/(1-prod mu) * g/denom
    + lr*mu_{t+1}/(1-prod mu * mu_{t+1}) * m/denom with denom = sqrt(v/(1-b2^t)) + eps.

    State: ``step``, ``mu_product`` (0-d, scalar dtype), ``exp_avg``, ``exp_avg_sq``."""

    _group_compat = {
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
    }

    def __init__(
        self,
        params,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_common(lr, eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            for p in group["params"]:
                p_state = self.state.get(p)
                if p_state and "mu_product" in p_state and not isinstance(p_state["mu_product"], Tensor):
                    dev = p.device if group["capturable"] else "cpu"
                    p_state["mu_product"] = O.tensor(
                        p_state["mu_product"], dtype=_get_scalar_dtype(), device=dev
                    )

    def _init_state(self, p, state, group):
        state["step"] = _step_tensor(p, group["capturable"])
        state["mu_product"] = O.ones(
            (), dtype=_get_scalar_dtype(), device=p.device if group["capturable"] else "cpu"
        )
        state["exp_avg"] = O.zeros_like(p)
        state["exp_avg_sq"] = O.zeros_like(p)

    def _update(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        lr, wd, eps, psi = _hp(group["lr"]), group["weight_decay"], group["eps"], group["momentum_decay"]
        exp_avg, exp_avg_sq, mu_product, step_t = (
            state["exp_avg"],
            state["exp_avg_sq"],
            state["mu_product"],
            state["step"],
        )
        grad = _maybe_neg(grad, group["maximize"])
        step_t += 1
        capturable = group["capturable"] or group["differentiable"]
        step = _device_step(step_t, p) if group["capturable"] else _host_value(step_t)
        bias_correction2 = 1 - beta2**step
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = _l2(grad, p, wd)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
        if isinstance(mu, Tensor):
            mu_product.mul_(mu.to(mu_product.dtype))  # round like the host path's float32 product
        else:
            mu_product *= mu
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = exp_avg_sq.div(bias_correction2).sqrt()
        if capturable:
            denom = denom.add(eps)
            mu_prod = mu_product.to(mu.dtype) if isinstance(mu, Tensor) else mu_product
            mu_product_next = mu_prod * mu_next
            p.addcdiv_(grad * (-lr * (1.0 - mu) / (1.0 - mu_prod)), denom)
            p.addcdiv_(exp_avg * (-lr * mu_next / (1.0 - mu_product_next)), denom)
            return
        mu_prod = _host_value(mu_product)
        mu_product_next = mu_prod * mu_next
        denom.add_(eps)
        p.addcdiv_(grad, denom, value=(-lr * (1.0 - mu) / (1.0 - mu_prod)))
        p.addcdiv_(exp_avg, denom, value=(-lr * mu_next) / (1.0 - mu_product_next))
