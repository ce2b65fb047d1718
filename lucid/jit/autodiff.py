"""Reverse mode on graphs: derive the backward graph of a graph from the primitives' VJP rules.

:func:`backward_graph` builds a *joint* graph ``(inputs..., output cotangents...) ->
(outputs..., input cotangents...)``: it replays the forward nodes (the VJP rules need their
values), then walks them in reverse, calling each primitive's VJP rule on tracers. Because the
rules are lucid ops, the result is an ordinary graph: printable, transformable, and
differentiable again. Only cotangents that lead to a requested input are computed; fan-out
accumulates; an unused input gets zeros; integer and boolean inputs get no gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..dtypes import FLOAT
from ..errors import LucidError
from ..ops.constant import constant
from ..ops.registry import ShapedArray
from ..tensor import Tensor
from .graph import Graph, eval_graph
from .trace import trace_avals


def differentiable(aval: ShapedArray) -> bool:
    """Only floating values carry gradients."""
    return aval.dtype.category == FLOAT


def reverse_pass(graph: Graph, inputs: Sequence[Tensor], cts: Sequence[Tensor | None],
                 wrt: Sequence[int]) -> tuple[list[Tensor], list[Tensor]]:
    """Evaluate ``graph`` on ``inputs`` and pull ``cts`` (one per output, None for none) back
    to the inputs numbered ``wrt``. Returns (outputs, cotangents of ``wrt``)."""
    env: dict[int, Any] = {v.id: x for v, x in zip(graph.inputs, inputs)}
    for n in graph.nodes:
        env[n.out.id] = n.prim.bind(*(env[v.id] for v in n.inputs), **n.params)
    outputs = [env[v.id] for v in graph.outputs]

    # Forward "activity": a value needs a cotangent when it depends on a requested input.
    active: set[int] = {graph.inputs[i].id for i in wrt if differentiable(graph.inputs[i].aval)}
    for n in graph.nodes:
        if n.prim.vjp is not None and differentiable(n.out.aval) and any(
            v.id in active for v in n.inputs
        ):
            active.add(n.out.id)

    ct_env: dict[int, Tensor] = {}
    for v, ct in zip(graph.outputs, cts):
        if ct is not None and v.id in active:
            ct_env[v.id] = ct if v.id not in ct_env else ct_env[v.id] + ct
    for n in reversed(graph.nodes):
        g = ct_env.pop(n.out.id, None)
        if g is None:
            continue
        needs = [v.id in active for v in n.inputs]
        out = env[n.out.id] if n.prim.saves_output else None
        results = n.prim.vjp_rules(len(n.inputs))(
            g, out, [env[v.id] for v in n.inputs], needs, n.params
        )
        for v, ct, need in zip(n.inputs, results, needs):
            if need and ct is not None:
                ct_env[v.id] = ct if v.id not in ct_env else ct_env[v.id] + ct

    grads = []
    for i in wrt:
        v = graph.inputs[i]
        g = ct_env.get(v.id)
        if g is None:
            g = constant(0, v.aval.shape, v.aval.dtype)
        grads.append(g)
    return outputs, grads


def backward_graph(graph: Graph, wrt: Sequence[int] | None = None) -> Graph:
    """The joint forward+backward graph of ``graph`` with respect to inputs ``wrt``.

    Inputs: ``graph``'s inputs, then one cotangent per output. Outputs: ``graph``'s outputs,
    then the cotangent of each input in ``wrt`` (all floating inputs by default).
    """
    if wrt is None:
        wrt = [i for i, v in enumerate(graph.inputs) if differentiable(v.aval)]
    for i in wrt:
        aval = graph.inputs[i].aval
        if not differentiable(aval):
            raise LucidError(
                f"cannot differentiate with respect to input {i} of type {aval!r}: integer and "
                f"boolean values have no gradient"
            )
    n_in = len(graph.inputs)

    def joint(*args: Tensor) -> list[Tensor]:
        outs, grads = reverse_pass(graph, args[:n_in], args[n_in:], wrt)
        return outs + grads

    avals = graph.in_avals + graph.out_avals
    joint_graph, lifted = trace_avals(joint, avals, name="a backward pass")
    if lifted:  # the forward graph is closed, so nothing can be captured
        raise LucidError("internal error: a backward graph captured outside tensors")
    return joint_graph


def vjp_of_graph(graph: Graph, inputs: Sequence[Tensor], cts: Sequence[Tensor | None],
                 wrt: Sequence[int]) -> tuple[list[Tensor], list[Tensor]]:
    """Evaluate the backward graph (built once) on concrete or traced values."""
    joint = backward_graph(graph, wrt)
    full_cts = [
        ct if ct is not None else constant(0, v.aval.shape, v.aval.dtype)
        for v, ct in zip(graph.outputs, cts)
    ]
    res = eval_graph(joint, list(inputs) + full_cts)
    n_out = len(graph.outputs)
    return res[:n_out], res[n_out:]


__all__ = ["backward_graph", "reverse_pass", "vjp_of_graph", "differentiable"]
