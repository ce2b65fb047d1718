"""Softmax and log-softmax as primitives.

They could be compositions (``x - logsumexp(x)``), but as primitives they run in one stable
NumPy pass eagerly, lower to one coarse kernel, and their VJPs are short expressions of the saved
output (``softmax: y * (g - sum(g * y))``, ``log_softmax: g - exp(y) * sum(g)``) that remain
differentiable, so double backward works.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..errors import DTypeError
from ..tensor import Tensor
from . import reduce as _reduce  # used inside the VJP rules, resolved at call time
from .convert import cast
from .promotion import as_tensor, normalize_dim
from .registry import Kernel, ShapedArray, primitive
from .rules import describe


def _rule(name: str) -> Any:
    def rule(x: Any, *, axis: int) -> ShapedArray:
        if not x.dtype.is_floating_point:
            raise DTypeError(f"{name}: expected a floating tensor, got {describe(x)}")
        return ShapedArray(tuple(x.shape), x.dtype)

    return rule


# Both subtract the row maximum first, so large logits cannot overflow and -inf entries give
# exactly 0 (log: -inf). Like PyTorch, a row whose maximum is infinite (all -inf, or any +inf)
# or that holds a NaN comes out all NaN: x - max is NaN there.


# Up to this many elements the Numba kernels run (one call instead of six NumPy passes: 5 us
# instead of 9 at 32 x 10); above it NumPy's SIMD exp wins (the kernel's scalar exp ran 3x
# slower at 64 x 100).
_KERNEL_MAX_SIZE = 1024


def _kernel_view(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``x`` as the C-contiguous ``(A, N, B)`` view the Numba kernels take (the reduced axis in
    the middle) and an output of that shape, or None where NumPy runs (large inputs, float16:
    the kernels have no half precision)."""
    if x.dtype.char not in "fd" or x.ndim == 0 or x.size > _KERNEL_MAX_SIZE:
        return None
    x = np.ascontiguousarray(x)
    a, b = math.prod(x.shape[:axis]), math.prod(x.shape[axis + 1:])  # (np.prod: 2 us each)
    return x.reshape(a, x.shape[axis], b), np.empty(x.shape, x.dtype)


def _kernels() -> Any:
    # Imported here, not at the top: the first softmax loads Numba, `import lucid` does not.
    from ..kernels.cpu import softmax

    return softmax


def _softmax_impl(x: np.ndarray, *, axis: int) -> np.ndarray:
    if x.size == 0:
        return x.copy()
    view = _kernel_view(x, axis)
    if view is not None:
        _kernels().softmax(view[0], view[1].reshape(view[0].shape), False)
        return view[1]
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax_impl(x: np.ndarray, *, axis: int) -> np.ndarray:
    if x.size == 0:
        return x.copy()
    view = _kernel_view(x, axis)
    if view is not None:
        _kernels().softmax(view[0], view[1].reshape(view[0].shape), True)
        return view[1]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        shifted = x - np.max(x, axis=axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


softmax_p = primitive(
    "softmax",
    shape_rule=_rule("softmax"),
    impl=_softmax_impl,
    vjp=(lambda g, out, x, *, axis: out * (g - _reduce.sum(g * out, axis, keepdim=True)),),
    lowering=Kernel("softmax"),
    saves_output=True,
    doc="exp(x) / sum(exp(x)) along an axis, computed stably.",
)

log_softmax_p = primitive(
    "log_softmax",
    shape_rule=_rule("log_softmax"),
    impl=_log_softmax_impl,
    vjp=(lambda g, out, x, *, axis: g - out.exp() * _reduce.sum(g, axis, keepdim=True),),
    lowering=Kernel("log_softmax"),
    saves_output=True,
    doc="x - logsumexp(x) along an axis, computed stably.",
)


def _prep(x: Any, dim: int | None, dtype: Any, op: str) -> tuple[Tensor, int]:
    x = as_tensor(x)
    if dtype is not None:
        x = cast(x, dtype)
    elif not x.dtype.is_floating_point:
        x = cast(x, _dt.get_default_dtype())
    if dim is None:
        # PyTorch's legacy rule for an omitted dim: 0 for 0-, 1- and 3-d inputs, else 1.
        dim = 0 if x.ndim in (0, 1, 3) else 1
    # A 0-d input accepts dim 0 or -1, like a 1-d one (and like PyTorch).
    axis = normalize_dim(dim, max(x.ndim, 1), op)
    return x, axis


def softmax(x: Any, dim: int | None = None, dtype: Any = None) -> Tensor:
    """Softmax along ``dim``: non-negative values summing to 1.

    ``dtype`` casts the input first (gradients flow back through the cast); an omitted ``dim``
    follows PyTorch's legacy rule (0 for 0-, 1- and 3-d inputs, else 1). Integer inputs are cast
    to the default floating dtype.
    """
    x, axis = _prep(x, dim, dtype, "softmax")
    return softmax_p.bind(x, axis=axis)


def log_softmax(x: Any, dim: int | None = None, dtype: Any = None) -> Tensor:
    """Logarithm of the softmax along ``dim`` (``x - logsumexp(x)``), without overflow for
    large logits; ``dim`` and ``dtype`` as in :func:`softmax`."""
    x, axis = _prep(x, dim, dtype, "log_softmax")
    return log_softmax_p.bind(x, axis=axis)


__all__ = ["softmax", "log_softmax"]
