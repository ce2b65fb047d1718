"""Conversions: ``cast`` (dtype change), ``stop_gradient`` (detach) and ``copy`` (clone)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..dtypes import DType
from ..tensor import Tensor
from .registry import Elementwise, ShapedArray, primitive


def _cast_rule(x: Any, *, dtype: DType) -> ShapedArray:
    return ShapedArray(x.shape, dtype)


def _cast_vjp(g: Tensor, out: Any, x: Tensor, *, dtype: DType) -> Tensor | None:
    # Only floating inputs get gradients; the cotangent goes back in the input's own dtype.
    return cast(g, x.dtype) if x.dtype.is_floating_point else None


def _cast_impl(x: np.ndarray, *, dtype: DType) -> np.ndarray:
    if dtype.is_floating_point and dtype.itemsize >= x.dtype.itemsize:
        return x.astype(dtype.np)  # widening (or int to float): nothing to warn about
    # Narrowing floats overflow to inf and NaN / inf to integers is undefined; PyTorch converts
    # silently, so NumPy's warnings are silenced too.
    with np.errstate(over="ignore", invalid="ignore"):
        return x.astype(dtype.np)


cast_p = primitive(
    "cast",
    shape_rule=_cast_rule,
    impl=_cast_impl,
    vjp=(_cast_vjp,),
    lowering=Elementwise("T(a)"),
    doc="Convert to another dtype (values as NumPy's astype converts them).",
)

stop_gradient_p = primitive(
    "stop_gradient",
    shape_rule=lambda x: ShapedArray(x.shape, x.dtype),
    impl=lambda x: x,
    vjp=None,
    lowering=Elementwise("a"),
    view=True,
    doc="Identity whose output never requires grad (Tensor.detach).",
)

copy_p = primitive(
    "copy",
    shape_rule=lambda x: ShapedArray(x.shape, x.dtype),
    impl=lambda x: np.array(x, copy=True, order="C"),
    vjp=(lambda g, out, x: g,),
    lowering=Elementwise("a"),
    doc="A copy with its own storage (Tensor.clone).",
)


def cast(x: Tensor, dtype: Any) -> Tensor:
    """``x`` converted to ``dtype`` (``x`` itself when it already has it)."""
    d = _dt.as_dtype(dtype)
    return x if x.dtype is d else cast_p.bind(x, dtype=d)


def stop_gradient(x: Tensor) -> Tensor:
    """A tensor sharing ``x``'s data but cut off from autograd (``x.detach()``)."""
    out = stop_gradient_p.bind(x)
    out._base = None  # detached tensors share the version counter but are not autograd views
    return out


detach = stop_gradient


def copy(x: Tensor) -> Tensor:
    """A differentiable copy of ``x`` with its own storage (``x.clone()``)."""
    return copy_p.bind(x)


clone = copy

__all__ = ["cast", "stop_gradient", "detach", "copy", "clone"]
