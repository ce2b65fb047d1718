"""``lucid.Tensor``: an n-dimensional array with PyTorch's interface and eager autograd.

A Tensor holds its data (a NumPy array on the CPU), its device, and its autograd state. Every
operation on it is a thin method that calls a function of :mod:`lucid.ops`, which binds a
primitive; the Tensor itself knows no math. In-place methods compute out of place, then write
the result into this tensor's storage and bump its version counter, so a tensor saved for
backward that is overwritten later is detected instead of giving a wrong gradient.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dtypes as _dt
from .autograd.graph import Node, VersionCounter
from .autograd.mode import _state as _grad_state
from .device import Device, DeviceLike, as_device, check_supported
from .dtypes import DType
from .errors import AutogradError, DTypeError

if TYPE_CHECKING:
    from .ops.shape import SplitResult  # noqa: F401


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints like PyTorch's ``torch.Size``."""

    def __repr__(self) -> str:
        return f"lucid.Size({list(self)})"

    def numel(self) -> int:
        """The number of elements a tensor of this shape has."""
        n = 1
        for d in self:
            n *= d
        return n


def _infer_array(data: Any, dtype: DType | None) -> np.ndarray:
    """Turn nested lists / scalars / arrays into a fresh NumPy array with lucid's dtype rules."""
    if isinstance(data, Tensor):
        arr = np.array(data._data, copy=True)
    elif isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data, copy=True)  # NumPy arrays and scalars keep their dtype
    else:
        if isinstance(data, (list, tuple)):
            data = _unwrap_nested(data)
        arr = np.array(data)
        if dtype is None:
            # Python numbers: floats become the default dtype, ints int64, bools bool.
            kind = arr.dtype.kind
            if kind == "f":
                arr = arr.astype(_dt.get_default_dtype().np)
            elif kind in "iu":
                arr = arr.astype(np.int64)
            elif kind == "O" or kind not in "b":
                raise DTypeError(
                    f"cannot build a Tensor from {type(data).__name__} data: expected numbers, "
                    f"nested lists of numbers, or a NumPy array"
                )
    if dtype is not None:
        arr = arr.astype(dtype.np, copy=False)
    else:
        _dt.from_numpy_dtype(arr.dtype)  # raises for unsupported NumPy dtypes
    return arr


def _unwrap_nested(data: Any) -> Any:
    """Replace 0-d / small Tensors inside nested lists by their values."""
    if isinstance(data, (list, tuple)):
        return [_unwrap_nested(d) for d in data]
    if isinstance(data, Tensor):
        return data._data
    return data


class Tensor:
    """An n-dimensional array with autograd, shaped like ``torch.Tensor``.

    ``Tensor(data, requires_grad=False, dtype=None, device="cpu")`` copies ``data`` (nested lists,
    Python scalars or a NumPy array). Python floats become ``lucid.get_default_dtype()``
    (float32), ints int64 and bools bool; NumPy arrays keep their dtype.
    """

    __slots__ = (
        "__weakref__",
        "_base",
        "_data",
        "_device",
        "_requires_grad",
        "_vc",
        "grad",
        "grad_fn",
    )

    # Make NumPy defer to Tensor's reflected operators (``np_array + tensor`` -> Tensor).
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 device: DeviceLike | None = None) -> None:
        dev = as_device(device)
        check_supported(dev, "Tensor")
        self._data = _infer_array(data, None if dtype is None else _dt.as_dtype(dtype))
        self._device = dev
        self._requires_grad = False
        self.grad: Tensor | None = None
        self.grad_fn: Node | None = None
        self._vc = VersionCounter()
        self._base: Tensor | None = None
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data: np.ndarray, device: Device | None = None) -> Tensor:
        """Wrap an array without copying or checking (the fast path used by ops)."""
        t = object.__new__(Tensor)
        t._data = data
        t._device = device if device is not None else _cpu
        t._requires_grad = False
        t.grad = None
        t.grad_fn = None
        t._vc = VersionCounter()
        t._base = None
        return t

    # ------------------------------------------------------------------ properties

    @property
    def shape(self) -> Size:
        """The shape, as a :class:`Size` (a tuple)."""
        return Size(self._data.shape)

    @property
    def dtype(self) -> DType:
        """The element type, e.g. ``lucid.float32``."""
        return _dt._BY_NP[self._data.dtype]

    @property
    def device(self) -> Device:
        """The device holding the data."""
        return self._device

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to (or through) this tensor."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (their ``.grad`` is populated)."""
        return self.grad_fn is None

    @property
    def data(self) -> Tensor:
        """This tensor's storage as a tensor that does not require grad (shares memory)."""
        t = Tensor._make(self._data, self._device)
        return t

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data must be set to a Tensor, got {type(value).__name__}")
        self._data = value._data
        self._device = value._device
        self._vc = VersionCounter()

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """The tensor with its dimensions reversed."""
        return _ops.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        """The tensor with its last two dimensions swapped (a batch of transposed matrices)."""
        return _ops.transpose(self, -2, -1)

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes of data."""
        return self._data.nbytes

    # ------------------------------------------------------------------ basic queries

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the length of dimension ``dim``."""
        if dim is None:
            return self.shape
        return self._data.shape[_ops.normalize_dim(dim, self.ndim, "size")]

    def dim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements."""
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating type."""
        return self.dtype.is_floating_point

    def is_contiguous(self) -> bool:
        """Whether the data is laid out in row-major order without gaps."""
        d = self._data
        return type(d) is not np.ndarray or bool(d.flags.c_contiguous)

    def _concrete(self, what: str) -> np.ndarray:
        """The data as an array; a traced tensor has none and raises ``TracerError`` saying
        which argument it depends on and where the user's code asked for it."""
        d = self._data
        if type(d) is not np.ndarray:
            raise d.concrete_error(what)
        return d

    @property
    def is_concrete(self) -> bool:
        """False for a symbolic tensor inside a trace (``lucid.jit``, ``lucid.grad``, ...)."""
        return type(self._data) is np.ndarray

    def item(self) -> builtins.float | builtins.int | builtins.bool:
        """The value of a one-element tensor as a Python number."""
        d = self._concrete("item()")
        if d.size != 1:
            raise ValueError(
                f"item(): a Tensor with {d.size} elements cannot be converted to a "
                f"Python scalar; index it first or use .tolist()"
            )
        return d.reshape(()).item()

    def tolist(self) -> Any:
        """The data as (nested) Python lists."""
        return self._concrete("tolist()").tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a NumPy array sharing memory (``detach()`` first if it requires grad)."""
        d = self._concrete("numpy()")
        if self._requires_grad and not force:
            raise AutogradError(
                "can't call numpy() on a Tensor that requires grad; use tensor.detach().numpy()"
            )
        return d

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        d = self._concrete("conversion to a NumPy array")
        if self._requires_grad:
            raise AutogradError(
                "can't convert a Tensor that requires grad to a NumPy array; use "
                "tensor.detach().numpy()"
            )
        return d if dtype is None else d.astype(dtype)

    # ------------------------------------------------------------------ autograd

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` on a leaf tensor, in place; returns ``self``."""
        if not self.is_leaf:
            if not requires_grad:
                raise AutogradError(
                    "you can only change requires_grad flags of leaf tensors; use "
                    "tensor.detach() to get a tensor that does not require grad"
                )
            return self
        if requires_grad and not self.dtype.is_floating_point:
            raise DTypeError(
                f"only tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        self._requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise AutogradError("can't retain_grad on a Tensor that has requires_grad=False")
            return  # leaves keep their gradient anyway
        import weakref

        self.grad_fn.retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        """Whether ``retain_grad()`` was called on this non-leaf tensor."""
        return (
            self.grad_fn is not None
            and self.grad_fn.retained is not None
            and self.grad_fn.retained() is self
        )

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
        """Accumulate the gradient of this tensor with respect to the graph leaves in ``.grad``.

        With no ``gradient`` a tensor of ones is used, also for non-scalar outputs (the gradient
        of ``self.sum()``). ``retain_graph`` keeps the graph for another backward
        (defaults to ``create_graph``); ``create_graph`` records the backward itself so it can be
        differentiated again; ``inputs`` limits accumulation to those tensors.
        """
        from .autograd import backward

        backward([self], None if gradient is None else [gradient], retain_graph=retain_graph,
                 create_graph=create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut off from the autograd graph."""
        return _ops.stop_gradient(self)

    def detach_(self) -> Tensor:
        """Cut this tensor off from the graph, in place."""
        self.grad_fn = None
        self._requires_grad = False
        return self

    # ------------------------------------------------------------------ copies and conversion

    def clone(self) -> Tensor:
        """A copy with its own storage (differentiable)."""
        return _ops.copy(self)

    def contiguous(self) -> Tensor:
        """This tensor if it is contiguous, else a contiguous copy."""
        return self if self.is_contiguous() else _ops.copy(self)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """Convert to a dtype and/or device: ``to(lucid.float64)``, ``to("cpu")``,
        ``to(other_tensor)``, ``to(device, dtype)``."""
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        copy = kwargs.pop("copy", False)
        if kwargs:
            raise TypeError(f"to() got unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, (str, Device)):
                device = a
            elif a is not None:
                dtype = a
        out = self
        if device is not None:
            dev = as_device(device)
            check_supported(dev, "Tensor.to")
        if dtype is not None and _dt.as_dtype(dtype) is not self.dtype:
            out = _ops.cast(out, _dt.as_dtype(dtype))
        elif copy:
            out = _ops.copy(out)
        return out

    def type(self, dtype: Any = None) -> Any:
        """The dtype's name with no argument, else a cast to ``dtype``."""
        if dtype is None:
            return f"lucid.{self.dtype.name}"
        return self.to(dtype)

    def float(self) -> Tensor:
        """Cast to float32."""
        return self.to(_dt.float32)

    def double(self) -> Tensor:
        """Cast to float64."""
        return self.to(_dt.float64)

    def half(self) -> Tensor:
        """Cast to float16."""
        return self.to(_dt.float16)

    def long(self) -> Tensor:
        """Cast to int64."""
        return self.to(_dt.int64)

    def int(self) -> Tensor:
        """Cast to int32."""
        return self.to(_dt.int32)

    def bool(self) -> Tensor:
        """Cast to bool."""
        return self.to(_dt.bool_)

    def cpu(self) -> Tensor:
        """This tensor (its data is on the CPU)."""
        return self

    def cuda(self, device: Any = None) -> Tensor:
        """Move to a CUDA device."""
        return self.to(Device("cuda", device if isinstance(device, builtins.int) else None))

    def new_tensor(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """A tensor from ``data`` with this tensor's dtype and device by default."""
        return Tensor(data, dtype=dtype or self.dtype, device=self._device,
                      requires_grad=requires_grad)

    def new_zeros(self, *size: Any, dtype: Any = None) -> Tensor:
        """Zeros of ``size`` with this tensor's dtype and device by default."""
        return _creation.zeros(*size, dtype=dtype or self.dtype, device=self._device)

    def new_ones(self, *size: Any, dtype: Any = None) -> Tensor:
        """Ones of ``size`` with this tensor's dtype and device by default."""
        return _creation.ones(*size, dtype=dtype or self.dtype, device=self._device)

    def new_full(self, size: Sequence[int], fill_value: Any, dtype: Any = None) -> Tensor:
        """``fill_value`` of ``size`` with this tensor's dtype and device by default."""
        return _creation.full(size, fill_value, dtype=dtype or self.dtype, device=self._device)

    def new_empty(self, *size: Any, dtype: Any = None) -> Tensor:
        """An uninitialised tensor of ``size`` with this tensor's dtype and device."""
        return _creation.empty(*size, dtype=dtype or self.dtype, device=self._device)

    # ------------------------------------------------------------------ in-place machinery

    def _assign(self, result: Tensor, op: str) -> Tensor:
        """Make ``result`` (computed out of place from ``self``) this tensor's new value."""
        grad_on = _grad_state.grad_enabled
        if grad_on and self.grad_fn is None and self._requires_grad:
            raise AutogradError(
                f"{op}: a leaf Tensor that requires grad is being used in an in-place operation;"
                f" wrap it in `with lucid.no_grad():` (as optimizers do) or use an out-of-place op"
            )
        if grad_on and self._base is not None and (
            self._requires_grad or result._requires_grad or self._base._requires_grad
        ):
            raise AutogradError(
                f"{op}: in-place modification of a view of a tensor that takes part in autograd "
                f"is not supported; modify the base tensor (e.g. base[idx] = value) or use "
                f"out-of-place ops"
            )
        rdt = result.dtype
        if rdt is not self.dtype:
            if not _dt.can_cast(rdt, self.dtype):
                raise DTypeError(
                    f"{op}: result type {rdt.name} can't be cast to the desired output type "
                    f"{self.dtype.name}"
                )
            result = _ops.cast(result, self.dtype)
        if result.shape != self.shape:
            raise AutogradError(
                f"{op}: output with shape {list(self.shape)} doesn't match the broadcast shape "
                f"{list(result.shape)}"
            )
        traced = type(self._data) is not np.ndarray or type(result._data) is not np.ndarray
        if not traced and not self._data.flags.writeable:
            raise AutogradError(
                f"{op}: this tensor's memory is read-only or shared by several elements (an "
                f"expanded tensor?); .clone() it before writing to it in place"
            )
        node = result.grad_fn
        if traced:
            # Symbolic values are immutable: the tensor takes the new value, and a trace
            # records the change as a mutation to write back after the call.
            note = getattr(result._data, "note_write", None)
            if note is not None:
                note(self)
            self._data = result._data
        elif node is not None and any(t is self for t in node.inputs):
            # The op just recorded saved `self`, whose storage is about to be overwritten: hand
            # the node a copy of the value it read (with that value's history), so backward
            # rules that need it (``y *= x``, ``y.square_()``) still work, as in PyTorch.
            old = Tensor._make(self._data.copy(), self._device)
            old.grad_fn, old._requires_grad = self.grad_fn, self._requires_grad
            node.inputs = tuple(old if t is self else t for t in node.inputs)
            node.versions = tuple(0 if t is old else v for t, v in zip(node.inputs, node.versions))
        if not traced:
            np.copyto(self._data, result._data)
        self._vc.value += 1
        if result.grad_fn is not None and grad_on:
            self.grad_fn = result.grad_fn
            self._requires_grad = True
        elif self.grad_fn is not None and grad_on:
            # Overwritten with a value that has no history: no gradient reaches the old graph.
            self.grad_fn = None
            self._requires_grad = False
        return self

    def zero_(self) -> Tensor:
        """Fill with zeros, in place."""
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        """Fill with ``value`` (a number or a one-element tensor), in place."""
        if isinstance(value, Tensor):
            return self._assign(_ops.expand(_ops.cast(value.reshape(()), self.dtype),
                                            tuple(self.shape)), "fill_")
        return self._assign(_creation.full(tuple(self.shape), value, dtype=self.dtype),
                            "fill_")

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor."""
        src = src if isinstance(src, Tensor) else Tensor(src)
        return self._assign(_ops.expand(_ops.cast(src, self.dtype), tuple(self.shape)), "copy_")

    def uniform_(self, a: builtins.float = 0.0, b: builtins.float = 1.0,
                 generator: Any = None) -> Tensor:
        """Fill with samples from U(a, b), in place."""
        return self._assign(_creation.uniform(tuple(self.shape), a, b, dtype=self.dtype,
                                              generator=generator), "uniform_")

    def normal_(self, mean: builtins.float = 0.0, std: builtins.float = 1.0,
                generator: Any = None) -> Tensor:
        """Fill with samples from N(mean, std^2), in place."""
        return self._assign(_creation.normal(tuple(self.shape), mean, std, dtype=self.dtype,
                                             generator=generator), "normal_")

    def _update_in_place(self, ufunc: np.ufunc, other: Any, alpha: Any) -> bool:
        """The eager fast path of ``add_``/``sub_``/``mul_``: ``self = ufunc(self, alpha *
        other)`` written straight into this tensor's storage. Returns False (nothing done)
        unless the general path would give the same result with no autograd bookkeeping:
        grad mode off and no interpreter (a trace must record a mutation), a floating tensor,
        ``other`` a tensor of its dtype and shape or a weak Python scalar, writable storage.
        Optimizer steps are made of these.
        """
        if _grad_state.grad_enabled or _registry._interp.stack:
            return False
        data = self._data
        if type(data) is not np.ndarray or data.dtype.kind != "f" or not data.flags.writeable:
            return False
        if isinstance(other, Tensor):
            o = other._data
            if type(o) is not np.ndarray or o.dtype is not data.dtype or o.shape != data.shape \
                    or other._device is not self._device:
                return False
        elif isinstance(other, (builtins.int, builtins.float)):
            o = other  # a weak scalar: NumPy casts it to the array's dtype, as promotion does
        else:
            return False
        if not isinstance(alpha, (builtins.int, builtins.float)):
            return False
        token = _rules.silence_fp()  # inf / NaN silently, as the ops compute them
        try:
            if alpha != 1:
                # As ``_scaled``: a scalar ``other`` is scaled in Python, a tensor in its dtype.
                o = np.multiply(o, data.dtype.type(alpha)) if type(o) is np.ndarray \
                    else o * alpha
            ufunc(data, o, out=data)
        finally:
            _rules.restore_fp(token)
        self._vc.value += 1
        return True

    def add_(self, other: Any, *, alpha: Any = 1) -> Tensor:
        """``self += alpha * other``."""
        if self._update_in_place(np.add, other, alpha):
            return self
        return self._assign(_ops.add(self, other, alpha=alpha), "add_")

    def sub_(self, other: Any, *, alpha: Any = 1) -> Tensor:
        """``self -= alpha * other``."""
        if self._update_in_place(np.subtract, other, alpha):
            return self
        return self._assign(_ops.sub(self, other, alpha=alpha), "sub_")

    def mul_(self, other: Any) -> Tensor:
        """``self *= other``."""
        if self._update_in_place(np.multiply, other, 1):
            return self
        return self._assign(_ops.mul(self, other), "mul_")

    def div_(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        """``self /= other``."""
        return self._assign(_ops.div(self, other, rounding_mode=rounding_mode), "div_")

    def pow_(self, exponent: Any) -> Tensor:
        """``self **= exponent``."""
        return self._assign(_ops.pow(self, exponent), "pow_")

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        """Clamp into [min, max], in place."""
        return self._assign(_ops.clamp(self, min, max), "clamp_")

    clip_ = clamp_

    def masked_fill_(self, mask: Tensor, value: Any) -> Tensor:
        """Set elements where ``mask`` is true to ``value``, in place."""
        return self._assign(_ops.masked_fill(self, mask, value), "masked_fill_")

    def neg_(self) -> Tensor:
        """Negate in place."""
        return self._assign(_ops.neg(self), "neg_")

    def abs_(self) -> Tensor:
        """Absolute value in place."""
        return self._assign(_ops.abs(self), "abs_")

    def exp_(self) -> Tensor:
        """Exponential in place."""
        return self._assign(_ops.exp(self), "exp_")

    def log_(self) -> Tensor:
        """Natural logarithm in place."""
        return self._assign(_ops.log(self), "log_")

    def sqrt_(self) -> Tensor:
        """Square root in place."""
        return self._assign(_ops.sqrt(self), "sqrt_")

    def relu_(self) -> Tensor:
        """ReLU in place."""
        return self._assign(_ops.relu(self), "relu_")

    def sigmoid_(self) -> Tensor:
        """Sigmoid in place."""
        return self._assign(_ops.sigmoid(self), "sigmoid_")

    def tanh_(self) -> Tensor:
        """tanh in place."""
        return self._assign(_ops.tanh(self), "tanh_")

    def floor_(self) -> Tensor:
        """Floor in place."""
        return self._assign(_ops.floor(self), "floor_")

    def ceil_(self) -> Tensor:
        """Ceil in place."""
        return self._assign(_ops.ceil(self), "ceil_")

    def round_(self) -> Tensor:
        """Round half to even, in place."""
        return self._assign(_ops.round(self), "round_")

    def square_(self) -> Tensor:
        """Square in place."""
        return self._assign(_ops.square(self), "square_")

    def __iadd__(self, other: Any) -> Tensor:
        return self._assign(_ops.add(self, other), "+=")

    def __isub__(self, other: Any) -> Tensor:
        return self._assign(_ops.sub(self, other), "-=")

    def __imul__(self, other: Any) -> Tensor:
        return self._assign(_ops.mul(self, other), "*=")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._assign(_ops.div(self, other), "/=")

    def __ifloordiv__(self, other: Any) -> Tensor:
        return self._assign(_ops.floor_divide(self, other), "//=")

    def __imod__(self, other: Any) -> Tensor:
        return self._assign(_ops.remainder(self, other), "%=")

    def __ipow__(self, other: Any) -> Tensor:
        return self._assign(_ops.pow(self, other), "**=")

    def __imatmul__(self, other: Any) -> Tensor:
        return self._assign(_ops.matmul(self, other), "@=")

    def __iand__(self, other: Any) -> Tensor:
        return self._assign(_ops.bitwise_and(self, other), "&=")

    def __ior__(self, other: Any) -> Tensor:
        return self._assign(_ops.bitwise_or(self, other), "|=")

    def __ixor__(self, other: Any) -> Tensor:
        return self._assign(_ops.bitwise_xor(self, other), "^=")

    def __setitem__(self, index: Any, value: Any) -> None:
        self._assign(_ops.index_put(self, index, value), "__setitem__")

    # ------------------------------------------------------------------ Python protocol

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> builtins.bool:
        d = self._concrete("bool()")
        if d.size != 1:
            raise ValueError(
                f"the truth value of a Tensor with {d.size} elements is ambiguous; use "
                f".any() or .all()"
            )
        return builtins.bool(d.reshape(()))

    def __float__(self) -> builtins.float:
        self._concrete("float()")
        return builtins.float(self.item())

    def __int__(self) -> builtins.int:
        self._concrete("int()")
        return builtins.int(self.item())

    def __index__(self) -> builtins.int:
        if self.dtype.is_floating_point or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        self._concrete("use as an index")
        return builtins.int(self.item())

    def __format__(self, spec: str) -> str:
        if self.is_concrete and self._data.size == 1 and self.ndim == 0:
            return format(self.item(), spec)
        return repr(self) if not spec else format(str(self), spec)

    def __hash__(self) -> builtins.int:
        return id(self)

    def __repr__(self) -> str:
        if not self.is_concrete:
            return f"Tensor(<traced {self._data!r}>)"
        body = np.array2string(
            self._data, separator=", ", precision=4, threshold=1000, edgeitems=3,
            prefix="Tensor(", floatmode="maxprec",
        )
        extra = []
        if self._device.type != "cpu":
            extra.append(f"device='{self._device}'")
        dt = self.dtype
        default_shown = dt is _dt.get_default_dtype() or dt is _dt.int64 or dt is _dt.bool_
        if not default_shown or self._data.size == 0:
            extra.append(f"dtype={dt!r}")
        if self.grad_fn is not None:
            extra.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self._requires_grad:
            extra.append("requires_grad=True")
        return "Tensor(" + body + "".join(", " + e for e in extra) + ")"

    __str__ = __repr__

    def __reduce__(self) -> tuple:
        return (_rebuild, (self._data, self._requires_grad))

    # ------------------------------------------------------------------ operators

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __invert__(self) -> Tensor:
        return _ops.bitwise_not(self)

    def __add__(self, o: Any) -> Tensor:
        return _ops.add(self, o)

    def __radd__(self, o: Any) -> Tensor:
        return _ops.add(o, self)

    def __sub__(self, o: Any) -> Tensor:
        return _ops.sub(self, o)

    def __rsub__(self, o: Any) -> Tensor:
        return _ops.sub(o, self)

    def __mul__(self, o: Any) -> Tensor:
        return _ops.mul(self, o)

    def __rmul__(self, o: Any) -> Tensor:
        return _ops.mul(o, self)

    def __truediv__(self, o: Any) -> Tensor:
        return _ops.div(self, o)

    def __rtruediv__(self, o: Any) -> Tensor:
        return _ops.div(o, self)

    def __floordiv__(self, o: Any) -> Tensor:
        return _ops.floor_divide(self, o)

    def __rfloordiv__(self, o: Any) -> Tensor:
        return _ops.floor_divide(o, self)

    def __mod__(self, o: Any) -> Tensor:
        return _ops.remainder(self, o)

    def __rmod__(self, o: Any) -> Tensor:
        return _ops.remainder(o, self)

    def __pow__(self, o: Any) -> Tensor:
        return _ops.pow(self, o)

    def __rpow__(self, o: Any) -> Tensor:
        return _ops.pow(o, self)

    def __matmul__(self, o: Any) -> Tensor:
        return _ops.matmul(self, o)

    def __rmatmul__(self, o: Any) -> Tensor:
        return _ops.matmul(o, self)

    def __and__(self, o: Any) -> Tensor:
        return _ops.bitwise_and(self, o)

    __rand__ = __and__

    def __or__(self, o: Any) -> Tensor:
        return _ops.bitwise_or(self, o)

    __ror__ = __or__

    def __xor__(self, o: Any) -> Tensor:
        return _ops.bitwise_xor(self, o)

    __rxor__ = __xor__

    def __eq__(self, o: Any) -> Any:  # type: ignore[override]
        if o is None:
            return False  # ``t == None`` is a plain False, as in PyTorch
        return _ops.eq(self, o)

    def __ne__(self, o: Any) -> Any:  # type: ignore[override]
        if o is None:
            return True
        return _ops.ne(self, o)

    def __lt__(self, o: Any) -> Tensor:
        return _ops.lt(self, o)

    def __le__(self, o: Any) -> Tensor:
        return _ops.le(self, o)

    def __gt__(self, o: Any) -> Tensor:
        return _ops.gt(self, o)

    def __ge__(self, o: Any) -> Tensor:
        return _ops.ge(self, o)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    # ------------------------------------------------------------------ op methods
    # Each one is documented at the function of the same name in lucid.ops.

    def abs(self) -> Tensor:
        return _ops.abs(self)

    absolute = abs

    def neg(self) -> Tensor:
        return _ops.neg(self)

    negative = neg

    def sign(self) -> Tensor:
        return _ops.sign(self)

    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def log1p(self) -> Tensor:
        return _ops.log1p(self)

    def expm1(self) -> Tensor:
        return _ops.expm1(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def rsqrt(self) -> Tensor:
        return _ops.rsqrt(self)

    def square(self) -> Tensor:
        return _ops.square(self)

    def reciprocal(self) -> Tensor:
        return _ops.reciprocal(self)

    def sin(self) -> Tensor:
        return _ops.sin(self)

    def cos(self) -> Tensor:
        return _ops.cos(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def erf(self) -> Tensor:
        return _ops.erf(self)

    def floor(self) -> Tensor:
        return _ops.floor(self)

    def ceil(self) -> Tensor:
        return _ops.ceil(self)

    def round(self, decimals: builtins.int = 0) -> Tensor:
        return _ops.round(self, decimals=decimals)

    def trunc(self) -> Tensor:
        return _ops.trunc(self)

    def logical_not(self) -> Tensor:
        return _ops.logical_not(self)

    def isnan(self) -> Tensor:
        return _ops.isnan(self)

    def isinf(self) -> Tensor:
        return _ops.isinf(self)

    def isfinite(self) -> Tensor:
        return _ops.isfinite(self)

    def add(self, other: Any, *, alpha: Any = 1) -> Tensor:
        return _ops.add(self, other, alpha=alpha)

    def sub(self, other: Any, *, alpha: Any = 1) -> Tensor:
        return _ops.sub(self, other, alpha=alpha)

    subtract = sub

    def mul(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    multiply = mul

    def div(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        return _ops.div(self, other, rounding_mode=rounding_mode)

    divide = div
    true_divide = div

    def pow(self, exponent: Any) -> Tensor:
        return _ops.pow(self, exponent)

    def maximum(self, other: Any) -> Tensor:
        return _ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _ops.minimum(self, other)

    def fmod(self, other: Any) -> Tensor:
        return _ops.fmod(self, other)

    def remainder(self, other: Any) -> Tensor:
        return _ops.remainder(self, other)

    def floor_divide(self, other: Any) -> Tensor:
        return _ops.floor_divide(self, other)

    def eq(self, other: Any) -> Tensor:
        return _ops.eq(self, other)

    def ne(self, other: Any) -> Tensor:
        return _ops.ne(self, other)

    def lt(self, other: Any) -> Tensor:
        return _ops.lt(self, other)

    def le(self, other: Any) -> Tensor:
        return _ops.le(self, other)

    def gt(self, other: Any) -> Tensor:
        return _ops.gt(self, other)

    def ge(self, other: Any) -> Tensor:
        return _ops.ge(self, other)

    def equal(self, other: Tensor) -> builtins.bool:
        return _ops.equal(self, other)

    def allclose(self, other: Tensor, rtol: builtins.float = 1e-5, atol: builtins.float = 1e-8,
                 equal_nan: builtins.bool = False) -> builtins.bool:
        return _ops.allclose(self, other, rtol=rtol, atol=atol, equal_nan=equal_nan)

    def logical_and(self, other: Any) -> Tensor:
        return _ops.logical_and(self, other)

    def logical_or(self, other: Any) -> Tensor:
        return _ops.logical_or(self, other)

    def logical_xor(self, other: Any) -> Tensor:
        return _ops.logical_xor(self, other)

    def where(self, condition: Any, other: Any) -> Tensor:
        return _ops.where(condition, self, other)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        return _ops.clamp(self, min, max)

    clip = clamp

    def masked_fill(self, mask: Tensor, value: Any) -> Tensor:
        return _ops.masked_fill(self, mask, value)

    def sum(self, dim: Any = None, keepdim: builtins.bool = False, *, dtype: Any = None) -> Tensor:
        return _ops.sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim: Any = None, keepdim: builtins.bool = False, *, dtype: Any = None
             ) -> Tensor:
        return _ops.mean(self, dim, keepdim, dtype=dtype)

    def prod(self, dim: Any = None, keepdim: builtins.bool = False, *, dtype: Any = None
             ) -> Tensor:
        return _ops.prod(self, dim, keepdim, dtype=dtype)

    def max(self, dim: Any = None, keepdim: builtins.bool = False) -> Any:
        return _ops.max(self, dim, keepdim)

    def min(self, dim: Any = None, keepdim: builtins.bool = False) -> Any:
        return _ops.min(self, dim, keepdim)

    def amax(self, dim: Any = (), keepdim: builtins.bool = False) -> Tensor:
        return _ops.amax(self, dim, keepdim)

    def amin(self, dim: Any = (), keepdim: builtins.bool = False) -> Tensor:
        return _ops.amin(self, dim, keepdim)

    def argmax(self, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.argmax(self, dim, keepdim)

    def argmin(self, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.argmin(self, dim, keepdim)

    def var(self, dim: Any = None, unbiased: Any = None, keepdim: builtins.bool = False, *,
            correction: Any = None) -> Tensor:
        return _ops.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim: Any = None, unbiased: Any = None, keepdim: builtins.bool = False, *,
            correction: Any = None) -> Tensor:
        return _ops.std(self, dim, unbiased, keepdim, correction=correction)

    def logsumexp(self, dim: Any, keepdim: builtins.bool = False) -> Tensor:
        return _ops.logsumexp(self, dim, keepdim)

    def cumsum(self, dim: builtins.int, *, dtype: Any = None) -> Tensor:
        return _ops.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim: builtins.int, *, dtype: Any = None) -> Tensor:
        return _ops.cumprod(self, dim, dtype=dtype)

    def count_nonzero(self, dim: Any = None) -> Tensor:
        return _ops.count_nonzero(self, dim)

    def all(self, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.all(self, dim, keepdim)

    def any(self, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.any(self, dim, keepdim)

    def norm(self, p: Any = 2, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.norm(self, p, dim, keepdim)

    def reshape(self, *shape: Any) -> Tensor:
        return _ops.reshape(self, _shape_args(shape))

    def view(self, *shape: Any) -> Tensor:
        return _ops.view(self, _shape_args(shape))

    def view_as(self, other: Tensor) -> Tensor:
        return _ops.view(self, tuple(other.shape))

    def reshape_as(self, other: Tensor) -> Tensor:
        return _ops.reshape(self, tuple(other.shape))

    def permute(self, *dims: Any) -> Tensor:
        return _ops.permute(self, _shape_args(dims))

    def transpose(self, dim0: builtins.int, dim1: builtins.int) -> Tensor:
        return _ops.transpose(self, dim0, dim1)

    swapaxes = transpose
    swapdims = transpose

    def t(self) -> Tensor:
        return _ops.t(self)

    def movedim(self, source: Any, destination: Any) -> Tensor:
        return _ops.movedim(self, source, destination)

    moveaxis = movedim

    def expand(self, *sizes: Any) -> Tensor:
        return _ops.expand(self, _shape_args(sizes))

    def expand_as(self, other: Tensor) -> Tensor:
        return _ops.expand(self, tuple(other.shape))

    def broadcast_to(self, shape: Sequence[builtins.int]) -> Tensor:
        return _ops.broadcast_to(self, shape)

    def squeeze(self, dim: Any = None) -> Tensor:
        return _ops.squeeze(self, dim)

    def unsqueeze(self, dim: builtins.int) -> Tensor:
        return _ops.unsqueeze(self, dim)

    def flatten(self, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
        return _ops.flatten(self, start_dim, end_dim)

    def unflatten(self, dim: builtins.int, sizes: Sequence[builtins.int]) -> Tensor:
        return _ops.unflatten(self, dim, sizes)

    def split(self, split_size_or_sections: Any, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _ops.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _ops.chunk(self, chunks, dim)

    def unbind(self, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _ops.unbind(self, dim)

    def flip(self, *dims: Any) -> Tensor:
        return _ops.flip(self, _shape_args(dims))

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        return _ops.roll(self, shifts, dims)

    def narrow(self, dim: builtins.int, start: builtins.int, length: builtins.int) -> Tensor:
        return _ops.narrow(self, dim, start, length)

    def tril(self, diagonal: builtins.int = 0) -> Tensor:
        return _ops.tril(self, diagonal)

    def triu(self, diagonal: builtins.int = 0) -> Tensor:
        return _ops.triu(self, diagonal)

    def repeat(self, *sizes: Any) -> Tensor:
        return _ops.repeat(self, _shape_args(sizes))

    def repeat_interleave(self, repeats: Any, dim: builtins.int | None = None) -> Tensor:
        return _ops.repeat_interleave(self, repeats, dim)

    def tile(self, *dims: Any) -> Tensor:
        return _ops.tile(self, _shape_args(dims))

    def softmax(self, dim: builtins.int, dtype: Any = None) -> Tensor:
        return _ops.softmax(self, dim, dtype)

    def log_softmax(self, dim: builtins.int, dtype: Any = None) -> Tensor:
        return _ops.log_softmax(self, dim, dtype)

    def matmul(self, other: Tensor) -> Tensor:
        return _ops.matmul(self, other)

    def mm(self, other: Tensor) -> Tensor:
        return _ops.mm(self, other)

    def bmm(self, other: Tensor) -> Tensor:
        return _ops.bmm(self, other)

    def dot(self, other: Tensor) -> Tensor:
        return _ops.dot(self, other)

    def gather(self, dim: builtins.int, index: Tensor) -> Tensor:
        return _ops.gather(self, dim, index)

    def index_select(self, dim: builtins.int, index: Tensor) -> Tensor:
        return _ops.index_select(self, dim, index)

    def scatter_add(self, dim: builtins.int, index: Tensor, src: Tensor) -> Tensor:
        return _ops.scatter_add(self, dim, index, src)


def _shape_args(args: tuple) -> tuple:
    """Accept both ``f(2, 3)`` and ``f((2, 3))`` spellings of a shape."""
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)):
        return tuple(args[0])
    return args


def _rebuild(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._make(np.array(data))
    if requires_grad:
        t.requires_grad_(True)
    return t


class StaleTensor(Tensor):
    """Stands in for a saved tensor that was modified in place after an op saved it.

    Its shape and dtype can be read; touching its data raises the error that explains what
    happened. Handed to VJP rules by the backward engine.
    """

    __slots__ = ("_dtype", "_message", "_shape")

    def __init__(self, t: Tensor, message: str) -> None:
        self._shape = t.shape
        self._dtype = t.dtype
        self._message = message
        self._device = t._device
        self._requires_grad = t._requires_grad
        self.grad = None
        self.grad_fn = t.grad_fn
        self._vc = t._vc
        self._base = None

    @property
    def _data(self) -> np.ndarray:  # type: ignore[override]
        raise AutogradError(self._message)

    @property
    def shape(self) -> Size:
        return self._shape

    @property
    def dtype(self) -> DType:
        return self._dtype

    @property
    def ndim(self) -> builtins.int:
        return len(self._shape)


_cpu = as_device("cpu")

# The op layer binds primitives that produce Tensors, so it is imported once Tensor exists.
from . import creation as _creation  # noqa: E402
from . import ops as _ops  # noqa: E402
from .ops import registry as _registry  # noqa: E402
from .ops import rules as _rules  # noqa: E402
