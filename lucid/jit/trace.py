"""The tracer: run a Python function on symbolic tensors and record a :class:`Graph`.

Inside a trace, the function's tensor arguments are *tracers*: Tensors whose ``_data`` is a
:class:`Traced` value (a graph :class:`Var` with a shape and dtype, no data). Every primitive
bind is handled by the :class:`GraphTrace` on top of the interpreter stack, which appends a node
and returns a new tracer. So any code written with lucid ops (modules, losses, even an eager
``loss.backward()``) turns into a graph without changes.

Concrete tensors the function reads from its closure (a module's parameters, a constant such
as the seed's ``rand_weight``) are *lifted*: they become implicit graph inputs, never constants
baked into the graph, so a later call sees their current values. In-place writes to such
tensors and to the arguments (an optimizer step, BatchNorm's running statistics, ``p.grad =
...``, ``model.zero_grad()``) are recorded as *mutations*: extra graph outputs that the caller
writes back (to the tensors of *its* arguments, for an argument's). The tensors themselves are
restored when the trace ends, so tracing has no side effects. Writes are seen through
``Tensor._assign`` (:meth:`Traced.note_write`) and by comparing, at the end, the state of every
tensor the trace read or can reach (:func:`reachable_tensors`) with its state before.

Python control flow on a tracer raises :class:`~lucid.errors.TracerError`, naming the argument
the value depends on and showing the user's own source line.
"""

from __future__ import annotations

import contextlib
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
from ..autograd.mode import no_grad
from ..device import Device
from ..dtypes import FLOAT
from ..errors import LucidError, TracerError
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
        return ("no argument: it is computed from constants or from tensors captured from the "
                "enclosing scope, which a trace turns into symbolic inputs too")
    names = sorted(deps)
    shown = ", ".join(f"'{n}'" for n in names[:4]) + (", ..." if len(names) > 4 else "")
    return f"argument{'s' if len(names) > 1 else ''} {shown}"


def fn_name(fn: Any) -> str:
    """A short readable name for a traced callable (a module shows as its class)."""
    name = getattr(fn, "__qualname__", None)
    if isinstance(name, str):
        return name
    if callable(getattr(fn, "forward", None)):
        return f"{type(fn).__qualname__}.forward"
    return type(fn).__qualname__


def _signature_target(fn: Callable) -> Callable:
    # A module instance is called through ``forward``; its ``__call__`` takes ``*args``.
    if not (inspect.isfunction(fn) or inspect.ismethod(fn)) and callable(
        getattr(fn, "forward", None)
    ):
        return fn.forward
    return fn


def positional_namer(fn: Callable) -> Callable[[int], str]:
    """A function giving the parameter name of ``fn``'s ``i``-th positional argument."""
    try:
        params = list(inspect.signature(_signature_target(fn)).parameters.values())
    except (TypeError, ValueError):
        params = []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    positional = [p.name for p in params if p.kind in kinds]
    var = next((p.name for p in params if p.kind is inspect.Parameter.VAR_POSITIONAL), None)

    def name(i: int) -> str:
        if i < len(positional):
            return positional[i]
        return f"{var or 'args'}[{i - len(positional)}]"

    return name


def argument_labeler(fn: Callable, positions: Sequence[int] | None = None
                     ) -> Callable[[tuple], str]:
    """A function naming a leaf of ``(args, kwargs)`` by ``fn``'s parameter name and the key
    path inside that argument (``params['w']``, ``model.weight``).

    ``positions[k]`` is the index in ``fn``'s signature of the ``k``-th traced positional
    argument (a transform that traces only the differentiated arguments passes ``argnums``).
    """
    name = positional_namer(fn)

    def label(path: tuple) -> str:
        if len(path) < 2:
            return "args"
        first, key, rest = path[0], path[1], path[2:]
        if getattr(first, "idx", None) == 0:  # positional arguments
            i = key.idx
            if positions is not None and i < len(positions):
                i = positions[i]
            return name(i) + tree.keystr(rest)
        return str(getattr(key, "key", key)) + tree.keystr(rest)  # keyword arguments

    return label


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
        if what.startswith(("bool", "use as an index")):
            advice = (
                "Python control flow (if, while, and, or) cannot depend on a traced value. "
                "Instead, use lucid.where(cond, a, b) to choose between values, "
                "lucid.cond(pred, true_fn, false_fn, *operands) for branches, or "
                "lucid.while_loop(cond_fn, body_fn, init) for loops; or compute the condition "
                "outside the traced function and pass it as a static argument "
                "(static_argnums)."
            )
        else:
            advice = (
                "A traced value has no data yet. Instead, return it from the function and "
                "convert it outside (result.item(), result.numpy()), or keep computing with "
                "lucid ops; for control flow use lucid.where / lucid.cond / lucid.while_loop."
            )
        return TracerError(
            f"{what} needs a concrete value, but this {self.aval!r} tensor is symbolic inside "
            f"{self.kind}; it depends on {_deps_text(self.deps)}.{_where()}\n{advice}"
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

    def note_write(self, target: Tensor) -> None:
        """``target`` (maybe a concrete tensor the trace never read) is about to take this
        value in place: register it with the trace, so the write becomes a mutation and the
        tensor is restored when the trace ends."""
        if self.trace.active and type(target._data) is np.ndarray:
            self.trace.watch(target)  # a write is no read: no graph input is needed for it

    def __repr__(self) -> str:
        return f"{self.var.aval!r}"


class _Saved:
    """A lifted tensor's state when the trace first read it, to detect and undo mutations."""

    __slots__ = ("data", "grad", "grad_fn", "requires_grad", "tensor", "var", "version")

    def __init__(self, t: Tensor, var: Var | None) -> None:
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
    """A side effect of a traced function: a tensor's ``kind`` ("data" or "grad") becomes
    graph output number ``index`` (or None, for ``p.grad = None``).

    The tensor is ``target`` (one the function read from its closure), or, when ``arg`` is
    set, the explicit argument number ``arg`` of the call (a module passed as an argument has
    its buffers updated): a later call writes to the tensors it is given.
    """

    __slots__ = ("arg", "index", "kind", "target")

    def __init__(self, target: Tensor | None, kind: str, index: int | None,
                 arg: int | None = None) -> None:
        self.target = target
        self.kind = kind
        self.index = index
        self.arg = arg

    def tensor(self, flat_in: Sequence[Tensor] | None) -> Tensor:
        """The tensor this mutation writes to, given the call's flattened tensor inputs."""
        if self.arg is None:
            assert self.target is not None
            return self.target
        if flat_in is None:
            raise LucidError("internal error: a mutation of an argument needs the inputs")
        return flat_in[self.arg]

    def __repr__(self) -> str:
        who = f"argument {self.arg}" if self.arg is not None else \
            f"{self.target.dtype.name}{list(self.target.shape)} tensor"  # type: ignore[union-attr]
        return f"Mutation({who}.{self.kind} <- output {self.index})"


class GraphTrace:
    """The interpreter that records binds as graph nodes."""

    def __init__(self, name: str = "a traced function") -> None:
        self.name = name
        self.inputs: list[Var] = []
        self.nodes: list[Node] = []
        self.active = True
        self.lifted: dict[int, _Saved] = {}
        # The state of every concrete tensor the trace read or may write, as it was before the
        # trace touched it: to report writes as mutations and undo them at the end. Lifting a
        # tensor adds it; :meth:`watch` adds tensors that may be written before any read
        # (``model.zero_grad()``, ``buf.fill_(0)``).
        self.original: dict[int, _Saved] = {}
        # Names of concrete tensors that are arguments of the user's function although they
        # are captured, not traced (a transform's non-differentiated arguments): errors name
        # them like traced arguments.
        self.names: dict[int, tuple[Tensor, str]] = {}
        # Explicit inputs: the tracer, its first value and its first .grad, to see writes.
        self.explicit: list[tuple[Tensor, Traced, Tensor | None]] = []

    def watch(self, t: Tensor) -> None:
        """Remember concrete tensor ``t``'s state now, so that a write to it is seen (and
        undone) even when the function never reads it."""
        if type(t._data) is np.ndarray and id(t) not in self.original:
            self.original[id(t)] = _Saved(t, None)

    def name_captured(self, t: Tensor, label: str) -> None:
        """Name the concrete tensor ``t`` (read by the function, lifted on first use)."""
        self.names[id(t)] = (t, label)

    # -------------------------------------------------------------- values

    def new_input(self, aval: ShapedArray, device: Device | None = None, label: str = "",
                  requires_grad: bool = False, grad: Tensor | None = None) -> Tensor:
        """An explicit graph input, as a tracer tensor. ``grad`` is the argument's current
        ``.grad`` (read through the tracer, so a traced backward accumulates onto it)."""
        var = Var(aval)
        self.inputs.append(var)
        traced = Traced(var, self, frozenset((label,)) if label else frozenset())
        t = Tensor._make(traced, device)
        t._requires_grad = requires_grad and aval.dtype.category == FLOAT
        t.grad = grad
        self.explicit.append((t, traced, grad))
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
        if saved is None:
            saved = _Saved(t, Var(ShapedArray(tuple(t.shape), t.dtype)))
            self.lifted[id(t)] = saved
            self.original.setdefault(id(t), saved)
        assert saved.var is not None
        return saved.var

    def _deps_of(self, t: Tensor) -> frozenset[str]:
        d = t._data
        if type(d) is Traced and d.trace is self:
            return d.deps
        named = self.names.get(id(t))
        return frozenset((named[1],)) if named is not None and named[0] is t else frozenset()

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

    def abort(self) -> None:
        """End a trace that raised: undo its mutations and retire its tracers."""
        for saved in self.original.values():
            saved.restore()
        self.active = False

    def finish(self, outputs: Sequence[Tensor]) -> tuple[Graph, list[Tensor], list[Mutation]]:
        """Close the trace: the graph (explicit inputs, then lifted ones; outputs, then
        mutated values), the lifted tensors in input order, and the mutations."""
        out_vars = [self.var_of(t) for t in outputs]
        mutations: list[Mutation] = []
        extra: list[Var] = []
        for k, (t, first, grad0) in enumerate(self.explicit):
            if t._data is not first:
                extra.append(self.var_of(t))
                mutations.append(Mutation(None, "data", len(out_vars) + len(extra) - 1, k))
            if t.grad is not grad0:
                if t.grad is None:
                    mutations.append(Mutation(None, "grad", None, k))
                else:
                    extra.append(self.var_of(t.grad))
                    mutations.append(Mutation(None, "grad", len(out_vars) + len(extra) - 1, k))
        for saved in list(self.original.values()):
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
        for saved in self.original.values():
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

    def apply_mutations(self, flat_out: Sequence[Tensor | None], flat_in: Sequence[Tensor]
                        ) -> None:
        """Write the mutated values back into their tensors (as in-place updates)."""
        apply_mutations(self.mutations, flat_out, flat_in)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the graph on new arguments (same structure, shapes and dtypes as traced) and
        apply the side effects the traced function had."""
        flat_in = self.flat_inputs(args, kwargs)
        for k, (x, v) in enumerate(zip(flat_in, self.graph.inputs)):
            if tuple(x.shape) != v.aval.shape or x.dtype is not v.aval.dtype:
                kind = "argument" if k < len(self.tensor_pos) else "captured tensor"
                raise TypeError(
                    f"traced function: {kind} {k} is {ShapedArray(tuple(x.shape), x.dtype)!r} "
                    f"but was traced as {v.aval!r}; trace it again for new shapes or dtypes"
                )
        flat = eval_graph(self.graph, flat_in)
        self.apply_mutations(flat, flat_in)
        return self.unflatten_outputs(flat[: len(self.out_pos)])


def apply_mutations(mutations: Sequence[Mutation], flat_out: Sequence[Tensor | None],
                    flat_in: Sequence[Tensor] | None = None) -> None:
    """Write traced side effects back: data as an in-place copy, grads by assignment.
    ``flat_in`` (the call's flattened tensor inputs) resolves mutations of arguments. A data
    value given as ``None`` was already written into its tensor's array (by a whole-plan
    driver): only the tensor's version moves on."""
    for m in mutations:
        target = m.target if m.arg is None else m.tensor(flat_in)
        if m.kind == "grad":
            target.grad = None if m.index is None else flat_out[m.index]
            continue
        # Like the in-place updates it replays (optimizer steps, running statistics, run
        # under no_grad), the write carries no autograd history: a parameter stays a leaf.
        value = flat_out[m.index]
        if value is None:
            target._vc.value += 1
            continue
        dst, src = target._data, value._data
        if (type(dst) is np.ndarray and type(src) is np.ndarray and dst.flags.writeable
                and dst.shape == src.shape and dst.dtype == src.dtype):
            np.copyto(dst, src)  # the common case (a compiled step), without dispatch
            target._vc.value += 1
        else:
            with no_grad():
                target._assign(value.detach(), "traced in-place update")


def _tensors_in(obj: Any, out: list[Tensor], depth: int = 0) -> None:
    """Append the tensors held by ``obj``: a tensor, a module (its parameters and buffers), an
    optimizer (its parameters and state), or a dict / list / tuple of those."""
    if isinstance(obj, Tensor):
        out.append(obj)
    elif callable(getattr(obj, "named_parameters", None)) and hasattr(obj, "_parameters"):
        out.extend(x for x in tree.leaves(obj) if isinstance(x, Tensor))
    elif isinstance(getattr(obj, "param_groups", None), list):  # an optimizer
        for group in obj.param_groups:
            _tensors_in(group.get("params", ()), out, depth + 1)
        state = getattr(obj, "state", None)
        if isinstance(state, dict):
            for v in state.values():
                _tensors_in(v, out, depth + 1)
    elif depth < 2 and isinstance(obj, (list, tuple)):
        for v in obj:
            _tensors_in(v, out, depth + 1)
    elif depth < 2 and isinstance(obj, dict):
        for v in obj.values():
            _tensors_in(v, out, depth + 1)


def _code_names(code: Any) -> set[str]:
    names = set(code.co_names)
    for c in code.co_consts:
        if inspect.iscode(c):  # nested functions and lambdas
            names |= _code_names(c)
    return names


def reachable_tensors(fn: Any, depth: int = 0) -> list[Tensor]:
    """Tensors ``fn`` can reach without being given them: those of a module called as ``fn``
    or owning the bound method ``fn``, of its closure cells and of the globals its code names
    (following functions found there a few levels deep, e.g. a transform's wrapper).

    The trace watches them, so that a write before any read (``model.zero_grad()`` setting
    ``.grad`` to None, ``buf.zero_()``) is reported and undone like any other write. Tensors
    reached in other ways are still handled when first read.
    """
    objs: list[Any] = []
    seen: set[int] = set()
    while id(fn) not in seen:
        seen.add(id(fn))
        if inspect.ismethod(fn):
            objs.append(fn.__self__)
            fn = fn.__func__
        elif hasattr(fn, "func") and hasattr(fn, "args") and hasattr(fn, "keywords"):
            objs.extend(fn.args)  # functools.partial
            objs.extend(fn.keywords.values())
            fn = fn.func
        elif not inspect.isfunction(fn) and callable(getattr(fn, "forward", None)):
            objs.append(fn)  # a module
            fn = fn.forward
        else:
            break
    if inspect.isfunction(fn):
        for cell in fn.__closure__ or ():
            with contextlib.suppress(ValueError):  # an empty cell has no contents
                objs.append(cell.cell_contents)
        g = fn.__globals__
        if depth == 0 or not os.path.abspath(fn.__code__.co_filename).startswith(_LUCID_DIR):
            objs.extend(g[n] for n in _code_names(fn.__code__) if n in g)
    out: list[Tensor] = []
    for o in objs:
        if depth < 3 and (inspect.isfunction(o) or inspect.ismethod(o)):
            out.extend(reachable_tensors(o, depth + 1))
        else:
            _tensors_in(o, out)
    return out


def trace(fn: Callable, args: tuple, kwargs: dict | None = None, *, name: str | None = None,
          requires_grad: bool | None = None, label: Callable[[tuple], str] | None = None,
          captured: Sequence[tuple[Tensor, str]] = ()) -> TracedFunction:
    """Trace ``fn(*args, **kwargs)``: tensor leaves of the arguments become graph inputs.

    ``requires_grad`` forces the tracers' requires_grad flag (None keeps each argument's own),
    so an eager ``backward()`` inside ``fn`` reaches them. ``label`` names an argument leaf by
    its key path in ``(args, kwargs)`` for error messages (default: ``fn``'s parameter names);
    ``captured`` names concrete tensors that ``fn`` reads without their being traced.
    """
    kwargs = kwargs or {}
    leaves_p, in_tree = tree.flatten_with_path((args, kwargs))
    label = label or argument_labeler(fn)
    t = GraphTrace(name or f"the trace of {fn_name(fn)}")
    for c, c_label in captured:
        t.name_captured(c, c_label)
    for r in reachable_tensors(fn):
        t.watch(r)
    push_interpreter(t)
    try:
        leaves, tensor_pos = [], []
        for i, (path, x) in enumerate(leaves_p):
            if isinstance(x, Tensor):
                rg = x.requires_grad if requires_grad is None else requires_grad
                x = t.new_input(ShapedArray(tuple(x.shape), x.dtype), x._device, label(path), rg,
                                x.grad)
                tensor_pos.append(i)
            leaves.append(x)
        a, kw = tree.unflatten(in_tree, leaves)
        out = fn(*a, **kw)
    except BaseException:
        pop_interpreter(t)
        t.abort()
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
        t.abort()
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
    "argument_labeler", "positional_namer", "fn_name",
]
