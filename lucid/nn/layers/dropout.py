"""Dropout modules: ``Dropout`` (elementwise) and ``Dropout2d`` (whole channels).

In training mode each element (channel) is zeroed with probability ``p`` and the survivors
are scaled by ``1 / (1 - p)``, so the expected value is unchanged; in eval mode the modules
are the identity.
"""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from ..module import Module

__all__ = ["Dropout", "Dropout2d"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` (training mode only); scale the rest by
    ``1 / (1 - p)``. ``inplace=True`` overwrites the input."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) inputs with
    probability ``p`` (training mode only); scale the rest by ``1 / (1 - p)``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)
