"""Shape primitives: reshape, permute, broadcast_to, and the functions built on them.

``reshape``, ``permute`` and ``broadcast_to`` are views in eager mode (they share the input's
storage and version counter, as PyTorch's views do).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor
from .promotion import as_tensor, normalize_dim
from .registry import Kernel, ShapedArray, primitive
from .rules import describe

from . import reduce as _reduce  # noqa: I001 - resolved at call time


# ---------------------------------------------------------------- reshape


def _reshape_rule(x: Any, *, shape: tuple[int, ...]) -> ShapedArray:
    if int(np.prod(shape, dtype=np.int64)) != int(np.prod(x.shape, dtype=np.int64)):
        raise ShapeError(
            f"reshape: shape {list(shape)} is invalid for input {describe(x)} "
            f"({int(np.prod(x.shape))} elements)"
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
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        if known == 0 or numel % known:
            raise ShapeError(
                f"{op}: shape {list(shape)} is invalid for input of {numel} elements"
            )
        shape = shape[: neg[0]] + (numel // known,) + shape[neg[0] + 1:]
    return shape


def reshape(x: Any, shape: Sequence[int]) -> Tensor:
    """``x`` with a new shape (one entry may be -1); a view when the layout allows."""
    x = as_tensor(x)
    target = infer_shape(shape, x.numel(), "reshape")
    if target == tuple(x.shape):
        return x
    return reshape_p.bind(x, shape=target)


view = reshape


# ---------------------------------------------------------------- permute


def _permute_rule(x: Any, *, perm: tuple[int, ...]) -> ShapedArray:
    if sorted(perm) != list(range(len(x.shape))):
        raise ShapeError(f"permute: {list(perm)} is not a permutation of the dims of "
                         f"{describe(x)}")
    return ShapedArray(tuple(x.shape[p] for p in perm), x.dtype)


permute_p = primitive(
    "permute",
    shape_rule=_permute_rule,
    impl=lambda x, *, perm: x.transpose(perm),
    vjp=(lambda g, out, x, *, perm: permute_p.bind(g, perm=tuple(np.argsort(perm).tolist())),),
    lowering=Kernel("permute"),
    view=True,
    doc="Reorder dimensions (a view).",
)


def permute(x: Any, dims: Sequence[int]) -> Tensor:
    """``x`` with its dimensions reordered as ``dims``."""
    x = as_tensor(x)
    if len(dims) != x.ndim:
        raise ShapeError(f"permute: got {len(dims)} dims {list(dims)} for a {x.ndim}-d tensor")
    perm = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    if perm == tuple(range(x.ndim)):
        return x
    return permute_p.bind(x, perm=perm)


def transpose(x: Any, dim0: int, dim1: int) -> Tensor:
    """``x`` with dimensions ``dim0`` and ``dim1`` swapped."""
    x = as_tensor(x)
    perm = list(range(x.ndim))
    a, b = normalize_dim(dim0, x.ndim, "transpose"), normalize_dim(dim1, x.ndim, "transpose")
    if x.ndim < 2:
        return x
    perm[a], perm[b] = perm[b], perm[a]
    return permute(x, perm)


swapaxes = swapdims = transpose


def t(x: Any) -> Tensor:
    """Transpose of a tensor of at most 2 dimensions."""
    x = as_tensor(x)
    if x.ndim > 2:
        raise ShapeError(f"t: expects a tensor with <= 2 dimensions, got {describe(x)}; "
                         f"use transpose(dim0, dim1) or mT")
    return transpose(x, 0, 1) if x.ndim == 2 else x


# ---------------------------------------------------------------- broadcast_to


def _broadcast_rule(x: Any, *, shape: tuple[int, ...]) -> ShapedArray:
    lead = len(shape) - len(x.shape)
    if lead < 0 or any(d != 1 and d != s for d, s in zip(x.shape, shape[lead:])):
        raise ShapeError(
            f"broadcast_to: cannot broadcast {describe(x)} to shape {list(shape)}; each "
            f"dimension must be 1 or match, counting from the right"
        )
    return ShapedArray(shape, x.dtype)


def sum_to_shape(g: Tensor, shape: Sequence[int]) -> Tensor:
    """Sum ``g`` over the dimensions that broadcasting added to reach its shape from ``shape``."""
    shape = tuple(shape)
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1
    )
    if axes:
        g = _reduce.sum(g, axes, keepdim=True)
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


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """``x`` broadcast to ``shape`` (a read-only view, like ``expand``)."""
    x = as_tensor(x)
    shape = tuple(int(s) for s in shape)
    if shape == tuple(x.shape):
        return x
    return broadcast_to_p.bind(x, shape=shape)


def expand(x: Any, shape: Sequence[int]) -> Tensor:
    """``x`` broadcast to ``shape``, where -1 keeps a dimension's size (PyTorch's ``expand``)."""
    x = as_tensor(x)
    shape = tuple(int(s) for s in shape)
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand: the number of sizes ({len(shape)}) must be at least the "
                         f"number of dimensions of {describe(x)}")
    resolved = tuple(
        x.shape[i - lead] if (s == -1 and i >= lead) else s for i, s in enumerate(shape)
    )
    if any(s < 0 for s in resolved):
        raise ShapeError(f"expand: -1 is not allowed for new leading dimensions: {list(shape)}")
    return broadcast_to(x, resolved)


# ---------------------------------------------------------------- strided slice and pad
# ``slice`` and ``pad`` are each other's transpose: the VJP of one is the other, so basic
# indexing, split, chunk, cat and F.pad all differentiate without scatter loops.


def _slice_len(start: int, stop: int, step: int) -> int:
    return max(0, -(-(stop - start) // step))


def _slice_rule(x: Any, *, starts: tuple[int, ...], stops: tuple[int, ...],
                steps: tuple[int, ...]) -> ShapedArray:
    if not (len(starts) == len(stops) == len(steps) == len(x.shape)):
        raise ShapeError(f"slice: need one start/stop/step per dimension of {describe(x)}")
    for d, (a, b, c) in enumerate(zip(starts, stops, steps)):
        if c < 1 or not 0 <= a <= x.shape[d] or not 0 <= b <= x.shape[d]:
            raise ShapeError(
                f"slice: invalid start/stop/step {a}:{b}:{c} for dimension {d} of {describe(x)}"
            )
    return ShapedArray(tuple(_slice_len(a, b, c) for a, b, c in zip(starts, stops, steps)),
                       x.dtype)


def _slice_vjp(g: Tensor, out: Any, x: Tensor, *, starts: tuple[int, ...],
               stops: tuple[int, ...], steps: tuple[int, ...]) -> Tensor:
    from .. import creation  # noqa: PLC0415 - creation is imported after the ops package

    if g.numel() == 0:
        return creation.zeros_like(x)
    highs = tuple(
        n - (a + (m - 1) * c + 1) for n, m, a, c in zip(x.shape, g.shape, starts, steps)
    )
    return pad_p.bind(g, lows=starts, highs=highs, interiors=tuple(c - 1 for c in steps),
                      value=0)


slice_p = primitive(
    "slice",
    shape_rule=_slice_rule,
    impl=lambda x, *, starts, stops, steps: x[
        tuple(slice(a, b, c) for a, b, c in zip(starts, stops, steps))
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
              for n, lo, hi, it in zip(x.shape, lows, highs, interiors)),
        x.dtype,
    )


def _pad_impl(x: np.ndarray, *, lows: tuple[int, ...], highs: tuple[int, ...],
              interiors: tuple[int, ...], value: Any) -> np.ndarray:
    shape = tuple(lo + hi + n + max(n - 1, 0) * it
                  for n, lo, hi, it in zip(x.shape, lows, highs, interiors))
    out = np.full(shape, value, dtype=x.dtype)
    out[tuple(slice(lo, lo + n + max(n - 1, 0) * it, it + 1)
              for n, lo, it in zip(x.shape, lows, interiors))] = x
    return out


def _pad_vjp(g: Tensor, out: Any, x: Tensor, *, lows: tuple[int, ...], highs: tuple[int, ...],
             interiors: tuple[int, ...], value: Any) -> Tensor:
    return slice_p.bind(
        g,
        starts=lows,
        stops=tuple(lo + n + max(n - 1, 0) * it for n, lo, it in zip(x.shape, lows, interiors)),
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
    steps = tuple(steps) if steps is not None else (1,) * x.ndim
    starts, stops = tuple(int(a) for a in starts), tuple(int(b) for b in stops)
    if all(a == 0 and b == n and c == 1 for a, b, c, n in zip(starts, stops, steps, x.shape)):
        return x
    return slice_p.bind(x, starts=starts, stops=stops, steps=tuple(int(c) for c in steps))


__all__ = [
    "reshape", "view", "infer_shape", "permute", "transpose", "swapaxes", "swapdims", "t",
    "broadcast_to", "expand", "sum_to_shape", "strided_slice",
]
