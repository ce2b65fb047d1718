"""Shape/dtype rules shared by many primitives (abstract evaluation helpers), and
:func:`quiet`, the wrapper for NumPy implementations that may produce inf / NaN."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..dtypes import DType
from ..errors import DTypeError, ShapeError
from .registry import ShapedArray


def describe(*avals: Any) -> str:
    """``float32[2, 3], int64[3]``: how error messages show operands."""
    return ", ".join(f"{a.dtype.name}{list(a.shape)}" for a in avals)


def elementwise(name: str, *, out_dtype: DType | None = None, floating: bool = False,
                allow_bool: bool = True) -> Callable[..., ShapedArray]:
    """Rule for an elementwise primitive: operands of one shape and one dtype.

    ``out_dtype`` fixes the result dtype (bool for comparisons); ``floating`` requires floating
    operands (exp, log, ... : the public function casts integers first, as PyTorch does).
    """

    def rule(*avals: Any) -> ShapedArray:
        first = avals[0]
        for a in avals[1:]:
            if a.shape != first.shape:
                raise ShapeError(
                    f"{name}: operands must have one shape, got {describe(*avals)}; the public "
                    f"function broadcasts them (lucid.{name})"
                )
            if a.dtype is not first.dtype:
                raise DTypeError(f"{name}: operands must have one dtype, got {describe(*avals)}")
        if floating and not first.dtype.is_floating_point:
            raise DTypeError(f"{name}: expected a floating tensor, got {describe(first)}")
        if not allow_bool and first.dtype is _dt.bool_:
            raise DTypeError(f"{name}: not defined for bool tensors, got {describe(first)}")
        return ShapedArray(first.shape, out_dtype or first.dtype)

    return rule


def where_rule(c: Any, x: Any, y: Any) -> ShapedArray:
    """``where(c, x, y)``: c bool, x and y of one dtype, all of one shape."""
    if not (c.shape == x.shape == y.shape):
        raise ShapeError(f"where: operands must have one shape, got {describe(c, x, y)}")
    if c.dtype is not _dt.bool_:
        raise DTypeError(f"where: the condition must be bool, got {describe(c)}")
    if x.dtype is not y.dtype:
        raise DTypeError(f"where: both branches must have one dtype, got {describe(x, y)}")
    return ShapedArray(x.shape, x.dtype)


def quiet(f: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Run a NumPy impl without floating-point warnings: PyTorch returns inf / NaN silently
    (``log(0)``, ``exp(1000)``, ``inf - inf`` in masked attention scores)."""

    @functools.wraps(f)
    def impl(*args: np.ndarray, **params: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            return f(*args, **params)

    return impl


__all__ = ["describe", "elementwise", "where_rule", "quiet"]
