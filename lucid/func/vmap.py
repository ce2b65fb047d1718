"""``vmap``: vectorise a function over a batch dimension with per-primitive batching rules.

Inside ``vmap(f)``, each batched argument is a tensor whose ``_data`` is a :class:`Batched`
value: the real batched tensor plus which dimension is the batch. ``f`` sees per-example shapes;
every bind goes to the :class:`BatchTrace`, which applies the primitive's *batching rule*: a
function that computes the batched result with ordinary binds on the underlying tensors (which
go to the interpreter below: eager, a graph trace, or an outer vmap, so transforms compose).

Rules move the batch dimension to the front, so a rule only has to know how to handle a leading
batch axis. Primitives without a rule fall back to a loop over the batch (correct for every
primitive, just slower); the rules below cover the elementwise, reduction, shape, matmul,
softmax, indexing, gather/scatter, convolution and pooling families.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from .. import dtypes as _dt
from .. import tree
from ..errors import ShapeError
from ..jit.trace import TracerValue
from ..ops import registry as _registry
from ..ops.promotion import broadcast_shapes
from ..ops.registry import Elementwise, Primitive, ShapedArray
from ..tensor import Tensor

BatchRule = Callable[[Primitive, list[Tensor], list[bool], dict, int], Tensor]
RULES: dict[str, BatchRule] = {}


class Batched(TracerValue):
    """A per-example view of a batched tensor: ``value`` has the batch at dim ``bdim``.

    ``deps`` names the vmapped arguments the value depends on (for error messages).
    """

    __slots__ = ("bdim", "deps", "trace", "value")
    kind = "vmap"

    def __init__(self, value: Tensor, bdim: int, trace: BatchTrace,
                 deps: frozenset[str] = frozenset()) -> None:
        self.value = value
        self.bdim = bdim
        self.trace = trace
        self.deps = deps

    @property
    def aval(self) -> ShapedArray:  # type: ignore[override]
        s = tuple(self.value.shape)
        return ShapedArray(s[: self.bdim] + s[self.bdim + 1:], self.value.dtype)

    def is_alive(self) -> bool:
        return self.trace.active

    def __repr__(self) -> str:
        return f"{self.aval!r} batched over {self.trace.size}"


def _prim(name: str) -> Primitive:
    return _registry.PRIMITIVES[name]


def _permute(x: Tensor, perm: Sequence[int]) -> Tensor:
    perm = tuple(perm)
    if perm == tuple(range(len(perm))):
        return x
    return _prim("permute").bind(x, perm=perm)


def _reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    shape = tuple(shape)
    if shape == tuple(x.shape):
        return x
    return _prim("reshape").bind(x, shape=shape)


def move_to_front(x: Tensor, bdim: int) -> Tensor:
    """``x`` with dimension ``bdim`` moved to position 0."""
    if bdim == 0:
        return x
    return _permute(x, (bdim, *(i for i in range(x.ndim) if i != bdim)))


def broadcast_batch(x: Tensor, size: int) -> Tensor:
    """An unbatched ``x`` repeated (stride 0) along a new leading batch dimension."""
    return _prim("broadcast_to").bind(x, shape=(size, *x.shape))


class BatchTrace:
    """The interpreter of one ``vmap`` level."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.active = True

    def wrap(self, value: Tensor, bdim: int, deps: frozenset[str] = frozenset()) -> Tensor:
        """A per-example tensor whose batched value is ``value`` (batch at ``bdim``)."""
        return Tensor._make(Batched(value, bdim, self, deps), value._device)

    def unwrap(self, t: Tensor) -> tuple[Tensor, bool]:
        """(batched value with the batch in front, True) or (t itself, False)."""
        d = t._data
        if type(d) is Batched and d.trace is self:
            if d.bdim:
                # Move the batch once and remember it, so a value batched along another dim
                # (in_axes != 0) costs one transpose however often it is used.
                d.value, d.bdim = move_to_front(d.value, d.bdim), 0
            return d.value, True
        return t, False

    def process(self, prim: Primitive, args: Sequence[Tensor], params: dict) -> Tensor:
        vals, batched = [], []
        deps: frozenset[str] = frozenset()
        for a in args:
            v, b = self.unwrap(a)
            vals.append(v)
            batched.append(b)
            if b:
                deps |= a._data.deps
        if not any(batched):
            return prim.bind(*vals, **params)
        rule = RULES.get(prim.name)
        if rule is None and isinstance(prim.lowering, Elementwise):
            rule = _elementwise_rule
        out = (rule or _loop_rule)(prim, vals, batched, params, self.size)
        return self.wrap(out, 0, deps)


# ----------------------------------------------------------------------------- generic rules


def _all_batched(vals: list[Tensor], batched: list[bool], size: int) -> list[Tensor]:
    return [v if b else broadcast_batch(v, size) for v, b in zip(vals, batched, strict=True)]


def _elementwise_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
                      size: int) -> Tensor:
    return prim.bind(*_all_batched(vals, batched, size), **params)


def _loop_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
               size: int) -> Tensor:
    """Any primitive: apply it example by example, then stack the results."""
    if size == 0:  # nothing to loop over: an empty result of the per-example shape
        avals = [ShapedArray(tuple(v.shape[1:]), v.dtype) if b else v
                 for v, b in zip(vals, batched, strict=True)]
        aval = prim.shape_rule(*avals, **params)
        return _prim("full").bind(shape=(0, *aval.shape), dtype=aval.dtype, value=0)
    outs = []
    for i in range(size):
        args = [_take(v, i) if b else v for v, b in zip(vals, batched, strict=True)]
        outs.append(prim.bind(*args, **params))
    expanded = [_reshape(o, (1, *o.shape)) for o in outs]
    if len(expanded) == 1:
        return expanded[0]
    return _prim("concatenate").bind(*expanded, axis=0)


def _take(v: Tensor, i: int) -> Tensor:
    s = tuple(v.shape)
    sl = _prim("slice").bind(v, starts=(i,) + (0,) * (len(s) - 1), stops=(i + 1, *s[1:]),
                             steps=(1,) * len(s))
    return _reshape(sl, s[1:])


def _shift_axes(key: str) -> BatchRule:
    """Rule for ops whose params name dimensions (``key``): shift them past the batch."""

    def rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
             size: int) -> Tensor:
        p = dict(params)
        v = p[key]
        p[key] = tuple(a + 1 for a in v) if isinstance(v, tuple) else v + 1
        return prim.bind(*_all_batched(vals, batched, size), **p)

    return rule


# ----------------------------------------------------------------------------- shape ops


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
        x = _reshape(x, (size,) + (1,) * lead + tuple(x.shape[1:]))
    return prim.bind(x, shape=(size, *shape))


def _slice_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
                size: int) -> Tensor:
    return prim.bind(vals[0], starts=(0, *params["starts"]), stops=(size, *params["stops"]),
                     steps=(1, *params["steps"]))


def _pad_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
              size: int) -> Tensor:
    return prim.bind(vals[0], lows=(0, *params["lows"]), highs=(0, *params["highs"]),
                     interiors=(0, *params["interiors"]), value=params["value"])


# ----------------------------------------------------------------------------- matmul


def _matmul_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
                 size: int) -> Tensor:
    """Matrix products. A batch of matrices times one shared matrix is a single larger product
    (the batch folds into the rows, or into the columns); everything else is a batched
    product with the unbatched operand broadcast (stride 0)."""
    a, b = vals
    if batched[0] and not batched[1] and b.ndim == 2:
        n, k = a.shape[1], a.shape[2]  # per-example a is 2-d too (the primitive is strict)
        out = prim.bind(_reshape(a, (size * n, k)), b, **params)
        return _reshape(out, (size, n, b.shape[1]))
    if batched[1] and not batched[0] and a.ndim == 2:
        k, m = b.shape[1], b.shape[2]
        cols = _reshape(_permute(b, (1, 0, 2)), (k, size * m))  # (k, B*m)
        out = prim.bind(a, cols, **params)
        return _permute(_reshape(out, (a.shape[0], size, m)), (1, 0, 2))
    return prim.bind(*_all_batched(vals, batched, size), **params)


# ----------------------------------------------------------------------------- indexing


def _iota(size: int, shape: tuple[int, ...]) -> Tensor:
    """``arange(size)`` (int64) reshaped to ``shape``: the batch coordinate as an index.

    Under a trace it is built from ``full`` and ``cumsum`` nodes, so the graph stays closed
    (no captured constant array)."""
    import numpy as np

    if _registry.current_interpreter() is None:
        return Tensor._make(np.arange(size, dtype=np.int64).reshape(shape))
    ones = _prim("full").bind(shape=(size,), dtype=_dt.int64, value=1)
    counts = _prim("cumsum").bind(ones, axis=0, reverse=False)
    iota = _prim("sub").bind(counts, ones)
    return _reshape(iota, shape)


def _adv_positions(spec: tuple) -> list[int]:
    """Where the advanced (index tensor) entries of ``spec`` sit among the output dimensions
    of the basic stage (integers drop their dimension, so they do not count)."""
    pos, n = [], 0
    for e in spec:
        if e[0] == "int":
            continue
        if e[0] in ("array", "newarray"):
            pos.append(n)
        n += 1
    return pos


def _batched_index(spec: tuple, idx: list[Tensor], idx_batched: list[bool], x_batched: bool,
                   size: int) -> tuple[tuple, list[Tensor], Callable[[int], tuple[int, ...]]]:
    """Rewrite a per-example ``index``-family spec for a batched call.

    Returns ``(spec, index tensors, perm)``: the spec and index tensors to bind on the batched
    operand (with its batch in front, when ``x_batched``), and ``perm(ndim)``, the permutation
    that takes the raw indexed result (of rank ``ndim``) to the batch-first layout of the
    per-example results. The layout follows the indexing rule that the broadcast dimensions of
    the index tensors replace them in place when they are adjacent, and go first otherwise.
    """
    pos = _adv_positions(spec)
    adjacent = bool(pos) and pos[-1] - pos[0] + 1 == len(pos)

    def identity(ndim: int) -> tuple[int, ...]:
        return tuple(range(ndim))

    if not any(idx_batched):
        # Only x is batched: the batch dimension is one more full slice in front.
        new_spec = (("slice", 0, 1, size), *spec)
        if not pos or adjacent:
            return new_spec, list(idx), identity
        nb = len(broadcast_shapes(*(t.shape for t in idx), op="vmap of index"))
        # Non-adjacent index tensors: their dims come first, before the batch.
        return new_spec, list(idx), lambda nd: (nb, *range(nb), *range(nb + 1, nd))

    # Some index tensors are batched: give them a leading batch dimension that broadcasts
    # against the others (they keep their per-example broadcast shape behind it).
    per_example = [tuple(t.shape[1:]) if b else tuple(t.shape)
                   for t, b in zip(idx, idx_batched, strict=True)]
    nb = len(broadcast_shapes(*per_example, op="vmap of index"))
    new_idx = [
        _reshape(t, (size,) + (1,) * (nb - len(s)) + s) if b else t
        for t, b, s in zip(idx, idx_batched, per_example, strict=True)
    ]
    if not x_batched:
        # x is shared: the batched index tensors alone select the batch of results, whose
        # dims (batch first) land where the per-example index dims would.
        if adjacent and pos[0] > 0:
            p = pos[0]
            return spec, new_idx, lambda nd: (p, *range(p), *range(p + 1, nd))
        return spec, new_idx, identity
    # x is batched too: index its batch dimension with arange(size), which puts the batch
    # first among the broadcast index dims.
    new_idx.append(_iota(size, (size,) + (1,) * nb))
    new_spec = (("array", len(idx)), *spec)
    if adjacent and pos[0] > 0:
        p = pos[0]
        return new_spec, new_idx, lambda nd: (
            0, *range(1 + nb, 1 + nb + p), *range(1, 1 + nb), *range(1 + nb + p, nd))
    return new_spec, new_idx, identity


def _inverse(perm: Sequence[int]) -> tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def _index_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
                size: int) -> Tensor:
    x, *idx = vals
    spec, new_idx, perm = _batched_index(params["spec"], idx, batched[1:], batched[0], size)
    out = prim.bind(x, *new_idx, spec=spec)
    return _permute(out, perm(out.ndim))


def _index_update_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
                       size: int) -> Tensor:
    """``index_add`` / ``index_put``: each example updates its own copy of x."""
    x, v, *idx = _all_batched(vals[:2], batched[:2], size) + vals[2:]
    spec, new_idx, perm = _batched_index(params["spec"], idx, batched[2:], True, size)
    v = _permute(v, _inverse(perm(v.ndim)))  # the values in the layout of the raw index
    return prim.bind(x, v, *new_idx, spec=spec)


# ----------------------------------------------------------------------------- conv / pooling


def _fold_rule(n_data: int) -> BatchRule:
    """Rule for batch-major ops (conv, pooling): fold the vmap batch into the op's own batch
    dimension. The first ``n_data`` inputs are batch-major data; the rest (weights) must be
    unbatched, else the loop fallback runs."""

    def rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
             size: int) -> Tensor:
        if any(batched[n_data:]):
            return _loop_rule(prim, vals, batched, params, size)
        data = _all_batched(vals[:n_data], batched[:n_data], size)
        n = data[0].shape[1]
        folded = [_reshape(d, (size * d.shape[1], *d.shape[2:])) for d in data]
        out = prim.bind(*folded, *vals[n_data:], **params)
        return _reshape(out, (size, n, *out.shape[1:]))

    return rule


def _channels_to_groups(x: Tensor, size: int) -> Tensor:
    """A batch-first ``(B, N, C, *S)`` as ``(N, B*C, *S)``: the examples become channel groups."""
    rest = tuple(range(2, x.ndim))
    xt = _permute(x, (1, 0, *rest))
    return _reshape(xt, (x.shape[1], size * x.shape[2], *x.shape[3:]))


def _conv_rule(prim: Primitive, vals: list[Tensor], batched: list[bool], params: dict,
               size: int) -> Tensor:
    """``conv`` / ``conv_transpose`` (data, weight). A shared weight folds the vmap batch into
    the data batch; per-example weights become a grouped convolution with ``B * groups``
    groups, one block of groups per example."""
    if not batched[1]:
        return _fold_rule(1)(prim, vals, batched, params, size)
    x, w = _all_batched(vals, batched, size)
    n = x.shape[1]
    xg = _channels_to_groups(x, size)
    wg = _reshape(w, (size * w.shape[1], *w.shape[2:]))
    out = prim.bind(xg, wg, **{**params, "groups": size * params["groups"]})
    out = _reshape(out, (n, size, out.shape[1] // size, *out.shape[2:]))
    return _permute(out, (1, 0, *range(2, out.ndim)))


def _conv_weight_grad_rule(prim: Primitive, vals: list[Tensor], batched: list[bool],
                           params: dict, size: int) -> Tensor:
    """Per-example weight gradients (the sum over the data batch must not mix examples): the
    grouped form, data and output gradient with the examples as channel groups."""
    x, g = _all_batched(vals, batched, size)
    out = prim.bind(_channels_to_groups(x, size), _channels_to_groups(g, size),
                    **{**params, "groups": size * params["groups"]})
    return _reshape(out, (size, out.shape[0] // size, *out.shape[1:]))


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
    "matmul": _matmul_rule,
    "index": _index_rule,
    "index_add": _index_update_rule,
    "index_put": _index_update_rule,
    "conv": _conv_rule,
    "conv_transpose": _conv_rule,
    "conv_weight_grad": _conv_weight_grad_rule,
    "max_pool_argmax": _fold_rule(1),
    "adaptive_max_pool_argmax": _fold_rule(1),
    "pool_gather": _fold_rule(2),
    "pool_scatter": _fold_rule(2),
})


# ----------------------------------------------------------------------------- the transform


def _is_axis(a: Any) -> bool:
    return a is None or (isinstance(a, int) and not isinstance(a, bool))


def _prefix_axes(prefix: Any, x: Any, what: str) -> list[tuple[Any, Any, tuple]]:
    """``(leaf, axis, path)`` for every leaf of ``x``: ``prefix`` is an axis (int or None) for
    the whole of ``x``, or a pytree prefix of ``x`` with an axis at each of its leaves."""
    pairs = tree.leaves_with_path(x)
    if _is_axis(prefix):
        return [(leaf, prefix, path) for path, leaf in pairs]
    entries = tree.leaves_with_path(prefix, is_leaf=_is_axis)
    for path, ax in entries:
        if not _is_axis(ax):
            raise ValueError(f"vmap: {what} holds {ax!r} at {tree.keystr(path) or 'the top'}; "
                             f"axes must be ints or None")
    out = []
    for path, leaf in pairs:
        match = [ax for p, ax in entries if path[: len(p)] == p]
        if len(match) != 1:
            raise ValueError(
                f"vmap: {what} {prefix!r} is not a pytree prefix of the value it describes "
                f"(no axis for the leaf at {tree.keystr(path) or 'the top'})")
        out.append((leaf, match[0], path))
    return out


def _arg_names(fn: Callable, n: int) -> list[str]:
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        names = []
    return [names[i] if i < len(names) else f"args[{i}]" for i in range(n)]


def _flat_batched_args(fn: Callable, args: tuple, in_axes: Any
                       ) -> tuple[list[tuple[list[Any], Any, list[Any], list[str]]], int]:
    """Per argument: (leaves, treedef, normalized axis per leaf, label per leaf); and the
    batch size, checked to agree."""
    if _is_axis(in_axes):
        axes = [in_axes] * len(args)
    elif isinstance(in_axes, (tuple, list)):
        if len(in_axes) != len(args):
            raise ValueError(f"vmap: in_axes has {len(in_axes)} entries for {len(args)} "
                             f"positional arguments")
        axes = list(in_axes)
    else:
        raise ValueError(f"vmap: in_axes must be an int, None, or a tuple with one entry per "
                         f"positional argument, got {in_axes!r}")
    names = _arg_names(fn, len(args))
    sizes: dict[int, str] = {}
    flat = []
    for i, (a, ax) in enumerate(zip(args, axes, strict=True)):
        _, td = tree.flatten(a)
        leaves, leaf_axes, labels = [], [], []
        for leaf, lax, path in _prefix_axes(ax, a, f"in_axes[{i}]"):
            label = names[i] + tree.keystr(path)
            if isinstance(leaf, Tensor) and lax is not None:
                if not -leaf.ndim <= lax < leaf.ndim:
                    raise ValueError(f"vmap: in_axes {lax} is out of range for argument "
                                     f"'{label}' of shape {list(leaf.shape)}")
                lax %= leaf.ndim
                sizes.setdefault(leaf.shape[lax], label)
            else:
                lax = None  # non-tensor leaves are passed through unbatched
            leaves.append(leaf)
            leaf_axes.append(lax)
            labels.append(label)
        flat.append((leaves, td, leaf_axes, labels))
    if not sizes:
        raise ValueError("vmap: no argument is batched: in_axes must give a batch dimension to "
                         "at least one tensor argument")
    if len(sizes) > 1:
        detail = ", ".join(f"'{lab}' has size {n}" for n, lab in sizes.items())
        raise ShapeError(f"vmap: the batched arguments have different sizes along their batch "
                         f"dimensions ({detail}); they must all be equal")
    return flat, next(iter(sizes))


def vmap(fn: Callable, in_axes: Any = 0, out_axes: Any = 0, *, in_dims: Any = None,
         out_dims: Any = None) -> Callable:
    """Vectorise ``fn`` over a batch dimension of its arguments.

    ``in_dims`` / ``out_dims`` are ``torch.func.vmap``'s names for ``in_axes`` / ``out_axes``.

    ``in_axes`` is an int (every tensor argument batched along that dim; negative counts from
    the end), None (not batched), or a tuple with one entry per positional argument, each an
    int, None, or a pytree prefix of the argument with ints / None at its leaves (e.g.
    ``({'w': None, 'x': 0},)``). Keyword arguments and non-tensor leaves are passed through
    unbatched. ``out_axes`` (an int, None for an output that must not depend on the batch, or a
    pytree prefix of the output) says where the batch dimension goes in each output; outputs
    that do not depend on the batch are broadcast along it.

    ``fn`` sees per-example shapes; Python control flow on a batched value raises
    :class:`~lucid.errors.TracerError` (use ``lucid.where``). vmap composes with ``grad``,
    tracing and itself. With ``lucid.config.disable_jit`` it calls ``fn`` per example and
    stacks the results instead (for debugging).
    """
    if in_dims is not None:
        in_axes = in_dims
    if out_dims is not None:
        out_axes = out_dims

    @functools.wraps(fn, updated=())
    def vectorized(*args: Any, **kwargs: Any) -> Any:
        from .. import config

        flat, size = _flat_batched_args(fn, args, in_axes)
        if config.disable_jit:
            return _vmap_by_loop(fn, args, flat, kwargs, size, out_axes)
        trace = BatchTrace(size)
        try:
            return _map_out(_call_batched(trace, fn, args, flat, kwargs), out_axes,
                            lambda o, ax: _unwrap_out(trace, o, ax))
        finally:
            trace.active = False  # batched values kept past this call are escaped tracers

    return vectorized


def _call_batched(trace: BatchTrace, fn: Callable, args: tuple, flat: list, kwargs: dict
                  ) -> Any:
    """``fn`` on per-example views of the batched arguments, with ``trace`` handling binds."""
    _registry.push_interpreter(trace)
    try:
        new_args = []
        for arg, (leaves, td, leaf_axes, labels) in zip(args, flat, strict=True):
            if all(ax is None for ax in leaf_axes):
                new_args.append(arg)  # untouched (a module stays the same object)
                continue
            wrapped = [
                x if ax is None else trace.wrap(x, ax, frozenset((lab,)))
                for x, ax, lab in zip(leaves, leaf_axes, labels, strict=True)
            ]
            new_args.append(tree.unflatten(td, wrapped))
        return fn(*new_args, **kwargs)
    finally:
        _registry.pop_interpreter(trace)


def _map_out(out: Any, out_axes: Any, f: Callable[[Any, Any], Any]) -> Any:
    """Apply ``f(leaf, axis)`` to every leaf of ``out``, ``out_axes`` being a prefix of it."""
    pairs = _prefix_axes(out_axes, out, "out_axes")
    _, td = tree.flatten(out)
    return tree.unflatten(td, [f(leaf, ax) for leaf, ax, _ in pairs])


def _unwrap_out(trace: BatchTrace, o: Any, out_axis: int | None) -> Any:
    if not isinstance(o, Tensor):
        return o
    v, b = trace.unwrap(o)
    if out_axis is None:
        if b:
            raise ValueError(f"vmap: out_axes=None for an output {o._data.aval!r} that depends "
                             f"on the batched arguments; give it a batch axis")
        return v
    if not b:
        v = broadcast_batch(v, trace.size)
    if not -v.ndim <= out_axis < v.ndim:
        raise ValueError(f"vmap: out_axes {out_axis} is out of range for an output of shape "
                         f"{list(v.shape[1:])} (with the batch: {v.ndim} dims)")
    dest = out_axis % v.ndim
    if dest:
        perm = list(range(1, v.ndim))
        perm.insert(dest, 0)
        v = _permute(v, perm)
    return v


def _vmap_by_loop(fn: Callable, args: tuple, flat: list, kwargs: dict, size: int,
                  out_axes: Any) -> Any:
    """``LUCID_DISABLE_JIT``: call ``fn`` per example and stack, for debugging."""
    from ..ops.shape import stack

    def example(arg: Any, leaves: list, td: Any, axes: list, i: int) -> Any:
        if all(ax is None for ax in axes):
            return arg
        return tree.unflatten(td, [x if ax is None else x[(slice(None),) * ax + (i,)]
                                   for x, ax in zip(leaves, axes, strict=True)])

    results = []
    for i in range(size):
        ex = [example(a, leaves, td, axes, i)
              for a, (leaves, td, axes, _) in zip(args, flat, strict=True)]
        results.append(fn(*ex, **kwargs))
    it = iter(zip(*(tree.leaves(r) for r in results), strict=True))

    def combine(leaf: Any, ax: Any) -> Any:
        xs = next(it)
        if not isinstance(leaf, Tensor) or ax is None:
            return leaf
        return stack(xs, ax)

    return _map_out(results[0], out_axes, combine)


__all__ = ["vmap", "RULES", "Batched", "BatchTrace"]
