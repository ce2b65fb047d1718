"""Elementwise unary primitives: neg, abs, exp, log, tanh, sigmoid, relu, erf, floor, ...

Functions that are only defined on real numbers (exp, log, sin, ...) cast integer and bool
inputs to the default float dtype first, as PyTorch does (``lucid.exp(int_tensor)`` is float32).
Rounding functions (floor, ceil, round, trunc) return a copy of integer inputs and have a zero
gradient; their outputs still require grad, as in PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import creation as _creation
from .. import dtypes as _dt
from ..errors import DTypeError
from ..tensor import Tensor

# Sibling modules are referenced through their module objects (resolved at call time) because
# the op families use each other in their VJP rules.
from . import binary as _binary
from . import promotion as _promotion
from .convert import cast, copy
from .promotion import as_tensor
from .registry import Elementwise, Primitive, ShapedArray, primitive
from .rules import elementwise, quiet

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)



def _special() -> Any:
    """scipy.special, imported on first use: it takes ~0.35 s, a third of ``import lucid``.

    Importing it loads SciPy's OpenBLAS, which lucid wants loaded with the right kernels
    first (see lucid/kernels/cpu/blas.py).
    """
    from ..kernels.cpu.blas import scipy_blas

    scipy_blas()
    from scipy import special

    return special


def _zeros_vjp(g: Tensor, out: Any, x: Tensor, **params: Any) -> Tensor:
    """Piecewise-constant functions (floor, sign, ...) have a zero derivative, as in PyTorch."""
    return _creation.zeros_like(g)


def _unary(name: str, impl: Callable[..., np.ndarray], vjp: Callable[..., Any] | None,
           template: str, *, floating: bool = False, saves_output: bool = False,
           out_dtype: _dt.DType | None = None, allow_bool: bool = True, doc: str = "") -> Primitive:
    return primitive(
        name,
        shape_rule=elementwise(name, floating=floating, out_dtype=out_dtype,
                               allow_bool=allow_bool),
        impl=impl,
        vjp=None if vjp is None else (vjp,),
        lowering=Elementwise(template),
        saves_output=saves_output,
        doc=doc,
    )


def _sign_impl(x: np.ndarray) -> np.ndarray:
    s = np.sign(x)
    if x.dtype.kind == "f":
        s = np.where(np.isnan(s), 0, s)  # PyTorch: sign(nan) == 0
    return s


neg_p = _unary("neg", np.negative, lambda g, out, x: -g, "-a", allow_bool=False)
abs_p = _unary("abs", np.abs, lambda g, out, x: g * sign(x), "np.abs(a)", allow_bool=False,
               doc="|x|; the gradient at 0 is 0.")
sign_p = _unary("sign", _sign_impl, _zeros_vjp, "T(a > 0) - T(a < 0)", allow_bool=False,
                doc="-1, 0 or 1 (0 for NaN, as in PyTorch).")
exp_p = _unary("exp", quiet(np.exp), lambda g, out, x: g * out, "np.exp(a)", floating=True,
               saves_output=True)
log_p = _unary("log", quiet(np.log), lambda g, out, x: g / x, "np.log(a)", floating=True)
log1p_p = _unary("log1p", quiet(np.log1p), lambda g, out, x: g / (x + 1), "np.log1p(a)",
                 floating=True)
expm1_p = _unary("expm1", quiet(np.expm1), lambda g, out, x: g * (out + 1), "np.expm1(a)",
                 floating=True, saves_output=True)
sqrt_p = _unary("sqrt", quiet(np.sqrt), lambda g, out, x: g / (out * 2), "np.sqrt(a)",
                floating=True, saves_output=True)
rsqrt_p = _unary("rsqrt", quiet(lambda x: 1 / np.sqrt(x)),
                 lambda g, out, x: g * (out * out * out) * -0.5, "T(1) / np.sqrt(a)",
                 floating=True, saves_output=True)
square_p = _unary("square", quiet(np.square), lambda g, out, x: g * x * 2, "a * a",
                  allow_bool=False)
reciprocal_p = _unary("reciprocal", quiet(np.reciprocal), lambda g, out, x: -g * out * out,
                      "T(1) / a", floating=True, saves_output=True)
sin_p = _unary("sin", quiet(np.sin), lambda g, out, x: g * cos(x), "np.sin(a)", floating=True)
cos_p = _unary("cos", quiet(np.cos), lambda g, out, x: -g * sin(x), "np.cos(a)", floating=True)
tanh_p = _unary("tanh", np.tanh, lambda g, out, x: g * (1 - out * out), "np.tanh(a)",
                floating=True, saves_output=True)
sigmoid_p = _unary("sigmoid", lambda x: _special().expit(x), lambda g, out, x: g * out * (1 - out),
                   "T(1) / (T(1) + np.exp(-a))", floating=True, saves_output=True)
def _relu_vjp(g: Tensor, out: Any, x: Tensor) -> Tensor:
    """``where(x > 0, g, 0)``. Eagerly (no interpreter) the Python 0 becomes one stride-0
    constant of x's dtype, shared by the test and the select, and the two primitives are
    bound directly: what ``>`` and ``where`` bind after promoting and broadcasting the 0."""
    if type(x) is Tensor and type(g) is Tensor and g.dtype is x.dtype:
        zero = _promotion._scalar_like(0, x)  # None under an interpreter
        if zero is not None:
            return _binary.where_p.bind(_binary.gt_p.bind(x, zero), g, zero)
    return _binary.where(x > 0, g, 0)


_ZERO_ROWS: dict[Any, np.ndarray] = {}  # dtype -> read-only zeros, one row of _ROW elements
_ROW = 1024


def _relu_impl(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)``. NumPy runs ``maximum``'s SIMD loop only when both operands are
    contiguous, not with a scalar operand (~3x slower), so a contiguous floating ``x`` is
    compared, row by row, with a row of zeros: the same elementwise results (NaN and -0.0
    included), faster."""
    if x.dtype.kind == "f" and x.size >= 4 * _ROW and x.size % _ROW == 0 \
            and x.flags.c_contiguous:
        zeros = _ZERO_ROWS.get(x.dtype)
        if zeros is None:
            zeros = np.zeros(_ROW, x.dtype)
            zeros.flags.writeable = False
            _ZERO_ROWS[x.dtype] = zeros
        return np.maximum(x.reshape(-1, _ROW), zeros).reshape(x.shape)
    return np.maximum(x, 0)


relu_p = _unary("relu", _relu_impl, _relu_vjp,
                "np.maximum(a, T(0))", allow_bool=False, doc="max(x, 0); the gradient at 0 is 0.")
erf_p = _unary("erf", lambda x: _special().erf(x),
               lambda g, out, x: g * exp(-(x * x)) * _TWO_OVER_SQRT_PI, "math.erf(a)",
               floating=True)
floor_p = _unary("floor", np.floor, _zeros_vjp, "np.floor(a)", floating=True)
ceil_p = _unary("ceil", np.ceil, _zeros_vjp, "np.ceil(a)", floating=True)
trunc_p = _unary("trunc", np.trunc, _zeros_vjp, "np.trunc(a)", floating=True)
logical_not_p = _unary("logical_not", np.logical_not, None, "not a", out_dtype=_dt.bool_)
bitwise_not_p = _unary("bitwise_not", np.invert, None, "~a")
isnan_p = _unary("isnan", np.isnan, None, "np.isnan(a)", out_dtype=_dt.bool_)
isinf_p = _unary("isinf", np.isinf, None, "np.isinf(a)", out_dtype=_dt.bool_)
isfinite_p = _unary("isfinite", np.isfinite, None, "np.isfinite(a)", out_dtype=_dt.bool_)

_round_rule = elementwise("round", allow_bool=False)


def _round_shape_rule(x: Any, *, decimals: int) -> ShapedArray:
    return _round_rule(x)


round_p = primitive(
    "round",
    shape_rule=_round_shape_rule,
    impl=lambda x, *, decimals: np.round(x, decimals),
    vjp=(lambda g, out, x, *, decimals: _zeros_vjp(g, out, x),),
    lowering=Elementwise("np.round(a, DECIMALS)"),
    doc="Round half to even, to ``decimals`` places (``decimals`` may be negative).",
)


def _floating(x: Any) -> Tensor:
    x = as_tensor(x)
    return x if x.dtype.is_floating_point else cast(x, _dt.get_default_dtype())


def neg(x: Any) -> Tensor:
    """``-x``."""
    x = as_tensor(x)
    if x.dtype is _dt.bool_:
        raise DTypeError("neg: negation (the - operator) of a bool tensor is not supported; "
                         "use ~x or lucid.logical_not(x) to invert a mask")
    return neg_p.bind(x)


negative = neg


def abs(x: Any) -> Tensor:
    """``|x|`` (the gradient at 0 is 0)."""
    return abs_p.bind(as_tensor(x))


absolute = abs


def sign(x: Any) -> Tensor:
    """-1, 0 or 1 by the sign of ``x`` (0 for NaN); a copy of bool tensors. The gradient is 0."""
    x = as_tensor(x)
    return copy(x) if x.dtype is _dt.bool_ else sign_p.bind(x)


def exp(x: Any) -> Tensor:
    """``e ** x``."""
    return exp_p.bind(_floating(x))


def log(x: Any) -> Tensor:
    """Natural logarithm (``-inf`` at 0, NaN below)."""
    return log_p.bind(_floating(x))


def log1p(x: Any) -> Tensor:
    """``log(1 + x)``, accurate near 0."""
    return log1p_p.bind(_floating(x))


def expm1(x: Any) -> Tensor:
    """``exp(x) - 1``, accurate near 0."""
    return expm1_p.bind(_floating(x))


def sqrt(x: Any) -> Tensor:
    """Square root."""
    return sqrt_p.bind(_floating(x))


def rsqrt(x: Any) -> Tensor:
    """``1 / sqrt(x)``."""
    return rsqrt_p.bind(_floating(x))


def square(x: Any) -> Tensor:
    """``x * x`` (bool tensors give int64, as ``x ** 2`` does)."""
    x = as_tensor(x)
    return square_p.bind(cast(x, _dt.int64) if x.dtype is _dt.bool_ else x)


def reciprocal(x: Any) -> Tensor:
    """``1 / x``."""
    return reciprocal_p.bind(_floating(x))


def sin(x: Any) -> Tensor:
    """Sine."""
    return sin_p.bind(_floating(x))


def cos(x: Any) -> Tensor:
    """Cosine."""
    return cos_p.bind(_floating(x))


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent."""
    return tanh_p.bind(_floating(x))


def sigmoid(x: Any) -> Tensor:
    """``1 / (1 + exp(-x))``, computed without overflow."""
    return sigmoid_p.bind(_floating(x))


def relu(x: Any) -> Tensor:
    """``max(x, 0)`` (the gradient at 0 is 0)."""
    return relu_p.bind(as_tensor(x))


def erf(x: Any) -> Tensor:
    """The error function."""
    return erf_p.bind(_floating(x))


def _rounding(p: Primitive, x: Any) -> Tensor:
    x = as_tensor(x)
    if x.dtype.is_floating_point:
        return p.bind(x)
    if x.dtype is _dt.bool_:
        raise DTypeError(f"{p.name}: not defined for bool tensors (as in PyTorch)")
    return copy(x)  # integers are already rounded; a copy, as PyTorch returns


def floor(x: Any) -> Tensor:
    """Round down (a copy of integer inputs); the gradient is zero."""
    return _rounding(floor_p, x)


def ceil(x: Any) -> Tensor:
    """Round up (a copy of integer inputs); the gradient is zero."""
    return _rounding(ceil_p, x)


def round(x: Any, decimals: int = 0) -> Tensor:
    """Round half to even, to ``decimals`` places; the gradient is zero.

    Integer inputs are copied unchanged for ``decimals >= 0`` and rounded to tens, hundreds...
    (half to even) for negative ``decimals``."""
    x = as_tensor(x)
    decimals = int(decimals)
    if x.dtype.is_floating_point or (decimals < 0 and x.dtype is not _dt.bool_):
        return round_p.bind(x, decimals=decimals)
    return _rounding(round_p, x)


def trunc(x: Any) -> Tensor:
    """Round towards zero (a copy of integer inputs); the gradient is zero."""
    return _rounding(trunc_p, x)


fix = trunc


def logical_not(x: Any) -> Tensor:
    """Elementwise ``not`` (a bool tensor)."""
    return logical_not_p.bind(as_tensor(x))


def bitwise_not(x: Any) -> Tensor:
    """``~x``: logical not for bool tensors, bitwise not for integers."""
    x = as_tensor(x)
    if x.dtype.is_floating_point:
        raise DTypeError(f"bitwise_not (~) is only defined for integer and bool tensors, "
                         f"got {x.dtype}; use lucid.logical_not for a truth-value inversion")
    return bitwise_not_p.bind(x)


def isnan(x: Any) -> Tensor:
    """Where ``x`` is NaN."""
    return isnan_p.bind(as_tensor(x))


def isinf(x: Any) -> Tensor:
    """Where ``x`` is +-inf."""
    return isinf_p.bind(as_tensor(x))


def isfinite(x: Any) -> Tensor:
    """Where ``x`` is neither NaN nor infinite."""
    return isfinite_p.bind(as_tensor(x))


__all__ = [
    "neg", "negative", "abs", "absolute", "sign", "exp", "log", "log1p", "expm1", "sqrt",
    "rsqrt", "square", "reciprocal", "sin", "cos", "tanh", "sigmoid", "relu", "erf", "floor",
    "ceil", "round", "trunc", "fix", "logical_not", "bitwise_not", "isnan", "isinf",
    "isfinite",
]
