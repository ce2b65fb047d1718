"""Argument handling shared by the op families: scalars to tensors, dtype promotion,
broadcasting and dimension normalisation.

Primitives are strict (equal dtypes, equal shapes, like ``jax.lax``); the public functions use
these helpers to insert explicit ``cast`` and ``broadcast_to`` nodes first. That keeps every VJP
rule trivial and gives the kernel generator one shape per fused group.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import dtypes as _dt
from ..dtypes import DType
from ..errors import ShapeError
from ..tensor import Tensor


def scalar_tensor(value: Any, dtype: DType, like: Tensor | None = None) -> Tensor:
    """A 0-d constant tensor (Python scalars fold into graphs as constants)."""
    return Tensor._make(np.asarray(value, dtype=dtype.np), None if like is None else like._device)


def as_tensor(x: Any, dtype: DType | None = None) -> Tensor:
    """``x`` if it is a Tensor, else a new constant tensor built from it."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        arr = x
    else:
        arr = np.asarray(x)
        if dtype is None:
            kind = arr.dtype.kind
            dtype = (_dt.get_default_dtype() if kind == "f" else _dt.int64 if kind in "iu"
                     else _dt.bool_ if kind == "b" else None)
    if dtype is not None:
        arr = arr.astype(dtype.np, copy=False)
    _dt.from_numpy_dtype(arr.dtype)
    return Tensor._make(arr)


def promote(*args: Any, dtype: DType | None = None) -> list[Tensor]:
    """Convert ``args`` to tensors of one dtype (PyTorch's promotion, or ``dtype`` if given)."""
    from .convert import cast  # noqa: PLC0415 - convert imports this module

    target = dtype if dtype is not None else _dt.result_type(*args)
    out = []
    like = next((a for a in args if isinstance(a, Tensor)), None)
    for a in args:
        if isinstance(a, Tensor):
            out.append(a if a.dtype is target else cast(a, target))
        else:
            out.append(scalar_tensor(a, target, like))
    return out


def broadcast_shapes(*shapes: Sequence[int], op: str = "broadcast") -> tuple[int, ...]:
    """The NumPy broadcast of ``shapes``; a :class:`ShapeError` naming ``op`` if they clash."""
    ndim = max((len(s) for s in shapes), default=0)
    result = [1] * ndim
    for s in shapes:
        for i, d in enumerate(s, ndim - len(s)):
            if d != 1:
                if result[i] != 1 and result[i] != d:
                    raise ShapeError(
                        f"{op}: shapes {', '.join(str(tuple(x)) for x in shapes)} cannot be "
                        f"broadcast together (dimension {i - ndim} is {result[i]} in one and {d} "
                        f"in another); make the sizes equal or 1"
                    )
                result[i] = d
    return tuple(result)


def broadcast_all(*tensors: Tensor, op: str) -> list[Tensor]:
    """Broadcast ``tensors`` to their common shape with explicit ``broadcast_to`` nodes."""
    from .shape import broadcast_to  # noqa: PLC0415 - shape imports this module

    shape = tensors[0].shape
    if all(t.shape == shape for t in tensors):
        return list(tensors)
    target = broadcast_shapes(*(t.shape for t in tensors), op=op)
    return [t if t.shape == target else broadcast_to(t, target) for t in tensors]


def elementwise_args(*args: Any, op: str, dtype: DType | None = None) -> list[Tensor]:
    """Promote and broadcast the arguments of an elementwise op."""
    return broadcast_all(*promote(*args, dtype=dtype), op=op)


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """A dimension index in ``[0, ndim)`` from a possibly negative one (0-d tensors accept 0, -1)."""
    n = max(ndim, 1)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], "
            f"but got {dim})"
        )
    return int(dim) % n


def normalize_dims(dim: Any, ndim: int, op: str) -> tuple[int, ...]:
    """Sorted, de-duplicated dimensions from ``None`` (all), an int or a sequence of ints."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        dims: Sequence[int] = (dim,)
    else:
        dims = tuple(dim)
    out = sorted({normalize_dim(d, ndim, op) for d in dims})
    if len(out) != len(dims):
        raise ValueError(f"{op}: dim {tuple(dims)} names a dimension more than once")
    if ndim == 0:
        return ()
    return tuple(out)


__all__ = [
    "scalar_tensor",
    "as_tensor",
    "promote",
    "broadcast_shapes",
    "broadcast_all",
    "elementwise_args",
    "normalize_dim",
    "normalize_dims",
]
