"""Elementwise binary (and ternary) primitives with NumPy broadcasting and PyTorch promotion.

The primitives take operands of one shape and dtype; the public functions promote Python
scalars and mixed dtypes (``float32_tensor * 2`` stays float32) and broadcast with explicit
``broadcast_to`` nodes first.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from .. import creation as _creation
from .. import dtypes as _dt
from ..errors import DTypeError
from ..tensor import Tensor
from .convert import cast
from .promotion import as_tensor, elementwise_args, promote
from .registry import Elementwise, Primitive, ShapedArray, primitive
from .rules import elementwise, where_rule

from . import unary as _unary  # noqa: I001 - resolved at call time (the families use each other)


def _quiet(f: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Run a NumPy impl without floating-point warnings (PyTorch returns inf/nan silently)."""

    @functools.wraps(f)
    def impl(*args: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return f(*args)

    return impl


def _binary(name: str, impl: Callable[..., np.ndarray], vjp: Any, template: str, *,
            out_dtype: _dt.DType | None = None, floating: bool = False,
            saves_output: bool = False, allow_bool: bool = True) -> Primitive:
    return primitive(
        name,
        shape_rule=elementwise(name, out_dtype=out_dtype, floating=floating,
                               allow_bool=allow_bool),
        impl=impl,
        vjp=vjp,
        lowering=Elementwise(template),
        saves_output=saves_output,
    )


def _zeros(g: Tensor) -> Tensor:
    return _creation.zeros_like(g)


# ---------------------------------------------------------------- arithmetic


def _pow_vjp_base(g: Tensor, out: Any, x: Tensor, y: Tensor) -> Tensor:
    # d/dx x**y = y * x**(y-1); PyTorch defines it as 0 where y == 0 (also at x == 0).
    return where(y == 0, 0.0, g * y * pow_p.bind(x, y - 1))


def _pow_vjp_exp(g: Tensor, out: Tensor, x: Tensor, y: Tensor) -> Tensor:
    # d/dy x**y = x**y * log(x); PyTorch defines it as 0 where x == 0 and y >= 0.
    return where((x == 0) & (y >= 0), 0.0, g * out * _unary.log(x))


def _max_vjp(g: Tensor, x: Tensor, y: Tensor, pick_x: Tensor) -> Tensor:
    # Ties split the gradient in half, as PyTorch's maximum/minimum do.
    return where(x == y, g / 2, where(pick_x, g, 0.0))


add_p = _binary("add", np.add, (lambda g, out, x, y: g, lambda g, out, x, y: g), "a + b")
sub_p = _binary("sub", np.subtract, (lambda g, out, x, y: g, lambda g, out, x, y: -g), "a - b",
                allow_bool=False)
mul_p = _binary("mul", np.multiply, (lambda g, out, x, y: g * y, lambda g, out, x, y: g * x),
                "a * b")
div_p = _binary("div", _quiet(np.true_divide),
                (lambda g, out, x, y: g / y, lambda g, out, x, y: -g * x / (y * y)), "a / b",
                floating=True)
pow_p = _binary("pow", _quiet(np.power), (_pow_vjp_base, _pow_vjp_exp), "a ** b",
                saves_output=True, allow_bool=False)
maximum_p = _binary(
    "maximum", np.maximum,
    (lambda g, out, x, y: _max_vjp(g, x, y, x > y), lambda g, out, x, y: _max_vjp(g, y, x, y > x)),
    "np.maximum(a, b)",
)
minimum_p = _binary(
    "minimum", np.minimum,
    (lambda g, out, x, y: _max_vjp(g, x, y, x < y), lambda g, out, x, y: _max_vjp(g, y, x, y < x)),
    "np.minimum(a, b)",
)
fmod_p = _binary(
    "fmod", _quiet(np.fmod),
    (lambda g, out, x, y: g, lambda g, out, x, y: -g * _unary.trunc(x / y)), "np.fmod(a, b)",
    allow_bool=False,
)
remainder_p = _binary(
    "remainder", _quiet(np.remainder),
    (lambda g, out, x, y: g, lambda g, out, x, y: -g * _unary.floor(x / y)),
    "np.remainder(a, b)", allow_bool=False,
)
floor_divide_p = _binary("floor_divide", _quiet(np.floor_divide), None, "a // b",
                         allow_bool=False)


def add(x: Any, y: Any, *, alpha: Any = 1) -> Tensor:
    """``x + alpha * y``."""
    if alpha != 1:
        y = mul(y, alpha)
    return add_p.bind(*elementwise_args(x, y, op="add"))


def sub(x: Any, y: Any, *, alpha: Any = 1) -> Tensor:
    """``x - alpha * y``."""
    if alpha != 1:
        y = mul(y, alpha)
    a, b = elementwise_args(x, y, op="sub")
    if a.dtype is _dt.bool_:
        raise DTypeError("sub: subtracting bool tensors is not supported; use logical_xor")
    return sub_p.bind(a, b)


subtract = sub


def mul(x: Any, y: Any) -> Tensor:
    """``x * y``."""
    return mul_p.bind(*elementwise_args(x, y, op="mul"))


multiply = mul


def div(x: Any, y: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``x / y``: true division (integers give floats), or rounded with ``rounding_mode``
    ``"trunc"`` (towards zero) or ``"floor"``."""
    a, b = elementwise_args(x, y, op="div")
    if rounding_mode is None:
        if not a.dtype.is_floating_point:
            f = _dt.get_default_dtype()
            a, b = cast(a, f), cast(b, f)
        return div_p.bind(a, b)
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        if a.dtype.is_floating_point:
            return _unary.trunc(div_p.bind(a, b))
        q = floor_divide_p.bind(a, b)
        # Floor and truncation differ when the quotient is negative and inexact.
        fix = logical_and(lt(q, 0), ne(mul(q, b), a))
        return add(q, cast(fix, a.dtype))
    raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")


divide = div
true_divide = div


def floor_divide(x: Any, y: Any) -> Tensor:
    """``x // y`` (rounds down, like Python)."""
    a, b = elementwise_args(x, y, op="floor_divide")
    if a.dtype.is_floating_point:
        return _unary.floor(div_p.bind(a, b))
    return floor_divide_p.bind(a, b)


def pow(x: Any, y: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    """``x ** y``."""
    a, b = elementwise_args(x, y, op="pow")
    if not a.dtype.is_floating_point and isinstance(y, (int, np.integer)) and y < 0:
        raise DTypeError("pow: integers to negative integer powers are not allowed")
    if a.dtype is _dt.bool_:
        a, b = cast(a, _dt.int64), cast(b, _dt.int64)
    return pow_p.bind(a, b)


def maximum(x: Any, y: Any) -> Tensor:
    """Elementwise maximum (NaN propagates; ties share the gradient)."""
    return maximum_p.bind(*elementwise_args(x, y, op="maximum"))


def minimum(x: Any, y: Any) -> Tensor:
    """Elementwise minimum (NaN propagates; ties share the gradient)."""
    return minimum_p.bind(*elementwise_args(x, y, op="minimum"))


def fmod(x: Any, y: Any) -> Tensor:
    """C-style remainder: the result has the sign of ``x``."""
    return fmod_p.bind(*elementwise_args(x, y, op="fmod"))


def remainder(x: Any, y: Any) -> Tensor:
    """Python-style remainder ``x % y``: the result has the sign of ``y``."""
    return remainder_p.bind(*elementwise_args(x, y, op="remainder"))


# ---------------------------------------------------------------- comparisons and logic

eq_p = _binary("eq", np.equal, None, "a == b", out_dtype=_dt.bool_)
ne_p = _binary("ne", np.not_equal, None, "a != b", out_dtype=_dt.bool_)
lt_p = _binary("lt", np.less, None, "a < b", out_dtype=_dt.bool_)
le_p = _binary("le", np.less_equal, None, "a <= b", out_dtype=_dt.bool_)
gt_p = _binary("gt", np.greater, None, "a > b", out_dtype=_dt.bool_)
ge_p = _binary("ge", np.greater_equal, None, "a >= b", out_dtype=_dt.bool_)
logical_and_p = _binary("logical_and", np.logical_and, None, "a and b", out_dtype=_dt.bool_)
logical_or_p = _binary("logical_or", np.logical_or, None, "a or b", out_dtype=_dt.bool_)
logical_xor_p = _binary("logical_xor", np.logical_xor, None, "a != b", out_dtype=_dt.bool_)
bitwise_and_p = _binary("bitwise_and", np.bitwise_and, None, "a & b")
bitwise_or_p = _binary("bitwise_or", np.bitwise_or, None, "a | b")
bitwise_xor_p = _binary("bitwise_xor", np.bitwise_xor, None, "a ^ b")


def _compare(p: Primitive) -> Callable[[Any, Any], Tensor]:
    def compare(x: Any, y: Any) -> Tensor:
        return p.bind(*elementwise_args(x, y, op=p.name))

    compare.__name__ = p.name
    compare.__doc__ = f"Elementwise ``{p.lowering.template}`` as a bool tensor."  # type: ignore
    return compare


eq = _compare(eq_p)
ne = _compare(ne_p)
lt = _compare(lt_p)
le = _compare(le_p)
gt = _compare(gt_p)
ge = _compare(ge_p)
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _logical(p: Primitive) -> Callable[[Any, Any], Tensor]:
    def logical(x: Any, y: Any) -> Tensor:
        return p.bind(*elementwise_args(x, y, op=p.name, dtype=_dt.bool_))

    logical.__name__ = p.name
    logical.__doc__ = f"Elementwise ``{p.lowering.template}`` of truth values (a bool tensor)."  # type: ignore
    return logical


logical_and = _logical(logical_and_p)
logical_or = _logical(logical_or_p)
logical_xor = _logical(logical_xor_p)


def _bitwise(p: Primitive, logical_op: Callable[[Any, Any], Tensor]) -> Callable[..., Tensor]:
    def bitwise(x: Any, y: Any) -> Tensor:
        a, b = elementwise_args(x, y, op=p.name)
        if a.dtype is _dt.bool_:
            return logical_op(a, b)
        if a.dtype.is_floating_point:
            raise DTypeError(f"{p.name} is only defined for integer and bool tensors, "
                             f"got {a.dtype}")
        return p.bind(a, b)

    bitwise.__name__ = p.name
    bitwise.__doc__ = f"Elementwise ``{p.lowering.template}`` of integers or bools."  # type: ignore
    return bitwise


bitwise_and = _bitwise(bitwise_and_p, logical_and)
bitwise_or = _bitwise(bitwise_or_p, logical_or)
bitwise_xor = _bitwise(bitwise_xor_p, logical_xor)


def equal(x: Tensor, y: Tensor) -> bool:
    """True when ``x`` and ``y`` have one shape and equal elements."""
    return tuple(x.shape) == tuple(y.shape) and bool(eq(x, y).all())


def isclose(x: Any, y: Any, rtol: float = 1e-5, atol: float = 1e-8,
            equal_nan: bool = False) -> Tensor:
    """Where ``|x - y| <= atol + rtol * |y|`` (a bool tensor)."""
    a, b = elementwise_args(x, y, op="isclose")
    with _no_grad():
        close = le(_unary.abs(sub(a, b)), add(mul(_unary.abs(b), rtol), atol))
        close = logical_or(close, eq(a, b))  # equal infinities
        if equal_nan:
            close = logical_or(close, logical_and(_unary.isnan(a), _unary.isnan(b)))
    return close


def allclose(x: Any, y: Any, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> bool:
    """Whether every element of ``x`` is close to ``y`` (see :func:`isclose`)."""
    return bool(isclose(x, y, rtol, atol, equal_nan).all())


def _no_grad() -> Any:
    from ..autograd.mode import no_grad  # noqa: PLC0415

    return no_grad()


# ---------------------------------------------------------------- where and clamp

where_p = primitive(
    "where",
    shape_rule=where_rule,
    impl=np.where,
    vjp=(None, lambda g, out, c, x, y: where_p.bind(c, g, _zeros(g)),
         lambda g, out, c, x, y: where_p.bind(c, _zeros(g), g)),
    lowering=Elementwise("b if a else c"),
    doc="Select from x where the condition holds, else from y.",
)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """Elements of ``x`` where ``condition`` holds, else of ``y`` (all broadcast together)."""
    c = as_tensor(condition)
    if c.dtype is not _dt.bool_:
        c = cast(c, _dt.bool_)
    a, b = promote(x, y)
    c, a, b = _broadcast3(c, a, b)
    return where_p.bind(c, a, b)


def _broadcast3(c: Tensor, a: Tensor, b: Tensor) -> list[Tensor]:
    from .promotion import broadcast_all  # noqa: PLC0415

    return broadcast_all(c, a, b, op="where")


def _clip_rule(x: Any, *, lo: Any, hi: Any) -> ShapedArray:
    return elementwise("clip", allow_bool=False)(x)


clip_p = primitive(
    "clip",
    shape_rule=_clip_rule,
    impl=lambda x, *, lo, hi: np.clip(x, lo, hi),
    vjp=(lambda g, out, x, *, lo, hi: where(_in_range(x, lo, hi), g, 0.0),),
    lowering=Elementwise("min(max(a, LO), HI)"),
    doc="Clamp into [lo, hi] (either may be None); the gradient flows where lo <= x <= hi.",
)


def _in_range(x: Tensor, lo: Any, hi: Any) -> Tensor:
    if lo is None:
        return le(x, hi)
    if hi is None:
        return ge(x, lo)
    return logical_and(ge(x, lo), le(x, hi))


def clamp(x: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Clamp ``x`` into ``[min, max]``; bounds are numbers or tensors (either may be None)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    x = as_tensor(x)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        # Tensor bounds: the gradient goes to x inside the range and to a bound where it wins.
        out = x
        if min is not None:
            out, lo = promote(out, min)
            out = where(lt(out, lo), lo, out)
        if max is not None:
            out, hi = promote(out, max)
            out = where(gt(out, hi), hi, out)
        return out
    dtype = _dt.result_type(x, *(b for b in (min, max) if b is not None))
    x = cast(x, dtype)
    return clip_p.bind(x, lo=min, hi=max)


clip = clamp

__all__ = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
    "floor_divide", "pow", "maximum", "minimum", "fmod", "remainder", "eq", "ne", "lt", "le",
    "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal", "logical_and",
    "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "equal",
    "isclose", "allclose", "where", "clamp", "clip",
]
