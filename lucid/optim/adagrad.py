"""Adagrad (``torch.optim.Adagrad``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..autograd import no_grad
from .optimizer import Optimizer, _addcdiv_, _addcmul_, _new_step, _params_with_grad, _state_like

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad`` (single-tensor algorithm, dense gradients).

    Per step ``t``, with ``g`` the gradient (negated if ``maximize``)::

        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g * g
        p = p - clr * g / (sqrt(sum) + eps)

    State per parameter (created when its group is added, as torch does at construction):
    ``step`` and ``sum`` (starting at ``initial_accumulator_value``).
    """

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        if not lr >= 0.0:  # `not x >= 0` also rejects NaN
            raise ValueError(f"Invalid learning rate: {lr}")
        if not lr_decay >= 0.0:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not weight_decay >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not initial_accumulator_value >= 0.0:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}"
            )
        if not eps >= 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        # add_param_group (called by the base constructor) creates each parameter's state.
        super().__init__(params, defaults)

    def _init_state(self, p: Any, group: dict[str, Any]) -> None:
        state = self.state[p]
        state["step"] = _new_step()
        state["sum"] = _state_like(p, group["initial_accumulator_value"])

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group and create its parameters' state at once.

        The accumulator starts at the GROUP's ``initial_accumulator_value``; torch uses the
        constructor's value for every group (a per-group override is ignored there).
        """
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            if len(self.state[p]) == 0:
                self._init_state(p, group)

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (see the class docstring); returns the closure's loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
            weight_decay = group["weight_decay"]
            for p in _params_with_grad(group):
                state = self.state[p]
                state["step"].add_(1)
                step = state["step"]
                step = step.item() if step.is_concrete else step  # symbolic inside lucid.jit
                grad = -p.grad if group["maximize"] else p.grad
                if weight_decay != 0:
                    grad = grad.add(p, alpha=weight_decay)
                clr = lr / (1 + (step - 1) * lr_decay)
                state_sum = state["sum"]
                _addcmul_(state_sum, grad, grad, value=1)
                std = state_sum.sqrt().add_(eps)
                _addcdiv_(p, grad, std, value=-clr)
        return loss
