"""Fully connected layers: ``Linear``, ``LazyLinear``, ``Bilinear``; and the lazy-module mixin.

Parameters, attribute names, default initialisation and ``repr`` follow ``torch.nn``.
"""

from __future__ import annotations

import math
from typing import Any

from ... import creation as _creation
from ...autograd.mode import no_grad
from ...errors import MissingOverrideError
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter, UninitializedParameter, is_lazy

__all__ = ["LazyModuleMixin", "Linear", "LazyLinear", "Bilinear"]


class LazyModuleMixin:
    """Mixin for modules whose parameter shapes are inferred from their first input.

    A lazy module holds :class:`~lucid.nn.UninitializedParameter` s until it is first called.
    The first call runs :meth:`initialize_parameters` with the input (which materializes and
    initializes them) and then turns the module into ``cls_to_become`` (e.g. ``LazyLinear``
    becomes ``Linear``), exactly as PyTorch does; the object keeps its identity, so optimizers
    and containers holding it see the new class. A state dict loaded into a lazy module
    materializes its parameters with the checkpoint's shapes; the next call then only finishes
    the conversion.
    """

    cls_to_become: type[Module] | None = None

    def has_uninitialized_params(self) -> bool:
        """Whether any parameter or buffer of this module is still uninitialized."""
        d = self.__dict__
        return any(is_lazy(t) for t in (*d["_parameters"].values(), *d["_buffers"].values()))

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        """Materialize and initialize the parameters from the first input (per subclass)."""
        raise MissingOverrideError(
            f"{type(self).__name__} must implement initialize_parameters(input)"
        )

    def _infer_parameters(self, *args: Any, **kwargs: Any) -> None:
        """Initialize from the first input, then become ``cls_to_become``."""
        with no_grad():
            self.initialize_parameters(*args, **kwargs)
        if self.has_uninitialized_params():
            raise RuntimeError(
                f"module {self._get_name()} (a lazy module) has not been fully initialized "
                f"by its first input"
            )
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Initialization runs before the user's forward pre-hooks see the module, so that they
        # (like the forward) find materialized parameters. PyTorch uses a prepended pre-hook;
        # a check here gives the same order without keeping hook state in the module.
        # Still a lazy class here (the first call replaces the class), so initialize now.
        if self.cls_to_become is not None or self.has_uninitialized_params():
            self._infer_parameters(*args, **kwargs)
        # Not super(): the class may just have changed to one without this mixin.
        return Module.__call__(self, *args, **kwargs)  # type: ignore[arg-type]


def _reset_bias(bias: Tensor | None, fan_in: int) -> None:
    """PyTorch's default bias init for linear and conv layers: U(-1/sqrt(fan_in), ...)."""
    if bias is not None:
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    """Affine map ``y = x W^T + b`` (``torch.nn.Linear``).

    Args:
        in_features: Size of each input sample (last dimension of the input).
        out_features: Size of each output sample.
        bias: Whether to learn an additive bias (default True).
        device, dtype: Where and how the parameters are created.

    Attributes:
        weight: ``(out_features, in_features)``, initialised U(-1/sqrt(in_features),
            1/sqrt(in_features)) (``kaiming_uniform_`` with ``a=sqrt(5)``).
        bias: ``(out_features,)``, initialised from the same distribution, or None.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(
            _creation.empty((out_features, in_features), dtype=dtype, device=device)
        )
        if bias:
            self.bias = Parameter(_creation.empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the parameters from the default distribution."""
        # kaiming_uniform_ with a=sqrt(5) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            _reset_bias(self.bias, fan_in)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class LazyLinear(LazyModuleMixin, Linear):
    """A :class:`Linear` whose ``in_features`` is inferred from the first input's last dim.

    Until the first call the parameters are uninitialized and ``in_features`` is 0; the first
    call materializes them, initializes them as ``Linear`` does, and the module becomes a
    :class:`Linear` (``type(m) is Linear`` afterwards).
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(0, 0, False, device=device, dtype=dtype)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        """Initialize the parameters (only once they have a shape)."""
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Materialize ``weight`` as ``(out_features, input.shape[-1])`` and initialize."""
        weight_lazy = is_lazy(self.weight)
        if weight_lazy:
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
        else:  # loaded from a state dict: take the size from there
            self.in_features = self.weight.shape[1]
        bias_lazy = is_lazy(self.bias)
        if bias_lazy:
            self.bias.materialize((self.out_features,))
        if weight_lazy:
            self.reset_parameters()
        elif bias_lazy:
            _reset_bias(self.bias, self.in_features)


class Bilinear(Module):
    """Bilinear map ``y_k = x1^T W_k x2 + b_k`` (``torch.nn.Bilinear``).

    ``weight`` is ``(out_features, in1_features, in2_features)``; weight and bias are
    initialised U(-1/sqrt(in1_features), 1/sqrt(in1_features)).
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(_creation.empty(
            (out_features, in1_features, in2_features), dtype=dtype, device=device
        ))
        if bias:
            self.bias = Parameter(_creation.empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the parameters from the default distribution."""
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
