"""Execution plans: an optimized graph lowered to a list of steps over NumPy arrays.

A step is either a fused kernel (a group of elementwise nodes compiled by Numba, see
:mod:`lucid.jit.codegen_cpu`) or one coarse primitive run by its implementation (matmul through
BLAS, convolution through its Numba kernels, reductions and transcendental functions through
NumPy). Running a plan touches no Tensor, no tape and no shape rule: the Python work per step is
a list lookup and a call. Values are freed as soon as their last consumer has run.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import cache
from .codegen_cpu import acc_dtype, group_source
from .codegen_plan import driver_for
from .graph import Graph, Node, Var
from .passes import Group, fusion_groups, optimize


def _give_back(pool: dict, b: np.ndarray) -> None:
    """Put buffer ``b`` into ``pool`` under its (shape, dtype, memory order) key."""
    order = "F" if b.flags.f_contiguous and not b.flags.c_contiguous else "C"
    pool.setdefault((b.shape, b.dtype, order), []).append(b)


class FusedStep:
    """Run one generated kernel: inputs and outputs are slots of the value table.

    ``reduce``: per output, ``None`` for an elementwise value, or ``(axes, keepdims,
    acc_dtype)`` for a reduction the kernel accumulates (into a zeroed buffer of the group's
    rank, size 1 along ``axes``, cast to the output dtype and shape afterwards). A plan's
    shapes are fixed, so those buffer and result shapes are worked out once, here.
    """

    __slots__ = ("accs", "flat", "ins", "name", "nd", "out_dtypes", "outs", "reduce", "shape",
                 "size", "source")

    def __init__(self, module: Any, ins: list[int], outs: list[int], out_dtypes: list[Any],
                 shape: tuple[int, ...], name: str, source: str,
                 reduce: list[tuple | None] | None = None) -> None:
        self.flat = module.flat
        self.nd = module.nd
        self.ins, self.outs, self.out_dtypes = ins, outs, out_dtypes
        self.shape = shape
        self.size = math.prod(shape)
        self.name = name
        self.source = source
        self.reduce = reduce if reduce and any(reduce) else None
        # Per output: None (a pooled buffer of the group's shape), or for a reduction
        # (accumulator shape, accumulator dtype, result shape or None when keepdims).
        self.accs: list[tuple | None] | None = None if self.reduce is None else [
            None if r is None else (
                tuple(1 if k in r[0] else n for k, n in enumerate(shape)), r[2],
                None if r[1] else tuple(n for k, n in enumerate(shape) if k not in r[0]))
            for r in self.reduce]

    def run(self, env: list[Any], pool: dict) -> None:
        arrays = [env[i] for i in self.ins]
        shape = self.shape
        # Operands all in one memory order (C, or Fortran, as transposed gradients arrive) run
        # as one flat loop over memory; anything else (broadcast views) runs the n-d kernel.
        if self.flat is None:
            order = ""
        elif all(a.flags.c_contiguous for a in arrays):
            order = "C"
        elif all(a.flags.f_contiguous for a in arrays):
            order = "F"
        else:
            order = ""
        o = order or "C"
        accs = self.accs
        outs = []
        for k, d in enumerate(self.out_dtypes):
            acc = None if accs is None else accs[k]
            if acc is None:
                free = pool.get((shape, d, o))
                outs.append(free.pop() if free else np.empty(shape, dtype=d, order=o))
            else:
                outs.append(np.zeros(acc[0], dtype=acc[1]))
        if self.size:
            if order:
                cache.call_kernel(self.flat, self.size, *(a.ravel(order="K") for a in arrays),
                                  *(o.ravel(order="K") for o in outs))
            else:
                cache.call_kernel(self.nd, shape, *arrays, *outs)
        if accs is not None:
            for k, (d, acc) in enumerate(zip(self.out_dtypes, accs)):
                if acc is not None:
                    r = outs[k] if outs[k].dtype == d else outs[k].astype(d)
                    outs[k] = r if acc[2] is None else r.reshape(acc[2])
        for i, o in zip(self.outs, outs):
            env[i] = o


class PrimStep:
    """Run one primitive's implementation on arrays."""

    __slots__ = ("dtype", "impl", "ins", "name", "out", "params", "shape")

    def __init__(self, node: Node, ins: list[int], out: int) -> None:
        self.impl: Callable[..., np.ndarray] = node.prim.impl
        self.ins, self.out = ins, out
        self.params = node.params
        self.dtype = node.out.aval.dtype.np
        self.shape = node.out.aval.shape
        self.name = node.prim.name

    def run(self, env: list[Any], pool: dict) -> None:
        r = self.impl(*(env[i] for i in self.ins), **self.params)
        if type(r) is not np.ndarray or r.dtype != self.dtype:
            r = np.asarray(r, dtype=self.dtype)
        env[self.out] = r


class Plan:
    """A graph lowered for execution on the CPU."""

    def __init__(self, graph: Graph) -> None:
        self.graph = optimize(graph)
        g = self.graph
        slot: dict[int, int] = {}

        def slot_of(v: Var) -> int:
            if v.id not in slot:
                slot[v.id] = len(slot)
            return slot[v.id]

        for v in g.inputs:
            slot_of(v)
        groups = fusion_groups(g)
        consts = {n.out.id: n for n in g.nodes if n.prim.name == "full"}
        users: dict[int, int] = {}
        for n in g.nodes:
            for v in n.inputs:
                users[v.id] = users.get(v.id, 0) + 1
        out_ids = {v.id for v in g.outputs}

        self.steps: list[Any] = []
        self.sources: list[str] = []
        absorbed = self._absorb_broadcasts(g, groups, consts)
        needed: set[int] = set(out_ids)  # broadcast values something still reads as arrays
        for i, n in enumerate(g.nodes):
            grp = groups.get(i)
            skip = absorbed.get(id(grp), {}) if grp is not None else {}
            needed.update(v.id for v in n.inputs if v.id not in skip)
        emitted: set[int] = set()
        for i, n in enumerate(g.nodes):
            grp = groups.get(i)
            if grp is None:
                if n.prim.name == "full" and n.out.id not in out_ids and all(
                    self._only_fused_users(g, groups, n.out.id)
                ):
                    continue  # inlined into every kernel that reads it
                if n.prim.name == "broadcast_to" and n.out.id not in needed:
                    continue  # every kernel reading it indexes its operand directly
                self.steps.append(PrimStep(n, [slot_of(v) for v in n.inputs], slot_of(n.out)))
                continue
            if id(grp) in emitted:
                continue
            emitted.add(id(grp))
            self.steps.append(self._fused(grp, g, consts, slot_of, out_ids,
                                          absorbed.get(id(grp), {})))
        self.n_slots = len(slot)
        self.in_slots = [slot[v.id] for v in g.inputs]
        self.out_slots = [slot[v.id] for v in g.outputs]
        # Outputs that CSE or simplification merged into one value (``return a * 2, a * 2``)
        # are distinct tensors eagerly; each repeat gets its own copy, so writing to one in
        # place leaves the other alone.
        self.copy_outs = [k for k, s in enumerate(self.out_slots) if s in self.out_slots[:k]]
        self._plan_frees(out_ids, slot)
        self._plan_reuse(g, out_ids, slot)
        self._plan_donation(g, out_ids, slot)
        self._pool: dict[tuple, list[np.ndarray]] = {}
        self._lock = threading.Lock()
        # Small plans also get a whole-plan driver: all steps in one compiled call, built on a
        # later call (see lucid/jit/codegen_plan.py).
        self.driver = driver_for(self)

    @staticmethod
    def _only_fused_users(g: Graph, groups: dict[int, Group], vid: int) -> list[bool]:
        return [i in groups for i, n in enumerate(g.nodes) if any(v.id == vid for v in n.inputs)]

    @staticmethod
    def _group_inputs(grp: Group, consts: dict[int, Node]) -> list[Var]:
        """The values a group's kernel reads, in first-use order."""
        inside = {n.out.id for n in grp.nodes}
        ins: list[Var] = []
        seen: set[int] = set()
        for n in grp.nodes:
            for v in n.inputs:
                if v.id not in inside and v.id not in consts and v.id not in seen:
                    seen.add(v.id)
                    ins.append(v)
        return ins

    def _absorb_broadcasts(self, g: Graph, groups: dict[int, Group], consts: dict[int, Node]
                           ) -> dict[int, dict[int, tuple[Var, tuple[int | None, ...]]]]:
        """Per group (by id): the inputs made by ``broadcast_to`` that its kernel reads from the
        broadcast's operand instead: var id -> (operand, loop index per operand dim).

        Reading a stride-0 view makes Numba type the array as non-contiguous, which keeps the
        loop from vectorising (a bias add ran 4x slower than the same loop over contiguous
        arrays); the operand itself is contiguous. A group keeps at least one full-shape
        input first, so its first operand still gives the loop's shape."""
        producer = {n.out.id: n for n in g.nodes}
        result: dict[int, dict[int, tuple[Var, tuple[int | None, ...]]]] = {}
        for grp in {id(x): x for x in groups.values()}.values():
            shape = grp.shape
            found: dict[int, tuple[Var, tuple[int | None, ...]]] = {}
            ins = self._group_inputs(grp, consts)
            for v in ins:
                p = producer.get(v.id)
                if p is None or p.prim.name != "broadcast_to":
                    continue
                u = p.inputs[0]
                lead = len(shape) - len(u.aval.shape)
                found[v.id] = (u, tuple(
                    None if d == 1 and shape[lead + k] != 1 else lead + k
                    for k, d in enumerate(u.aval.shape)))
            if found and len(found) == len(ins):
                del found[ins[0].id]  # keep one full-shape operand
            if found:
                result[id(grp)] = found
        return result

    def _fused(self, grp: Group, g: Graph, consts: dict[int, Node], slot_of: Callable,
               out_ids: set[int], absorbed: dict[int, tuple[Var, tuple[int | None, ...]]]
               ) -> FusedStep:
        inside = {n.out.id for n in grp.nodes}
        ins = self._group_inputs(grp, consts)
        # Full-shape operands first (the loop's shape is read from the first one).
        ins.sort(key=lambda v: v.id in absorbed)
        used_outside = set(out_ids)
        for n in g.nodes:
            if n.out.id in inside:
                continue
            used_outside.update(v.id for v in n.inputs)
        outs = [n.out for n in grp.nodes if n.out.id in used_outside]
        name = f"fused_{len(self.steps)}"
        bcast = {k: absorbed[v.id][1] for k, v in enumerate(ins) if v.id in absorbed}
        source = group_source(grp, ins, outs, name, consts, bcast)
        module = cache.load_module(source)
        self.sources.append(source)
        red = {n.out.id: n for n in grp.reductions}
        reduce = [None if v.id not in red else
                  (tuple(red[v.id].params["axes"]), bool(red[v.id].params["keepdims"]),
                   np.dtype(acc_dtype(v.aval))) for v in outs]
        read = [absorbed[v.id][0] if v.id in absorbed else v for v in ins]
        return FusedStep(module, [slot_of(v) for v in read], [slot_of(v) for v in outs],
                         [v.aval.dtype.np for v in outs], grp.shape, name, source, reduce)

    def _plan_frees(self, out_ids: set[int], slot: dict[int, int]) -> None:
        """After each step, which slots hold values nobody needs any more."""
        keep = {slot[i] for i in out_ids}
        last: dict[int, int] = {}
        for k, st in enumerate(self.steps):
            for s in st.ins:
                last[s] = k
        self.frees: list[list[int]] = [[] for _ in self.steps]
        for s, k in last.items():
            if s not in keep:
                self.frees[k].append(s)

    def _plan_reuse(self, g: Graph, out_ids: set[int], slot: dict[int, int]) -> None:
        """Buffer reuse by liveness: a fused kernel's output buffer goes back to a pool (kept
        across calls) once its value and every view of it are dead, and later kernels that
        need a buffer of that shape, dtype and layout take it from there instead of
        allocating. Primitive steps allocate for themselves; a view step's output shares its
        input's buffer, so it keeps that buffer alive."""
        fused = [o for st in self.steps if isinstance(st, FusedStep) for o in st.outs]
        self.releases = self._release_points(g, out_ids, slot, fused)

    def _plan_donation(self, g: Graph, out_ids: set[int], slot: dict[int, int]) -> None:
        """For each input: the step after which neither it nor any view of it is read again
        (``donation_release[k]`` lists the input slots free after step ``k``); a donated
        input's buffer joins the pool there."""
        self.donation_release = self._release_points(g, out_ids, slot, self.in_slots)

    def _release_points(self, g: Graph, out_ids: set[int], slot: dict[int, int],
                        roots: Sequence[int]) -> list[list[int]]:
        """After which step each buffer in ``roots`` (slots) is dead: neither it nor a view of
        it (view steps, transitively) is read again. A buffer that is an output, or has a view
        that is, or is never read, is never released."""
        node_of = {slot[n.out.id]: n for n in g.nodes if n.out.id in slot}
        root = {r: r for r in roots}
        for st in self.steps:
            if isinstance(st, PrimStep):
                n = node_of.get(st.out)
                if n is not None and n.prim.view and st.ins and st.ins[0] in root:
                    root[st.out] = root[st.ins[0]]
        last: dict[int, int] = {}
        for k, st in enumerate(self.steps):
            for sl in st.ins:
                if sl in root:
                    last[root[sl]] = k
        kept = {root[slot[i]] for i in out_ids if slot.get(i) in root}
        releases: list[list[int]] = [[] for _ in self.steps]
        for r, k in last.items():
            if r not in kept:
                releases[k].append(r)
        return releases

    @property
    def kernels(self) -> int:
        """How many generated kernels the plan runs."""
        return sum(isinstance(s, FusedStep) for s in self.steps)

    def run(self, inputs: Sequence[np.ndarray], inplace: tuple[tuple[int, int], ...] = (),
            donated: Sequence[int] = ()) -> list[Any]:
        """The outputs for ``inputs``. ``inplace``: (output, input) pairs whose output may be
        written into the input's array instead (it then comes back as None). ``donated``:
        positions of inputs whose arrays the caller gives up: after their last use they join
        the plan's buffer pool, and later kernels (of this call or the next) write into them."""
        if self.driver is not None and not donated:
            outs = self.driver.run(inputs, inplace)
            if outs is not None:
                return outs
        with self._lock:  # the buffer pool belongs to the plan: one run at a time
            return self._run(inputs, self._donatable(inputs, donated) if donated else None)

    def _donatable(self, inputs: Sequence[np.ndarray], donated: Sequence[int]) -> set[int]:
        """The slots of donated inputs whose arrays can safely be reused: they own their
        memory (no other array is a view into it, as far as the inputs show), are writeable
        and contiguous, and are not also handed back as outputs or passed twice."""
        outs = set(self.out_slots)
        slots: set[int] = set()
        for i in donated:
            a = inputs[i]
            if (a.base is None and a.flags.writeable and a.size
                    and (a.flags.c_contiguous or a.flags.f_contiguous)
                    and self.in_slots[i] not in outs
                    and not any(b is a or b.base is a for k, b in enumerate(inputs) if k != i)):
                slots.add(self.in_slots[i])
        return slots

    def _run(self, inputs: Sequence[np.ndarray], donate: set[int] | None = None
             ) -> list[np.ndarray]:
        env: list[Any] = [None] * self.n_slots
        for s, a in zip(self.in_slots, inputs):
            env[s] = a
        pool = self._pool
        buffers: dict[int, np.ndarray] = {}
        env_in = {s: env[s] for s in donate} if donate else {}
        for k, (st, frees, releases) in enumerate(zip(self.steps, self.frees, self.releases)):
            st.run(env, pool)
            if releases or type(st) is FusedStep:
                for o in getattr(st, "outs", ()):
                    buffers[o] = env[o]
                for r in releases:
                    _give_back(pool, buffers.pop(r))
            if donate:
                for s in self.donation_release[k]:
                    if s in donate:
                        _give_back(pool, env_in[s])
            for s in frees:
                env[s] = None
        outs = [env[s] for s in self.out_slots]
        for k in self.copy_outs:
            outs[k] = outs[k].copy()
        return outs


__all__ = ["Plan", "FusedStep", "PrimStep"]
