"""Indexing primitives: basic and advanced ``__getitem__``, ``__setitem__``, gather, scatter.

Indexing follows PyTorch, which is NumPy's model with one difference in order: integers, slices
and ``None`` are applied first (basic indexing), then the integer index tensors (advanced
indexing) index the dimensions that are left. So ``x[0, :, [0, 1]]`` has shape ``(3, 2)`` for an
``x`` of shape ``(2, 3, 4)`` (NumPy gives ``(2, 3)``, because it treats the 0 as one more
advanced index); every other combination agrees with NumPy, including where the broadcast
dimensions of several index tensors go (in place when the index tensors are adjacent, first
otherwise).

* Pure basic indexing lowers to the ``slice`` primitive (``strided_slice``) and ``reshape`` for
  integers and ``None``: a view, whose VJP is a ``pad``. A negative step slices the same
  elements in ascending order and then ``flip``s them (a copy, since lucid has no negative
  strides, like PyTorch, which rejects negative steps altogether).
* Advanced indexing binds the ``index`` primitive. Its static ``spec`` has one entry per index
  element (after the ellipsis is expanded, trailing dimensions implied):

  ``("int", i)``                  select element ``i`` (non-negative), dropping the dimension;
  ``("slice", start, step, n)``   ``n`` elements from ``start`` by ``step`` (may be negative);
  ``("new",)``                    insert a dimension of size 1 (``None``);
  ``("array", k)``                index this dimension with the k-th index tensor;
  ``("newarray", k)``             insert a dimension of size 1 and index it with tensor k
                                  (a Python ``True``/``False`` index).

  The index tensors (int64) are inputs of the primitive, so a traced index stays symbolic.
  Its VJP is ``index_add`` (add into zeros with ``np.add.at`` semantics, so repeated indices
  accumulate); ``index_add``'s VJPs are ``index`` and the identity, which closes the loop for
  higher derivatives. ``index_put`` is the functional ``__setitem__``.
* Boolean masks become integer index tensors through ``nonzero`` of the concrete mask, so they
  work in eager mode only (the result's shape depends on the mask's values).
* ``gather``/``scatter_add``/``scatter`` have PyTorch's semantics (an index may be smaller than
  the input in the non-gathered dimensions) and are each other's VJPs.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import creation as _creation
from .. import dtypes as _dt
from ..errors import DTypeError, ShapeError, TracerError
from ..tensor import Tensor

# The op families use each other; their functions are looked up on the modules at call time.
from . import binary as _binary
from . import shape as _shape
from .convert import cast
from .promotion import as_tensor, broadcast_shapes, normalize_dim, scalar_tensor
from .registry import Kernel, ShapedArray, primitive
from .rules import describe

Spec = tuple[tuple[Any, ...], ...]

# ------------------------------------------------------------------ the static index spec


def _np_slice(start: int, step: int, count: int) -> slice:
    """The Python slice selecting ``count`` elements from ``start`` by ``step``."""
    if count == 0:
        return slice(0, 0, 1)
    stop = start + (count - 1) * step + (1 if step > 0 else -1)
    return slice(start, None if stop < 0 else stop, step)


def _np_index(spec: Spec, arrays: Sequence[np.ndarray]) -> tuple[tuple, tuple, bool]:
    """NumPy index tuples for the two stages: (basic, advanced, has_arrays).

    The basic tuple ends with an Ellipsis so that indexing with it always returns a view (an
    all-integer index would otherwise return a NumPy scalar, which cannot be written through).
    The advanced tuple addresses the dimensions of the basic result.
    """
    basic: list[Any] = []
    adv: list[Any] = []
    for e in spec:
        kind = e[0]
        if kind == "int":
            basic.append(e[1])
        elif kind == "slice":
            basic.append(_np_slice(*e[1:]))
            adv.append(slice(None))
        elif kind == "new":
            basic.append(None)
            adv.append(slice(None))
        elif kind == "array":
            basic.append(slice(None))
            adv.append(arrays[e[1]])
        else:  # newarray
            basic.append(None)
            adv.append(arrays[e[1]])
    while adv and isinstance(adv[-1], slice):
        adv.pop()
    basic.append(Ellipsis)
    return tuple(basic), tuple(adv), bool(adv)


def _index_shape(op: str, x: Any, idx: Sequence[Any], spec: Spec) -> tuple[int, ...]:
    """Shape of ``x[spec]`` with index tensors ``idx`` (the shape rule of the family)."""
    for t in idx:
        if t.dtype is not _dt.int64:
            raise DTypeError(f"{op}: index tensors must be int64, got {describe(*idx)}; the "
                             f"public function casts them")
    xs = tuple(x.shape)
    out: list[int] = []
    adv_pos: list[int] = []
    adv_shapes: list[tuple[int, ...]] = []
    used: list[int] = []
    d = 0
    for e in spec:
        kind = e[0]
        if kind in ("int", "slice", "array"):
            if d >= len(xs):
                raise ShapeError(f"{op}: index spec {spec} addresses more dimensions than "
                                 f"{describe(x)} has")
            n = xs[d]
            d += 1
        if kind == "int":
            if not 0 <= e[1] < n:
                raise ShapeError(f"{op}: index {e[1]} is out of bounds for dimension {d - 1} "
                                 f"with size {n} of {describe(x)}")
        elif kind == "slice":
            start, step, count = e[1:]
            last = start + (count - 1) * step
            if count < 0 or step == 0 or (count and not (0 <= start < n and 0 <= last < n)):
                raise ShapeError(f"{op}: slice entry {e} does not fit dimension {d - 1} of "
                                 f"{describe(x)}")
            out.append(count)
        elif kind == "new":
            out.append(1)
        elif kind in ("array", "newarray"):
            k = e[1]
            if not 0 <= k < len(idx):
                raise ShapeError(f"{op}: spec entry {e} names index tensor {k}, but "
                                 f"{len(idx)} were given")
            used.append(k)
            adv_pos.append(len(out))
            adv_shapes.append(tuple(idx[k].shape))
            out.append(n if kind == "array" else 1)
        else:
            raise ShapeError(f"{op}: unknown index spec entry {e}")
    if sorted(used) != list(range(len(idx))):
        raise ShapeError(f"{op}: spec {spec} must use each of its {len(idx)} index tensors once")
    out.extend(xs[d:])
    if not adv_pos:
        return tuple(out)
    bshape = broadcast_shapes(*adv_shapes, op=f"{op} (index tensors)")
    first, last = adv_pos[0], adv_pos[-1]
    if last - first + 1 == len(adv_pos):  # adjacent: the broadcast dims replace them in place
        return tuple(out[:first]) + bshape + tuple(out[last + 1:])
    rest = [s for i, s in enumerate(out) if i not in adv_pos]
    return bshape + tuple(rest)


# ------------------------------------------------------------------ index / index_add / index_put


def _index_rule(x: Any, *idx: Any, spec: Spec) -> ShapedArray:
    return ShapedArray(_index_shape("index", x, idx, spec), x.dtype)


def _index_impl(x: np.ndarray, *idx: np.ndarray, spec: Spec) -> np.ndarray:
    basic, adv, has_arrays = _np_index(spec, idx)
    view = x[basic]
    return view[adv] if has_arrays else view.copy()


def _index_vjp(g: Tensor, out: Any, x: Tensor, *idx: Tensor, spec: Spec) -> tuple:
    zeros = _creation.zeros_like(x)
    return (index_add_p.bind(zeros, g, *idx, spec=spec),) + (None,) * len(idx)


index_p = primitive(
    "index",
    shape_rule=_index_rule,
    impl=_index_impl,
    vjp=_index_vjp,
    lowering=Kernel("index"),
    doc="x[spec] with integer index tensors as inputs (basic then advanced indexing; a copy).",
)


def _update_rule(op: str) -> Any:
    def rule(x: Any, src: Any, *idx: Any, spec: Spec) -> ShapedArray:
        target = _index_shape(op, x, idx, spec)
        if src.dtype is not x.dtype:
            raise DTypeError(f"{op}: the values must have the dtype of the tensor, got "
                             f"{describe(x, src)}")
        if tuple(src.shape) != target:
            raise ShapeError(f"{op}: the values {describe(src)} must have the indexed shape "
                             f"{list(target)} of {describe(x)}; the public function "
                             f"broadcasts them")
        return ShapedArray(tuple(x.shape), x.dtype)

    return rule


def _index_add_impl(x: np.ndarray, src: np.ndarray, *idx: np.ndarray, spec: Spec) -> np.ndarray:
    out = x.copy()
    basic, adv, has_arrays = _np_index(spec, idx)
    view = out[basic]
    if has_arrays:
        np.add.at(view, adv, src)  # unbuffered: repeated indices accumulate
    else:
        view += src
    return out


def _index_add_vjp(g: Tensor, out: Any, x: Tensor, src: Tensor, *idx: Tensor,
                   spec: Spec) -> tuple:
    return (g, index_p.bind(g, *idx, spec=spec)) + (None,) * len(idx)


index_add_p = primitive(
    "index_add",
    shape_rule=_update_rule("index_add"),
    impl=_index_add_impl,
    vjp=_index_add_vjp,
    lowering=Kernel("index_add"),
    doc="A copy of x with src added at x[spec]; repeated indices accumulate (np.add.at).",
)


def _index_put_impl(x: np.ndarray, value: np.ndarray, *idx: np.ndarray,
                    spec: Spec) -> np.ndarray:
    out = x.copy()
    basic, adv, _ = _np_index(spec, idx)
    out[basic][adv] = value
    return out


def _index_put_vjp(g: Tensor, out: Any, x: Tensor, value: Tensor, *idx: Tensor,
                   spec: Spec) -> tuple:
    # The overwritten positions of x do not reach the output; every value element does (with
    # repeated indices PyTorch also hands each duplicate the cotangent of its position).
    zeros = _creation.zeros_like(value)
    return (index_put_p.bind(g, zeros, *idx, spec=spec), index_p.bind(g, *idx, spec=spec)) + (
        None,) * len(idx)


index_put_p = primitive(
    "index_put",
    shape_rule=_update_rule("index_put"),
    impl=_index_put_impl,
    vjp=_index_put_vjp,
    lowering=Kernel("index_put"),
    doc="A copy of x with x[spec] = value (the functional __setitem__).",
)


# ------------------------------------------------------------------ parsing Python indices


def _concrete(t: Any) -> np.ndarray | None:
    """The data of ``t`` when it has concrete values (eager), else None (a traced value)."""
    try:
        data = t._data
    except (AttributeError, TracerError):
        return None
    return data if isinstance(data, np.ndarray) else None


def _unwrap(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        return [_unwrap(o) for o in obj]
    if isinstance(obj, Tensor):
        data = _concrete(obj)
        if data is None:
            raise TracerError("indexing with a list that holds traced tensors is not supported; "
                              "stack them into one index tensor first")
        return data
    return obj


def _classify(item: Any, op: str, device: Any) -> tuple[str, Any]:
    """One element of an index as ``(kind, payload)``."""
    if item is None:
        return "new", None
    if item is Ellipsis:
        return "ellipsis", None
    if isinstance(item, (bool, np.bool_)):
        return "bool0", bool(item)
    if isinstance(item, (int, np.integer)):
        return "int", int(item)
    if isinstance(item, slice):
        return "slice", item
    if isinstance(item, Tensor):
        dt = item.dtype
        if dt is _dt.bool_ or dt is _dt.uint8:  # uint8 indices are masks, as in PyTorch
            if item.ndim == 0:
                data = _concrete(item)
                if data is None:
                    raise TracerError(f"{op}: indexing with a traced 0-d bool tensor is not "
                                      f"supported (the result shape depends on its value)")
                return "bool0", bool(data)
            return "mask", item
        if dt.is_floating_point:
            raise IndexError(f"{op}: tensors used as indices must be integer or bool tensors, "
                             f"got {describe(item)}")
        if item.ndim == 0:
            data = _concrete(item)
            if data is not None:  # a 0-d integer tensor indexes like an int (PyTorch)
                return "int", int(data)
        return "array", cast(item, _dt.int64)
    if isinstance(item, (list, tuple, np.ndarray)):
        arr = np.asarray(_unwrap(item)) if not isinstance(item, np.ndarray) else item
        if arr.dtype.kind == "b":
            if arr.ndim == 0:
                return "bool0", bool(arr)
            return "mask", Tensor._make(np.ascontiguousarray(arr), device)
        if arr.dtype.kind in "iu" or (arr.size == 0 and arr.dtype.kind == "f"):
            if arr.ndim == 0:
                return "int", int(arr)
            return "array", Tensor._make(arr.astype(np.int64), device)
        raise IndexError(f"{op}: index arrays must hold integers or bools, got {arr.dtype} "
                         f"values from {type(item).__name__} {item!r}")
    try:
        return "int", operator.index(item)
    except TypeError:
        raise IndexError(
            f"{op}: only integers, slices (`:`), ellipsis (`...`), None and integer or boolean "
            f"tensors are valid indices (got {type(item).__name__})"
        ) from None


def _parse(x: Tensor, index: Any, op: str) -> tuple[Spec, list[Tensor]]:
    """Turn a Python index into a static spec and its int64 index tensors, checking bounds
    (of the index tensors too, when their values are known)."""
    items = index if isinstance(index, tuple) else (index,)
    entries = [_classify(it, op, x._device) for it in items]
    if sum(kind == "ellipsis" for kind, _ in entries) > 1:
        raise IndexError(f"{op}: an index can only have a single ellipsis ('...')")
    consumed = sum(p.ndim if kind == "mask" else kind in ("int", "slice", "array")
                   for kind, p in entries)
    shape = tuple(x.shape)
    if consumed > len(shape):
        raise IndexError(f"{op}: too many indices for tensor of dimension {len(shape)}: "
                         f"{describe(x)} indexed with {consumed} indices")
    spec: list[tuple[Any, ...]] = []
    arrays: list[Tensor] = []
    d = 0
    for kind, p in entries:
        if kind == "ellipsis":
            for _ in range(len(shape) - consumed):
                spec.append(("slice", 0, 1, shape[d]))
                d += 1
        elif kind == "new":
            spec.append(("new",))
        elif kind == "bool0":
            # x[True] adds a dimension of size 1 and keeps it; x[False] makes it empty.
            spec.append(("newarray", len(arrays)))
            arrays.append(Tensor._make(np.zeros(int(p), np.int64), x._device))
        elif kind == "int":
            n = shape[d]
            if not -n <= p < n:
                raise IndexError(f"{op}: index {p} is out of bounds for dimension {d} with size "
                                 f"{n} (indexing {describe(x)})")
            spec.append(("int", p % n))
            d += 1
        elif kind == "slice":
            if p.step is not None and operator.index(p.step) == 0:
                raise ValueError(f"{op}: slice step cannot be zero")
            start, stop, step = p.indices(shape[d])
            count = len(range(start, stop, step))
            spec.append(("slice", start, step, count) if count else ("slice", 0, 1, 0))
            d += 1
        elif kind == "array":
            _check_bounds(p, shape[d], d, op, x, negative_ok=True)
            spec.append(("array", len(arrays)))
            arrays.append(p)
            d += 1
        else:  # mask
            m = p.ndim
            if tuple(p.shape) != shape[d:d + m]:
                raise IndexError(
                    f"{op}: the shape of the mask {list(p.shape)} at index {d} does not match "
                    f"the shape of the indexed tensor {describe(x)} at index {d}"
                )
            data = _concrete(p)
            if data is None:
                raise TracerError(
                    f"{op}: boolean mask indexing needs concrete values (the result's shape "
                    f"depends on them); inside a traced function use where/masked_fill instead"
                )
            for coords in np.nonzero(data):
                spec.append(("array", len(arrays)))
                arrays.append(Tensor._make(coords.astype(np.int64), x._device))
            d += m
    if len(arrays) > 1:
        try:
            broadcast_shapes(*(a.shape for a in arrays))
        except ShapeError:
            raise IndexError(
                f"{op}: shape mismatch: indexing tensors could not be broadcast together with "
                f"shapes {', '.join(str(list(a.shape)) for a in arrays)} (indexing {describe(x)})"
            ) from None
    return tuple(spec), arrays


def _check_bounds(index: Tensor, n: int, dim: int, op: str, x: Any,
                  negative_ok: bool = False) -> None:
    """Raise IndexError when a concrete index tensor holds a value outside the dimension."""
    data = _concrete(index)
    if data is None or data.size == 0:
        return
    lo = -n if negative_ok else 0
    bad = (data < lo) | (data >= n)
    if bad.any():
        raise IndexError(f"{op}: index {int(data[bad].flat[0])} is out of bounds for dimension "
                         f"{dim} with size {n} (indexing {describe(x)} with {describe(index)})")


# ------------------------------------------------------------------ getitem / index_put


def _basic(x: Tensor, spec: Spec) -> Tensor:
    """Basic indexing as a view: strided_slice, flip for negative steps, reshape."""
    starts, stops, steps, flips, out_shape = [], [], [], [], []
    d = 0
    for e in spec:
        kind = e[0]
        if kind == "new":
            out_shape.append(1)
            continue
        if kind == "int":
            starts.append(e[1])
            stops.append(e[1] + 1)
            steps.append(1)
        else:
            start, step, count = e[1:]
            if count == 0:
                starts.append(0)
                stops.append(0)
                steps.append(1)
            elif step > 0:
                starts.append(start)
                stops.append(start + (count - 1) * step + 1)
                steps.append(step)
            else:  # take the same elements in ascending order, then reverse them
                low = start + (count - 1) * step
                starts.append(low)
                stops.append(start + 1)
                steps.append(-step)
                if count > 1:
                    flips.append(d)
            out_shape.append(count)
        d += 1
    for n in x.shape[d:]:
        starts.append(0)
        stops.append(n)
        steps.append(1)
        out_shape.append(n)
    # Bound directly (not through strided_slice) so even x[:] is a new view, as in PyTorch.
    y = _shape.slice_p.bind(x, starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))
    if flips:
        y = _shape.flip(y, flips)  # a copy (like torch.flip): no negative strides
    return _shape.reshape(y, tuple(out_shape))


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]`` with PyTorch's indexing: ints (negative too), slices (any step), None,
    Ellipsis, integer tensors / lists / arrays (advanced indexing) and boolean masks.

    Basic indexing (ints, slices, None, Ellipsis) returns a view sharing ``x``'s memory;
    advanced indexing returns a copy. Out-of-range indices raise IndexError.
    """
    x = as_tensor(x)
    spec, arrays = _parse(x, index, "getitem")
    if not arrays:
        return _basic(x, spec)
    return index_p.bind(x, *arrays, spec=spec)


def _value_for(x: Tensor, value: Any, target: tuple[int, ...], op: str) -> Tensor:
    """``value`` cast to ``x``'s dtype and broadcast to the indexed shape ``target``."""
    if isinstance(value, Tensor):
        v = cast(value, x.dtype)
    else:
        v = Tensor._make(np.asarray(_unwrap(value), dtype=x.dtype.np), x._device)
    # Leading size-1 dimensions of the value are dropped (x[0] = ones(1, n) works, as in torch).
    while v.ndim > len(target) and v.shape[0] == 1:
        v = _shape.reshape(v, tuple(v.shape[1:]))
    try:
        ok = v.ndim <= len(target) and broadcast_shapes(v.shape, target) == target
    except ShapeError:
        ok = False
    if not ok:
        raise ShapeError(f"{op}: the value {describe(v)} cannot be broadcast to the indexed "
                         f"shape {list(target)} of {describe(x)}")
    return _shape.broadcast_to(v, target)


def index_put(x: Any, index: Any, value: Any, accumulate: bool = False) -> Tensor:
    """A copy of ``x`` with ``x[index] = value`` (the functional ``__setitem__``).

    ``value`` is a number or a tensor broadcast to the indexed shape and cast to ``x``'s dtype.
    With ``accumulate=True`` the values are added instead, repeated indices accumulating.
    Differentiable in both ``x`` and ``value``.
    """
    x = as_tensor(x)
    spec, arrays = _parse(x, index, "index_put")
    target = _index_shape("index_put", x, arrays, spec)
    v = _value_for(x, value, target, "index_put")
    prim = index_add_p if accumulate else index_put_p
    return prim.bind(x, v, *arrays, spec=spec)


# ------------------------------------------------------------------ gather / scatter


def _dim_rule(op: str, x: Any, index: Any, dim: int, src: Any = None) -> None:
    if index.dtype is not _dt.int64:
        raise DTypeError(f"{op}: the index must be int64, got {describe(index)}")
    if len(x.shape) == 0 or len(index.shape) != len(x.shape) or not 0 <= dim < len(x.shape):
        raise ShapeError(f"{op}: the input and the index must have the same number (>= 1) of "
                         f"dimensions, got {describe(x, index)} with dim={dim}")
    for k, (n, m) in enumerate(zip(x.shape, index.shape, strict=True)):
        if k != dim and m > n:
            raise ShapeError(f"{op}: the index {describe(index)} must be no larger than the "
                             f"input {describe(x)} in every dimension except dim {dim} "
                             f"(dimension {k})")
    if src is not None:
        if src.dtype is not x.dtype:
            raise DTypeError(f"{op}: the source must have the input's dtype, got "
                             f"{describe(x, src)}")
        if tuple(src.shape) != tuple(index.shape):
            raise ShapeError(f"{op}: the source {describe(src)} must have the index's shape "
                             f"{list(index.shape)}; the public function slices it")


def _gather_rule(x: Any, index: Any, *, dim: int) -> ShapedArray:
    _dim_rule("gather", x, index, dim)
    return ShapedArray(tuple(index.shape), x.dtype)


def _gather_impl(x: np.ndarray, index: np.ndarray, *, dim: int) -> np.ndarray:
    if index.ndim == 2:
        # The common 2-d case (a loss picking one class per row) as one fancy index, which is
        # what take_along_axis builds (in Python, ~2 us more).
        n, m = index.shape
        if dim == 1:
            return x[np.arange(n)[:, None], index]
        return x[index, np.arange(m)]
    # Only the leading index.shape[k] entries of the other dimensions take part (PyTorch).
    xs = x[tuple(slice(None) if k == dim else slice(0, m) for k, m in enumerate(index.shape))]
    return np.take_along_axis(xs, index, axis=dim)


def _coords(index: np.ndarray, dim: int) -> tuple[np.ndarray, ...]:
    """Full coordinates for scattering: ``index`` along ``dim``, positions elsewhere."""
    nd = index.ndim
    return tuple(
        index if k == dim else np.arange(m).reshape([m if j == k else 1 for j in range(nd)])
        for k, m in enumerate(index.shape)
    )


def _scatter_rule(op: str) -> Any:
    def rule(x: Any, index: Any, src: Any, *, dim: int) -> ShapedArray:
        _dim_rule(op, x, index, dim, src)
        return ShapedArray(tuple(x.shape), x.dtype)

    return rule


def _scatter_add_impl(x: np.ndarray, index: np.ndarray, src: np.ndarray, *,
                      dim: int) -> np.ndarray:
    out = x.copy()
    if index.shape[dim] == 1:
        # One index per line along dim: no position repeats, so a plain fancy-index update
        # adds each source element once, as np.add.at would (which is several times slower).
        out[_coords(index, dim)] += src
    else:
        np.add.at(out, _coords(index, dim), src)
    return out


def _scatter_impl(x: np.ndarray, index: np.ndarray, src: np.ndarray, *, dim: int) -> np.ndarray:
    out = x.copy()
    out[_coords(index, dim)] = src
    return out


gather_p = primitive(
    "gather",
    shape_rule=_gather_rule,
    impl=_gather_impl,
    vjp=(lambda g, out, x, index, *, dim: scatter_add_p.bind(
        _creation.zeros_like(x), index, g, dim=dim), None),
    lowering=Kernel("gather"),
    doc="out[..., i, ...] = x[..., index[..., i, ...], ...] along dim (torch.gather).",
)

scatter_add_p = primitive(
    "scatter_add",
    shape_rule=_scatter_rule("scatter_add"),
    impl=_scatter_add_impl,
    vjp=(lambda g, out, x, index, src, *, dim: g, None,
         lambda g, out, x, index, src, *, dim: gather_p.bind(g, index, dim=dim)),
    lowering=Kernel("scatter_add"),
    doc="A copy of x with src added at index along dim; repeated indices accumulate.",
)

scatter_p = primitive(
    "scatter",
    shape_rule=_scatter_rule("scatter"),
    impl=_scatter_impl,
    vjp=(lambda g, out, x, index, src, *, dim: scatter_p.bind(
        g, index, _creation.zeros_like(src), dim=dim), None,
         lambda g, out, x, index, src, *, dim: gather_p.bind(g, index, dim=dim)),
    lowering=Kernel("scatter"),
    doc="A copy of x with src written at index along dim (torch.scatter, out of place).",
)


def _int_index(index: Any, op: str) -> Tensor:
    """``index`` as an int64 tensor (integer dtypes only)."""
    t = as_tensor(index)
    if t.dtype.is_floating_point or t.dtype is _dt.bool_:
        raise DTypeError(f"{op}: expected an integer index tensor, got {describe(t)}")
    return cast(t, _dt.int64)


def _dim_args(x: Any, dim: int, index: Any, op: str) -> tuple[Tensor, int, Tensor, tuple]:
    """Shared argument handling of gather/scatter: 0-d tensors act as 1-d ones of size 1."""
    x = as_tensor(x)
    index = _int_index(index, op)
    out_shape = tuple(index.shape)
    d = normalize_dim(dim, x.ndim, op)
    if x.ndim == 0:
        x = _shape.reshape(x, (1,))
    if index.ndim == 0:
        index = _shape.reshape(index, (1,))
    if index.ndim != x.ndim:
        raise ShapeError(f"{op}: the index must have as many dimensions as the input, got "
                         f"{describe(x, index)}")
    _check_bounds(index, x.shape[d], d, op, x)
    return x, d, index, out_shape


def gather(x: Any, dim: int, index: Any, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j][k] = x[index[i][j][k]][j][k]`` for ``dim=0`` (and so on): values of ``x`` at
    ``index`` along ``dim``. ``index`` has ``x``'s number of dimensions and may be smaller in
    the others. ``sparse_grad`` is accepted for PyTorch compatibility (gradients are dense)."""
    x0 = as_tensor(x)
    x, d, index, out_shape = _dim_args(x0, dim, index, "gather")
    return _shape.reshape(gather_p.bind(x, index, dim=d), out_shape)


def _src_for(x: Tensor, index: Tensor, src: Any, op: str) -> Tensor:
    """The source of a scatter, cut to the index's shape (only that part is used)."""
    if not isinstance(src, Tensor):
        return _creation.full(tuple(index.shape), src, dtype=x.dtype, device=x.device)
    if src.dtype is not x.dtype:
        raise DTypeError(f"{op}: expected the source to have the input's dtype, got "
                         f"{describe(x, src)}")
    if src.ndim == 0:
        src = _shape.reshape(src, (1,))
    if src.ndim != index.ndim or any(m > s for m, s in zip(index.shape, src.shape, strict=True)):
        raise ShapeError(f"{op}: the index {describe(index)} must be no larger than the source "
                         f"{describe(src)} in every dimension")
    return _shape.strided_slice(src, (0,) * src.ndim, tuple(index.shape))


def scatter_add(x: Any, dim: int, index: Any, src: Tensor) -> Tensor:
    """A copy of ``x`` with ``src`` added at ``index`` along ``dim`` (``torch.scatter_add``):
    ``out[index[i][j]][j] += src[i][j]`` for ``dim=0``; repeated indices accumulate."""
    x0 = as_tensor(x)
    x, d, index, _ = _dim_args(x0, dim, index, "scatter_add")
    s = _src_for(x, index, src, "scatter_add")
    return _shape.reshape(scatter_add_p.bind(x, index, s, dim=d), tuple(x0.shape))


def scatter(x: Any, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Tensor:
    """A copy of ``x`` with ``src`` (a tensor, or a number for every position) written at
    ``index`` along ``dim`` (``torch.scatter``). Where an index repeats, which write wins is
    unspecified (as in PyTorch)."""
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a tensor or number) and value")
    x0 = as_tensor(x)
    x, d, index, _ = _dim_args(x0, dim, index, "scatter")
    s = _src_for(x, index, src if src is not None else value, "scatter")
    return _shape.reshape(scatter_p.bind(x, index, s, dim=d), tuple(x0.shape))


def take_along_dim(x: Any, indices: Any, dim: int | None = None) -> Tensor:
    """Values of ``x`` at ``indices`` along ``dim`` (``torch.take_along_dim``): like
    :func:`gather`, but ``x`` and ``indices`` broadcast in the other dimensions. With
    ``dim=None`` both are flattened first."""
    x = as_tensor(x)
    indices = _int_index(indices, "take_along_dim")
    if dim is None:
        return gather(_shape.reshape(x, (-1,)), 0, _shape.reshape(indices, (-1,)))
    d = normalize_dim(dim, x.ndim, "take_along_dim")
    if x.ndim != indices.ndim:
        raise ShapeError(f"take_along_dim: the input and the indices must have the same number "
                         f"of dimensions, got {describe(x, indices)}")
    if x.ndim == 0:
        return gather(x, 0, indices)
    xs, js = list(x.shape), list(indices.shape)
    common = list(broadcast_shapes([1 if k == d else n for k, n in enumerate(xs)],
                                   [1 if k == d else n for k, n in enumerate(js)],
                                   op="take_along_dim"))
    x_target = tuple(xs[d] if k == d else n for k, n in enumerate(common))
    i_target = tuple(js[d] if k == d else n for k, n in enumerate(common))
    return gather(_shape.broadcast_to(x, x_target), d, _shape.broadcast_to(indices, i_target))


# ------------------------------------------------------------------ selecting along one dim


def _along(x: Tensor, dim: int, index: Tensor, op: str) -> tuple[Tensor, Spec, Tensor]:
    """Spec ``x[:, ..., index]`` (index at ``dim``) for index_select / index_add."""
    d = normalize_dim(dim, x.ndim, op)
    if index.ndim > 1:
        raise ShapeError(f"{op}: the index must be 0-d or 1-d, got {describe(index)}")
    if x.ndim == 0:
        if index.numel() != 1:
            raise ShapeError(f"{op}: indexing a 0-d tensor takes exactly one index, got "
                             f"{describe(index)}")
        x = _shape.reshape(x, (1,))
    index = _shape.reshape(index, (index.numel(),))
    _check_bounds(index, x.shape[d], d, op, x)
    spec = (*(("slice", 0, 1, n) for n in x.shape[:d]), ("array", 0))
    return x, spec, index


def index_select(x: Any, dim: int, index: Any) -> Tensor:
    """The entries of ``x`` at ``index`` (0-d or 1-d) along ``dim``
    (``torch.index_select``)."""
    x0 = as_tensor(x)
    x, spec, idx = _along(x0, dim, _int_index(index, "index_select"), "index_select")
    out = index_p.bind(x, idx, spec=spec)
    return _shape.reshape(out, ()) if x0.ndim == 0 else out


def index_add(x: Any, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Tensor:
    """A copy of ``x`` with ``alpha * source[..., i, ...]`` added at ``x[..., index[i], ...]``
    along ``dim`` (``torch.index_add``); repeated indices accumulate."""
    x0 = as_tensor(x)
    source = as_tensor(source)
    if source.dtype is not x0.dtype:
        raise DTypeError(f"index_add: the input and the source must have the same dtype, got "
                         f"{describe(x0, source)}")
    x, spec, idx = _along(x0, dim, _int_index(index, "index_add"), "index_add")
    d = normalize_dim(dim, x.ndim, "index_add")
    want = tuple(idx.shape[0] if k == d else n for k, n in enumerate(x.shape))
    if source.ndim == 0:  # a 0-d source goes with a single index (and a 0-d or 1-d input)
        source = _shape.reshape(source, (1,) * len(want))
    if tuple(source.shape) != want:
        raise ShapeError(f"index_add: the source must have the input's shape except in dim {d} "
                         f"where it has one entry per index, i.e. {want}; got "
                         f"{describe(x0, source)}")
    if alpha != 1:
        if not x.dtype.is_floating_point and isinstance(alpha, float):
            raise DTypeError(f"index_add: for an integral input {describe(x0)}, alpha must not "
                             f"be a floating point number (got {alpha})")
        source = _binary.mul(source, scalar_tensor(alpha, x.dtype, x))
    out = index_add_p.bind(x, source, idx, spec=spec)
    return _shape.reshape(out, ()) if x0.ndim == 0 else out


# ------------------------------------------------------------------ masks


def _bool_mask(mask: Any, op: str) -> Tensor:
    m = as_tensor(mask)
    if m.dtype is not _dt.bool_:
        raise DTypeError(f"{op}: expected a bool mask, got {describe(m)}")
    return m


def masked_fill(x: Any, mask: Any, value: Any) -> Tensor:
    """``x`` with ``value`` where ``mask`` (broadcast against ``x``) is true. ``value`` is a
    number or a 0-d tensor (differentiable); the result keeps ``x``'s dtype."""
    x = as_tensor(x)
    m = _bool_mask(mask, "masked_fill")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ShapeError(f"masked_fill: only a 0-d value tensor is supported, got "
                             f"{describe(value)}")
        v = cast(value, x.dtype)
    else:
        v = scalar_tensor(value, x.dtype, x)
    return _binary.where(m, v, x)


def masked_select(x: Any, mask: Any) -> Tensor:
    """The elements of ``x`` where ``mask`` is true, as a 1-d tensor (``x`` and ``mask``
    broadcast together). Eager only: the result's length depends on the mask's values."""
    x = as_tensor(x)
    m = _bool_mask(mask, "masked_select")
    shape = broadcast_shapes(x.shape, m.shape, op="masked_select")
    xb = _shape.broadcast_to(x, shape)
    mb = _shape.broadcast_to(m, shape)
    out = getitem(xb, mb)
    return out if out.ndim == 1 else _shape.reshape(out, (-1,))


def nonzero(x: Any, as_tuple: bool = False) -> Any:
    """Indices of the non-zero elements of ``x``: an int64 tensor of shape ``(n, x.ndim)``, or
    with ``as_tuple=True`` a tuple of ``x.ndim`` 1-d tensors (one for a 0-d ``x``). Eager only."""
    x = as_tensor(x)
    data = _concrete(x)
    if data is None:
        raise TracerError("nonzero: the result's shape depends on the values, so it needs a "
                          "concrete tensor; it cannot be traced")
    dev = x._device
    if data.ndim == 0:
        count = int(bool(data))
        if as_tuple:
            return (Tensor._make(np.zeros(count, np.int64), dev),)
        return Tensor._make(np.zeros((count, 0), np.int64), dev)
    coords = np.nonzero(data)
    if as_tuple:
        return tuple(Tensor._make(c.astype(np.int64), dev) for c in coords)
    return Tensor._make(np.stack(coords, axis=1).astype(np.int64), dev)


__all__ = [
    "getitem", "index_put", "gather", "scatter_add", "scatter", "index_select", "index_add",
    "masked_fill", "masked_select", "take_along_dim", "nonzero",
]
