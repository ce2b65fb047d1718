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

    def rule(first: Any, *rest: Any) -> ShapedArray:
        # Each operand's shape and dtype are read once (a Tensor builds them on each read);
        # eager code runs this for every elementwise op.
        shape, dtype = first.shape, first.dtype
        for a in rest:
            if a.shape != shape:
                raise ShapeError(
                    f"{name}: operands must have one shape, got {describe(first, *rest)}; the "
                    f"public function broadcasts them (lucid.{name})"
                )
            if a.dtype is not dtype:
                raise DTypeError(f"{name}: operands must have one dtype, got "
                                 f"{describe(first, *rest)}")
        if floating and dtype.category != _dt.FLOAT:
            raise DTypeError(f"{name}: expected a floating tensor, got {describe(first)}")
        if not allow_bool and dtype is _dt.bool_:
            raise DTypeError(f"{name}: not defined for bool tensors, got {describe(first)}")
        return ShapedArray(shape, out_dtype or dtype)

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


# NumPy 2 keeps its floating-point error state in a context variable; setting it directly
# costs ~0.15 us where ``with np.errstate(all="ignore")`` costs ~0.7 us (it builds a new state
# object each time), and eager code runs this around most arithmetic ops. The state that
# ignores everything is derived from the caller's current one (keeping its buffer size and
# error callback), cached for the last state seen. Older NumPy: ``np.errstate``.
try:
    from numpy._core._ufunc_config import _extobj_contextvar as _FP_STATE
    from numpy._core._ufunc_config import _make_extobj
except ImportError:  # NumPy < 2
    _FP_STATE = None
# (the caller's state, the same state ignoring errors), replaced as one tuple (thread safety).
_fp_cache: tuple[Any, Any] = (None, None)


def silence_fp() -> Any:
    """Turn NumPy's floating-point warnings off in this context; returns the token that
    :func:`restore_fp` takes to turn them back to what they were."""
    if _FP_STATE is None:
        state = np.errstate(all="ignore")
        state.__enter__()
        return state
    global _fp_cache
    current = _FP_STATE.get()
    seen, ignoring = _fp_cache
    if seen is not current:
        ignoring = _make_extobj(all="ignore")
        _fp_cache = (current, ignoring)
    return _FP_STATE.set(ignoring)


def restore_fp(token: Any) -> None:
    """Undo the matching :func:`silence_fp`."""
    if _FP_STATE is None:
        token.__exit__(None, None, None)
    else:
        _FP_STATE.reset(token)


def quiet(f: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Run a NumPy impl without floating-point warnings: PyTorch returns inf / NaN silently
    (``log(0)``, ``exp(1000)``, ``inf - inf`` in masked attention scores)."""

    @functools.wraps(f)
    def impl(*args: np.ndarray, **params: Any) -> np.ndarray:
        token = silence_fp()
        try:
            return f(*args, **params)
        finally:
            restore_fp(token)

    return impl


__all__ = ["describe", "elementwise", "where_rule", "quiet", "silence_fp", "restore_fp"]
