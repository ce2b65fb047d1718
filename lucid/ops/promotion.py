"""Argument handling shared by the op families: scalars to tensors, dtype promotion,
broadcasting and dimension normalisation.

Primitives are strict (equal dtypes, equal shapes, like ``jax.lax``); the public functions use
these helpers to insert explicit ``cast`` and ``broadcast_to`` nodes first. That keeps every VJP
rule trivial and gives the kernel generator one shape per fused group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..dtypes import DType
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor
from . import constant as _constant
from .registry import current_interpreter


def scalar_tensor(value: Any, dtype: DType, like: Tensor | None = None) -> Tensor:
    """A 0-d constant tensor (Python scalars fold into graphs as constants).

    Integers that do not fit ``dtype`` wrap around (``uint8_tensor * -1``), as in PyTorch.
    """
    return _constant.constant(value, (), dtype, like)


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


# Values promote() treats as weak scalars (they take the tensors' dtype within a category).
_SCALARS = (bool, int, float, np.bool_, np.integer, np.floating)
_TENSOR_OR_SCALAR = (Tensor, *_SCALARS)


def promote(*args: Any, dtype: DType | None = None) -> list[Tensor]:
    """Convert ``args`` to tensors of one dtype (PyTorch's promotion, or ``dtype`` if given).

    Python and NumPy scalars are weak (``float32_tensor * 2.0`` stays float32); NumPy arrays
    and nested lists become tensors of their own dtype first (``np_array + tensor``).
    """
    if any(not isinstance(a, _TENSOR_OR_SCALAR) for a in args):
        args = tuple(a if isinstance(a, _TENSOR_OR_SCALAR) else _operand(a) for a in args)
    target = dtype if dtype is not None else _dt.result_type(*args)
    like = None
    for a in args:
        if isinstance(a, Tensor):
            like = a
            break
    out = []
    for a in args:
        if isinstance(a, Tensor):
            out.append(a if a.dtype is target else _convert.cast(a, target))
        else:
            out.append(scalar_tensor(a, target, like))
    return out


def _operand(x: Any) -> Tensor:
    """A NumPy array or nested list as a tensor; anything else is an error naming its type."""
    try:
        return as_tensor(x)
    except (DTypeError, TypeError, ValueError):
        raise DTypeError(
            f"cannot combine a value of type {type(x).__name__} with tensors; expected a "
            f"Tensor, a number, or a (nested) sequence or NumPy array of numbers"
        ) from None


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


def broadcast_all(*tensors: Tensor, op: str, sources: Sequence[Any] | None = None
                  ) -> list[Tensor]:
    """Broadcast ``tensors`` to their common shape with explicit ``broadcast_to`` nodes.

    ``sources`` are the values the tensors were made from (the arguments of the public
    function): a Python scalar there marks a constant that :func:`promote` has just created.
    """
    shapes = [tuple(t.shape) for t in tensors]
    first = shapes[0]
    if all(s == first for s in shapes):
        return list(tensors)
    target = broadcast_shapes(*shapes, op=op)
    eager = sources is not None and current_interpreter() is None
    out = []
    for i, (t, s) in enumerate(zip(tensors, shapes, strict=True)):
        if s == target:
            out.append(t)
        elif eager and isinstance(sources[i], _SCALARS):  # type: ignore[index]
            # A constant just made from a Python scalar: nothing else can see it and it never
            # requires grad, so eagerly a stride-0 view can stand in for a broadcast_to node
            # (scalar operands are the common case: x * 0.5, x > 0). Tracers get the node.
            out.append(Tensor._make(np.broadcast_to(t._data, target), t._device))
        else:
            out.append(_shape.broadcast_to(t, target))
    return out


def elementwise_args(*args: Any, op: str, dtype: DType | None = None) -> list[Tensor]:
    """Promote and broadcast the arguments of an elementwise op."""
    if dtype is None and len(args) == 2:
        # The two common cases, decided with a few attribute reads (every eager op pays for
        # this): same dtype and shape (nothing to do), and a tensor with a Python scalar.
        x, y = args
        if isinstance(x, Tensor):
            if isinstance(y, Tensor):
                if x.dtype is y.dtype:
                    xs, ys = x.shape, y.shape
                    if xs == ys:
                        return [x, y]
                    # One dtype, different shapes (``out + bias``): broadcast_to nodes for
                    # the operands that need them, the target already validated here.
                    target = broadcast_shapes(xs, ys, op=op)
                    bcast = _shape.broadcast_to_p.bind
                    return [x if xs == target else bcast(x, shape=target),
                            y if ys == target else bcast(y, shape=target)]
            elif isinstance(y, _PY_SCALARS):
                c = _scalar_like(y, x)
                if c is not None:
                    return [x, c]
        elif isinstance(y, Tensor) and isinstance(x, _PY_SCALARS):
            c = _scalar_like(x, y)
            if c is not None:
                return [c, y]
    return broadcast_all(*promote(*args, dtype=dtype), op=op, sources=args)


# Python scalars with their promotion category (bool before int: bool is an int subclass).
_PY_SCALARS = (bool, int, float)


def _scalar_like(value: bool | int | float, t: Tensor) -> Tensor | None:
    """Eagerly, the weak scalar ``value`` as a constant of ``t``'s dtype and shape, when
    promotion keeps ``t``'s dtype; else ``None`` (the general path decides).

    The constant is a stride-0 read-only view of one element: nothing else can see it and it
    never requires grad, so it stands in for the ``broadcast_to`` node a trace records.
    """
    dt = t.dtype
    cat = _dt.BOOL if isinstance(value, bool) else _dt.INT if isinstance(value, int) else _dt.FLOAT
    if cat > dt.category or current_interpreter() is not None:
        return None
    try:
        one = np.array(value, dtype=dt.np)
    except OverflowError:  # an integer that does not fit: the general path wraps it
        return None
    shape = t.shape
    if shape:
        one = np.ndarray(shape, dt.np, one, 0, (0,) * len(shape))
    one.flags.writeable = False
    return Tensor._make(one, t._device)


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """A dimension index in ``[0, ndim)`` from a possibly negative one (0-d tensors accept
    0 and -1)."""
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

# convert and shape import this module, so they are bound last (and used at call time).
from . import convert as _convert  # noqa: E402
from . import shape as _shape  # noqa: E402
