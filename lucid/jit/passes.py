"""Graph passes: dead-code elimination, common-subexpression elimination, constant folding,
algebraic simplification, and elementwise fusion grouping.

Every pass takes a :class:`Graph` and returns a new one (graphs are never mutated), except
:func:`fusion_groups`, which returns how the lowering should group nodes into kernels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ops.constant import EFFECTFUL
from ..ops.registry import PRIMITIVES, Elementwise, ShapedArray
from .graph import Graph, Node, Var

# ----------------------------------------------------------------------------- helpers


def _rename(graph: Graph, mapping: dict[int, Var], nodes: list[Node]) -> Graph:
    """A graph with node inputs and outputs redirected through ``mapping`` (var id -> var)."""

    def sub(v: Var) -> Var:
        while v.id in mapping:
            v = mapping[v.id]
        return v

    new_nodes = [Node(n.prim, [sub(v) for v in n.inputs], n.params, n.out) for n in nodes]
    return Graph(graph.inputs, new_nodes, [sub(v) for v in graph.outputs])


def dce(graph: Graph) -> Graph:
    """Drop nodes whose values no output needs."""
    live = {v.id for v in graph.outputs}
    kept: list[Node] = []
    for n in reversed(graph.nodes):
        if n.out.id in live:
            kept.append(n)
            live.update(v.id for v in n.inputs)
    kept.reverse()
    return Graph(graph.inputs, kept, graph.outputs)


def _key(n: Node) -> Any:
    if n.prim.name in EFFECTFUL:  # two draws are two different values
        return None
    try:
        params = tuple(sorted(n.params.items()))
        hash(params)
    except TypeError:
        return None
    return (n.prim.name, tuple(v.id for v in n.inputs), params)


def cse(graph: Graph) -> Graph:
    """Merge nodes that apply the same primitive to the same inputs with the same params."""
    seen: dict[Any, Var] = {}
    mapping: dict[int, Var] = {}
    nodes: list[Node] = []
    for n in graph.nodes:
        n = Node(n.prim, [mapping.get(v.id, v) for v in n.inputs], n.params, n.out)
        k = _key(n)
        if k is not None and k in seen:
            mapping[n.out.id] = seen[k]
            continue
        if k is not None:
            seen[k] = n.out
        nodes.append(n)
    return _rename(Graph(graph.inputs, nodes, graph.outputs), mapping, nodes)


_FOLDABLE = {"cast", "broadcast_to", "reshape", "stop_gradient", "copy", "neg", "abs", "add",
             "sub", "mul", "div", "maximum", "minimum", "sqrt", "rsqrt", "reciprocal", "square"}


def fold_constants(graph: Graph) -> Graph:
    """Evaluate nodes whose inputs are all ``full`` constants into one ``full`` constant."""
    full_p = PRIMITIVES["full"]
    consts: dict[int, Any] = {}  # var id -> scalar value of a full node
    nodes: list[Node] = []
    for n in graph.nodes:
        if n.prim is full_p:
            consts[n.out.id] = n.params["value"]
            nodes.append(n)
            continue
        if n.prim.name in _FOLDABLE and n.inputs and all(v.id in consts for v in n.inputs):
            args = [np.asarray(consts[v.id], dtype=v.aval.dtype.np) for v in n.inputs]
            with np.errstate(all="ignore"):
                if n.prim.name in ("broadcast_to", "reshape"):
                    value = args[0]
                else:
                    value = n.prim.impl(*args, **n.params) if n.prim.name != "cast" else \
                        args[0].astype(n.out.aval.dtype.np)
            scalar = np.asarray(value).reshape(-1)[0].item()
            aval = n.out.aval
            nodes.append(Node(full_p, [], {"shape": aval.shape, "dtype": aval.dtype,
                                           "value": scalar}, n.out))
            consts[n.out.id] = scalar
            continue
        nodes.append(n)
    return Graph(graph.inputs, nodes, graph.outputs)


def simplify(graph: Graph) -> Graph:
    """Algebraic identities that hold bit for bit: ``x * 1``, ``x + 0`` (not ``x * 0``: NaN),
    identity casts, ``stop_gradient``/``copy`` (values are immutable in a graph), a reshape of
    a reshape, a permute of a permute, reshapes and broadcasts to the same shape."""
    full_p = PRIMITIVES["full"]
    consts = {n.out.id: n.params["value"] for n in graph.nodes if n.prim is full_p}
    producer = {n.out.id: n for n in graph.nodes}
    mapping: dict[int, Var] = {}
    nodes: list[Node] = []

    def alias(n: Node, v: Var) -> None:
        mapping[n.out.id] = v

    for n in graph.nodes:
        ins = [mapping.get(v.id, v) for v in n.inputs]
        name = n.prim.name
        same = len(ins) == 1 and ins[0].aval == n.out.aval
        if name in ("stop_gradient", "copy") or (name in ("reshape", "broadcast_to", "cast")
                                                  and same):
            alias(n, ins[0])
            continue
        if name in ("mul", "add", "sub", "div") and ins[0].aval == n.out.aval:
            other = consts.get(ins[1].id, _broadcast_const(ins[1], producer, consts))
            unit = 1 if name in ("mul", "div") else 0
            if other is not None and other == unit and not isinstance(other, bool):
                alias(n, ins[0])
                continue
        if name == "reshape" and ins[0].id in producer and producer[ins[0].id].prim is n.prim:
            src = producer[ins[0].id]
            n = Node(n.prim, [mapping.get(src.inputs[0].id, src.inputs[0])], n.params, n.out)
            nodes.append(n)
            producer[n.out.id] = n
            continue
        if name == "permute" and ins[0].id in producer and producer[ins[0].id].prim is n.prim:
            src = producer[ins[0].id]
            inner, outer = src.params["perm"], n.params["perm"]
            perm = tuple(inner[p] for p in outer)
            x = mapping.get(src.inputs[0].id, src.inputs[0])
            if perm == tuple(range(len(perm))):
                alias(n, x)
                continue
            n = Node(n.prim, [x], {"perm": perm}, n.out)
            nodes.append(n)
            producer[n.out.id] = n
            continue
        n = Node(n.prim, ins, n.params, n.out)
        nodes.append(n)
        producer[n.out.id] = n
    return _rename(Graph(graph.inputs, nodes, graph.outputs), mapping, nodes)


def _broadcast_const(v: Var, producer: dict[int, Node], consts: dict[int, Any]) -> Any:
    n = producer.get(v.id)
    if n is not None and n.prim.name == "broadcast_to" and n.inputs[0].id in consts:
        return consts[n.inputs[0].id]
    return None


def transpose_products(graph: Graph) -> Graph:
    """``(a @ b).mT`` -> ``b.mT @ a.mT`` when the product has no other use.

    Weight gradients come out of reverse mode as a transposed product (``(x.T @ g).T``); asking
    BLAS for the transposed product directly gives a row-major result, so the optimizer update
    that follows runs as one contiguous loop instead of a strided one.
    """
    users: dict[int, int] = {}
    for n in graph.nodes:
        for v in n.inputs:
            users[v.id] = users.get(v.id, 0) + 1
    for v in graph.outputs:
        users[v.id] = users.get(v.id, 0) + 1
    producer = {n.out.id: n for n in graph.nodes}
    permute_p = PRIMITIVES["permute"]
    nodes: list[Node] = []
    for n in graph.nodes:
        src = producer.get(n.inputs[0].id) if n.inputs else None
        if (
            n.prim is permute_p and src is not None and src.prim.name == "matmul"
            and users.get(src.out.id) == 1 and _swaps_last_two(n.params["perm"])
        ):
            a, b = src.inputs
            perm = n.params["perm"]
            bt = Var(ShapedArray(_permuted(b.aval.shape, perm), b.aval.dtype))
            at = Var(ShapedArray(_permuted(a.aval.shape, perm), a.aval.dtype))
            nodes += [Node(permute_p, [b], {"perm": perm}, bt),
                      Node(permute_p, [a], {"perm": perm}, at),
                      Node(src.prim, [bt, at], src.params, n.out)]
            continue
        nodes.append(n)
    return dce(Graph(graph.inputs, nodes, graph.outputs))


def _swaps_last_two(perm: tuple[int, ...]) -> bool:
    k = len(perm)
    return k >= 2 and perm == (*range(k - 2), k - 1, k - 2)


def _permuted(shape: tuple[int, ...], perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[p] for p in perm)


def hoist_views(graph: Graph) -> Graph:
    """Move each view node (reshape, broadcast_to, permute, ...) up to just after the producer
    of its input.

    A kernel is emitted where its group's first node stands, so a node can join a group only
    if its other inputs exist by then; a parameter's ``reshape``/``broadcast_to`` (BatchNorm's
    scale and shift) traced after that point would split the kernel. Views cost no memory or
    time, so running them early loses nothing; every other node keeps its place.
    """
    position = {n.out.id: i for i, n in enumerate(graph.nodes)}
    anchor: dict[int, int] = {}  # view var id -> index of the node it runs after (-1: start)
    after: dict[int, list[Node]] = {}
    for n in graph.nodes:
        if not n.prim.view:
            continue
        a = -1
        for v in n.inputs:
            if v.id in position:
                a = max(a, anchor.get(v.id, position[v.id]))
        anchor[n.out.id] = a
        after.setdefault(a, []).append(n)
    if not anchor:
        return graph
    nodes = list(after.get(-1, []))
    for i, n in enumerate(graph.nodes):
        if n.out.id not in anchor:
            nodes.append(n)
            nodes.extend(after.get(i, []))
    return Graph(graph.inputs, nodes, graph.outputs)


def optimize(graph: Graph) -> Graph:
    """The standard pipeline: simplify, fold, CSE, transposed products, dead code, then views
    hoisted next to their inputs."""
    g = simplify(graph)
    g = fold_constants(g)
    g = cse(g)
    g = simplify(g)
    g = transpose_products(g)
    g = simplify(g)
    return hoist_views(dce(g))


# ----------------------------------------------------------------------------- fusion

# Elementwise primitives with exact, cheap scalar forms. Transcendental functions stay out of
# fused kernels: Numba here has no vector math library, so a scalar exp/tanh per element runs
# far slower than NumPy's vectorised ufuncs. They run as NumPy calls between fused kernels.
FUSIBLE = {
    "full", "cast", "neg", "abs", "square", "relu", "add", "sub", "mul", "div", "maximum",
    "minimum", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
    "logical_xor", "logical_not", "where", "sqrt", "rsqrt", "reciprocal", "sign",
}


@dataclass
class Group:
    """Nodes fused into one kernel: elementwise nodes of one shape, and ``sum`` reductions of
    values computed in the group (see :attr:`reductions`), accumulated in the same loop. A
    reduction's result is ready only when the kernel has run, after the group's first node, so
    the availability rule of :func:`fusion_groups` keeps its consumers out of the group."""

    nodes: list[Node] = field(default_factory=list)
    first: int = 0  # position of the first node in the graph

    @property
    def shape(self) -> tuple[int, ...]:
        return self.nodes[0].out.aval.shape

    @property
    def reductions(self) -> list[Node]:
        """The group's reduction nodes (they come after its elementwise nodes)."""
        return [n for n in self.nodes if n.prim.name in REDUCTIONS]


# Reductions a fused kernel can finish with, accumulating as its loop runs.
REDUCTIONS = {"sum"}


# Numba has no float16 arithmetic on the CPU: such nodes run through NumPy.
_NO_KERNEL_DTYPES = {"float16"}


def fusible(n: Node) -> bool:
    """Whether ``n`` can be part of a generated kernel."""
    return (
        n.prim.name in FUSIBLE and isinstance(n.prim.lowering, Elementwise)
        and n.out.aval.dtype.name not in _NO_KERNEL_DTYPES
        and all(v.aval.dtype.name not in _NO_KERNEL_DTYPES for v in n.inputs)
    )


def _reducible(n: Node) -> bool:
    """Whether ``n`` is a reduction a fused kernel can accumulate."""
    return (n.prim.name in REDUCTIONS and n.out.aval.dtype.name not in _NO_KERNEL_DTYPES
            and n.inputs[0].aval.dtype.name not in _NO_KERNEL_DTYPES)


def fusion_groups(graph: Graph) -> dict[int, Group]:
    """Map node index -> its fusion group, for every fusible node.

    A node joins a group of its shape when each of its inputs is a graph input, in the group
    already, or computed before the group's first node (where the kernel runs; so the node
    cannot depend on the group: no cycle). It tries the groups of its producers first, then the
    latest group of its shape (independent updates of same-shaped values, such as BatchNorm's
    two running statistics, share one loop). ``full`` constants never start a group on their
    own; they are folded into their consumers' kernels. A ``sum`` of a value computed in a
    group joins that group as a trailing reduction.
    """
    position = {n.out.id: i for i, n in enumerate(graph.nodes)}
    group_of: dict[int, Group] = {}  # var id -> group
    latest: dict[tuple[int, ...], Group] = {}  # shape -> the group that grew last
    result: dict[int, Group] = {}
    for i, n in enumerate(graph.nodes):
        if _reducible(n) and n.inputs[0].id in group_of:
            # A trailing reduction of a value the group computes: accumulate it in the same
            # loop instead of writing the value out and reading it back.
            g = group_of[n.inputs[0].id]
            g.nodes.append(n)
            result[i] = g
            continue
        if not fusible(n) or n.prim.name == "full":
            continue
        shape = n.out.aval.shape
        candidates = [group_of[v.id] for v in n.inputs if v.id in group_of
                      and group_of[v.id].shape == shape]
        if shape in latest:
            candidates.append(latest[shape])
        chosen = None
        for g in candidates:
            ok = all(
                v.id not in position or group_of.get(v.id) is g or position[v.id] < g.first
                or graph.nodes[position[v.id]].prim.name == "full"
                for v in n.inputs
            )
            if ok:
                chosen = g
                break
        if chosen is None:
            chosen = Group([], i)
        chosen.nodes.append(n)
        group_of[n.out.id] = chosen
        latest[shape] = chosen
        result[i] = chosen
    return result


__all__ = ["dce", "cse", "fold_constants", "simplify", "hoist_views", "optimize", "fusion_groups",
           "Group", "FUSIBLE", "REDUCTIONS"]
