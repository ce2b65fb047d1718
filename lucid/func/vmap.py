"""``vmap``: vectorise a function over a batch dimension with per-primitive batching rules.

Inside ``vmap(f)``, each batched argument is a tensor whose ``_data`` is a :class:`Batched`
value: the real batched tensor plus which dimension is the batch. ``f`` sees per-example shapes;
every bind goes to the :class:`BatchTrace`, which applies the primitive's *batching rule*: a
function that computes the batched result with ordinary binds on the underlying tensors (which
go to the interpreter below: eager, a graph trace, or an outer vmap, so transforms compose).

Rules move the batch dimension to the front, so a rule only has to know how to handle a leading
batch axis. Primitives without a rule fall back to a loop over the batch (correct for every
primitive, just slower); the rules below cover the elementwise, reduction, shape, matmul,
softmax, gather-style and convolution families.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .. import tree
from ..errors import ShapeError
from ..jit.trace import TracerValue
from ..ops import registry as _registry
from ..ops.registry import Elementwise, Primitive, ShapedArray
from ..tensor import Tensor

BatchRule = Callable[[Primitive, list[Tensor], list[bool], dict, int], Tensor]
RULES: dict[str, BatchRule] = {}


class Batched(TracerValue):
    """A per-example view of a batched tensor: ``value`` has the batch at dim ``bdim``."""

    __slots__ = ("bdim", "deps", "trace", "value")
    kind = "vmap"

    def __init__(self, value: Tensor, bdim: int, trace: BatchTrace) -> None:
        self.value = value
        self.bdim = bdim
        self.trace = trace
        self.deps: frozenset[str] = frozenset()

    @property
    def aval(self) -> ShapedArray:  # type: ignore[override]
        s = tuple(self.value.shape)
        return ShapedArray(s[: self.bdim] + s[self.bdim + 1:], self.value.dtype)

    def is_alive(self) -> bool:
        return self.trace.active

    def __repr__(self) -> str:
        return f"{self.aval!r} batched over {self.trace.size}"


def _bind(prim: Primitive, *args: Tensor, **params: Any) -> Tensor:
    return prim.bind(*args, **params)


def _prim(name: str) -> Primitive:
    return _registry.PRIMITIVES[name]


def move_to_front(x: Tensor, bdim: int) -> Tensor:
    """``x`` with dimension ``bdim`` moved to position 0."""
    if bdim == 0:
        return x
    perm = (bdim, *(i for i in range(x.ndim) if i != bdim))
    return _bind(_prim("permute"), x, perm=perm)


def broadcast_batch(x: Tensor, size: int) -> Tensor:
    """An unbatched ``x`` repeated (stride 0) along a new leading batch dimension."""
    return _bind(_prim("broadcast_to"), x, shape=(size, *x.shape))


class BatchTrace:
    """The interpreter of one ``vmap`` level."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.active = True

    def wrap(self, value: Tensor, bdim: int) -> Tensor:
        t = Tensor._make(Batched(value, bdim, self), value._device)
        return t

    def unwrap(self, t: Tensor) -> tuple[Tensor, bool]:
        """(batched value with the batch in front, True) or (t itself, False)."""
        d = t._data
        if type(d) is Batched and d.trace is self:
            return move_to_front(d.value, d.bdim), True
        return t, False

    def process(self, prim: Primitive, args: Sequence[Tensor], params: dict) -> Tensor:
        vals, batched = [], []
        for a in args:
            v, b = self.unwrap(a)
            vals.append(v)
            batched.append(b)
        if not any(batched):
            return prim.bind(*vals, **params)
        rule = RULES.get(prim.name)
        if rule is None and isinstance(prim.lowering, Elementwise):
            rule = _elementwise_rule
        out = (rule or _loop_rule)(prim, vals, batched, params, self.size)
        return self.wrap(out, 0)


# ----------------------------------------------------------------------------- generic rules


def _all_batched(vals: list[Tensor], batched: list[bool], size: int) -> list[Tensor]:
    return [v if b else broadcast_batch(v, size) for v, b in zip(vals, batched)]


def _elementwise_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
                      size: int) -> Tensor:
    return prim.bind(*_all_batched(vals, batched, size), **params)


def _loop_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
               size: int) -> Tensor:
    """Any primitive: apply it example by example, then stack the results."""
    outs = []
    for i in range(size):
        args = [_take(v, i) if b else v for v, b in zip(vals, batched)]
        outs.append(prim.bind(*args, **params))
    expanded = [_bind(_prim("reshape"), o, shape=(1, *o.shape)) for o in outs]
    return _bind(_prim("concatenate"), *expanded, axis=0)


def _take(v: Tensor, i: int) -> Tensor:
    s = tuple(v.shape)
    sl = _bind(_prim("slice"), v, starts=(i,) + (0,) * (len(s) - 1), stops=(i + 1, *s[1:]),
               steps=(1,) * len(s))
    return _bind(_prim("reshape"), sl, shape=s[1:])


def _shift_axes(key: str) -> BatchRule:
    """Rule for ops whose params name dimensions (``key``): shift them past the batch."""

    def rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
             size: int) -> Tensor:
        p = dict(params)
        v = p[key]
        p[key] = tuple(a + 1 for a in v) if isinstance(v, tuple) else v + 1
        return prim.bind(*_all_batched(vals, batched, size), **p)

    return rule


def _reshape_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
                  size: int) -> Tensor:
    return prim.bind(vals[0], shape=(size, *params["shape"]))


def _permute_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
                  size: int) -> Tensor:
    return prim.bind(vals[0], perm=(0, *(p + 1 for p in params["perm"])))


def _broadcast_to_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
                       size: int) -> Tensor:
    x = vals[0]
    shape = params["shape"]
    lead = len(shape) - (x.ndim - 1)
    if lead:
        x = _bind(_prim("reshape"), x, shape=(size,) + (1,) * lead + tuple(x.shape[1:]))
    return prim.bind(x, shape=(size, *shape))


def _slice_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
                size: int) -> Tensor:
    return prim.bind(vals[0], starts=(0, *params["starts"]), stops=(size, *params["stops"]),
                     steps=(1, *params["steps"]))


def _pad_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
              size: int) -> Tensor:
    return prim.bind(vals[0], lows=(0, *params["lows"]), highs=(0, *params["highs"]),
                     interiors=(0, *params["interiors"]), value=params["value"])


def _fold_rule(n_data: int) -> BatchRule:
    """Rule for batch-major ops (conv, pooling): fold the vmap batch into the op's own batch
    dimension. The first ``n_data`` inputs are batch-major data; the rest (weights) must be
    unbatched, else the loop fallback runs."""

    def rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
             size: int) -> Tensor:
        if any(batched[n_data:]):
            return _loop_rule(prim, vals, batched, params, size)
        data = _all_batched(vals[:n_data], batched[:n_data], size)
        folded = [_bind(_prim("reshape"), d, shape=(size * d.shape[1], *d.shape[2:]))
                  for d in data]
        out = prim.bind(*folded, *vals[n_data:], **params)
        n = data[0].shape[1]
        return _bind(_prim("reshape"), out, shape=(size, n, *out.shape[1:]))

    return rule


RULES.update({
    "sum": _shift_axes("axes"),
    "prod": _shift_axes("axes"),
    "max": _shift_axes("axes"),
    "min": _shift_axes("axes"),
    "argmax": _shift_axes("axes"),
    "argmin": _shift_axes("axes"),
    "all": _shift_axes("axes"),
    "any": _shift_axes("axes"),
    "cumsum": _shift_axes("axis"),
    "cumprod": _shift_axes("axis"),
    "softmax": _shift_axes("axis"),
    "log_softmax": _shift_axes("axis"),
    "concatenate": _shift_axes("axis"),
    "flip": _shift_axes("dims"),
    "take_along": _shift_axes("axis"),
    "put_along_add": _shift_axes("axis"),
    "gather": _shift_axes("dim"),
    "scatter_add": _shift_axes("dim"),
    "scatter": _shift_axes("dim"),
    "reshape": _reshape_rule,
    "permute": _permute_rule,
    "broadcast_to": _broadcast_to_rule,
    "slice": _slice_rule,
    "pad": _pad_rule,
    "matmul": _elementwise_rule,  # equal batch dims after broadcasting the unbatched operand
    "conv": _fold_rule(1),
    "conv_transpose": _fold_rule(1),
    "max_pool_argmax": _fold_rule(1),
    "adaptive_max_pool_argmax": _fold_rule(1),
    "pool_gather": _fold_rule(2),
    "pool_scatter": _fold_rule(2),
})


# ----------------------------------------------------------------------------- the transform


def _axes_for(in_axes: Any, args: tuple) -> list[Any]:
    if isinstance(in_axes, (int, type(None))):
        return [in_axes] * len(args)
    if len(in_axes) != len(args):
        raise ValueError(f"vmap: in_axes has {len(in_axes)} entries for {len(args)} arguments")
    return list(in_axes)


def vmap(fn: Callable, in_axes: Any = 0, out_axes: Any = 0) -> Callable:
    """Vectorise ``fn`` over a batch dimension of its arguments.

    ``in_axes`` is an int (every tensor argument batched along that dim), None (not batched),
    or one entry per positional argument (each an int, None, or a pytree prefix of the
    argument). ``out_axes`` says where the batch dimension goes in each output.
    """

    def vectorized(*args: Any, **kwargs: Any) -> Any:
        from .. import config

        axes = _axes_for(in_axes, args)
        leaves_axes: list[tuple[Tensor, int]] = []
        sizes = set()
        flat_args = []
        for a, ax in zip(args, axes):
            leaves, td = tree.flatten(a)
            if isinstance(ax, (int, type(None))):
                ax_leaves = [ax] * len(leaves)
            else:
                ax_leaves = tree.leaves(ax) if not isinstance(ax, int) else [ax] * len(leaves)
            flat_args.append((leaves, td, ax_leaves))
            for x, axl in zip(leaves, ax_leaves):
                if isinstance(x, Tensor) and axl is not None:
                    axl = axl % x.ndim if x.ndim else axl
                    sizes.add(x.shape[axl])
                    leaves_axes.append((x, axl))
        if not sizes:
            raise ValueError("vmap: no argument is batched (all in_axes are None)")
        if len(sizes) > 1:
            raise ShapeError(f"vmap: batched arguments have different sizes {sorted(sizes)} "
                             f"along their batch dimensions")
        size = sizes.pop()
        if config.disable_jit:
            return _vmap_by_loop(fn, args, axes, kwargs, size, out_axes)
        trace = BatchTrace(size)
        _registry.push_interpreter(trace)
        try:
            new_args = []
            for leaves, td, ax_leaves in flat_args:
                wrapped = [
                    trace.wrap(x, axl % x.ndim) if isinstance(x, Tensor) and axl is not None
                    else x
                    for x, axl in zip(leaves, ax_leaves)
                ]
                new_args.append(tree.unflatten(td, wrapped))
            out = fn(*new_args, **kwargs)
        finally:
            _registry.pop_interpreter(trace)
        try:
            return tree.map(lambda o: _unwrap_out(trace, o, out_axes), out)
        finally:
            trace.active = False

    return vectorized


def _unwrap_out(trace: BatchTrace, o: Any, out_axis: int) -> Any:
    if not isinstance(o, Tensor):
        return o
    v, b = trace.unwrap(o)
    if not b:
        v = broadcast_batch(v, trace.size)
    if out_axis not in (0, None):
        from ..ops.shape import movedim

        v = movedim(v, 0, out_axis)
    return v


def _vmap_by_loop(fn: Callable, args: tuple, axes: list[Any], kwargs: dict, size: int,
                  out_axes: Any) -> Any:
    """``LUCID_DISABLE_JIT``: call ``fn`` per example and stack, for debugging."""
    from ..ops.shape import stack

    def select(x: Any, ax: int, i: int) -> Any:
        return x[(slice(None),) * (ax % x.ndim) + (i,)] if isinstance(x, Tensor) else x

    results = []
    for i in range(size):
        ex = []
        for a, ax in zip(args, axes):
            ex.append(a if ax is None else tree.map(lambda x, ax=ax, i=i: select(x, ax, i), a))
        results.append(fn(*ex, **kwargs))
    return tree.map(lambda *xs: stack(list(xs), out_axes or 0), *results)


__all__ = ["vmap", "RULES", "Batched", "BatchTrace"]
