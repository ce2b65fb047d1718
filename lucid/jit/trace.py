"""The tracer: run a Python function on symbolic tensors and record a :class:`Graph`.

Inside a trace, the function's tensor arguments are *tracers*: Tensors whose ``_data`` is a
:class:`Traced` value (a graph :class:`Var` with a shape and dtype, no data). Every primitive
bind is handled by the :class:`GraphTrace` on top of the interpreter stack, which appends a node
and returns a new tracer. So any code written with lucid ops (modules, losses, even an eager
``loss.backward()``) turns into a graph without changes.

Concrete tensors the function reads from its closure (a module's parameters, a constant such
as the seed's ``rand_weight``) are *lifted*: they become implicit graph inputs, never constants
baked into the graph, so a later call sees their current values. In-place writes to such
tensors (an optimizer step, BatchNorm's running statistics, ``p.grad = ...``) are recorded as
*mutations*: extra graph outputs that the caller writes back; the tensors themselves are
restored when the trace ends.

Python control flow on a tracer raises :class:`~lucid.errors.TracerError`, naming the argument
the value depends on and showing the user's own source line.
"""

from __future__ import annotations

import inspect
import linecache
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import tree
from ..autograd.graph import record as _record_tape
from ..autograd.mode import _state as _grad_state
from ..device import Device
from ..dtypes import FLOAT
from ..errors import TracerError
from ..ops.registry import ShapedArray, pop_interpreter, push_interpreter
from ..tensor import Tensor
from .graph import Graph, Node, Var, eval_graph

_LUCID_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_frame() -> tuple[str, int, str, str] | None:
    """(file, line number, function, source text) of the innermost frame outside lucid."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not os.path.abspath(fn).startswith(_LUCID_DIR) and not fn.startswith("<frozen"):
            text = linecache.getline(fn, f.f_lineno).strip()
            return fn, f.f_lineno, f.f_code.co_name, text
        f = f.f_back
    return None


def _where() -> str:
    fr = user_frame()
    if fr is None:
        return ""
    fn, line, func, text = fr
    return f'\n  File "{fn}", line {line}, in {func}\n    {text}'


def _deps_text(deps: frozenset[str]) -> str:
    if not deps:
        return "a value computed inside the traced function"
    names = sorted(deps)
    shown = ", ".join(f"'{n}'" for n in names[:4]) + (", ..." if len(names) > 4 else "")
    return f"argument{'s' if len(names) > 1 else ''} {shown}"


class TracerValue:
    """Base of the symbolic values a traced Tensor holds instead of an array.

    It answers ``shape``/``dtype``/``ndim``/``size`` like an array, and ``concrete_error``
    builds the error raised when code asks for the values.
    """

    __slots__ = ()
    aval: ShapedArray
    deps: frozenset[str]
    kind = "a traced function"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype.np

    @property
    def ndim(self) -> int:
        return len(self.aval.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.aval.shape, dtype=np.int64))

    @property
    def itemsize(self) -> int:
        return self.aval.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.itemsize

    def is_alive(self) -> bool:
        return True

    def concrete_error(self, what: str) -> TracerError:
        if not self.is_alive():
            return TracerError(
                f"{what} on a tracer that escaped its trace: a symbolic value from {self.kind} "
                f"was kept (in a global, an attribute or a closure) and used after the trace "
                f"ended. Return the value from the function instead.{_where()}"
            )
        return TracerError(
            f"{what} needs a concrete value, but this {self.aval!r} tensor is symbolic inside "
            f"{self.kind}; it depends on {_deps_text(self.deps)}.{_where()}\n"
            f"Python control flow cannot depend on traced values. Compute the value outside "
            f"the traced function, mark the argument static (static_argnums), or use "
            f"lucid.where / lucid.cond / lucid.while_loop."
        )

    def __bool__(self) -> bool:
        raise self.concrete_error("bool()")

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise self.concrete_error("conversion to a NumPy array")


class Traced(TracerValue):
    """A graph value inside a :class:`GraphTrace`."""

    __slots__ = ("deps", "trace", "var")

    def __init__(self, var: Var, trace: GraphTrace, deps: frozenset[str]) -> None:
        self.var = var
        self.trace = trace
        self.deps = deps

    @property
    def aval(self) -> ShapedArray:  # type: ignore[override]
        return self.var.aval

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.trace.name

    def is_alive(self) -> bool:
        return self.trace.active

    def __repr__(self) -> str:
        return f"{self.var.aval!r}"


class _Saved:
    """A lifted tensor's state when the trace first read it, to detect and undo mutations."""

    __slots__ = ("data", "grad", "grad_fn", "requires_grad", "tensor", "var", "version")

    def __init__(self, t: Tensor, var: Var) -> None:
        self.tensor = t
        self.var = var
        self.data = t._data
        self.grad = t.grad
        self.grad_fn = t.grad_fn
        self.requires_grad = t._requires_grad
        self.version = t._vc.value

    def restore(self) -> None:
        t = self.tensor
        t._data = self.data
        t.grad = self.grad
        t.grad_fn = self.grad_fn
        t._requires_grad = self.requires_grad
        t._vc.value = self.version


class Mutation:
    """A side effect of a traced function: tensor ``target``'s ``kind`` ("data" or "grad")
    becomes graph output number ``index`` (or None, for ``p.grad = None``)."""

    __slots__ = ("index", "kind", "target")

    def __init__(self, target: Tensor, kind: str, index: int | None) -> None:
        self.target = target
        self.kind = kind
        self.index = index


class GraphTrace:
    """The interpreter that records binds as graph nodes."""

    def __init__(self, name: str = "a traced function") -> None:
        self.name = name
        self.inputs: list[Var] = []
        self.nodes: list[Node] = []
        self.active = True
        self.lifted: dict[int, _Saved] = {}

    # -------------------------------------------------------------- values

    def new_input(self, aval: ShapedArray, device: Device | None = None, label: str = "",
                  requires_grad: bool = False) -> Tensor:
        """An explicit graph input, as a tracer tensor."""
        var = Var(aval)
        self.inputs.append(var)
        t = Tensor._make(Traced(var, self, frozenset((label,)) if label else frozenset()),
                         device)
        t._requires_grad = requires_grad and aval.dtype.category == FLOAT
        return t

    def var_of(self, t: Tensor) -> Var:
        """The graph value of ``t``: its own var, or an implicit input lifted from it."""
        d = t._data
        if type(d) is Traced:
            if d.trace is self:
                return d.var
            if not d.trace.active:
                raise d.concrete_error("an op")
        saved = self.lifted.get(id(t))
        if saved is None or saved.tensor is not t:
            saved = _Saved(t, Var(ShapedArray(tuple(t.shape), t.dtype)))
            self.lifted[id(t)] = saved
        return saved.var

    def _deps_of(self, t: Tensor) -> frozenset[str]:
        d = t._data
        return d.deps if type(d) is Traced and d.trace is self else frozenset()

    def process(self, prim: Any, args: Sequence[Tensor], params: dict) -> Tensor:
        in_vars = [self.var_of(a) for a in args]
        aval = prim.shape_rule(*args, **params)
        out_var = Var(aval)
        self.nodes.append(Node(prim, in_vars, params, out_var))
        deps = frozenset().union(*(self._deps_of(a) for a in args)) if args else frozenset()
        out = Tensor._make(Traced(out_var, self, deps), args[0]._device if args else None)
        # The eager tape keeps working on tracers, so ``loss.backward()`` inside a traced
        # function records its backward pass into the graph too.
        if (
            prim.vjp is not None
            and aval.dtype.category == FLOAT
            and _grad_state.grad_enabled
            and any(a._requires_grad for a in args)
        ):
            _record_tape(prim, args, params, out)
        return out

    # -------------------------------------------------------------- finishing

    def finish(self, outputs: Sequence[Tensor]) -> tuple[Graph, list[Tensor], list[Mutation]]:
        """Close the trace: the graph (explicit inputs, then lifted ones; outputs, then
        mutated values), the lifted tensors in input order, and the mutations."""
        out_vars = [self.var_of(t) for t in outputs]
        mutations: list[Mutation] = []
        extra: list[Var] = []
        for saved in list(self.lifted.values()):
            t = saved.tensor
            if t._data is not saved.data:
                extra.append(self.var_of(t))
                mutations.append(Mutation(t, "data", len(out_vars) + len(extra) - 1))
            if t.grad is not saved.grad:
                if t.grad is None:
                    mutations.append(Mutation(t, "grad", None))
                else:
                    extra.append(self.var_of(t.grad))
                    mutations.append(Mutation(t, "grad", len(out_vars) + len(extra) - 1))
        lifted = list(self.lifted.values())
        for saved in lifted:
            saved.restore()
        self.active = False
        graph = Graph(self.inputs + [s.var for s in lifted], self.nodes, out_vars + extra)
        return graph, [s.tensor for s in lifted], mutations


class TracedFunction:
    """A function traced once: its graph plus how to call it on new arguments.

    ``graph`` takes the flattened tensor arguments, then the lifted tensors; it returns the
    flattened tensor outputs, then the mutated values. Non-tensor leaves of the arguments are
    static: they were baked in when tracing.
    """

    def __init__(self, graph: Graph, in_tree: Any, static: list[Any], tensor_pos: list[int],
                 out_tree: Any, out_static: list[Any], out_pos: list[int],
                 lifted: list[Tensor], mutations: list[Mutation]) -> None:
        self.graph = graph
        self.in_tree = in_tree
        self.static = static
        self.tensor_pos = tensor_pos
        self.out_tree = out_tree
        self.out_static = out_static
        self.out_pos = out_pos
        self.lifted = lifted
        self.mutations = mutations

    def __str__(self) -> str:
        return str(self.graph)

    def flat_inputs(self, args: tuple, kwargs: dict) -> list[Tensor]:
        leaves, in_tree = tree.flatten((args, kwargs))
        if in_tree != self.in_tree:
            raise TypeError(f"arguments have structure {in_tree}, the trace had {self.in_tree}")
        return [leaves[i] for i in self.tensor_pos] + list(self.lifted)

    def unflatten_outputs(self, flat_out: Sequence[Any]) -> Any:
        leaves = list(self.out_static)
        for k, i in enumerate(self.out_pos):
            leaves[i] = flat_out[k]
        return tree.unflatten(self.out_tree, leaves)

    def apply_mutations(self, flat_out: Sequence[Tensor]) -> None:
        """Write the mutated values back into their tensors (as in-place updates)."""
        apply_mutations(self.mutations, flat_out)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flat = eval_graph(self.graph, self.flat_inputs(args, kwargs))
        self.apply_mutations(flat)
        return self.unflatten_outputs(flat[: len(self.out_pos)])


def apply_mutations(mutations: Sequence[Mutation], flat_out: Sequence[Tensor]) -> None:
    """Write traced side effects back: data as an in-place copy, grads by assignment."""
    from ..autograd.mode import no_grad

    for m in mutations:
        if m.kind == "grad":
            m.target.grad = None if m.index is None else flat_out[m.index]
        else:
            with no_grad():
                m.target._assign(flat_out[m.index], "traced in-place update")


def _labels(fn: Callable, args: tuple, kwargs: dict) -> Callable[[tuple], str]:
    """A function naming a leaf of ``(args, kwargs)`` by its parameter name and key path."""
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []

    def label(path: tuple) -> str:
        if not path:
            return "args"
        first = path[0]
        rest = path[1:]
        if getattr(first, "idx", None) == 0 and rest:  # positional args
            i = rest[0].idx
            base = names[i] if i < len(names) and names[i] not in ("args", "kwargs") \
                else f"args[{i}]"
            return base + tree.keystr(rest[1:])
        if rest:
            return f"{rest[0].key}" + tree.keystr(rest[1:])
        return "kwargs"

    return label


def trace(fn: Callable, args: tuple, kwargs: dict | None = None, *, name: str | None = None,
          requires_grad: bool | None = None) -> TracedFunction:
    """Trace ``fn(*args, **kwargs)``: tensor leaves of the arguments become graph inputs.

    ``requires_grad`` forces the tracers' requires_grad flag (None keeps each argument's own),
    so an eager ``backward()`` inside ``fn`` reaches them.
    """
    kwargs = kwargs or {}
    leaves_p, in_tree = tree.flatten_with_path((args, kwargs))
    label = _labels(fn, args, kwargs)
    t = GraphTrace(name or f"the trace of {getattr(fn, '__qualname__', repr(fn))}")
    push_interpreter(t)
    try:
        leaves, tensor_pos = [], []
        for i, (path, x) in enumerate(leaves_p):
            if isinstance(x, Tensor):
                rg = x.requires_grad if requires_grad is None else requires_grad
                x = t.new_input(ShapedArray(tuple(x.shape), x.dtype), x._device, label(path), rg)
                tensor_pos.append(i)
            leaves.append(x)
        a, kw = tree.unflatten(in_tree, leaves)
        out = fn(*a, **kw)
    except BaseException:
        pop_interpreter(t)
        for saved in t.lifted.values():
            saved.restore()
        t.active = False
        raise
    pop_interpreter(t)
    out_leaves, out_tree = tree.flatten(out)
    out_pos = [i for i, x in enumerate(out_leaves) if isinstance(x, Tensor)]
    out_static = [None if isinstance(x, Tensor) else x for x in out_leaves]
    graph, lifted, mutations = t.finish([out_leaves[i] for i in out_pos])
    return TracedFunction(graph, in_tree, [None if isinstance(x, Tensor) else x
                                           for _, x in leaves_p],
                          tensor_pos, out_tree, out_static, out_pos, lifted, mutations)


def trace_avals(fn: Callable[..., Sequence[Tensor]], avals: Sequence[ShapedArray],
                name: str = "a traced function") -> tuple[Graph, list[Tensor]]:
    """Trace ``fn`` on fresh symbolic inputs of the given avals; ``fn`` returns a list of
    tensors. Returns the graph and the lifted tensors (appended to its inputs). Mutations are
    not allowed here (used for backward graphs and control-flow branches)."""
    t = GraphTrace(name)
    push_interpreter(t)
    try:
        ins = [t.new_input(a) for a in avals]
        outs = list(fn(*ins))
    except BaseException:
        pop_interpreter(t)
        for saved in t.lifted.values():
            saved.restore()
        t.active = False
        raise
    pop_interpreter(t)
    graph, lifted, mutations = t.finish(outs)
    if mutations:
        raise TracerError(f"{name} must not modify tensors in place")
    return graph, lifted


def make_graph(fn: Callable, *args: Any, **kwargs: Any) -> Graph:
    """The graph of ``fn(*args, **kwargs)``, printable like a program (``str(graph)``).

    Tensor arguments become the first inputs; concrete tensors read from the closure follow as
    implicit inputs. Outputs are the function's tensors, then values it wrote in place.
    """
    return trace(fn, args, kwargs).graph


__all__ = [
    "GraphTrace", "Traced", "TracerValue", "TracedFunction", "Mutation", "trace",
    "trace_avals", "make_graph", "apply_mutations", "user_frame", "eval_graph",
]
