"""Tests of lucid.ops.linalg: matmul (PyTorch's rules), mm, bmm, dot, outer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lucid
from lucid.errors import DTypeError, ShapeError
from lucid.ops.linalg import matmul_p
from lucid.testing import gradcheck, gradgradcheck

# np.matmul's gufunc signature, "(n?,k),(k,m?)->(n?,m?)": hypothesis draws operand shapes that
# include 1-D operands (the optional dims) and broadcast batch dimensions.
MATMUL_SHAPES = hnp.mutually_broadcastable_shapes(
    signature=np.matmul.signature, max_dims=2, max_side=3
)
DTYPES = [lucid.float32, lucid.float64, lucid.int64]


def _data(rng: np.random.Generator, shape: tuple[int, ...], dtype: lucid.DType) -> np.ndarray:
    if dtype.is_floating_point:
        return rng.standard_normal(shape).astype(dtype.np)
    return rng.integers(-5, 6, size=shape).astype(dtype.np)


def _pair(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(_data(rng, s, dtype) for s in shapes.input_shapes)


# ---------------------------------------------------------------- forward


@settings(max_examples=40, deadline=None)
@given(shapes=MATMUL_SHAPES, dtype=st.sampled_from(DTYPES))
def test_matmul_forward_matches_numpy(shapes, dtype):
    a, b = _pair(shapes, dtype)
    out = lucid.matmul(lucid.tensor(a), lucid.tensor(b))
    want = np.matmul(a, b)
    assert out.dtype is dtype
    assert tuple(out.shape) == want.shape == shapes.result_shape
    if dtype.is_floating_point:
        tol = 1e-5 if dtype is lucid.float32 else 1e-12
        np.testing.assert_allclose(out.numpy(), want, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(out.numpy(), want)


@settings(max_examples=30, deadline=None)
@given(shapes=MATMUL_SHAPES)
def test_matmul_operator_and_torch_agree(shapes):
    a, b = _pair(shapes, lucid.float64, seed=1)
    out = lucid.tensor(a) @ lucid.tensor(b)
    want = torch.from_numpy(a) @ torch.from_numpy(b)
    assert tuple(out.shape) == tuple(want.shape)
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "sa, sb",
    [
        ((3,), (3,)),  # dot
        ((2, 3), (3, 4)),
        ((3,), (3, 4)),  # vector @ matrix
        ((2, 3), (3,)),  # matrix @ vector
        ((3,), (2, 3, 4)),  # vector @ batch
        ((2, 5, 3), (3,)),  # batch @ vector
        ((2, 5, 3), (3, 4)),  # batch @ matrix (folded into one product)
        ((5, 3), (2, 3, 4)),  # matrix @ batch (broadcast)
        ((2, 1, 4, 3), (5, 3, 2)),  # batch broadcasting both ways
        ((1, 2, 3), (4, 1, 3, 2)),
        ((2, 0, 3), (3, 4)),  # empty rows
        ((2, 3, 0), (0, 4)),  # empty inner dimension: zeros
    ],
)
def test_matmul_shapes(sa, sb):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    out = lucid.matmul(lucid.tensor(a), lucid.tensor(b))
    np.testing.assert_allclose(out.numpy(), np.matmul(a, b), atol=1e-12)
    assert tuple(out.shape) == tuple(torch.matmul(torch.tensor(a), torch.tensor(b)).shape)


def test_matmul_float16():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 4)).astype(np.float16)
    b = rng.standard_normal((4, 2)).astype(np.float16)
    out = lucid.tensor(a) @ lucid.tensor(b)
    assert out.dtype is lucid.float16
    np.testing.assert_allclose(out.numpy().astype(np.float64),
                               a.astype(np.float64) @ b.astype(np.float64), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize(
    "da, db",
    [
        (lucid.float32, lucid.float64),
        (lucid.int64, lucid.float32),
        (lucid.int32, lucid.int64),
        (lucid.float16, lucid.float32),
        (lucid.uint8, lucid.int64),
    ],
)
def test_matmul_promotes_dtypes(da, db):
    a = lucid.ones(2, 3, dtype=da)
    b = lucid.ones(3, 2, dtype=db)
    out = lucid.matmul(a, b)
    assert out.dtype is lucid.promote_types(da, db)
    assert out.tolist() == [[3, 3], [3, 3]]
    assert (b.mT @ a.mT).dtype is out.dtype


def test_matmul_numpy_operand_on_either_side():
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    w = lucid.ones(3, 2)
    right = lucid.tensor(a) @ np.ones((3, 2), np.float32)
    left = a @ w  # NumPy defers to Tensor.__rmatmul__
    assert isinstance(left, lucid.Tensor)
    np.testing.assert_allclose(left.numpy(), a @ np.ones((3, 2)))
    np.testing.assert_allclose(right.numpy(), a @ np.ones((3, 2)))


def test_matmul_inplace_operator():
    x = lucid.tensor([[1.0, 2.0], [3.0, 4.0]])
    x @= lucid.eye(2) * 2
    assert x.tolist() == [[2.0, 4.0], [6.0, 8.0]]


# ---------------------------------------------------------------- errors


def test_matmul_inner_mismatch_names_both_shapes():
    with pytest.raises(ShapeError) as e:
        lucid.randn(2, 3) @ lucid.randn(4, 5)
    msg = str(e.value)
    assert "(2, 3)" in msg and "(4, 5)" in msg and "3 != 4" in msg
    with pytest.raises(ShapeError, match=r"\(3,\).*\(4,\)"):
        lucid.matmul(lucid.randn(3), lucid.randn(4))
    with pytest.raises(ShapeError, match=r"\(2, 5, 3\).*\(2,\)"):
        lucid.matmul(lucid.randn(2, 5, 3), lucid.randn(2))
    assert issubclass(ShapeError, ValueError)


def test_matmul_batch_mismatch():
    with pytest.raises(ShapeError, match="broadcast"):
        lucid.matmul(lucid.randn(2, 3, 4), lucid.randn(3, 4, 5))


def test_matmul_rejects_scalars_and_bool():
    with pytest.raises(ShapeError, match="at least 1-D"):
        lucid.matmul(lucid.tensor(2.0), lucid.randn(3))
    with pytest.raises(ShapeError, match="at least 1-D"):
        lucid.matmul(lucid.randn(3), 2.0)
    t = lucid.tensor([[True, False]])
    with pytest.raises(DTypeError, match="bool"):
        lucid.matmul(t, t.mT)


def test_primitive_is_strict():
    with pytest.raises(ShapeError, match="equal batch"):
        matmul_p.bind(lucid.randn(2, 3, 4), lucid.randn(4, 5))
    with pytest.raises(ShapeError, match="rank >= 2"):
        matmul_p.bind(lucid.randn(3), lucid.randn(3, 4))
    with pytest.raises(DTypeError, match="one dtype"):
        matmul_p.bind(lucid.randn(2, 3), lucid.randn(3, 4, dtype=lucid.float64))
    with pytest.raises(ShapeError, match="cannot be multiplied"):
        matmul_p.bind(lucid.randn(2, 3), lucid.randn(4, 4))
    assert matmul_p.lowering == lucid.ops.Kernel("matmul")


# ---------------------------------------------------------------- mm, bmm, dot, outer


def test_mm():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    out = lucid.mm(lucid.tensor(a), lucid.tensor(b))
    np.testing.assert_allclose(out.numpy(), a @ b)
    np.testing.assert_allclose(lucid.tensor(a).mm(lucid.tensor(b)).numpy(), a @ b)
    with pytest.raises(ShapeError, match="2-D"):
        lucid.mm(lucid.randn(2, 2, 3), lucid.randn(3, 4))
    with pytest.raises(ShapeError, match="2-D"):
        lucid.mm(lucid.randn(3), lucid.randn(3, 4))
    with pytest.raises(ShapeError, match=r"\(2, 3\) and \(4, 4\)"):
        lucid.mm(lucid.randn(2, 3), lucid.randn(4, 4))


def test_bmm():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    out = lucid.bmm(lucid.tensor(a), lucid.tensor(b))
    np.testing.assert_allclose(out.numpy(), a @ b, atol=1e-12)
    np.testing.assert_allclose(lucid.tensor(a).bmm(lucid.tensor(b)).numpy(), a @ b, atol=1e-12)
    with pytest.raises(ShapeError, match="3-D"):
        lucid.bmm(lucid.randn(3, 4), lucid.randn(4, 5))
    with pytest.raises(ShapeError, match="batch sizes differ"):  # bmm does not broadcast
        lucid.bmm(lucid.randn(1, 3, 4), lucid.randn(2, 4, 5))
    with pytest.raises(ShapeError, match="cannot be multiplied"):
        lucid.bmm(lucid.randn(2, 3, 4), lucid.randn(2, 3, 5))


def test_dot():
    a, b = lucid.tensor([1.0, 2.0, 3.0]), lucid.tensor([4.0, 5.0, 6.0])
    out = lucid.dot(a, b)
    assert out.shape == () and out.item() == 32.0
    assert a.dot(b).item() == 32.0
    assert lucid.dot(lucid.tensor([1, 2]), lucid.tensor([3, 4])).dtype is lucid.int64
    with pytest.raises(ShapeError, match="1-D"):
        lucid.dot(lucid.randn(2, 3), lucid.randn(3))
    with pytest.raises(ShapeError, match="different lengths"):
        lucid.dot(lucid.randn(3), lucid.randn(4))


def test_outer():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])
    out = lucid.outer(lucid.tensor(a), lucid.tensor(b))
    np.testing.assert_allclose(out.numpy(), np.outer(a, b))
    assert lucid.outer(lucid.tensor([1, 2]), lucid.tensor([3])).dtype is lucid.int64
    with pytest.raises(ShapeError, match="1-D"):
        lucid.outer(lucid.randn(2, 2), lucid.randn(2))


# ---------------------------------------------------------------- gradients


def _leaves(shapes, seed):
    rng = np.random.default_rng(seed)
    return [lucid.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


GRAD_CASES = [
    ((3,), (3,)),
    ((2, 3), (3, 4)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((2, 2, 3), (3, 2)),
    ((3, 2), (2, 2, 1)),
    ((2, 1, 2, 3), (3, 3, 2)),
    ((2, 3), (2, 3, 2)),
]


@pytest.mark.parametrize("sa, sb", GRAD_CASES)
def test_matmul_gradcheck(sa, sb):
    a, b = _leaves([sa, sb], seed=5)
    assert gradcheck(lucid.matmul, [a, b])


@settings(max_examples=20, deadline=None)
@given(shapes=MATMUL_SHAPES)
def test_matmul_grads_match_torch(shapes):
    a, b = _leaves(shapes.input_shapes, seed=6)
    out = lucid.matmul(a, b)
    rng = np.random.default_rng(7)
    g = rng.standard_normal(tuple(out.shape))
    out.backward(lucid.tensor(g))

    ta = torch.tensor(a.detach().numpy(), requires_grad=True)
    tb = torch.tensor(b.detach().numpy(), requires_grad=True)
    torch.matmul(ta, tb).backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert a.grad.shape == a.shape and b.grad.shape == b.shape


def test_matmul_grad_float32_dtype():
    a = lucid.randn(2, 3, requires_grad=True)
    b = lucid.randn(3, 4, requires_grad=True)
    (a @ b).sum().backward()
    assert a.grad.dtype is lucid.float32 and b.grad.dtype is lucid.float32
    np.testing.assert_allclose(a.grad.numpy(), np.ones((2, 4)) @ b.detach().numpy().T,
                               rtol=1e-6)


def test_matmul_grad_through_promotion():
    # int64 operand promoted to float64: only the float operand gets a gradient.
    a = lucid.tensor([[1, 2], [3, 4]])
    w = lucid.tensor([[0.5], [1.5]], dtype=lucid.float64, requires_grad=True)
    (a @ w).sum().backward()
    assert w.grad.dtype is lucid.float64
    assert w.grad.tolist() == [[4.0], [6.0]]


@pytest.mark.parametrize("sa, sb", [((3,), (3,)), ((2, 3), (3, 2)), ((2, 2, 3), (3,)),
                                    ((2, 1, 2, 2), (3, 2, 2))])
def test_matmul_gradgradcheck(sa, sb):
    a, b = _leaves([sa, sb], seed=8)
    assert gradgradcheck(lucid.matmul, [a, b])


def test_mm_bmm_dot_outer_gradcheck():
    a, b = _leaves([(2, 3), (3, 2)], seed=9)
    assert gradcheck(lucid.mm, [a, b])
    a, b = _leaves([(2, 2, 3), (2, 3, 2)], seed=10)
    assert gradcheck(lucid.bmm, [a, b])
    a, b = _leaves([(4,), (4,)], seed=11)
    assert gradcheck(lucid.dot, [a, b])
    assert gradgradcheck(lucid.dot, [a, b])
    a, b = _leaves([(3,), (2,)], seed=12)
    assert gradcheck(lucid.outer, [a, b])


def test_matmul_backward_graph_is_matmuls():
    # The VJPs are matmul primitives themselves: the first-order gradient has a grad_fn.
    a, b = _leaves([(2, 3), (3, 2)], seed=13)
    (ga,) = lucid.autograd.grad((a @ b).sum(), [a], create_graph=True)
    assert ga.requires_grad and ga.grad_fn is not None
    (gb,) = lucid.autograd.grad(ga.sum(), [b])
    # d/db sum_ij (1 @ b^T)_ij = 2 everywhere (each b element appears in 2 rows of ga).
    np.testing.assert_allclose(gb.numpy(), np.full((3, 2), 2.0))
