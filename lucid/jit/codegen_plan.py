"""Whole-plan drivers: a small plan run as ONE compiled Numba call.

A plan (:mod:`lucid.jit.executor`) runs its steps from Python: a list lookup and a call per
step, 3-4 microseconds each. For a small problem (a batch-1 MLP training step is ~50 steps over
a few hundred elements) that dispatch is nearly all of the time. A *driver* is one generated
``@njit`` function that runs every step of the plan in order:

- a fused step calls the plan's own generated kernel (``flat`` when its operands are known to
  be C-contiguous, else ``nd``), so the driver reuses kernels that are already compiled;
- a coarse primitive calls a small Numba function: matrix products, reshapes and softmaxes
  from :mod:`lucid.kernels.cpu.prims`, and, for reductions, gather/scatter and unfused
  elementwise functions (exp, log, ...), a generated module per kind of step (its source names
  the operation, rank and axes, never sizes);
- views (transposes, broadcasts, slices) are written inline.

Compiling a function that only calls compiled functions is quick (a few tenths of a second for
~50 steps), far quicker than compiling the same loops inline, and every callee is shared with
other plans and cached on disk.

- **Shape-generic.** Shape-valued parameters (reshape targets, broadcast shapes, constant
  shapes, slice bounds) are read from an integer array argument (``dims``), never written into
  the source, and loop bounds come from the arrays. Plans that differ only in sizes share one
  driver source, one cached module and one compilation.
- **Cached** like the fused kernels: a module's file name is the hash of its source
  (:func:`lucid.jit.cache.load_module`), with ``cache=True``, so a fresh process loads its
  machine code from disk. The source carries a hash of ``prims.py``, so editing that file makes
  new drivers instead of loading stale code.
- **Used where it pays.** A plan gets a driver only if every step has a Numba form here, no
  value is larger than :data:`MAX_ELEMENTS` and no matrix product than :data:`MAX_MATMUL`; the
  driver is compiled lazily, on the plan's :data:`WARM_CALLS`-th call, so plans run once or
  twice (a cold start, a new batch size, most tests) never pay for it. A call whose arrays are
  not all C-contiguous, aligned and writeable, or that fails inside the driver (an index out of
  range), runs the plan's steps instead, which give the reference behaviour and error message.
  A driver that fails to compile is dropped.
- **In-place results.** The caller may let the driver write an output straight into an input
  array (an optimizer step's new parameter values) once everything else has run; that output
  comes back as ``None``.

``LUCID_JIT_DRIVER=0`` turns drivers off.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import config
from ..dtypes import _BY_NP
from ..ops.registry import PRIMITIVES, Elementwise, ShapedArray
from . import cache
from .codegen_cpu import _dtype_name, _expr, _literal
from .graph import Node, Var

if TYPE_CHECKING:
    from .executor import Plan

#: A plan's driver is compiled on its ``WARM_CALLS``-th call; earlier calls run the steps.
WARM_CALLS = 10
#: A plan gets a driver only if none of its values (inputs included) has more elements: beyond
#: that the dispatch a driver saves is small next to the work.
MAX_ELEMENTS = 1 << 18
#: ... and no matrix product larger than this many multiply-adds (``m * n * k``): OpenBLAS runs
#: larger products on several threads, whose wake-ups after a driver's short calls can cost
#: milliseconds on a loaded machine, where the plan's steps (batch 64 MLP: ~0.6 ms) do not.
MAX_MATMUL = 1 << 18
#: Drivers on or off (``LUCID_JIT_DRIVER=0`` turns them off).
ENABLED = os.environ.get("LUCID_JIT_DRIVER", "1").strip().lower() not in ("0", "false", "no",
                                                                           "off")

_DECORATOR = '@njit(cache=True, nogil=True, error_model="numpy")'
_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float32", "float64"}
_REDUCE = {"sum", "prod", "max", "min"}
_INDEX = {"gather", "take_along", "scatter_add", "put_along_add", "scatter"}
_OTHER = {"matmul", "softmax", "log_softmax", "full", "reshape", "permute", "broadcast_to",
          "slice"}
# Elementwise primitives whose scalar template Numba cannot compile (np.round with decimals).
_NO_INLINE = {"round", "full"}


class _UnsupportedError(Exception):
    """The plan has a step this module has no Numba form for."""


def _np_name(dtype: Any) -> str:
    """``np.<name>`` spelling of a NumPy dtype."""
    d = np.dtype(dtype)
    return "bool_" if d == np.bool_ else d.name


def _tuple(items: Sequence[str]) -> str:
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _index(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "()"


def _module(body: list[str], doc: str) -> str:
    return "\n".join([f'"""{doc}"""', "import math", "", "import numpy as np",
                      "from numba import njit", "", "", _DECORATOR, *body]) + "\n"


def _loops(shape: str, rank: int, indent: str = "    ") -> tuple[list[str], list[str], str]:
    lines, idx = [], []
    for d in range(rank):
        lines.append(f"{indent}for i{d} in range({shape}[{d}]):")
        idx.append(f"i{d}")
        indent += "    "
    return lines, idx, indent


# ----------------------------------------------------------------------------- step modules
# Each returns the source of a module with one function ``run``; the source depends on the
# operation, rank, axes and dtypes only, so equal steps of different plans share it.


def _elementwise_source(name: str, params: dict, out_dtype: Any, n_in: int, rank: int) -> str:
    aval = ShapedArray((), _BY_NP[np.dtype(out_dtype)])
    node = Node(PRIMITIVES[name], [], params, Var(aval))
    args = [f"x{k}" for k in range(n_in)]
    loops, idx, ind = _loops("a0.shape", rank)
    at = _index(idx)
    body = [f"def run({', '.join(f'a{k}' for k in range(n_in))}):",
            f"    out = np.empty(a0.shape, np.{_np_name(out_dtype)})", *loops,
            *[f"{ind}x{k} = a{k}[{at}]" for k in range(n_in)],
            f"{ind}out[{at}] = {_expr(node, args)}", "    return out"]
    return _module(body, f"lucid driver step: {name} over rank {rank}.")


def _reduce_source(name: str, rank: int, axes: tuple[int, ...], keepdims: bool,
                   in_dtype: Any, out_dtype: Any) -> str:
    out_np = _np_name(out_dtype)
    floating = np.dtype(out_dtype).kind == "f"
    # Float sums and products accumulate in float64 (NumPy sums pairwise; a plain float32 loop
    # would drift on long rows), integers in their own type (wrapping alike).
    acc = "float64" if floating and name in ("sum", "prod") else out_np
    acc_shape = _tuple(["1" if d in axes else f"x.shape[{d}]" for d in range(rank)])
    if name == "sum":
        init = f"np.zeros({acc_shape}, np.{acc})"
    elif name == "prod":
        init = f"np.ones({acc_shape}, np.{acc})"
    else:
        if floating:
            value = "-np.inf" if name == "max" else "np.inf"
        else:
            info = np.iinfo(np.dtype(in_dtype))
            value = repr(int(info.min if name == "max" else info.max))
        init = f"np.full({acc_shape}, np.{acc}({value}))"
    loops, idx, ind = _loops("x.shape", rank)
    a = f"acc[{_index(['0' if d in axes else f'i{d}' for d in range(rank)])}]"
    v = f"x[{_index(idx)}]"
    if name == "sum":
        update = [f"{ind}{a} += {v}"]
    elif name == "prod":
        update = [f"{ind}{a} *= {v}"]
    else:
        # NaN propagates, as in np.max: once the accumulator is NaN no comparison replaces it.
        cmp = ">" if name == "max" else "<"
        update = [f"{ind}v = {v}", f"{ind}if v {cmp} {a} or v != v:", f"{ind}    {a} = v"]
    kept = _tuple([f"x.shape[{d}]" for d in range(rank) if d not in axes])
    body = ["def run(x):", f"    acc = {init}", *loops, *update,
            f"    out = acc.astype(np.{out_np})" if acc != out_np else "    out = acc",
            "    return out" if keepdims else f"    return out.reshape({kept})"]
    return _module(body, f"lucid driver step: {name} over axes {axes} of rank {rank}"
                         f"{' (keepdims)' if keepdims else ''}.")


def _index_source(name: str, rank: int, dim: int) -> str:
    loops, idx, ind = _loops("idx.shape", rank)
    at = _index(idx)
    moved = _index(["j" if d == dim else f"i{d}" for d in range(rank)])
    gather = name in ("gather", "take_along")
    head = ["def run(x, idx):", "    out = np.empty(idx.shape, x.dtype)"] if gather else \
        ["def run(x, idx, src):", "    out = x.copy()"]
    if gather:
        op = f"out[{at}] = x[{moved}]"
    else:
        op = f"out[{moved}] {'=' if name == 'scatter' else '+='} src[{at}]"
    body = [*head, f"    n = x.shape[{dim}]", *loops, f"{ind}j = idx[{at}]",
            # Out of range (or negative, which NumPy would wrap): raise, and the caller reruns
            # the call through the plan's steps, which give the reference error.
            f"{ind}if j < 0 or j >= n:", f'{ind}    raise IndexError("{name}: index out of range")',
            f"{ind}{op}", "    return out"]
    return _module(body, f"lucid driver step: {name} along dim {dim} of rank {rank}.")


# ----------------------------------------------------------------------------- the driver


_prims_tag: str | None = None


def _prims_hash() -> str:
    """A hash of prims.py: part of every driver's source, so drivers compiled against an older
    prims.py are never loaded (Numba's cache does not track the functions a driver calls)."""
    global _prims_tag
    if _prims_tag is None:
        from ..kernels.cpu import prims

        with open(prims.__file__, "rb") as f:
            _prims_tag = hashlib.sha256(f.read()).hexdigest()[:16]
    return _prims_tag


class _Source:
    """Writes one driver's module source and its ``dims`` array, from a plan's steps."""

    def __init__(self, plan: Plan, inplace: Sequence[tuple[int, int]]) -> None:
        self.plan = plan
        self.inplace = list(inplace)
        self.lines: list[str] = []
        self.header: list[str] = []
        self.loaded: dict[str, str] = {}  # module source -> its global name in the driver
        self.dims: list[int] = []
        self.count = 0
        # Per slot: its name, the array layout Numba sees ("C", "F" or "A"), rank and dtype.
        self.name: dict[int, str] = {}
        self.layout: dict[int, str] = {}
        self.rank: dict[int, int] = {}
        self.dtype: dict[int, np.dtype] = {}
        for k, (s, v) in enumerate(zip(plan.in_slots, plan.graph.inputs)):
            self.define(s, f"a{k}", "C", len(v.aval.shape), v.aval.dtype.np)

    def define(self, slot: int, name: str, layout: str, rank: int, dtype: Any) -> None:
        if np.dtype(dtype).name not in _DTYPES:
            raise _UnsupportedError(f"dtype {np.dtype(dtype).name}")
        self.name[slot], self.layout[slot] = name, layout
        self.rank[slot], self.dtype[slot] = rank, np.dtype(dtype)

    def fresh(self, prefix: str = "v") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    def dim(self, value: int) -> str:
        """An expression reading ``value`` from ``dims`` (sizes are never literals)."""
        self.dims.append(int(value))
        return f"dims[{len(self.dims) - 1}]"

    def shape(self, values: Sequence[int]) -> str:
        return _tuple([self.dim(v) for v in values])

    def load(self, source: str, attr: str) -> str:
        """A global name bound to ``attr`` of the generated module with this source."""
        if source not in self.loaded:
            self.loaded[source] = f"_m{len(self.loaded)}"
            self.header.append(f"{self.loaded[source]} = _load({source!r})")
        glob = f"{self.loaded[source]}_{attr}"
        line = f"{glob} = {self.loaded[source]}.{attr}"
        if line not in self.header:
            self.header.append(line)
        return glob

    # ---------------------------------------------------------------- steps

    def fused(self, st: Any) -> None:
        ins = [self.name[s] for s in st.ins]
        rank = len(st.shape)
        reduce = getattr(st, "reduce", None) or [None] * len(st.outs)
        if len(reduce) != len(st.outs) or any(
                r is not None and (not isinstance(r, tuple) or len(r) != 3) for r in reduce):
            raise _UnsupportedError("a fused step of an unknown form")
        # The loop's shape from ``dims``: a kernel may read an operand before its broadcast
        # (a bias), so no operand's shape need be the group's.
        sh = self.fresh("s")
        self.emit(f"{sh} = {self.shape(st.shape)}" if rank else f"{sh} = ()")
        outs = []
        for d, r in zip(st.out_dtypes, reduce):
            o = self.fresh()
            if r is None:
                self.emit(f"{o} = np.empty({sh}, np.{_np_name(d)})")
            else:
                acc = _tuple(["1" if k in r[0] else f"{sh}[{k}]" for k in range(rank)])
                self.emit(f"{o} = np.zeros({acc}, np.{_np_name(r[2])})")
            outs.append(o)
        if st.flat is not None and all(self.layout[s] == "C" for s in st.ins):
            fn = self.load(st.source, "flat")
            n = self.dim(math.prod(st.shape))
            args = [f"ravel({x})" for x in ins + outs]
            self.emit(f"{fn}({', '.join([n, *args])})")
        else:
            fn = self.load(st.source, "nd")
            self.emit(f"{fn}({', '.join([sh, *ins, *outs])})")
        for slot, o, d, r in zip(st.outs, outs, st.out_dtypes, reduce):
            out_rank = rank
            if r is not None:
                # Each value gets its own name: Numba types a name once.
                axes, keepdims, acc_dt = r
                if np.dtype(acc_dt) != np.dtype(d):
                    o2 = self.fresh()
                    self.emit(f"{o2} = {o}.astype(np.{_np_name(d)})")
                    o = o2
                if not keepdims:
                    kept = [f"{sh}[{k}]" for k in range(rank) if k not in axes]
                    o2 = self.fresh()
                    self.emit(f"{o2} = {o}.reshape({_tuple(kept)})")
                    o, out_rank = o2, len(kept)
            self.define(slot, o, "C", out_rank, d)

    def prim(self, st: Any) -> None:
        name, p = st.name, st.params
        ins = [self.name[s] for s in st.ins]
        rank_in = self.rank[st.ins[0]] if st.ins else 0
        rank = len(st.shape)
        out = self.fresh()
        layout = "C"
        prim = PRIMITIVES.get(name)
        if prim is not None and isinstance(prim.lowering, Elementwise) \
                and name not in _NO_INLINE:
            src = _elementwise_source(name, p, st.dtype, len(ins), rank)
            self.emit(f"{out} = {self.load(src, 'run')}({', '.join(ins)})")
        elif name in _REDUCE:
            if self.dtype[st.ins[0]] == np.bool_:
                raise _UnsupportedError(f"{name} of bool")
            src = _reduce_source(name, rank_in, tuple(p["axes"]), bool(p["keepdims"]),
                                 self.dtype[st.ins[0]], st.dtype)
            self.emit(f"{out} = {self.load(src, 'run')}({ins[0]})")
        elif name in _INDEX:
            dim = p["axis"] if "axis" in p else p["dim"]
            src = _index_source(name, self.rank[st.ins[1]], dim)
            self.emit(f"{out} = {self.load(src, 'run')}({', '.join(ins)})")
        elif name == "matmul":
            if np.dtype(st.dtype).kind != "f" or rank not in (2, 3):
                raise _UnsupportedError(f"matmul of rank {rank} {np.dtype(st.dtype).name}")
            self.emit(f"{out} = matmul{rank}({ins[0]}, {ins[1]})")
        elif name == "full":
            dt = _dtype_name(ShapedArray((), _BY_NP[np.dtype(st.dtype)]))
            sh = self.shape(st.shape) if st.shape else "()"
            self.emit(f"{out} = np.full({sh}, {_literal(p['value'], dt)}, np.{dt})")
        elif name == "reshape":
            self.emit(f"{out} = reshape({ins[0]}, {self.shape(st.shape) if rank else '()'})")
        elif name == "permute":
            perm = tuple(p["perm"])
            src_layout = self.layout[st.ins[0]]
            if perm == tuple(range(len(perm))):
                self.define(st.out, ins[0], src_layout, rank, st.dtype)
                return
            if perm == (1, 0):
                # Numba types the transpose of a C array as Fortran-ordered: BLAS reads it as is.
                self.emit(f"{out} = {ins[0]}.T")
                layout = {"C": "F", "F": "C"}.get(src_layout, "A")
            else:
                self.emit(f"{out} = np.transpose({ins[0]}, {perm!r})")
                layout = "A"
        elif name == "broadcast_to":
            x = ins[0] if rank_in else f"reshape({ins[0]}, (1,))"  # Numba broadcasts rank >= 1
            self.emit(f"{out} = np.broadcast_to({x}, {self.shape(st.shape) if rank else '()'})")
            layout = "A"
        elif name == "slice":
            parts = [f"{self.dim(a)}:{self.dim(b)}:{self.dim(c)}"
                     for a, b, c in zip(p["starts"], p["stops"], p["steps"], strict=True)]
            self.emit(f"{out} = {ins[0]}[{', '.join(parts)}]")
            layout = "A"
        elif name in ("softmax", "log_softmax"):
            self.emit(f"{out} = softmax_along({ins[0]}, {p['axis']}, {name == 'log_softmax'})")
        else:
            raise _UnsupportedError(name)
        self.define(st.out, out, layout, rank, st.dtype)

    # ---------------------------------------------------------------- the module

    def build(self) -> tuple[str, list[int]]:
        """The driver module's source, and the output positions it returns (the others are
        written in place)."""
        from .executor import FusedStep, PrimStep

        plan = self.plan
        for st in plan.steps:
            if type(st) is FusedStep:
                self.fused(st)
            elif type(st) is PrimStep:
                self.prim(st)
            else:
                raise _UnsupportedError(type(st).__name__)
        # In-place results last, after every read of the arrays they overwrite.
        written = {o for o, _ in self.inplace}
        for o, i in self.inplace:
            s = plan.out_slots[o]
            fn = "copy_into" if self.rank[s] else "copy_into0"
            self.emit(f"{fn}(a{i}, {self.name[s]})")
        ret: list[str] = []
        positions: list[int] = []
        for k, s in enumerate(plan.out_slots):
            if k in written:
                continue
            # A value returned twice is two tensors to the caller: each gets its own copy.
            ret.append(f"{self.name[s]}.copy()" if k in plan.copy_outs else self.name[s])
            positions.append(k)
        args = ", ".join(["dims"] + [f"a{k}" for k in range(len(plan.in_slots))])
        src = [
            f'"""lucid plan driver: {len(plan.steps)} steps, {len(plan.in_slots)} inputs, '
            f'{len(plan.out_slots)} outputs."""',
            f"# prims {_prims_hash()}",
            "import numpy as np",
            "from numba import njit",
            "",
            "from lucid.jit.cache import load_module as _load",
            "from lucid.kernels.cpu.prims import (copy_into, copy_into0, matmul2, matmul3, ravel,",
            "                                     reshape, softmax_along)",
            "",
            *self.header,
            "",
            "",
            _DECORATOR,
            f"def driver({args}):",
            *self.lines,
            f"    return {_tuple(ret)}" if ret else "    return None",
        ]
        return "\n".join(src) + "\n", positions


# ----------------------------------------------------------------------------- running


class _Variant:
    """One compiled driver: a plan and one choice of in-place outputs."""

    __slots__ = ("checked", "dims", "fn", "n_out", "positions", "source")

    def __init__(self, plan: Plan, inplace: tuple[tuple[int, int], ...]) -> None:
        gen = _Source(plan, inplace)
        self.source, self.positions = gen.build()
        self.dims = np.array(gen.dims or [0], dtype=np.int64)
        self.n_out = len(plan.out_slots)
        self.fn = cache.load_module(self.source).driver
        self.checked = False  # the first call goes through cache.call_kernel (statistics)


class Driver:
    """The driver of one plan: built and compiled on demand, per choice of in-place outputs
    (a plan normally has one caller, so one variant)."""

    __slots__ = ("_variants", "calls", "plan")

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.calls = 0
        self._variants: dict[tuple[tuple[int, int], ...], _Variant | None] = {}

    def source(self, inplace: tuple[tuple[int, int], ...] = ()) -> str | None:
        """The generated source (built now if needed), or None if the plan has no driver."""
        v = self._variant(inplace)
        return None if v is None else v.source

    def _variant(self, inplace: tuple[tuple[int, int], ...]) -> _Variant | None:
        if inplace in self._variants:
            return self._variants[inplace]
        try:
            v: _Variant | None = _Variant(self.plan, inplace)
        except _UnsupportedError as e:
            _log(f"no whole-plan driver ({e})")
            v = None
        self._variants[inplace] = v
        return v

    def run(self, inputs: Sequence[np.ndarray], inplace: tuple[tuple[int, int], ...] = ()
            ) -> list[Any] | None:
        """The plan's outputs (``None`` where written in place), or None when this call must
        run the plan's steps instead (not warm yet, unusual arrays, an error inside)."""
        if self.calls < WARM_CALLS:
            self.calls += 1
            if self.calls < WARM_CALLS:
                return None
        v = self._variants[inplace] if inplace in self._variants else self._variant(inplace)
        if v is None:
            return None
        for a in inputs:
            f = a.flags
            if not (f.c_contiguous and f.writeable and f.aligned):
                return None
        try:
            if v.checked:
                res = v.fn(v.dims, *inputs)
            else:
                res = cache.call_kernel(v.fn, v.dims, *inputs)
                v.checked = True
        except Exception as e:
            if not v.checked:
                if not v.fn.overloads:  # it did not compile: never try again
                    _log(f"whole-plan driver failed to compile ({type(e).__name__}: {e})")
                    self._variants[inplace] = None
                else:
                    v.checked = True
            return None  # the plan's steps rerun the call (and raise the reference error)
        if len(v.positions) == v.n_out:
            return list(res)
        outs: list[Any] = [None] * v.n_out
        if res is not None:
            for k, p in enumerate(v.positions):
                outs[p] = res[k]
        return outs


def _log(msg: str) -> None:
    if config.log_compiles:
        print(f"lucid.jit: {msg}", file=sys.stderr)


def _why_not(plan: Plan) -> str | None:
    """A cheap first look: why ``plan`` gets no driver, or None (generation may still find a
    step it cannot write, and then the plan keeps running its steps)."""
    if not plan.steps:
        return "no steps"
    g = plan.graph
    for v in g.inputs:
        if v.aval.dtype.name not in _DTYPES:
            return f"input dtype {v.aval.dtype.name}"
    for st in plan.steps:
        name = getattr(st, "name", "")
        if hasattr(st, "params"):
            prim = PRIMITIVES.get(name)
            elementwise = prim is not None and isinstance(prim.lowering, Elementwise)
            if not (name in _REDUCE or name in _INDEX or name in _OTHER
                    or (elementwise and name not in _NO_INLINE)):
                return name
    for v in [*g.inputs, *(n.out for n in g.nodes)]:
        if math.prod(v.aval.shape) > MAX_ELEMENTS:
            return f"a value of {math.prod(v.aval.shape)} elements"
    for n in g.nodes:
        if n.prim.name == "matmul" and \
                math.prod(n.out.aval.shape) * n.inputs[0].aval.shape[-1] > MAX_MATMUL:
            return "a large matrix product"
    return None


def driver_for(plan: Plan) -> Driver | None:
    """A driver for ``plan``, or None if it should not have one (drivers off, a step without a
    Numba form here, values too large). Cheap: nothing is generated or compiled yet."""
    if not ENABLED:
        return None
    why = _why_not(plan)
    if why is not None:
        return None
    return Driver(plan)


__all__ = ["Driver", "driver_for", "WARM_CALLS", "MAX_ELEMENTS", "MAX_MATMUL", "ENABLED"]
