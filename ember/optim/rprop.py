"""Rprop: resilient backpropagation (per-element step sizes adapted from gradient sign changes)."""

from __future__ import annotations

from .. import ops as O
from .._tensor import Tensor
from .optimizer import Optimizer, _check_lr, _step_tensor, _to_scalar

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """s = clamp(s * (etaplus | etaminus | 1 by sign(g * g_prev)), step_sizes); g = 0 where the sign flipped;
    p -= sign(g) * s. State: ``step``, ``prev``, ``step_size`` (initialised to lr)."""

    _group_compat = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = {
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _init_state(self, p, state, group):
        state["step"] = _step_tensor(p, group["capturable"])
        state["prev"] = O.zeros_like(p)
        state["step_size"] = O.full_like(p.grad, _to_scalar(group["lr"]))

    def _update(self, p, grad, state, group):
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        prev, step_size = state["prev"], state["step_size"]
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        sign = grad.mul(prev.clone() if group["differentiable"] else prev).sign()
        # masked writes as selects: no data-dependent indexing, no host reads
        sign.copy_(O.where(sign.gt(0), etaplus, sign))
        sign.copy_(O.where(sign.lt(0), etaminus, sign))
        sign.copy_(O.where(sign.eq(0), 1, sign))
        step_size.mul_(sign).clamp_(step_size_min, step_size_max)
        grad = grad.clone()
        grad.copy_(O.where(sign.eq(etaminus), 0, grad))
        p.addcmul_(grad.sign(), step_size, value=-1)
        prev.copy_(grad)
