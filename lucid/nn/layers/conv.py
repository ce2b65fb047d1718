"""Convolution layers: ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d`` and their lazy variants.

Constructor signatures, attributes (``kernel_size``, ``stride``, ``padding``, ``dilation`` as
tuples, ``padding_mode``, ...), default initialisation and ``repr`` follow ``torch.nn``.
Non-zero padding modes (``"reflect"``, ``"replicate"``, ``"circular"``) pad explicitly with
:func:`lucid.nn.functional.pad` and then convolve without padding, as PyTorch does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ... import creation as _creation
from ...ops.conv import conv_transpose3d
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter, UninitializedParameter, is_lazy
from .linear import LazyModuleMixin, _reset_bias

__all__ = [
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
    "LazyConvTranspose3d",
]

_PADDING_STRINGS = ("same", "valid")
_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(value: Any, n: int) -> tuple:
    """PyTorch's ``_single`` / ``_pair`` / ``_triple``: repeat a scalar, keep an iterable."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(value)
    return (value,) * n


class _ConvNd(Module):
    """Shared state of convolution layers (PyTorch's ``_ConvNd``)."""

    _num_spatial_dims = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, ...],
                 stride: tuple[int, ...], padding: str | tuple[int, ...],
                 dilation: tuple[int, ...], transposed: bool, output_padding: tuple[int, ...],
                 groups: int, bias: bool, padding_mode: str, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in _PADDING_STRINGS:
                raise ValueError(
                    f"Invalid padding string {padding!r}, should be one of "
                    f"{set(_PADDING_STRINGS)}"
                )
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {set(_PADDING_MODES)}, but got "
                f"padding_mode='{padding_mode}'"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        # The amounts F.pad needs for a non-zero padding mode: last dim first, (low, high).
        if isinstance(padding, str):
            rev = [0, 0] * len(kernel_size)
            if padding == "same":
                for d, k, i in zip(dilation, kernel_size, range(len(kernel_size) - 1, -1, -1),
                                   strict=True):
                    total = d * (k - 1)
                    rev[2 * i] = total // 2
                    rev[2 * i + 1] = total - total // 2
            self._reversed_padding_repeated_twice = rev
        else:
            self._reversed_padding_repeated_twice = [p for p in reversed(padding) for _ in (0, 1)]
        if transposed:
            shape = (in_channels, out_channels // groups, *kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *kernel_size)
        self.weight = Parameter(_creation.empty(shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(_creation.empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the parameters: weight U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias alike."""
        # kaiming_uniform_ with a=sqrt(5) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                _reset_bias(self.bias, fan_in)

    def extra_repr(self) -> str:
        s = "{in_channels}, {out_channels}, kernel_size={kernel_size}, stride={stride}"
        if self.padding != (0,) * len(self.padding):
            s += ", padding={padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += ", dilation={dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += ", output_padding={output_padding}"
        if self.groups != 1:
            s += ", groups={groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += ", padding_mode={padding_mode}"
        return s.format(**self.__dict__)


class _Conv(_ConvNd):
    """A forward convolution with ``n`` spatial dims (the ``Conv{n}d`` classes set ``n``)."""

    _conv_fn: Any = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: str | Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        n = self._num_spatial_dims
        super().__init__(
            in_channels, out_channels, _ntuple(kernel_size, n), _ntuple(stride, n),
            padding if isinstance(padding, str) else _ntuple(padding, n),
            _ntuple(dilation, n), False, _ntuple(0, n), groups, bias, padding_mode,
            device=device, dtype=dtype,
        )

    def _conv_forward(self, input: Tensor, weight: Tensor,
                      bias: Tensor | None) -> Tensor:
        conv = type(self)._conv_fn
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-d convolution over ``(N, C_in, L)`` (or unbatched ``(C_in, L)``) inputs.

    Args:
        in_channels, out_channels: Channel counts.
        kernel_size, stride, dilation: Ints or 1-tuples.
        padding: Int, 1-tuple, ``"valid"`` or ``"same"`` (stride 1 only).
        groups: Blocked connections from input to output channels.
        bias: Whether to add a learnable bias.
        padding_mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
    """

    _num_spatial_dims = 1
    _conv_fn = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-d convolution over ``(N, C_in, H, W)`` (or unbatched ``(C_in, H, W)``) inputs.

    Arguments as :class:`Conv1d`, with ints or pairs for ``kernel_size``, ``stride``,
    ``padding`` and ``dilation``. ``weight`` is ``(out, in / groups, kH, kW)``.
    """

    _num_spatial_dims = 2
    _conv_fn = staticmethod(F.conv2d)


class Conv3d(_Conv):
    """3-d convolution over ``(N, C_in, D, H, W)`` (or unbatched) inputs.

    Arguments as :class:`Conv2d`, with ints or triples.
    """

    _num_spatial_dims = 3
    _conv_fn = staticmethod(F.conv3d)


class _ConvTransposeNd(_ConvNd):
    """A transposed convolution with ``n`` spatial dims."""

    _conv_fn: Any = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                 bias: bool = True, dilation: Any = 1, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        if padding_mode != "zeros":
            raise ValueError(
                f'Only "zeros" padding mode is supported for {self.__class__.__name__}'
            )
        n = self._num_spatial_dims
        super().__init__(
            in_channels, out_channels, _ntuple(kernel_size, n), _ntuple(stride, n),
            _ntuple(padding, n), _ntuple(dilation, n), True, _ntuple(output_padding, n),
            groups, bias, padding_mode, device=device, dtype=dtype,
        )

    def _output_padding(self, input: Tensor, output_size: Sequence[int] | None
                        ) -> tuple[int, ...]:
        """The ``output_padding`` that makes the output ``output_size`` (PyTorch's rule)."""
        n = self._num_spatial_dims
        if output_size is None:
            return tuple(self.output_padding)
        non_spatial = 2 if input.ndim == n + 2 else 1
        output_size = list(output_size)
        if len(output_size) == non_spatial + n:
            output_size = output_size[non_spatial:]
        if len(output_size) != n:
            raise ValueError(
                f"ConvTranspose{n}D: for {input.ndim}D input, output_size must have {n} or "
                f"{non_spatial + n} elements (got {len(output_size)})"
            )
        min_sizes = [
            (input.shape[d + non_spatial] - 1) * self.stride[d] - 2 * self.padding[d]
            + self.dilation[d] * (self.kernel_size[d] - 1) + 1
            for d in range(n)
        ]
        max_sizes = [m + s - 1 for m, s in zip(min_sizes, self.stride, strict=True)]
        for size, lo, hi in zip(output_size, min_sizes, max_sizes, strict=True):
            if size < lo or size > hi:
                raise ValueError(
                    f"requested an output size of {output_size}, but valid sizes range from "
                    f"{min_sizes} to {max_sizes} (for an input of {list(input.shape[2:])})"
                )
        return tuple(int(o) - m for o, m in zip(output_size, min_sizes, strict=True))

    def forward(self, input: Tensor,
                output_size: Sequence[int] | None = None) -> Tensor:
        output_padding = self._output_padding(input, output_size)
        return type(self)._conv_fn(input, self.weight, self.bias, self.stride, self.padding,
                                   output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-d transposed convolution (the adjoint of :class:`Conv1d`).

    ``weight`` is ``(in_channels, out_channels / groups, kL)``; ``forward(input,
    output_size=None)`` may pick the output length among the ``stride`` possible ones.
    """

    _num_spatial_dims = 1
    _conv_fn = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """2-d transposed convolution (the adjoint of :class:`Conv2d`).

    ``weight`` is ``(in_channels, out_channels / groups, kH, kW)``; see
    :class:`ConvTranspose1d` for ``output_size``.
    """

    _num_spatial_dims = 2
    _conv_fn = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTransposeNd):
    """3-d transposed convolution (the adjoint of :class:`Conv3d`)."""

    _num_spatial_dims = 3
    _conv_fn = staticmethod(conv_transpose3d)


# --------------------------------------------------------------------------- lazy variants


class _LazyConvXdMixin(LazyModuleMixin):
    """Infers ``in_channels`` from the first input (PyTorch's ``_LazyConvXdMixin``)."""

    in_channels: int
    out_channels: int
    groups: int
    transposed: bool
    kernel_size: tuple[int, ...]
    weight: Any
    bias: Any
    _num_spatial_dims: int

    def _lazy_init(self, out_channels: int, bias: bool, device: Any, dtype: Any) -> None:
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        """Initialize the parameters (only once they have a shape)."""
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()  # type: ignore[misc]

    def _get_in_channels(self, input: Tensor) -> int:
        n = self._num_spatial_dims
        if input.ndim not in (n + 1, n + 2):
            raise ValueError(
                f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to "
                f"{self._get_name()}, but got input of size: {list(input.shape)}"
            )
        return input.shape[1] if input.ndim == n + 2 else input.shape[0]

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Materialize the weight from the input's channel count and initialize."""
        weight_lazy = is_lazy(self.weight)
        if weight_lazy:
            self.in_channels = self._get_in_channels(input)
            if self.in_channels % self.groups != 0:
                raise ValueError("in_channels must be divisible by groups")
            if self.transposed:
                shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
            else:
                shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
            self.weight.materialize(shape)
        else:  # loaded from a state dict
            w = self.weight.shape
            self.in_channels = w[0] if self.transposed else w[1] * self.groups
        bias_lazy = is_lazy(self.bias)
        if bias_lazy:
            self.bias.materialize((self.out_channels,))
        if weight_lazy:
            self.reset_parameters()
        elif bias_lazy:
            _reset_bias(self.bias, init._calculate_fan_in_and_fan_out(self.weight)[0])


class _LazyConvInit(_LazyConvXdMixin):
    """The constructor of LazyConv{1,2,3}d: Conv's arguments without ``in_channels``."""

    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: str | Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups,  # type: ignore
                         False, padding_mode, device=device, dtype=dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class _LazyConvTransposeInit(_LazyConvXdMixin):
    """The constructor of LazyConvTranspose{1,2,3}d: ConvTranspose's arguments without
    ``in_channels``."""

    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding,  # type: ignore[call-arg]
                         output_padding, groups, False, dilation, padding_mode, device=device,
                         dtype=dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class LazyConv1d(_LazyConvInit, Conv1d):
    """A :class:`Conv1d` whose ``in_channels`` is inferred from the first input."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConvInit, Conv2d):
    """A :class:`Conv2d` whose ``in_channels`` is inferred from the first input."""

    cls_to_become = Conv2d


class LazyConv3d(_LazyConvInit, Conv3d):
    """A :class:`Conv3d` whose ``in_channels`` is inferred from the first input."""

    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTransposeInit, ConvTranspose1d):
    """A :class:`ConvTranspose1d` whose ``in_channels`` is inferred from the first input."""

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTransposeInit, ConvTranspose2d):
    """A :class:`ConvTranspose2d` whose ``in_channels`` is inferred from the first input."""

    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTransposeInit, ConvTranspose3d):
    """A :class:`ConvTranspose3d` whose ``in_channels`` is inferred from the first input."""

    cls_to_become = ConvTranspose3d
