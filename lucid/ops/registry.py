"""The primitive registry: every operation lucid knows is defined here, once.

A :class:`Primitive` bundles the four things every part of lucid needs to know about an op:

1. ``shape_rule(*avals, **params) -> ShapedArray``: abstract evaluation. Inputs are anything
   with ``.shape`` and ``.dtype`` (a Tensor, a tracer, a :class:`ShapedArray`); it raises
   :class:`~lucid.errors.ShapeError` / :class:`~lucid.errors.DTypeError` naming the op.
2. ``impl(*arrays, **params) -> np.ndarray``: the NumPy reference implementation (the eager
   path, and the oracle the compiled kernels are tested against).
3. ``vjp``: how cotangents flow back, written with lucid's own ops, so a backward pass is itself
   made of primitives (traceable, compilable, differentiable again). Either a tuple with one
   rule per input (``None`` for an input that never gets a gradient, such as an index tensor),
   each called only when that input needs a gradient, or one callable returning a cotangent per
   input (for variadic ops). Rules are called as ``rule(g, out, *inputs, **params)``; ``out`` is
   the primal output when the primitive is registered with ``saves_output=True``, else ``None``
   (so outputs are kept alive only for the ops whose backward reads them). ``vjp=None`` marks
   the op as not differentiable (comparisons, argmax): its outputs never require grad.
4. ``lowering``: what the kernel generators need. :class:`Elementwise` carries a scalar
   expression template; :class:`Kernel` names a hand-written coarse kernel.

``Primitive.bind`` is the only way an op runs. Who executes it is decided by the interpreter on
top of the stack: none means eager (run ``impl`` now, record a tape node when an input requires
grad); a tracer pushes itself to turn binds into graph nodes instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..autograd.graph import record as _record
from ..autograd.mode import _state as _grad_state
from ..dtypes import FLOAT, DType
from ..errors import DeviceError, LucidError
from ..tensor import Tensor  # tensor.py imports the ops package only after defining Tensor


class ShapedArray:
    """An abstract value: the shape and dtype of an array, without data."""

    __slots__ = ("dtype", "shape")

    def __init__(self, shape: tuple[int, ...], dtype: DType) -> None:
        self.shape = tuple(shape)
        self.dtype = dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ShapedArray)
            and self.shape == other.shape
            and self.dtype is other.dtype
        )

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype))

    def __repr__(self) -> str:
        return f"{_SHORT.get(self.dtype.name, self.dtype.name)}[{','.join(map(str, self.shape))}]"


_SHORT = {
    "float16": "f16", "float32": "f32", "float64": "f64", "int8": "i8", "int16": "i16",
    "int32": "i32", "int64": "i64", "uint8": "u8", "bool": "bool",
}


@dataclass(frozen=True)
class Elementwise:
    """Lowering of a scalar elementwise op.

    ``template`` is a Python expression over the scalar inputs ``a``, ``b``, ``c`` (in order),
    using ``np.<ufunc>`` for math functions and ``T(...)`` to type a literal as the output dtype
    (a bare float literal would promote float32 to float64 inside Numba).
    """

    template: str


@dataclass(frozen=True)
class Kernel:
    """Lowering by a hand-written coarse kernel named ``name`` (matmul, reductions, ...)."""

    name: str


class AbstractValue(Protocol):
    shape: tuple[int, ...]
    dtype: DType


VJPRule = Callable[..., Any]


class Primitive:
    """One operation, with its shape rule, NumPy implementation, VJP rule and lowering."""

    __slots__ = ("doc", "impl", "lowering", "name", "saves_output", "shape_rule", "view", "vjp")

    def __init__(
        self,
        name: str,
        *,
        shape_rule: Callable[..., ShapedArray],
        impl: Callable[..., np.ndarray],
        vjp: VJPRule | Sequence[VJPRule | None] | None,
        lowering: Elementwise | Kernel | None = None,
        view: bool = False,
        saves_output: bool = False,
        doc: str = "",
    ) -> None:
        self.name = name
        self.shape_rule = shape_rule
        self.impl = impl
        self.vjp = tuple(vjp) if isinstance(vjp, (tuple, list)) else vjp
        self.lowering = lowering
        self.view = view  # impl may return a view of its first input (reshape, transpose, ...)
        self.saves_output = saves_output
        self.doc = doc

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def bind(self, *args: Any, **params: Any) -> Any:
        """Apply the primitive to tensors ``args`` with static ``params``."""
        stack = _interp.stack
        if stack:
            # The interpreter handles the bind with itself popped, so binds its rule makes
            # (a batching rule, say) go to the interpreter below it: transforms compose.
            interp = stack.pop()
            try:
                return interp.process(self, args, params)
            finally:
                stack.append(interp)
        return _eager_bind(self, args, params)

    def vjp_rules(self, n_inputs: int) -> Callable[..., list[Any]]:
        """A function ``(g, out, inputs, needs, params) -> list of cotangents``."""
        rule = self.vjp
        if rule is None:
            raise LucidError(f"primitive {self.name} is not differentiable")
        if callable(rule):

            def apply_all(g: Any, out: Any, inputs: Sequence[Any], needs: Sequence[bool],
                          params: dict) -> list[Any]:
                cts = rule(g, out, *inputs, **params)
                return [c if n else None for c, n in zip(cts, needs)]

            return apply_all

        def apply_each(g: Any, out: Any, inputs: Sequence[Any], needs: Sequence[bool],
                       params: dict) -> list[Any]:
            return [
                r(g, out, *inputs, **params) if (n and r is not None) else None
                for r, n in zip(rule, needs)
            ]

        return apply_each


PRIMITIVES: dict[str, Primitive] = {}


def primitive(name: str, **kwargs: Any) -> Primitive:
    """Create and register a primitive; each name is registered exactly once."""
    if name in PRIMITIVES:
        raise LucidError(f"primitive {name!r} is already registered")
    p = Primitive(name, **kwargs)
    PRIMITIVES[name] = p
    return p


class _InterpreterStack(threading.local):
    def __init__(self) -> None:
        self.stack: list[Any] = []


_interp = _InterpreterStack()


def push_interpreter(interp: Any) -> None:
    """Make ``interp`` (an object with ``process(prim, args, params)``) handle binds."""
    _interp.stack.append(interp)


def pop_interpreter(interp: Any) -> None:
    """Undo the matching :func:`push_interpreter`."""
    top = _interp.stack.pop()
    assert top is interp, "interpreter stack out of order"


def current_interpreter() -> Any:
    """The interpreter handling binds now, or ``None`` for eager execution."""
    return _interp.stack[-1] if _interp.stack else None


# --------------------------------------------------------------------------- eager execution


def _eager_bind(prim: Primitive, args: Sequence[Any], params: dict) -> Any:
    # This runs for every op of eager code, so it is written for speed: attribute reads are
    # hoisted, and the common case (one device object, a fresh ndarray of the declared dtype)
    # costs a few identity tests.
    if args:
        device = args[0]._device
        for a in args:
            if a._device is not device and a._device != device:
                raise DeviceError(
                    f"{prim.name}: expected all tensors on one device, found {device} and "
                    f"{a._device}; move them with .to(device) first"
                )
    else:
        device = None
    aval = prim.shape_rule(*args, **params)
    arrays = [a._data for a in args]
    try:
        data = prim.impl(*arrays, **params)
    except Exception:
        for arr in arrays:
            if type(arr) is not np.ndarray:  # a tracer outside its trace
                raise arr.concrete_error(f"{prim.name}") from None
        raise
    dtype = aval.dtype
    if type(data) is not np.ndarray or (data.dtype is not dtype.np and data.dtype != dtype.np):
        data = np.asarray(data, dtype=dtype.np)
    if data.shape != aval.shape:
        raise LucidError(
            f"internal error: {prim.name} produced shape {data.shape} but its shape rule "
            f"says {aval.shape}; please report this"
        )
    if prim.view:
        out = _make(data, device)
        if args and np.may_share_memory(data, arrays[0]):
            # A view shares its base's storage, so it must share the version counter too:
            # an in-place write through either must invalidate tensors saved for backward.
            src = args[0]
            out._vc = src._vc
            out._base = src._base if src._base is not None else src
    else:
        for arr in arrays:
            if data is arr:  # an impl handed back its input: never alias a non-view output
                data = data.copy()
                break
        out = _make(data, device)
    if _grad_state.grad_enabled and prim.vjp is not None and dtype.category == FLOAT:
        for a in args:
            if a._requires_grad:
                _record(prim, args, params, out)
                break
    return out


_make = Tensor._make


__all__ = [
    "ShapedArray",
    "Elementwise",
    "Kernel",
    "Primitive",
    "PRIMITIVES",
    "primitive",
    "push_interpreter",
    "pop_interpreter",
    "current_interpreter",
]
