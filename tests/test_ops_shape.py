"""Tests of the shape family (lucid/ops/shape.py): forward against NumPy and PyTorch, gradients
with finite differences and against torch.autograd, view semantics and error messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid
from lucid.errors import AutogradError, DTypeError, ShapeError
from lucid.ops import shape as shape_ops
from lucid.testing import gradcheck, gradgradcheck

SETTINGS = settings(max_examples=30, deadline=None)
DTYPES = [np.float32, np.float64, np.int64, np.bool_]
RNG = np.random.default_rng(0)


def arr(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """Distinct-ish values of ``dtype``, so a wrong permutation of elements shows."""
    a = RNG.standard_normal(shape) * 3
    if dtype is np.bool_:
        return a > 0
    return a.astype(dtype)


def tens(a: np.ndarray, grad: bool = False) -> lucid.Tensor:
    t = lucid.from_numpy(np.array(a))
    return t.requires_grad_() if grad else t


def np_of(t: lucid.Tensor) -> np.ndarray:
    return t.detach().numpy()


def same(t: lucid.Tensor, expected: np.ndarray) -> None:
    got = np_of(t)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    np.testing.assert_array_equal(got, expected)


def g64(*shapes: tuple[int, ...]) -> list[lucid.Tensor]:
    return [tens(arr(s), grad=True) for s in shapes]


def against_torch(f_lucid: Callable[..., Any], f_torch: Callable[..., Any],
                  *arrays: np.ndarray, grad: bool = True) -> None:
    """Forward (and, for float inputs, the VJP of a random cotangent) against PyTorch."""
    lt = [tens(a, grad=grad and a.dtype.kind == "f") for a in arrays]
    tt = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    lo, to = f_lucid(*lt), f_torch(*tt)
    lo = list(lo) if isinstance(lo, tuple) else [lo]
    to = list(to) if isinstance(to, tuple) else [to]
    assert len(lo) == len(to)
    for a, b in zip(lo, to, strict=True):
        assert tuple(a.shape) == tuple(b.shape)
        assert a.dtype.name == str(b.dtype).removeprefix("torch."), (a.dtype, b.dtype)
        np.testing.assert_array_equal(np_of(a), b.detach().numpy())
    if not grad or not any(t.requires_grad for t in lt):
        return
    outs = [(a, b) for a, b in zip(lo, to, strict=True) if b.requires_grad]
    cots = [arr(tuple(b.shape), b.detach().numpy().dtype) for _, b in outs]
    gl = lucid.autograd.grad([a for a, _ in outs], [t for t in lt if t.requires_grad],
                             [tens(c) for c in cots], allow_unused=True)
    gt = torch.autograd.grad([b for _, b in outs], [t for t in tt if t.requires_grad],
                             [torch.tensor(c) for c in cots], allow_unused=True)
    for a, b, x in zip(gl, gt, [t for t in lt if t.requires_grad], strict=True):
        ea = np.zeros(tuple(x.shape)) if a is None else np_of(a)
        eb = np.zeros(tuple(x.shape)) if b is None else b.numpy()
        assert ea.shape == eb.shape
        np.testing.assert_allclose(ea, eb, rtol=1e-6, atol=1e-6)
        if a is not None:
            assert a.dtype is x.dtype


shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4)
shapes0 = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
dtypes = st.sampled_from(DTYPES)


# ============================================================== reshape-based functions


@SETTINGS
@given(shapes0, dtypes, st.data())
def test_squeeze_unsqueeze_match_numpy(shape, dtype, data):
    a = arr(shape, dtype)
    same(lucid.squeeze(tens(a)), np.squeeze(a))
    if a.ndim:
        d = data.draw(st.integers(-a.ndim, a.ndim - 1))
        # Squeezing a dim whose size is not 1 is a no-op, as in torch.
        expected = np.squeeze(a, d) if a.shape[d] == 1 else a
        same(tens(a).squeeze(d), expected)
        dims = data.draw(st.lists(st.integers(0, a.ndim - 1), unique=True))
        one = tuple(d for d in dims if a.shape[d] == 1)
        same(lucid.squeeze(tens(a), tuple(dims)), np.squeeze(a, one))
    d = data.draw(st.integers(-a.ndim - 1, a.ndim))
    same(tens(a).unsqueeze(d), np.expand_dims(a, d))


@SETTINGS
@given(shapes0, dtypes, st.data())
def test_flatten_unflatten_match_numpy(shape, dtype, data):
    a = arr(shape, dtype)
    if a.ndim == 0:
        same(tens(a).flatten(), a.reshape(1))
        return
    s = data.draw(st.integers(0, a.ndim - 1))
    e = data.draw(st.integers(s, a.ndim - 1))
    flat = a.reshape((*a.shape[:s], int(np.prod(a.shape[s:e + 1])), *a.shape[e + 1:]))
    same(lucid.flatten(tens(a), s, e), flat)
    same(tens(a).flatten(s - a.ndim, e - a.ndim), flat)
    d = data.draw(st.integers(0, a.ndim - 1))
    n = a.shape[d]
    divisors = [k for k in range(1, n + 1) if n % k == 0] or [1]
    k = data.draw(st.sampled_from(divisors))
    sizes = (k, n // k) if n else (0, 3)
    expected = a.reshape(a.shape[:d] + sizes + a.shape[d + 1:])
    same(tens(a).unflatten(d, sizes), expected)
    if n:
        same(lucid.unflatten(tens(a), d, (k, -1)), expected)


@SETTINGS
@given(shapes0, dtypes, st.data())
def test_movedim_matches_numpy(shape, dtype, data):
    a = arr(shape, dtype)
    n = max(a.ndim, 1)
    k = data.draw(st.integers(0, a.ndim))
    src = data.draw(st.permutations(range(a.ndim)))[:k]
    dst = data.draw(st.permutations(range(a.ndim)))[:k]
    same(lucid.movedim(tens(a), tuple(src), tuple(dst)), np.moveaxis(a, src, dst))
    if a.ndim:
        s, d = data.draw(st.integers(-n, n - 1)), data.draw(st.integers(-n, n - 1))
        same(tens(a).movedim(s, d), np.moveaxis(a, s, d))


def test_reshape_family_against_torch():
    a = arr((2, 1, 3, 1))
    cases = [
        (lambda x: x.squeeze(), lambda x: x.squeeze()),
        (lambda x: x.squeeze((1, 3)), lambda x: x.squeeze((1, 3))),
        (lambda x: x.squeeze(0), lambda x: x.squeeze(0)),
        (lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1)),
        (lambda x: x.flatten(1), lambda x: x.flatten(1)),
        (lambda x: x.unflatten(2, (3, 1)), lambda x: x.unflatten(2, (3, 1))),
        (lambda x: x.movedim((0, 2), (3, 0)), lambda x: x.movedim((0, 2), (3, 0))),
        (lambda x: lucid.moveaxis(x, 0, -1), lambda x: torch.moveaxis(x, 0, -1)),
    ]
    for fl, ft in cases:
        against_torch(fl, ft, a)
    s = np.array(2.5)
    against_torch(lambda x: x.flatten(), lambda x: x.flatten(), s)
    against_torch(lambda x: x.squeeze(0), lambda x: x.squeeze(0), s)
    against_torch(lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0), s)


def test_reshape_family_gradcheck():
    (x,) = g64((2, 1, 3))
    for f in [
        lambda x: x.squeeze(), lambda x: x.unsqueeze(1), lambda x: x.flatten(),
        lambda x: x.unflatten(2, (3, 1)), lambda x: lucid.movedim(x, 0, 2),
        lambda x: x.view(3, 2), lambda x: x.reshape(-1, 1), lambda x: x.permute(2, 0, 1),
        lambda x: x.transpose(0, 2), lambda x: x.squeeze(1).t(), lambda x: x.expand(4, -1, 2, 3),
        lambda x: lucid.broadcast_to(x, (2, 2, 3)),
        lambda x: shape_ops.strided_slice(x, (1, 0, 0), (2, 1, 3), (1, 1, 2)),
    ]:
        assert gradcheck(f, [x])


def test_reshape_family_errors():
    x = lucid.zeros(2, 3)
    with pytest.raises(ValueError, match=r"flatten.*start_dim"):
        x.flatten(1, 0)
    with pytest.raises(ShapeError, match=r"unflatten.*\[4, 2\].*dim 0 \(2\).*float32\[2, 3\]"):
        x.unflatten(0, (4, 2))
    with pytest.raises(ShapeError, match="unflatten"):
        x.unflatten(1, (4, -1))
    with pytest.raises(ShapeError, match="non-empty"):
        x.unflatten(1, ())
    with pytest.raises(IndexError, match=r"unsqueeze.*\[-3, 2\].*3"):
        x.unsqueeze(3)
    with pytest.raises(IndexError, match="squeeze"):
        x.squeeze(2)
    with pytest.raises(ValueError, match=r"movedim.*repeated"):
        x.movedim((0, 1), (1, 1))
    with pytest.raises(ValueError, match=r"movedim.*same number"):
        x.movedim((0, 1), (1,))
    with pytest.raises(ShapeError, match=r"reshape.*\[4, 2\].*float32\[2, 3\]"):
        x.reshape(4, 2)
    with pytest.raises(ShapeError, match="only one dimension can be inferred"):
        x.reshape(-1, -1)
    with pytest.raises(ShapeError, match=r"broadcast_to.*float32\[2, 3\].*\[2, 4\]"):
        x.broadcast_to((2, 4))
    with pytest.raises(ShapeError, match="expand"):
        x.expand(-1, 2, 3)


def test_broadcast_to_and_expand_accept_minus_one():
    a = arr((3, 1))
    same(lucid.broadcast_to(tens(a), (2, -1, 4)), np.broadcast_to(a, (2, 3, 4)))
    same(tens(a).expand(-1, 5), np.broadcast_to(a, (3, 5)))
    against_torch(lambda x: x.expand(2, -1, 4), lambda x: x.expand(2, -1, 4), a)
    against_torch(lambda x: lucid.broadcast_to(x, (-1, 0)),
                  lambda x: torch.broadcast_to(x, (-1, 0)), a)


# ============================================================== view semantics


def test_view_shares_memory_and_version():
    x = lucid.arange(6.0)
    y = x.view(2, 3)
    with lucid.no_grad():
        y.add_(1)
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0) + 1)
    assert y._vc is x._vc  # in-place writes through either are seen by autograd checks
    z = y.unsqueeze(0).squeeze(0).flatten()
    with lucid.no_grad():
        z.mul_(2)
    np.testing.assert_array_equal(x.numpy(), (np.arange(6.0) + 1) * 2)
    # Pieces of split / chunk / unbind / narrow are views too.
    _, p1 = x.split(3)
    with lucid.no_grad():
        p1.zero_()
    np.testing.assert_array_equal(x.numpy()[3:], 0)
    row = lucid.unbind(x.view(2, 3), 0)[0]
    with lucid.no_grad():
        row.fill_(-1.0)
    np.testing.assert_array_equal(x.numpy()[:3], -1)
    n = lucid.narrow(x, 0, 1, 2)
    with lucid.no_grad():
        n.fill_(7.0)
    np.testing.assert_array_equal(x.numpy()[1:3], 7)


def test_copying_ops_do_not_alias():
    x = lucid.arange(6.0).view(2, 3)
    for f in [
        lambda t: lucid.cat([t]), lambda t: t.flip(0), lambda t: t.repeat(1, 1),
        lambda t: t.tile((1,)), lambda t: lucid.pad(t, (0, 0)), lambda t: lucid.pad(t, (-1, 0)),
        lambda t: lucid.roll(t, 0, 0), lambda t: lucid.repeat_interleave(t, 1, 0),
        lambda t: t.repeat(2, 1), lambda t: lucid.repeat_interleave(t, 2),
    ]:
        y = f(x)
        assert not np.may_share_memory(y.numpy(), x.numpy())
        with lucid.no_grad():
            y.add_(1)  # writable, not a stride-0 view


def test_inplace_on_view_of_requires_grad_tensor_raises():
    x = lucid.zeros(2, 3, requires_grad=True)
    for make in [lambda: x.view(6), lambda: x.split(1)[0], lambda: x.unsqueeze(0),
                 lambda: lucid.narrow(x, 1, 0, 2), lambda: x.t()]:
        with pytest.raises(AutogradError, match=r"in-place.*view"):
            make().add_(1)
    h = x * 2  # a non-leaf that takes part in autograd
    with pytest.raises(AutogradError, match=r"in-place.*view"):
        h.view(3, 2).mul_(2)


def test_view_of_non_contiguous_raises_but_reshape_copies():
    x = lucid.arange(6.0).view(2, 3)
    with pytest.raises(ShapeError, match=r"view.*\[6\].*float32\[3, 2\].*reshape"):
        x.t().view(6)
    y = x.t().reshape(6)
    same(y, np.arange(6.0, dtype=np.float32).reshape(2, 3).T.reshape(6))
    # Splitting a dimension of a transposed tensor is still expressible as a view.
    v = x.t().view(3, 1, 2)
    assert np.may_share_memory(v.numpy(), x.numpy())


# ============================================================== cat / stack


@SETTINGS
@given(shapes, st.integers(1, 3), st.data())
def test_cat_matches_numpy(shape, count, data):
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    dtype = data.draw(dtypes)
    arrays = []
    for _ in range(count):
        s = list(shape)
        s[d] = data.draw(st.integers(0, 3))
        arrays.append(arr(tuple(s), dtype))
    same(lucid.cat([tens(a) for a in arrays], d), np.concatenate(arrays, d))
    same(lucid.stack([tens(arrays[0])] * count, d), np.stack([arrays[0]] * count, d))


def test_cat_promotes_dtypes_like_torch():
    combos = [
        (np.float32, np.float64), (np.int64, np.float32), (np.bool_, np.int64),
        (np.int32, np.bool_), (np.uint8, np.int8), (np.float16, np.int64),
    ]
    for da, db in combos:
        a, b = arr((2, 2), da), arr((1, 2), db)
        out = lucid.cat([tens(a), tens(b)])
        ref = torch.cat([torch.tensor(a), torch.tensor(b)])
        assert out.dtype.name == str(ref.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(out.numpy(), ref.numpy())
    # Gradients come back in each input's own dtype.
    against_torch(lambda x, y: lucid.cat([x, y], 1), lambda x, y: torch.cat([x, y], 1),
                  arr((2, 1), np.float32), arr((2, 3), np.float64))
    against_torch(lambda x, y: lucid.cat([x, y]), lambda x, y: torch.cat([x, y]),
                  arr((2,), np.int64), arr((3,), np.float64))


def test_cat_stack_against_torch():
    a, b, c = arr((2, 3)), arr((2, 0)), arr((2, 4))
    against_torch(lambda *x: lucid.cat(x, -1), lambda *x: torch.cat(x, -1), a, b, c)
    against_torch(lambda *x: lucid.concatenate(x, 1), lambda *x: torch.cat(x, 1), a, b, c)
    against_torch(lambda *x: lucid.concat(list(x), 0), lambda *x: torch.cat(x, 0), a, a)
    # The legacy rule: shape (0,) tensors are skipped whatever the others' shapes.
    against_torch(lambda *x: lucid.cat(x), lambda *x: torch.cat(x), a, arr((0,)), a)
    against_torch(lambda *x: lucid.cat(x, 1), lambda *x: torch.cat(x, 1), arr((0,)), a)
    against_torch(lambda *x: lucid.cat(x), lambda *x: torch.cat(x), arr((0,)), arr((0,)))
    for d in (0, 1, 2, -1):
        against_torch(lambda *x, d=d: lucid.stack(x, d), lambda *x, d=d: torch.stack(x, d),
                      a, a, a)
    s = [np.array(1.5), np.array(-2.0)]
    against_torch(lambda *x: lucid.stack(x), lambda *x: torch.stack(x), *s)
    against_torch(lambda *x: lucid.hstack(x), lambda *x: torch.hstack(x), arr((2,)), arr((3,)))
    against_torch(lambda *x: lucid.hstack(x), lambda *x: torch.hstack(x), a, c)
    against_torch(lambda *x: lucid.vstack(x), lambda *x: torch.vstack(x), arr((3,)), a)
    against_torch(lambda *x: lucid.hstack(x), lambda *x: torch.hstack(x), *s)


def test_cat_stack_gradcheck():
    a, b, c = g64((2, 3), (2, 1), (2, 0))
    assert gradcheck(lambda *x: lucid.cat(x, 1), [a, b, c])
    assert gradcheck(lambda x, y: lucid.stack([x, y, x], 1), g64((2, 3), (2, 3)))
    assert gradcheck(lambda x: lucid.cat([x, x * 2], 0), [a])


def test_cat_stack_errors():
    a, b = lucid.zeros(2, 3), lucid.zeros(2, 4)
    with pytest.raises(ShapeError, match=r"cat.*dimension 0.*expected size 3 but got size 4 "
                                         r"in dimension 1 for tensor number 1.*float32\[2, 4\]"):
        lucid.cat([a, b])
    with pytest.raises(ShapeError, match=r"cat.*same number of dimensions.*tensor 2 has 1"):
        lucid.cat([a, a, lucid.zeros(3)])
    with pytest.raises(ShapeError, match=r"cat: zero-dimensional tensor \(at position 1\)"):
        lucid.cat([lucid.zeros(1), lucid.tensor(1.0)])
    with pytest.raises(ValueError, match="cat: expected a non-empty"):
        lucid.cat([])
    with pytest.raises(TypeError, match="cat: expected a sequence of Tensors, got int"):
        lucid.cat([a, 3])
    with pytest.raises(TypeError, match="single Tensor"):
        lucid.cat(a)
    with pytest.raises(IndexError, match="cat"):
        lucid.cat([a, a], 2)
    with pytest.raises(ShapeError, match=r"stack.*\[2, 3\] at entry 0 and \[2, 4\] at entry 1"):
        lucid.stack([a, b])
    with pytest.raises(ValueError, match="stack"):
        lucid.stack([])
    # The primitive itself is strict about dtypes and names its operands.
    with pytest.raises(DTypeError, match=r"concatenate.*float32\[2, 3\], int64\[2, 3\]"):
        shape_ops.concatenate_p.bind(a, lucid.zeros(2, 3, dtype=lucid.int64), axis=0)
    with pytest.raises(ShapeError, match=r"concatenate.*tensor 1 in dimension 1"):
        shape_ops.concatenate_p.bind(a, b, axis=0)


# ============================================================== split / chunk / unbind / narrow


@SETTINGS
@given(shapes, dtypes, st.data())
def test_split_chunk_unbind_narrow_match_numpy(shape, dtype, data):
    a = arr(shape, dtype)
    d = data.draw(st.integers(-a.ndim, a.ndim - 1))
    n = a.shape[d]
    size = data.draw(st.integers(1, 5))
    bounds = list(range(size, n, size))
    for p, e in zip(lucid.split(tens(a), size, d), np.split(a, bounds, d), strict=True):
        same(p, e)
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
    sections = [b - a_ for a_, b in zip([0, *cuts], [*cuts, n], strict=True)]
    for p, e in zip(tens(a).split(sections, d), np.split(a, cuts, d), strict=True):
        same(p, e)
    pieces = tens(a).unbind(d)
    assert len(pieces) == n
    for i, p in enumerate(pieces):
        same(p, np.take(a, i, d))
    start = data.draw(st.integers(-n, n))
    length = data.draw(st.integers(0, n - (start % n if n and start < 0 else start)))
    s0 = start + n if start < 0 else start
    same(lucid.narrow(tens(a), d, start, length), np.take(a, range(s0, s0 + length), d))
    chunks = data.draw(st.integers(1, 6))
    got = tens(a).chunk(chunks, d)
    ref = torch.tensor(a).chunk(chunks, d)
    assert [tuple(p.shape) for p in got] == [tuple(p.shape) for p in ref]
    for p, e in zip(got, ref, strict=True):
        same(p, e.numpy())


def test_chunk_sizing_edge_cases_match_torch():
    for n in range(0, 9):
        for chunks in range(1, 10):
            got = [p.shape[0] for p in lucid.zeros(n, 2).chunk(chunks)]
            ref = [p.shape[0] for p in torch.zeros(n, 2).chunk(chunks)]
            assert got == ref, (n, chunks, got, ref)
    with pytest.raises(ValueError, match="chunk: chunks must be greater than 0, got 0"):
        lucid.zeros(3).chunk(0)


def test_split_edge_cases_match_torch():
    for n, arg in [(5, 2), (5, 5), (5, 7), (0, 2), (0, 0), (6, [1, 0, 5]), (0, [0, 0]),
                   (4, [4]), (3, 1)]:
        got = [tuple(p.shape) for p in lucid.zeros(n, 3).split(arg)]
        ref = [tuple(p.shape) for p in torch.zeros(n, 3).split(arg)]
        assert got == ref, (n, arg)
    a = arr((3, 5))
    against_torch(lambda x: x.split([2, 0, 3], 1), lambda x: x.split([2, 0, 3], 1), a)
    against_torch(lambda x: x.split(2, -1), lambda x: x.split(2, -1), a)
    against_torch(lambda x: x.chunk(2, 0), lambda x: x.chunk(2, 0), a)
    against_torch(lambda x: x.unbind(1), lambda x: x.unbind(1), a)
    against_torch(lambda x: lucid.narrow(x, 1, -3, 2), lambda x: x.narrow(1, -3, 2), a)
    against_torch(lambda x: lucid.narrow(x, 0, 3, 0), lambda x: x.narrow(0, 3, 0), a)
    against_torch(lambda x: x.unbind(1), lambda x: x.unbind(1), arr((2, 0)))


def test_split_family_gradcheck():
    (x,) = g64((3, 5))
    assert gradcheck(lambda x: x.split([2, 0, 3], 1), [x])
    assert gradcheck(lambda x: x.split(2, 0)[1], [x])  # unused pieces get no gradient
    assert gradcheck(lambda x: x.chunk(3, 1), [x])
    assert gradcheck(lambda x: x.unbind(0), [x])
    assert gradcheck(lambda x: lucid.narrow(x, 1, 1, 3), [x])


def test_split_family_errors():
    x = lucid.zeros(5, 2)
    with pytest.raises(ShapeError, match=r"split.*\[2, 2\].*sum exactly to 5.*float32\[5, 2\]"):
        x.split([2, 2])
    with pytest.raises(ValueError, match=r"split.*non-negative.*\[2, -1, 4\]"):
        x.split([2, -1, 4])
    with pytest.raises(ValueError, match="split_size can only be 0"):
        x.split(0)
    with pytest.raises(ShapeError, match="split: cannot split a 0-dim"):
        lucid.tensor(1.0).split(1)
    with pytest.raises(ShapeError, match=r"narrow: start \(3\) \+ length \(4\) exceeds.*\(5\)"):
        lucid.narrow(x, 0, 3, 4)
    with pytest.raises(IndexError, match=r"narrow: start out of range.*\[-5, 5\].*-6"):
        lucid.narrow(x, 0, -6, 1)
    with pytest.raises(IndexError, match=r"unbind.*no dimensions"):
        lucid.tensor(1.0).unbind()
    with pytest.raises(IndexError, match=r"split: dimension out of range.*got 2"):
        x.split(1, 2)


# ============================================================== pad


def np_pad_constant(a: np.ndarray, pad: tuple[int, ...], value: Any) -> np.ndarray:
    """F.pad's constant mode in NumPy: crop the negative amounts, pad the positive ones."""
    if a.ndim == 0:
        return a.copy()
    widths = [(0, 0)] * a.ndim
    for i in range(len(pad) // 2):
        widths[a.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    crop = tuple(slice(max(-lo, 0), a.shape[d] - max(-hi, 0))
                 for d, (lo, hi) in enumerate(widths))
    return np.pad(a[crop], [(max(lo, 0), max(hi, 0)) for lo, hi in widths],
                  constant_values=value)


@SETTINGS
@given(shapes0, dtypes, st.data())
def test_pad_constant_matches_numpy(shape, dtype, data):
    a = arr(shape, dtype)
    k = data.draw(st.integers(0, a.ndim))
    pad = []
    for i in range(k):
        n = a.shape[a.ndim - 1 - i]
        lo = data.draw(st.integers(-n, 3))
        hi = data.draw(st.integers(-(n - max(-lo, 0)), 3))
        pad += [lo, hi]
    value = data.draw(st.sampled_from([0, 1, -2.5, True]))
    expected = np_pad_constant(a, tuple(pad), np.array(value).astype(a.dtype))
    same(lucid.pad(tens(a), tuple(pad), value=value), expected)


PAD_CASES = [
    # (input shape, pad) pairs; each is run in every mode where torch accepts it.
    ((1, 2, 5), (2, 3)),
    ((1, 2, 5), (-1, 2)),
    ((1, 2, 5), (0, -2)),
    ((1, 2, 5), (4, 4)),
    ((2, 1, 4, 3), (1, 2, 3, 0)),
    ((2, 1, 4, 3), (-1, 2, 1, -2)),
    ((2, 1, 4, 3), (2, 2, 3, 3)),
    ((1, 1, 3, 2, 4), (1, 2, 1, 1, 2, 0)),
    ((1, 1, 3, 2, 4), (-1, 1, 0, 1, 1, -1)),
    # Invalid in some modes (torch raises there, and so must lucid):
    ((1, 2, 5), (5, -6)),
    ((1, 2, 3), (3, 3)),
]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", PAD_CASES)
def test_pad_against_torch(mode, shape, pad):
    a = arr(shape)
    try:
        F.pad(torch.tensor(a), pad, mode=mode)
    except (RuntimeError, NotImplementedError):
        with pytest.raises(ShapeError, match="pad"):
            lucid.pad(tens(a), pad, mode=mode)
        return
    against_torch(lambda x: lucid.pad(x, pad, mode=mode), lambda x: F.pad(x, pad, mode=mode),
                  a)


def test_pad_constant_values_and_dtypes_against_torch():
    a = arr((2, 3))
    against_torch(lambda x: lucid.pad(x, (1, 2), value=1.5),
                  lambda x: F.pad(x, (1, 2), value=1.5), a)
    against_torch(lambda x: lucid.pad(x, (-1, 1, -2, 2)), lambda x: F.pad(x, (-1, 1, -2, 2)), a)
    against_torch(lambda x: lucid.pad(x, (1, 1, -2, 0)), lambda x: F.pad(x, (1, 1, -2, 0)), a)
    against_torch(lambda x: lucid.pad(x, ()), lambda x: F.pad(x, ()), np.array(3.0))
    for dt in (np.int64, np.bool_, np.float32):
        b = arr((2, 3), dt)
        against_torch(lambda x: lucid.pad(x, (1, 1), value=2.7),
                      lambda x: F.pad(x, (1, 1), value=2.7), b)
    against_torch(lambda x: lucid.pad(x, (1, 2), mode="replicate"),
                  lambda x: F.pad(x, (1, 2), mode="replicate"), arr((0, 2, 3)))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_gradcheck(mode):
    (x,) = g64((2, 3, 4))
    assert gradcheck(lambda x: lucid.pad(x, (2, -1, 1, 2), mode=mode), [x])


def test_pad_errors():
    x = lucid.zeros(1, 2, 5)
    with pytest.raises(ValueError, match="pad: padding length must be divisible by 2"):
        lucid.pad(x, (1,))
    with pytest.raises(ValueError, match=r"pad: padding length 8 .*float32\[1, 2, 5\]"):
        lucid.pad(x, (1,) * 8)
    with pytest.raises(ValueError, match="pad: unsupported padding mode 'foo'"):
        lucid.pad(x, (1, 1), mode="foo")
    with pytest.raises(ValueError, match=r"reflect.*value"):
        lucid.pad(x, (1, 1), mode="reflect", value=1.0)
    with pytest.raises(ShapeError, match=r"pad: reflect padding \(5, 2\).*size 5.*dimension 2"):
        lucid.pad(x, (5, 2), mode="reflect")
    with pytest.raises(ShapeError, match=r"circular.*more than once"):
        lucid.pad(x, (6, 0), mode="circular")
    with pytest.raises(ShapeError, match=r"replicate.*non-empty"):
        lucid.pad(lucid.zeros(1, 0), (1, 0), mode="replicate")
    with pytest.raises(ShapeError, match=r"pad: input size 5 .*\(-3, -3\).*negative output"):
        lucid.pad(x, (-3, -3))
    with pytest.raises(ShapeError, match=r"pad: amounts must be >= 0"):
        shape_ops.pad_p.bind(x, lows=(0, 0, -1), highs=(0, 0, 0), interiors=(0, 0, 0), value=0)


# ============================================================== flip / roll


@SETTINGS
@given(shapes0, dtypes, st.data())
def test_flip_roll_match_numpy(shape, dtype, data):
    a = arr(shape, dtype)
    dims = data.draw(st.lists(st.integers(0, max(a.ndim - 1, 0)), unique=True,
                              max_size=a.ndim))
    same(lucid.flip(tens(a), tuple(dims)), np.flip(a, tuple(dims)) if dims else a)
    if a.ndim:
        d = data.draw(st.integers(-a.ndim, a.ndim - 1))
        same(tens(a).flip(d), np.flip(a, d))
        shifts = [data.draw(st.integers(-7, 7)) for _ in dims]
        same(lucid.roll(tens(a), tuple(shifts), tuple(dims)), np.roll(a, shifts, tuple(dims)))
    s = data.draw(st.integers(-7, 7))
    same(lucid.roll(tens(a), s), np.roll(a, s))


def test_flip_roll_against_torch_and_gradcheck():
    a = arr((2, 3, 4))
    against_torch(lambda x: x.flip((0, 2)), lambda x: x.flip((0, 2)), a)
    against_torch(lambda x: lucid.fliplr(x), lambda x: torch.fliplr(x), a)
    against_torch(lambda x: lucid.flipud(x), lambda x: torch.flipud(x), a)
    against_torch(lambda x: lucid.roll(x, (1, -5), (0, 2)),
                  lambda x: torch.roll(x, (1, -5), (0, 2)), a)
    against_torch(lambda x: lucid.roll(x, 7), lambda x: torch.roll(x, 7), a)
    against_torch(lambda x: lucid.roll(x, 2, 1), lambda x: torch.roll(x, 2, 1), arr((3, 0)))
    against_torch(lambda x: lucid.roll(x, 1), lambda x: torch.roll(x, 1), np.array(2.0))
    against_torch(lambda x: x.flip(0), lambda x: x.flip(0), np.array(2.0))
    (x,) = g64((2, 3, 4))
    assert gradcheck(lambda x: x.flip((0, 2)), [x])
    assert gradcheck(lambda x: lucid.roll(x, (1, -2), (1, 2)), [x])
    assert gradcheck(lambda x: lucid.roll(x, 5), [x])
    with pytest.raises(ValueError, match=r"flip.*more than once"):
        lucid.zeros(2, 3).flip((0, -2))
    with pytest.raises(IndexError, match=r"flip.*got 2"):
        lucid.zeros(2, 3).flip(2)
    with pytest.raises(ValueError, match="roll: shifts and dims must align"):
        lucid.roll(lucid.zeros(2, 3), (1, 2), 0)
    with pytest.raises(ShapeError, match=r"flip: dims \[0, 0\].*float32\[2, 3\]"):
        shape_ops.flip_p.bind(lucid.zeros(2, 3), dims=(0, 0))


# ============================================================== repeat / tile / repeat_interleave


@SETTINGS
@given(shapes0, dtypes, st.data())
def test_repeat_tile_interleave_match_numpy(shape, dtype, data):
    a = arr(shape, dtype)
    extra = data.draw(st.integers(0, 2))
    sizes = tuple(data.draw(st.integers(0, 3)) for _ in range(a.ndim + extra))
    same(tens(a).repeat(*sizes), np.tile(a, sizes))
    dims = tuple(data.draw(st.integers(0, 3)) for _ in range(data.draw(st.integers(0, 4))))
    same(tens(a).tile(dims), np.tile(a, dims))
    r = data.draw(st.integers(0, 3))
    same(lucid.repeat_interleave(tens(a), r), np.repeat(a, r))
    if a.ndim:
        d = data.draw(st.integers(-a.ndim, a.ndim - 1))
        same(lucid.repeat_interleave(tens(a), r, d), np.repeat(a, r, d))
        counts = [data.draw(st.integers(0, 3)) for _ in range(a.shape[d])]
        same(lucid.repeat_interleave(tens(a), counts, d), np.repeat(a, counts, d))


def test_repeat_family_against_torch_and_gradcheck():
    a = arr((2, 3))
    against_torch(lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3), a)
    against_torch(lambda x: x.repeat(0, 2), lambda x: x.repeat(0, 2), a)
    against_torch(lambda x: x.tile((2,)), lambda x: x.tile((2,)), a)
    against_torch(lambda x: x.tile((2, 1, 1)), lambda x: x.tile((2, 1, 1)), a)
    against_torch(lambda x: lucid.repeat_interleave(x, 2),
                  lambda x: torch.repeat_interleave(x, 2), a)
    against_torch(lambda x: lucid.repeat_interleave(x, 3, -1),
                  lambda x: torch.repeat_interleave(x, 3, -1), a)
    against_torch(lambda x: lucid.repeat_interleave(x, lucid.tensor([1, 0]), 0),
                  lambda x: torch.repeat_interleave(x, torch.tensor([1, 0]), 0), a)
    against_torch(lambda x: x.repeat(2), lambda x: x.repeat(2), np.array(1.5))
    (x,) = g64((2, 3))
    assert gradcheck(lambda x: x.repeat(2, 1, 2), [x])
    assert gradcheck(lambda x: x.tile((3,)), [x])
    assert gradcheck(lambda x: lucid.repeat_interleave(x, 2, 1), [x])
    assert gradcheck(lambda x: lucid.repeat_interleave(x, [2, 1, 0], 1), [x])
    with pytest.raises(ShapeError, match=r"repeat: number of dimensions.*\(1\).*float32\[2, 3\]"):
        lucid.zeros(2, 3).repeat(2)
    with pytest.raises(ValueError, match="repeat: sizes must be non-negative"):
        lucid.zeros(2, 3).repeat(2, -1)
    with pytest.raises(ValueError, match="repeat_interleave: repeats must be non-negative"):
        lucid.repeat_interleave(lucid.zeros(2), -1)
    with pytest.raises(ShapeError, match=r"repeat_interleave: repeats must have 2 entries"):
        lucid.repeat_interleave(lucid.zeros(2, 3), [1, 2, 3], 0)


# ============================================================== tril / triu


@SETTINGS
@given(hnp.array_shapes(min_dims=2, max_dims=4, min_side=0, max_side=5), dtypes,
       st.integers(-6, 6))
def test_tril_triu_match_numpy(shape, dtype, k):
    a = arr(shape, dtype)
    same(lucid.tril(tens(a), k), np.tril(a, k))
    same(lucid.triu(tens(a), k), np.triu(a, k))


def test_tril_triu_against_torch_and_gradcheck():
    a = arr((2, 3, 4))
    for k in (-1, 0, 2):
        against_torch(lambda x, k=k: lucid.tril(x, k), lambda x, k=k: torch.tril(x, k), a)
        against_torch(lambda x, k=k: lucid.triu(x, k), lambda x, k=k: torch.triu(x, k), a)
    against_torch(lambda x: lucid.triu(x, 1), lambda x: torch.triu(x, 1), arr((3, 3), np.bool_))
    (x,) = g64((3, 4))
    assert gradcheck(lambda x: lucid.tril(x, 1), [x])
    assert gradcheck(lambda x: lucid.triu(x), [x])
    with pytest.raises(ShapeError, match=r"tril: .*at least 2 dimensions.*float32\[3\]"):
        lucid.tril(lucid.ones(3))


# ============================================================== double backward


def test_gradgradcheck_slice_pad_concatenate():
    x, y = g64((3, 4), (3, 2))
    # Products make the second derivative non-trivial: d2/dx2 of (pad(x)**2) is not zero.
    assert gradgradcheck(lambda x: shape_ops.strided_slice(x, (0, 1), (3, 4), (2, 2)) ** 2, [x])
    assert gradgradcheck(lambda x: lucid.pad(x, (1, -1, 2, 0), value=0.5) ** 2, [x])
    assert gradgradcheck(lambda x, y: lucid.cat([x, y], 1) ** 2, [x, y])
    assert gradgradcheck(lambda x, y: lucid.cat([x, y * lucid.narrow(x, 1, 0, 2)], 1) ** 2, [x, y])
    assert gradgradcheck(lambda x, y: lucid.stack([y, y * 2]) ** 2, [x, y])
    assert gradgradcheck(lambda x: lucid.pad(x, (2, 1, 1, 1), mode="reflect") ** 2, [x])
    assert gradgradcheck(lambda x: lucid.pad(x, (2, 1), mode="circular") ** 2, [x])
    assert gradgradcheck(lambda x: x.flip(1) * x, [x])
    assert gradgradcheck(lambda x: x.split([1, 3], 1)[1] ** 3, [x])


def test_backward_accumulates_through_views():
    x = lucid.tensor(arr((2, 3)), requires_grad=True)
    a, b = x.split([1, 2], 1)
    (lucid.cat([b, a, a], 1) * lucid.tensor(np.arange(4.0).reshape(1, 4))).sum().backward()
    # b's columns get weights 0 and 1; a appears twice, with weights 2 and 3.
    np.testing.assert_allclose(x.grad.numpy(), [[5.0, 0.0, 1.0], [5.0, 0.0, 1.0]])
