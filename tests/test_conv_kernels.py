"""Tests of the convolution kernel paths (lucid.kernels.cpu.conv) against PyTorch: the
per-sample path (im2col + GEMM one sample at a time, for column matrices with few rows) and
the whole-batch path, on both sides of the threshold between them."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lucid
from lucid.ops import conv as conv_ops

DEFAULT_MIN_MACS = conv_ops._PER_SAMPLE_MIN_MACS


@pytest.fixture(autouse=True)
def _small_shapes_per_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shapes here are small, for speed: let them take the per-sample path all the same
    (below a minimum amount of work per sample, convolutions normally run batched)."""
    monkeypatch.setattr(conv_ops, "_PER_SAMPLE_MIN_MACS", 0)


# float32 weight gradients sum tens of thousands of products: compared with a float64 PyTorch
# reference, with an absolute tolerance on the scale of such a sum's rounding error.
TOL = {"float32": {"rtol": 1e-4, "atol": 1e-3}, "float64": {"rtol": 1e-10, "atol": 1e-10}}


def _check_conv2d(x: np.ndarray, w: np.ndarray, **kw: object) -> None:
    """Output, input gradient and weight gradient of conv2d against PyTorch (in float64)."""
    tol = TOL[x.dtype.name]
    lx, lw = lucid.tensor(x, requires_grad=True), lucid.tensor(w, requires_grad=True)
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    out, ref = lucid.conv2d(lx, lw, **kw), F.conv2d(tx, tw, **kw)
    assert out.dtype.name == x.dtype.name
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), **tol)
    g = np.random.default_rng(9).standard_normal(tuple(ref.shape)).astype(x.dtype)
    out.backward(lucid.tensor(g))
    ref.backward(torch.tensor(g, dtype=torch.float64))
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), **tol)
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("cin", "cout", "size"), [
    (3, 5, 9),  # 27 rows: per sample
    (8, 5, 9),  # 72 rows, a small product per sample: per sample
    (8, 64, 24),  # 72 rows, 64 * 72 * 576 = 2.7 M multiply-adds per sample: per sample
    (8, 64, 32),  # 72 rows, 4.7 M per sample: whole batch
])
def test_conv2d_both_paths_match_torch(cin: int, cout: int, size: int, dtype: str) -> None:
    rng = np.random.default_rng(cin + cout + size)
    x = rng.standard_normal((3, cin, size, size + 1)).astype(dtype)
    w = rng.standard_normal((cout, cin, 3, 3)).astype(dtype)
    _check_conv2d(x, w, padding=1)


def test_threshold_picks_the_expected_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conv_ops, "_PER_SAMPLE_MIN_MACS", DEFAULT_MIN_MACS)
    f32 = np.dtype(np.float32)
    assert not conv_ops._per_sample(4, 1, 64, 1, 2048, f32)  # average pooling's planes
    assert conv_ops._per_sample(27, 16, 1024, 1, 32, f32)  # the benchmark CNN's first layer
    assert conv_ops._per_sample(144, 32, 256, 1, 32, f32)  # and its second
    assert not conv_ops._per_sample(576, 128, 3136, 1, 32, f32)  # 64->128 ch. at 56x56
    assert not conv_ops._per_sample(27, 16, 1024, 3, 32, f32)  # grouped: batched
    assert not conv_ops._per_sample(27, 16, 1024, 1, 0, f32)  # empty batch


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_row_blocks_and_threads(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    """GEMMs cut into several row blocks, batches split over threads (5 samples, 3 threads:
    uneven chunks), each thread summing its own weight gradient."""
    monkeypatch.setattr(conv_ops, "_SMALL_GEMM_MACS", 5000)
    monkeypatch.setattr(conv_ops._Pool, "threads", lambda self, batch: min(threads, batch))
    rng = np.random.default_rng(threads)
    x = rng.standard_normal((5, 4, 7, 6))
    w = rng.standard_normal((6, 4, 3, 3))
    _check_conv2d(x, w, padding=1, stride=(1, 2))


@pytest.mark.parametrize("kw", [
    {"stride": 2, "padding": 1},
    {"dilation": 2, "padding": 2},
    {"stride": (2, 1), "padding": (0, 2)},
    {"padding": "same"},
])
def test_conv2d_per_sample_geometries(kw: dict) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 11, 8)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    _check_conv2d(x, w, **kw)


def test_benchmark_cnn_first_layer_matches_torch() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 3, 32, 32)).astype(np.float32)
    w = rng.standard_normal((16, 3, 3, 3)).astype(np.float32)
    _check_conv2d(x, w, padding=1)


@pytest.mark.parametrize("nd", [1, 3])
def test_conv1d_and_conv3d_per_sample(nd: int) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 12) if nd == 1 else (2, 2, 4, 5, 6))
    w = rng.standard_normal((4, 3, 5) if nd == 1 else (3, 2, 2, 3, 2))
    lucid_fn, torch_fn = (lucid.conv1d, F.conv1d) if nd == 1 else (lucid.conv3d, F.conv3d)
    lx, lw = lucid.tensor(x, requires_grad=True), lucid.tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    out, ref = lucid_fn(lx, lw, padding=1), torch_fn(tx, tw, padding=1)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


def test_float16_per_sample() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float16)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float16)
    out = lucid.conv2d(lucid.tensor(x), lucid.tensor(w), padding=1)
    assert out.dtype is lucid.float16
    ref = F.conv2d(torch.tensor(x, dtype=torch.float32), torch.tensor(w, dtype=torch.float32),
                   padding=1)
    np.testing.assert_allclose(out.numpy().astype(np.float32), ref.numpy(), rtol=1e-2, atol=1e-2)


def test_per_sample_result_is_c_contiguous_float32() -> None:
    """Downstream fused kernels take their flat path only on C-contiguous operands."""
    x = np.ones((2, 3, 5, 5), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    out = conv_ops._conv_impl(x, w, stride=(1, 1), padding=((1, 1), (1, 1)), dilation=(1, 1),
                              groups=1)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert out.shape == (2, 4, 5, 5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_per_sample_threads_work_after_fork() -> None:
    """A forked child (a data-loader worker, say) gets its own worker threads."""
    x = np.random.default_rng(5).standard_normal((4, 3, 6, 6)).astype(np.float32)
    w = np.random.default_rng(6).standard_normal((2, 3, 3, 3)).astype(np.float32)
    ref = lucid.conv2d(lucid.tensor(x), lucid.tensor(w), padding=1).numpy()  # pool started
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        out = pool.apply_async(_conv_in_child, (x, w)).get(timeout=60)
    np.testing.assert_allclose(out, ref, rtol=1e-6)


def _conv_in_child(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return lucid.conv2d(lucid.tensor(x), lucid.tensor(w), padding=1).numpy()
