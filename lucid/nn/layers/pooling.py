"""Pooling layers: max, average and adaptive pooling in 1, 2 and 3 dimensions.

Thin modules over the pooling functions of :mod:`lucid.ops.pool`; constructor arguments,
attributes (stored as given, like PyTorch, except ``AvgPool1d`` which keeps 1-tuples) and
``repr`` follow ``torch.nn``.
"""

from __future__ import annotations

from typing import Any

from ...ops import pool as _pool
from ...tensor import Tensor
from ..module import Module

__all__ = [
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
]


class _MaxPoolNd(Module):
    _pool_fn: Any = None

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Any:
        return type(self)._pool_fn(input, self.kernel_size, self.stride, self.padding,
                                   self.dilation, ceil_mode=self.ceil_mode,
                                   return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (
            "kernel_size={kernel_size}, stride={stride}, padding={padding}"
            ", dilation={dilation}, ceil_mode={ceil_mode}".format(**self.__dict__)
        )


class MaxPool1d(_MaxPoolNd):
    """1-d max pooling over ``(N, C, L)`` or ``(C, L)`` inputs.

    Args:
        kernel_size: Window size. stride: Window step (default ``kernel_size``).
        padding: Implicit ``-inf`` padding on both sides (at most half the kernel).
        dilation: Spacing between window elements.
        return_indices: Also return the argmax positions (for ``MaxUnpool``-style uses).
        ceil_mode: Round the output size up instead of down.
    """

    _pool_fn = staticmethod(_pool.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """2-d max pooling over ``(N, C, H, W)`` or ``(C, H, W)`` inputs (arguments as
    :class:`MaxPool1d`, ints or pairs)."""

    _pool_fn = staticmethod(_pool.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """3-d max pooling over ``(N, C, D, H, W)`` or ``(C, D, H, W)`` inputs."""

    _pool_fn = staticmethod(_pool.max_pool3d)


class _AvgPoolNd(Module):
    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _single(value: Any) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


class AvgPool1d(_AvgPoolNd):
    """1-d average pooling over ``(N, C, L)`` or ``(C, L)`` inputs.

    Args:
        kernel_size, stride (default ``kernel_size``), padding: Window geometry.
        ceil_mode: Round the output size up.
        count_include_pad: Count the zero padding in each window's divisor (default True).
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return _pool.avg_pool1d(input, self.kernel_size, self.stride, self.padding,
                                self.ceil_mode, self.count_include_pad)


class _AvgPoolWithDivisor(_AvgPoolNd):
    _pool_fn: Any = None

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._pool_fn(input, self.kernel_size, self.stride, self.padding,
                                   self.ceil_mode, self.count_include_pad,
                                   self.divisor_override)


class AvgPool2d(_AvgPoolWithDivisor):
    """2-d average pooling over ``(N, C, H, W)`` or ``(C, H, W)`` inputs.

    Arguments as :class:`AvgPool1d` (ints or pairs), plus ``divisor_override``: divide every
    window's sum by this number instead of the window size.
    """

    _pool_fn = staticmethod(_pool.avg_pool2d)


class AvgPool3d(_AvgPoolWithDivisor):
    """3-d average pooling over ``(N, C, D, H, W)`` or ``(C, D, H, W)`` inputs."""

    _pool_fn = staticmethod(_pool.avg_pool3d)


class _AdaptiveAvgPoolNd(Module):
    _pool_fn: Any = None

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._pool_fn(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed output length ``output_size`` (PyTorch's windows)."""

    _pool_fn = staticmethod(_pool.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed ``output_size`` (an int, a pair, ``None`` entries keep the
    input's size)."""

    _pool_fn = staticmethod(_pool.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """3-d average pooling to a fixed ``output_size``."""

    _pool_fn = staticmethod(_pool.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(Module):
    _pool_fn: Any = None

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return type(self)._pool_fn(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed output length; ``return_indices`` also returns the argmax."""

    _pool_fn = staticmethod(_pool.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed ``output_size``; ``return_indices`` also returns the argmax."""

    _pool_fn = staticmethod(_pool.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """3-d max pooling to a fixed ``output_size``."""

    _pool_fn = staticmethod(_pool.adaptive_max_pool3d)
