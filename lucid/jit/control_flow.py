"""Data-dependent control flow that works inside traces: ``cond`` and ``while_loop``.

Eagerly (no transform active) both are plain Python: ``cond`` calls one branch, ``while_loop``
loops, and eager autograd sees the ops that ran. Inside a trace, the branches / loop body are
traced into graphs and a ``cond`` / ``while`` primitive is bound, one per output leaf (lucid's
primitives have one output; the copies share their graphs).

Every branch graph takes the same inputs: the operands, then the tensors each branch read from
its closure (all branches' captures, so they line up). Gradients: ``cond``'s VJP is a ``cond``
over the branches' backward graphs, so it is differentiable again. ``while``'s VJP is a runtime
primitive that reruns the loop keeping every carry, then walks back through the body's backward
graph; first derivatives work, second derivatives through a while loop raise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import dtypes as _dt
from .. import tree
from ..dtypes import FLOAT
from ..errors import LucidError, ShapeError
from ..ops.constant import constant
from ..ops.registry import ShapedArray, current_interpreter, primitive
from ..ops.shape import reshape
from ..tensor import Tensor
from .autodiff import reverse_pass
from .graph import Graph, eval_graph
from .trace import trace_avals

# ----------------------------------------------------------------------------- helpers


def _wrap(arrays: Sequence[np.ndarray]) -> list[Tensor]:
    return [Tensor._make(a) for a in arrays]


def _flat_fn(fn: Callable, in_tree: Any, out_box: list, spread: bool = False
             ) -> Callable[..., list[Tensor]]:
    """``fn`` over a pytree (or, with ``spread``, a tuple of arguments), as a function of flat
    tensors returning flat tensors; the output structure is appended to ``out_box``."""

    def flat(*xs: Tensor) -> list[Tensor]:
        arg = tree.unflatten(in_tree, list(xs))
        out = fn(*arg) if spread else fn(arg)
        leaves, td = tree.flatten(out)
        for x in leaves:
            if not isinstance(x, Tensor):
                raise LucidError(f"control flow branches must return tensors, got "
                                 f"{type(x).__name__}")
        out_box.append(td)
        return leaves

    return flat


def _unify(graphs: Sequence[tuple[Graph, list[Tensor]]], n_in: int, name: str
           ) -> tuple[list[Graph], list[Tensor]]:
    """Rebuild traced graphs so they all take ``(inputs..., every graph's captures...)``."""
    captured: list[Tensor] = []
    for _, lifted in graphs:
        captured += lifted
    avals = [v.aval for v in graphs[0][0].inputs[:n_in]] + [
        ShapedArray(tuple(t.shape), t.dtype) for t in captured
    ]
    out: list[Graph] = []
    offset = n_in
    for g, lifted in graphs:
        lo, hi = offset, offset + len(lifted)

        def run(*xs: Tensor, g: Graph = g, lo: int = lo, hi: int = hi) -> list[Tensor]:
            return eval_graph(g, list(xs[:n_in]) + list(xs[lo:hi]))

        unified, extra = trace_avals(run, avals, name=name)
        assert not extra
        out.append(unified)
        offset = hi
    return out, captured


_bwd_cache: dict[tuple[int, int], tuple[Graph, Graph]] = {}


def _backward_branch(g: Graph, k: int) -> Graph:
    """Graph ``(inputs..., ct) -> cotangent of every input`` for output ``k`` of ``g``
    (zeros for inputs without a gradient)."""
    key = (id(g), k)
    if key not in _bwd_cache:
        n = len(g.inputs)
        wrt = [i for i, v in enumerate(g.inputs) if v.aval.dtype.category == FLOAT]

        def bwd(*xs: Tensor) -> list[Tensor]:
            cts: list[Tensor | None] = [None] * len(g.outputs)
            cts[k] = xs[n]
            _, grads = reverse_pass(g, xs[:n], cts, wrt)
            return grads

        avals = [v.aval for v in g.inputs] + [g.outputs[k].aval]
        # The key holds the forward graph itself, so its id cannot be reused while cached.
        _bwd_cache[key] = (g, trace_avals(bwd, avals, name="a branch's backward pass")[0])
    return _bwd_cache[key][1]


# ----------------------------------------------------------------------------- cond


def _cond_rule(pred: Any, *ins: Any, branches: tuple[Graph, ...], index: int) -> ShapedArray:
    if tuple(pred.shape) != () or pred.dtype is not _dt.bool_:
        raise ShapeError(f"cond: the predicate must be a bool scalar, got "
                         f"{pred.dtype.name}{list(pred.shape)}")
    return branches[0].outputs[index].aval


def _cond_impl(pred: np.ndarray, *ins: np.ndarray, branches: tuple[Graph, ...], index: int
               ) -> np.ndarray:
    g = branches[0] if bool(pred) else branches[1]
    return eval_graph(g, _wrap(ins))[index]._data


def _cond_vjp(ct: Tensor, out: Any, pred: Tensor, *ins: Tensor, branches: tuple[Graph, ...],
              index: int) -> list[Tensor | None]:
    bwd = tuple(_backward_branch(b, index) for b in branches)
    float_ins = [i for i, x in enumerate(ins) if x.dtype.category == FLOAT]
    grads: list[Tensor | None] = [None] * (len(ins) + 1)
    for j, i in enumerate(float_ins):
        grads[i + 1] = cond_p.bind(pred, *ins, ct, branches=bwd, index=j)
    return grads


cond_p = primitive(
    "cond",
    shape_rule=_cond_rule,
    impl=_cond_impl,
    vjp=_cond_vjp,
    doc="Output `index` of branches[0] if pred else branches[1], on the same inputs.",
)


def cond(pred: Any, true_fn: Callable, false_fn: Callable, *operands: Any) -> Any:
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``, also inside traces.

    Both branches must return the same structure of tensors with the same shapes and dtypes.
    """
    concrete = not isinstance(pred, Tensor) or pred.is_concrete
    if concrete and current_interpreter() is None:
        return true_fn(*operands) if bool(pred) else false_fn(*operands)
    p = pred if isinstance(pred, Tensor) else constant(bool(pred), (), _dt.bool_)
    if p.dtype is not _dt.bool_:
        p = p != 0
    p = reshape(p, ()) if p.numel() == 1 else p
    leaves, in_tree = tree.flatten(operands)
    if any(not isinstance(x, Tensor) for x in leaves):
        raise LucidError("cond: operands must be (pytrees of) tensors")
    avals = [ShapedArray(tuple(x.shape), x.dtype) for x in leaves]
    trees: list[Any] = []
    traced = [
        trace_avals(_flat_fn(fn, in_tree, trees, spread=True), avals,
                    name=f"cond's {which} branch")
        for fn, which in ((true_fn, "true"), (false_fn, "false"))
    ]
    if trees[0] != trees[1] or traced[0][0].out_avals != traced[1][0].out_avals:
        raise ShapeError(
            f"cond: the branches return different structures or types: {trees[0]} with "
            f"{traced[0][0].out_avals} vs {trees[1]} with {traced[1][0].out_avals}"
        )
    branches, captured = _unify(traced, len(leaves), "a cond branch")
    ins = list(leaves) + captured
    outs = [cond_p.bind(p, *ins, branches=tuple(branches), index=k)
            for k in range(len(branches[0].outputs))]
    return tree.unflatten(trees[0], outs)


# ----------------------------------------------------------------------------- while_loop


def _while_rule(*ins: Any, cond_graph: Graph, body_graph: Graph, n_carry: int, index: int
                ) -> ShapedArray:
    return body_graph.outputs[index].aval


def _run_while(ins: list[Tensor], cond_graph: Graph, body_graph: Graph, n_carry: int,
               history: list[list[Tensor]] | None = None) -> list[Tensor]:
    carry, consts = ins[:n_carry], ins[n_carry:]
    while bool(eval_graph(cond_graph, carry + consts)[0]._data):
        if history is not None:
            history.append(carry)
        carry = eval_graph(body_graph, carry + consts)
    return carry


def _while_impl(*ins: np.ndarray, cond_graph: Graph, body_graph: Graph, n_carry: int,
                index: int) -> np.ndarray:
    return _run_while(_wrap(ins), cond_graph, body_graph, n_carry)[index]._data


def _while_vjp(ct: Tensor, out: Any, *ins: Tensor, cond_graph: Graph, body_graph: Graph,
               n_carry: int, index: int) -> list[Tensor | None]:
    params = {"cond_graph": cond_graph, "body_graph": body_graph, "n_carry": n_carry,
              "index": index}
    return [
        while_grad_p.bind(*ins, ct, wrt=j, **params) if x.dtype.category == FLOAT else None
        for j, x in enumerate(ins)
    ]


while_p = primitive(
    "while",
    shape_rule=_while_rule,
    impl=_while_impl,
    vjp=_while_vjp,
    doc="Carry leaf `index` after looping body_graph while cond_graph holds.",
)


def _while_grad_rule(*ins: Any, cond_graph: Graph, body_graph: Graph, n_carry: int,
                     index: int, wrt: int) -> ShapedArray:
    return ShapedArray(tuple(ins[wrt].shape), ins[wrt].dtype)


def _while_grad_impl(*arrays: np.ndarray, cond_graph: Graph, body_graph: Graph, n_carry: int,
                     index: int, wrt: int) -> np.ndarray:
    ins, ct = _wrap(arrays[:-1]), Tensor._make(arrays[-1])
    history: list[list[Tensor]] = []
    final = _run_while(ins, cond_graph, body_graph, n_carry, history)
    consts = ins[n_carry:]
    ct_carry = [Tensor._make(np.zeros_like(c._data)) for c in final]
    ct_carry[index] = ct
    ct_consts = [Tensor._make(np.zeros_like(c._data)) for c in consts]
    bwds = [_backward_branch(body_graph, k) for k in range(n_carry)]
    for carry in reversed(history):
        new_carry = [Tensor._make(np.zeros_like(c._data)) for c in carry]
        for k, b in enumerate(bwds):
            if carry[k].dtype.category != FLOAT:
                continue
            grads = eval_graph(b, carry + consts + [ct_carry[k]])
            floats = [i for i, x in enumerate(carry + consts) if x.dtype.category == FLOAT]
            for g, i in zip(grads, floats):
                if i < n_carry:
                    new_carry[i] = Tensor._make(new_carry[i]._data + g._data)
                else:
                    ct_consts[i - n_carry] = Tensor._make(ct_consts[i - n_carry]._data + g._data)
        ct_carry = new_carry
    return (ct_carry + ct_consts)[wrt]._data


def _no_second_order(*args: Any, **kwargs: Any) -> Any:
    raise LucidError("second derivatives through lucid.while_loop are not supported; "
                     "differentiate a Python loop eagerly, or a fixed number of steps")


while_grad_p = primitive(
    "while_grad",
    shape_rule=_while_grad_rule,
    impl=_while_grad_impl,
    vjp=_no_second_order,
    doc="Gradient of a while loop's output `index` with respect to input `wrt`, by rerunning "
        "the loop and walking back through the body's backward graph.",
)


def while_loop(cond_fn: Callable, body_fn: Callable, init: Any) -> Any:
    """``val = init; while cond_fn(val): val = body_fn(val); return val``, also inside traces.

    ``init`` is a pytree of tensors; ``body_fn`` must return the same structure, shapes and
    dtypes; ``cond_fn`` returns a bool scalar tensor.
    """
    if current_interpreter() is None:
        val = init
        while bool(cond_fn(val)):
            val = body_fn(val)
        return val
    leaves, in_tree = tree.flatten(init)
    if any(not isinstance(x, Tensor) for x in leaves):
        raise LucidError("while_loop: the loop state must be a pytree of tensors")
    avals = [ShapedArray(tuple(x.shape), x.dtype) for x in leaves]
    trees: list[Any] = []
    cond_traced = trace_avals(_flat_fn(cond_fn, in_tree, []), avals,
                              name="while_loop's condition")
    body_traced = trace_avals(_flat_fn(body_fn, in_tree, trees), avals,
                              name="while_loop's body")
    c_out = cond_traced[0].out_avals
    if len(c_out) != 1 or c_out[0].shape != () or c_out[0].dtype is not _dt.bool_:
        raise ShapeError(f"while_loop: cond_fn must return one bool scalar, got {c_out}")
    if trees[0] != in_tree or body_traced[0].out_avals != avals:
        raise ShapeError(
            f"while_loop: body_fn must return the structure, shapes and dtypes of init: got "
            f"{trees[0]} with {body_traced[0].out_avals}, expected {in_tree} with {avals}"
        )
    (cond_graph, body_graph), captured = _unify([cond_traced, body_traced], len(leaves),
                                                "a while_loop graph")
    ins = list(leaves) + captured
    outs = [while_p.bind(*ins, cond_graph=cond_graph, body_graph=body_graph,
                         n_carry=len(leaves), index=k) for k in range(len(leaves))]
    return tree.unflatten(in_tree, outs)


__all__ = ["cond", "while_loop"]
