"""Eager reverse-mode autodiff: grad mode, the tape, ``backward`` and ``grad``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import AutogradError
from .engine import run_backward
from .graph import Node, VersionCounter
from .mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

if TYPE_CHECKING:
    from ..tensor import Tensor


def _seed_grads(outputs: Sequence[Tensor], grad_outputs: Sequence[Tensor | None] | None,
                op: str) -> list[Tensor]:
    from ..creation import ones_like

    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise AutogradError(f"{op}: got {len(grad_outputs)} gradients for {len(outputs)} outputs")
    seeds = []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise AutogradError(
                f"{op}: element of the outputs does not require grad and does not have a "
                f"grad_fn; did you compute it under no_grad(), or from tensors that do not "
                f"require grad?"
            )
        if g is None:
            # Non-scalar outputs are seeded with ones (the gradient of out.sum()), which the
            # seed documents rely on; PyTorch would ask for an explicit gradient here.
            g = ones_like(out)
        elif tuple(g.shape) != tuple(out.shape):
            raise AutogradError(
                f"{op}: gradient of shape {list(g.shape)} does not match the output's shape "
                f"{list(out.shape)}"
            )
        seeds.append(g)
    return seeds


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Sequence[Tensor] | None = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Sequence[Tensor] | None = None) -> None:
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad`` (``Tensor.backward``)."""
    from ..tensor import Tensor

    outs = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors]
    seeds = _seed_grads(outs, grad_tensors, "backward")
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    run_backward(outs, seeds, retain_graph=create_graph if retain_graph is None else retain_graph,
                 create_graph=create_graph, inputs=inputs, accumulate=True)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Sequence[Tensor] | None = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` is untouched).

    ``create_graph=True`` records the computation so the result can be differentiated again.
    An input the outputs do not depend on raises unless ``allow_unused`` (then it gets None).
    """
    from ..tensor import Tensor

    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for t in ins:
        if not t.requires_grad:
            raise AutogradError("grad: one of the inputs does not require grad")
    seeds = _seed_grads(outs, grad_outputs, "grad")
    res = run_backward(outs, seeds, retain_graph=create_graph if retain_graph is None
                       else retain_graph, create_graph=create_graph, inputs=ins,
                       accumulate=False)
    assert res is not None
    if not allow_unused:
        for i, r in enumerate(res):
            if r is None:
                raise AutogradError(
                    f"grad: input {i} was not used in the graph of the outputs; pass "
                    f"allow_unused=True to get None for it"
                )
    return tuple(res)


__all__ = [
    "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "Node", "VersionCounter",
]
