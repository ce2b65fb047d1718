"""RMSprop (``torch.optim.RMSprop``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..autograd import no_grad
from .optimizer import (
    Optimizer,
    _addcdiv_,
    _addcmul_,
    _lerp_,
    _new_step,
    _params_with_grad,
    _state_like,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop`` (single-tensor algorithm).

    Per step, with ``g`` the gradient (negated if ``maximize``)::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - g_avg**2) + eps, with g_avg = alpha * g_avg + (1 - alpha) * g  (centered)
        avg = sqrt(v) + eps                                                            (else)
        buf = momentum * buf + g / avg;  p = p - lr * buf   (momentum > 0)
        p = p - lr * g / avg                                 (else)

    State per parameter: ``step``, ``square_avg``, and ``momentum_buffer`` / ``grad_avg`` when
    momentum / centered are on.
    """

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        if not lr >= 0.0:  # `not x >= 0` also rejects NaN
            raise ValueError(f"Invalid learning rate: {lr}")
        if not eps >= 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not momentum >= 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not weight_decay >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not alpha >= 0.0:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (see the class docstring); returns the closure's loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, momentum = group["weight_decay"], group["momentum"]
            for p in _params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _new_step()
                    state["square_avg"] = _state_like(p)
                    if momentum > 0:
                        state["momentum_buffer"] = _state_like(p)
                    if group["centered"]:
                        state["grad_avg"] = _state_like(p)
                grad = -p.grad if group["maximize"] else p.grad
                square_avg = state["square_avg"]
                state["step"].add_(1)

                if weight_decay != 0:
                    grad = grad.add(p, alpha=weight_decay)
                _addcmul_(square_avg.mul_(alpha), grad, grad, value=1 - alpha)

                if group["centered"]:
                    grad_avg = state["grad_avg"]
                    _lerp_(grad_avg, grad, 1 - alpha)
                    # torch's square_avg.addcmul(grad_avg, grad_avg, value=-1); negation is exact.
                    avg = square_avg.sub(grad_avg * grad_avg).sqrt_()
                else:
                    avg = square_avg.sqrt()
                avg = avg.add_(eps)

                if momentum > 0:
                    buf = state["momentum_buffer"]
                    _addcdiv_(buf.mul_(momentum), grad, avg)
                    p.add_(buf, alpha=-lr)
                else:
                    _addcdiv_(p, grad, avg, value=-lr)
        return loss
