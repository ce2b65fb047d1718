"""Tests of the factory functions (lucid.creation) and random number generation (lucid.random)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lucid
from lucid.errors import DTypeError, ShapeError

# ---------------------------------------------------------------- tensor / as_tensor / from_numpy


def test_tensor_infers_dtypes():
    assert lucid.tensor([1.0, 2.0]).dtype is lucid.float32
    assert lucid.tensor([1, 2]).dtype is lucid.int64
    assert lucid.tensor([True, False]).dtype is lucid.bool
    assert lucid.tensor([1, 2.5]).dtype is lucid.float32  # mixed: floats win
    assert lucid.tensor(3.0).shape == () and lucid.tensor(3.0).item() == 3.0
    assert lucid.tensor([[1, 2], [3, 4]], dtype=lucid.float64).dtype is lucid.float64
    assert lucid.tensor(np.arange(3, dtype=np.int32)).dtype is lucid.int32
    assert lucid.tensor([]).shape == (0,)


def test_tensor_copies_but_from_numpy_shares():
    a = np.zeros(3, dtype=np.float32)
    t, s = lucid.tensor(a), lucid.from_numpy(a)
    a[0] = 5
    assert t.tolist() == [0.0, 0.0, 0.0]
    assert s.tolist() == [5.0, 0.0, 0.0]
    assert lucid.as_tensor(a).numpy() is a  # as_tensor does not copy NumPy arrays
    x = lucid.ones(2)
    assert lucid.as_tensor(x) is x
    assert lucid.as_tensor(x, dtype=lucid.float64).dtype is lucid.float64


def test_tensor_requires_grad():
    t = lucid.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf
    with pytest.raises(DTypeError, match="floating point"):
        lucid.tensor([1, 2], requires_grad=True)


# ---------------------------------------------------------------- zeros / ones / full / empty


@pytest.mark.parametrize("fn, value", [(lucid.zeros, 0.0), (lucid.ones, 1.0)])
def test_zeros_ones_size_spellings(fn, value):
    for t in (fn(2, 3), fn((2, 3)), fn([2, 3]), fn(lucid.Size([2, 3])), fn(np.int64(2), 3)):
        assert t.shape == (2, 3) and t.dtype is lucid.float32
        assert (t.numpy() == value).all()
    assert fn(()).shape == ()
    assert fn(0, 3).shape == (0, 3)
    assert fn(2, dtype=lucid.int64).dtype is lucid.int64
    assert fn(2, dtype=lucid.bool).tolist() == [bool(value)] * 2
    t = fn(2, requires_grad=True)
    assert t.requires_grad and t.is_leaf


def test_empty():
    t = lucid.empty(2, 3, dtype=lucid.int32)
    assert t.shape == (2, 3) and t.dtype is lucid.int32
    assert lucid.empty((4,)).dtype is lucid.float32


def test_bad_sizes():
    with pytest.raises(ShapeError, match="negative"):
        lucid.zeros(2, -1)
    with pytest.raises(TypeError, match="ints"):
        lucid.zeros(2.5)  # not silently truncated to 2 (PyTorch refuses floats too)
    with pytest.raises(TypeError, match="ints"):
        lucid.ones("3")


def test_full():
    assert lucid.full((2, 2), 1.5).dtype is lucid.float32
    assert lucid.full((2, 2), 7).dtype is lucid.int64
    assert lucid.full((2,), True).dtype is lucid.bool
    assert lucid.full(3, 2.0).tolist() == [2.0, 2.0, 2.0]
    t = lucid.full([2, 3], 4, dtype=lucid.float64)
    assert t.dtype is lucid.float64 and (t.numpy() == 4).all()
    for fill in (1.5, 7, True):
        want = str(torch.full((2,), fill).dtype).removeprefix("torch.")
        assert lucid.full((2,), fill).dtype == want


def test_like_functions():
    x = lucid.ones(2, 3, dtype=lucid.int32)
    for fn, v in ((lucid.zeros_like, 0), (lucid.ones_like, 1)):
        t = fn(x)
        assert t.shape == x.shape and t.dtype is lucid.int32 and (t.numpy() == v).all()
        assert fn(x, dtype=lucid.float64).dtype is lucid.float64
    t = lucid.full_like(x, 9)
    assert t.dtype is lucid.int32 and t.tolist() == [[9, 9, 9]] * 2
    assert lucid.empty_like(x).shape == (2, 3)
    f = lucid.zeros(3)
    z = lucid.zeros_like(f, requires_grad=True)
    assert z.requires_grad and not f.requires_grad
    r = lucid.rand_like(f)
    assert r.shape == (3,) and r.dtype is lucid.float32
    assert lucid.randn_like(lucid.zeros(2, dtype=lucid.float64)).dtype is lucid.float64
    with pytest.raises(DTypeError, match="floating"):
        lucid.rand_like(x)  # like torch.rand_like on an integer tensor


# ---------------------------------------------------------------- arange / linspace / eye


@pytest.mark.parametrize(
    "args",
    [(5,), (2, 7), (0, 10, 3), (5, 0, -1), (10, 0, -3), (0.0, 1.0, 0.25), (-1.0, 1.0, 0.5),
     (0, 0.3, 0.1), (1, 2.5, 0.5), (3, 3), (2.5,)],
)
def test_arange_matches_torch(args):
    got, want = lucid.arange(*args), torch.arange(*args)
    assert got.dtype == str(want.dtype).removeprefix("torch.")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_arange_dtype_and_errors():
    assert lucid.arange(5, dtype=lucid.float64).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert lucid.arange(5).dtype is lucid.int64
    with pytest.raises(ValueError, match="nonzero"):
        lucid.arange(0, 5, 0)
    with pytest.raises(ValueError, match="inconsistent"):
        lucid.arange(0, 5, -1)
    with pytest.raises(ValueError, match="inconsistent"):
        lucid.arange(5, 0)


def test_linspace():
    t = lucid.linspace(0, 1, 5)
    assert t.dtype is lucid.float32
    np.testing.assert_allclose(t.numpy(), [0.0, 0.25, 0.5, 0.75, 1.0])
    assert lucid.linspace(-2, 2, 1).tolist() == [-2.0]
    assert lucid.linspace(0, 1, 0).shape == (0,)
    assert lucid.linspace(0, 1, 3, dtype=lucid.float64).dtype is lucid.float64
    np.testing.assert_allclose(lucid.linspace(3, -3, 7).numpy(), torch.linspace(3, -3, 7).numpy())


def test_eye():
    assert lucid.eye(3).tolist() == np.eye(3).tolist()
    assert lucid.eye(2, 3).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert lucid.eye(2).dtype is lucid.float32
    assert lucid.eye(2, dtype=lucid.int64).dtype is lucid.int64


# ---------------------------------------------------------------- random


def test_rand_randn_shapes_and_dtypes():
    for fn in (lucid.rand, lucid.randn):
        a, b = fn(2, 20), fn((2, 20))
        assert a.shape == b.shape == (2, 20) and a.dtype is lucid.float32
        assert fn(3, dtype=lucid.float64).dtype is lucid.float64
        assert fn(()).shape == ()
        assert fn(2, requires_grad=True).requires_grad
        with pytest.raises(DTypeError, match="floating"):
            fn(2, dtype=lucid.int64)
    u = lucid.rand(1000).numpy()
    assert u.min() >= 0.0 and u.max() < 1.0 and 0.4 < u.mean() < 0.6
    n = lucid.randn(4000, dtype=lucid.float64).numpy()
    assert abs(n.mean()) < 0.1 and 0.9 < n.std() < 1.1


def test_randint():
    t = lucid.randint(3, 7, (50,))
    assert t.dtype is lucid.int64 and t.shape == (50,)
    assert t.numpy().min() >= 3 and t.numpy().max() < 7
    assert set(t.tolist()) == {3, 4, 5, 6}  # 50 draws of 4 values: all appear
    s = lucid.randint(10, (2, 3))  # PyTorch's randint(high, size)
    assert s.shape == (2, 3) and s.numpy().min() >= 0 and s.numpy().max() < 10
    assert lucid.randint(5, size=(4,)).shape == (4,)
    assert lucid.randint(0, 2, (3,), dtype=lucid.int32).dtype is lucid.int32
    with pytest.raises(ValueError, match="low < high"):
        lucid.randint(5, 3, (2,))


def test_randperm():
    p = lucid.randperm(10)
    assert p.dtype is lucid.int64 and sorted(p.tolist()) == list(range(10))
    assert lucid.randperm(0).shape == (0,)


def test_manual_seed_reproducible():
    lucid.manual_seed(123)
    a = (lucid.rand(3), lucid.randn(3), lucid.randint(0, 100, (3,)), lucid.randperm(5))
    lucid.manual_seed(123)
    b = (lucid.rand(3), lucid.randn(3), lucid.randint(0, 100, (3,)), lucid.randperm(5))
    for x, y in zip(a, b, strict=True):
        assert x.tolist() == y.tolist()
    assert lucid.initial_seed() == 123
    lucid.manual_seed(124)
    assert lucid.rand(3).tolist() != a[0].tolist()


def test_random_module_functions():
    lucid.random.manual_seed(7)
    a = (lucid.random.rand(2), lucid.random.randn(2, 2), lucid.random.randint(0, 5, (3,)))
    lucid.manual_seed(7)
    b = (lucid.rand(2), lucid.randn((2, 2)), lucid.randint(0, 5, (3,)))
    for x, y in zip(a, b, strict=True):
        assert x.tolist() == y.tolist()
    s = lucid.random.seed()
    assert isinstance(s, int) and lucid.random.initial_seed() == s
    state = lucid.random.get_rng_state()
    c = lucid.rand(4).tolist()
    lucid.random.set_rng_state(state)
    assert lucid.rand(4).tolist() == c


def test_generator_independent_of_global():
    g = lucid.Generator().manual_seed(0)
    assert isinstance(g, lucid.Generator) and g.initial_seed() == 0
    lucid.manual_seed(99)
    a = lucid.rand(3, generator=g)
    lucid.rand(10)  # global draws do not disturb g's stream
    b = lucid.randn(2, generator=g)
    c = lucid.randint(0, 10, (4,), generator=g)
    d = lucid.randperm(6, generator=g)

    g2 = lucid.Generator().manual_seed(0)
    assert lucid.rand(3, generator=g2).tolist() == a.tolist()
    assert lucid.randn(2, generator=g2).tolist() == b.tolist()
    assert lucid.randint(0, 10, (4,), generator=g2).tolist() == c.tolist()
    assert lucid.randperm(6, generator=g2).tolist() == d.tolist()

    # ... and g's draws do not advance the global generator.
    lucid.manual_seed(5)
    x = lucid.rand(3)
    lucid.manual_seed(5)
    lucid.rand(8, generator=g)
    assert lucid.rand(3).tolist() == x.tolist()


def test_generator_state_roundtrip():
    g = lucid.Generator().manual_seed(1)
    st = g.get_state()
    a = lucid.rand(3, generator=g).tolist()
    g.set_state(st)
    assert lucid.rand(3, generator=g).tolist() == a
    assert g.seed() == g.initial_seed()


def test_inplace_random_fills():
    lucid.manual_seed(0)
    t = lucid.zeros(100)
    assert t.uniform_(2.0, 3.0) is t
    assert t.numpy().min() >= 2.0 and t.numpy().max() < 3.0
    t.normal_(5.0, 0.01)
    assert abs(t.numpy().mean() - 5.0) < 0.01
    with pytest.raises(DTypeError, match="floating"):
        lucid.zeros(2, dtype=lucid.int64).uniform_()


# ---------------------------------------------------------------- default dtype


def test_default_dtype_affects_factories_and_python_floats():
    assert lucid.get_default_dtype() is lucid.float32
    try:
        lucid.set_default_dtype(lucid.float64)
        assert lucid.get_default_dtype() is lucid.float64
        assert lucid.rand(2).dtype is lucid.float64
        assert lucid.randn(2).dtype is lucid.float64
        assert lucid.zeros(2).dtype is lucid.float64
        assert lucid.ones(2).dtype is lucid.float64
        assert lucid.eye(2).dtype is lucid.float64
        assert lucid.linspace(0, 1, 3).dtype is lucid.float64
        assert lucid.arange(0.0, 1.0, 0.5).dtype is lucid.float64
        assert lucid.full((2,), 1.5).dtype is lucid.float64
        assert lucid.tensor([1.5]).dtype is lucid.float64
        assert lucid.tensor(2.0).dtype is lucid.float64
        assert (lucid.tensor([1, 2]) * 0.5).dtype is lucid.float64
        assert (lucid.tensor([1, 2]) / 2).dtype is lucid.float64
        assert lucid.tensor([1, 2]).dtype is lucid.int64  # ints are unaffected
        assert lucid.ones(2, dtype=lucid.float32).dtype is lucid.float32
    finally:
        lucid.set_default_dtype(lucid.float32)
    assert lucid.rand(2).dtype is lucid.float32
    assert lucid.tensor([1.5]).dtype is lucid.float32
