"""Tests of lucid.ops.conv: conv1d/2d/3d and conv_transpose1d/2d/3d against PyTorch, their
gradients (first and second order), and the conv / conv_transpose / conv_weight_grad primitives.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lucid
from lucid.errors import DTypeError, ShapeError
from lucid.ops import conv as conv_ops
from lucid.testing import gradcheck, gradgradcheck

# PyTorch warns that its own "same" padding with an even kernel copies the input.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

TOL = {"float32": {"rtol": 1e-4, "atol": 1e-5}, "float64": {"rtol": 1e-10, "atol": 1e-12}}


def _np(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def _compare(lucid_fn, torch_fn, arrays: list[np.ndarray | None], dtype: str,
             seed: int = 1) -> None:
    """Forward and every gradient (for a random upstream gradient) against PyTorch."""
    tol = TOL[dtype]
    lt = [None if a is None else lucid.tensor(a, requires_grad=True) for a in arrays]
    tt = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    out = lucid_fn(*lt)
    ref = torch_fn(*tt)
    assert tuple(out.shape) == tuple(ref.shape)
    assert out.dtype.name == dtype
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), **tol)
    g = np.random.default_rng(seed).standard_normal(tuple(ref.shape)).astype(dtype)
    out.backward(lucid.tensor(g))
    ref.backward(torch.tensor(g))
    for a, b in zip(lt, tt, strict=True):
        if a is not None:
            assert a.grad is not None and a.grad.dtype.name == dtype
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)


# (x shape, w shape, kwargs): groups, strides, paddings, dilations, odd sizes, batch 1.
CONV2D_CASES = [
    ((2, 3, 7, 8), (4, 3, 3, 3), {}),
    ((2, 3, 9, 7), (4, 3, 3, 3), {"stride": 2, "padding": 1}),
    ((1, 2, 6, 5), (3, 2, 2, 3), {"stride": (2, 1), "padding": (1, 0)}),
    ((2, 2, 7, 7), (3, 2, 3, 3), {"padding": "same"}),
    ((2, 2, 6, 7), (3, 2, 2, 4), {"padding": "same"}),  # even kernels: extra pad at the end
    ((2, 2, 8, 8), (3, 2, 2, 3), {"padding": "same", "dilation": (2, 3)}),
    ((2, 2, 6, 6), (3, 2, 3, 3), {"padding": "valid"}),
    ((2, 3, 9, 10), (2, 3, 3, 2), {"dilation": 2, "padding": 2}),
    ((2, 3, 11, 9), (5, 3, 3, 3), {"stride": 3, "dilation": (1, 2), "padding": (2, 1)}),
    ((2, 4, 6, 6), (6, 2, 3, 3), {"groups": 2, "padding": 1}),
    ((2, 3, 7, 6), (6, 1, 3, 3), {"groups": 3, "padding": 1, "stride": 2}),  # depthwise
    ((3, 4, 5, 5), (4, 1, 2, 2), {"groups": 4}),  # depthwise, C_out = C_in
    ((2, 4, 5, 6), (3, 4, 1, 1), {}),  # pointwise: im2col is a transpose
    ((1, 4, 5, 6), (3, 4, 1, 1), {}),
    ((2, 4, 5, 7), (3, 4, 1, 1), {"stride": 2}),
    ((2, 6, 5, 6), (4, 3, 1, 1), {"groups": 2}),
    ((1, 1, 1, 1), (1, 1, 1, 1), {}),
    ((2, 2, 3, 3), (2, 2, 3, 3), {}),  # the kernel covers the input: 1x1 output
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("xs,ws,kw", CONV2D_CASES)
def test_conv2d_matches_torch(xs, ws, kw, bias, dtype):
    rng = np.random.default_rng(0)
    arrays = [_np(rng, xs, dtype), _np(rng, ws, dtype), _np(rng, (ws[0],), dtype) if bias
              else None]
    _compare(lambda x, w, b: lucid.ops.conv.conv2d(x, w, b, **kw),
             lambda x, w, b: F.conv2d(x, w, b, **kw), arrays, dtype)


CONV1D_CASES = [
    ((2, 3, 10), (4, 3, 3), {}),
    ((1, 2, 9), (3, 2, 4), {"stride": 2, "padding": 2}),
    ((2, 2, 9), (3, 2, 4), {"padding": "same", "dilation": 2}),
    ((2, 4, 11), (4, 2, 3), {"groups": 2, "dilation": 3, "padding": 1}),
    ((2, 3, 8), (6, 1, 5), {"groups": 3, "stride": 3, "padding": 2}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs,ws,kw", CONV1D_CASES)
def test_conv1d_matches_torch(xs, ws, kw, dtype):
    rng = np.random.default_rng(0)
    arrays = [_np(rng, xs, dtype), _np(rng, ws, dtype), _np(rng, (ws[0],), dtype)]
    _compare(lambda x, w, b: conv_ops.conv1d(x, w, b, **kw),
             lambda x, w, b: F.conv1d(x, w, b, **kw),
             arrays, dtype)


CONV3D_CASES = [
    ((2, 2, 4, 5, 6), (3, 2, 2, 3, 2), {}),
    ((1, 2, 5, 5, 5), (2, 2, 3, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 4, 4, 5, 4), (4, 2, 2, 2, 3), {"groups": 2, "dilation": (1, 2, 1), "padding": "same"}),
    ((2, 3, 3, 4, 5), (2, 3, 1, 1, 1), {}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs,ws,kw", CONV3D_CASES)
def test_conv3d_matches_torch(xs, ws, kw, dtype):
    rng = np.random.default_rng(0)
    arrays = [_np(rng, xs, dtype), _np(rng, ws, dtype), _np(rng, (ws[0],), dtype)]
    _compare(lambda x, w, b: conv_ops.conv3d(x, w, b, **kw),
             lambda x, w, b: F.conv3d(x, w, b, **kw),
             arrays, dtype)


@pytest.mark.parametrize("fn,tfn,xs,ws", [
    (conv_ops.conv1d, F.conv1d, (3, 9), (4, 3, 3)),
    (conv_ops.conv2d, F.conv2d, (3, 6, 7), (4, 3, 3, 2)),
    (conv_ops.conv3d, F.conv3d, (2, 4, 4, 5), (3, 2, 2, 2, 2)),
])
def test_unbatched_input(fn, tfn, xs, ws):
    rng = np.random.default_rng(0)
    arrays = [_np(rng, xs, "float64"), _np(rng, ws, "float64"), _np(rng, (ws[0],), "float64")]
    _compare(lambda x, w, b: fn(x, w, b, padding=1), lambda x, w, b: tfn(x, w, b, padding=1),
             arrays, "float64")


CONV_T2D_CASES = [
    ((2, 3, 4, 5), (3, 2, 3, 3), {}),
    ((2, 3, 4, 5), (3, 2, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    ((1, 2, 3, 4), (2, 3, 2, 3), {"stride": (3, 2), "padding": (1, 0), "output_padding": (2, 1)}),
    ((2, 4, 4, 3), (4, 2, 3, 2), {"groups": 2, "stride": 2, "dilation": (2, 1)}),
    # output_padding >= stride is allowed when it is below the dilation
    ((2, 2, 4, 4), (2, 3, 3, 3), {"stride": 1, "dilation": 3, "output_padding": 2, "padding": 1}),
    ((2, 3, 5, 5), (3, 1, 3, 3), {"groups": 3, "stride": 2, "padding": 1}),  # depthwise
    ((2, 4, 3, 4), (4, 3, 1, 1), {}),  # pointwise: col2im is a transpose
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs,ws,kw", CONV_T2D_CASES)
def test_conv_transpose2d_matches_torch(xs, ws, kw, dtype):
    rng = np.random.default_rng(0)
    cout = ws[1] * kw.get("groups", 1)
    arrays = [_np(rng, xs, dtype), _np(rng, ws, dtype), _np(rng, (cout,), dtype)]
    _compare(lambda x, w, b: conv_ops.conv_transpose2d(x, w, b, **kw),
             lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), arrays, dtype)


@pytest.mark.parametrize("fn,tfn,xs,ws,kw", [
    (conv_ops.conv_transpose1d, F.conv_transpose1d, (2, 3, 6), (3, 2, 4),
     {"stride": 3, "padding": 1, "output_padding": 2}),
    (conv_ops.conv_transpose1d, F.conv_transpose1d, (3, 5), (3, 2, 3), {"stride": 2}),  # unbatched
    (conv_ops.conv_transpose3d, F.conv_transpose3d, (1, 2, 3, 3, 2), (2, 2, 2, 3, 2),
     {"stride": 2, "padding": (0, 1, 0), "output_padding": 1}),
    (conv_ops.conv_transpose2d, F.conv_transpose2d, (2, 3, 4), (2, 3, 3, 3),
     {"stride": 2, "padding": 1}),  # unbatched
])
def test_conv_transpose_1d_3d_unbatched(fn, tfn, xs, ws, kw):
    rng = np.random.default_rng(0)
    arrays = [_np(rng, xs, "float64"), _np(rng, ws, "float64"), _np(rng, (ws[1],), "float64")]
    _compare(lambda x, w, b: fn(x, w, b, **kw), lambda x, w, b: tfn(x, w, b, **kw), arrays,
             "float64")


# ---------------------------------------------------------------- gradcheck / double backward


def _leaf(rng: np.random.Generator, shape: tuple[int, ...]) -> lucid.Tensor:
    return lucid.tensor(rng.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("fn,xs,ws,kw", [
    (conv_ops.conv2d, (2, 2, 4, 3), (2, 2, 2, 2), {"stride": (2, 1), "padding": (1, 0)}),
    (conv_ops.conv2d, (1, 4, 3, 4), (2, 2, 3, 2),
     {"groups": 2, "dilation": (1, 2), "padding": "same"}),
    (conv_ops.conv1d, (2, 2, 5), (3, 2, 2), {"stride": 2, "padding": 1}),
    (conv_ops.conv3d, (1, 2, 3, 3, 2), (2, 2, 2, 2, 1), {"padding": (1, 0, 0)}),
    (conv_ops.conv_transpose2d, (1, 2, 2, 3), (2, 2, 2, 2), {"stride": 2, "output_padding": 1}),
])
def test_gradcheck(fn, xs, ws, kw):
    rng = np.random.default_rng(0)
    cout = ws[1] if fn is conv_ops.conv_transpose2d else ws[0]
    inputs = [_leaf(rng, xs), _leaf(rng, ws), _leaf(rng, (cout,))]
    assert gradcheck(lambda x, w, b: fn(x, w, b, **kw), inputs)


@pytest.mark.parametrize("fn,xs,ws,kw", [
    (conv_ops.conv2d, (1, 2, 4, 3), (2, 2, 2, 2), {"stride": (2, 1), "padding": (1, 0)}),
    (conv_ops.conv2d, (1, 4, 3, 3), (4, 2, 2, 2), {"groups": 2, "padding": "same"}),
    (conv_ops.conv1d, (2, 2, 4), (2, 2, 2), {"dilation": 2, "padding": 1}),
    (conv_ops.conv_transpose2d, (1, 2, 2, 2), (2, 1, 2, 2), {"stride": 2, "padding": (1, 0)}),
    (conv_ops.conv_transpose1d, (1, 2, 3), (2, 2, 2), {"stride": 2, "output_padding": 1}),
])
def test_gradgradcheck(fn, xs, ws, kw):
    rng = np.random.default_rng(0)
    inputs = [_leaf(rng, xs), _leaf(rng, ws)]
    assert gradgradcheck(lambda x, w: fn(x, w, **kw), inputs)


def test_conv_weight_grad_primitive_gradcheck():
    """The third primitive on its own: its VJPs are conv_transpose and conv."""
    rng = np.random.default_rng(0)
    params = {"stride": (2, 1), "padding": ((1, 0), (0, 1)), "dilation": (1, 2), "groups": 2}
    x, g = _leaf(rng, (2, 4, 4, 4)), _leaf(rng, (2, 2, 2, 3))
    fn = lambda x, g: conv_ops.conv_weight_grad_p.bind(x, g, kernel_size=(2, 2), **params)
    assert tuple(fn(x, g).shape) == (2, 2, 2, 2)
    assert gradcheck(fn, [x, g])
    assert gradgradcheck(fn, [x, g])


def test_double_backward_matches_torch():
    """d/dw of <v, d loss/dx> through conv2d, compared with PyTorch (create_graph=True)."""
    rng = np.random.default_rng(0)
    xs, ws, kw = (2, 2, 5, 4), (3, 2, 3, 2), {"stride": 2, "padding": 1, "dilation": (1, 2)}
    xa, wa = rng.standard_normal(xs), rng.standard_normal(ws)
    v = rng.standard_normal(xs)
    x, w = lucid.tensor(xa, requires_grad=True), lucid.tensor(wa, requires_grad=True)
    tx, tw = torch.tensor(xa, requires_grad=True), torch.tensor(wa, requires_grad=True)
    (gx,) = lucid.autograd.grad([(conv_ops.conv2d(x, w, **kw) ** 2).sum()], [x], create_graph=True)
    (tgx,) = torch.autograd.grad((F.conv2d(tx, tw, **kw) ** 2).sum(), [tx], create_graph=True)
    np.testing.assert_allclose(gx.detach().numpy(), tgx.detach().numpy(), rtol=1e-10)
    gw, gx2 = lucid.autograd.grad([(gx * lucid.tensor(v)).sum()], [w, x])
    tgw, tgx2 = torch.autograd.grad((tgx * torch.tensor(v)).sum(), [tw, tx])
    np.testing.assert_allclose(gw.numpy(), tgw.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gx2.numpy(), tgx2.numpy(), rtol=1e-10)


# ---------------------------------------------------------------- dtypes, errors, kernels


def test_float16_runs_in_float32():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    out = conv_ops.conv2d(lucid.tensor(x, dtype=lucid.float16),
                          lucid.tensor(w, dtype=lucid.float16))
    assert out.dtype is lucid.float16
    ref = F.conv2d(torch.tensor(x), torch.tensor(w)).numpy()
    np.testing.assert_allclose(out.numpy().astype(np.float64), ref, rtol=2e-2, atol=2e-2)


def test_non_contiguous_input():
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((2, 5, 6, 3))
    wa = rng.standard_normal((4, 3, 2, 2))
    x = lucid.tensor(xa).permute(0, 3, 1, 2)  # a view with non-contiguous strides
    ref = F.conv2d(torch.tensor(xa).permute(0, 3, 1, 2), torch.tensor(wa), stride=2)
    np.testing.assert_allclose(conv_ops.conv2d(x, lucid.tensor(wa), stride=2).numpy(), ref.numpy(),
                               rtol=1e-10)


def test_errors():
    x = lucid.randn(2, 3, 5, 5)
    with pytest.raises(ShapeError, match=r"expected the input .* to have 4 channels"):
        conv_ops.conv2d(x, lucid.randn(2, 4, 3, 3))
    with pytest.raises(ShapeError, match="not divisible by groups"):
        conv_ops.conv2d(lucid.randn(2, 4, 5, 5), lucid.randn(3, 2, 3, 3), groups=2)
    with pytest.raises(DTypeError, match="one dtype"):
        conv_ops.conv2d(x, lucid.randn(2, 3, 3, 3, dtype=lucid.float64))
    with pytest.raises(DTypeError, match="floating"):
        conv_ops.conv2d(lucid.ones(1, 1, 3, 3, dtype=lucid.int64), lucid.ones(1, 1, 2, 2,
                                                                      dtype=lucid.int64))
    with pytest.raises(ValueError, match="strided"):
        conv_ops.conv2d(x, lucid.randn(2, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ShapeError, match="larger than the padded input"):
        conv_ops.conv2d(x, lucid.randn(2, 3, 7, 7))
    with pytest.raises(ShapeError, match="4-d"):
        conv_ops.conv2d(lucid.randn(5, 5), lucid.randn(2, 3, 3, 3))
    with pytest.raises(ShapeError, match="bias"):
        conv_ops.conv2d(x, lucid.randn(2, 3, 3, 3), lucid.randn(3))
    with pytest.raises(ValueError, match="output padding"):
        conv_ops.conv_transpose2d(x, lucid.randn(3, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="padding"):
        conv_ops.conv1d(lucid.randn(1, 1, 5), lucid.randn(1, 1, 2), padding=-1)
    # The strict primitive rejects a conv_transpose whose sizes do not correspond.
    with pytest.raises(ShapeError, match="conv_transpose"):
        conv_ops.conv_transpose_p.bind(lucid.randn(1, 2, 3, 3), lucid.randn(2, 1, 2, 2),
                                       stride=(1, 1),
                                padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1,
                                in_spatial=(5, 5))


def test_kernels_are_shape_generic():
    """A new shape, stride or padding reuses the compiled kernels (one signature per dtype)."""
    from lucid.kernels.cpu import conv as kernels

    for xs, ws, kw in CONV2D_CASES[:6] + [(s[0], s[1], s[2]) for s in CONV1D_CASES[:2]]:
        x = lucid.randn(*xs, requires_grad=True)
        w = lucid.randn(*ws, requires_grad=True)
        fn = conv_ops.conv2d if len(xs) == 4 else conv_ops.conv1d
        fn(x, w, **kw).sum().backward()
    f32 = [s for s in kernels.im2col.signatures if "float32" in str(s[0])]
    assert len(f32) == 1, kernels.im2col.signatures
    assert len([s for s in kernels.col2im.signatures if "float32" in str(s[0])]) == 1


def test_import_does_not_load_numba():
    code = ("import sys, lucid; had = 'numba' in sys.modules; "
            "import lucid.ops.conv, lucid.ops.pool; "
            "assert had or 'numba' not in sys.modules, 'numba imported at import time'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_empty_batch():
    x = lucid.randn(0, 3, 5, 5, requires_grad=True)
    w = lucid.randn(4, 3, 3, 3, requires_grad=True)
    y = conv_ops.conv2d(x, w, padding=1, groups=1)
    assert tuple(y.shape) == (0, 4, 5, 5)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 3, 5, 5)
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((4, 3, 3, 3), np.float32))
    out = conv_ops.conv_transpose2d(lucid.randn(0, 4, 3, 3), lucid.randn(4, 2, 3, 3), stride=2)
    assert tuple(out.shape) == (0, 2, 7, 7)
