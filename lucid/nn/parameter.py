"""``nn.Parameter``: a tensor that a :class:`~lucid.nn.Module` registers as a learnable weight.

A Parameter is an ordinary :class:`lucid.Tensor` (``isinstance(p, lucid.Tensor)`` holds) that
*shares* the data of the tensor it wraps, is a leaf of the autograd graph and requires grad by
default. Assigning one to a module attribute registers it (see ``Module.__setattr__``). Ops on a
Parameter return plain Tensors, because the op layer builds its results with ``Tensor._make``.

:class:`UninitializedParameter` is the placeholder lazy modules (``LazyLinear``, ...) hold until
the first forward tells them the input shape; ``materialize(shape)`` turns it into a normal
Parameter in place, so every reference to it (optimizers, tied modules) sees the real one.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..autograd.graph import VersionCounter
from ..device import Device, as_device, check_supported
from ..dtypes import DType
from ..tensor import Size, Tensor

__all__ = ["Parameter", "UninitializedParameter", "is_lazy"]

# The slot descriptor of ``Tensor._data``; UninitializedParameter shadows ``_data`` with a
# property that raises, and writes the real array through this descriptor when materialized.
_DATA_SLOT = Tensor.__dict__["_data"]


class Parameter(Tensor):
    """A tensor registered as a module parameter when assigned to a module attribute.

    Args:
        data: The tensor to wrap. The Parameter shares its memory (no copy) and its version
            counter, so an in-place write through either is seen by both. ``None`` gives an
            empty tensor of the default dtype.
        requires_grad: Whether the parameter requires gradient (default True). Only floating
            point parameters can require grad.

    The Parameter is always a leaf: wrapping the result of an op keeps its values but not its
    history. Unlike ``lucid.Tensor`` (which uses ``__slots__``), a Parameter has a ``__dict__``,
    so code may attach attributes to it (as some PyTorch code does).
    """

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            arr = np.empty((0,), dtype=_dt.get_default_dtype().np)
            vc = VersionCounter()
            device = as_device(None)
        elif isinstance(data, Tensor):
            arr = data._data
            vc = data._vc
            device = data._device
        else:
            raise TypeError(
                f"Parameter(data): expected a lucid.Tensor, got {type(data).__name__}; wrap "
                f"the values first, e.g. Parameter(lucid.tensor(values))"
            )
        self._data = arr
        self._device = device
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._vc = vc
        self._base = None
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce__(self) -> tuple:
        # Tensor.__reduce__ would rebuild a plain Tensor; keep the class and extra attributes.
        return (_rebuild_parameter, (self._data, self._requires_grad, dict(self.__dict__)))

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(Tensor._make(np.array(self._data, copy=True), self._device),
                           self._requires_grad)
        memo[id(self)] = result
        if self.grad is not None:
            result.grad = copy.deepcopy(self.grad, memo)
        result.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return result


def _rebuild_parameter(data: np.ndarray, requires_grad: bool, attrs: dict) -> Parameter:
    p = Parameter(Tensor._make(np.array(data, copy=True)), requires_grad)
    p.__dict__.update(attrs)
    return p


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (held by lazy modules until their first call).

    Its dtype, device and ``requires_grad`` are known; anything that needs its data or shape
    raises a clear error until :meth:`materialize` gives it a shape. Materializing changes the
    object's class to :class:`Parameter` in place, so references held elsewhere stay valid.

    Args:
        requires_grad: Whether the materialized parameter requires grad (default True).
        device: Its device (default CPU).
        dtype: Its dtype (default ``lucid.get_default_dtype()``); ``Module.to(dtype)`` /
            ``.double()`` on the owning module update it before materialization.
    """

    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device: Any = None, dtype: Any = None) -> None:
        dev = as_device(device)
        check_supported(dev, "UninitializedParameter")
        d = _dt.get_default_dtype() if dtype is None else _dt.as_dtype(dtype)
        self._pending_dtype = d
        _DATA_SLOT.__set__(self, np.empty((0,), dtype=d.np))
        self._device = dev
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._vc = VersionCounter()
        self._base = None
        if requires_grad:
            self.requires_grad_(True)

    @property
    def _data(self) -> np.ndarray:  # type: ignore[override]
        raise RuntimeError(
            "can't use an uninitialized parameter (of a lazy module): its shape is inferred on "
            "the module's first forward call. Run the module once on an example input (or call "
            "materialize(shape)) before using its parameters."
        )

    @property
    def dtype(self) -> DType:  # type: ignore[override]
        """The dtype the parameter will have once materialized."""
        return self._pending_dtype

    @property
    def shape(self) -> Size:  # type: ignore[override]
        raise RuntimeError(
            "can't access the shape of an uninitialized parameter: its shape is inferred on the "
            "lazy module's first forward call. Run the module once (or load a state_dict) "
            "before accessing it."
        )

    def _set_pending_dtype(self, dtype: DType) -> None:
        """Change the dtype used by :meth:`materialize` (``Module.to(dtype)`` calls this)."""
        self._pending_dtype = _dt.as_dtype(dtype)

    def materialize(self, shape: Any, device: Device | str | None = None,
                    dtype: Any = None) -> None:
        """Give the parameter a shape (zero-filled data) and make it a plain :class:`Parameter`.

        Lazy modules call this from their first forward, then initialize the values (e.g.
        ``reset_parameters``). ``device`` / ``dtype`` default to the ones given at construction.
        """
        if isinstance(shape, int):
            shape = (shape,)
        d = self._pending_dtype if dtype is None else _dt.as_dtype(dtype)
        if device is not None:
            dev = as_device(device)
            check_supported(dev, "UninitializedParameter.materialize")
            self._device = dev
        _DATA_SLOT.__set__(self, np.zeros(tuple(int(s) for s in shape), dtype=d.np))
        self._vc = VersionCounter()
        del self._pending_dtype
        self.__class__ = self.cls_to_become

    def __repr__(self) -> str:
        return "<UninitializedParameter>"

    __str__ = __repr__

    def __reduce__(self) -> tuple:
        return (UninitializedParameter, (self._requires_grad, self._device, self._pending_dtype))

    def __deepcopy__(self, memo: dict[int, Any]) -> UninitializedParameter:
        if id(self) in memo:
            return memo[id(self)]
        result = UninitializedParameter(self._requires_grad, self._device, self._pending_dtype)
        memo[id(self)] = result
        return result


def is_lazy(param: Any) -> bool:
    """Whether ``param`` is an :class:`UninitializedParameter` (not materialized yet)."""
    return isinstance(param, UninitializedParameter)
