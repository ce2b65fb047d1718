"""Tests of the specialised pooling kernels (lucid.kernels.cpu.pool) against PyTorch: the
2x2 / stride-2 max-pool argmax fast path, with ties, NaNs, infinities and odd sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lucid
from lucid.kernels.cpu import pool as pool_kernels


def _torch_pool(x: np.ndarray, ceil_mode: bool = False) -> tuple[np.ndarray, np.ndarray]:
    out, idx = F.max_pool2d(torch.tensor(x), 2, 2, ceil_mode=ceil_mode, return_indices=True)
    return out.numpy(), idx.numpy()


def _lucid_pool(x: np.ndarray, ceil_mode: bool = False) -> tuple[np.ndarray, np.ndarray]:
    out, idx = lucid.max_pool2d(lucid.tensor(x), 2, ceil_mode=ceil_mode, return_indices=True)
    return out.numpy(), idx.numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (32, 16, 32, 32), (1, 2, 7, 9), (3, 1, 2, 2)])
def test_argmax_2x2_matches_torch(shape: tuple[int, ...], dtype: str) -> None:
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    x = np.maximum(x, 0)  # ReLU output: many ties at 0, where the first maximum must win
    out, idx = _lucid_pool(x)
    ref, ridx = _torch_pool(x)
    np.testing.assert_array_equal(idx, ridx)
    np.testing.assert_array_equal(out, ref)


def test_argmax_2x2_kernel_direct() -> None:
    """The kernel itself, on planes, against a literal scan of each window."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, (5, 6, 8)).astype(np.float32)  # small integers: ties everywhere
    idx = np.empty((5, 3, 4), np.int64)
    pool_kernels.max_pool_argmax_2x2(x, idx)
    for n in range(5):
        for oh in range(3):
            for ow in range(4):
                window = [(2 * oh + i) * 8 + 2 * ow + j for i in range(2) for j in range(2)]
                values = x[n].reshape(-1)[window]
                assert idx[n, oh, ow] == window[int(np.argmax(values))]


def test_argmax_2x2_nan_and_inf() -> None:
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 6)).astype(np.float32)
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 1, 0] = np.nan  # two NaNs in one window: PyTorch keeps the last one
    x[1, 2, 4, 5] = np.nan
    x[1, 1, :2, :2] = -np.inf  # a window of -inf only: its first position
    x[0, 2, 2, 2] = np.inf
    out, idx = _lucid_pool(x)
    ref, ridx = _torch_pool(x)
    np.testing.assert_array_equal(idx, ridx)
    np.testing.assert_array_equal(out, ref)  # NaNs compare equal here


def test_argmax_2x2_ceil_mode_falls_back() -> None:
    """With ceil_mode the last window of an odd size is clipped: not the fast path's shape."""
    x = np.random.default_rng(3).standard_normal((2, 2, 7, 5)).astype(np.float32)
    out, idx = _lucid_pool(x, ceil_mode=True)
    ref, ridx = _torch_pool(x, ceil_mode=True)
    np.testing.assert_array_equal(idx, ridx)
    np.testing.assert_array_equal(out, ref)


def test_argmax_2x2_non_contiguous_input_and_grad() -> None:
    x = np.random.default_rng(4).standard_normal((4, 4, 8, 8))
    view = x.transpose(1, 0, 3, 2)  # not C-contiguous
    lx = lucid.tensor(view, requires_grad=True)
    tx = torch.tensor(view, requires_grad=True)
    lucid.max_pool2d(lx, 2).sum().backward()
    F.max_pool2d(tx, 2).sum().backward()
    np.testing.assert_array_equal(lx.grad.numpy(), tx.grad.numpy())
