"""Factory functions: ``tensor``, ``zeros``, ``ones``, ``arange``, ``rand``, ``randn``, ...

Sizes are accepted both as varargs and as one sequence (``lucid.rand(2, 20)`` and
``lucid.rand((2, 20))``). Floating factories default to ``lucid.get_default_dtype()``.
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import dtypes as _dt
from .device import as_device, check_supported
from .dtypes import DType
from .errors import DTypeError, ShapeError
from .ops import registry as _registry
from .random import Generator, numpy_rng
from .tensor import Tensor


def _tracing() -> bool:
    return _registry.current_interpreter() is not None


def _random(shape: tuple[int, ...], dtype: DType, dist: str, a: float, b: float,
            generator: Any) -> Tensor:
    # Under a trace, samples are a graph node drawn afresh each time the graph runs.
    from .ops.constant import random

    return random(shape, dtype, dist, a, b, generator)


def _constant(value: Any, shape: tuple[int, ...], dtype: DType) -> Tensor:
    # Under a trace, constants become ``full`` nodes instead of captured arrays.
    from .ops.constant import constant

    return constant(value, shape, dtype)


def _size(size: tuple, op: str) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    try:
        # operator.index, not int(): a float size (2.5) is an error, as in PyTorch, not 2.
        out = tuple(operator.index(s) for s in size)
    except TypeError:
        raise TypeError(f"{op}: sizes must be ints, got {size!r}") from None
    if any(s < 0 for s in out):
        raise ShapeError(f"{op}: negative dimension in size {list(out)}")
    return out


def _finish(arr: np.ndarray, device: Any, requires_grad: bool, op: str) -> Tensor:
    dev = as_device(device)
    check_supported(dev, op)
    t = Tensor._make(arr, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float_dtype(dtype: Any) -> DType:
    return _dt.get_default_dtype() if dtype is None else _dt.as_dtype(dtype)


def _sample_dtype(dtype: Any, op: str) -> DType:
    """The dtype of a continuous random draw: floating only (``randint`` makes integers)."""
    d = _float_dtype(dtype)
    if not d.is_floating_point:
        raise DTypeError(f"{op}: samples of a continuous distribution need a floating dtype, "
                         f"got {d}; use lucid.randint for integers")
    return d


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
           ) -> Tensor:
    """A new tensor holding a copy of ``data`` (``lucid.tensor([[1., 2.]])``)."""
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing memory with the NumPy array ``arr``."""
    _dt.from_numpy_dtype(arr.dtype)
    return Tensor._make(arr)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, without copying when it already is one of that dtype."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype is _dt.as_dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and dtype is None:
        return from_numpy(data)
    return Tensor(data, dtype=dtype, device=device)


def zeros(*args: Any, size: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    shape = _size(args if size is None else (size,), "zeros")
    if _tracing() and not requires_grad:
        return _constant(0, shape, _float_dtype(dtype))
    arr = np.zeros(shape, _float_dtype(dtype).np)
    return _finish(arr, device, requires_grad, "zeros")


def ones(*args: Any, size: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    shape = _size(args if size is None else (size,), "ones")
    if _tracing() and not requires_grad:
        return _constant(1, shape, _float_dtype(dtype))
    arr = np.ones(shape, _float_dtype(dtype).np)
    return _finish(arr, device, requires_grad, "ones")


def empty(*args: Any, size: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor."""
    arr = np.empty(_size(args if size is None else (size,), "empty"), _float_dtype(dtype).np)
    return _finish(arr, device, requires_grad, "empty")


def full(size: Sequence[int], fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype inferred from it when not given)."""
    if dtype is None:
        dtype = _dt.result_type(fill_value)
    if isinstance(size, builtins.int):
        size = (size,)
    shape = _size(tuple(size), "full")
    if _tracing() and not requires_grad and not isinstance(fill_value, Tensor):
        return _constant(fill_value, shape, _dt.as_dtype(dtype))
    arr = np.full(shape, fill_value, _dt.as_dtype(dtype).np)
    return _finish(arr, device, requires_grad, "full")


def _like(t: Tensor, dtype: Any) -> DType:
    return t.dtype if dtype is None else _dt.as_dtype(dtype)


def zeros_like(t: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """Zeros with ``t``'s shape (and dtype unless given)."""
    return zeros(tuple(t.shape), dtype=_like(t, dtype), device=device or t.device,
                 requires_grad=requires_grad)


def ones_like(t: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """Ones with ``t``'s shape (and dtype unless given)."""
    return ones(tuple(t.shape), dtype=_like(t, dtype), device=device or t.device,
                requires_grad=requires_grad)


def empty_like(t: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor with ``t``'s shape (and dtype unless given)."""
    return empty(tuple(t.shape), dtype=_like(t, dtype), device=device or t.device,
                 requires_grad=requires_grad)


def full_like(t: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """``fill_value`` with ``t``'s shape (and dtype unless given)."""
    return full(tuple(t.shape), fill_value, dtype=_like(t, dtype), device=device or t.device,
                requires_grad=requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 when all are ints."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(
            f"arange: the bounds and the step's sign are inconsistent (start={start}, end={end}, "
            f"step={step}); use a {'negative' if end < start else 'positive'} step"
        )
    if dtype is None:
        dtype = _dt.result_type(start, end, step)
    d = _dt.as_dtype(dtype)
    n = builtins.max(0, int(np.ceil((end - start) / step)))
    arr = (start + step * np.arange(n, dtype=np.float64 if d.is_floating_point else np.int64))
    return _finish(arr.astype(d.np), device, requires_grad, "arange")


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    arr = np.linspace(start, end, int(steps)).astype(_float_dtype(dtype).np)
    return _finish(arr, device, requires_grad, "linspace")


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """An ``n`` x ``m`` identity matrix."""
    arr = np.eye(n, n if m is None else m, dtype=_float_dtype(dtype).np)
    return _finish(arr, device, requires_grad, "eye")


def rand(*args: Any, size: Any = None, generator: Generator | None = None, dtype: Any = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    d = _sample_dtype(dtype, "rand")
    shape = _size(args if size is None else (size,), "rand")
    if _tracing() and not requires_grad:
        return _random(shape, d, "uniform", 0.0, 1.0, generator)
    arr = numpy_rng(generator).random(shape, dtype=np.float64).astype(d.np)
    return _finish(arr, device, requires_grad, "rand")


def randn(*args: Any, size: Any = None, generator: Generator | None = None, dtype: Any = None,
          device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    d = _sample_dtype(dtype, "randn")
    shape = _size(args if size is None else (size,), "randn")
    if _tracing() and not requires_grad:
        return _random(shape, d, "normal", 0.0, 1.0, generator)
    arr = numpy_rng(generator).standard_normal(shape).astype(d.np)
    return _finish(arr, device, requires_grad, "randn")


def randint(low: int, high: int | None = None, size: Sequence[int] = (), *,
            generator: Generator | None = None, dtype: Any = None, device: Any = None
            ) -> Tensor:
    """Integers uniform in [low, high) (``randint(high, size)`` also works); int64."""
    if isinstance(high, (tuple, list)):  # randint(high, size), PyTorch's short form
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if isinstance(size, builtins.int):
        size = (size,)
    if low >= high:
        raise ValueError(f"randint: expects low < high, got low={low}, high={high}")
    d = _dt.int64 if dtype is None else _dt.as_dtype(dtype)
    arr = numpy_rng(generator).integers(low, high, size=_size(tuple(size), "randint"))
    return _finish(arr.astype(d.np), device, False, "randint")


def randperm(n: int, *, generator: Generator | None = None, dtype: Any = None,
             device: Any = None) -> Tensor:
    """A random permutation of ``0 .. n-1``."""
    d = _dt.int64 if dtype is None else _dt.as_dtype(dtype)
    return _finish(numpy_rng(generator).permutation(n).astype(d.np), device, False, "randperm")


def rand_like(t: Tensor, *, dtype: Any = None, generator: Generator | None = None) -> Tensor:
    """Uniform samples with ``t``'s shape and dtype."""
    return rand(tuple(t.shape), dtype=_like(t, dtype), generator=generator)


def randn_like(t: Tensor, *, dtype: Any = None, generator: Generator | None = None) -> Tensor:
    """Standard normal samples with ``t``'s shape and dtype."""
    return randn(tuple(t.shape), dtype=_like(t, dtype), generator=generator)


def uniform(size: Sequence[int], low: float = 0.0, high: float = 1.0, *, dtype: Any = None,
            generator: Generator | None = None) -> Tensor:
    """Samples from U(low, high)."""
    d = _sample_dtype(dtype, "uniform")
    if _tracing():
        return _random(tuple(size), d, "uniform", low, high, generator)
    arr = numpy_rng(generator).uniform(low, high, _size(tuple(size), "uniform")).astype(d.np)
    return Tensor._make(arr)


def normal(size: Sequence[int], mean: float = 0.0, std: float = 1.0, *, dtype: Any = None,
           generator: Generator | None = None) -> Tensor:
    """Samples from N(mean, std^2)."""
    d = _sample_dtype(dtype, "normal")
    if _tracing():
        return _random(tuple(size), d, "normal", mean, std, generator)
    arr = numpy_rng(generator).normal(mean, std, _size(tuple(size), "normal")).astype(d.np)
    return Tensor._make(arr)


__all__ = [
    "tensor", "from_numpy", "as_tensor", "zeros", "ones", "empty", "full", "zeros_like",
    "ones_like", "empty_like", "full_like", "arange", "linspace", "eye", "rand", "randn",
    "randint", "randperm", "rand_like", "randn_like", "uniform", "normal",
]
