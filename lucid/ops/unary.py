"""Elementwise unary primitives: neg, abs, exp, log, tanh, sigmoid, relu, erf, floor, ...

Functions that are only defined on real numbers (exp, log, sin, ...) cast integer and bool
inputs to the default float dtype first, as PyTorch does (``lucid.exp(int_tensor)`` is float32).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from scipy import special

from .. import creation as _creation
from .. import dtypes as _dt
from ..tensor import Tensor
from .convert import cast
from .promotion import as_tensor
from .registry import Elementwise, Primitive, primitive
from .rules import elementwise

# Sibling modules are referenced through their module objects (resolved at call time) because
# the op families use each other in their VJP rules.
from . import binary as _binary  # noqa: E402, I001

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


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


neg_p = _unary("neg", np.negative, lambda g, out, x: -g, "-a", allow_bool=False)
abs_p = _unary("abs", np.abs, lambda g, out, x: g * sign(x), "np.abs(a)", allow_bool=False)
sign_p = _unary("sign", np.sign, _zeros_vjp, "np.sign(a)", allow_bool=False)
exp_p = _unary("exp", np.exp, lambda g, out, x: g * out, "np.exp(a)", floating=True,
               saves_output=True)
log_p = _unary("log", np.log, lambda g, out, x: g / x, "np.log(a)", floating=True)
log1p_p = _unary("log1p", np.log1p, lambda g, out, x: g / (x + 1), "np.log1p(a)",
                 floating=True)
expm1_p = _unary("expm1", np.expm1, lambda g, out, x: g * (out + 1), "np.expm1(a)",
                 floating=True, saves_output=True)
sqrt_p = _unary("sqrt", np.sqrt, lambda g, out, x: g / (out * 2), "np.sqrt(a)", floating=True,
                saves_output=True)
rsqrt_p = _unary("rsqrt", lambda x: 1 / np.sqrt(x),
                 lambda g, out, x: g * (out * out * out) * -0.5, "T(1) / np.sqrt(a)",
                 floating=True, saves_output=True)
square_p = _unary("square", np.square, lambda g, out, x: g * x * 2, "a * a", allow_bool=False)
reciprocal_p = _unary("reciprocal", np.reciprocal, lambda g, out, x: -g * out * out,
                      "T(1) / a", floating=True, saves_output=True)
sin_p = _unary("sin", np.sin, lambda g, out, x: g * cos(x), "np.sin(a)", floating=True)
cos_p = _unary("cos", np.cos, lambda g, out, x: -g * sin(x), "np.cos(a)", floating=True)
tanh_p = _unary("tanh", np.tanh, lambda g, out, x: g * (1 - out * out), "np.tanh(a)",
                floating=True, saves_output=True)
sigmoid_p = _unary("sigmoid", special.expit, lambda g, out, x: g * out * (1 - out),
                   "T(1) / (T(1) + np.exp(-a))", floating=True, saves_output=True)
relu_p = _unary("relu", lambda x: np.maximum(x, 0), lambda g, out, x: _relu_vjp(g, x),
                "np.maximum(a, T(0))", allow_bool=False)
erf_p = _unary("erf", special.erf,
               lambda g, out, x: g * exp(-(x * x)) * _TWO_OVER_SQRT_PI, "math.erf(a)",
               floating=True)
floor_p = _unary("floor", np.floor, _zeros_vjp, "np.floor(a)", allow_bool=False)
ceil_p = _unary("ceil", np.ceil, _zeros_vjp, "np.ceil(a)", allow_bool=False)
round_p = primitive(
    "round",
    shape_rule=lambda x, *, decimals: elementwise("round", allow_bool=False)(x),
    impl=lambda x, *, decimals: np.round(x, decimals),
    vjp=(lambda g, out, x, *, decimals: _zeros_vjp(g, out, x),),
    lowering=Elementwise("np.round(a)"),
    doc="Round half to even (to ``decimals`` places).",
)
trunc_p = _unary("trunc", np.trunc, _zeros_vjp, "np.trunc(a)", allow_bool=False)
logical_not_p = _unary("logical_not", np.logical_not, None, "not a", out_dtype=_dt.bool_)
bitwise_not_p = _unary("bitwise_not", np.invert, None, "~a")
isnan_p = _unary("isnan", np.isnan, None, "np.isnan(a)", out_dtype=_dt.bool_)
isinf_p = _unary("isinf", np.isinf, None, "np.isinf(a)", out_dtype=_dt.bool_)


def _relu_vjp(g: Tensor, x: Tensor) -> Tensor:
    return _binary.where(x > 0, g, 0)


def _floating(x: Any) -> Tensor:
    x = as_tensor(x)
    return x if x.dtype.is_floating_point else cast(x, _dt.get_default_dtype())


def neg(x: Any) -> Tensor:
    """``-x``."""
    return neg_p.bind(as_tensor(x))


negative = neg


def abs(x: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    """``|x|`` (the gradient at 0 is 0)."""
    return abs_p.bind(as_tensor(x))


absolute = abs


def sign(x: Any) -> Tensor:
    """-1, 0 or 1 by the sign of ``x``; bool tensors are returned unchanged."""
    x = as_tensor(x)
    return x if x.dtype is _dt.bool_ else sign_p.bind(x)


def exp(x: Any) -> Tensor:
    """``e ** x``."""
    return exp_p.bind(_floating(x))


def log(x: Any) -> Tensor:
    """Natural logarithm."""
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
    """``x * x``."""
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


def floor(x: Any) -> Tensor:
    """Round down (integers are returned unchanged); the gradient is zero."""
    x = as_tensor(x)
    return floor_p.bind(x) if x.dtype.is_floating_point else x


def ceil(x: Any) -> Tensor:
    """Round up (integers are returned unchanged); the gradient is zero."""
    x = as_tensor(x)
    return ceil_p.bind(x) if x.dtype.is_floating_point else x


def round(x: Any, decimals: int = 0) -> Tensor:  # noqa: A001
    """Round half to even, to ``decimals`` places; the gradient is zero."""
    x = as_tensor(x)
    if not x.dtype.is_floating_point and decimals >= 0:
        return x
    return round_p.bind(x, decimals=int(decimals))


def trunc(x: Any) -> Tensor:
    """Round towards zero (integers are returned unchanged); the gradient is zero."""
    x = as_tensor(x)
    return trunc_p.bind(x) if x.dtype.is_floating_point else x


fix = trunc


def logical_not(x: Any) -> Tensor:
    """Elementwise ``not`` (a bool tensor)."""
    return logical_not_p.bind(as_tensor(x))


def bitwise_not(x: Any) -> Tensor:
    """``~x``: logical not for bool tensors, bitwise not for integers."""
    x = as_tensor(x)
    if x.dtype.is_floating_point:
        raise TypeError(f"bitwise_not (~) is only defined for integer and bool tensors, "
                        f"got {x.dtype}")
    return bitwise_not_p.bind(x)


def isnan(x: Any) -> Tensor:
    """Where ``x`` is NaN."""
    return isnan_p.bind(as_tensor(x))


def isinf(x: Any) -> Tensor:
    """Where ``x`` is +-inf."""
    return isinf_p.bind(as_tensor(x))


def isfinite(x: Any) -> Tensor:
    """Where ``x`` is neither NaN nor infinite."""
    x = as_tensor(x)
    return logical_not(_binary.logical_or(isnan(x), isinf(x)))


__all__ = [
    "neg", "negative", "abs", "absolute", "sign", "exp", "log", "log1p", "expm1", "sqrt",
    "rsqrt", "square", "reciprocal", "sin", "cos", "tanh", "sigmoid", "relu", "erf", "floor",
    "ceil", "round", "trunc", "fix", "logical_not", "bitwise_not", "isnan", "isinf",
    "isfinite",
]
