"""``full``: the one primitive that makes a constant.

Eagerly, constants are plain NumPy arrays and never bind anything. Under a trace, Python
scalars (``x * 2.0``) and the zeros that VJP rules create bind ``full`` instead, so they appear
in the graph as constant nodes rather than as captured input arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..dtypes import DType
from ..tensor import Tensor
from .registry import Elementwise, ShapedArray, current_interpreter, primitive

full_p = primitive(
    "full",
    shape_rule=lambda *, shape, dtype, value: ShapedArray(shape, dtype),
    impl=lambda *, shape, dtype, value: np.full(shape, value, dtype=dtype.np),
    vjp=None,
    lowering=Elementwise("T(VALUE)"),
    doc="A tensor of one value; no inputs.",
)


def constant(value: Any, shape: tuple[int, ...], dtype: DType, like: Tensor | None = None
             ) -> Tensor:
    """``value`` broadcast to ``shape``: a graph constant under a trace, else an array."""
    if current_interpreter() is not None:
        v = value.item() if isinstance(value, np.generic) else value
        return full_p.bind(shape=tuple(shape), dtype=dtype, value=v)
    try:
        arr = np.full(shape, value, dtype=dtype.np)
    except OverflowError:  # integers that do not fit wrap around, as in PyTorch
        arr = np.full(shape, np.asarray(value).astype(dtype.np), dtype=dtype.np)
    return Tensor._make(arr, None if like is None else like._device)


def is_tracing() -> bool:
    """Whether a transform (trace, vmap) is handling binds right now."""
    return current_interpreter() is not None


__all__: list[str] = []
