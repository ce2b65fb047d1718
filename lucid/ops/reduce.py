"""Reductions over dimensions: sum, mean, prod, max/min, argmax/argmin, var/std, logsumexp,
cumsum, all/any.

Reduction primitives take ``axes`` (a sorted tuple of non-negative dims) and ``keepdims``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..tensor import Tensor
from .convert import cast
from .promotion import as_tensor, normalize_dims
from .registry import Kernel, ShapedArray, primitive

from . import shape as _shape  # noqa: I001 - resolved at call time


def reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool
                  ) -> tuple[int, ...]:
    """The shape left after reducing ``axes`` of ``shape``."""
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce_rule(x: Any, *, axes: tuple[int, ...], keepdims: bool) -> ShapedArray:
    return ShapedArray(reduced_shape(tuple(x.shape), axes, keepdims), x.dtype)


def expand_reduced(g: Tensor, x_shape: tuple[int, ...], axes: tuple[int, ...],
                   keepdims: bool) -> Tensor:
    """Broadcast a reduction's cotangent ``g`` back to the input shape ``x_shape``."""
    if not keepdims:
        g = _shape.reshape(g, reduced_shape(x_shape, axes, True))
    return _shape.broadcast_to(g, x_shape)


sum_p = primitive(
    "sum",
    shape_rule=_reduce_rule,
    impl=lambda x, *, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims, dtype=x.dtype),
    vjp=(lambda g, out, x, *, axes, keepdims: expand_reduced(g, tuple(x.shape), axes, keepdims),),
    lowering=Kernel("reduce_sum"),
    doc="Sum over axes.",
)


def sum(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (an int, a tuple, or None for all). Bool and integer inputs sum to
    int64, as in PyTorch."""
    x = as_tensor(x)
    if dtype is not None:
        x = cast(x, dtype)
    elif not x.dtype.is_floating_point:
        x = cast(x, _dt.int64)
    axes = normalize_dims(dim, x.ndim, "sum")
    if not axes and not keepdim and dim is not None and x.ndim:
        return x
    return sum_p.bind(x, axes=axes, keepdims=bool(keepdim))


__all__ = ["sum", "reduced_shape", "expand_reduced"]
