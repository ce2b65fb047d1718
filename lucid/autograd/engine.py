"""Reverse-mode execution of the eager tape: ``Tensor.backward`` and ``lucid.autograd.grad``.

The walk is Kahn's algorithm over the nodes reachable from the outputs: a node runs once every
consumer has contributed its cotangent, so fan-out accumulates before it is propagated. The VJP
rules are ordinary lucid ops, run with grad mode equal to ``create_graph``: with it on, the
backward pass records its own tape and can be differentiated again.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AutogradError
from .graph import Node
from .mode import set_grad_enabled

if TYPE_CHECKING:
    from ..tensor import Tensor

# lucid.tensor imports this package, so the module is bound on the first backward pass
# (an import statement inside the per-node helpers would cost a lookup on every call).
_tensor: Any = None
# Reference counts decide when a gradient can be stored without a copy (CPython's count).
_refcount = sys.getrefcount


def _stale_message(t: Any, node: Node, saved: int, now: int) -> str:
    return (
        f"one of the tensors needed for gradient computation has been modified by an "
        f"in-place operation: {t.dtype.name}{list(t.shape)} at version {now}; expected version "
        f"{saved} (it was saved by {node.name()}). Use an out-of-place op (x = x + y instead "
        f"of x += y), or .clone() the tensor before modifying it."
    )


def _saved_inputs(node: Node) -> Sequence[Any]:
    inputs = node.inputs
    for t, v in zip(inputs, node.versions):
        if t._vc.value != v:
            break
    else:
        return inputs  # the common case: nothing was overwritten since the op ran
    out = list(inputs)
    for i, (t, v) in enumerate(zip(inputs, node.versions)):
        if t._vc.value != v:
            out[i] = _tensor.StaleTensor(t, _stale_message(t, node, v, t._vc.value))
    return out


def _saved_output(node: Node) -> Any:
    if node.out_data is None:
        return None
    out = _tensor.Tensor._make(node.out_data, node.out_device)
    out._vc = node.out_vc
    # The rebuilt output carries this node as its history, so with create_graph a rule that
    # reads ``out`` (exp, tanh, sigmoid, ...) is still differentiable with respect to the inputs.
    out.grad_fn = node
    out._requires_grad = True
    if node.out_vc.value != node.out_version:
        return _tensor.StaleTensor(out, _stale_message(out, node, node.out_version,
                                                       node.out_vc.value))
    return out


def _topo(roots: Sequence[Node]) -> list[Node]:
    """Nodes reachable from ``roots``, each after every reachable node that consumes it."""
    deps: dict[Node, int] = {}
    stack = list(dict.fromkeys(roots))
    seen = set(stack)
    while stack:
        n = stack.pop()
        for e in n.edges:
            if type(e) is Node:
                deps[e] = deps.get(e, 0) + 1
                if e not in seen:
                    seen.add(e)
                    stack.append(e)
    order: list[Node] = []
    ready = [n for n in dict.fromkeys(roots) if n not in deps]
    while ready:
        n = ready.pop()
        order.append(n)
        for e in n.edges:
            if type(e) is Node:
                deps[e] -= 1
                if deps[e] == 0:
                    ready.append(e)
    return order


def _useful(order: list[Node], targets: set[int] | None) -> set[Node] | None:
    """Nodes with a path to something that wants a gradient (``None``: all of them, when
    there are no targets)."""
    if targets is None:
        return None
    useful: set[Node] = set()
    for n in reversed(order):  # producers before consumers
        if id(n) in targets or any(
            e is not None and (id(e) in targets or e in useful) for e in n.edges
        ):
            useful.add(n)
    return useful


def _accumulate(a: Tensor | None, b: Tensor) -> Tensor:
    return b if a is None else a + b


def run_backward(
    outputs: Sequence[Tensor],
    grad_outputs: Sequence[Tensor],
    *,
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
    accumulate: bool = True,
) -> list[Tensor | None] | None:
    """Propagate ``grad_outputs`` back from ``outputs``.

    ``accumulate=True`` (``Tensor.backward``): leaf gradients are added into ``.grad``, of every
    leaf, or only of ``inputs`` when given. ``accumulate=False`` (``autograd.grad``): nothing is
    written, and the cotangents of ``inputs`` are returned.
    """
    global _tensor
    if _tensor is None:
        # The module itself: ``from .. import tensor`` would give the lucid.tensor function.
        _tensor = importlib.import_module("..tensor", __package__)
    grads: dict[Any, Tensor] = {}  # node or leaf tensor -> accumulated cotangent
    roots: list[Node] = []
    for out, g in zip(outputs, grad_outputs):
        key = out.grad_fn if out.grad_fn is not None else out
        grads[key] = _accumulate(grads.get(key), g)
        if out.grad_fn is not None:
            roots.append(out.grad_fn)

    # With ``inputs`` only their cotangents are wanted: a non-leaf input is identified by its
    # producing node, a leaf by itself.
    targets: set[int] | None = None
    captured: dict[int, Tensor] = {}
    if inputs is not None:
        targets = {id(t.grad_fn if t.grad_fn is not None else t) for t in inputs}

    order = _topo(roots)
    useful = _useful(order, targets)

    with set_grad_enabled(create_graph):
        for node in order:
            g = grads.pop(node, None)
            if targets is not None and id(node) in targets and g is not None:
                captured[id(node)] = g
            if node.retained is not None and g is not None:
                t = node.retained()
                if t is not None and t.grad_fn is node:
                    t.grad = _store(t.grad, g, create_graph)
            if g is not None and (useful is None or node in useful):
                if node.freed:
                    raise AutogradError(
                        f"trying to backward through the graph a second time ({node.name()}'s "
                        f"saved tensors were freed by the first backward). Pass "
                        f"retain_graph=True to the first backward() if you need to call it twice."
                    )
                edges = node.edges
                if useful is None:
                    needs = [e is not None for e in edges]
                else:
                    needs = [e is not None and (e in useful or id(e) in targets) for e in edges]
                prim = node.prim
                out = _saved_output(node) if prim.saves_output else None
                rule = prim.vjp
                if type(rule) is tuple:  # one rule per input (_apply_vjp, inlined: every node)
                    saved = _saved_inputs(node)
                    params = node.params
                    cts = [r(g, out, *saved, **params) if (n and r is not None) else None
                           for r, n in zip(rule, needs)]
                else:
                    cts = _apply_vjp(prim, g, out, _saved_inputs(node), needs, node.params)
                for e, ct in zip(edges, cts):
                    if ct is None:  # also every input that needs nothing
                        continue
                    if type(e) is not Node:
                        _check_ct(node, e, ct)
                    old = grads.get(e)
                    grads[e] = ct if old is None else old + ct
            if not retain_graph:
                node.inputs = ()
                node.out_data = None
                node.freed = True

        # What is left in ``grads`` are the leaves' cotangents (and outputs that were leaves).
        # A cotangent computed by this pass, held by no other leaf and by nobody outside (not a
        # seed the caller passed, and its memory referenced by nothing else), is stored without
        # a copy.
        foreign = {id(g) for g in grad_outputs}
        for leaf, g in grads.items():
            if type(leaf) is Node:
                continue
            if targets is not None:
                if id(leaf) in targets:
                    captured[id(leaf)] = g
            elif leaf._requires_grad:
                owned = id(g) not in foreign and _exclusive(g._data)
                foreign.add(id(g))
                leaf.grad = _store(leaf.grad, g, create_graph, owned)

    if inputs is None:
        return None
    results = [captured.get(id(t.grad_fn if t.grad_fn is not None else t)) for t in inputs]
    if accumulate:
        for t, r in zip(inputs, results):
            if r is not None:
                t.grad = _store(t.grad, r, create_graph)
        return None
    return results


def _exclusive(d: Any) -> bool:
    """Whether the array ``d`` (a cotangent's data) and the memory it views are referenced by
    nothing but that cotangent, so storing it as a ``.grad`` needs no copy.

    PyTorch's ``AccumulateGrad`` steals a gradient on the same evidence (a use count of one).
    A weight gradient typically arrives as a view (the transposes around the matmul VJP, the
    reshape after a bias's sum) of a buffer its VJP rule allocated: the view is stored when it
    is row-major and writable and no other array or tensor refers to it or to its buffer (a
    user's tensor, a second view handed to another leaf, a cache all hold a reference). The
    counts are CPython's: the holder's attribute, this frame's local, ``getrefcount``'s argument.
    """
    if type(d) is not np.ndarray or not d.flags.writeable or not d.flags.c_contiguous:
        return False
    b = d.base
    if b is None:
        return d.flags.owndata and _refcount(d) <= 3
    return (type(b) is np.ndarray and b.base is None and b.flags.owndata
            and _refcount(b) <= 3 and _refcount(d) <= 3)


def _apply_vjp(prim: Any, g: Any, out: Any, inputs: Sequence[Any], needs: list[bool],
               params: dict) -> Sequence[Any]:
    """The cotangents of a node's inputs (``None`` where not needed), from its VJP rules
    (what ``Primitive.vjp_rules`` builds, without building a closure per node)."""
    rule = prim.vjp
    if rule is None:
        raise AutogradError(f"primitive {prim.name} is not differentiable")
    if callable(rule):
        cts = rule(g, out, *inputs, **params)
        return [c if n else None for c, n in zip(cts, needs)]
    return [r(g, out, *inputs, **params) if (n and r is not None) else None
            for r, n in zip(rule, needs)]


def _check_ct(node: Node, leaf: Tensor, ct: Tensor) -> None:
    if ct.shape != leaf.shape:
        raise AutogradError(
            f"internal error: {node.name()} produced a gradient of shape {tuple(ct.shape)} for "
            f"an input of shape {tuple(leaf.shape)}; please report this"
        )


def _store(old: Tensor | None, g: Tensor, create_graph: bool, owned: bool = False) -> Tensor:
    """Accumulate ``g`` into a ``.grad`` slot.

    Without create_graph the stored gradient gets its own writable buffer: the same cotangent
    object may flow to several leaves (``a + b``), and optimizers write into ``.grad`` in place.
    ``owned`` says ``g``'s buffer is already private to this slot, so no copy is needed.
    """
    Tensor = _tensor.Tensor  # noqa: N806 - the class, under its usual name

    if create_graph or type(g._data) is not np.ndarray or (
        old is not None and type(old._data) is not np.ndarray
    ):
        # Recorded (or symbolic, inside a trace) gradients accumulate functionally.
        if old is None:
            return g if create_graph else g.detach()
        return old + g
    if old is None and owned:
        return Tensor._make(g._data, g._device)
    if old is None or old.grad_fn is not None or old.dtype is not g.dtype:
        data = np.array(g._data, dtype=g._data.dtype, copy=True, order="C")
        return Tensor._make(data if old is None else old._data + data, g._device)
    if old._data.flags.writeable and old._data.shape == g._data.shape:
        np.add(old._data, g._data, out=old._data)
        old._vc.value += 1
        return old
    return Tensor._make(old._data + g._data, g._device)


__all__ = ["run_backward"]
