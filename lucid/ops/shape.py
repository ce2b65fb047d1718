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


__all__ = [
    "reshape", "view", "infer_shape", "permute", "transpose", "swapaxes", "swapdims", "t",
    "broadcast_to", "expand", "sum_to_shape",
]
