"""Elementwise binary (and ternary) primitives with NumPy broadcasting and PyTorch promotion.

The primitives take operands of one shape and dtype; the public functions promote Python
scalars and mixed dtypes (``float32_tensor * 2`` stays float32) and broadcast with explicit
``broadcast_to`` nodes first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import creation as _creation
from .. import dtypes as _dt
from ..autograd.mode import no_grad
from ..errors import DTypeError
from ..tensor import Tensor
from . import unary as _unary  # resolved at call time (the families use each other)
from .convert import cast
from .promotion import as_tensor, broadcast_all, elementwise_args, promote
from .registry import Elementwise, Primitive, ShapedArray, primitive
from .rules import elementwise, quiet, where_rule


def _binary(name: str, impl: Callable[..., np.ndarray], vjp: Any, template: str, *,
            out_dtype: _dt.DType | None = None, floating: bool = False,
            saves_output: bool = False, allow_bool: bool = True, doc: str = "") -> Primitive:
    return primitive(
        name,
        shape_rule=elementwise(name, out_dtype=out_dtype, floating=floating,
                               allow_bool=allow_bool),
        impl=impl,
        vjp=vjp,
        lowering=Elementwise(template),
        saves_output=saves_output,
        doc=doc,
    )


def _zeros(g: Tensor, *unused: Any) -> Tensor:
    return _creation.zeros_like(g)


# ---------------------------------------------------------------- arithmetic


def _int_divisor(f: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``f`` raising ZeroDivisionError for an integer divisor of 0, as PyTorch does (NumPy
    would quietly return 0)."""

    @functools.wraps(f)
    def impl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if y.dtype.kind in "iu" and not y.all():
            raise ZeroDivisionError(f"{f.__name__}: integer division by zero")
        return f(x, y)

    return impl


def _pow_impl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "i" and (y < 0).any():
        # NumPy refuses integers to negative powers; PyTorch gives the truncated result:
        # 1 for base 1, +-1 for base -1, and 0 otherwise.
        neg = y < 0
        out = np.power(x, np.where(neg, 0, y))
        small = np.where(x == 1, 1, np.where(x == -1, np.where(y % 2 == 0, 1, -1), 0))
        return np.where(neg, small.astype(x.dtype), out)
    return np.power(x, y)


def _pow_vjp_base(g: Tensor, out: Any, x: Tensor, y: Tensor) -> Tensor:
    # d/dx x**y = y * x**(y-1); PyTorch defines it as 0 where y == 0 (also at x == 0).
    return where(y == 0, 0.0, g * y * pow_p.bind(x, y - 1))


def _pow_vjp_exp(g: Tensor, out: Tensor, x: Tensor, y: Tensor) -> Tensor:
    # d/dy x**y = x**y * log(x); PyTorch defines it as 0 where x == 0 and y >= 0.
    return where((x == 0) & (y >= 0), 0.0, g * out * _unary.log(x))


def _minmax_vjp(g: Tensor, x: Tensor, y: Tensor, loses: Tensor) -> Tensor:
    # Ties split the gradient in half, as PyTorch's maximum/minimum do; an input gets nothing
    # only where it strictly loses (so with a NaN, both inputs get the gradient, as in PyTorch).
    return where(x == y, g / 2, where(loses, 0.0, g))


add_p = _binary("add", quiet(np.add), (lambda g, out, x, y: g, lambda g, out, x, y: g),
                "a + b")
sub_p = _binary("sub", quiet(np.subtract), (lambda g, out, x, y: g, lambda g, out, x, y: -g),
                "a - b", allow_bool=False)
mul_p = _binary("mul", quiet(np.multiply),
                (lambda g, out, x, y: g * y, lambda g, out, x, y: g * x), "a * b")
div_p = _binary("div", quiet(np.true_divide),
                (lambda g, out, x, y: g / y, lambda g, out, x, y: -g * x / (y * y)), "a / b",
                floating=True, doc="True division of floating operands.")
pow_p = _binary("pow", quiet(_pow_impl), (_pow_vjp_base, _pow_vjp_exp), "a ** b",
                saves_output=True, allow_bool=False,
                doc="x ** y; integers to negative powers truncate towards zero, as in PyTorch.")
maximum_p = _binary(
    "maximum", np.maximum,
    (lambda g, out, x, y: _minmax_vjp(g, x, y, x < y),
     lambda g, out, x, y: _minmax_vjp(g, y, x, y < x)),
    "np.maximum(a, b)",
)
minimum_p = _binary(
    "minimum", np.minimum,
    (lambda g, out, x, y: _minmax_vjp(g, x, y, x > y),
     lambda g, out, x, y: _minmax_vjp(g, y, x, y > x)),
    "np.minimum(a, b)",
)
fmod_p = _binary(
    "fmod", quiet(_int_divisor(np.fmod)),
    (lambda g, out, x, y: g, lambda g, out, x, y: -g * _unary.trunc(x / y)), "np.fmod(a, b)",
    allow_bool=False, doc="C remainder: the result has the sign of x.",
)
remainder_p = _binary(
    "remainder", quiet(_int_divisor(np.remainder)),
    (lambda g, out, x, y: g, lambda g, out, x, y: -g * _unary.floor(x / y)),
    "np.remainder(a, b)", allow_bool=False, doc="Python remainder: the result has the sign of y.",
)
# Floor division is piecewise constant: a zero gradient (its outputs require grad, like floor).
floor_divide_p = _binary("floor_divide", quiet(_int_divisor(np.floor_divide)), (_zeros, _zeros),
                         "a // b", allow_bool=False, doc="Division rounded down (Python's //).")


def _scaled(x: Any, y: Any, alpha: Any, op: str) -> Any:
    """``alpha * y`` for ``add``/``sub``; a Python scalar ``y`` stays a (weak) Python scalar."""
    if isinstance(alpha, (float, np.floating)) and not promote(x, y)[0].dtype.is_floating_point:
        raise DTypeError(f"{op}: for integral input tensors, argument alpha must not be a "
                         f"floating point number (got alpha={alpha})")
    if isinstance(y, (bool, int, float, np.number)):
        return y * alpha
    return mul(y, alpha)


def add(x: Any, y: Any, *, alpha: Any = 1) -> Tensor:
    """``x + alpha * y``."""
    if alpha != 1:
        y = _scaled(x, y, alpha, "add")
    return add_p.bind(*elementwise_args(x, y, op="add"))


def _is_bool(v: Any) -> bool:
    if isinstance(v, Tensor):
        return v.dtype is _dt.bool_
    return isinstance(v, (bool, np.bool_)) or (isinstance(v, np.ndarray) and v.dtype == np.bool_)


def sub(x: Any, y: Any, *, alpha: Any = 1) -> Tensor:
    """``x - alpha * y`` (no operand may be bool, as in PyTorch)."""
    if _is_bool(x) or _is_bool(y):
        raise DTypeError("sub: subtraction (the - operator) with a bool tensor is not supported; "
                         "to invert a mask use ~ or lucid.logical_not")
    if alpha != 1:
        y = _scaled(x, y, alpha, "sub")
    return sub_p.bind(*elementwise_args(x, y, op="sub"))


subtract = sub


def mul(x: Any, y: Any) -> Tensor:
    """``x * y``."""
    return mul_p.bind(*elementwise_args(x, y, op="mul"))


multiply = mul


def div(x: Any, y: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``x / y``: true division (integers give the default float dtype), or rounded with
    ``rounding_mode`` ``"trunc"`` (towards zero) or ``"floor"`` (down, like ``//``); rounded
    division keeps integer dtypes and has a zero gradient."""
    if rounding_mode is None:
        a, b = elementwise_args(x, y, op="div")
        if not a.dtype.is_floating_point:
            f = _dt.get_default_dtype()
            a, b = cast(a, f), cast(b, f)
        return div_p.bind(a, b)
    if rounding_mode == "floor":
        return floor_divide(x, y)
    if rounding_mode == "trunc":
        a, b = elementwise_args(x, y, op="div")
        if a.dtype.is_floating_point:
            return _unary.trunc(div_p.bind(a, b))
        q = floor_divide(a, b)
        # Floor and truncation differ where the quotient is negative and inexact.
        return where(logical_and(lt(q, 0), ne(mul(q, b), a)), add(q, 1), q)
    raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")


divide = div
true_divide = div


def floor_divide(x: Any, y: Any) -> Tensor:
    """``x // y``, rounded down like Python (also for floats: ``1.0 // 0.1 == 9.0``)."""
    return floor_divide_p.bind(*elementwise_args(x, y, op="floor_divide"))


def pow(x: Any, y: Any) -> Tensor:
    """``x ** y`` (``bool_tensor ** 2`` is int64; bool to a bool power is an error)."""
    a, b = elementwise_args(x, y, op="pow")
    if not a.dtype.is_floating_point and isinstance(y, (int, np.integer)) and y < 0:
        raise DTypeError("pow: integers to negative integer powers are not allowed; use a "
                         "floating base")
    if a.dtype is _dt.bool_:
        raise DTypeError("pow: not defined for bool operands; cast them to an integer dtype")
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

    compare.__name__ = compare.__qualname__ = p.name
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

    logical.__name__ = logical.__qualname__ = p.name
    logical.__doc__ = (f"Elementwise ``{p.lowering.template}`` of truth values "  # type: ignore
                       f"(a bool tensor).")
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

    bitwise.__name__ = bitwise.__qualname__ = p.name
    bitwise.__doc__ = f"Elementwise ``{p.lowering.template}`` of integers or bools."  # type: ignore
    return bitwise


bitwise_and = _bitwise(bitwise_and_p, logical_and)
bitwise_or = _bitwise(bitwise_or_p, logical_or)
bitwise_xor = _bitwise(bitwise_xor_p, logical_xor)


def equal(x: Any, y: Any) -> bool:
    """True when ``x`` and ``y`` have one shape and equal elements (NaN is never equal)."""
    x, y = as_tensor(x), as_tensor(y)
    return tuple(x.shape) == tuple(y.shape) and bool(np.all(eq(x, y)._data))


def isclose(x: Any, y: Any, rtol: float = 1e-5, atol: float = 1e-8,
            equal_nan: bool = False) -> Tensor:
    """Where ``x == y`` or ``|x - y| <= atol + rtol * |y|`` with a finite difference
    (a bool tensor; NaNs match each other only with ``equal_nan``). As in PyTorch."""
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")
    a, b = elementwise_args(x, y, op="isclose")
    with no_grad():  # a bool result: no need to record the arithmetic
        close = eq(a, b)  # also equal infinities
        if equal_nan and a.dtype.is_floating_point:
            close = logical_or(close, logical_and(_unary.isnan(a), _unary.isnan(b)))
        if rtol == 0 and atol == 0:
            return close
        if a.dtype is _dt.bool_:
            f = _dt.get_default_dtype()
            a, b = cast(a, f), cast(b, f)
        err = _unary.abs(sub(a, b))
        within = logical_and(_unary.isfinite(err), le(err, add(_unary.abs(mul(b, rtol)), atol)))
        return logical_or(close, within)


def allclose(x: Any, y: Any, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> bool:
    """Whether every element of ``x`` is close to ``y`` (see :func:`isclose`)."""
    return bool(np.all(isclose(x, y, rtol, atol, equal_nan)._data))


# ---------------------------------------------------------------- where and clamp


def _select() -> Any:
    # The Numba kernel module is imported on first use, so `import lucid` does not load Numba.
    from ..kernels.cpu import select

    return select


where_p = primitive(
    "where",
    shape_rule=where_rule,
    impl=lambda c, x, y: _select().where(c, x, y),
    vjp=(None, lambda g, out, c, x, y: where_p.bind(c, g, _zeros(g)),
         lambda g, out, c, x, y: where_p.bind(c, _zeros(g), g)),
    lowering=Elementwise("b if a else c"),
    doc="Select from x where the condition holds, else from y.",
)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """Elements of ``x`` where ``condition`` holds, else of ``y`` (all broadcast together;
    ``x`` and ``y`` promoted to one dtype, Python scalars weakly)."""
    c = as_tensor(condition)
    if c.dtype is not _dt.bool_:
        c = cast(c, _dt.bool_)
    a, b = promote(x, y)
    return where_p.bind(*broadcast_all(c, a, b, op="where", sources=(condition, x, y)))


_clip_rule = elementwise("clip", allow_bool=False)


def _clip_shape_rule(x: Any, *, lo: Any, hi: Any) -> ShapedArray:
    return _clip_rule(x)


def _clip_vjp(g: Tensor, out: Any, x: Tensor, *, lo: Any, hi: Any) -> Tensor:
    # PyTorch passes the gradient where lo <= x <= hi (boundaries included; NaN gets none).
    # Infinite bounds stand for a missing side and need no test.
    if lo == -np.inf:
        inside = le(x, hi)
    elif hi == np.inf:
        inside = ge(x, lo)
    else:
        inside = logical_and(ge(x, lo), le(x, hi))
    return where(inside, g, 0.0)


clip_p = primitive(
    "clip",
    shape_rule=_clip_shape_rule,
    impl=lambda x, *, lo, hi: np.minimum(np.maximum(x, lo), hi),
    vjp=(_clip_vjp,),
    lowering=Elementwise("min(max(a, LO), HI)"),
    doc="min(max(x, lo), hi) with number bounds of x's kind (a missing side is the dtype's "
        "extreme: +-inf, or the integer limits); the gradient flows where lo <= x <= hi.",
)


def _clip_bounds(dtype: _dt.DType, lo: Any, hi: Any) -> tuple[Any, Any]:
    """Number bounds as hashable Python numbers of ``dtype``'s kind, missing ones filled in."""
    if dtype.is_floating_point:
        return (-np.inf if lo is None else float(lo), np.inf if hi is None else float(hi))
    info = np.iinfo(dtype.np)

    def fit(v: Any, default: int) -> int:
        return default if v is None else min(max(int(v), int(info.min)), int(info.max))

    return fit(lo, int(info.min)), fit(hi, int(info.max))


def clamp(x: Any, min: Any = None, max: Any = None) -> Tensor:
    """Clamp ``x`` into ``[min, max]`` (``min(max(x, min), max)``); bounds are numbers or
    tensors, either may be None. The gradient reaches ``x`` where ``min <= x <= max``."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    x = as_tensor(x)
    if isinstance(min, (Tensor, np.ndarray)) or isinstance(max, (Tensor, np.ndarray)):
        # Tensor bounds: where() sends the gradient to x inside the range (boundaries included)
        # and to the bound that wins outside it, as PyTorch does.
        out = x
        if min is not None:
            out, lo = promote(out, min)
            out = where(lt(out, lo), lo, out)
        if max is not None:
            out, hi = promote(out, max)
            out = where(gt(out, hi), hi, out)
        return out
    dtype = _dt.result_type(x, *(b for b in (min, max) if b is not None))
    lo, hi = _clip_bounds(dtype, min, max)
    return clip_p.bind(cast(x, dtype), lo=lo, hi=hi)


clip = clamp

__all__ = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
    "floor_divide", "pow", "maximum", "minimum", "fmod", "remainder", "eq", "ne", "lt", "le",
    "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal", "logical_and",
    "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "equal",
    "isclose", "allclose", "where", "clamp", "clip",
]
