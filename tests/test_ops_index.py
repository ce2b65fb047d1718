"""Tests of the indexing family (lucid/ops/index.py): ``__getitem__`` / ``__setitem__`` with
basic and advanced indices and boolean masks, gather / scatter / index_select / index_add /
masked_fill / masked_select / take_along_dim / nonzero. Forward results are checked against
NumPy (and PyTorch where the two differ), gradients against finite differences and
``torch.autograd``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid
from lucid.errors import AutogradError, DTypeError, ShapeError
from lucid.ops import index as index_ops
from lucid.testing import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)
SHAPE = (3, 4, 5)
DTYPES = [np.float32, np.float64, np.int64, np.bool_]


def _data(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    if dtype is np.bool_:
        return RNG.random(shape) > 0.5
    if np.issubdtype(dtype, np.integer):
        return RNG.integers(-9, 10, shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


def _leaf(a: np.ndarray) -> lucid.Tensor:
    return lucid.tensor(a, requires_grad=True)


def _torch_leaf(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, requires_grad=True)


def _lucid_index(index: Any) -> Any:
    """The same index for lucid, with NumPy arrays turned into lucid tensors."""
    if isinstance(index, tuple):
        return tuple(_lucid_index(i) for i in index)
    if isinstance(index, np.ndarray):
        return lucid.tensor(index)
    return index


def _torch_index(index: Any) -> Any:
    """The same index for torch: lists and arrays become tensors (torch would otherwise read a
    nested list as a tuple)."""
    if isinstance(index, tuple):
        return tuple(_torch_index(i) for i in index)
    if isinstance(index, (np.ndarray, list)):
        arr = np.asarray(index)
        return torch.tensor(arr if arr.size else arr.astype(np.int64))
    return index


def _negative_step(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, slice) and (i.step or 1) < 0 for i in items)


# ---------------------------------------------------------------- forward vs NumPy

MASK_ALL = _data(SHAPE, np.bool_)
MASK_0 = np.array([True, False, True])
MASK_12 = _data(SHAPE[1:], np.bool_)

# Index expressions on a (3, 4, 5) tensor on which NumPy and PyTorch agree.
INDEX_TABLE = [
    0, -1, (1, 2), (1, 2, 3), (-1, -2, -3), (2, -4),
    slice(None), slice(1, 3), slice(None, None, 2), slice(None, None, -1),
    (slice(None), slice(3, 0, -2)), (slice(None), slice(None), slice(None, None, -3)),
    (Ellipsis, slice(-2, None)), (Ellipsis, None, slice(1, 3)), (None,), (None, 0, None),
    (1, slice(None, None, 2)), (Ellipsis,), (), (Ellipsis, 1), (0, Ellipsis, None),
    slice(10, 20), (slice(None), slice(None), slice(4, 1)), (slice(-100, 100),),
    [0, 2, 2], [[0, 1], [2, 2]], np.array([-1, 0]), [],
    (np.array([0, 2, 2]), slice(None), np.array([1, 4, 1])),
    (slice(None), [0, 1, 3], [1, 2, 4]), (slice(None), [[0], [2]], [1, 3]),
    ([0, 2], slice(1, 3), [1, 4]), ([0, 2], None, [1, 2]), (slice(None), [0, 1], None, [1, 2]),
    (Ellipsis, [0, 4, 4]), (1, [0, 2]), (slice(None, None, -1), [3, 0]),
    (slice(None), 2, [[4, 0]]), ([2, 0], slice(None), slice(None, None, 2)),
    MASK_ALL, MASK_0, (slice(None), MASK_12), (MASK_0, slice(1, 3)), (MASK_0, [1, 2]),
    True, False, (None, True), [True, False, True], np.int64(2),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("index", INDEX_TABLE, ids=[repr(i)[:40] for i in INDEX_TABLE])
def test_getitem_matches_numpy(index, dtype):
    a = _data(SHAPE, dtype)
    x = lucid.tensor(a)
    got = x[_lucid_index(index)]
    want = a[index]
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.numpy(), want)


TORCH_TABLE = [i for i in INDEX_TABLE if not _negative_step(i)]  # torch rejects negative steps


@pytest.mark.parametrize("index", TORCH_TABLE, ids=[repr(i)[:40] for i in TORCH_TABLE])
def test_getitem_matches_torch(index):
    a = _data(SHAPE)
    got = lucid.tensor(a)[_lucid_index(index)]
    want = torch.tensor(a)[_torch_index(index)]
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_int_then_advanced_follows_torch_not_numpy():
    # PyTorch applies integers (and 0-d integer tensors) before the index tensors; NumPy treats
    # them as one more advanced index, which moves the broadcast dimensions to the front.
    a = _data(SHAPE)
    x, t = lucid.tensor(a), torch.tensor(a)
    for idx, tidx in [
        ((0, slice(None), [0, 1]), (0, slice(None), torch.tensor([0, 1]))),
        ((lucid.tensor(1), slice(None), [0, 1]), (torch.tensor(1), slice(None),
                                                  torch.tensor([0, 1]))),
        (([0, 2], slice(None), 3), (torch.tensor([0, 2]), slice(None), 3)),
    ]:
        got, want = x[idx], t[tidx]
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert x[0, :, [0, 1]].shape == (4, 2)  # NumPy would give (2, 4)


def test_getitem_0d_results_and_index_kinds():
    v = lucid.tensor([1.0, 2.0, 3.0])
    s = v[0]
    assert s.shape == () and s.item() == 1.0
    assert v[-1].item() == 3.0
    assert v[lucid.tensor(2)].shape == ()  # a 0-d integer tensor indexes like an int
    assert v[np.int32(1)].item() == 2.0
    s0 = lucid.tensor(5.0)
    assert s0[None].shape == (1,)
    assert s0[...].shape == ()
    assert s0[True].shape == (1,) and s0[False].shape == (0,)
    a = _data(SHAPE)
    x = lucid.tensor(a)
    i32 = lucid.tensor(np.array([2, 0], np.int32))
    np.testing.assert_array_equal(x[i32].numpy(), a[[2, 0]])
    np.testing.assert_array_equal(x[np.array([[1], [2]])].numpy(), a[[[1], [2]]])
    mask = lucid.tensor(a) > 0
    np.testing.assert_array_equal(x[mask].numpy(), a[a > 0])
    u8 = lucid.tensor(np.array([1, 0, 1], np.uint8))  # uint8 indices are masks, as in torch
    np.testing.assert_array_equal(x[u8].numpy(), a[[0, 2]])


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_hypothesis_basic_slices_match_numpy(data):
    ndim = data.draw(st.integers(1, 3))
    shape = tuple(data.draw(st.lists(st.integers(0, 5), min_size=ndim, max_size=ndim)))
    a = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    index: list[Any] = []
    for n in shape:
        if data.draw(st.booleans()):
            index.append(None)
        bound = st.one_of(st.none(), st.integers(-7, 7))
        if n and data.draw(st.integers(0, 3)) == 0:
            index.append(data.draw(st.integers(-n, n - 1)))
        else:
            step = data.draw(st.one_of(st.none(), st.integers(-3, 3).filter(bool)))
            index.append(slice(data.draw(bound), data.draw(bound), step))
    idx = tuple(index)
    x = lucid.tensor(a)
    got = x[idx]
    want = a[idx]
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.numpy(), want)
    positive = all(not isinstance(i, slice) or (i.step or 1) > 0 for i in idx)
    if positive and want.size:
        assert np.shares_memory(got.numpy(), x.numpy())  # basic indexing is a view


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_hypothesis_advanced_matches_numpy_and_accumulates(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=2, max_size=3)))
    a = RNG.standard_normal(shape)
    dims = data.draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
    if not any(dims):
        dims[0] = True
    ishape = tuple(data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    index = tuple(
        RNG.integers(-n, n, ishape) if use else slice(None)
        for n, use in zip(shape, dims, strict=True)
    )
    x = _leaf(a)
    y = x[_lucid_index(index)]
    want = a[index]
    np.testing.assert_array_equal(y.detach().numpy(), want)
    g = RNG.standard_normal(want.shape)
    y.backward(lucid.tensor(g))
    expect = np.zeros_like(a)
    np.add.at(expect, index, g)
    np.testing.assert_allclose(x.grad.numpy(), expect, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- views


def test_basic_indexing_is_a_view():
    a = _data(SHAPE)
    x = lucid.tensor(a.copy())
    v = x[1:, ::2]
    assert v._base is x and np.shares_memory(v.numpy(), x.numpy())
    with lucid.no_grad():
        v[0, 0] = 100.0
    assert x[1, 0, 0].item() == 100.0
    row = x[2]
    row[..., 1] = -7.0  # setitem through an int-indexed view writes the base
    assert x.numpy()[2, :, 1].tolist() == [-7.0] * 4
    w = x[None, 0, ..., None]
    assert w.shape == (1, 4, 5, 1) and np.shares_memory(w.numpy(), x.numpy())
    assert x[:] is not x and x[:]._base is x
    # Advanced indexing copies: writes do not reach the base.
    before = x.numpy().copy()
    c = x[[0, 1]]
    c[0] = 0.0
    np.testing.assert_array_equal(x.numpy(), before)
    assert not np.shares_memory(x[x > 0].numpy(), x.numpy())


# ---------------------------------------------------------------- setitem forward


SET_TABLE = [
    (0, 1.5), ((1, 2), np.arange(5.0)), ((slice(None), 0), 7.0), ((Ellipsis, 1), -1.0),
    ([0, 2], np.arange(20.0).reshape(4, 5)), ((slice(None), [1, 3], [0, 4]), 9.0),
    ((slice(None, None, -1), 1, slice(None, None, 2)), np.arange(9.0).reshape(3, 3)),
    (MASK_ALL, 0.0), ((slice(None), MASK_12), 3.0), ((None, 1), np.ones((1, 4, 5))),
    ((0, slice(None), [0, 1]), np.arange(8.0).reshape(4, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("index,value", SET_TABLE, ids=[repr(i)[:30] for i, _ in SET_TABLE])
def test_setitem_matches_torch(index, value, dtype):
    a = _data(SHAPE, dtype)
    x = lucid.tensor(a.copy())
    x[_lucid_index(index)] = lucid.tensor(value) if isinstance(value, np.ndarray) else value
    assert x.dtype == a.dtype
    if _negative_step(index):  # torch rejects negative steps: NumPy is the reference
        want = a.copy()
        want[index] = value
    else:
        t = torch.tensor(a.copy())
        t[_torch_index(index)] = (torch.tensor(value).to(t.dtype)
                                  if isinstance(value, np.ndarray) else value)
        want = t.numpy()
    np.testing.assert_array_equal(x.numpy(), want)


def test_setitem_casts_and_strips_leading_ones():
    x = lucid.zeros(2, 3, dtype=lucid.int64)
    x[0] = 2.7  # truncated to x's dtype, as in torch
    x[1] = lucid.ones(1, 3) * 5  # leading size-1 dims of the value are dropped
    assert x.tolist() == [[2, 2, 2], [5, 5, 5]]
    b = lucid.zeros(3, dtype=lucid.bool)
    b[1] = 1
    assert b.tolist() == [False, True, False]
    y = lucid.zeros(4)
    y[[1, 3]] = [10.0, 30.0]
    assert y.tolist() == [0.0, 10.0, 0.0, 30.0]


def test_index_put_functional_and_accumulate():
    a = _data((5,))
    x = lucid.tensor(a)
    idx = lucid.tensor([0, 2, 2, 4])
    out = lucid.ops.index_put(x, idx, lucid.tensor([1.0, 2.0, 3.0, 4.0]), accumulate=True)
    want = a.copy()
    np.add.at(want, [0, 2, 2, 4], [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(out.numpy(), want)
    np.testing.assert_array_equal(x.numpy(), a)  # x itself is unchanged
    t = torch.tensor(a).index_put((torch.tensor([0, 2, 2, 4]),),
                                  torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64),
                                  accumulate=True)
    np.testing.assert_allclose(out.numpy(), t.numpy())


# ---------------------------------------------------------------- gradients: getitem


GRAD_INDICES = [
    (slice(1, None), slice(None, None, 2)), (Ellipsis, None, 1), (slice(None, None, -1), 1),
    (0, 1, 2), (slice(None), slice(3, 0, -2), slice(None)),
    [0, 2, 2, 0], (np.array([0, 2, 2]), slice(None), np.array([1, 4, 1])),
    (slice(None), [[0, 0], [3, 3]], [1, 1]), ([1, 1], None, [2, 2]), MASK_ALL,
    (slice(None), MASK_12), (True, 0), (0, slice(None), [1, 1]),
]


@pytest.mark.parametrize("index", GRAD_INDICES, ids=[repr(i)[:40] for i in GRAD_INDICES])
def test_getitem_gradcheck(index):
    x = _leaf(_data(SHAPE))
    li = _lucid_index(index)
    gradcheck(lambda t: t[li], [x])


@pytest.mark.parametrize("index", [i for i in GRAD_INDICES if not _negative_step(i)],
                         ids=lambda i: repr(i)[:40])
def test_getitem_grad_matches_torch_with_repeats(index):
    a = _data(SHAPE)
    x, t = _leaf(a), _torch_leaf(a)
    y = x[_lucid_index(index)]
    ty = t[_torch_index(index)]
    g = _data(tuple(ty.shape))
    y.backward(lucid.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_repeated_indices_accumulate():
    x = _leaf(np.array([1.0, 2.0, 3.0]))
    x[[0, 2, 2, 2, 0]].sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 3.0]


@pytest.mark.parametrize("index", [
    [0, 2, 2], (np.array([1, 1, 0]), slice(None), np.array([4, 4, 0])), MASK_ALL,
    (slice(None, None, -1), slice(1, 3)), (0, slice(None), [1, 1]),
], ids=lambda i: repr(i)[:40])
def test_getitem_double_backward(index):
    li = _lucid_index(index)
    x = _leaf(_data(SHAPE))
    gradgradcheck(lambda t: t[li] ** 3, [x])


def test_basic_getitem_backward_is_a_pad():
    x = _leaf(_data(SHAPE))
    y = x[1:, ::2]
    assert y.grad_fn.name() == "SliceBackward"
    y.sum().backward()
    want = np.zeros(SHAPE)
    want[1:, ::2] = 1.0
    np.testing.assert_array_equal(x.grad.numpy(), want)


# ---------------------------------------------------------------- gradients: setitem


SETITEM_GRAD = [
    ([0, 2], (2, 4, 5)), ((slice(None), [1, 3], [0, 4]), (3, 2)), ((1, slice(1, 3)), (2, 5)),
    (MASK_ALL, (int(MASK_ALL.sum()),)), ((slice(None), 0), (5,)), ((Ellipsis, [2]), (1,)),
    ((0, slice(None), [0, 3]), (4, 2)),
]


@pytest.mark.parametrize("index,vshape", SETITEM_GRAD, ids=[repr(i)[:30] for i, _ in SETITEM_GRAD])
def test_setitem_grad_matches_torch(index, vshape):
    a, v, w = _data(SHAPE), _data(vshape), _data(SHAPE)
    x, lv = _leaf(a), _leaf(v)
    y = x.clone()
    y[_lucid_index(index)] = lv
    (y * lucid.tensor(w)).sum().backward()
    t, tv = _torch_leaf(a), _torch_leaf(v)
    ty = t.clone()
    ty[_torch_index(index)] = tv
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(lv.grad.numpy(), tv.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("index,vshape", SETITEM_GRAD[:4], ids=lambda p: repr(p)[:30])
def test_index_put_gradcheck(index, vshape):
    li = _lucid_index(index)
    x, v = _leaf(_data(SHAPE)), _leaf(_data(vshape))
    gradcheck(lambda a, b: lucid.ops.index_put(a, li, b), [x, v])
    gradgradcheck(lambda a, b: lucid.ops.index_put(a * a, li, b ** 3), [x, v])


def test_index_put_accumulate_gradcheck():
    x, v = _leaf(_data((4, 3))), _leaf(_data((5, 3)))
    idx = lucid.tensor([0, 3, 3, 1, 0])
    gradcheck(lambda a, b: lucid.ops.index_put(a, idx, b, accumulate=True), [x, v])
    gradgradcheck(lambda a, b: lucid.ops.index_put(a ** 2, idx, b ** 2, accumulate=True),
                  [x, v])


def test_setitem_broadcast_value_grad_sums():
    x = _leaf(_data(SHAPE))
    v = _leaf(_data((5,)))
    y = x.clone()
    y[[0, 2]] = v  # v is broadcast to (2, 4, 5): its gradient sums over 8 copies
    y.sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), np.full(5, 8.0))
    want = np.ones(SHAPE)
    want[[0, 2]] = 0.0
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_setitem_on_leaf_requiring_grad_raises_but_works_under_no_grad():
    x = _leaf(_data((3,)))
    with pytest.raises(AutogradError, match="leaf"):
        x[0] = 1.0
    with lucid.no_grad():
        x[0] = 1.0
        x[[1, 2]] = lucid.tensor([2.0, 3.0], dtype=lucid.float64)
    assert x.tolist() == [1.0, 2.0, 3.0]
    assert x.requires_grad and x.is_leaf


def test_setitem_value_requiring_grad_into_plain_tensor():
    y = lucid.zeros(4, dtype=lucid.float64)
    v = _leaf(np.array([2.0, 3.0]))
    y[1:3] = v
    assert y.requires_grad and y.grad_fn is not None
    (y * lucid.tensor([1.0, 2.0, 3.0, 4.0], dtype=lucid.float64)).sum().backward()
    assert v.grad.tolist() == [2.0, 3.0]


# ---------------------------------------------------------------- gather / scatter


def test_gather_matches_torch_forward_and_grad():
    a = _data((3, 4, 5))
    idx = RNG.integers(0, 4, (2, 6, 3))  # smaller than x in the non-gathered dims
    x, t = _leaf(a), _torch_leaf(a)
    y = lucid.gather(x, 1, lucid.tensor(idx))
    ty = torch.gather(t, 1, torch.tensor(idx))
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    g = _data(tuple(ty.shape))
    y.backward(lucid.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    assert x.gather(-2, lucid.tensor(idx)).shape == (2, 6, 3)  # the Tensor method, negative dim


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_gather_dtypes_and_0d(dtype):
    a = _data((4, 3), dtype)
    idx = RNG.integers(0, 4, (2, 3))
    got = lucid.gather(lucid.tensor(a), 0, lucid.tensor(idx))
    np.testing.assert_array_equal(got.numpy(), np.take_along_axis(a, idx, 0))
    assert lucid.gather(lucid.tensor(a[0]), 0, lucid.tensor(1)).shape == ()
    assert lucid.gather(lucid.tensor(5.0), 0, lucid.tensor(0)).item() == 5.0


def test_gather_and_scatter_add_gradcheck_and_double_backward():
    x = _leaf(_data((3, 4)))
    idx = lucid.tensor(RNG.integers(0, 4, (3, 6)))  # repeated indices along dim 1
    gradcheck(lambda a: lucid.gather(a, 1, idx), [x])
    gradgradcheck(lambda a: lucid.gather(a, 1, idx) ** 3, [x])
    base = _leaf(_data((3, 4)))
    src = _leaf(_data((3, 6)))
    gradcheck(lambda b, s: lucid.scatter_add(b, 1, idx, s), [base, src])
    gradgradcheck(lambda b, s: lucid.scatter_add(b ** 2, 1, idx, s ** 3), [base, src])


def test_scatter_add_matches_torch():
    a, s = _data((4, 3)), _data((3, 2))
    idx = RNG.integers(0, 4, (3, 2))  # smaller than x in dim 1; repeats along dim 0
    x, src = _leaf(a), _leaf(s)
    tx, tsrc = _torch_leaf(a), _torch_leaf(s)
    y = x.scatter_add(0, lucid.tensor(idx), src)
    ty = tx.scatter_add(0, torch.tensor(idx), tsrc)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    g = _data((4, 3))
    y.backward(lucid.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(src.grad.numpy(), tsrc.grad.numpy())
    # A source larger than the index: only src[:3, :2] is used (torch's backward rejects this
    # case, so its gradient is checked numerically).
    big = _data((5, 3))
    want = torch.tensor(a).scatter_add(0, torch.tensor(idx), torch.tensor(big)).numpy()
    got = lucid.scatter_add(lucid.tensor(a), 0, lucid.tensor(idx), lucid.tensor(big))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    gradcheck(lambda b, c: lucid.scatter_add(b, 0, lucid.tensor(idx), c), [_leaf(a), _leaf(big)])
    ints = lucid.scatter_add(lucid.zeros(3, dtype=lucid.int64), 0, lucid.tensor([0, 0, 2]),
                             lucid.tensor([1, 2, 3]))
    assert ints.tolist() == [3, 0, 3]


def test_scatter_matches_torch():
    a, s = _data((3, 5)), _data((3, 4))
    idx = np.stack([RNG.permutation(5)[:4] for _ in range(3)])  # distinct per row
    x, src = _leaf(a), _leaf(s)
    tx, tsrc = _torch_leaf(a), _torch_leaf(s)
    y = lucid.scatter(x, 1, lucid.tensor(idx), src)
    ty = torch.scatter(tx, 1, torch.tensor(idx), tsrc)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    g = _data((3, 5))
    y.backward(lucid.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(src.grad.numpy(), tsrc.grad.numpy())
    v = lucid.scatter(lucid.tensor(a), 1, lucid.tensor(idx), 2.5)
    np.testing.assert_array_equal(v.numpy(), torch.tensor(a).scatter(1, torch.tensor(idx),
                                                                     2.5).numpy())
    assert lucid.scatter(lucid.tensor(a), 1, lucid.tensor(idx), value=1.0).shape == (3, 5)
    big = _data((4, 5))  # larger than the index: only big[:3, :4] is used
    want = torch.tensor(a).scatter(1, torch.tensor(idx), torch.tensor(big)).numpy()
    np.testing.assert_array_equal(
        lucid.scatter(lucid.tensor(a), 1, lucid.tensor(idx), lucid.tensor(big)).numpy(), want)
    gradcheck(lambda b, c: lucid.scatter(b, 1, lucid.tensor(idx), c), [_leaf(a), _leaf(big)])


def test_index_select_and_index_add_match_torch():
    a = _data((3, 4, 5))
    idx = np.array([3, 0, 3, 1])
    x, t = _leaf(a), _torch_leaf(a)
    y = x.index_select(1, lucid.tensor(idx))
    ty = t.index_select(1, torch.tensor(idx))
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    g = _data(tuple(ty.shape))
    y.backward(lucid.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())  # repeated 3 accumulates
    assert lucid.index_select(lucid.tensor(a), -1, lucid.tensor(2)).shape == (3, 4, 1)
    assert lucid.index_select(lucid.tensor(5.0), 0, lucid.tensor([0])).shape == ()

    s = _data((3, 4, 2))
    base, src = _leaf(a), _leaf(s)
    tb, ts = _torch_leaf(a), _torch_leaf(s)
    out = lucid.index_add(base, 2, lucid.tensor([4, 4]), src, alpha=2.0)
    tout = torch.index_add(tb, 2, torch.tensor([4, 4]), ts, alpha=2.0)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(base.grad.numpy(), tb.grad.numpy())
    np.testing.assert_allclose(src.grad.numpy(), ts.grad.numpy())
    gradcheck(lambda b, c: lucid.index_add(b, 0, lucid.tensor([2, 0, 2]), c),
              [_leaf(_data((3, 2))), _leaf(_data((3, 2)))])
    ints = lucid.index_add(lucid.zeros(3, dtype=lucid.int64), 0, lucid.tensor([1, 1]),
                           lucid.tensor([5, 2]), alpha=3)
    assert ints.tolist() == [0, 21, 0]
    with pytest.raises(DTypeError, match="alpha must not be a floating point number"):
        lucid.index_add(lucid.zeros(3, dtype=lucid.int64), 0, lucid.tensor([1]),
                        lucid.tensor([5]), alpha=0.5)
    assert lucid.index_add(lucid.tensor(1.0), 0, lucid.tensor(0), lucid.tensor(5.0)).item() == 6.0


def test_take_along_dim_matches_torch():
    a = _data((2, 1, 4))
    idx = RNG.integers(0, 4, (1, 3, 2))  # broadcasts against a in dims 0 and 1
    x, t = _leaf(a), _torch_leaf(a)
    y = lucid.take_along_dim(x, lucid.tensor(idx), 2)
    ty = torch.take_along_dim(t, torch.tensor(idx), 2)
    assert tuple(y.shape) == tuple(ty.shape) == (2, 3, 2)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())
    flat = lucid.take_along_dim(lucid.tensor(a), lucid.tensor([[7, 0]]))
    np.testing.assert_array_equal(flat.numpy(), a.reshape(-1)[[7, 0]])


# ---------------------------------------------------------------- masks


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_masked_fill_matches_torch(dtype):
    a = _data((3, 4), dtype)
    m = _data((4,), np.bool_)  # broadcast against x
    got = lucid.tensor(a).masked_fill(lucid.tensor(m), 1)
    want = torch.tensor(a).masked_fill(torch.tensor(m), 1)
    assert got.dtype == a.dtype
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_masked_fill_grads():
    a = _data((3, 4))
    m = _data((3, 4), np.bool_)
    x, v = _leaf(a), _leaf(np.array(2.0))
    tx, tv = _torch_leaf(a), _torch_leaf(np.array(2.0))
    y = lucid.masked_fill(x, lucid.tensor(m), v)
    ty = torch.masked_fill(tx, torch.tensor(m), tv)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy())
    gradcheck(lambda t: lucid.masked_fill(t, lucid.tensor(m), -1.0), [_leaf(a)])
    y = lucid.zeros(3, dtype=lucid.float64)
    y.masked_fill_(lucid.tensor([True, False, True]), 4.0)
    assert y.tolist() == [4.0, 0.0, 4.0]


def test_masked_select_and_boolean_grad_match_torch():
    a = _data((3, 4))
    m = _data((4,), np.bool_)
    x, t = _leaf(a), _torch_leaf(a)
    y = lucid.masked_select(x, lucid.tensor(m))
    ty = torch.masked_select(t, torch.tensor(m))
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    g = _data(tuple(ty.shape))
    y.backward(lucid.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())
    assert lucid.masked_select(lucid.tensor(2.0), lucid.tensor(True)).shape == (1,)


def test_nonzero_matches_torch():
    for a in [_data((3, 4), np.int64) > 3, np.array([0.0, 1.5, 0.0, -2.0]),
              np.zeros((2, 0)), np.array(5.0), np.array(0)]:
        got = lucid.nonzero(lucid.tensor(a))
        want = torch.nonzero(torch.tensor(a))
        assert got.dtype is lucid.int64 and tuple(got.shape) == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        got_t = lucid.nonzero(lucid.tensor(a), as_tuple=True)
        want_t = torch.nonzero(torch.tensor(a), as_tuple=True)
        assert len(got_t) == len(want_t)
        for g, w in zip(got_t, want_t, strict=True):
            np.testing.assert_array_equal(g.numpy(), w.numpy())


# ---------------------------------------------------------------- errors


def test_out_of_range_errors_name_op_and_shapes():
    x = lucid.zeros(2, 3, 4)
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds for dimension 0 "
                                         r"with size 2.*float32\[2, 3, 4\]"):
        x[5]
    with pytest.raises(IndexError, match=r"index -4 is out of bounds for dimension 1 with size 3"):
        x[0, -4]
    with pytest.raises(IndexError, match=r"index 7 is out of bounds for dimension 2 with size 4"):
        x[:, :, [0, 7]]
    with pytest.raises(IndexError, match=r"index_put: index 3 is out of bounds"):
        x[0, 3] = 1.0
    with pytest.raises(IndexError, match=r"gather: index 4 is out of bounds for dimension 1"):
        lucid.gather(x, 1, lucid.zeros(2, 1, 4, dtype=lucid.int64) + 4)
    with pytest.raises(IndexError, match=r"gather: index -1 is out of bounds"):
        lucid.gather(x, 0, lucid.zeros(1, 1, 1, dtype=lucid.int64) - 1)
    with pytest.raises(IndexError, match=r"index_select: index 3 is out of bounds"):
        lucid.index_select(x, 1, lucid.tensor([3]))


def test_structural_errors():
    x = lucid.zeros(2, 3, 4)
    with pytest.raises(IndexError, match=r"getitem: too many indices for tensor of dimension 3: "
                                         r"float32\[2, 3, 4\] indexed with 4 indices"):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError, match=r"too many indices"):
        x[lucid.ones(2, 3, 4, 1, dtype=lucid.bool)]
    with pytest.raises(IndexError, match=r"getitem: the shape of the mask \[2, 2\] at index 1 "
                                         r"does not match the shape of the indexed tensor "
                                         r"float32\[2, 3, 4\] at index 1"):
        x[:, lucid.ones(2, 2, dtype=lucid.bool)]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(IndexError, match=r"must be integer or bool tensors, got float32\[1\]"):
        x[lucid.tensor([0.0])]
    with pytest.raises(IndexError, match="valid indices"):
        x["a"]
    with pytest.raises(IndexError, match=r"shape mismatch.*\[2\], \[3\]"):
        x[[0, 1], [0, 1, 2]]
    with pytest.raises(ValueError, match="step cannot be zero"):
        x[::0]
    with pytest.raises(ShapeError, match=r"index_put: the value float32\[2\] cannot be broadcast "
                                         r"to the indexed shape \[3, 4\] of float32\[2, 3, 4\]"):
        x[0] = lucid.zeros(2)
    with pytest.raises(ShapeError, match=r"gather: the index int64\[3, 1\] must be no larger"):
        lucid.gather(lucid.zeros(2, 3), 1, lucid.zeros(3, 1, dtype=lucid.int64))
    with pytest.raises(ShapeError, match="same number"):
        lucid.take_along_dim(lucid.zeros(2, 3), lucid.zeros(3, dtype=lucid.int64), 1)
    with pytest.raises(DTypeError, match="scatter_add: expected the source to have the input's"):
        lucid.scatter_add(lucid.zeros(3), 0, lucid.tensor([0]), lucid.ones(1, dtype=lucid.float64))
    with pytest.raises(DTypeError, match="masked_fill: expected a bool mask"):
        lucid.masked_fill(lucid.zeros(3), lucid.ones(3), 1.0)
    with pytest.raises(ShapeError, match="0-d value"):
        lucid.masked_fill(lucid.zeros(3), lucid.ones(3, dtype=lucid.bool), lucid.ones(3))
    with pytest.raises(ShapeError, match=r"index_add: the source must have the input's shape"):
        lucid.index_add(lucid.zeros(2, 3), 1, lucid.tensor([0]), lucid.ones(1, 1))
    with pytest.raises(DTypeError, match="integer index"):
        lucid.index_select(lucid.zeros(3), 0, lucid.tensor([0.0]))


def test_primitive_shape_rules_are_strict():
    x = lucid.zeros(3, 4)
    idx = lucid.tensor([0, 1])
    with pytest.raises(DTypeError, match="int64"):
        index_ops.index_p.bind(x, lucid.tensor(np.array([0], np.int32)), spec=(("array", 0),))
    with pytest.raises(ShapeError, match="indexed shape"):
        index_ops.index_put_p.bind(x, lucid.zeros(3), idx, spec=(("array", 0),))
    with pytest.raises(ShapeError, match="use each of its 1 index tensors once"):
        index_ops.index_p.bind(x, idx, spec=(("slice", 0, 1, 3),))
    assert index_ops.index_p.bind(x, idx, spec=(("slice", 2, -1, 3), ("array", 0))).shape == (3, 2)
