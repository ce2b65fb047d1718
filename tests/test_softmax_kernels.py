"""Tests of the softmax / log-softmax kernels (lucid.kernels.cpu.softmax) against PyTorch:
every axis of a 3-d input, extreme logits, -inf, +inf and NaN rows, and float16 (NumPy path)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lucid

TOL = {"float32": {"rtol": 1e-5, "atol": 1e-6}, "float64": {"rtol": 1e-12, "atol": 1e-12}}


def _both(x: np.ndarray, dim: int) -> None:
    for lucid_fn, torch_fn in ((lucid.softmax, torch.softmax),
                               (lucid.log_softmax, torch.log_softmax)):
        out = lucid_fn(lucid.tensor(x), dim=dim)
        ref = torch_fn(torch.tensor(x), dim=dim).numpy()
        assert out.dtype.name == x.dtype.name and tuple(out.shape) == x.shape
        np.testing.assert_allclose(out.numpy(), ref, **TOL.get(x.dtype.name, {"rtol": 1e-2}))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_every_axis_matches_torch(dim: int, dtype: str) -> None:
    x = np.random.default_rng(0).standard_normal((4, 5, 6)).astype(dtype) * 5
    _both(x, dim)


def test_cross_entropy_shape_and_large_logits() -> None:
    x = np.random.default_rng(1).standard_normal((32, 10)).astype(np.float32) * 30 + 500
    _both(x, 1)


def test_special_values_match_torch() -> None:
    x = np.random.default_rng(2).standard_normal((6, 5))
    x[0, 2] = -np.inf  # one -inf: exactly 0 (log: -inf)
    x[1, :] = -np.inf  # all -inf: NaN row
    x[2, 3] = np.inf  # +inf: NaN row
    x[3, 1] = np.nan  # NaN: NaN row
    x[4, 0] = np.nan
    x[4, 4] = np.inf
    _both(x, 1)
    _both(x.T.copy(), 0)


def test_non_contiguous_input_and_float16() -> None:
    x = np.random.default_rng(3).standard_normal((5, 7))
    _both(x.T, 1)  # a transposed view
    _both(x.astype(np.float16), 1)  # NumPy fallback (the kernels have no float16)


def test_gradient_through_cross_entropy() -> None:
    x = np.random.default_rng(4).standard_normal((8, 10)).astype(np.float32)
    y = np.arange(8) % 10
    lx, tx = lucid.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lucid.nn.functional.cross_entropy(lx, lucid.tensor(y)).backward()
    torch.nn.functional.cross_entropy(tx, torch.tensor(y)).backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_large_input_numpy_path_matches_torch() -> None:
    x = np.random.default_rng(5).standard_normal((64, 100)).astype(np.float32)
    _both(x, 1)
    _both(x, 0)
