"""Pooling: max, average and adaptive pooling over 1, 2 or 3 spatial dimensions.

Design (each primitive has exactly one output):

* Max pooling is two primitives. ``max_pool_argmax`` (or ``adaptive_max_pool_argmax``) finds
  the argmax of every window (a Numba kernel, :mod:`lucid.kernels.cpu.pool`) and returns int64
  indices, flat within each ``(n, c)`` plane exactly as PyTorch's ``return_indices``; it is not
  differentiable (its output is an integer tensor). The values are then
  ``pool_gather(x, indices)``, a gather within planes. Its VJP is ``pool_scatter(g, indices)``,
  the scatter-add of the gradient at the saved argmax (the max-pool backward), and the VJP of
  ``pool_scatter`` with respect to ``g`` is ``pool_gather`` at the same indices: the pair is
  closed under differentiation, so double backward works, and the indices are computed once in
  the forward pass and reused by every backward.
* Average pooling is a sum over windows divided by PyTorch's divisor: the sum is a convolution
  of the ``(B * C, 1, *S)`` view of the input with a ones kernel (the ``conv`` primitive, so the
  gradient and double backward come from it), then a division by a constant (a scalar, or an
  array of per-position divisors when windows overlap the padding or the ``ceil_mode`` edge).
* Adaptive average pooling is separable: along each spatial dimension it is a matrix product
  with a constant ``(out, in)`` averaging matrix (PyTorch's windows
  ``[floor(i*n/m), ceil((i+1)*n/m))``), so it needs no new primitive at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor
from . import binary as _binary
from . import convert as _convert
from . import linalg as _linalg
from . import shape as _shape
from .conv import _batched, _ntuple, _positive, conv_p
from .promotion import as_tensor
from .registry import Kernel, ShapedArray, primitive
from .rules import describe


def _kernels() -> Any:
    # Imported here, not at the top: the first pooling loads Numba, `import lucid` does not.
    from ..kernels.cpu import pool

    return pool


# ---------------------------------------------------------------- window geometry


def pool_output_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output length along one dimension (``pooling_output_shape``)."""
    num = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = num // s + 1
    # With ceil_mode the last window must start inside the input or the left padding.
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _fixed_windows(n: int, k: int, s: int, p: int, d: int, m: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """First valid index and one-past-last index of windows ``o*s - p + j*d`` (j < k)."""
    start = np.arange(m, dtype=np.int64) * s - p
    lo = np.where(start < 0, start + (-start + d - 1) // d * d, start)
    hi = np.minimum(start + (k - 1) * d + 1, n)
    return lo, hi


def _adaptive_windows(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive windows ``[floor(o*n/m), ceil((o+1)*n/m))``."""
    o = np.arange(m, dtype=np.int64)
    return (o * n) // m, -((-(o + 1) * n) // m)


def _window_arrays(spatial: Sequence[int], windows: list[tuple[np.ndarray, np.ndarray]],
                   op: str) -> list[np.ndarray]:
    """The kernel's (lo, hi) arrays, one pair per dim; a 1-d pooling gets a unit first dim."""
    for lo, hi in windows:
        if np.any(hi <= lo):
            raise ShapeError(f"{op}: a pooling window lies entirely in the padding for an input "
                             f"of spatial size {list(spatial)}; use less padding")
    lead = [(np.zeros(1, np.int64), np.ones(1, np.int64))] * (2 - len(windows))
    return [a for pair in lead + windows for a in pair]


def _argmax_planes(x: np.ndarray, windows: list[tuple[np.ndarray, np.ndarray]],
                   dilation: Sequence[int], op: str) -> np.ndarray:
    b, c = x.shape[:2]
    spatial = x.shape[2:]
    arrays = _window_arrays(spatial, windows, op)
    osize = tuple(len(lo) for lo, _ in windows)
    xc = np.ascontiguousarray(x, dtype=np.float32 if x.dtype == np.float16 else x.dtype)
    idx = np.empty((b, c, *osize), np.int64)
    if len(spatial) == 3:
        _kernels().max_pool_argmax_3d(xc.reshape(b * c, *spatial), *arrays, tuple(dilation),
                                      idx.reshape(b * c, *osize))
    else:  # 1-d pooling is 2-d pooling of (1, W) planes
        lead = 2 - len(spatial)
        _kernels().max_pool_argmax_2d(
            xc.reshape((b * c,) + (1,) * lead + tuple(spatial)), *arrays,
            (1,) * lead + tuple(dilation), idx.reshape((b * c,) + (1,) * lead + osize))
    return idx


# ---------------------------------------------------------------- primitives


def _pool_input_rule(op: str, x: Any, nd: int) -> None:
    if len(x.shape) != nd + 2:
        raise ShapeError(f"{op}: expected a ({nd + 2})-d input (B, C, *spatial), got "
                         f"{describe(x)}")
    if not x.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected a floating input, got {describe(x)}; cast it first")


def _max_pool_argmax_rule(x: Any, *, kernel_size: tuple[int, ...], stride: tuple[int, ...],
                          padding: tuple[int, ...], dilation: tuple[int, ...],
                          output_size: tuple[int, ...]) -> ShapedArray:
    nd = len(kernel_size)
    if not (1 <= nd <= 3 and len(stride) == len(padding) == len(dilation) == len(output_size)
            == nd):
        raise ShapeError("max_pool_argmax: need 1 to 3 spatial dims and one kernel_size, "
                         "stride, padding, dilation and output_size entry per dim")
    _pool_input_rule("max_pool_argmax", x, nd)
    if min(output_size) < 1:
        raise ShapeError(f"max_pool_argmax: output size {list(output_size)} is too small")
    return ShapedArray(tuple(x.shape[:2]) + tuple(output_size), _dt.int64)


def _max_pool_argmax_impl(x: np.ndarray, *, kernel_size: tuple[int, ...],
                          stride: tuple[int, ...], padding: tuple[int, ...],
                          dilation: tuple[int, ...], output_size: tuple[int, ...]) -> np.ndarray:
    if (kernel_size == (2, 2) and stride == (2, 2) and padding == (0, 0)
            and dilation == (1, 1) and x.shape[2] >= 2 * output_size[0]
            and x.shape[3] >= 2 * output_size[1]):  # (ceil_mode can clip the last window)
        b, c, h, w = x.shape
        xc = np.ascontiguousarray(x, dtype=np.float32 if x.dtype == np.float16 else x.dtype)
        idx = np.empty((b, c, *output_size), np.int64)
        _kernels().max_pool_argmax_2x2(xc.reshape(b * c, h, w),
                                       idx.reshape(b * c, *output_size))
        return idx
    dims = zip(x.shape[2:], kernel_size, stride, padding, dilation, output_size, strict=True)
    windows = [_fixed_windows(n, k, s, p, d, m) for n, k, s, p, d, m in dims]
    return _argmax_planes(x, windows, dilation, "max_pool")


max_pool_argmax_p = primitive(
    "max_pool_argmax",
    shape_rule=_max_pool_argmax_rule,
    impl=_max_pool_argmax_impl,
    vjp=None,
    lowering=Kernel("max_pool_argmax"),
    doc="Argmax of every max-pooling window (windows o*s - p + j*d, j < k, clipped to the "
        "input), as int64 indices flat within each (n, c) plane; first max wins ties.",
)


def _adaptive_argmax_rule(x: Any, *, output_size: tuple[int, ...]) -> ShapedArray:
    nd = len(output_size)
    if not 1 <= nd <= 3:
        raise ShapeError("adaptive_max_pool_argmax: need 1 to 3 spatial dims")
    _pool_input_rule("adaptive_max_pool_argmax", x, nd)
    if min(output_size) < 1 or any(n < 1 for n in x.shape[2:]):
        raise ShapeError(f"adaptive_max_pool_argmax: output size {list(output_size)} and the "
                         f"spatial dims of {describe(x)} must be positive")
    return ShapedArray(tuple(x.shape[:2]) + tuple(output_size), _dt.int64)


def _adaptive_argmax_impl(x: np.ndarray, *, output_size: tuple[int, ...]) -> np.ndarray:
    windows = [_adaptive_windows(n, m) for n, m in zip(x.shape[2:], output_size, strict=True)]
    return _argmax_planes(x, windows, (1,) * len(output_size), "adaptive_max_pool")


adaptive_max_pool_argmax_p = primitive(
    "adaptive_max_pool_argmax",
    shape_rule=_adaptive_argmax_rule,
    impl=_adaptive_argmax_impl,
    vjp=None,
    lowering=Kernel("max_pool_argmax"),
    doc="Argmax of every adaptive max-pooling window [floor(o*n/m), ceil((o+1)*n/m)), as int64 "
        "indices flat within each (n, c) plane.",
)


def _gather_rule(x: Any, idx: Any) -> ShapedArray:
    if len(x.shape) < 2 or len(idx.shape) != len(x.shape) or tuple(idx.shape[:2]) != tuple(
        x.shape[:2]
    ):
        raise ShapeError(f"pool_gather: expected x (B, C, *S) and indices (B, C, *O) of one "
                         f"rank, got {describe(x, idx)}")
    if idx.dtype is not _dt.int64:
        raise DTypeError(f"pool_gather: indices must be int64, got {describe(idx)}")
    return ShapedArray(tuple(idx.shape), x.dtype)


def _gather_impl(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    b, c = x.shape[:2]
    dt = np.float32 if x.dtype == np.float16 else x.dtype  # the kernels have no float16
    out = np.empty(idx.shape, dt)
    q = math.prod(idx.shape[2:])  # (math.prod: NumPy's prod costs ~2 us per call)
    _kernels().gather_planes(
        np.ascontiguousarray(x, dtype=dt).reshape(b * c, math.prod(x.shape[2:])),
        np.ascontiguousarray(idx).reshape(b * c, q),
        out.reshape(b * c, q),
    )
    return out.astype(x.dtype, copy=False)


def _scatter_rule(g: Any, idx: Any, *, spatial: tuple[int, ...]) -> ShapedArray:
    if tuple(g.shape) != tuple(idx.shape) or len(g.shape) != len(spatial) + 2:
        raise ShapeError(f"pool_scatter: expected gradient and indices of one shape (B, C, *O) "
                         f"and {len(spatial)} spatial dims, got {describe(g, idx)}")
    if idx.dtype is not _dt.int64:
        raise DTypeError(f"pool_scatter: indices must be int64, got {describe(idx)}")
    if not g.dtype.is_floating_point:
        raise DTypeError(f"pool_scatter: expected a floating gradient, got {describe(g)}")
    return ShapedArray(tuple(g.shape[:2]) + tuple(spatial), g.dtype)


def _scatter_impl(g: np.ndarray, idx: np.ndarray, *, spatial: tuple[int, ...]) -> np.ndarray:
    b, c = g.shape[:2]
    dt = np.float32 if g.dtype == np.float16 else g.dtype
    out = np.empty((b, c, *spatial), dt)
    q = math.prod(g.shape[2:])
    _kernels().scatter_add_planes(
        np.ascontiguousarray(g, dtype=dt).reshape(b * c, q),
        np.ascontiguousarray(idx).reshape(b * c, q),
        out.reshape(b * c, math.prod(spatial)),
    )
    return out.astype(g.dtype, copy=False)


pool_gather_p = primitive(
    "pool_gather",
    shape_rule=_gather_rule,
    impl=_gather_impl,
    vjp=(
        lambda g, out, x, idx: pool_scatter_p.bind(g, idx, spatial=tuple(x.shape[2:])),
        None,
    ),
    lowering=Kernel("pool_gather"),
    doc="out[b, c, o] = x[b, c].flat[idx[b, c, o]]: the values of max pooling at its argmax.",
)

pool_scatter_p = primitive(
    "pool_scatter",
    shape_rule=_scatter_rule,
    impl=_scatter_impl,
    vjp=(lambda h, out, g, idx, *, spatial: pool_gather_p.bind(h, idx), None),
    lowering=Kernel("pool_scatter"),
    doc="Zeros of spatial size `spatial` with g[b, c, o] added at flat position idx[b, c, o] of "
        "plane (b, c): the backward of max pooling (the transpose of pool_gather).",
)


# ---------------------------------------------------------------- public: max pooling


def _pool_args(nd: int, op: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any
               ) -> tuple[tuple[int, ...], ...]:
    k = _positive(_ntuple(kernel_size, nd, "kernel_size", op), "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else (
        _positive(_ntuple(stride, nd, "stride", op), "stride", op))
    p = _ntuple(padding, nd, "padding", op)
    d = _positive(_ntuple(dilation, nd, "dilation", op), "dilation", op)
    for pi, ki in zip(p, k, strict=True):
        if pi < 0 or pi > ki // 2:
            raise ValueError(f"{op}: pad should be at least 0 and at most half of the kernel "
                             f"size, got padding={list(p)} for kernel_size={list(k)}")
    return k, s, p, d


def _output_sizes(op: str, x: Tensor, k: Sequence[int], s: Sequence[int], p: Sequence[int],
                  d: Sequence[int], ceil_mode: bool) -> tuple[int, ...]:
    out = tuple(pool_output_size(n, ki, si, pi, di, ceil_mode)
                for n, ki, si, pi, di in zip(x.shape[2:], k, s, p, d, strict=True))
    if min(out) < 1:
        raise ShapeError(f"{op}: the output size {list(out)} for input {describe(x)} with "
                         f"kernel_size={list(k)}, padding={list(p)}, dilation={list(d)} is too "
                         f"small; use a smaller kernel or more padding")
    return out


def _float_input(inp: Any, nd: int, op: str) -> tuple[Tensor, bool]:
    x = as_tensor(inp)
    if not x.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected a floating input, got {describe(x)}; cast it first")
    return _batched(x, nd, op)


def _unbatch(t: Tensor, unbatched: bool) -> Tensor:
    return _shape.reshape(t, tuple(t.shape[1:])) if unbatched else t


def _max_poolnd(nd: int, op: str, inp: Any, kernel_size: Any, stride: Any, padding: Any,
                dilation: Any, ceil_mode: bool, return_indices: bool) -> Any:
    x, unbatched = _float_input(inp, nd, op)
    k, s, p, d = _pool_args(nd, op, kernel_size, stride, padding, dilation)
    out_size = _output_sizes(op, x, k, s, p, d, bool(ceil_mode))
    idx = max_pool_argmax_p.bind(x, kernel_size=k, stride=s, padding=p, dilation=d,
                                 output_size=out_size)
    values = _unbatch(pool_gather_p.bind(x, idx), unbatched)
    return (values, _unbatch(idx, unbatched)) if return_indices else values


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """1-d max pooling, as ``torch.nn.functional.max_pool1d``.

    ``input`` is ``(B, C, W)`` or ``(C, W)``; ``stride`` defaults to ``kernel_size``; padding
    (at most half the kernel) counts as -inf. With ``return_indices`` also returns the int64
    argmax positions (the first maximum of each window), as PyTorch does.
    """
    return _max_poolnd(1, "max_pool1d", input, kernel_size, stride, padding, dilation,
                       ceil_mode, return_indices)


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """2-d max pooling, as ``torch.nn.functional.max_pool2d``.

    ``input`` is ``(B, C, H, W)`` or ``(C, H, W)``; ``kernel_size``, ``stride`` (default: the
    kernel size), ``padding`` and ``dilation`` are ints or pairs. ``ceil_mode`` rounds the
    output size up. Indices (``return_indices=True``) are flat within each ``H x W`` plane.
    """
    return _max_poolnd(2, "max_pool2d", input, kernel_size, stride, padding, dilation,
                       ceil_mode, return_indices)


def max_pool3d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """3-d max pooling, as ``torch.nn.functional.max_pool3d`` (see :func:`max_pool2d`)."""
    return _max_poolnd(3, "max_pool3d", input, kernel_size, stride, padding, dilation,
                       ceil_mode, return_indices)


def _adaptive_size(output_size: Any, x: Tensor, nd: int, op: str) -> tuple[int, ...]:
    """``output_size`` per spatial dim; ``None`` entries keep the input's size (PyTorch)."""
    if output_size is None or isinstance(output_size, (int, np.integer)):
        output_size = (output_size,) * nd
    sizes = tuple(output_size)
    if len(sizes) != nd:
        raise ValueError(f"{op}: output_size must be an int or {nd} ints/None, got "
                         f"{output_size!r}")
    out = tuple(int(n) if m is None else int(m) for m, n in zip(sizes, x.shape[2:], strict=True))
    if min(out) < 1:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return out


def _adaptive_max_poolnd(nd: int, op: str, inp: Any, output_size: Any,
                         return_indices: bool) -> Any:
    x, unbatched = _float_input(inp, nd, op)
    out_size = _adaptive_size(output_size, x, nd, op)
    if min(x.shape[2:]) < 1:
        raise ShapeError(f"{op}: expected non-empty spatial dims, got {describe(x)}")
    idx = adaptive_max_pool_argmax_p.bind(x, output_size=out_size)
    values = _unbatch(pool_gather_p.bind(x, idx), unbatched)
    return (values, _unbatch(idx, unbatched)) if return_indices else values


def adaptive_max_pool1d(input: Any, output_size: Any,
                        return_indices: bool = False) -> Any:
    """1-d adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool1d``."""
    return _adaptive_max_poolnd(1, "adaptive_max_pool1d", input, output_size, return_indices)


def adaptive_max_pool2d(input: Any, output_size: Any,
                        return_indices: bool = False) -> Any:
    """2-d adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool2d``.

    Output ``(oh, ow)`` from any input size: window ``i`` along a dimension of size ``n``
    covers ``[floor(i*n/oh), ceil((i+1)*n/oh))`` (windows may overlap). ``output_size`` is an
    int or a pair whose ``None`` entries keep the input size.
    """
    return _adaptive_max_poolnd(2, "adaptive_max_pool2d", input, output_size, return_indices)


def adaptive_max_pool3d(input: Any, output_size: Any,
                        return_indices: bool = False) -> Any:
    """3-d adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool3d``."""
    return _adaptive_max_poolnd(3, "adaptive_max_pool3d", input, output_size, return_indices)


# ---------------------------------------------------------------- public: average pooling


def _avg_divisor(n: int, k: int, s: int, p: int, m: int, count_include_pad: bool
                 ) -> np.ndarray:
    """PyTorch's per-position divisor along one dimension (``avg_pool2d``'s pool_size)."""
    start = np.arange(m, dtype=np.int64) * s - p
    end = np.minimum(start + k, n + p)
    if count_include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def _avg_poolnd(nd: int, op: str, inp: Any, kernel_size: Any, stride: Any, padding: Any,
                ceil_mode: bool, count_include_pad: bool, divisor_override: Any) -> Tensor:
    x, unbatched = _float_input(inp, nd, op)
    k, s, p, _ = _pool_args(nd, op, kernel_size, stride, padding, 1)
    ones = (1,) * nd
    out_size = _output_sizes(op, x, k, s, p, ones, bool(ceil_mode))
    b, c = x.shape[:2]
    spatial = tuple(x.shape[2:])
    # Window sums: a convolution of every (b, c) plane with a ones kernel. The high padding is
    # whatever makes the conv produce `out_size` windows (more than p with ceil_mode: those
    # positions read as zero, which a sum ignores; it may be negative: a crop).
    pads = tuple((pi, (m - 1) * si + ki - n - pi)
                 for n, ki, si, pi, m in zip(spatial, k, s, p, out_size, strict=True))
    planes = _shape.reshape(x, (b * c, 1, *spatial))
    kernel = Tensor._make(np.ones((1, 1, *k), dtype=x.dtype.np), x.device)
    sums = conv_p.bind(planes, kernel, stride=s, padding=pads, dilation=ones, groups=1)
    sums = _shape.reshape(sums, (b, c, *out_size))
    if divisor_override is not None:
        if not divisor_override:
            raise ValueError(f"{op}: divisor_override must be non-zero, got {divisor_override}")
        out = _binary.div(sums, divisor_override)
    else:
        div = np.ones(out_size, dtype=np.float64)
        for axis, (n, ki, si, pi, m) in enumerate(zip(spatial, k, s, p, out_size, strict=True)):
            shape = [1] * nd
            shape[axis] = m
            div = div * _avg_divisor(n, ki, si, pi, m, count_include_pad).reshape(shape)
        if np.all(div == div.flat[0]):
            out = _binary.div(sums, float(div.flat[0]))
        else:
            out = _binary.div(sums, Tensor._make(div.astype(x.dtype.np), x.device))
    return _unbatch(out, unbatched)


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """1-d average pooling, as ``torch.nn.functional.avg_pool1d``.

    ``count_include_pad`` counts zero padding in the divisor (PyTorch's default).
    """
    return _avg_poolnd(1, "avg_pool1d", input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, None)


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Any = None) -> Tensor:
    """2-d average pooling, as ``torch.nn.functional.avg_pool2d``.

    ``input`` is ``(B, C, H, W)`` or ``(C, H, W)``. Each window's sum is divided by its size
    (the padded size with ``count_include_pad``, the size clipped to the input otherwise; a
    ``ceil_mode`` window past the padding is always clipped), or by ``divisor_override``.
    """
    return _avg_poolnd(2, "avg_pool2d", input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override)


def avg_pool3d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Any = None) -> Tensor:
    """3-d average pooling, as ``torch.nn.functional.avg_pool3d`` (see :func:`avg_pool2d`)."""
    return _avg_poolnd(3, "avg_pool3d", input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override)


def _averaging_matrix(n: int, m: int, dtype: np.dtype) -> np.ndarray:
    """The ``(n, m)`` matrix whose column ``o`` averages PyTorch's adaptive window ``o``."""
    lo, hi = _adaptive_windows(n, m)
    rows = np.arange(n)[:, None]
    mask = (rows >= lo[None, :]) & (rows < hi[None, :])
    return (mask / (hi - lo)[None, :]).astype(dtype)


def _adaptive_avg_poolnd(nd: int, op: str, inp: Any, output_size: Any) -> Tensor:
    x, unbatched = _float_input(inp, nd, op)
    out_size = _adaptive_size(output_size, x, nd, op)
    if min(x.shape[2:]) < 1:
        raise ShapeError(f"{op}: expected non-empty spatial dims, got {describe(x)}")
    out = x
    for axis in range(nd):
        n, m = x.shape[2 + axis], out_size[axis]
        if n == m:
            continue  # every window is one element: the identity
        a = Tensor._make(_averaging_matrix(n, m, x.dtype.np), x.device)
        dim = 2 + axis
        # Move the pooled axis last, contract it with the averaging matrix, move it back.
        moved = _shape.transpose(out, dim, -1) if dim != out.ndim - 1 else out
        moved = _linalg.matmul(moved, a)
        out = _shape.transpose(moved, dim, -1) if dim != out.ndim - 1 else moved
    if out is x:
        out = _convert.copy(x)  # output size = input size: a new tensor, as in PyTorch
    return _unbatch(out, unbatched)


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Tensor:
    """1-d adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool1d``."""
    return _adaptive_avg_poolnd(1, "adaptive_avg_pool1d", input, output_size)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:
    """2-d adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``.

    Output ``(oh, ow)`` from any input size; window ``i`` along a dimension of size ``n``
    covers ``[floor(i*n/oh), ceil((i+1)*n/oh))``. ``output_size`` is an int or a pair whose
    ``None`` entries keep the input size.
    """
    return _adaptive_avg_poolnd(2, "adaptive_avg_pool2d", input, output_size)


def adaptive_avg_pool3d(input: Any, output_size: Any) -> Tensor:
    """3-d adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool3d``."""
    return _adaptive_avg_poolnd(3, "adaptive_avg_pool3d", input, output_size)


__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
]
