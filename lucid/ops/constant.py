"""Primitives without inputs: ``full`` (a constant) and ``random`` (fresh samples).

Eagerly, constants and random tensors are plain NumPy arrays and never bind anything. Under a
trace, Python scalars (``x * 2.0``) and the zeros that VJP rules create bind ``full``, so they
appear in the graph as constant nodes rather than as captured arrays; random factories
(``lucid.rand``, dropout masks) bind ``random``, whose implementation draws from lucid's
generator each time the graph runs, so a compiled function gets fresh randomness every call and
stays reproducible after ``lucid.manual_seed``.
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


def _random_impl(*, shape: tuple[int, ...], dtype: DType, dist: str, a: float, b: float,
                 generator: Any) -> np.ndarray:
    from ..random import numpy_rng

    rng = numpy_rng(generator)
    if dist == "uniform":
        out = rng.random(shape, dtype=np.float64) * (b - a) + a if (a, b) != (0.0, 1.0) \
            else rng.random(shape, dtype=np.float64)
    else:
        out = rng.standard_normal(shape) * b + a if (a, b) != (0.0, 1.0) \
            else rng.standard_normal(shape)
    return out.astype(dtype.np)


random_p = primitive(
    "random",
    shape_rule=lambda *, shape, dtype, dist, a, b, generator: ShapedArray(shape, dtype),
    impl=_random_impl,
    vjp=None,
    lowering=None,
    doc="Samples from lucid's generator: uniform on [a, b) or normal with mean a, std b.",
)
# Two draws with equal parameters are different values: passes must never merge or fold them.
EFFECTFUL = frozenset({"random"})


def random(shape: tuple[int, ...], dtype: DType, dist: str = "uniform", a: float = 0.0,
           b: float = 1.0, generator: Any = None) -> Tensor:
    """Random samples as a graph node (used by the factories when a trace is active)."""
    return random_p.bind(shape=tuple(shape), dtype=dtype, dist=dist, a=float(a), b=float(b),
                         generator=generator)


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
