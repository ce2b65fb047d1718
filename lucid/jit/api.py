"""``lucid.jit``: trace a function (or a Module) once per input signature, optimize the graph,
lower it to fused Numba kernels, and run the plan on later calls.

The cache key of a call is the pytree structure of the arguments (static leaves by value), the
shape, dtype and device of every tensor leaf, the static arguments, grad mode and the default
dtype. Tensors the function reads from its closure (a module's parameters, optimizer state)
are implicit inputs: each call passes their current values, so updates made after wrapping are
seen without recompiling. Values the function writes in place (``p.grad``, an optimizer step,
BatchNorm statistics) are outputs of the plan, written back after each call.

Kernels are shape-generic, so a new batch size re-runs the (cheap) tracing and planning and
finds every kernel already built.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import config, tree
from .. import dtypes as _dt
from ..autograd.graph import record as _record_tape
from ..autograd.mode import _state as _grad_state
from ..autograd.mode import is_grad_enabled
from ..errors import LucidError
from ..ops.registry import primitive
from ..tensor import Tensor
from . import guards
from .cache import STATS
from .executor import FusedStep, Plan
from .graph import format_graph
from .trace import TracedFunction, argument_labeler, trace


class Lowered:
    """What ``jitted.lower(*args)`` returns: the optimized graph, the generated source and the
    number of generated kernels."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    @property
    def graph(self) -> str:
        """The optimized graph, as text."""
        return format_graph(self.plan.graph)

    @property
    def source(self) -> str:
        """The generated Numba source of every fused kernel."""
        return "\n\n".join(self.plan.sources)

    @property
    def kernels(self) -> int:
        """How many fused kernels the plan runs."""
        return self.plan.kernels

    @property
    def steps(self) -> list[str]:
        """One line per step of the plan: a kernel or a primitive."""
        return [s.name for s in self.plan.steps]


class _Entry:
    """One traced signature: the traced function, its plan, and (built on first need) the
    plan of its backward graph, for eager autograd through a compiled forward."""

    __slots__ = ("_bwd", "any_out_grad", "inplace", "lifted_avals", "n_user_out", "out_grad",
                 "plan", "recording", "single_out", "traced")

    def __init__(self, traced: TracedFunction, plan: Plan, out_grad: list[bool],
                 n_explicit: int) -> None:
        self.traced = traced
        self.plan = plan
        self.lifted_avals = [(tuple(t.shape), t._data.dtype) for t in traced.lifted]
        self.n_user_out = len(traced.out_pos)
        # Which outputs carried autograd history when traced; a function that ran its own
        # backward (it wrote .grad) hands back plain values, like an eager training step.
        ran_backward = any(m.kind == "grad" for m in traced.mutations)
        self.out_grad = [g and not ran_backward for g in out_grad]
        self.any_out_grad = any(self.out_grad)
        # The function returns one tensor: no pytree to rebuild.
        self.single_out = traced.out_tree == _LEAF_TREEDEF and self.n_user_out == 1
        self.inplace = _inplace_pairs(traced, plan, n_explicit)
        self._bwd: dict[int, tuple[Any, Plan]] = {}

    def backward_plan(self, index: int) -> tuple[Any, Plan]:
        """Joint graph and plan for the cotangent of output ``index`` (inputs: the graph's
        inputs and that cotangent; outputs: the graph's outputs and every input's gradient)."""
        if index not in self._bwd:
            from .autodiff import backward_graph

            g = self.traced.graph
            wrt = [i for i, v in enumerate(g.inputs) if v.aval.dtype.category == _dt.FLOAT]
            joint = backward_graph(g, wrt)
            self._bwd[index] = (joint, Plan(joint))
        return self._bwd[index]

    def valid(self) -> bool:
        """The tensors read from the closure still have the shapes and dtypes traced with, and
        the Python values the trace depended on (guards) are unchanged."""
        for t, (s, d) in zip(self.traced.lifted, self.lifted_avals):
            a = t._data
            # (A tracer's dtype is lucid's: compare through the tensor then.)
            if a.shape != s or (a.dtype is not d and t.dtype.np != d):
                return False
        return self.recording.valid()


_LEAF_TREEDEF = tree.flatten(0)[1]


def _inplace_pairs(traced: TracedFunction, plan: Plan, n_explicit: int
                   ) -> tuple[tuple[int, int], ...]:
    """(output, input) pairs of a plan whose output (a tensor's new value, from an in-place
    update such as an optimizer step) a whole-plan driver may write straight into the input
    array it replaces, instead of handing it back to be copied there.

    Only for a freshly computed value (not an input or a view of one, which the write could
    overwrite while it is read), written to exactly one input of its shape and dtype, and no
    other output.
    """
    g = plan.graph
    lifted = {id(t): n_explicit + k for k, t in enumerate(traced.lifted)}
    producer = {n.out.id: n for n in g.nodes}
    input_ids = {v.id for v in g.inputs}
    uses: dict[int, int] = {}
    for v in g.outputs:
        uses[v.id] = uses.get(v.id, 0) + 1
    pairs: list[tuple[int, int]] = []
    targets: list[int] = []
    for m in traced.mutations:
        if m.kind != "data" or m.index is None:
            continue
        k = m.arg if m.arg is not None else lifted.get(id(m.target), -1)
        if k < 0:
            continue
        v = g.outputs[m.index]
        src = v
        while src.id in producer and producer[src.id].prim.view:
            src = producer[src.id].inputs[0]
        if src.id in input_ids or uses[v.id] != 1 or g.inputs[k].aval != v.aval:
            continue
        pairs.append((m.index, k))
        targets.append(k)
    return tuple(p for p in pairs if targets.count(p[1]) == 1)


def _jit_call_rule(*ins: Any, entry: _Entry, index: int) -> Any:
    return entry.traced.graph.outputs[index].aval


def _jit_call_impl(*arrays: np.ndarray, entry: _Entry, index: int) -> np.ndarray:
    return entry.plan.run(list(arrays))[index]


def _jit_call_vjp(g: Tensor, out: Any, *ins: Tensor, entry: _Entry, index: int) -> list[Any]:
    from ..ops.constant import constant
    from .graph import eval_graph

    joint, plan = entry.backward_plan(index)
    graph = entry.traced.graph
    cts = [g if k == index else constant(0, v.aval.shape, v.aval.dtype)
           for k, v in enumerate(graph.outputs)]
    args = list(ins) + cts
    n_out = len(graph.outputs)
    if all(type(a._data) is np.ndarray for a in args) and not is_grad_enabled():
        res = plan.run([a._data for a in args])
        grads = [Tensor._make(r) for r in res[n_out:]]
    else:  # create_graph or a surrounding trace: bind the primitives
        grads = eval_graph(joint, args)[n_out:]
    it = iter(grads)
    return [next(it) if v.aval.dtype.category == _dt.FLOAT else None for v in graph.inputs]


jit_call_p = primitive(
    "jit_call",
    shape_rule=_jit_call_rule,
    impl=_jit_call_impl,
    vjp=_jit_call_vjp,
    doc="Output `index` of a jit-compiled function; its VJP runs the compiled backward graph.",
)


def _tape_inputs(flat_in: list[Tensor], mutations: Sequence[Any]) -> list[Tensor]:
    """The inputs a tape node saves for a compiled call. A tensor the call then writes in place
    (BatchNorm's running statistics) is saved as a copy of the value the call read: the write
    would otherwise trip the tape's version check, and backward must replay the old value."""
    written = {id(m.tensor(flat_in)) for m in mutations if m.kind == "data"}
    if not written:
        return flat_in
    return [Tensor._make(t._data.copy(), t._device)
            if id(t) in written and not t._requires_grad else t for t in flat_in]


def _describe_aval(aval: tuple) -> str:
    shape, dtype, device = aval
    return f"{dtype.name}{list(shape)}" + ("" if str(device) == "cpu" else f"@{device}")


# Plans kept per cache key whose guards failed (they become valid again when the value does).
_MAX_ALTERNATES = 4


class DonatedTensor(Tensor):
    """A tensor given to a compiled call through ``donate_argnums``: its memory now belongs to
    the plan (it may already hold other values), so any use of it raises, as a deleted array
    does in JAX."""

    __slots__ = ()

    @property
    def _data(self) -> np.ndarray:  # type: ignore[override]
        raise LucidError("this tensor was donated to a lucid.jit call (donate_argnums) and its "
                         "buffer may have been reused; use the call's results instead")

    def __repr__(self) -> str:
        return "Tensor(<donated>)"


def _donate(t: Tensor) -> None:
    """Turn ``t`` into a :class:`DonatedTensor` (same object, so every reference sees it)."""
    t.__class__ = DonatedTensor


class Jitted:
    """A jit-compiled function (see :func:`jit`)."""

    def __init__(self, fn: Callable, static_argnums: Sequence[int] = (),
                 static_argnames: Sequence[str] = (), donate_argnums: Sequence[int] = ()) -> None:
        self.fn = fn
        self.static_argnums = tuple(static_argnums)
        self.static_argnames = tuple(static_argnames)
        self.donate_argnums = tuple(donate_argnums)
        self._cache: dict[Any, _Entry] = {}
        self._alternates: dict[Any, list[_Entry]] = {}  # key -> plans whose guards failed
        self._plain_trees: dict[int, Any] = {}  # argument count -> treedef of tensor-only calls
        functools.update_wrapper(self, fn)

    # ------------------------------------------------------------------ keys

    def _split(self, args: tuple, kwargs: dict) -> tuple[tuple, dict, tuple]:
        static = tuple((i, args[i]) for i in self.static_argnums if i < len(args)) + tuple(
            (k, kwargs[k]) for k in self.static_argnames if k in kwargs
        )
        dyn_args = tuple(None if i in self.static_argnums else a for i, a in enumerate(args))
        dyn_kwargs = {k: (None if k in self.static_argnames else v) for k, v in kwargs.items()}
        return dyn_args, dyn_kwargs, static

    def _key(self, args: tuple, kwargs: dict) -> tuple[Any, list[Tensor]]:
        if not kwargs and not self.static_argnums and all(isinstance(a, Tensor) for a in args):
            # The common call, tensors only: the same key as below, without walking a pytree.
            treedef = self._plain_trees.get(len(args))
            if treedef is None:
                treedef = self._plain_trees[len(args)] = tree.flatten((args, {}))[1]
            tensors = list(args)
            avals = tuple((t._data.shape, t.dtype, t._device) for t in tensors)
            return (treedef, avals, (), (), _grad_state.grad_enabled,
                    _dt.get_default_dtype()), tensors
        dyn_args, dyn_kwargs, static = self._split(args, kwargs)
        leaves, treedef = tree.flatten((dyn_args, dyn_kwargs))
        tensors = [x for x in leaves if isinstance(x, Tensor)]
        avals = tuple((t._data.shape, t.dtype, t._device) for t in tensors)
        others = tuple(x for x in leaves if not isinstance(x, Tensor))
        try:
            hash(others)
            hash(static)
        except TypeError as e:
            raise TypeError(f"jit: non-tensor arguments must be hashable (they are part of the "
                            f"cache key): {e}") from None
        key = (treedef, avals, others, static, is_grad_enabled(), _dt.get_default_dtype())
        return key, tensors

    # ------------------------------------------------------------------ compile and run

    def _compile(self, args: tuple, kwargs: dict, key: Any, why: str = "") -> _Entry:
        if config.log_compiles:
            reason = why or self._why(args, kwargs, key)
            print(f"lucid.jit: tracing {getattr(self.fn, '__qualname__', self.fn)}: {reason}",
                  file=sys.stderr)
        STATS.traces += 1
        out_grad: list[bool] = []

        def fn(*a: Any, **k: Any) -> Any:
            out = self.fn(*a, **k)
            out_grad.extend(t.requires_grad for t in tree.leaves(out) if isinstance(t, Tensor))
            return out

        with guards.recording() as rec:
            traced = trace(fn, args, kwargs,
                           name=f"jit of {getattr(self.fn, '__qualname__', '')}")
        entry = _Entry(traced, Plan(traced.graph), out_grad, len(traced.tensor_pos))
        entry.recording = rec
        return entry

    def _why(self, args: tuple, kwargs: dict, key: Any) -> str:
        """Why this call needs a trace: which argument's shape or dtype (or which other part
        of the cache key) differs from the closest signature already compiled."""
        if not self._cache:
            return "first call"
        same = [k for k in self._cache if k[0] == key[0] and len(k[1]) == len(key[1])]
        if not same:
            return "new argument structure " + str(key[0])
        parts = ("", "", "non-tensor arguments", "static arguments", "grad mode",
                 "default dtype", "module training modes", "module parameters replaced")
        dyn_args, dyn_kwargs, _ = self._split(args, kwargs)
        label = argument_labeler(self.fn)
        names = [label(p) for p, x in tree.leaves_with_path((dyn_args, dyn_kwargs))
                 if isinstance(x, Tensor)]

        def diffs(old: Any) -> list[str]:
            out = [f"{name}: {_describe_aval(a)} -> {_describe_aval(b)}"
                   for name, a, b in zip(names, old[1], key[1]) if a != b]
            out += [f"{parts[i]} changed" for i in range(2, min(len(key), len(old)))
                    if old[i] != key[i]]
            return out

        best = min((diffs(k) for k in same), key=len)
        return "; ".join(best) or "the cached plan's guards failed"

    def _entry(self, args: tuple, kwargs: dict) -> tuple[_Entry, list[Tensor]]:
        key, tensors = self._key(args, kwargs)
        entry = self._cache.get(key)
        why = ""
        if entry is not None and not entry.valid():
            # A Python value the plan baked in changed (an optimizer's learning rate, a
            # module's training flag). Keep that plan: it is valid again when the value comes
            # back (train/eval alternating every epoch).
            alternates = self._alternates.setdefault(key, [])
            alternates.insert(0, entry)
            entry = next((e for e in alternates if e.valid()), None)
            if entry is not None:
                alternates.remove(entry)
                self._cache[key] = entry
            else:
                del alternates[_MAX_ALTERNATES:]
                why = ("a Python value the cached plan read while tracing changed (an "
                       "optimizer hyper-parameter, a module's training flag)")
        if entry is None:
            entry = self._compile(args, kwargs, key, why)
            if entry.recording.cacheable:
                self._cache[key] = entry
            elif config.log_compiles:
                print(f"lucid.jit: not caching this trace ({'; '.join(entry.recording.reasons)})",
                      file=sys.stderr)
        else:
            STATS.hits += 1
        return entry, tensors

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if config.disable_jit:
            return self.fn(*args, **kwargs)
        entry, tensors = self._entry(args, kwargs)
        tf = entry.traced
        flat_in = tensors + tf.lifted
        inputs = [t._data for t in flat_in]
        for a in inputs:
            if type(a) is not np.ndarray:
                # Inside another transform (grad, vmap, an outer jit): run the graph's
                # primitives through the active interpreter.
                from .graph import eval_graph

                flat = eval_graph(tf.graph, flat_in)
                tf.apply_mutations(flat, flat_in)
                return tf.unflatten_outputs(flat[: entry.n_user_out])
        record = entry.any_out_grad and _grad_state.grad_enabled and any(
            t._requires_grad for t in flat_in)
        if self.donate_argnums and not record:
            donated = self._donated(args, tensors)
            outs = entry.plan.run(inputs, entry.inplace, [k for k, _ in donated])
            for _, t in donated:
                _donate(t)
        else:
            # The tape saves the values the call read, so nothing may be overwritten in place
            # then.
            outs = entry.plan.run(inputs, () if record else entry.inplace)
        flat = [None if a is None else Tensor._make(a) for a in outs]
        if record:
            # Eager autograd through a compiled call: each output gets one tape node whose VJP
            # runs the compiled backward graph.
            saved = _tape_inputs(flat_in, tf.mutations)
            for k, (t, g) in enumerate(zip(flat, entry.out_grad)):
                if g:
                    _record_tape(jit_call_p, saved, {"entry": entry, "index": k}, t)
        if tf.mutations:
            tf.apply_mutations(flat, flat_in)
        if entry.single_out:
            return flat[0]
        return tf.unflatten_outputs(flat[: entry.n_user_out])

    def _donated(self, args: tuple, tensors: list[Tensor]) -> list[tuple[int, Tensor]]:
        """(position among the call's tensors, tensor) for each tensor of a donated argument."""
        ids = {id(t) for i in self.donate_argnums if i < len(args)
               for t in tree.leaves(args[i]) if isinstance(t, Tensor)}
        return [(k, t) for k, t in enumerate(tensors) if id(t) in ids]

    def lower(self, *args: Any, **kwargs: Any) -> Lowered:
        """Trace and plan for these arguments (compiling the kernels), without running."""
        entry, _ = self._entry(args, kwargs)
        return Lowered(entry.plan)

    def clear_cache(self) -> None:
        """Forget the traced plans (kernels stay in the kernel cache)."""
        self._cache.clear()
        self._alternates.clear()


class JittedModule(Jitted):
    """``lucid.jit(module)``: calls the module's forward through a compiled plan and otherwise
    behaves like the module (attributes, ``named_parameters``, ``train``/``eval``)."""

    def __init__(self, module: Any, **kwargs: Any) -> None:
        self.module = module
        super().__init__(lambda *a, **k: module(*a, **k), **kwargs)

    def _key(self, args: tuple, kwargs: dict) -> tuple[Any, list[Tensor]]:
        key, tensors = super()._key(args, kwargs)
        mods = list(self.module.modules())
        modes = tuple(m.training for m in mods)
        # A parameter or buffer *replaced* by another tensor (``m.weight = Parameter(...)``)
        # is a different input, not an update: its identity is part of the key.
        held = tuple(id(t) for m in mods for d in (m._parameters, m._buffers)
                     for t in d.values())
        return (*key, modes, held), tensors

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["module"], name)

    # Special methods skip __getattr__: forward the container protocol (Sequential, ModuleList).
    def __getitem__(self, idx: Any) -> Any:
        return self.module[idx]

    def __len__(self) -> int:
        return len(self.module)

    def __iter__(self) -> Any:
        return iter(self.module)

    def __repr__(self) -> str:
        return f"jit({self.module!r})"


def jit(fn: Any = None, *, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (),
        donate_argnums: int | Sequence[int] = ()) -> Any:
    """Compile ``fn`` (a function or an ``nn.Module``) with lucid's tracer and Numba.

    Use as ``lucid.jit(f)``, ``@lucid.jit`` or ``@lucid.jit(static_argnums=...)``. Static
    arguments are part of the cache key and are passed to the function as Python values.
    ``donate_argnums``: positional arguments whose tensors the caller gives up; their buffers
    join the plan's buffer pool once the call no longer reads them (so results and temporaries
    reuse that memory), and the tensors raise on any later use, as donated arrays in JAX do.
    ``LUCID_DISABLE_JIT=1`` (or ``lucid.config.disable_jit = True``) runs functions eagerly.
    """
    if isinstance(donate_argnums, int):
        donate_argnums = (donate_argnums,)
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)

    def wrap(f: Any) -> Any:
        # A Module (duck-typed: lucid.nn sits above lucid.jit) keeps its module interface.
        if hasattr(f, "forward") and hasattr(f, "named_parameters") and hasattr(f, "modules"):
            return JittedModule(f, static_argnums=nums, static_argnames=names,
                                donate_argnums=donate_argnums)
        return Jitted(f, nums, names, donate_argnums)

    return wrap if fn is None else wrap(fn)


def stats() -> dict[str, int]:
    """Counts of traces, kernel compilations, disk-cache loads and cache hits."""
    return STATS.as_dict()


__all__ = ["jit", "Jitted", "JittedModule", "Lowered", "DonatedTensor", "stats", "FusedStep"]
