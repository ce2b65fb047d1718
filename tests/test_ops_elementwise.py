"""Tests of the elementwise op families: lucid.ops.unary, lucid.ops.binary, promotion, casts.

Forward values are checked against NumPy / SciPy, result dtypes (and which dtype combinations
are errors at all) against PyTorch, gradients against finite differences (lucid.testing) and
against torch.autograd, including PyTorch's conventions at kinks and ties.
"""

from __future__ import annotations

import operator
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

import lucid
from lucid.errors import AutogradError, DTypeError, ShapeError
from lucid.ops.binary import add_p, where_p
from lucid.ops.registry import pop_interpreter, push_interpreter
from lucid.testing import gradcheck, gradgradcheck

DTYPES = ["float16", "float32", "float64", "int64", "bool"]
TOL = {"float16": (5e-3, 2e-3), "float32": (2e-6, 1e-6), "float64": (1e-12, 1e-12)}


def _np(t: lucid.Tensor) -> np.ndarray:
    return t.detach().numpy()


def _torch(a: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.array(a), requires_grad=requires_grad)


def _tname(dt: torch.dtype) -> str:
    return str(dt).removeprefix("torch.")


def _close(got: np.ndarray, want: np.ndarray, dtype: str) -> None:
    """Compare ``got`` (of a result dtype) with a reference computed in float64 or exactly."""
    assert got.shape == want.shape
    if dtype in TOL:
        rtol, atol = TOL[dtype]
        np.testing.assert_allclose(got.astype(np.float64), np.asarray(want, np.float64),
                                   rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(got, np.asarray(want).astype(got.dtype))


def _gen(rng: np.random.Generator, dtype: str, shape: tuple[int, ...], domain: str
         ) -> np.ndarray:
    """Inputs of ``dtype`` in an op's domain; floats are multiples of 1/4, exact in float16."""
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    ints = dtype not in TOL
    if domain == "pos":
        v = rng.integers(1, 5, size=shape) if ints else rng.integers(1, 13, size=shape) / 4
    elif domain == "divisor":
        v = rng.choice([-3, -2, -1, 1, 2, 3] if ints else [-3, -2, -1.5, -0.75, 0.5, 1.5, 2],
                       size=shape)
    elif domain == "exponent":
        v = rng.integers(0, 4, size=shape) if ints else rng.integers(-4, 5, size=shape) / 2
    else:
        v = rng.integers(-5, 6, size=shape) if ints else rng.integers(-12, 13, size=shape) / 4
    return np.asarray(v).astype(dtype)


SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, 1.5, 2.5, -2.5])


# ---------------------------------------------------------------- unary forward


def _sign_ref(x: np.ndarray) -> np.ndarray:
    if x.dtype == bool:
        return x.copy()
    s = np.sign(x)
    return np.where(np.isnan(s), 0, s)  # PyTorch: sign(nan) == 0


# name: (lucid function, torch function, NumPy/SciPy reference, input domain)
UNARY = {
    "neg": (lucid.neg, torch.neg, np.negative, "any"),
    "abs": (lucid.abs, torch.abs, np.abs, "any"),
    "sign": (lucid.sign, torch.sign, _sign_ref, "any"),
    "exp": (lucid.exp, torch.exp, np.exp, "any"),
    "log": (lucid.log, torch.log, np.log, "pos"),
    "log1p": (lucid.log1p, torch.log1p, np.log1p, "pos"),
    "expm1": (lucid.expm1, torch.expm1, np.expm1, "any"),
    "sqrt": (lucid.sqrt, torch.sqrt, np.sqrt, "pos"),
    "rsqrt": (lucid.rsqrt, torch.rsqrt, lambda x: 1 / np.sqrt(x), "pos"),
    "square": (lucid.square, torch.square, np.square, "any"),
    "reciprocal": (lucid.reciprocal, torch.reciprocal, lambda x: 1 / x, "divisor"),
    "sin": (lucid.sin, torch.sin, np.sin, "any"),
    "cos": (lucid.cos, torch.cos, np.cos, "any"),
    "tanh": (lucid.tanh, torch.tanh, np.tanh, "any"),
    "sigmoid": (lucid.sigmoid, torch.sigmoid, special.expit, "any"),
    "relu": (lucid.relu, torch.relu, lambda x: np.maximum(x, 0), "any"),
    "erf": (lucid.erf, torch.erf, special.erf, "any"),
    "floor": (lucid.floor, torch.floor, np.floor, "any"),
    "ceil": (lucid.ceil, torch.ceil, np.ceil, "any"),
    "round": (lucid.round, torch.round, np.round, "any"),
    "trunc": (lucid.trunc, torch.trunc, np.trunc, "any"),
    "logical_not": (lucid.logical_not, torch.logical_not, np.logical_not, "any"),
    "bitwise_not": (lucid.bitwise_not, torch.bitwise_not, np.invert, "any"),
    "isnan": (lucid.isnan, torch.isnan, np.isnan, "any"),
    "isinf": (lucid.isinf, torch.isinf, np.isinf, "any"),
    "isfinite": (lucid.isfinite, torch.isfinite, np.isfinite, "any"),
}


def _unary_case(name: str, dtype: str, x: np.ndarray) -> None:
    fn, tfn, ref, _ = UNARY[name]
    try:
        want_t = tfn(_torch(x))
    except (RuntimeError, TypeError, NotImplementedError) as e:
        _expect_same_error(e, fn, lucid.tensor(x))
        return
    out = fn(lucid.tensor(x))
    rdt = _tname(want_t.dtype)
    assert out.dtype.name == rdt, f"{name}({dtype}) gave {out.dtype}, torch gives {rdt}"
    ref_in = x if rdt == "bool" else x.astype(np.float64 if rdt in TOL else rdt)
    with np.errstate(all="ignore"):
        _close(_np(out), ref(ref_in), rdt)
    if rdt != "float16":  # torch's CPU half kernels round differently from float64 references
        _close(_np(out), want_t.numpy(), rdt)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_forward(name: str, dtype: str) -> None:
    rng = np.random.default_rng(0)
    _unary_case(name, dtype, _gen(rng, dtype, (3, 4), UNARY[name][3]))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_special_values(name: str, dtype: str) -> None:
    # NaN, +-inf, signed zeros and halves: no NumPy warning may escape (PyTorch is silent).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _unary_case(name, dtype, SPECIALS.astype(dtype))


def test_unary_int_result_dtypes_like_torch() -> None:
    i = lucid.tensor([1, 2, 3])
    for f in (lucid.exp, lucid.log, lucid.sqrt, lucid.sigmoid, lucid.erf, lucid.sin):
        assert f(i).dtype is lucid.float32
    assert lucid.abs(i).dtype is lucid.int64 and lucid.neg(i).dtype is lucid.int64
    assert lucid.square(lucid.tensor([True, False])).dtype is lucid.int64
    assert lucid.exp(lucid.tensor([True])).dtype is lucid.float32
    lucid.set_default_dtype(lucid.float64)
    try:
        assert lucid.exp(i).dtype is lucid.float64
    finally:
        lucid.set_default_dtype(lucid.float32)


@pytest.mark.parametrize("decimals", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_decimals(decimals: int, dtype: str) -> None:
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.125, 12.25, 1250.0, -37.75, 3.14159],
                 dtype=dtype)
    out = lucid.round(lucid.tensor(x), decimals=decimals)
    assert out.dtype.name == dtype
    np.testing.assert_array_equal(_np(out), np.round(x, decimals))
    np.testing.assert_allclose(_np(out), torch.round(_torch(x), decimals=decimals).numpy(),
                               rtol=1e-6)
    assert _np(lucid.tensor(x).round(decimals)).tolist() == _np(out).tolist()


def test_round_half_to_even_and_ints() -> None:
    out = lucid.round(lucid.tensor([0.5, 1.5, 2.5, -0.5, -2.5]))
    assert _np(out).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0]
    i = lucid.tensor([15, 25, -35])
    assert lucid.round(i).tolist() == [15, 25, -35]
    assert lucid.round(i, decimals=-1).tolist() == [20, 20, -40]  # half to even, like NumPy


def test_int_rounding_returns_a_copy() -> None:
    # PyTorch returns a copy for integer inputs: writing to the result leaves the input alone.
    for f in (lucid.floor, lucid.ceil, lucid.trunc, lucid.round):
        i = lucid.tensor([1, 2])
        out = f(i)
        assert out is not i and out.dtype is lucid.int64
        out += 1
        assert i.tolist() == [1, 2]
    b = lucid.tensor([True, False])
    s = lucid.sign(b)
    assert s is not b and s.tolist() == [True, False]


def test_sign_of_nan_is_zero() -> None:
    out = lucid.sign(lucid.tensor([np.nan, -0.0, -3.0, 2.0]))
    assert _np(out).tolist() == [0.0, 0.0, -1.0, 1.0]


# ---------------------------------------------------------------- binary forward

def _div_floor(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.floor_divide(a, b)

# name: (lucid fn, torch fn, NumPy reference, domain of x, domain of y)
BINARY = {
    "add": (lucid.add, torch.add, np.add, "any", "any"),
    "sub": (lucid.sub, torch.sub, np.subtract, "any", "any"),
    "mul": (lucid.mul, torch.mul, np.multiply, "any", "any"),
    "div": (lucid.div, torch.div, np.true_divide, "any", "divisor"),
    "pow": (lucid.pow, torch.pow, np.power, "pos", "exponent"),
    "maximum": (lucid.maximum, torch.maximum, np.maximum, "any", "any"),
    "minimum": (lucid.minimum, torch.minimum, np.minimum, "any", "any"),
    "fmod": (lucid.fmod, torch.fmod, np.fmod, "any", "divisor"),
    "remainder": (lucid.remainder, torch.remainder, np.remainder, "any", "divisor"),
    "floor_divide": (lucid.floor_divide, torch.floor_divide, _div_floor, "any", "divisor"),
    "eq": (lucid.eq, torch.eq, np.equal, "any", "any"),
    "ne": (lucid.ne, torch.ne, np.not_equal, "any", "any"),
    "lt": (lucid.lt, torch.lt, np.less, "any", "any"),
    "le": (lucid.le, torch.le, np.less_equal, "any", "any"),
    "gt": (lucid.gt, torch.gt, np.greater, "any", "any"),
    "ge": (lucid.ge, torch.ge, np.greater_equal, "any", "any"),
    "logical_and": (lucid.logical_and, torch.logical_and, np.logical_and, "any", "any"),
    "logical_or": (lucid.logical_or, torch.logical_or, np.logical_or, "any", "any"),
    "logical_xor": (lucid.logical_xor, torch.logical_xor, np.logical_xor, "any", "any"),
    "bitwise_and": (lucid.bitwise_and, torch.bitwise_and, np.bitwise_and, "any", "any"),
    "bitwise_or": (lucid.bitwise_or, torch.bitwise_or, np.bitwise_or, "any", "any"),
    "bitwise_xor": (lucid.bitwise_xor, torch.bitwise_xor, np.bitwise_xor, "any", "any"),
}
PAIRS = [(d, d) for d in DTYPES] + [
    ("int64", "float32"), ("float32", "float64"), ("bool", "int64"), ("int32", "int64"),
    ("uint8", "int8"), ("float16", "int64"), ("bool", "float32"), ("int8", "float16"),
    ("float64", "int32"),
]


def _expect_same_error(err: Exception, fn, *args) -> None:
    """torch raised ``err``: lucid must raise too (a TypeError for dtype problems, which
    DTypeError is, or ZeroDivisionError for integer division by zero)."""
    kind = ZeroDivisionError if "ZeroDivisionError" in str(err) else TypeError
    with pytest.raises(kind):
        fn(*args)


def _binary_case(name: str, x: np.ndarray, y: np.ndarray, lx: object, ly: object) -> None:
    """Check lucid's ``name(lx, ly)`` against torch (dtype, errors) and NumPy (values); ``x``
    and ``y`` are the NumPy data behind the operands."""
    fn, tfn, ref, _, _ = BINARY[name]
    # torch's functions take a Python scalar only on the right; on the left a 0-d tensor of
    # the scalar's default dtype promotes the same way (weakly, within its category).
    tx = _torch(x) if isinstance(lx, lucid.Tensor) else torch.tensor(lx)
    ty = _torch(y) if isinstance(ly, lucid.Tensor) else ly
    try:
        try:
            want_t = tfn(tx, ty)
        except TypeError as e:
            if "must be Tensor" not in str(e):  # maximum, logical_and, ... take no scalars
                raise
            want_t = tfn(tx, torch.tensor(ty))
    except (RuntimeError, TypeError, NotImplementedError) as e:
        _expect_same_error(e, fn, lx, ly)
        return
    out = fn(lx, ly)
    rdt = _tname(want_t.dtype)
    assert out.dtype.name == rdt, f"{name}({lx!r}, {ly!r}) gave {out.dtype}, torch gives {rdt}"
    assert tuple(out.shape) == tuple(want_t.shape)
    common = _tname(torch.result_type(tx, ty))
    if name == "div" and common not in TOL:
        common = rdt
    if common in TOL and name not in ("fmod", "remainder", "floor_divide"):
        common = "float64"  # compute the reference in float64 (the remainders are exact)
    with np.errstate(all="ignore"):
        want = ref(np.asarray(x).astype(common), np.asarray(y).astype(common))
    _close(_np(out), want, rdt)
    _close(_np(out), want_t.numpy(), rdt)


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[0]}-{p[1]}")
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_forward(name: str, pair: tuple[str, str]) -> None:
    rng = np.random.default_rng(1)
    _, _, _, dx, dy = BINARY[name]
    x = _gen(rng, pair[0], (3, 4), dx)
    y = _gen(rng, pair[1], (3, 4), dy)
    _binary_case(name, x, y, lucid.tensor(x), lucid.tensor(y))


SCALARS = [2, -3, 1.5, True]


@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "float16"])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_with_python_scalars(name: str, dtype: str) -> None:
    """Python scalars are weak on either side: ``int_tensor + 1.5`` is float32, ``float16 * 2``
    float16, and so on, as in PyTorch."""
    rng = np.random.default_rng(2)
    _, _, _, dx, dy = BINARY[name]
    for s in SCALARS:
        if name == "pow" and (s == -3 or (dtype == "bool" and s is True)):
            # -3: an error for integer bases (tested below). bool ** True: torch returns a
            # bool tensor but refuses bool ** bool tensors; lucid refuses both.
            continue
        x = _gen(rng, dtype, (2, 3), dx)
        _binary_case(name, x, np.asarray(s), lucid.tensor(x), s)
        if name != "pow":
            y = _gen(rng, dtype, (2, 3), dy)
            _binary_case(name, np.asarray(s), y, s, lucid.tensor(y))


@pytest.mark.parametrize("name", ["add", "mul", "div", "pow", "maximum", "lt", "remainder"])
def test_binary_zero_dim_promotion(name: str) -> None:
    """0-d tensors only count when they are of a higher category (PyTorch's rule)."""
    rng = np.random.default_rng(3)
    _, _, _, dx, dy = BINARY[name]
    for xd, yd in [("float32", "float64"), ("int64", "float64"), ("int32", "int64"),
                   ("float16", "float32"), ("bool", "int64")]:
        x = _gen(rng, xd, (2, 3), dx)
        y = _gen(rng, yd, (), dy)
        _binary_case(name, x, y, lucid.tensor(x), lucid.tensor(y))
        _binary_case(name, y, x, lucid.tensor(y), lucid.tensor(x))


def test_promotion_examples() -> None:
    f32 = lucid.tensor([1.0, 2.0])
    i64 = lucid.tensor([1, 2])
    assert (f32 + lucid.tensor(1.0, dtype=lucid.float64)).dtype is lucid.float32
    assert (i64 + 1.5).dtype is lucid.float32
    assert (i64 / i64).dtype is lucid.float32
    assert (i64 // 2).dtype is lucid.int64
    assert (i64 > 1.5).dtype is lucid.bool
    assert (i64 * True).dtype is lucid.int64
    assert (f32 * lucid.tensor(2, dtype=lucid.int64)).dtype is lucid.float32
    assert (i64 * lucid.tensor(2.0, dtype=lucid.float64)).dtype is lucid.float64
    assert (f32.half() * 2.5).dtype is lucid.float16
    assert (np.float64(2.0) * f32).dtype is lucid.float32  # NumPy scalars are weak too
    assert (lucid.tensor([1], dtype=lucid.uint8) - 2).tolist() == [255]  # wraps like torch


def test_nan_and_inf_in_binary_ops() -> None:
    x = np.array([np.nan, 1.0, np.inf, -np.inf, 0.0, np.inf])
    y = np.array([1.0, np.nan, np.inf, 1.0, 0.0, -np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("add", "sub", "mul", "div", "maximum", "minimum", "fmod", "remainder",
                     "floor_divide", "eq", "ne", "lt", "ge", "pow"):
            _binary_case(name, x, y, lucid.tensor(x), lucid.tensor(y))


def test_integer_division_by_zero_raises() -> None:
    i = lucid.tensor([3, -3])
    for f in (lucid.floor_divide, lucid.fmod, lucid.remainder,
              lambda a, b: lucid.div(a, b, rounding_mode="trunc")):
        with pytest.raises(ZeroDivisionError):
            f(i, lucid.tensor([1, 0]))
    # Floats follow IEEE (inf / nan), and true division of integers is floating.
    assert _np(lucid.tensor([1.0, -1.0]) // 0).tolist() == [np.inf, -np.inf]
    assert _np(i / 0).tolist() == [np.inf, -np.inf]


def test_int_pow_negative_exponents() -> None:
    b = lucid.tensor([2, 1, -1, -1, 0, 3])
    e = lucid.tensor([-1, -2, -3, -2, -1, 2])
    want = torch.tensor([2, 1, -1, -1, 0, 3]) ** torch.tensor([-1, -2, -3, -2, -1, 2])
    assert (b ** e).tolist() == want.tolist()
    with pytest.raises(DTypeError, match="negative"):
        b ** -1
    assert (b ** 2).tolist() == [4, 1, 1, 1, 0, 9]
    assert (lucid.tensor([True, False]) ** 2).dtype is lucid.int64
    with pytest.raises(DTypeError):
        lucid.tensor([True]) ** lucid.tensor([False])


# ---------------------------------------------------------------- division rounding modes


@pytest.mark.parametrize("dtype", ["int64", "int32", "float32", "float64"])
@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_div_rounding_modes(mode: str, dtype: str) -> None:
    x = np.array([7, -7, 7, -7, 6, -6, 0, 1, -1, 5], dtype=dtype)
    y = np.array([2, 2, -2, -2, 3, 3, 5, -4, 4, -5], dtype=dtype)
    out = lucid.div(lucid.tensor(x), lucid.tensor(y), rounding_mode=mode)
    want = torch.div(_torch(x), _torch(y), rounding_mode=mode)
    assert out.dtype.name == _tname(want.dtype) == dtype
    np.testing.assert_array_equal(_np(out), want.numpy())
    kind = int if dtype.startswith("int") else float
    py = [kind(a // b if mode == "floor" else np.trunc(a / b))
          for a, b in zip(x.tolist(), y.tolist(), strict=True)]
    assert _np(out).tolist() == py
    # Scalars on either side, and the method spelling.
    assert lucid.tensor(x).div(3, rounding_mode=mode).tolist() == torch.div(
        _torch(x), 3, rounding_mode=mode).tolist()
    assert lucid.div(-7, lucid.tensor(y), rounding_mode=mode).tolist() == torch.div(
        -7, _torch(y), rounding_mode=mode).tolist()


def test_div_rounding_mode_mixed_and_invalid() -> None:
    out = lucid.div(lucid.tensor([-7, 7]), 2.0, rounding_mode="floor")
    assert out.dtype is lucid.float32 and out.tolist() == [-4.0, 3.0]
    assert lucid.floor_divide(lucid.tensor(1.0), 0.1).item() == 1.0 // 0.1  # 9, not 10
    with pytest.raises(ValueError, match="rounding_mode"):
        lucid.div(lucid.tensor([1.0]), 2, rounding_mode="round")


# ---------------------------------------------------------------- where, clamp, isclose


@pytest.mark.parametrize("dtypes", [("float32", "float32"), ("int64", "float32"),
                                    ("float32", "float64"), ("bool", "bool"),
                                    ("int64", "int64")])
def test_where_forward(dtypes: tuple[str, str]) -> None:
    rng = np.random.default_rng(4)
    c = rng.integers(0, 2, (3, 1)).astype(bool)
    x = _gen(rng, dtypes[0], (3, 4), "any")
    y = _gen(rng, dtypes[1], (4,), "any")
    out = lucid.where(lucid.tensor(c), lucid.tensor(x), lucid.tensor(y))
    want = torch.where(_torch(c), _torch(x), _torch(y))
    assert out.dtype.name == _tname(want.dtype)
    np.testing.assert_array_equal(_np(out), want.numpy())
    # Scalars are weak: where(c, float32, 0) stays float32, where(c, int, 0.5) is float32.
    assert lucid.where(lucid.tensor(c), lucid.tensor(x), 0).dtype.name == _tname(
        torch.where(_torch(c), _torch(x), 0).dtype)
    assert lucid.where(lucid.tensor(c), 1.0, 0).dtype is lucid.float32
    assert lucid.tensor(x).where(lucid.tensor(c), 0.5).dtype.name == _tname(
        torch.where(_torch(c), _torch(x), 0.5).dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_clamp_number_bounds(dtype: str) -> None:
    x = np.array([-3, -1, 0, 1, 2, 5], dtype=dtype)
    for lo, hi in [(0, 2), (-1, None), (None, 1), (0.5, 1.5), (3, 1), (-1.5, None)]:
        out = lucid.clamp(lucid.tensor(x), lo, hi)
        want = torch.clamp(_torch(x), lo, hi)
        assert out.dtype.name == _tname(want.dtype), (lo, hi)
        np.testing.assert_array_equal(_np(out), want.numpy())
        np.testing.assert_array_equal(_np(lucid.tensor(x).clip(lo, hi)), want.numpy())
    with pytest.raises(ValueError, match="at least one"):
        lucid.clamp(lucid.tensor(x))
    small = lucid.tensor([-100, 0, 100], dtype=lucid.int8)
    assert lucid.clamp(small, -1000, 50).tolist() == [-100, 0, 50]


def test_clamp_tensor_bounds() -> None:
    x = np.array([[-3.0, 0.5, 4.0], [1.0, 2.0, -1.0]])
    lo = np.array([0.0, 1.0, -2.0])
    hi = np.array([[1.0], [1.5]])
    for a, b in [(lo, hi), (lo, None), (None, hi), (lo, 2.5), (0.0, hi)]:
        la = None if a is None else (lucid.tensor(a) if isinstance(a, np.ndarray) else a)
        lb = None if b is None else (lucid.tensor(b) if isinstance(b, np.ndarray) else b)
        ta = None if a is None else (_torch(a) if isinstance(a, np.ndarray) else
                                     torch.tensor(a, dtype=torch.float64))
        tb = None if b is None else (_torch(b) if isinstance(b, np.ndarray) else
                                     torch.tensor(b, dtype=torch.float64))
        out = lucid.clamp(lucid.tensor(x), la, lb)
        want = torch.clamp(_torch(x), ta, tb)
        np.testing.assert_array_equal(_np(out), want.numpy())
    i = lucid.tensor([1, 5])
    assert lucid.clamp(i, lucid.tensor(1.5)).dtype is lucid.float32
    assert lucid.clamp(i, 1.5).tolist() == [1.5, 5.0]


def test_clamp_nan() -> None:
    out = lucid.clamp(lucid.tensor([np.nan, 1.0]), 0.0, 0.5)
    assert np.isnan(_np(out)[0]) and _np(out)[1] == 0.5
    assert np.isnan(_np(lucid.clamp(lucid.tensor([1.0]), min=float("nan")))).all()


def test_isclose_allclose_equal() -> None:
    a = np.array([1.0, np.inf, np.inf, -np.inf, np.nan, 1.0, 1e-9, 100.0])
    b = np.array([np.inf, np.inf, -np.inf, -np.inf, np.nan, 1.0 + 1e-6, 0.0, 100.1])
    for kw in [{}, {"equal_nan": True}, {"rtol": 1e-2}, {"rtol": 0.0, "atol": 0.0},
               {"atol": 0.2}]:
        got = lucid.isclose(lucid.tensor(a), lucid.tensor(b), **kw)
        want = torch.isclose(_torch(a), _torch(b), **kw)
        assert got.dtype is lucid.bool
        assert _np(got).tolist() == want.tolist(), kw
        assert lucid.allclose(lucid.tensor(a), lucid.tensor(b), **kw) is bool(want.all())
    ai, bi = np.array([1, 2, 100]), np.array([1, 3, 101])
    assert _np(lucid.isclose(lucid.tensor(ai), lucid.tensor(bi), rtol=0.02)).tolist() == \
        torch.isclose(_torch(ai), _torch(bi), rtol=0.02).tolist()
    ab, bb = np.array([True, False, True]), np.array([True, True, False])
    assert _np(lucid.isclose(lucid.tensor(ab), lucid.tensor(bb))).tolist() == \
        torch.isclose(_torch(ab), _torch(bb)).tolist()
    t = lucid.tensor([1.0, 2.0])
    assert t.allclose(t + 1e-7) and not t.allclose(t + 1e-3)
    assert lucid.allclose(t, [1.0, 2.0])
    with pytest.raises(ValueError):
        lucid.isclose(t, t, rtol=-1.0)
    assert lucid.equal(t, lucid.tensor([1.0, 2.0])) is True
    assert lucid.equal(t, lucid.tensor([1.0, 3.0])) is False
    assert lucid.equal(t, lucid.tensor([[1.0, 2.0]])) is False  # shapes differ
    assert t.equal(lucid.tensor([1, 2]))
    assert not lucid.equal(lucid.tensor([np.nan]), lucid.tensor([np.nan]))
    # isclose records no graph even for inputs that require grad.
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    assert not lucid.isclose(x, x * 1).requires_grad


def test_logical_and_bitwise_ops() -> None:
    a = lucid.tensor([0.0, 1.5, -2.0, np.nan])
    b = lucid.tensor([0, 0, 3, 1])
    assert lucid.logical_and(a, b).tolist() == [False, False, True, True]
    assert lucid.logical_xor(a, b).tolist() == [False, True, False, False]
    assert lucid.logical_not(a).tolist() == [True, False, False, False]
    m = lucid.tensor([True, False, True])
    n = lucid.tensor([True, True, False])
    assert (m & n).tolist() == [True, False, False]
    assert (m | n).tolist() == [True, True, True]
    assert (m ^ n).tolist() == [False, True, True]
    assert (~m).tolist() == [False, True, False]
    assert (True & m).tolist() == m.tolist()
    i = lucid.tensor([5, 12, -1])
    assert (i & 6).tolist() == [4, 4, 6] and (3 | i).tolist() == [7, 15, -1]
    assert (~i).tolist() == [-6, -13, 0] and (i ^ i).tolist() == [0, 0, 0]


# ---------------------------------------------------------------- operators and in-place


def test_python_scalars_on_either_side() -> None:
    xn = np.array([0.5, 1.0, 2.0, -1.5], dtype=np.float32)
    x = lucid.tensor(xn)
    cases = {
        "2 - x": (2 - x, 2 - xn), "x - 2": (x - 2, xn - 2), "2 ** x": (2 ** x, 2.0 ** xn),
        "x ** 2": (x ** 2, xn ** 2), "1 / x": (1 / x, 1 / xn), "x / 4": (x / 4, xn / 4),
        "3 * x": (3 * x, 3 * xn), "2.5 + x": (2.5 + x, 2.5 + xn), "-x": (-x, -xn),
        "3 % x": (3 % x, np.remainder(3, xn)), "3 // x": (3 // x, np.floor_divide(3, xn)),
        "x % 0.75": (x % 0.75, np.remainder(xn, 0.75)), "abs(x)": (abs(x), np.abs(xn)),
        "+x": (+x, xn),
    }
    for label, (got, want) in cases.items():
        assert got.dtype is lucid.float32, label
        np.testing.assert_allclose(_np(got), want, rtol=1e-6, err_msg=label)
    i = lucid.tensor([1, 2, 3])
    assert (2 - i).dtype is lucid.int64 and (2 - i).tolist() == [1, 0, -1]
    assert (2 ** i).dtype is lucid.int64 and (2 ** i).tolist() == [2, 4, 8]
    assert (2.5 ** i).dtype is lucid.float32
    assert (i ** 0.5).dtype is lucid.float32
    assert (1 / i).dtype is lucid.float32
    assert (i < 1.5).tolist() == [True, False, False]
    assert (i == 2).tolist() == [False, True, False]


def test_numpy_arrays_on_the_left() -> None:
    t = lucid.tensor([1.0, 2.0])
    for op in (operator.add, operator.sub, operator.mul, operator.truediv, operator.pow,
               operator.lt, operator.eq, operator.ge):
        arr = np.array([3.0, 4.0])  # float64, with dimensions: the result is float64
        got = op(arr, t)
        assert isinstance(got, lucid.Tensor), op
        want = op(torch.tensor(arr), torch.tensor([1.0, 2.0]))
        assert got.dtype.name == _tname(want.dtype), op
        np.testing.assert_allclose(_np(got), want.numpy(), err_msg=str(op))
    assert (np.array([1, 2], dtype=np.int64) + t).dtype is lucid.float32
    assert isinstance(np.array(3.0) * t, lucid.Tensor)
    assert lucid.add(t, [1.0, 1.0]).tolist() == [2.0, 3.0]


def test_in_place_variants_keep_dtype() -> None:
    x = lucid.tensor([1.0, 2.0])
    ref = x
    x += 1
    x *= 2
    x -= lucid.tensor([1.0, 1.0], dtype=lucid.float64)  # a wider operand still writes float32
    x /= 2
    assert x is ref and x.dtype is lucid.float32 and x.tolist() == [1.5, 2.5]
    x.mul_(2).add_(1, alpha=2).sub_(lucid.tensor([1.0, 0.0]), alpha=3)
    assert x.tolist() == [2.0, 7.0] and x.dtype is lucid.float32
    x.pow_(2).div_(2).clamp_(0, 10)
    assert x.tolist() == [2.0, 10.0]
    i = lucid.tensor([1, 2])
    i += 1
    i *= 3
    i //= 2
    i %= 4
    assert i.dtype is lucid.int64 and i.tolist() == [3, 0]
    with pytest.raises(DTypeError):
        i += 1.5
    with pytest.raises(DTypeError):
        i /= 2
    with pytest.raises(DTypeError):
        i.mul_(0.5)
    assert i.tolist() == [3, 0]  # failed in-place ops leave the tensor alone
    b = lucid.tensor([True, False])
    b |= lucid.tensor([False, True])
    assert b.dtype is lucid.bool and b.tolist() == [True, True]
    m = lucid.zeros(2, 3)
    m += lucid.tensor([1.0, 2.0, 3.0])  # broadcasting the right operand is fine
    assert m.tolist() == [[1.0, 2.0, 3.0]] * 2
    with pytest.raises((ShapeError, AutogradError)):
        small = lucid.zeros(3)
        small += lucid.ones(2, 3)


def test_add_sub_alpha() -> None:
    x = lucid.tensor([1.0, 2.0])
    assert lucid.add(x, 2, alpha=3).tolist() == [7.0, 8.0]
    assert lucid.sub(x, x, alpha=0.5).tolist() == [0.5, 1.0]
    assert lucid.add(lucid.tensor([1]), 2, alpha=3).tolist() == [7]
    with pytest.raises(DTypeError, match="alpha"):
        lucid.add(lucid.tensor([1]), 2, alpha=1.5)
    assert lucid.add(lucid.tensor([1]), 2.0, alpha=1.5).tolist() == [4.0]  # float result: ok
    y = lucid.tensor([1.0, 2.0], requires_grad=True)
    (g,) = lucid.autograd.grad(lucid.add(x, y, alpha=-2).sum(), [y])
    assert g.tolist() == [-2.0, -2.0]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("fn", [lucid.add, lucid.sub, lucid.mul, lucid.div, lucid.pow,
                                lucid.maximum, lucid.eq, lucid.lt, lucid.logical_and,
                                lucid.fmod, lucid.bitwise_and])
def test_non_broadcastable_shapes(fn) -> None:
    a = lucid.ones(2, 3, dtype=lucid.int64)
    b = lucid.ones(4, dtype=lucid.int64)
    with pytest.raises(ShapeError) as info:
        fn(a, b)
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    assert fn.__name__ in msg and "(2, 3)" in msg and "(4,)" in msg


def test_shape_errors_of_where_clamp_and_operators() -> None:
    with pytest.raises(ShapeError, match=r"where.*\(2,\).*\(3,\)"):
        lucid.where(lucid.tensor([True, False]), lucid.ones(3), 0.0)
    with pytest.raises(ShapeError, match="add"):
        lucid.ones(2) + lucid.ones(3)
    with pytest.raises(ValueError):
        lucid.clamp(lucid.ones(2), lucid.zeros(3))


def test_dtype_errors() -> None:
    f = lucid.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="bitwise_not"):
        ~f
    for op in (operator.and_, operator.or_, operator.xor):
        with pytest.raises(TypeError):
            op(f, f)
        with pytest.raises(TypeError):
            op(lucid.tensor([1, 2]), f)
    with pytest.raises(TypeError):
        lucid.bitwise_and(f, 1)
    with pytest.raises(DTypeError, match="bool"):
        -lucid.tensor([True])
    with pytest.raises(DTypeError, match="bool"):
        lucid.tensor([True]) - lucid.tensor([False])
    for bad in (1j, None, "a", [1.0, [2.0]]):
        with pytest.raises(DTypeError, match=type(bad).__name__):
            f + bad


def test_strict_primitives() -> None:
    # The primitives themselves do no promotion or broadcasting; the public functions do.
    with pytest.raises(DTypeError, match="add"):
        add_p.bind(lucid.ones(2), lucid.ones(2, dtype=lucid.float64))
    with pytest.raises(ShapeError, match="add"):
        add_p.bind(lucid.ones(2), lucid.ones(1))
    with pytest.raises(DTypeError, match="where"):
        where_p.bind(lucid.ones(2), lucid.ones(2), lucid.ones(2))


def test_no_gradient_through_int_or_bool_outputs() -> None:
    x = lucid.tensor([1.0, -2.0], requires_grad=True)
    for out in (x > 0, x == x, lucid.isnan(x), x.long(), lucid.logical_not(x)):
        assert not out.requires_grad and out.grad_fn is None
    i = lucid.tensor([1, 2])
    y = i * 2
    assert not y.requires_grad
    with pytest.raises(AutogradError):
        y.backward()
    with pytest.raises(DTypeError):
        i.requires_grad_()


def test_no_numpy_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lucid.log(lucid.tensor([0.0, -1.0]))
        lucid.exp(lucid.tensor([1000.0]))
        lucid.tensor([3e38]) * 10
        lucid.tensor([np.inf]) - np.inf
        lucid.tensor([1.0, 0.0]) / 0
        lucid.tensor([0.0]) ** -1.0
        lucid.tensor([np.nan, np.inf]).long()
        lucid.tensor([1e6]).half()
        lucid.reciprocal(lucid.tensor([0.0]))


def test_scalar_operands_are_broadcast_nodes_under_an_interpreter() -> None:
    """Eagerly, a Python scalar operand becomes a stride-0 constant; an interpreter (tracer)
    still sees the explicit broadcast_to node."""

    class Recorder:
        def __init__(self) -> None:
            self.names: list[str] = []

        def process(self, prim, args, params):
            # bind hands the op over with this interpreter already popped off the stack.
            self.names.append(prim.name)
            return prim.bind(*args, **params)

    x = lucid.tensor([1.0, 2.0])
    rec = Recorder()
    push_interpreter(rec)
    try:
        y = x * 3
    finally:
        pop_interpreter(rec)
    # The scalar is a `full` constant node, then an explicit broadcast.
    assert rec.names == ["full", "broadcast_to", "mul"]
    assert y.tolist() == (x * 3).tolist() == [3.0, 6.0]


# ---------------------------------------------------------------- broadcasting (hypothesis)

BROADCAST_OPS = {
    "add": (lucid.add, torch.add, "any", "any"),
    "sub": (lucid.sub, torch.sub, "any", "any"),
    "mul": (lucid.mul, torch.mul, "any", "any"),
    "div": (lucid.div, torch.div, "any", "away"),
    "pow": (lucid.pow, torch.pow, "pos", "any"),
    "maximum": (lucid.maximum, torch.maximum, "any", "any"),
    "minimum": (lucid.minimum, torch.minimum, "any", "any"),
    "fmod": (lucid.fmod, torch.fmod, "any", "away"),
    "remainder": (lucid.remainder, torch.remainder, "any", "away"),
    "clamp_min": (lambda a, b: lucid.clamp(a, min=b), lambda a, b: torch.clamp(a, min=b),
                  "any", "any"),
}


def _floats(rng: np.random.Generator, shape: tuple[int, ...], domain: str) -> np.ndarray:
    if domain == "pos":
        v = rng.uniform(0.5, 2.0, shape)
    elif domain == "away":  # away from 0, either sign
        v = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    else:
        v = rng.standard_normal(shape)
    return np.asarray(v)  # 0-d results of NumPy arithmetic are scalars, not arrays


@settings(max_examples=40, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       name=st.sampled_from(sorted(BROADCAST_OPS)), seed=st.integers(0, 2**16))
def test_binary_broadcasting(shapes, name: str, seed: int) -> None:
    fn, tfn, dx, dy = BROADCAST_OPS[name]
    rng = np.random.default_rng(seed)
    xs, ys = shapes.input_shapes
    x = _floats(rng, xs, dx)
    y = _floats(rng, ys, dy)
    lx, ly = lucid.tensor(x, requires_grad=True), lucid.tensor(y, requires_grad=True)
    tx, ty = _torch(x, True), _torch(y, True)
    out, want = fn(lx, ly), tfn(tx, ty)
    assert tuple(out.shape) == shapes.result_shape == tuple(want.shape)
    # torch's vectorised remainder computes a - b * floor(a / b); NumPy's is exact.
    tol = 1e-8 if name == "remainder" else 1e-12
    np.testing.assert_allclose(_np(out), want.detach().numpy(), rtol=tol, atol=tol)
    g = rng.standard_normal(shapes.result_shape)
    gx, gy = lucid.autograd.grad(out, [lx, ly], [lucid.tensor(g)])
    tgx, tgy = torch.autograd.grad(want, [tx, ty], torch.tensor(g))
    assert tuple(gx.shape) == xs and tuple(gy.shape) == ys
    assert gx.dtype is lucid.float64 and gy.dtype is lucid.float64
    np.testing.assert_allclose(_np(gx), tgx.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(gy), tgy.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_where_broadcasting(shapes, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cs, xs, ys = shapes.input_shapes
    c = rng.integers(0, 2, cs).astype(bool)
    x, y = rng.standard_normal(xs), rng.standard_normal(ys)
    lx, ly = lucid.tensor(x, requires_grad=True), lucid.tensor(y, requires_grad=True)
    out = lucid.where(lucid.tensor(c), lx, ly)
    np.testing.assert_array_equal(_np(out), np.where(c, x, y))
    g = rng.standard_normal(shapes.result_shape)
    gx, gy = lucid.autograd.grad(out, [lx, ly], [lucid.tensor(g)])
    assert tuple(gx.shape) == xs and tuple(gy.shape) == ys
    tx, ty = _torch(x, True), _torch(y, True)
    tgx, tgy = torch.autograd.grad(torch.where(_torch(c), tx, ty), [tx, ty], torch.tensor(g))
    np.testing.assert_allclose(_np(gx), tgx.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_np(gy), tgy.numpy(), rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       name=st.sampled_from(["eq", "lt", "ge", "logical_and", "bitwise_xor", "floor_divide"]),
       seed=st.integers(0, 2**16))
def test_int_binary_broadcasting(shapes, name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    xs, ys = shapes.input_shapes
    x = _gen(rng, "int64", xs, "any")
    y = _gen(rng, "int64", ys, "divisor")
    fn, tfn, ref, _, _ = BINARY[name]
    out = fn(lucid.tensor(x), lucid.tensor(y))
    assert tuple(out.shape) == shapes.result_shape
    np.testing.assert_array_equal(_np(out), ref(x, y))
    np.testing.assert_array_equal(_np(out), tfn(_torch(x), _torch(y)).numpy())


# ---------------------------------------------------------------- gradcheck (float64)


def _r(rng: np.random.Generator, shape: tuple[int, ...], lo: float, hi: float,
       signs: bool = False) -> lucid.Tensor:
    v = rng.uniform(lo, hi, shape)
    if signs:
        v = v * rng.choice([-1.0, 1.0], shape)
    return lucid.tensor(v, requires_grad=True)


def _away_from_halves(rng: np.random.Generator, shape: tuple[int, ...], scale: float
                      ) -> lucid.Tensor:
    # k * scale + 0.3 * scale: far from rounding boundaries (and integers) at that scale.
    v = (rng.integers(-5, 6, shape) + rng.uniform(0.15, 0.35, shape)) * scale
    return lucid.tensor(v, requires_grad=True)


# name: (function of the inputs, input builder)
GRADCHECK_UNARY = {
    "neg": (lucid.neg, lambda r: [_r(r, (2, 3), -2, 2)]),
    "abs": (lucid.abs, lambda r: [_r(r, (2, 3), 0.2, 2, signs=True)]),
    "sign": (lucid.sign, lambda r: [_r(r, (2, 3), 0.2, 2, signs=True)]),
    "exp": (lucid.exp, lambda r: [_r(r, (2, 3), -2, 2)]),
    "log": (lucid.log, lambda r: [_r(r, (2, 3), 0.2, 3)]),
    "log1p": (lucid.log1p, lambda r: [_r(r, (2, 3), -0.5, 3)]),
    "expm1": (lucid.expm1, lambda r: [_r(r, (2, 3), -2, 2)]),
    "sqrt": (lucid.sqrt, lambda r: [_r(r, (2, 3), 0.2, 3)]),
    "rsqrt": (lucid.rsqrt, lambda r: [_r(r, (2, 3), 0.2, 3)]),
    "square": (lucid.square, lambda r: [_r(r, (2, 3), -2, 2)]),
    "reciprocal": (lucid.reciprocal, lambda r: [_r(r, (2, 3), 0.3, 2, signs=True)]),
    "sin": (lucid.sin, lambda r: [_r(r, (2, 3), -3, 3)]),
    "cos": (lucid.cos, lambda r: [_r(r, (2, 3), -3, 3)]),
    "tanh": (lucid.tanh, lambda r: [_r(r, (2, 3), -2, 2)]),
    "sigmoid": (lucid.sigmoid, lambda r: [_r(r, (2, 3), -3, 3)]),
    "relu": (lucid.relu, lambda r: [_r(r, (2, 3), 0.2, 2, signs=True)]),
    "erf": (lucid.erf, lambda r: [_r(r, (2, 3), -2, 2)]),
    "floor": (lucid.floor, lambda r: [_away_from_halves(r, (2, 3), 1.0)]),
    "ceil": (lucid.ceil, lambda r: [_away_from_halves(r, (2, 3), 1.0)]),
    "trunc": (lucid.trunc, lambda r: [_away_from_halves(r, (2, 3), 1.0)]),
    "round": (lucid.round, lambda r: [_away_from_halves(r, (2, 3), 1.0)]),
    "round_decimals": (lambda x: lucid.round(x, decimals=1),
                       lambda r: [_away_from_halves(r, (2, 3), 0.1)]),
    "clone": (lambda x: x.clone() * x, lambda r: [_r(r, (2, 3), -2, 2)]),
}


def _t(values: list) -> lucid.Tensor:
    return lucid.tensor(values, dtype=lucid.float64, requires_grad=True)


def _mod_operands(r: np.random.Generator) -> list[lucid.Tensor]:
    # x / y = k + f with f in (0.2, 0.8): away from fmod's and remainder's jumps.
    y = r.uniform(0.7, 2.0, (2, 3)) * r.choice([-1.0, 1.0], (2, 3))
    x = (r.integers(-3, 4, (2, 3)) + r.uniform(0.2, 0.8, (2, 3))) * y
    return [lucid.tensor(x, requires_grad=True), lucid.tensor(y, requires_grad=True)]


def _separated(r: np.random.Generator) -> list[lucid.Tensor]:
    x = r.standard_normal((2, 3))
    y = x + r.uniform(0.2, 1.0, (2, 3)) * r.choice([-1.0, 1.0], (2, 3))
    return [lucid.tensor(x, requires_grad=True), lucid.tensor(y, requires_grad=True)]


GRADCHECK_BINARY = {
    "add": (lucid.add, lambda r: [_r(r, (2, 3), -2, 2), _r(r, (3,), -2, 2)]),
    "add_alpha": (lambda x, y: lucid.add(x, y, alpha=-1.5),
                  lambda r: [_r(r, (2, 3), -2, 2), _r(r, (2, 3), -2, 2)]),
    "sub": (lucid.sub, lambda r: [_r(r, (2, 1), -2, 2), _r(r, (2, 3), -2, 2)]),
    "mul": (lucid.mul, lambda r: [_r(r, (2, 3), -2, 2), _r(r, (1, 3), -2, 2)]),
    "div": (lucid.div, lambda r: [_r(r, (2, 3), -2, 2), _r(r, (2, 3), 0.5, 2, signs=True)]),
    "pow": (lucid.pow, lambda r: [_r(r, (2, 3), 0.3, 2), _r(r, (2, 3), -2, 2)]),
    "pow_scalar_exp": (lambda x: x ** 3, lambda r: [_r(r, (2, 3), -2, 2)]),
    "rpow_scalar_base": (lambda x: 2.5 ** x, lambda r: [_r(r, (2, 3), -2, 2)]),
    "maximum": (lucid.maximum, _separated),
    "minimum": (lucid.minimum, _separated),
    "fmod": (lucid.fmod, _mod_operands),
    "remainder": (lucid.remainder, _mod_operands),
    "floor_divide": (lucid.floor_divide, _mod_operands),
    "div_trunc": (lambda x, y: lucid.div(x, y, rounding_mode="trunc"), _mod_operands),
    "where": (lambda x, y: lucid.where(x > 0, x, y),
              lambda r: [_r(r, (2, 3), 0.2, 2, signs=True), _r(r, (3,), -2, 2)]),
    "clamp_numbers": (lambda x: lucid.clamp(x, -0.5, 0.7),
                      lambda r: [_t([[-1.0, -0.3, 0.1], [0.6, 0.9, 2.0]])]),
    "clamp_min_only": (lambda x: lucid.clamp(x, min=0.2),
                       lambda r: [_t([-1.0, 0.1, 0.3, 2.0])]),
    "clamp_tensors": (lambda x, lo, hi: lucid.clamp(x, lo, hi),
                      lambda r: [_t([[-1.0, 0.0, 0.5], [1.2, 3.0, -2.0]]),
                                 _t([-0.5, 0.1, 0.2]), _t([[1.0], [2.0]])]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_UNARY) + sorted(GRADCHECK_BINARY))
def test_gradcheck(name: str) -> None:
    fn, build = GRADCHECK_UNARY.get(name) or GRADCHECK_BINARY[name]
    assert gradcheck(fn, build(np.random.default_rng(5)))


# name: (function, input builder); second derivatives
GRADGRAD = {
    "exp": (lucid.exp, lambda r: [_r(r, (2, 3), -1, 1)]),
    "log": (lucid.log, lambda r: [_r(r, (2, 3), 0.5, 2)]),
    "tanh": (lucid.tanh, lambda r: [_r(r, (2, 3), -1.5, 1.5)]),
    "sigmoid": (lucid.sigmoid, lambda r: [_r(r, (2, 3), -2, 2)]),
    "sqrt": (lucid.sqrt, lambda r: [_r(r, (2, 3), 0.5, 2)]),
    "erf": (lucid.erf, lambda r: [_r(r, (2, 3), -1.5, 1.5)]),
    "pow": (lucid.pow, lambda r: [_r(r, (2, 3), 0.5, 2), _r(r, (2, 3), -1.5, 1.5)]),
    "pow_scalar": (lambda x: x ** 3, lambda r: [_r(r, (2, 3), -2, 2)]),
    "div": (lucid.div, lambda r: [_r(r, (2, 3), -2, 2), _r(r, (3,), 0.5, 2, signs=True)]),
    "mul": (lucid.mul, lambda r: [_r(r, (2, 3), -2, 2), _r(r, (2, 1), -2, 2)]),
    "where": (lambda x, y: lucid.where(x > 0, x * x, lucid.sin(y) * x),
              lambda r: [_r(r, (2, 3), 0.2, 2, signs=True), _r(r, (2, 3), -2, 2)]),
    "rsqrt_reciprocal": (lambda x: lucid.rsqrt(x) + lucid.reciprocal(x),
                         lambda r: [_r(r, (2, 3), 0.5, 2)]),
    "maximum_clamp": (lambda x, y: lucid.maximum(x, y) ** 2 + lucid.clamp(x, -0.1, 0.1) * y,
                      _separated),
}


@pytest.mark.parametrize("name", sorted(GRADGRAD))
def test_gradgradcheck(name: str) -> None:
    fn, build = GRADGRAD[name]
    assert gradgradcheck(fn, build(np.random.default_rng(6)))


# ---------------------------------------------------------------- gradients vs torch.autograd


def _compare_grads(lfn, tfn, *arrays: np.ndarray, create_graph: bool = False) -> None:
    """Forward values and input gradients (for a random cotangent) of lfn vs tfn."""
    lin = [lucid.tensor(a, requires_grad=True) for a in arrays]
    tin = [_torch(a, True) for a in arrays]
    lout, tout = lfn(*lin), tfn(*tin)
    np.testing.assert_allclose(_np(lout), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(7).standard_normal(tuple(tout.shape))
    lg = lucid.autograd.grad(lout, lin, [lucid.tensor(g)], allow_unused=True)
    tg = torch.autograd.grad(tout, tin, torch.tensor(g), allow_unused=True)
    for a, b in zip(lg, tg, strict=True):
        if b is None:
            assert a is None or not np.any(_np(a))
        else:
            np.testing.assert_allclose(_np(a), b.numpy(), rtol=1e-10, atol=1e-12)


KINKS = {
    "relu_at_0": (lucid.relu, torch.relu, [np.array([-1.0, 0.0, 2.0, -0.0])]),
    "abs_at_0": (lucid.abs, torch.abs, [np.array([-1.0, 0.0, 2.0, -0.0])]),
    "maximum_ties": (lucid.maximum, torch.maximum,
                     [np.array([1.0, 2.0, 3.0, np.nan]), np.array([1.0, 0.0, 3.0, 1.0])]),
    "minimum_ties": (lucid.minimum, torch.minimum,
                     [np.array([1.0, 2.0, -3.0, 1.0]), np.array([1.0, 0.0, -3.0, np.nan])]),
    "clamp_at_bounds": (lambda x: lucid.clamp(x, 0.0, 1.0), lambda x: torch.clamp(x, 0.0, 1.0),
                        [np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan])]),
    "clamp_min_at_bound": (lambda x: lucid.clamp(x, min=0.0), lambda x: torch.clamp(x, min=0.0),
                           [np.array([-1.0, 0.0, 0.5])]),
    "clamp_max_at_bound": (lambda x: x.clamp(max=0.5), lambda x: x.clamp(max=0.5),
                           [np.array([-1.0, 0.5, 1.5, np.nan])]),
    "clamp_tensor_bounds_ties": (
        lambda x, lo, hi: lucid.clamp(x, lo, hi), lambda x, lo, hi: torch.clamp(x, lo, hi),
        [np.array([0.0, 1.0, 0.5, -2.0, 3.0, 0.7]), np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.9]),
         np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.4])]),
    "pow_base_0": (lucid.pow, torch.pow,
                   [np.array([0.0, 0.0, 0.0, 2.0, 0.0]), np.array([0.0, 2.0, 1.0, 0.0, 0.5])]),
    "pow_neg_base_int_exp": (lucid.pow, torch.pow,
                             [np.array([-2.0, -1.5]), np.array([2.0, 3.0])]),
    "floor": (lucid.floor, torch.floor, [np.array([-1.5, 0.0, 2.7])]),
    "ceil": (lucid.ceil, torch.ceil, [np.array([-1.5, 0.0, 2.7])]),
    "round": (lucid.round, torch.round, [np.array([-1.5, 0.5, 2.7])]),
    "trunc": (lucid.trunc, torch.trunc, [np.array([-1.5, 0.5, 2.7])]),
    "sign": (lucid.sign, torch.sign, [np.array([-1.5, 0.0, 2.7])]),
    "floor_div_mode": (lambda x, y: lucid.div(x, y, rounding_mode="floor"),
                       lambda x, y: torch.div(x, y, rounding_mode="floor"),
                       [np.array([-3.5, 2.0]), np.array([2.0, 0.75])]),
    "trunc_div_mode": (lambda x, y: lucid.div(x, y, rounding_mode="trunc"),
                       lambda x, y: torch.div(x, y, rounding_mode="trunc"),
                       [np.array([-3.5, 2.0]), np.array([2.0, 0.75])]),
    "where_scalar": (lambda x: lucid.where(x > 0, x, 0.0), lambda x: torch.where(x > 0, x, 0.0),
                     [np.array([-1.0, 0.0, 2.0])]),
    "sqrt_at_0": (lucid.sqrt, torch.sqrt, [np.array([0.0, 4.0])]),
    "log_at_0": (lucid.log, torch.log, [np.array([0.0, 4.0])]),
}


@pytest.mark.parametrize("name", sorted(KINKS))
def test_kink_conventions_match_torch(name: str) -> None:
    lfn, tfn, arrays = KINKS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _compare_grads(lfn, tfn, *arrays)


def test_piecewise_constant_outputs_require_grad() -> None:
    x = lucid.tensor([-1.5, 0.5, 2.7], requires_grad=True)
    for f in (lucid.floor, lucid.ceil, lucid.round, lucid.trunc, lucid.sign,
              lambda t: lucid.round(t, decimals=1), lambda t: t // 2):
        out = f(x)
        assert out.requires_grad and out.grad_fn is not None
        (g,) = lucid.autograd.grad(out.sum(), [x])
        assert _np(g).tolist() == [0.0, 0.0, 0.0]


# Each composition is written once against a namespace: lucid or torch.
COMPOSITIONS = {
    "smooth": lambda ns, x, y: (
        (x.sigmoid() * y.tanh() + (x * x + 1).log() - y.exp() / (1 + x.abs())).clamp(-2, 2) ** 2),
    "rational": lambda ns, x, y: (x - 2) / (y * y + 1) + 3 / (x * x + 2) - 1.5 ** y,
    "select": lambda ns, x, y: ns.where(x > y, x.sin(), y.cos() * x) + ns.clamp(x, min=0.1),
    "special": lambda ns, x, y: (ns.erf(x) * ns.expm1(y * 0.5) + ns.log1p(x * x)
                                 + ns.rsqrt(y * y + 1) + ns.reciprocal(2 + x.sin())),
    "broadcast_chain": lambda ns, x, y: ((x * y - y.sqrt() + x.relu()).square()
                                         - ns.minimum(x, y) + ns.maximum(y, x) * x
                                         + ns.fmod(x, 1.7) + ns.remainder(y, 0.9)),
    "shared_input": lambda ns, x, y: (x * x * x + x / (1 + x * x) - ns.pow(x.abs() + 1, x)
                                      + 2 ** x - 1 / x + ns.sigmoid(-x) * ns.sign(x)),
}


@pytest.mark.parametrize("name", sorted(COMPOSITIONS))
def test_compositions_match_torch(name: str) -> None:
    fn = COMPOSITIONS[name]
    rng = np.random.default_rng(8)
    x = rng.uniform(0.3, 2.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    y = rng.uniform(0.3, 2.0, (4,))
    _compare_grads(lambda a, b: fn(lucid, a, b), lambda a, b: fn(torch, a, b), x, y)


def test_double_backward_matches_torch() -> None:
    x = np.array([0.3, -1.2, 2.0])
    y = np.array([1.5, 0.7, 0.4])

    def f(a, b):
        return (a * b).sigmoid() * (b ** a) + (a / b).tanh() * a.exp()

    lx, ly = lucid.tensor(x, requires_grad=True), lucid.tensor(y, requires_grad=True)
    tx, ty = _torch(x, True), _torch(y, True)
    lgx, lgy = lucid.autograd.grad(f(lx, ly).sum(), [lx, ly], create_graph=True)
    tgx, tgy = torch.autograd.grad(f(tx, ty).sum(), [tx, ty], create_graph=True)
    np.testing.assert_allclose(_np(lgx), tgx.detach().numpy(), rtol=1e-10)
    lh = lucid.autograd.grad((lgx * lgy).sum(), [lx, ly])
    th = torch.autograd.grad((tgx * tgy).sum(), [tx, ty])
    for a, b in zip(lh, th, strict=True):
        np.testing.assert_allclose(_np(a), b.numpy(), rtol=1e-10)


@pytest.mark.parametrize("dtype", [lucid.float32, lucid.float16])
def test_gradient_dtypes_follow_inputs(dtype: lucid.DType) -> None:
    x = lucid.tensor([0.5, 1.0, 2.0], dtype=dtype, requires_grad=True)
    y = lucid.tensor([1.5, 0.5, 1.0], dtype=lucid.float64, requires_grad=True)
    out = (x * y).exp() + x ** 2 + lucid.where(x > 1, x, y) + lucid.clamp(x, 0.7, 1.5) / y
    assert out.dtype is lucid.float64
    gx, gy = lucid.autograd.grad(out.sum(), [x, y])
    assert gx.dtype is dtype and gy.dtype is lucid.float64
    tx = torch.tensor([0.5, 1.0, 2.0], dtype=getattr(torch, dtype.name), requires_grad=True)
    ty = torch.tensor([1.5, 0.5, 1.0], dtype=torch.float64, requires_grad=True)
    tout = (tx * ty).exp() + tx ** 2 + torch.where(tx > 1, tx, ty) + torch.clamp(tx, 0.7, 1.5) / ty
    tgx, tgy = torch.autograd.grad(tout.sum(), [tx, ty])
    rtol = 1e-2 if dtype is lucid.float16 else 1e-5
    np.testing.assert_allclose(_np(gx).astype(np.float64), tgx.double().numpy(), rtol=rtol)
    np.testing.assert_allclose(_np(gy), tgy.numpy(), rtol=rtol)
