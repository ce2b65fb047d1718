"""Tests of lucid's dtypes and PyTorch's type-promotion rules (checked against torch)."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest
import torch

import lucid
from lucid import dtypes as dt
from lucid.errors import DTypeError

NAMES = ["float16", "float32", "float64", "int32", "int64", "uint8", "bool"]
ALL_NAMES = [*NAMES, "int8", "int16"]
SCALARS = [3, 2.5, True]


def L(name: str) -> lucid.DType:
    return getattr(lucid, name)


def T(name: str) -> torch.dtype:
    return getattr(torch, name)


def _lucid(name: str, ndim: int) -> lucid.Tensor:
    shape = (2,) * ndim
    return lucid.ones(shape, dtype=L(name))


def _torch(name: str, ndim: int) -> torch.Tensor:
    shape = (2,) * ndim
    return torch.ones(shape, dtype=T(name))


# ---------------------------------------------------------------- the dtype objects


@pytest.mark.parametrize("name", ALL_NAMES)
def test_exported_and_equal_to_numpy(name):
    d = L(name)
    assert isinstance(d, lucid.DType)
    assert d is getattr(dt, "bool_" if name == "bool" else name)
    assert d == np.dtype(name) and d == getattr(np, name if name != "bool" else "bool_")
    assert d == name  # NumPy dtype names compare equal too
    assert d.np == np.dtype(name)
    assert repr(d) == f"lucid.{name}"
    assert d.itemsize == T(name).itemsize
    assert d.is_floating_point == T(name).is_floating_point
    assert d.is_signed == T(name).is_signed
    for other in ALL_NAMES:
        if other != name:
            assert d != L(other) and d != np.dtype(other)
    assert d != None  # noqa: E711 - np.dtype(None) is float64; no dtype equals None
    assert d != 3 and d != "not-a-dtype"


def test_aliases():
    assert lucid.float is lucid.float32 and lucid.double is lucid.float64
    assert lucid.half is lucid.float16 and lucid.long is lucid.int64
    assert lucid.int is lucid.int32 and lucid.short is lucid.int16
    assert lucid.bool is lucid.bool_
    # Python's types given as a dtype mean what they mean in PyTorch.
    assert dt.as_dtype(int) is lucid.int64
    assert dt.as_dtype(float) is lucid.float32
    assert dt.as_dtype(bool) is lucid.bool
    assert dt.as_dtype("float64") is lucid.float64
    assert dt.as_dtype(np.int32) is lucid.int32


def test_unsupported_dtypes_raise():
    with pytest.raises(DTypeError, match="unsupported dtype"):
        dt.as_dtype(np.complex64)
    with pytest.raises(DTypeError, match="no lucid equivalent"):
        lucid.tensor(np.zeros(2, dtype=np.uint32))


def test_hashable_and_usable_as_keys():
    table = {lucid.float32: "f", lucid.int64: "i"}
    assert table[lucid.float32] == "f"
    assert len({lucid.float32, lucid.float32, lucid.float64}) == 2


@pytest.mark.parametrize("name", ALL_NAMES)
def test_pickle_gives_the_singleton(name):
    d = L(name)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(d, protocol=protocol)) is d
    t = lucid.ones(2, dtype=d)
    assert pickle.loads(pickle.dumps(t)).dtype is d


# ---------------------------------------------------------------- promotion


@pytest.mark.parametrize("a, b", list(itertools.product(ALL_NAMES, ALL_NAMES)))
def test_promote_types_matches_torch(a, b):
    got = lucid.promote_types(L(a), L(b))
    assert got is L(str(torch.promote_types(T(a), T(b))).removeprefix("torch."))


def _torch_name(d: torch.dtype) -> str:
    return str(d).removeprefix("torch.")


@pytest.mark.parametrize("a, b", list(itertools.product(NAMES, NAMES)))
@pytest.mark.parametrize("ndims", [(1, 1), (1, 0), (0, 1), (0, 0)])
def test_tensor_tensor_promotion_matches_torch(a, b, ndims):
    la, lb = _lucid(a, ndims[0]), _lucid(b, ndims[1])
    ta, tb = _torch(a, ndims[0]), _torch(b, ndims[1])
    want = _torch_name(torch.result_type(ta, tb))
    assert lucid.result_type(la, lb) is L(want)
    # And the ops follow the rule (add is defined for every dtype).
    assert lucid.add(la, lb).dtype is L(want)
    assert (la * lb).dtype is L(_torch_name((ta * tb).dtype))


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("scalar", SCALARS)
@pytest.mark.parametrize("ndim", [0, 1])
def test_tensor_scalar_promotion_matches_torch(a, scalar, ndim):
    la, ta = _lucid(a, ndim), _torch(a, ndim)
    want = L(_torch_name(torch.result_type(ta, scalar)))
    assert lucid.result_type(la, scalar) is want
    assert lucid.result_type(scalar, la) is want
    assert lucid.add(la, scalar).dtype is want
    assert (scalar * la).dtype is L(_torch_name((scalar * ta).dtype))


@pytest.mark.parametrize("a, b", list(itertools.product(NAMES, NAMES)))
@pytest.mark.parametrize("scalar", SCALARS)
def test_three_way_promotion_matches_torch(a, b, scalar):
    # A dimensioned tensor, a 0-d tensor and a Python scalar: each only counts when it is of a
    # higher category than everything "stronger".
    la, lb, ta, tb = _lucid(a, 1), _lucid(b, 0), _torch(a, 1), _torch(b, 0)
    want = _torch_name(torch.result_type(ta + tb, scalar))
    assert lucid.result_type(la, lb, scalar) is L(want)


def test_promotion_examples():
    f32, f16 = lucid.ones(2), lucid.ones(2, dtype=lucid.float16)
    i64 = lucid.ones(2, dtype=lucid.int64)
    assert (f32 * 2.0).dtype is lucid.float32  # Python floats are weak
    assert (i64 * 2.5).dtype is lucid.float32  # ... but raise the category
    assert (i64 + f16).dtype is lucid.float16  # category beats width
    assert (i64 * lucid.tensor(2.5, dtype=lucid.float64)).dtype is lucid.float64
    assert (f32 * lucid.tensor(2.5, dtype=lucid.float64)).dtype is lucid.float32
    assert (lucid.ones(2, dtype=lucid.uint8) + 200).dtype is lucid.uint8
    # Out-of-range weak integers wrap around, as in PyTorch.
    assert (lucid.ones(2, dtype=lucid.uint8) + 300).tolist() == [45, 45]
    assert (lucid.ones(2, dtype=lucid.uint8) * -1).tolist() == (torch.ones(2, dtype=torch.uint8)
                                                                * -1).tolist()


def test_python_floats_follow_default_dtype():
    prev = lucid.get_default_dtype()
    try:
        lucid.set_default_dtype(lucid.float64)
        assert lucid.result_type(lucid.ones(2, dtype=lucid.int64), 2.5) is lucid.float64
        assert lucid.result_type(lucid.ones(2, dtype=lucid.float16), 2.5) is lucid.float16
        assert dt.as_dtype(float) is lucid.float64
    finally:
        lucid.set_default_dtype(prev)
    assert lucid.result_type(lucid.ones(2, dtype=lucid.int64), 2.5) is lucid.float32


def test_set_default_dtype_rejects_non_float():
    with pytest.raises(DTypeError, match="floating"):
        lucid.set_default_dtype(lucid.int64)
    assert lucid.get_default_dtype() is lucid.float32


def test_result_type_rejects_other_objects():
    with pytest.raises(DTypeError, match="str"):
        lucid.result_type(lucid.ones(2), "x")


def test_can_cast_is_torchs_inplace_rule():
    for a, b in itertools.product(NAMES, NAMES):
        assert dt.can_cast(L(a), L(b)) == torch.can_cast(T(a), T(b)), (a, b)
