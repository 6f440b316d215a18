"""SGD: stochastic gradient descent with optional (Nesterov) momentum, dampening and weight decay."""

from __future__ import annotations

import numpy as np

from .. import ops as O
from .._tensor import Tensor
from ..backend import cuda_optim
from .optimizer import (
    Optimizer,
    _hp,
    _l2,
    _maybe_neg,
    _multi_tensor_group,
    _plans,
    _same,
    _split_by_device,
)

__all__ = ["SGD"]


class SGD(Optimizer):
    """g = grad + wd*p; b = mu*b + (1-dampening)*g (b = g at the first step); g = g + mu*b if nesterov
    else b; p -= lr*g. State: ``momentum_buffer`` (only when momentum != 0)."""

    _group_compat = {
        "nesterov": False,
        "maximize": False,
        "foreach": None,
        "differentiable": False,
        "fused": False,
    }

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float | Tensor = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def _step_group(self, group):
        if not _multi_tensor_group(group):
            return super()._step_group(group)
        momentum = group["momentum"]
        keys = ("momentum_buffer",) if momentum != 0 else ()
        by_dev, rest = _split_by_device(self, group, keys, stateful=momentum != 0)
        for p in rest:
            self._step_param(p, group)
        for dev, items in by_dev.items():
            self._fused_sgd(group, dev, items)

    def _fused_sgd(self, group, dev, items) -> None:
        """One multi-tensor kernel launch for the (param, state) pairs of `group` on CUDA device `dev`;
        a missing momentum buffer is allocated here and takes the gradient in the kernel (torch's clone)."""
        momentum = group["momentum"]
        first = np.zeros(len(items), dtype=np.int64)
        if momentum != 0:
            for i, (p, st) in enumerate(items):
                if st.get("momentum_buffer") is None:
                    st["momentum_buffer"] = O.empty_like(p)
                    first[i] = 1
        bufs = [st["momentum_buffer"] for _, st in items] if momentum != 0 else None
        objs = [p._data for p, _ in items] + ([b._data for b in bufs] if bufs else [])
        pkey = (id(group), dev)
        plan = self.__dict__.get("_fused_plans", {}).get(pkey)
        if plan is None or not _same(plan[0], objs):
            columns = [[p._data for p, _ in items], [b._data for b in bufs] if bufs else [None] * len(items)]
            plan = _plans(self)[pkey] = (objs, cuda_optim.MultiTensorTable(columns))
        wd = group["weight_decay"]
        flags = (
            (cuda_optim.MAXIMIZE if group["maximize"] else 0)
            | (cuda_optim.WEIGHT_DECAY if wd != 0 else 0)
            | (cuda_optim.NESTEROV if group["nesterov"] else 0)
        )
        cuda_optim.sgd_step(
            plan[1],
            [p.grad._data for p, _ in items],
            first,
            lr=group["lr"],
            momentum=momentum,
            dampening=group["dampening"],
            weight_decay=wd,
            flags=flags,
        )
        for p, _ in items:
            p._bump_version()
        if bufs:
            for b in bufs:
                b._bump_version()

    def _update(self, p, grad, state, group):
        grad = _l2(_maybe_neg(grad, group["maximize"]), p, group["weight_decay"])
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = grad.detach().clone()
                state["momentum_buffer"] = buf
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - group["dampening"])
            grad = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
        p.add_(grad, alpha=-_hp(group["lr"]))
