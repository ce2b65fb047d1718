"""Shape primitives and the PyTorch shape functions built on them.

Primitives: ``reshape``, ``permute``, ``broadcast_to`` and ``slice`` are views in eager mode
(they share the input's storage and version counter, as PyTorch's views do); ``pad``,
``concatenate`` and ``flip`` make new arrays. Everything else here (squeeze, flatten, movedim,
split, chunk, stack, F.pad's modes, roll, repeat, tril, ...) is a composition of those, so its
gradient, and its gradient's gradient, comes for free from their VJP rules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..autograd.mode import _state as _grad_state
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor

# Sibling families are referenced through their module objects, resolved at call time, because
# the families use each other (reduce's sum is sum_to_shape's, our reshape is reduce's VJPs').
from . import binary as _binary
from . import convert as _convert
from . import reduce as _reduce
from . import registry as _registry
from .promotion import as_tensor, normalize_dim, normalize_dims, scalar_tensor
from .registry import Kernel, ShapedArray, current_interpreter, primitive
from .rules import describe

#: What :func:`split`, :func:`chunk` and :func:`unbind` return (PyTorch returns a tuple too).
SplitResult = tuple[Tensor, ...]


def _numel(shape: Sequence[int]) -> int:
    # From the shape, not the data: traced values have a shape but no data.
    return math.prod(int(d) for d in shape)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _as_int(v: Any, what: str, op: str) -> int:
    """A Python int from an int, NumPy integer or one-element integer tensor."""
    if _is_int(v):
        return int(v)
    if isinstance(v, Tensor) and not v.dtype.is_floating_point and v.dtype is not _dt.bool_ \
            and _numel(v.shape) == 1:
        return int(v.item())
    raise TypeError(f"{op}: {what} must be an int, got {type(v).__name__}")


def _int_tuple(v: Any, what: str, op: str) -> tuple[int, ...]:
    """A tuple of ints from one int or a sequence of ints."""
    if type(v) is tuple and all(type(e) is int for e in v):  # the common case, already done
        return v
    if _is_int(v) or isinstance(v, Tensor):
        return (_as_int(v, what, op),)
    if not isinstance(v, (tuple, list, range)) and not hasattr(v, "__iter__"):
        raise TypeError(f"{op}: {what} must be an int or a sequence of ints, got "
                        f"{type(v).__name__}")
    return tuple(_as_int(e, what, op) for e in v)


def _eager() -> bool:
    """Whether binds run now on concrete data (no tracer is active)."""
    return current_interpreter() is None


# ---------------------------------------------------------------- reshape


def _reshape_rule(x: Any, *, shape: tuple[int, ...]) -> ShapedArray:
    if any(d < 0 for d in shape) or _numel(shape) != _numel(x.shape):
        raise ShapeError(
            f"reshape: shape {list(shape)} is invalid for input {describe(x)} "
            f"({_numel(x.shape)} elements)"
        )
    return ShapedArray(shape, x.dtype)


reshape_p = primitive(
    "reshape",
    shape_rule=_reshape_rule,
    impl=lambda x, *, shape: x.reshape(shape),
    vjp=(lambda g, out, x, *, shape: reshape(g, tuple(x.shape)),),
    lowering=Kernel("reshape"),
    view=True,
    doc="Same elements in row-major order, new shape (a view when possible).",
)


def infer_shape(shape: Sequence[int], numel: int, op: str) -> tuple[int, ...]:
    """Resolve one ``-1`` entry of ``shape`` for a tensor of ``numel`` elements."""
    shape = tuple(int(d) for d in shape)
    neg = [i for i, d in enumerate(shape) if d == -1]
    if len(neg) > 1:
        raise ShapeError(f"{op}: only one dimension can be inferred (-1), got {list(shape)}")
    if any(d < -1 for d in shape):
        raise ShapeError(f"{op}: invalid shape dimension in {list(shape)}")
    if neg:
        known = _numel(d for d in shape if d != -1)
        if known == 0 or numel % known:
            raise ShapeError(
                f"{op}: shape {list(shape)} is invalid for input of {numel} elements"
            )
        shape = (*shape[: neg[0]], numel // known, *shape[neg[0] + 1:])
    return shape


def reshape(x: Any, shape: Sequence[int]) -> Tensor:
    """``x`` with a new shape (one entry may be -1); a view when the layout allows, else a
    copy."""
    x = as_tensor(x)
    target = infer_shape(_int_tuple(shape, "shape", "reshape"), _numel(x.shape), "reshape")
    if target == tuple(x.shape):
        return x
    return reshape_p.bind(x, shape=target)


def view(x: Any, shape: Sequence[int]) -> Tensor:
    """``x`` with a new shape, sharing its storage (``Tensor.view``).

    Like PyTorch, this refuses when the new shape cannot be expressed over the existing memory
    layout (e.g. flattening a transposed tensor), instead of silently copying: a write through
    the result would otherwise not reach ``x``. Use :func:`reshape` to copy when needed.
    """
    x = as_tensor(x)
    target = infer_shape(_int_tuple(shape, "shape", "view"), _numel(x.shape), "view")
    if target != tuple(x.shape) and _eager() and _numel(target) == _numel(x.shape):
        try:
            np.reshape(x._data, target, copy=False)
        except ValueError:
            raise ShapeError(
                f"view: shape {list(target)} is not compatible with the memory layout of "
                f"{describe(x)} (strides {[s // x._data.itemsize for s in x._data.strides]}): "
                f"at least one new dimension spans non-contiguous memory; use .reshape(...) "
                f"(or .contiguous().view(...)) instead"
            ) from None
    return reshape(x, target)


def squeeze(x: Any, dim: Any = None) -> Tensor:
    """``x`` without its size-1 dimensions (all of them, or those in ``dim``, an int or tuple).

    Naming a dimension whose size is not 1 is not an error: it is kept, as in PyTorch.
    """
    x = as_tensor(x)
    dims = normalize_dims(dim, x.ndim, "squeeze")
    shape = tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1))
    return reshape(x, shape)


def unsqueeze(x: Any, dim: int) -> Tensor:
    """``x`` with a new size-1 dimension inserted at ``dim`` (in ``[-ndim-1, ndim]``)."""
    x = as_tensor(x)
    d = normalize_dim(dim, x.ndim + 1, "unsqueeze")
    shape = tuple(x.shape)
    return reshape(x, (*shape[:d], 1, *shape[d:]))


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """``x`` with dimensions ``start_dim..end_dim`` merged into one (a 0-d tensor becomes 1-d)."""
    x = as_tensor(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    s = normalize_dim(start_dim, x.ndim, "flatten")
    e = normalize_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim ({start_dim}) cannot come after end_dim "
                         f"({end_dim}) for {describe(x)}")
    shape = tuple(x.shape)
    return reshape(x, (*shape[:s], _numel(shape[s:e + 1]), *shape[e + 1:]))


def unflatten(x: Any, dim: int, sizes: Sequence[int]) -> Tensor:
    """``x`` with dimension ``dim`` split into ``sizes`` (one entry may be -1)."""
    x = as_tensor(x)
    d = normalize_dim(dim, x.ndim, "unflatten")
    sizes = _int_tuple(sizes, "sizes", "unflatten")
    if not sizes:
        raise ShapeError("unflatten: sizes must be non-empty")
    n = x.shape[d]
    try:
        resolved = infer_shape(sizes, n, "unflatten")
        ok = _numel(resolved) == n
    except ShapeError:
        ok = False
    if not ok:
        raise ShapeError(f"unflatten: sizes {list(sizes)} don't multiply up to the size of "
                         f"dim {d} ({n}) of {describe(x)}")
    shape = tuple(x.shape)
    return reshape(x, (*shape[:d], *resolved, *shape[d + 1:]))


# ---------------------------------------------------------------- permute

_SWAP = (1, 0)  # a matrix transpose, the permutation eager code binds most


def _permute_rule(x: Any, *, perm: tuple[int, ...]) -> ShapedArray:
    shape = x.shape
    if (perm != _SWAP or len(shape) != 2) and sorted(perm) != list(range(len(shape))):
        raise ShapeError(f"permute: {list(perm)} is not a permutation of the dims of "
                         f"{describe(x)}")
    return ShapedArray(tuple([shape[p] for p in perm]), x.dtype)


def untracked_permute(x: Tensor, perm: tuple[int, ...]) -> Tensor:
    """``permute(x, perm)`` for backward passes: with grad mode off and no interpreter (an
    eager ``backward()`` without ``create_graph``) nothing records the result and nothing
    writes into it, so a plain NumPy view wrapped as a tensor is all the bind would produce
    (its values; it gets no version counter of its own to share). Otherwise, the bind."""
    d = x._data
    if _grad_state.grad_enabled or _registry._interp.stack or type(d) is not np.ndarray \
            or len(perm) != d.ndim:
        return permute_p.bind(x, perm=perm)
    return Tensor._make(d.transpose(perm), x._device)


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


permute_p = primitive(
    "permute",
    shape_rule=_permute_rule,
    impl=lambda x, *, perm: x.transpose(perm),
    vjp=(lambda g, out, x, *, perm: untracked_permute(g, _inverse(perm)),),
    lowering=Kernel("permute"),
    view=True,
    doc="Reorder dimensions (a view).",
)


def permute(x: Any, dims: Sequence[int]) -> Tensor:
    """``x`` with its dimensions reordered as ``dims``."""
    x = as_tensor(x)
    if type(dims) is not tuple:
        dims = _int_tuple(dims, "dims", "permute")
    if len(dims) != x.ndim:
        raise ShapeError(f"permute: got {len(dims)} dims {list(dims)} for a {x.ndim}-d tensor")
    perm = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    if perm == tuple(range(x.ndim)):
        return x
    return permute_p.bind(x, perm=perm)


def transpose(x: Any, dim0: int, dim1: int) -> Tensor:
    """``x`` with dimensions ``dim0`` and ``dim1`` swapped."""
    x = as_tensor(x)
    ndim = x.ndim
    perm = list(range(ndim))
    a, b = normalize_dim(dim0, ndim, "transpose"), normalize_dim(dim1, ndim, "transpose")
    if ndim < 2 or a == b:
        return x
    perm[a], perm[b] = perm[b], perm[a]
    return permute_p.bind(x, perm=tuple(perm))  # a valid permutation: permute() would agree


swapaxes = swapdims = transpose


def t(x: Any) -> Tensor:
    """Transpose of a tensor of at most 2 dimensions."""
    x = as_tensor(x)
    if x.ndim > 2:
        raise ShapeError(f"t: expects a tensor with <= 2 dimensions, got {describe(x)}; "
                         f"use transpose(dim0, dim1) or mT")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def movedim(x: Any, source: Any, destination: Any) -> Tensor:
    """``x`` with dimensions ``source`` moved to positions ``destination`` (ints or tuples);
    the other dimensions keep their relative order."""
    x = as_tensor(x)
    n = x.ndim
    src = tuple(normalize_dim(d, n, "movedim") for d in _int_tuple(source, "source", "movedim"))
    dst = tuple(normalize_dim(d, n, "movedim")
                for d in _int_tuple(destination, "destination", "movedim"))
    if len(src) != len(dst):
        raise ValueError(f"movedim: source {list(src)} and destination {list(dst)} must name "
                         f"the same number of dims")
    for name, ds in (("source", src), ("destination", dst)):
        if len(set(ds)) != len(ds):
            raise ValueError(f"movedim: repeated dim in {name} {list(ds)}")
    if n == 0:
        return x
    perm = [-1] * n
    for s, d in zip(src, dst, strict=True):
        perm[d] = s
    rest_src = (i for i in range(n) if i not in src)
    for d in range(n):
        if perm[d] == -1:
            perm[d] = next(rest_src)
    return permute(x, perm)


moveaxis = movedim


# ---------------------------------------------------------------- broadcast_to


def _broadcast_rule(x: Any, *, shape: tuple[int, ...]) -> ShapedArray:
    xs = x.shape
    lead = len(shape) - len(xs)
    ok = lead >= 0 and min(shape, default=0) >= 0
    if ok:
        for d, s in zip(xs, shape[lead:]):  # plain loop: eager code runs this for every bias
            if d != 1 and d != s:
                ok = False
                break
    if not ok:
        raise ShapeError(
            f"broadcast_to: cannot broadcast {describe(x)} to shape {list(shape)}; each "
            f"dimension must be 1 or match, counting from the right"
        )
    return ShapedArray(shape, x.dtype)


def sum_to_shape(g: Tensor, shape: Sequence[int]) -> Tensor:
    """Sum ``g`` over the dimensions that broadcasting added to reach its shape from ``shape``."""
    shape = tuple(shape)
    gshape = tuple(g.shape)
    lead = len(gshape) - len(shape)
    inner = tuple([lead + i for i, d in enumerate(shape) if d == 1 and gshape[lead + i] != 1])
    if not inner:
        if not lead:
            return g
        # Only new leading dimensions (a bias added to a batch): one sum without keepdims
        # already has the shape, where keepdims and a reshape would be two ops.
        if g.dtype.is_floating_point:
            return _reduce.sum_p.bind(g, axes=tuple(range(lead)), keepdims=False)
        return _reduce.sum(g, tuple(range(lead)))
    g = _reduce.sum(g, tuple(range(lead)) + inner, keepdim=True)
    return reshape(g, shape) if tuple(g.shape) != shape else g


broadcast_to_p = primitive(
    "broadcast_to",
    shape_rule=_broadcast_rule,
    impl=lambda x, *, shape: np.broadcast_to(x, shape),
    vjp=(lambda g, out, x, *, shape: sum_to_shape(g, tuple(x.shape)),),
    lowering=Kernel("broadcast_to"),
    view=True,
    doc="Repeat size-1 (and new leading) dimensions without copying (stride 0).",
)


def _resolve_expand(x: Tensor, shape: tuple[int, ...], op: str) -> tuple[int, ...]:
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ShapeError(f"{op}: the number of sizes ({len(shape)}) must be at least the "
                         f"number of dimensions of {describe(x)}")
    resolved = tuple(
        x.shape[i - lead] if (s == -1 and i >= lead) else s for i, s in enumerate(shape)
    )
    if any(s < 0 for s in resolved):
        raise ShapeError(f"{op}: -1 is not allowed for new leading dimensions and sizes must "
                         f"be >= 0, got {list(shape)} for {describe(x)}")
    return resolved


def _expand_to(x: Any, shape: Sequence[int], op: str) -> Tensor:
    x = as_tensor(x)
    target = _resolve_expand(x, _int_tuple(shape, "shape", op), op)
    if target == tuple(x.shape):
        return x
    return broadcast_to_p.bind(x, shape=target)


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """``x`` broadcast to ``shape`` (a read-only view; -1 keeps a dimension's size)."""
    return _expand_to(x, shape, "broadcast_to")


def expand(x: Any, shape: Sequence[int]) -> Tensor:
    """``x`` broadcast to ``shape``, where -1 keeps a dimension's size (PyTorch's ``expand``)."""
    return _expand_to(x, shape, "expand")


# ---------------------------------------------------------------- strided slice and pad
# ``slice`` and ``pad`` are each other's transpose: the VJP of one is the other, so basic
# indexing, split, chunk, cat and F.pad all differentiate without scatter loops.


def _slice_len(start: int, stop: int, step: int) -> int:
    return max(0, -(-(stop - start) // step))


def _slice_rule(x: Any, *, starts: tuple[int, ...], stops: tuple[int, ...],
                steps: tuple[int, ...]) -> ShapedArray:
    if not (len(starts) == len(stops) == len(steps) == len(x.shape)):
        raise ShapeError(f"slice: need one start/stop/step per dimension of {describe(x)}")
    for d, (a, b, c) in enumerate(zip(starts, stops, steps, strict=True)):
        if c < 1 or not 0 <= a <= x.shape[d] or not 0 <= b <= x.shape[d]:
            raise ShapeError(
                f"slice: invalid start/stop/step {a}:{b}:{c} for dimension {d} of {describe(x)}"
            )
    return ShapedArray(
        tuple(_slice_len(a, b, c) for a, b, c in zip(starts, stops, steps, strict=True)),
        x.dtype,
    )


def _slice_vjp(g: Tensor, out: Any, x: Tensor, *, starts: tuple[int, ...],
               stops: tuple[int, ...], steps: tuple[int, ...]) -> Tensor:
    from .. import creation  # creation is imported after the ops package

    if _numel(g.shape) == 0:
        return creation.zeros_like(x)
    highs = tuple(
        n - (a + (m - 1) * c + 1)
        for n, m, a, c in zip(x.shape, g.shape, starts, steps, strict=True)
    )
    return pad_p.bind(g, lows=starts, highs=highs, interiors=tuple(c - 1 for c in steps),
                      value=0)


slice_p = primitive(
    "slice",
    shape_rule=_slice_rule,
    impl=lambda x, *, starts, stops, steps: x[
        tuple(slice(a, b, c) for a, b, c in zip(starts, stops, steps, strict=True))
    ],
    vjp=(_slice_vjp,),
    lowering=Kernel("slice"),
    view=True,
    doc="Basic strided slice with positive steps, one start/stop/step per dimension (a view).",
)


def _pad_rule(x: Any, *, lows: tuple[int, ...], highs: tuple[int, ...],
              interiors: tuple[int, ...], value: Any) -> ShapedArray:
    if not (len(lows) == len(highs) == len(interiors) == len(x.shape)):
        raise ShapeError(f"pad: need one (low, high, interior) per dimension of {describe(x)}")
    if min(lows + highs + interiors, default=0) < 0:
        raise ShapeError(f"pad: amounts must be >= 0 (crop with slicing), got lows={lows}, "
                         f"highs={highs}, interiors={interiors}")
    return ShapedArray(
        tuple(lo + hi + n + max(n - 1, 0) * it
              for n, lo, hi, it in zip(x.shape, lows, highs, interiors, strict=True)),
        x.dtype,
    )


def _pad_impl(x: np.ndarray, *, lows: tuple[int, ...], highs: tuple[int, ...],
              interiors: tuple[int, ...], value: Any) -> np.ndarray:
    shape = tuple(lo + hi + n + max(n - 1, 0) * it
                  for n, lo, hi, it in zip(x.shape, lows, highs, interiors, strict=True))
    out = np.full(shape, value, dtype=x.dtype)
    out[tuple(slice(lo, lo + n + max(n - 1, 0) * it, it + 1)
              for n, lo, it in zip(x.shape, lows, interiors, strict=True))] = x
    return out


def _pad_vjp(g: Tensor, out: Any, x: Tensor, *, lows: tuple[int, ...], highs: tuple[int, ...],
             interiors: tuple[int, ...], value: Any) -> Tensor:
    return slice_p.bind(
        g,
        starts=lows,
        stops=tuple(lo + n + max(n - 1, 0) * it
                    for n, lo, it in zip(x.shape, lows, interiors, strict=True)),
        steps=tuple(it + 1 for it in interiors),
    )


pad_p = primitive(
    "pad",
    shape_rule=_pad_rule,
    impl=_pad_impl,
    vjp=(_pad_vjp,),
    lowering=Kernel("pad"),
    doc="Pad with a constant: low/high amounts and interior spacing per dimension "
        "(like jax.lax.pad with non-negative amounts).",
)


def strided_slice(x: Any, starts: Sequence[int], stops: Sequence[int],
                  steps: Sequence[int] | None = None) -> Tensor:
    """``x[starts[0]:stops[0]:steps[0], ...]`` for already-normalised, in-range bounds and
    positive steps (one entry per dimension)."""
    x = as_tensor(x)
    steps = tuple(int(c) for c in steps) if steps is not None else (1,) * x.ndim
    starts, stops = tuple(int(a) for a in starts), tuple(int(b) for b in stops)
    bounds = (starts, stops, steps, tuple(x.shape))
    if len({len(b) for b in bounds}) == 1 and all(
        a == 0 and b == n and c == 1 for a, b, c, n in zip(*bounds, strict=True)
    ):
        return x
    # A length mismatch goes on to the primitive, whose shape rule names the problem.
    return slice_p.bind(x, starts=starts, stops=stops, steps=steps)


def _slice_dim(x: Tensor, dim: int, start: int, stop: int, step: int = 1) -> Tensor:
    """``x[..., start:stop:step, ...]`` along the (normalised) dimension ``dim``."""
    starts, stops, steps = [0] * x.ndim, list(x.shape), [1] * x.ndim
    starts[dim], stops[dim], steps[dim] = start, stop, step
    return strided_slice(x, starts, stops, steps)


def _select(x: Tensor, dim: int, i: int) -> Tensor:
    """``x`` at index ``i`` of dimension ``dim``, which is dropped (a view)."""
    shape = tuple(x.shape)
    return reshape(_slice_dim(x, dim, i, i + 1), shape[:dim] + shape[dim + 1:])


def narrow(x: Any, dim: int, start: int, length: int) -> Tensor:
    """``x[..., start:start + length, ...]`` along ``dim`` (a view); ``start`` may be negative."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise ShapeError("narrow: cannot be applied to a 0-dim tensor")
    d = normalize_dim(dim, x.ndim, "narrow")
    start, length = _as_int(start, "start", "narrow"), _as_int(length, "length", "narrow")
    n = x.shape[d]
    if not -n <= start <= n:
        raise IndexError(f"narrow: start out of range (expected to be in range of [{-n}, {n}], "
                         f"but got {start}) for dimension {d} of {describe(x)}")
    if start < 0:
        start += n
    if length < 0:
        raise ValueError(f"narrow: length must be non-negative, got {length}")
    if start + length > n:
        raise ShapeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                         f"({n}) of dimension {d} of {describe(x)}")
    return _slice_dim(x, d, start, start + length)


def split(x: Any, split_size_or_sections: Any, dim: int = 0) -> SplitResult:
    """Views of consecutive pieces of ``x`` along ``dim``: pieces of ``split_size`` (the last
    one may be smaller) for an int, or of the given sizes for a list (they must sum to the
    dimension's size)."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise ShapeError("split: cannot split a 0-dim tensor; it has no dimension to split")
    d = normalize_dim(dim, x.ndim, "split")
    n = x.shape[d]
    if _is_int(split_size_or_sections) or isinstance(split_size_or_sections, Tensor):
        size = _as_int(split_size_or_sections, "split_size", "split")
        if size < 0:
            raise ValueError(f"split: split_size must be non-negative, got {size}")
        if size == 0 and n != 0:
            raise ValueError(f"split: split_size can only be 0 if the dimension's size is 0, "
                             f"but dimension {d} of {describe(x)} has size {n}")
        count = max(-(-n // size), 1) if size else 1
        sizes = [size] * (count - 1) + [n - size * (count - 1)]
    else:
        sizes = list(_int_tuple(split_size_or_sections, "split sizes", "split"))
        if any(s < 0 for s in sizes):
            raise ValueError(f"split: split sizes must be non-negative, got {sizes}")
        if sum(sizes) != n:
            raise ShapeError(f"split: split sizes {sizes} must sum exactly to {n}, the size of "
                             f"dimension {d} of {describe(x)}")
    pieces, start = [], 0
    for s in sizes:
        pieces.append(_slice_dim(x, d, start, start + s))
        start += s
    return tuple(pieces)


def chunk(x: Any, chunks: int, dim: int = 0) -> SplitResult:
    """``x`` split into ``chunks`` pieces along ``dim`` with PyTorch's sizing: pieces of
    ``ceil(size / chunks)``, so fewer than ``chunks`` pieces can come back."""
    x = as_tensor(x)
    chunks = _as_int(chunks, "chunks", "chunk")
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be greater than 0, got {chunks}")
    if x.ndim == 0:
        raise ShapeError("chunk: cannot chunk a 0-dim tensor")
    d = normalize_dim(dim, x.ndim, "chunk")
    n = x.shape[d]
    if n == 0:
        # Every piece is empty; PyTorch keeps the requested number of (empty) chunks.
        return split(x, [0] * chunks, d)
    return split(x, -(-n // chunks), d)


def unbind(x: Any, dim: int = 0) -> SplitResult:
    """The slices of ``x`` along ``dim``, with that dimension removed (views)."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise IndexError("unbind: dimension specified as 0 but tensor has no dimensions")
    d = normalize_dim(dim, x.ndim, "unbind")
    return tuple(_select(x, d, i) for i in range(x.shape[d]))


# ---------------------------------------------------------------- concatenate


def _concat_rule(*xs: Any, axis: int) -> ShapedArray:
    if not xs:
        raise ShapeError("concatenate: needs at least one operand")
    first = xs[0]
    for i, x in enumerate(xs):
        if x.dtype is not first.dtype:
            raise DTypeError(f"concatenate: operands must have one dtype, got "
                             f"{describe(*xs)}; lucid.cat promotes them")
        if len(x.shape) != len(first.shape):
            raise ShapeError(f"concatenate: tensor {i} has {len(x.shape)} dims but tensor 0 "
                             f"has {len(first.shape)} ({describe(*xs)})")
    if not 0 <= axis < len(first.shape):
        raise ShapeError(f"concatenate: axis {axis} is out of range for {describe(first)}")
    for i, x in enumerate(xs):
        for d, (a, b) in enumerate(zip(first.shape, x.shape, strict=True)):
            if d != axis and a != b:
                raise ShapeError(
                    f"concatenate: sizes of tensors must match except in dimension {axis}; "
                    f"expected size {a} but got size {b} for tensor {i} in dimension {d} "
                    f"({describe(*xs)})"
                )
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return ShapedArray(tuple(shape), first.dtype)


def _concat_vjp(g: Tensor, out: Any, *xs: Tensor, axis: int) -> tuple[Tensor, ...]:
    cts, start = [], 0
    for x in xs:
        n = x.shape[axis]
        cts.append(_slice_dim(g, axis, start, start + n))
        start += n
    return tuple(cts)


concatenate_p = primitive(
    "concatenate",
    shape_rule=_concat_rule,
    impl=lambda *xs, axis: np.concatenate(xs, axis=axis),
    vjp=_concat_vjp,
    lowering=Kernel("concatenate"),
    doc="Join operands of one dtype along an existing axis (variadic).",
)


def _tensor_list(tensors: Any, op: str) -> list[Tensor]:
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}: expected a sequence of Tensors, got a single Tensor; wrap it in "
                        f"a list")
    ts = list(tensors)
    for i, t_ in enumerate(ts):
        if not isinstance(t_, Tensor):
            raise TypeError(f"{op}: expected a sequence of Tensors, got {type(t_).__name__} at "
                            f"position {i}")
    if not ts:
        raise ValueError(f"{op}: expected a non-empty sequence of Tensors")
    return ts


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """The tensors joined along ``dim`` (promoted to their common dtype, as ``torch.cat``).

    As in PyTorch, 1-d empty tensors (shape ``(0,)``) are accepted alongside tensors of any
    shape and contribute nothing.
    """
    ts = _tensor_list(tensors, "cat")
    dtype = ts[0].dtype
    for t_ in ts[1:]:
        dtype = _dt.promote_types(dtype, t_.dtype)
    # PyTorch's legacy rule: skip shape (0,) tensors when checking shapes.
    real = [t_ for t_ in ts if tuple(t_.shape) != (0,)] or ts[:1]
    ref = real[0]
    ref_i = next(i for i, t_ in enumerate(ts) if t_ is ref)
    for i, t_ in enumerate(ts):
        if t_.ndim == 0:
            raise ShapeError(f"cat: zero-dimensional tensor (at position {i}) cannot be "
                             f"concatenated; unsqueeze it or use stack")
    d = normalize_dim(dim, ref.ndim, "cat")
    target_of_empty = tuple(0 if i == d else n for i, n in enumerate(ref.shape))
    operands = []
    for i, t_ in enumerate(ts):
        if tuple(t_.shape) == (0,) and ref.ndim != 1:
            t_ = reshape(t_, target_of_empty)  # zero elements: any zero-size shape is valid
        elif t_.ndim != ref.ndim:
            raise ShapeError(f"cat: tensors must have the same number of dimensions: tensor "
                             f"{ref_i} has {ref.ndim} ({describe(ref)}) but tensor {i} has "
                             f"{t_.ndim} ({describe(t_)})")
        else:
            for k, (a, b) in enumerate(zip(ref.shape, t_.shape, strict=True)):
                if k != d and a != b:
                    raise ShapeError(
                        f"cat: sizes of tensors must match except in dimension {d}: expected "
                        f"size {a} but got size {b} in dimension {k} for tensor number {i} in "
                        f"the list ({describe(ref)} vs {describe(t_)})"
                    )
        operands.append(_convert.cast(t_, dtype))
    return concatenate_p.bind(*operands, axis=d)


concatenate = concat = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """The tensors (all of one shape) joined along a new dimension ``dim``."""
    ts = _tensor_list(tensors, "stack")
    shape = tuple(ts[0].shape)
    for i, t_ in enumerate(ts):
        if tuple(t_.shape) != shape:
            raise ShapeError(f"stack: expects each tensor to be equal size, but got "
                             f"{list(shape)} at entry 0 and {list(t_.shape)} at entry {i}")
    d = normalize_dim(dim, len(shape) + 1, "stack")
    return cat([unsqueeze(t_, d) for t_ in ts], d)


def atleast_1d(x: Any) -> Tensor:
    """``x`` reshaped to one dimension if it is 0-d, else ``x``."""
    x = as_tensor(x)
    return reshape(x, (1,)) if x.ndim == 0 else x


def atleast_2d(x: Any) -> Tensor:
    """``x`` with leading size-1 dimensions added up to two dimensions."""
    x = as_tensor(x)
    return reshape(x, (1,) * (2 - x.ndim) + tuple(x.shape)) if x.ndim < 2 else x


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dimension 1 (dimension 0 for 1-d tensors), like ``torch.hstack``."""
    ts = [atleast_1d(t_) for t_ in _tensor_list(tensors, "hstack")]
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dimension 0 after making every tensor at least 2-d, like ``torch.vstack``."""
    return cat([atleast_2d(t_) for t_ in _tensor_list(tensors, "vstack")], 0)


# ---------------------------------------------------------------- flip, roll


def _flip_rule(x: Any, *, dims: tuple[int, ...]) -> ShapedArray:
    if len(set(dims)) != len(dims) or any(not 0 <= d < len(x.shape) for d in dims):
        raise ShapeError(f"flip: dims {list(dims)} are not distinct dimensions of {describe(x)}")
    return ShapedArray(tuple(x.shape), x.dtype)


flip_p = primitive(
    "flip",
    shape_rule=_flip_rule,
    # np.flip gives a negative-stride view; flip returns new storage, as torch.flip does.
    impl=lambda x, *, dims: np.flip(x, dims).copy(),
    vjp=(lambda g, out, x, *, dims: flip_p.bind(g, dims=dims),),
    lowering=Kernel("flip"),
    doc="Reverse the order of elements along dims (a copy).",
)


def flip(x: Any, dims: Any) -> Tensor:
    """``x`` with the order of elements reversed along ``dims`` (an int or a sequence)."""
    x = as_tensor(x)
    raw = _int_tuple(dims, "dims", "flip")
    norm = [normalize_dim(d, x.ndim, "flip") for d in raw]
    if len(set(norm)) != len(norm):
        raise ValueError(f"flip: dims {list(raw)} name a dimension more than once")
    if x.ndim == 0:
        norm = []
    return flip_p.bind(x, dims=tuple(sorted(norm)))


def fliplr(x: Any) -> Tensor:
    """Flip the columns (dimension 1) of a tensor of at least 2 dimensions."""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"fliplr: input must be at least 2-d, got {describe(x)}")
    return flip(x, 1)


def flipud(x: Any) -> Tensor:
    """Flip the rows (dimension 0) of a tensor of at least 1 dimension."""
    x = as_tensor(x)
    if x.ndim < 1:
        raise ShapeError(f"flipud: input must be at least 1-d, got {describe(x)}")
    return flip(x, 0)


def roll(x: Any, shifts: Any, dims: Any = None) -> Tensor:
    """``x`` with elements shifted by ``shifts`` along ``dims`` (wrapping around); with
    ``dims=None`` the flattened tensor is rolled and the shape restored."""
    x = as_tensor(x)
    sh = _int_tuple(shifts, "shifts", "roll")
    if dims is None:
        if len(sh) != 1:
            raise ValueError(f"roll: with dims=None, shifts must be a single int, got {list(sh)}")
        return reshape(roll(flatten(x), sh, 0), tuple(x.shape))
    ds = _int_tuple(dims, "dims", "roll")
    if len(sh) != len(ds):
        raise ValueError(f"roll: shifts and dims must align, got {len(sh)} shifts and "
                         f"{len(ds)} dims")
    out = x
    for s, d in zip(sh, ds, strict=True):
        d = normalize_dim(d, x.ndim, "roll")
        n = x.shape[d] if x.ndim else 1
        if n == 0 or s % n == 0:
            continue
        k = n - s % n  # the element at position k comes first
        out = cat([_slice_dim(out, d, k, n), _slice_dim(out, d, 0, k)], d)
    return out if out is not x else _convert.copy(x)


# ---------------------------------------------------------------- pad (torch.nn.functional.pad)

_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _fill_value(value: Any, dtype: _dt.DType) -> Any:
    """``value`` as a hashable Python scalar of ``dtype``'s kind (ints truncate, like torch)."""
    v = value.item() if isinstance(value, Tensor) else value
    if dtype is _dt.bool_:
        return bool(v)
    if dtype.is_floating_point:
        return float(v)
    return int(v)


def pad(x: Any, pad: Sequence[int], mode: str = "constant", value: Any = None) -> Tensor:
    """``torch.nn.functional.pad``: pad (or, with negative amounts, crop) the last dimensions.

    ``pad`` is ``(left, right)`` for the last dimension, then ``(top, bottom)`` for the one
    before, and so on. ``mode`` is ``"constant"`` (fill with ``value``, default 0),
    ``"reflect"`` (mirror without repeating the edge), ``"replicate"`` (repeat the edge) or
    ``"circular"`` (wrap around). Negative amounts crop. As in PyTorch, ``"reflect"`` and
    ``"replicate"`` pad the whole input and then crop, while ``"circular"`` crops first and
    wraps around what is left. Unlike PyTorch, the non-constant modes work for any number of
    padded dimensions and any batch rank. The result never shares the input's storage.
    """
    x = as_tensor(x)
    amounts = _int_tuple(pad, "pad", "pad")
    if len(amounts) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {list(amounts)}")
    if len(amounts) // 2 > x.ndim:
        raise ValueError(f"pad: padding length {len(amounts)} is more than two times the "
                         f"number of dimensions of {describe(x)}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: unsupported padding mode {mode!r}; use one of {_PAD_MODES}")
    if mode != "constant" and value not in (None, 0):
        raise ValueError(f"pad: padding mode {mode!r} doesn't take a value argument "
                         f"(got {value!r})")
    lows, highs = [0] * x.ndim, [0] * x.ndim
    for i in range(len(amounts) // 2):
        lows[x.ndim - 1 - i], highs[x.ndim - 1 - i] = amounts[2 * i], amounts[2 * i + 1]
    crop_first = mode in ("constant", "circular")
    for d, (lo, hi, n) in enumerate(zip(lows, highs, x.shape, strict=True)):
        if (n + min(lo, 0) + min(hi, 0) if crop_first else n + lo + hi) < 0:
            raise ShapeError(f"pad: input size {n} of dimension {d} of {describe(x)}, plus "
                             f"negative padding ({lo}, {hi}), gives a negative output size")
    grow_lo, grow_hi = [max(lo, 0) for lo in lows], [max(hi, 0) for hi in highs]
    if not any(grow_lo) and not any(grow_hi):
        return _convert.copy(_crop(x, lows, highs))  # F.pad returns new storage even then
    if crop_first:
        x = _crop(x, lows, highs)
    if mode == "constant":
        return pad_p.bind(x, lows=tuple(grow_lo), highs=tuple(grow_hi),
                          interiors=(0,) * x.ndim,
                          value=_fill_value(0 if value is None else value, x.dtype))
    for d in range(x.ndim):
        if grow_lo[d] or grow_hi[d]:
            x = _pad_dim(x, d, grow_lo[d], grow_hi[d], mode)
    return x if crop_first else _crop(x, lows, highs)


def _crop(x: Tensor, lows: Sequence[int], highs: Sequence[int]) -> Tensor:
    """``x`` without the negative amounts of ``lows``/``highs`` (a slice: its VJP pads)."""
    starts = [max(-lo, 0) for lo in lows]
    stops = [max(n - max(-hi, 0), a) for n, hi, a in zip(x.shape, highs, starts, strict=True)]
    return strided_slice(x, starts, stops)


def _pad_dim(x: Tensor, d: int, lo: int, hi: int, mode: str) -> Tensor:
    """Pad dimension ``d`` of ``x`` by ``lo``/``hi`` >= 0 with a non-constant ``mode``."""
    n = x.shape[d]
    if mode == "reflect":
        if lo >= n or hi >= n:
            raise ShapeError(f"pad: reflect padding ({lo}, {hi}) must be less than the size "
                             f"{n} of dimension {d} of {describe(x)}")
        left = flip(_slice_dim(x, d, 1, lo + 1), d) if lo else None
        right = flip(_slice_dim(x, d, n - 1 - hi, n - 1), d) if hi else None
    elif mode == "replicate":
        if n == 0:
            raise ShapeError(f"pad: replicate padding needs a non-empty dimension {d}, got "
                             f"{describe(x)}")

        def edge(i: int, k: int) -> Tensor:
            e = _slice_dim(x, d, i, i + 1)
            return broadcast_to(e, tuple(k if j == d else s for j, s in enumerate(e.shape)))

        left = edge(0, lo) if lo else None
        right = edge(n - 1, hi) if hi else None
    else:  # circular
        if lo > n or hi > n:
            raise ShapeError(f"pad: circular padding ({lo}, {hi}) wraps around more than once "
                             f"for dimension {d} of size {n} of {describe(x)}")
        left = _slice_dim(x, d, n - lo, n) if lo else None
        right = _slice_dim(x, d, 0, hi) if hi else None
    return cat([p for p in (left, x, right) if p is not None], d)


# ---------------------------------------------------------------- repeat, tile


def _fresh(y: Tensor, x: Tensor) -> Tensor:
    """``y`` itself, or a copy when it shares ``x``'s memory: repeat-like ops return new
    storage in PyTorch, and a stride-0 view must never be written to in place."""
    if _eager() and np.may_share_memory(y._data, x._data):
        return _convert.copy(y)
    return y


def repeat(x: Any, sizes: Sequence[int]) -> Tensor:
    """``Tensor.repeat``: ``x`` tiled ``sizes[i]`` times along each dimension (``sizes`` may
    have more entries than ``x`` has dimensions: new leading dimensions)."""
    x = as_tensor(x)
    sizes = _int_tuple(sizes, "sizes", "repeat")
    if len(sizes) < x.ndim:
        raise ShapeError(f"repeat: number of dimensions of repeat dims ({len(sizes)}) can not be "
                         f"smaller than number of dimensions of {describe(x)}")
    if any(r < 0 for r in sizes):
        raise ValueError(f"repeat: sizes must be non-negative, got {list(sizes)}")
    shape = (1,) * (len(sizes) - x.ndim) + tuple(x.shape)
    # (s0, s1) -> (1, s0, 1, s1) -> broadcast (r0, s0, r1, s1) -> (r0*s0, r1*s1): a tile, whose
    # gradient is broadcast_to's (a sum over the copies).
    y = reshape(x, tuple(v for s in shape for v in (1, s)))
    y = broadcast_to(y, tuple(v for r, s in zip(sizes, shape, strict=True) for v in (r, s)))
    y = reshape(y, tuple(r * s for r, s in zip(sizes, shape, strict=True)))
    return _fresh(y, x)


def tile(x: Any, dims: Sequence[int]) -> Tensor:
    """``x`` repeated ``dims[i]`` times along each dimension; fewer entries than dimensions
    are padded with 1s on the left (``torch.tile``)."""
    x = as_tensor(x)
    dims = _int_tuple(dims, "dims", "tile")
    return repeat(x, (1,) * (x.ndim - len(dims)) + dims)


def repeat_interleave(x: Any, repeats: Any, dim: int | None = None) -> Tensor:
    """Each element of ``x`` repeated ``repeats`` times along ``dim`` (the flattened tensor when
    ``dim`` is None). ``repeats`` is an int, or one count per element along ``dim``."""
    x = as_tensor(x)
    if dim is None:
        x, d = flatten(x), 0
    else:
        if x.ndim == 0:
            raise IndexError("repeat_interleave: dim given for a 0-dim tensor; use dim=None")
        d = normalize_dim(dim, x.ndim, "repeat_interleave")
    shape = tuple(x.shape)
    n = shape[d]
    if isinstance(repeats, Tensor) and _numel(repeats.shape) == 1:
        repeats = repeats.item()
    if _is_int(repeats):
        r = int(repeats)
        if r < 0:
            raise ValueError(f"repeat_interleave: repeats must be non-negative, got {r}")
        y = broadcast_to(unsqueeze(x, d + 1), (*shape[:d + 1], r, *shape[d + 1:]))
        return _fresh(reshape(y, (*shape[:d], n * r, *shape[d + 1:])), x)
    counts = [int(c) for c in (repeats.tolist() if isinstance(repeats, Tensor) else repeats)]
    if len(counts) != n:
        raise ShapeError(f"repeat_interleave: repeats must have {n} entries (the size of "
                         f"dimension {d} of {describe(x)}), got {len(counts)}")
    if any(c < 0 for c in counts):
        raise ValueError(f"repeat_interleave: repeats must be non-negative, got {counts}")
    pieces = [
        broadcast_to(_slice_dim(x, d, i, i + 1), (*shape[:d], c, *shape[d + 1:]))
        for i, c in enumerate(counts)
    ]
    if not pieces:
        return _convert.copy(x)
    return cat(pieces, d)


# ---------------------------------------------------------------- tril, triu


def _triangle(x: Any, diagonal: int, op: str, lower: bool) -> Tensor:
    from .. import creation  # creation is imported after the ops package

    x = as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"{op}: input tensor must have at least 2 dimensions, got {describe(x)}")
    k = _as_int(diagonal, "diagonal", op)
    n, m = x.shape[-2], x.shape[-1]
    # An iota mask: element (i, j) lies on diagonal j - i.
    rows = reshape(creation.arange(n, device=x.device), (n, 1))
    cols = reshape(creation.arange(m, device=x.device), (1, m))
    offset = _binary.sub(cols, rows)
    keep = _binary.le(offset, k) if lower else _binary.ge(offset, k)
    return _binary.where(keep, x, scalar_tensor(0, x.dtype, x))


def tril(x: Any, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions of ``x`` (elements with
    ``j - i <= diagonal``); the rest is zero."""
    return _triangle(x, diagonal, "tril", lower=True)


def triu(x: Any, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions of ``x`` (elements with
    ``j - i >= diagonal``); the rest is zero."""
    return _triangle(x, diagonal, "triu", lower=False)


__all__ = [
    "reshape", "view", "infer_shape", "squeeze", "unsqueeze", "flatten", "unflatten",
    "permute", "transpose", "swapaxes", "swapdims", "t", "movedim", "moveaxis",
    "broadcast_to", "expand", "sum_to_shape", "strided_slice", "narrow",
    "split", "chunk", "unbind",
    "cat", "concatenate", "concat", "stack", "atleast_1d", "atleast_2d", "hstack", "vstack",
    "flip", "fliplr", "flipud", "roll", "pad", "repeat", "tile", "repeat_interleave",
    "tril", "triu",
]
