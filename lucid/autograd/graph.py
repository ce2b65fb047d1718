"""The eager autograd tape: one :class:`Node` per differentiable op that ran with grad on.

A node remembers what its primitive's VJP rule needs: the input tensors (with the version each
had when the op ran, so a later in-place write is caught instead of silently giving a wrong
gradient), the output's data when the primitive declares ``saves_output``, and one *edge* per
input saying where that input's cotangent goes: the producing node, a leaf tensor (whose
``.grad`` accumulates it), or ``None`` (no gradient needed).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..ops.registry import Primitive
    from ..tensor import Tensor


class VersionCounter:
    """Counts in-place writes to one storage; shared by a tensor, its views and detached copies."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Node:
    """A recorded application of a primitive, waiting for its cotangent."""

    __slots__ = (
        "__weakref__",
        "edges",
        "freed",
        "inputs",
        "out_data",
        "out_device",
        "out_vc",
        "out_version",
        "params",
        "prim",
        "retained",
        "versions",
    )

    def __init__(self, prim: Primitive, params: dict, inputs: Sequence[Tensor],
                 edges: tuple[Any, ...], out: Tensor) -> None:
        self.prim = prim
        self.params = params
        self.inputs = tuple(inputs)
        self.versions = tuple([t._vc.value for t in inputs])
        self.edges = edges
        self.out_device = out._device
        if prim.saves_output:
            self.out_data = out._data
            self.out_vc = out._vc
            self.out_version = out._vc.value
        else:
            self.out_data = None
            self.out_vc = None
            self.out_version = 0
        self.retained: weakref.ref | None = None  # a non-leaf tensor that asked retain_grad()
        self.freed = False

    def name(self) -> str:
        """PyTorch-style name, e.g. ``MulBackward``."""
        return _camel(self.prim.name) + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    @property
    def next_functions(self) -> tuple[Any, ...]:
        """Where this node's input cotangents go (nodes, leaf tensors or None), like PyTorch."""
        return self.edges


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in re.split(r"[_\W]+", name) if p)


def record(prim: Primitive, inputs: Sequence[Tensor], params: dict, out: Tensor) -> None:
    """Attach a tape node to ``out``, the result of ``prim`` applied to ``inputs``."""
    edges = tuple([
        (t.grad_fn if t.grad_fn is not None else t) if t._requires_grad else None for t in inputs
    ])  # a list comprehension: cheaper than a generator here, and this runs for every op
    out.grad_fn = Node(prim, params, inputs, edges, out)
    out._requires_grad = True


__all__ = ["Node", "VersionCounter", "record"]
