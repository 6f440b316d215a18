"""ASGD: averaged stochastic gradient descent."""

from __future__ import annotations

from .. import ops as O
from .._dtype import get_default_dtype
from .._tensor import Tensor
from .optimizer import Optimizer, _check_lr, _get_scalar_dtype, _host_value, _hp, _l2, _maybe_neg, _to_scalar

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """p = p*(1 - lambd*eta) - eta*g; ax = p if mu == 1 else ax + mu*(p - ax);
    eta = lr/(1 + lambd*lr*t)^alpha; mu = 1/max(1, t - t0). State: ``step``, ``eta``, ``mu``, ``ax``."""

    _group_compat = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        _check_lr(lr)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _init_state(self, p, state, group):
        dt = _get_scalar_dtype()
        state["step"] = O.zeros((), dtype=dt, device=p.device)
        state["eta"] = O.tensor(_hp(_to_scalar(group["lr"])), dtype=dt, device=p.device)
        state["mu"] = O.ones((), dtype=dt, device=p.device)
        state["ax"] = O.zeros_like(p)

    def _update(self, p, grad, state, group):
        lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
        lr = _hp(group["lr"])
        mu, ax, eta, step_t = state["mu"], state["ax"], state["eta"], state["step"]
        grad = _maybe_neg(grad, group["maximize"])
        step_t += 1
        grad = _l2(grad, p, group["weight_decay"])
        # like torch, the scalar state lives on the param's device: read it only when that is the host
        if group["capturable"] or eta.device.type != "cpu":
            e = eta if group["capturable"] else eta.to(p.dtype)  # torch's host path uses eta as a Python float
            p.mul_(1 - lambd * e)
            p.addcmul_(grad, e, value=-1)
            ax.copy_(O.where(mu == 1, p, ax + p.sub(ax).mul_(mu)))  # exactly p while mu is 1, as torch
            st = step_t if group["capturable"] else step_t.double()  # torch's host path: Python floats
            new_eta = lr / ((1 + lambd * lr * st) ** alpha)
            new_mu = 1 / O.maximum(st - t0, O.ones_like(st))
            if not group["capturable"]:  # torch's host path rounds through a default-dtype tensor
                new_eta, new_mu = new_eta.to(get_default_dtype()), new_mu.to(get_default_dtype())
            eta.copy_(new_eta)
            mu.copy_(new_mu)
            return
        eta_value = _host_value(eta)
        p.mul_(1 - lambd * eta_value)
        p.add_(grad, alpha=-eta_value)
        if _host_value(mu) != 1:
            ax.add_(p.sub(ax).mul_(mu))
        else:
            ax.copy_(p)
        step = _host_value(step_t)
        # as torch: the new values pass through a default-dtype tensor before landing in the state
        eta.copy_(O.tensor(lr / ((1 + lambd * lr * step) ** alpha)))
        mu.copy_(O.tensor(1 / max(1, step - t0)))
