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
from ..errors import DTypeError, LucidError
from ..ops.constant import constant
from ..ops.registry import ShapedArray
from ..tensor import Tensor
from .graph import Graph, dce, eval_graph
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


def _check_wrt(graph: Graph, wrt: Sequence[int]) -> None:
    n = len(graph.inputs)
    for i in wrt:
        if not -n <= i < n:
            raise LucidError(f"backward_graph: input {i} is out of range for a graph with {n} "
                             f"inputs")
        aval = graph.inputs[i].aval
        if not differentiable(aval):
            raise DTypeError(
                f"cannot differentiate with respect to input {i % n} of type {aval!r}: only "
                f"floating-point values have gradients (integer and boolean values do not); "
                f"leave it out of wrt"
            )


def backward_graph(graph: Graph, wrt: Sequence[int] | None = None,
                   cotangents: Sequence[int] | None = None) -> Graph:
    """The joint forward+backward graph of ``graph`` with respect to inputs ``wrt``.

    Inputs: ``graph``'s inputs, then one cotangent for each output numbered in ``cotangents``
    (all outputs by default; the others get none, so no work is spent on them). Outputs:
    ``graph``'s outputs, then the cotangent of each input in ``wrt`` (all floating inputs by
    default). Only what those cotangents need is computed; an input that does not reach any
    output gets zeros. The result is an ordinary graph, so it can be differentiated again.
    """
    if wrt is None:
        wrt = [i for i, v in enumerate(graph.inputs) if differentiable(v.aval)]
    _check_wrt(graph, wrt)
    n_in = len(graph.inputs)
    wrt = [i % n_in for i in wrt]
    n_out = len(graph.outputs)
    ct_for = list(range(n_out)) if cotangents is None else [i % n_out for i in cotangents]

    def joint(*args: Tensor) -> list[Tensor]:
        cts: list[Tensor | None] = [None] * n_out
        for i, ct in zip(ct_for, args[n_in:]):
            cts[i] = ct if cts[i] is None else cts[i] + ct
        outs, grads = reverse_pass(graph, args[:n_in], cts, wrt)
        return outs + grads

    avals = graph.in_avals + [graph.outputs[i].aval for i in ct_for]
    joint_graph, lifted = trace_avals(joint, avals, name="a backward pass")
    if lifted:  # the forward graph is closed, so nothing can be captured
        raise LucidError("internal error: a backward graph captured outside tensors")
    # VJP rules of multi-input ops may build cotangents that are then not needed.
    return dce(joint_graph)


def vjp_of_graph(graph: Graph, inputs: Sequence[Tensor], cts: Sequence[Tensor | None],
                 wrt: Sequence[int]) -> tuple[list[Tensor], list[Tensor]]:
    """Evaluate the backward graph of ``graph`` on concrete or traced values: ``cts`` has one
    cotangent per output (None for none). Returns (outputs, cotangents of ``wrt``)."""
    given = [i for i, ct in enumerate(cts) if ct is not None]
    joint = backward_graph(graph, wrt, given)
    res = eval_graph(joint, list(inputs) + [cts[i] for i in given])
    n_out = len(graph.outputs)
    return res[:n_out], res[n_out:]


__all__ = ["backward_graph", "reverse_pass", "vjp_of_graph", "differentiable"]
