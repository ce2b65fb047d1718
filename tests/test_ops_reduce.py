"""Tests for lucid.ops.reduce: sum, mean, prod, max/min, amax/amin, argmax/argmin, var/std,
logsumexp, norm, cumsum/cumprod, all/any, count_nonzero, take_along/put_along_add.

Forward results are compared with NumPy (or torch where torch's semantics are the spec: var
corrections, norms), gradients with finite differences (lucid.testing.gradcheck, float64) and
with torch.autograd, including ties, zeros and infinities.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid
from lucid.errors import DTypeError, ShapeError
from lucid.ops import reduce as red
from lucid.testing import GradcheckError, gradcheck, gradgradcheck

SETTINGS = settings(max_examples=25, deadline=None)
DTYPES = ["float32", "float64", "int64", "bool"]


# --------------------------------------------------------------------------- helpers


def make_array(shape: tuple[int, ...], dtype: str, seed: int, *, ties: bool = False
               ) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype == "int64":
        return rng.integers(-5, 6, size=shape).astype(np.int64)
    if ties:  # few distinct values, so maxima are often tied
        return rng.integers(-2, 3, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@st.composite
def reductions(draw: Any, *, tuples: bool = True, none: bool = True) -> tuple:
    """(shape, dim, keepdim, seed): shapes of 0-4 dims of sizes 1-4; dim None, an int
    (possibly negative) or a tuple (possibly negative entries, possibly empty = all)."""
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    kinds = ["int"] + (["none"] if none else []) + (["tuple"] if tuples else [])
    kind = draw(st.sampled_from(kinds))
    n = max(ndim, 1)
    if kind == "none":
        dim: Any = None
    elif kind == "int":
        dim = draw(st.integers(-n, n - 1))
    else:
        dims = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)) if ndim \
            else []
        dim = tuple(d - ndim if draw(st.booleans()) else d for d in dims)
    return shape, dim, draw(st.booleans()), draw(st.integers(0, 2**16))


def np_axis(dim: Any, ndim: int) -> Any:
    """The NumPy ``axis`` for a PyTorch ``dim`` (None and () reduce everything)."""
    if dim is None or ndim == 0:
        return None
    if isinstance(dim, int):
        return dim
    return None if len(dim) == 0 else tuple(dim)


def to_torch(a: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, requires_grad=requires_grad)


def assert_close(got: lucid.Tensor, want: Any, *, rtol: float = 1e-6, atol: float = 1e-9,
                 dtype: Any = None) -> None:
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    g = got.detach().numpy()
    assert g.shape == want.shape, (g.shape, want.shape)
    if dtype is not None:
        assert got.dtype == dtype, (got.dtype, dtype)
    if g.dtype.kind in "biu":
        np.testing.assert_array_equal(g, want)
    else:
        np.testing.assert_allclose(g, want, rtol=rtol, atol=atol, equal_nan=True)


def grad_vs_torch(lfn: Any, tfn: Any, x_np: np.ndarray, seed: int = 0, *, rtol: float = 1e-7,
                  atol: float = 1e-10) -> None:
    """Compare the VJP of ``lfn`` at ``x_np`` (float64) with torch's for a random cotangent."""
    x = lucid.tensor(x_np, requires_grad=True)
    out = lfn(x)
    g = np.random.default_rng(seed).standard_normal(tuple(out.shape))
    (lg,) = lucid.autograd.grad([out], [x], [lucid.tensor(g)])
    xt = to_torch(x_np, True)
    (tg,) = torch.autograd.grad(tfn(xt), xt, torch.tensor(g))
    assert_close(out, tfn(to_torch(x_np)), rtol=rtol, atol=atol)
    np.testing.assert_allclose(lg.numpy(), tg.numpy(), rtol=rtol, atol=atol, equal_nan=True)


def leaf(a: Any) -> lucid.Tensor:
    return lucid.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


# --------------------------------------------------------------------------- forward vs NumPy


@SETTINGS
@given(case=reductions(), dtype=st.sampled_from(DTYPES))
def test_sum_prod_forward(case: tuple, dtype: str) -> None:
    shape, dim, keepdim, seed = case
    a = make_array(shape, dtype, seed)
    x = lucid.tensor(a)
    ax = np_axis(dim, a.ndim)
    acc = a.dtype if dtype.startswith("float") else np.int64  # ints and bools sum in int64
    want_dtype = lucid.int64 if acc is np.int64 else x.dtype
    assert_close(lucid.sum(x, dim, keepdim), np.sum(a, ax, dtype=acc, keepdims=keepdim),
                 rtol=1e-5, dtype=want_dtype)
    assert_close(x.prod(dim, keepdim), np.prod(a, ax, dtype=acc, keepdims=keepdim),
                 rtol=1e-5, dtype=want_dtype)
    assert_close(lucid.count_nonzero(x, dim),
                 np.count_nonzero(a, axis=ax) if a.ndim else np.asarray(int(a != 0)),
                 dtype=lucid.int64)


@SETTINGS
@given(case=reductions(), dtype=st.sampled_from(["float32", "float64"]))
def test_mean_forward(case: tuple, dtype: str) -> None:
    shape, dim, keepdim, seed = case
    a = make_array(shape, dtype, seed)
    got = lucid.tensor(a).mean(dim, keepdim)
    assert_close(got, np.mean(a, np_axis(dim, a.ndim), keepdims=keepdim), rtol=1e-5,
                 dtype=lucid.tensor(a).dtype)


@SETTINGS
@given(case=reductions(), dtype=st.sampled_from(DTYPES), ties=st.booleans())
def test_amax_amin_forward(case: tuple, dtype: str, ties: bool) -> None:
    shape, dim, keepdim, seed = case
    a = make_array(shape, dtype, seed, ties=ties)
    x = lucid.tensor(a)
    ax = np_axis(dim, a.ndim)
    assert_close(lucid.amax(x, dim, keepdim), np.max(a, ax, keepdims=keepdim), dtype=x.dtype)
    assert_close(x.amin(dim, keepdim), np.min(a, ax, keepdims=keepdim), dtype=x.dtype)
    if dim is None:
        assert_close(lucid.max(x), np.max(a), dtype=x.dtype)
        assert_close(x.min(), np.min(a), dtype=x.dtype)


@SETTINGS
@given(case=reductions(tuples=False), dtype=st.sampled_from(DTYPES), ties=st.booleans())
def test_argmax_argmin_and_max_dim_forward(case: tuple, dtype: str, ties: bool) -> None:
    shape, dim, keepdim, seed = case
    a = make_array(shape, dtype, seed, ties=ties)
    x = lucid.tensor(a)
    for name in ("max", "min"):
        np_arg = getattr(np, "arg" + name)
        got = getattr(lucid, "arg" + name)(x, dim, keepdim)
        if dim is None:
            want = np.asarray(np_arg(a))  # the index into the flattened tensor
            if keepdim:
                want = want.reshape((1,) * a.ndim)
        else:
            want = np.asarray(np_arg(a.reshape(-1) if a.ndim == 0 else a, axis=dim % max(a.ndim, 1),
                                     keepdims=keepdim and a.ndim > 0))
        assert_close(got, want, dtype=lucid.int64)
        if dim is not None:
            values, indices = getattr(x, name)(dim, keepdim)
            assert_close(indices, want, dtype=lucid.int64)
            red = getattr(np, name)
            assert_close(values, red(a, np_axis(dim, a.ndim), keepdims=keepdim), dtype=x.dtype)
            # Compared with torch too: first occurrence among ties.
            if dtype != "bool":
                tv, ti = getattr(torch, name)(to_torch(a), dim, keepdim)
                assert_close(indices, ti)
                assert_close(values, tv)


@SETTINGS
@given(case=reductions(), dtype=st.sampled_from(DTYPES))
def test_all_any_forward(case: tuple, dtype: str) -> None:
    shape, dim, keepdim, seed = case
    a = make_array(shape, dtype, seed)
    if dtype.startswith("float"):
        a = np.where(np.abs(a) < 0.5, 0, a).astype(dtype)  # some zeros
    x = lucid.tensor(a)
    ax = np_axis(dim, a.ndim)
    assert_close(lucid.all(x, dim, keepdim), np.all(a, ax, keepdims=keepdim),
                 dtype=lucid.bool_)
    assert_close(x.any(dim, keepdim), np.any(a, ax, keepdims=keepdim), dtype=lucid.bool_)


@SETTINGS
@given(case=reductions(), correction=st.sampled_from([None, 0, 1, 2, 0.5]))
def test_var_std_forward_vs_torch(case: tuple, correction: Any) -> None:
    shape, dim, keepdim, seed = case
    a = make_array(shape, "float64", seed)
    x, t = lucid.tensor(a), to_torch(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns when N - correction <= 0
        for name in ("var", "std"):
            got = getattr(lucid, name)(x, dim, keepdim=keepdim, correction=correction)
            want = getattr(torch, name)(t, dim, keepdim=keepdim, correction=correction)
            assert_close(got, want, rtol=1e-10)
            gv, gm = getattr(lucid, name + "_mean")(x, dim, keepdim=keepdim,
                                                   correction=correction)
            tv, tm = getattr(torch, name + "_mean")(t, dim, keepdim=keepdim,
                                                   correction=correction)
            assert_close(gv, tv, rtol=1e-10)
            assert_close(gm, tm, rtol=1e-10)


def test_var_unbiased_overloads() -> None:
    a = make_array((3, 4), "float64", 1)
    x, t = lucid.tensor(a), to_torch(a)
    assert_close(x.var(), t.var())
    assert_close(x.var(False), t.var(False))
    assert_close(x.var(0, False), t.var(0, False))
    assert_close(x.std(1, True, True), t.std(1, True, True))
    assert_close(x.var(1, correction=0), np.var(a, 1))
    assert_close(lucid.var(x, 1, correction=3), np.var(a, 1, ddof=3))
    with pytest.raises(TypeError, match=r"unbiased.*correction"):
        lucid.var(x, 0, False, correction=0)


@SETTINGS
@given(case=reductions(), dtype=st.sampled_from(["float32", "float64"]))
def test_logsumexp_forward(case: tuple, dtype: str) -> None:
    shape, dim, keepdim, seed = case
    # np.asarray: 0-d arithmetic gives a NumPy scalar, which lucid.tensor reads as a Python
    # float (default dtype); see the report on tensor._infer_array.
    a = np.asarray(make_array(shape, dtype, seed) * 30)
    got = lucid.logsumexp(lucid.tensor(a), dim, keepdim)
    ax = np_axis(dim, a.ndim)
    m = np.max(a, ax, keepdims=True)
    want = np.log(np.sum(np.exp(a - m), ax, keepdims=True)) + m
    if not keepdim:
        want = want.reshape(got.shape)
    assert_close(got, want, rtol=1e-5 if dtype == "float32" else 1e-12, dtype=got.dtype)


def test_logsumexp_extremes_like_torch() -> None:
    inf = math.inf
    a = np.array([[1e4, 1e4, 0.0], [-inf, -inf, -inf], [inf, 1.0, 2.0], [inf, -inf, 0.0],
                  [math.nan, 1.0, 2.0], [-1e4, -1e4, -inf]])
    for dtype in ("float32", "float64"):
        got = lucid.logsumexp(lucid.tensor(a.astype(dtype)), 1)
        assert_close(got, torch.logsumexp(to_torch(a.astype(dtype)), 1))
    assert got[0].item() == pytest.approx(1e4 + math.log(2))
    # Integers are cast to the default float dtype; empty reductions give -inf.
    got = lucid.logsumexp(lucid.tensor([1, 2, 3]), 0)
    assert got.dtype == lucid.float32
    assert_close(got, torch.logsumexp(torch.tensor([1, 2, 3]), 0))
    assert lucid.logsumexp(lucid.zeros(0), 0).item() == -inf
    assert_close(lucid.logsumexp(lucid.zeros(2, 0), 1, keepdim=True), np.full((2, 1), -inf))
    # Large inputs keep a finite softmax gradient.
    x = leaf([1e4, 1e4, 1e4 - math.log(2)])
    lucid.logsumexp(x, 0).backward()
    assert_close(x.grad, [0.4, 0.4, 0.2], rtol=1e-12)


@SETTINGS
@given(case=reductions(), p=st.sampled_from([2, 1, 3, 0.5, -1, 0, math.inf, -math.inf, "fro"]))
def test_norm_forward_vs_torch(case: tuple, p: Any) -> None:
    shape, dim, keepdim, seed = case
    a = make_array(shape, "float64", seed)
    a[np.abs(a) < 0.3] = 0.0  # zero elements matter for p = 0 and negative p
    with np.errstate(all="ignore"):
        got = lucid.tensor(a).norm(p, dim, keepdim)
    # torch.norm's 'fro' insists on 1 or 2 dims; over any dims it is the vector 2-norm.
    tdim = None if a.ndim == 0 or (dim is not None and np_axis(dim, a.ndim) is None) else dim
    want = torch.linalg.vector_norm(to_torch(a), 2 if p == "fro" else p, tdim, keepdim)
    assert_close(got, want, rtol=1e-10)


@SETTINGS
@given(case=reductions(tuples=False, none=False), dtype=st.sampled_from(DTYPES))
def test_cumsum_cumprod_forward(case: tuple, dtype: str) -> None:
    shape, dim, _, seed = case
    a = make_array(shape, dtype, seed)
    x = lucid.tensor(a)
    acc = a.dtype if dtype.startswith("float") else np.int64
    want_dtype = lucid.int64 if acc is np.int64 else x.dtype
    flat = a.reshape(-1) if a.ndim == 0 else a
    ax = dim % max(a.ndim, 1)
    assert_close(x.cumsum(dim), np.cumsum(flat, ax, dtype=acc).reshape(a.shape), rtol=1e-5,
                 dtype=want_dtype)
    assert_close(lucid.cumprod(x, dim), np.cumprod(flat, ax, dtype=acc).reshape(a.shape),
                 rtol=1e-5, dtype=want_dtype)


# --------------------------------------------------------------------------- dtypes and semantics


def test_result_dtypes() -> None:
    b = lucid.tensor([True, False, True])
    i32 = lucid.tensor(np.array([1, 2, 3], dtype=np.int32))
    f = lucid.tensor([1.5, 2.5])
    assert b.sum().dtype == lucid.int64 and b.sum().item() == 2
    assert i32.sum().dtype == lucid.int64
    assert b.prod().dtype == lucid.int64
    assert lucid.cumsum(i32, 0).dtype == lucid.int64
    assert lucid.cumsum(b, 0).tolist() == [1, 1, 2]
    assert lucid.cumprod(i32, 0).dtype == lucid.int64
    assert i32.amax().dtype == lucid.int32 and i32.max().dtype == lucid.int32
    assert b.amax().dtype == lucid.bool_
    assert i32.argmax().dtype == lucid.int64
    assert f.sum(dtype=lucid.int32).dtype == lucid.int32
    assert f.sum(dtype=lucid.int32).item() == 3  # cast first, then sum (as torch)
    assert f.sum(dtype=lucid.float64).dtype == lucid.float64
    assert f.prod(dtype=lucid.float64).dtype == lucid.float64
    assert i32.mean(dtype=lucid.float64).dtype == lucid.float64
    assert i32.mean(dtype=lucid.float64).item() == 2.0
    assert lucid.cumsum(f, 0, dtype=lucid.float64).dtype == lucid.float64
    assert lucid.all(f).dtype == lucid.bool_ and lucid.any(i32).dtype == lucid.bool_
    assert lucid.count_nonzero(f).dtype == lucid.int64
    assert lucid.norm(i32, dtype=lucid.float64).dtype == lucid.float64
    assert lucid.norm(f.to(lucid.float16)).dtype == lucid.float16


def test_zero_dim_tensors() -> None:
    x = lucid.tensor(3.0)
    for dim in (0, -1, None, ()):
        assert_close(x.sum(dim), 3.0)
        assert_close(x.sum(dim, keepdim=True), 3.0)
        assert_close(x.mean(dim), 3.0)
        assert_close(x.amax(dim), 3.0)
        assert_close(x.prod(dim), 3.0)
        assert_close(lucid.logsumexp(x, dim), 3.0)
    v, i = x.max(0)
    assert v.shape == () and i.shape == () and v.item() == 3.0 and i.item() == 0
    v, i = x.min(-1, keepdim=True)
    assert v.shape == () and i.item() == 0
    assert x.argmax().item() == 0 and x.argmin(0).item() == 0
    assert_close(x.cumsum(0), 3.0)
    assert_close(lucid.cumprod(x, -1), 3.0)
    assert x.all().item() and x.any(0).item()
    assert math.isnan(x.var().item()) and x.var(correction=0).item() == 0.0
    with pytest.raises(IndexError, match=r"\[-1, 0\]"):
        x.sum(1)
    with pytest.raises(IndexError, match=r"\[-1, 0\]"):
        x.max(1)
    # Gradients flow through the 0-d paths too.
    w = leaf(2.0)
    (g,) = lucid.autograd.grad([w.max(0).values + w.cumsum(0) + w.prod(0)], [w])
    assert g.item() == 3.0


def test_empty_reductions() -> None:
    e = lucid.zeros(0)
    e23 = lucid.zeros(0, 3)
    assert e.sum().item() == 0 and e.prod().item() == 1
    assert math.isnan(e.mean().item())
    assert lucid.all(e).item() is True and lucid.any(e).item() is False
    assert e.norm().item() == 0.0
    assert lucid.count_nonzero(e).item() == 0
    assert e23.sum(0).tolist() == [0.0, 0.0, 0.0]
    assert e23.prod(0).tolist() == [1.0, 1.0, 1.0]
    assert e23.amax(1).shape == (0,)
    v, i = e23.max(1)
    assert v.shape == (0,) and i.shape == (0,) and i.dtype == lucid.int64
    assert e23.argmax(1).shape == (0,)
    with pytest.raises(IndexError, match="reduction dim 0 to have non-zero size"):
        e23.amax(0)
    with pytest.raises(IndexError, match="reduction dim 0 to have non-zero size"):
        e23.max(0)
    with pytest.raises(IndexError, match="non-zero size"):
        lucid.amin(e)
    with pytest.raises(IndexError, match="numel\\(\\) == 0"):
        e.max()
    with pytest.raises(IndexError, match="numel\\(\\) == 0"):
        e23.argmin()
    # Gradients of empty reductions are empty.
    x = lucid.zeros(0, 3, dtype=lucid.float64, requires_grad=True)
    (g,) = lucid.autograd.grad([x.prod(0)], [x])
    assert g.shape == (0, 3)


def test_dim_empty_tuple_means_all_dims() -> None:
    a = make_array((2, 3), "float64", 3)
    x, t = lucid.tensor(a), to_torch(a)
    for name in ("sum", "mean", "amax", "amin", "var"):
        assert_close(getattr(x, name)(()), getattr(t, name)(()))
        assert_close(getattr(x, name)([], keepdim=True), getattr(t, name)([], keepdim=True))
    assert_close(x.argmax(keepdim=True), t.argmax(keepdim=True))


def test_nan_propagation_like_torch() -> None:
    nan = math.nan
    a = np.array([[1.0, nan, 3.0], [4.0, 5.0, 6.0], [nan, nan, 0.0]])
    x, t = lucid.tensor(a), to_torch(a)
    for name in ("max", "min"):
        v, i = getattr(x, name)(1)
        tv, ti = getattr(t, name)(1)
        assert_close(v, tv)
        assert_close(i, ti)
        assert_close(getattr(x, name)(), getattr(t, name)())
        assert_close(getattr(x, "a" + name)(0), getattr(t, "a" + name)(0))
        assert_close(getattr(x, "arg" + name)(), getattr(t, "arg" + name)())
        assert_close(getattr(x, "arg" + name)(0), getattr(t, "arg" + name)(0))
    assert_close(x.sum(1), t.sum(1))
    assert_close(lucid.all(x, 1), torch.all(t, 1))  # NaN is truthy


def test_max_min_with_tensor_is_elementwise() -> None:
    x = lucid.tensor([1.0, 5.0, 3.0])
    y = lucid.tensor([2.0, 4.0, 3.0])
    assert lucid.max(x, y).tolist() == [2.0, 5.0, 3.0]
    assert lucid.min(x, y).tolist() == [1.0, 4.0, 3.0]


def test_max_returns_named_tuple() -> None:
    x = lucid.tensor([[1.0, 7.0], [3.0, 2.0]])
    out = x.max(1)
    assert isinstance(out, red.ValuesIndices) and isinstance(out, tuple)
    assert out.values.tolist() == [7.0, 3.0] and out.indices.tolist() == [1, 0]
    values, indices = lucid.min(x, 0, keepdim=True)
    assert values.tolist() == [[1.0, 2.0]] and indices.tolist() == [[0, 1]]
    assert "values=" in repr(out)


# --------------------------------------------------------------------------- errors


def test_error_messages() -> None:
    x = lucid.ones(2, 3)
    with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 3"):
        x.sum(3)
    with pytest.raises(IndexError, match=r"\[-2, 1\].*-3"):
        lucid.amax(x, (0, -3))
    with pytest.raises(IndexError, match=r"\[-2, 1\]"):
        x.argmax(2)
    with pytest.raises(IndexError, match=r"\[-2, 1\]"):
        x.cumsum(5)
    with pytest.raises(ValueError, match="more than once"):
        x.sum((0, -2))
    with pytest.raises(DTypeError, match=r"mean.*int64"):
        lucid.tensor([1, 2]).mean()
    with pytest.raises(DTypeError, match=r"mean.*dtype"):
        x.mean(dtype=lucid.int64)
    with pytest.raises(DTypeError, match="var"):
        lucid.tensor([1, 2]).var()
    with pytest.raises(DTypeError, match="norm"):
        lucid.tensor([1, 2]).norm()
    with pytest.raises(TypeError, match="amax"):
        x.max((0, 1))
    with pytest.raises(ValueError, match="nuc"):
        x.norm("nuc")
    with pytest.raises(TypeError, match="dim"):
        x.sum(1.0)
    # Primitives check their operands too (the public functions normalize for them).
    with pytest.raises(ShapeError, match="axes"):
        red.sum_p.bind(x, axes=(1, 0), keepdims=False)
    with pytest.raises(DTypeError, match="bool"):
        red.all_p.bind(x, axes=(0,), keepdims=False)
    with pytest.raises(ShapeError, match="exactly one axis"):
        red.argmax_p.bind(x, axes=(0, 1), keepdims=False)


# --------------------------------------------------------------------------- gradients


@SETTINGS
@given(case=reductions())
def test_gradcheck_sum_mean_prod_var_logsumexp(case: tuple) -> None:
    shape, dim, keepdim, seed = case
    x = lucid.tensor(make_array(shape, "float64", seed), requires_grad=True)
    gradcheck(lambda a: a.sum(dim, keepdim), [x])
    gradcheck(lambda a: a.mean(dim, keepdim), [x])
    gradcheck(lambda a: a.prod(dim, keepdim), [x])
    gradcheck(lambda a: lucid.logsumexp(a, dim, keepdim), [x])
    gradcheck(lambda a: lucid.amax(a, dim, keepdim) + lucid.amin(a, dim, keepdim), [x])
    if x.numel() // max(lucid.tensor(np.zeros(shape)).sum(dim, keepdim).numel(), 1) > 1:
        gradcheck(lambda a: a.var(dim, keepdim=keepdim), [x])
        gradcheck(lambda a: a.std(dim, keepdim=keepdim, correction=0), [x])


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, -1.5, math.inf, -math.inf, "fro"])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
def test_gradcheck_norm(p: Any, dim: Any) -> None:
    x = lucid.tensor(make_array((2, 3, 2), "float64", 7), requires_grad=True)
    gradcheck(lambda a: a.norm(p, dim), [x])
    grad_vs_torch(lambda a: a.norm(p, dim), lambda a: torch.norm(a, p, dim), x.detach().numpy())


def test_norm_gradients_at_zero_like_torch() -> None:
    zero = np.zeros((2, 3))
    for p in (2, "fro", 1, 3, 0.5, 1.5, math.inf):
        x = leaf(zero)
        (g,) = lucid.autograd.grad([x.norm(p)], [x])
        assert_close(g, np.zeros((2, 3)))
    # Zero elements inside a non-zero vector: gradient 0 there for every positive p.
    a = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 0.0]])
    for p in (2, 1, 3, 0.5, 1.5):
        grad_vs_torch(lambda t, p=p: t.norm(p, 1), lambda t, p=p: torch.norm(t, p, 1), a)


def test_prod_gradients_with_zeros() -> None:
    one_zero = np.array([[2.0, 0.0, 3.0, -1.5], [1.0, 2.0, 3.0, 4.0]])
    two_zeros = np.array([[2.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.5]])
    for a in (one_zero, two_zeros):
        for dim in (None, 0, 1, (0, 1)):
            x = leaf(a)
            gradcheck(lambda t, dim=dim: t.prod(dim), [x])
            gradgradcheck(lambda t, dim=dim: t.prod(dim), [x])
        for dim in (0, 1):
            grad_vs_torch(lambda t, dim=dim: t.prod(dim), lambda t, dim=dim: t.prod(dim), a)
        grad_vs_torch(lambda t: t.prod(), lambda t: t.prod(), a)
    x = leaf(one_zero[0])
    x.prod().backward()
    assert x.grad.tolist() == [0.0, -9.0, 0.0, 0.0]  # only the zero gets the product of others


def test_cumsum_cumprod_gradients() -> None:
    a = make_array((3, 4), "float64", 11)
    with_zeros = np.array([[1.5, 0.0, 2.0, 0.0, 3.0], [0.0, 2.0, -1.0, 1.0, 0.5]])
    for dim in (0, 1, -1):
        x = leaf(a)
        gradcheck(lambda t, dim=dim: t.cumsum(dim), [x])
        gradgradcheck(lambda t, dim=dim: t.cumsum(dim), [x])
        gradcheck(lambda t, dim=dim: lucid.cumprod(t, dim), [x])
        gradgradcheck(lambda t, dim=dim: lucid.cumprod(t, dim), [x])
        grad_vs_torch(lambda t, dim=dim: lucid.cumprod(t, dim),
                      lambda t, dim=dim: torch.cumprod(t, dim), a)
        grad_vs_torch(lambda t, dim=dim: t.cumsum(dim), lambda t, dim=dim: t.cumsum(dim), a)
    # The first derivative is exact with zeros (documented); compare with torch as well.
    for dim in (0, 1):
        gradcheck(lambda t, dim=dim: lucid.cumprod(t, dim), [leaf(with_zeros)])
        grad_vs_torch(lambda t, dim=dim: lucid.cumprod(t, dim),
                      lambda t, dim=dim: torch.cumprod(t, dim), with_zeros)


@SETTINGS
@given(case=reductions(), ties=st.booleans())
def test_gradients_vs_torch(case: tuple, ties: bool) -> None:
    shape, dim, keepdim, seed = case
    a = make_array(shape, "float64", seed, ties=ties)
    # torch.logsumexp rejects dim=(), so torch always gets the explicit list of dims.
    tdim = dim if np_axis(dim, a.ndim) is not None else tuple(range(a.ndim))
    ops = [
        (lambda x: x.sum(dim, keepdim), lambda t: t.sum(tdim, keepdim)),
        (lambda x: x.mean(dim, keepdim), lambda t: t.mean(tdim, keepdim)),
        (lambda x: lucid.amax(x, dim, keepdim), lambda t: torch.amax(t, tdim, keepdim)),
        (lambda x: lucid.amin(x, dim, keepdim), lambda t: torch.amin(t, tdim, keepdim)),
        (lambda x: lucid.logsumexp(x, dim, keepdim), lambda t: torch.logsumexp(t, tdim, keepdim)),
        (lambda x: x.norm(2, dim, keepdim), lambda t: torch.norm(t, 2, tdim, keepdim)),
        (lambda x: x.norm(math.inf, dim, keepdim), lambda t: torch.norm(t, math.inf, tdim,
                                                                         keepdim)),
    ]
    if not ties:  # products of ties are fine, but keep the values away from 0 here
        ops.append((lambda x: x.prod(dim, keepdim),
                    lambda t: t.prod() if dim is None and not keepdim else
                    _torch_prod(t, tdim, keepdim)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ops.append((lambda x: x.var(dim, keepdim=keepdim, correction=0),
                    lambda t: t.var(tdim, keepdim=keepdim, correction=0)))
        ops.append((lambda x: x.std(dim, keepdim=keepdim),
                    lambda t: t.std(tdim, keepdim=keepdim)))
        for k, (lfn, tfn) in enumerate(ops):
            grad_vs_torch(lfn, tfn, a, seed + k, rtol=1e-7, atol=1e-9)
    if dim is None:  # full max/min: ties share the gradient evenly
        grad_vs_torch(lambda x: x.max(), lambda t: t.max(), a, seed)
        grad_vs_torch(lambda x: lucid.min(x), lambda t: torch.min(t), a, seed)
    elif isinstance(dim, int):  # max(dim): the gradient goes to the selected index only
        grad_vs_torch(lambda x: x.max(dim, keepdim).values,
                      lambda t: t.max(dim, keepdim).values, a, seed)
        grad_vs_torch(lambda x: x.min(dim, keepdim)[0], lambda t: t.min(dim, keepdim)[0], a,
                      seed)


def _torch_prod(t: torch.Tensor, dims: Any, keepdim: bool) -> torch.Tensor:
    """torch.prod takes one dim: reduce several one at a time (from the last)."""
    dims = [dims] if isinstance(dims, int) else sorted((d % max(t.ndim, 1) for d in dims),
                                                         reverse=True)
    if t.ndim == 0:
        return t
    if not dims:  # () means all
        dims = list(range(t.ndim - 1, -1, -1))
    for d in dims:
        t = t.prod(d, keepdim=keepdim)
    return t


def test_tie_gradients() -> None:
    a = np.array([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]])
    x = leaf(a)
    lucid.amax(x, 1).sum().backward()
    assert_close(x.grad, [[0.5, 0.0, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    x = leaf(a)
    x.max(1).values.sum().backward()
    assert_close(x.grad, [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])  # the first maximum only
    x = leaf(a)
    x.max().backward()
    assert_close(x.grad, [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])
    x = leaf(a)
    x.norm(math.inf).backward()
    t = to_torch(a, True)
    t.norm(math.inf).backward()
    assert_close(x.grad, t.grad)
    # A NaN maximum sends the gradient to the NaN element(s), as torch's full max() does.
    b = np.array([1.0, math.nan, 2.0, math.nan])
    grad_vs_torch(lambda v: v.max(), lambda v: v.max(), b)
    grad_vs_torch(lambda v: v.max(0).values, lambda v: v.max(0).values, b)


def test_gradgradcheck() -> None:
    a = make_array((2, 3), "float64", 5)
    zeros = np.array([[1.5, 0.0, 2.0], [0.0, 0.0, -1.0]])
    for dim in (None, 0, 1):
        x = leaf(a)
        gradgradcheck(lambda t, dim=dim: t.sum(dim), [x])
        gradgradcheck(lambda t, dim=dim: t.mean(dim), [x])
        gradgradcheck(lambda t, dim=dim: t.var(dim), [x])
        gradgradcheck(lambda t, dim=dim: t.std(dim, correction=0), [x])
        gradgradcheck(lambda t, dim=dim: lucid.logsumexp(t, dim), [x])
        gradgradcheck(lambda t, dim=dim: t.prod(dim), [x])
        gradgradcheck(lambda t, dim=dim: t.prod(dim), [leaf(zeros)])
        gradgradcheck(lambda t, dim=dim: t.norm(2, dim), [x])
        gradgradcheck(lambda t, dim=dim: t.norm(3, dim), [x])
        gradgradcheck(lambda t, dim=dim: lucid.amax(t, dim), [x])
    # Double backward of var / logsumexp also matches torch's Hessian-vector product.
    for lfn, tfn in [(lambda t: t.var(1), lambda t: t.var(1)),
                     (lambda t: lucid.logsumexp(t, 1), lambda t: torch.logsumexp(t, 1)),
                     (lambda t: t.prod(1), lambda t: t.prod(1))]:
        for arr in (a, zeros):
            x = leaf(arr)
            (g,) = lucid.autograd.grad([lfn(x).sum()], [x], create_graph=True)
            (h,) = lucid.autograd.grad([(g * g).sum()], [x])
            xt = to_torch(arr, True)
            (gt,) = torch.autograd.grad(tfn(xt).sum(), xt, create_graph=True)
            (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
            assert_close(h, ht, rtol=1e-9)


def test_gradcheck_detects_wrong_rule() -> None:
    # Guards against tests that cannot fail: a deliberately wrong function must be caught.
    x = leaf(make_array((3,), "float64", 2))
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: t.sum() + lucid.ops.stop_gradient(t).prod(), [x])


def test_take_along_and_put_along_add() -> None:
    a = make_array((3, 4), "float64", 9)
    idx = np.array([[0, 3, 3], [1, 1, 0], [2, 0, 3]])
    x = leaf(a)
    i = lucid.tensor(idx)
    got = red.take_along_p.bind(x, i, axis=1)
    assert_close(got, np.take_along_axis(a, idx, 1))
    assert_close(got, torch.gather(to_torch(a), 1, torch.tensor(idx)))
    gradcheck(lambda t: red.take_along_p.bind(t, i, axis=1), [x])
    gradgradcheck(lambda t: red.take_along_p.bind(t, i, axis=1) ** 2, [x])
    src = leaf(make_array((3, 3), "float64", 4))
    out = red.put_along_add_p.bind(x, i, src, axis=1)
    want = to_torch(a).scatter_add(1, torch.tensor(idx), to_torch(src.detach().numpy()))
    assert_close(out, want)  # repeated indices accumulate
    gradcheck(lambda t, s: red.put_along_add_p.bind(t, i, s, axis=1), [x, src])
    gradgradcheck(lambda t, s: red.put_along_add_p.bind(t * t, i, s * s, axis=1), [x, src])
    assert_close(x, a)  # inputs untouched
    with pytest.raises(IndexError, match="out of bounds"):
        red.take_along_p.bind(x, lucid.tensor([[4], [0], [0]]), axis=1)
    with pytest.raises(IndexError, match="out of bounds"):
        red.take_along_p.bind(x, lucid.tensor([[-1], [0], [0]]), axis=1)
    with pytest.raises(ShapeError, match="except along axis"):
        red.take_along_p.bind(x, lucid.tensor([[0], [0]]), axis=1)
    with pytest.raises(DTypeError, match="integer"):
        red.take_along_p.bind(x, lucid.tensor([[0.0], [0.0], [0.0]]), axis=1)


def test_integer_outputs_do_not_require_grad() -> None:
    x = leaf(make_array((2, 3), "float64", 1))
    assert not x.argmax().requires_grad
    assert not x.max(1).indices.requires_grad
    assert x.max(1).values.requires_grad
    assert not lucid.all(x).requires_grad and not lucid.any(x, 0).requires_grad
    assert not lucid.count_nonzero(x).requires_grad
    assert x.sum().requires_grad and x.norm().requires_grad
