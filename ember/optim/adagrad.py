"""Adagrad (with learning-rate decay and an initial accumulator value)."""

from __future__ import annotations

from .. import ops as O
from .._tensor import Tensor
from .optimizer import Optimizer, _check_lr, _host_value, _hp, _l2, _maybe_neg, _step_tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """s += g^2; p -= lr/(1 + (t-1)*lr_decay) * g / (sqrt(s) + eps).

    State (created for every parameter at construction, like torch): ``step``, ``sum``."""

    _group_compat = {"foreach": None, "maximize": False, "differentiable": False, "fused": None}

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _step_tensor(p, bool(group["fused"]), bool(group["fused"]))
                state["sum"] = O.full_like(p, initial_accumulator_value)

    def share_memory(self) -> None:
        """No-op on ember (NumPy memory is not shared across processes this way)."""

    def _init_state(self, p, state, group):
        # torch reads the constructor default here, not the group's value
        state["step"] = _step_tensor(p, bool(group["fused"]), bool(group["fused"]))
        state["sum"] = O.full_like(p, self.defaults["initial_accumulator_value"])

    def _update(self, p, grad, state, group):
        step_t, state_sum = state["step"], state["sum"]
        step_t += 1
        step = _host_value(step_t)
        grad = _l2(_maybe_neg(grad, group["maximize"]), p, group["weight_decay"])
        clr = _hp(group["lr"]) / (1 + (step - 1) * group["lr_decay"])
        state_sum.addcmul_(grad, grad, value=1)
        std = (
            state_sum.sqrt() + group["eps"]
            if group["differentiable"]
            else state_sum.sqrt().add_(group["eps"])
        )
        p.addcdiv_(grad, std, value=-clr)
