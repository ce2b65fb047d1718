"""The graph IR: SSA values, nodes, graphs, a printer and an evaluator.

A :class:`Graph` is a list of input :class:`Var`\\ s, a topologically ordered list of
:class:`Node`\\ s ``(primitive, inputs, static params, output var)`` and a list of output vars.
Printed, it reads like a program::

    graph(%0:f32[2,3], %1:f32[3,4]) {
      %2:f32[2,4] = matmul %0 %1
      %3:f32[] = sum[axes=(0, 1) keepdims=False] %2
      return %3
    }

Parameters and buffers are always graph inputs, never constants; constants are only what a
``full`` node builds (Python scalars, ``zeros_like`` inside VJP rules).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..dtypes import DType
from ..ops.registry import ShapedArray

if TYPE_CHECKING:
    from ..ops.registry import Primitive

_ids = itertools.count()


class Var:
    """An SSA value of a graph: a shape and dtype, and a number for printing."""

    __slots__ = ("aval", "id")

    def __init__(self, aval: ShapedArray) -> None:
        self.aval = aval
        self.id = next(_ids)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    def __repr__(self) -> str:
        return f"Var({self.aval!r})"


class Node:
    """One primitive application: ``out = prim(*inputs, **params)``."""

    __slots__ = ("inputs", "out", "params", "prim")

    def __init__(self, prim: Primitive, inputs: Sequence[Var], params: dict, out: Var) -> None:
        self.prim = prim
        self.inputs = tuple(inputs)
        self.params = params
        self.out = out


class Graph:
    """An SSA program over primitives (see the module docstring)."""

    __slots__ = ("_hash", "inputs", "nodes", "outputs")

    def __init__(self, inputs: Sequence[Var], nodes: Sequence[Node], outputs: Sequence[Var]
                 ) -> None:
        self.inputs = list(inputs)
        self.nodes = list(nodes)
        self.outputs = list(outputs)
        self._hash: int | None = None

    def __str__(self) -> str:
        return format_graph(self)

    __repr__ = __str__

    # Graphs are static parameters of control-flow primitives (cond, while), so they must hash;
    # identity is enough: each trace builds a new graph.
    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.inputs]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.outputs]


def _fmt_param(v: Any) -> str:
    if isinstance(v, Graph):
        return f"<graph {len(v.inputs)}->{len(v.outputs)}, {len(v.nodes)} nodes>"
    if isinstance(v, tuple) and any(isinstance(x, Graph) for x in v):
        return "(" + ", ".join(_fmt_param(x) for x in v) + ")"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, DType):  # the same short names as the value types (f32, i64, ...)
        return repr(ShapedArray((), v)).removesuffix("[]")
    return str(v)


def format_graph(graph: Graph) -> str:
    """The text form of ``graph``: numbered values, one line per node, with types."""
    names: dict[int, str] = {}

    def name(v: Var) -> str:
        if v.id not in names:
            names[v.id] = f"%{len(names)}"
        return names[v.id]

    args = ", ".join(f"{name(v)}:{v.aval!r}" for v in graph.inputs)
    lines = [f"graph({args}) {{"]
    for n in graph.nodes:
        params = ""
        if n.params:
            params = "[" + " ".join(f"{k}={_fmt_param(v)}" for k, v in n.params.items()) + "]"
        ins = " ".join(name(v) for v in n.inputs)
        lhs = f"{name(n.out)}:{n.out.aval!r}"
        lines.append(f"  {lhs} = {n.prim.name}{params}{' ' if ins else ''}{ins}")
    lines.append("  return " + ", ".join(name(v) for v in graph.outputs))
    lines.append("}")
    return "\n".join(lines)


def eval_graph(graph: Graph, args: Sequence[Any]) -> list[Any]:
    """Run ``graph`` on ``args`` (Tensors) by binding each node's primitive.

    The binds go to whatever interpreter is active, so evaluating a graph inside another
    transform (vmap of grad, jit of grad) transforms it too; with none active it runs eagerly on
    the NumPy reference implementations.
    """
    if len(args) != len(graph.inputs):
        raise TypeError(f"graph expects {len(graph.inputs)} inputs, got {len(args)}")
    env: dict[int, Any] = {v.id: a for v, a in zip(graph.inputs, args)}
    for n in graph.nodes:
        env[n.out.id] = n.prim.bind(*(env[v.id] for v in n.inputs), **n.params)
    return [env[v.id] for v in graph.outputs]


def dce(graph: Graph) -> Graph:
    """``graph`` without the nodes no output depends on (primitives are pure, so they can go).

    Inputs stay as they are, so the graph's signature does not change.
    """
    live = {v.id for v in graph.outputs}
    kept: list[Node] = []
    for n in reversed(graph.nodes):
        if n.out.id in live:
            kept.append(n)
            live.update(v.id for v in n.inputs)
    if len(kept) == len(graph.nodes):
        return graph
    kept.reverse()
    return Graph(graph.inputs, kept, graph.outputs)


__all__ = ["Var", "Node", "Graph", "format_graph", "eval_graph", "dce"]
