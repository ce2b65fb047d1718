"""Data types: ``lucid.float32`` and friends, and PyTorch's type-promotion rules.

A :class:`DType` wraps a NumPy dtype. There is exactly one instance per kind, so dtypes compare
with ``is`` as well as ``==``; ``==`` also accepts anything NumPy understands as a dtype
(``np.float32``, ``"float32"``), which keeps interop with NumPy code painless.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .errors import DTypeError

# Categories order the kinds for promotion: a higher category wins regardless of width,
# exactly as PyTorch does (an int64 tensor plus a float16 tensor gives float16).
BOOL, INT, FLOAT = 0, 1, 2


class DType:
    """A tensor element type (``lucid.float32``, ``lucid.int64``, ...)."""

    __slots__ = ("_hash", "category", "itemsize", "name", "np")

    def __init__(self, name: str, np_dtype: Any, category: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category
        self.itemsize = self.np.itemsize
        self._hash = hash(("lucid.dtype", name))

    @property
    def is_floating_point(self) -> bool:
        """True for float16/float32/float64."""
        return self.category == FLOAT

    @property
    def is_signed(self) -> bool:
        """True unless the dtype is bool or unsigned."""
        return self.category != BOOL and self.np.kind != "u"

    def __repr__(self) -> str:
        return f"lucid.{self.name}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DType):
            return other is self
        if other is None:  # np.dtype(None) is float64, but no dtype equals None
            return False
        try:
            return self.np == np.dtype(other)  # type: ignore[arg-type]
        except TypeError:
            return NotImplemented

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple:
        # Unpickling must give back the singleton, so that ``is`` comparisons keep working.
        return (_by_name, (self.name,))


float16 = DType("float16", np.float16, FLOAT)
float32 = DType("float32", np.float32, FLOAT)
float64 = DType("float64", np.float64, FLOAT)
uint8 = DType("uint8", np.uint8, INT)
int8 = DType("int8", np.int8, INT)
int16 = DType("int16", np.int16, INT)
int32 = DType("int32", np.int32, INT)
int64 = DType("int64", np.int64, INT)
bool_ = DType("bool", np.bool_, BOOL)

half, float, double = float16, float32, float64
short, int, long = int16, int32, int64

ALL: tuple[DType, ...] = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)
_BY_NP: dict[np.dtype, DType] = {d.np: d for d in ALL}
_BY_NAME: dict[str, DType] = {d.name: d for d in ALL}


def _by_name(name: str) -> DType:
    return _BY_NAME[name]


_default_float: DType = float32


def get_default_dtype() -> DType:
    """The dtype Python floats and floating factory functions (``rand``, ``zeros``) produce."""
    return _default_float


def set_default_dtype(dtype: DType) -> None:
    """Set the default floating dtype (float16, float32 or float64), as in PyTorch."""
    global _default_float
    d = as_dtype(dtype)
    if not d.is_floating_point:
        raise DTypeError(f"set_default_dtype: only floating dtypes are allowed, got {d}")
    _default_float = d


def as_dtype(x: Any) -> DType:
    """Convert a lucid dtype, NumPy dtype, scalar type or name to the lucid :class:`DType`."""
    if isinstance(x, DType):
        return x
    if x is bool:
        return bool_
    if x is builtins.float:
        return _default_float
    if x is builtins.int:
        return int64
    try:
        d = _BY_NP.get(np.dtype(x))
    except TypeError:
        d = None
    if d is None:
        names = ", ".join(sorted(_BY_NAME))
        raise DTypeError(f"unsupported dtype {x!r}; lucid supports {names}")
    return d


def from_numpy_dtype(d: np.dtype) -> DType:
    """The lucid dtype of a NumPy dtype; NumPy kinds lucid lacks raise :class:`DTypeError`."""
    r = _BY_NP.get(d)
    if r is None:
        raise DTypeError(
            f"NumPy dtype {d} has no lucid equivalent; convert the array with "
            f".astype(np.float32) (or another supported dtype) first"
        )
    return r


def promote_types(a: DType, b: DType) -> DType:
    """The dtype two tensors of dtypes ``a`` and ``b`` combine to (PyTorch's rules)."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    return _BY_NP[np.promote_types(a.np, b.np)]


def result_type(*args: Any) -> DType:
    """PyTorch's promotion over tensors and Python scalars.

    Tensors with dimensions lead; zero-dimensional tensors only matter when they are of a
    higher category (an int tensor times a 0-d float tensor is float); Python scalars are
    "weak": they only raise the category, to the default dtype of that category. So
    ``float32_tensor * 2.0`` stays float32 and ``int_tensor * 2.5`` is float32.
    """
    dim_t: DType | None = None
    zero_t: DType | None = None
    scalar_cat = -1
    for x in args:
        dt = getattr(x, "dtype", None)
        if isinstance(dt, DType):
            if len(x.shape):
                dim_t = dt if dim_t is None else promote_types(dim_t, dt)
            else:
                zero_t = dt if zero_t is None else promote_types(zero_t, dt)
        elif isinstance(x, (bool, np.bool_)):
            scalar_cat = max(scalar_cat, BOOL)
        elif isinstance(x, (builtins.int, np.integer)):
            scalar_cat = max(scalar_cat, INT)
        elif isinstance(x, (builtins.float, np.floating)):
            scalar_cat = max(scalar_cat, FLOAT)
        else:
            raise DTypeError(f"cannot combine a value of type {type(x).__name__} with tensors")
    out = dim_t
    if zero_t is not None and (out is None or zero_t.category > out.category):
        out = zero_t
    if scalar_cat >= 0 and (out is None or scalar_cat > out.category):
        out = (bool_, int64, _default_float)[scalar_cat]
    assert out is not None, "result_type needs at least one argument"
    return out


def can_cast(src: DType, dst: DType) -> bool:
    """Whether an in-place op may write a ``src`` result into a ``dst`` tensor (PyTorch rule:
    no float into int, no int into bool)."""
    return src.category <= dst.category


__all__ = [
    "DType",
    "float16",
    "float32",
    "float64",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "bool_",
    "half",
    "double",
    "short",
    "long",
    "get_default_dtype",
    "set_default_dtype",
    "as_dtype",
    "from_numpy_dtype",
    "promote_types",
    "result_type",
    "can_cast",
]
