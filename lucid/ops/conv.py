"""Convolution: the ``conv``, ``conv_transpose`` and ``conv_weight_grad`` primitives, and
PyTorch's ``conv1d/2d/3d`` and ``conv_transpose1d/2d/3d`` built on them.

The three primitives are the three faces of one bilinear map. For ``N`` spatial dimensions
(1, 2 or 3), ``x`` of shape ``(B, C, *S)`` and ``w`` of shape ``(C_out, C / groups, *K)``::

    conv(x, w)[b, co, o]           = sum_{c in group(co), k} x[b, c, o*s - lo + k*d] w[co, c, k]
    conv_transpose(g, w)           = the adjoint of x -> conv(x, w)       (conv's input grad)
    conv_weight_grad(x, g)         = the adjoint of w -> conv(x, w)       (conv's weight grad)

so their VJPs are each other (``<h, conv_transpose(g, w)> = <conv(h, w), g>`` and so on):

============================  ======================================  ============================
primitive                     VJP wrt first input                      VJP wrt second input
============================  ======================================  ============================
``conv(x, w)``                ``conv_transpose(g, w)``                 ``conv_weight_grad(x, g)``
``conv_transpose(g, w)``      ``conv(h, w)``                           ``conv_weight_grad(h, g)``
``conv_weight_grad(x, g)``    ``conv_transpose(g, H)``                 ``conv(x, H)``
============================  ======================================  ============================

which closes the set under differentiation: double (and higher) backward works. All three share
the static params ``stride``, ``padding`` (explicit ``(low, high)`` per dimension, so "same" with
an even kernel is exact; the high amount only fixes the output size and may be negative, a crop),
``dilation`` and ``groups``; ``conv_transpose`` also takes the spatial size of its result
(``in_spatial``: several input sizes give one conv output size) and ``conv_weight_grad`` the
kernel size. Bias is not part of the primitive: the public functions add it by broadcasting.

Eagerly, each primitive is im2col (a Numba kernel, :mod:`lucid.kernels.cpu.conv`) plus ONE
BLAS GEMM over the whole batch, or one GEMM then col2im for ``conv_transpose``; small
convolutions (see :func:`_per_sample`) go one sample at a time instead, inside the kernels,
with the batch split over one thread per core. The kernels are imported on first use, so
``import lucid`` does not load Numba.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import DTypeError, ShapeError
from ..tensor import Tensor
from . import binary as _binary
from . import shape as _shape
from .promotion import as_tensor
from .registry import Kernel, ShapedArray, primitive
from .rules import describe

Pads = tuple[tuple[int, int], ...]


# ---------------------------------------------------------------- sizes and shape rules


def conv_output_size(n: int, k: int, s: int, lo: int, hi: int, d: int) -> int:
    """Output length of a convolution along one dimension (may be <= 0: the caller checks)."""
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


def _output_sizes(op: str, spatial: Sequence[int], ksize: Sequence[int], stride: Sequence[int],
                  padding: Pads, dilation: Sequence[int], avals: Sequence[Any]
                  ) -> tuple[int, ...]:
    out = []
    for n, k, s, (lo, hi), d in zip(spatial, ksize, stride, padding, dilation, strict=True):
        m = conv_output_size(n, k, s, lo, hi, d)
        if n + lo + hi - d * (k - 1) - 1 < 0 or m < 1:
            raise ShapeError(
                f"{op}: the (dilated) kernel {list(ksize)} is larger than the padded input for "
                f"{describe(*avals)} with padding {list(padding)}, dilation {list(dilation)}; "
                f"pad the input or use a smaller kernel"
            )
        out.append(m)
    return tuple(out)


def _check_params(op: str, nd: int, stride: Any, padding: Any, dilation: Any, groups: Any
                  ) -> None:
    ok = (
        1 <= nd <= 3
        and isinstance(stride, tuple) and len(stride) == nd and min(stride) >= 1
        and isinstance(dilation, tuple) and len(dilation) == nd and min(dilation) >= 1
        and isinstance(padding, tuple) and len(padding) == nd
        and all(isinstance(p, tuple) and len(p) == 2 for p in padding)
        and isinstance(groups, int) and groups >= 1
    )
    if not ok:
        raise ShapeError(
            f"{op}: invalid params for {nd} spatial dims: stride={stride}, padding={padding}, "
            f"dilation={dilation}, groups={groups}; expected positive int tuples of length "
            f"{nd}, (low, high) padding pairs and groups >= 1 (lucid.conv{nd}d normalizes them)"
        )


def _check_operands(op: str, a: Any, b: Any, nd: int) -> None:
    if len(a.shape) != nd + 2 or len(b.shape) != nd + 2:
        raise ShapeError(f"{op}: expected two ({nd + 2})-d operands for {nd} spatial dims, got "
                         f"{describe(a, b)}")
    if a.dtype is not b.dtype:
        raise DTypeError(f"{op}: operands must have one dtype, got {describe(a, b)}")
    if not a.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected floating operands, got {describe(a, b)}; cast first")


def _conv_rule(x: Any, w: Any, *, stride: tuple[int, ...], padding: Pads,
               dilation: tuple[int, ...], groups: int) -> ShapedArray:
    nd = len(stride)
    _check_params("conv", nd, stride, padding, dilation, groups)
    _check_operands("conv", x, w, nd)
    if x.shape[1] != w.shape[1] * groups or w.shape[0] % groups:
        raise ShapeError(
            f"conv: input {describe(x)} and weight {describe(w)} do not match with "
            f"groups={groups}: need input channels = weight.shape[1] * groups and weight.shape[0] "
            f"divisible by groups"
        )
    out = _output_sizes("conv", x.shape[2:], w.shape[2:], stride, padding, dilation, (x, w))
    return ShapedArray((x.shape[0], w.shape[0], *out), x.dtype)


def _conv_transpose_rule(g: Any, w: Any, *, stride: tuple[int, ...], padding: Pads,
                         dilation: tuple[int, ...], groups: int,
                         in_spatial: tuple[int, ...]) -> ShapedArray:
    nd = len(stride)
    _check_params("conv_transpose", nd, stride, padding, dilation, groups)
    _check_operands("conv_transpose", g, w, nd)
    if g.shape[1] != w.shape[0] or w.shape[0] % groups:
        raise ShapeError(
            f"conv_transpose: input {describe(g)} and weight {describe(w)} do not match with "
            f"groups={groups}: need input channels = weight.shape[0], divisible by groups"
        )
    if len(in_spatial) != nd:
        raise ShapeError(f"conv_transpose: in_spatial={in_spatial} needs {nd} entries")
    expect = _output_sizes("conv_transpose", in_spatial, w.shape[2:], stride, padding, dilation,
                           (g, w))
    if expect != tuple(g.shape[2:]):
        raise ShapeError(
            f"conv_transpose: a convolution of spatial size {list(in_spatial)} gives "
            f"{list(expect)}, not the spatial size of the input {describe(g)}"
        )
    return ShapedArray((g.shape[0], w.shape[1] * groups, *in_spatial), g.dtype)


def _conv_weight_grad_rule(x: Any, g: Any, *, stride: tuple[int, ...], padding: Pads,
                           dilation: tuple[int, ...], groups: int,
                           kernel_size: tuple[int, ...]) -> ShapedArray:
    nd = len(stride)
    _check_params("conv_weight_grad", nd, stride, padding, dilation, groups)
    _check_operands("conv_weight_grad", x, g, nd)
    if x.shape[0] != g.shape[0] or x.shape[1] % groups or g.shape[1] % groups:
        raise ShapeError(
            f"conv_weight_grad: input {describe(x)} and output gradient {describe(g)} need one "
            f"batch size and channel counts divisible by groups={groups}"
        )
    if len(kernel_size) != nd or min(kernel_size) < 1:
        raise ShapeError(f"conv_weight_grad: invalid kernel_size {kernel_size}")
    expect = _output_sizes("conv_weight_grad", x.shape[2:], kernel_size, stride, padding,
                           dilation, (x, g))
    if expect != tuple(g.shape[2:]):
        raise ShapeError(
            f"conv_weight_grad: a convolution of {describe(x)} with kernel {list(kernel_size)} "
            f"gives spatial size {list(expect)}, not that of the gradient {describe(g)}"
        )
    return ShapedArray((g.shape[1], x.shape[1] // groups, *kernel_size), x.dtype)


# ---------------------------------------------------------------- NumPy side (eager impls)


class _Scratch(threading.local):
    def __init__(self) -> None:
        self.buffers: dict[tuple[str, np.dtype], np.ndarray] = {}


_SCRATCH = _Scratch()
_SCRATCH_LIMIT = 64 << 20  # bytes; larger temporaries are allocated per call and not kept


def _scratch(slot: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A reusable C-contiguous temporary (column matrices, GEMM results).

    The temporaries of a convolution are as large as the data, and a fresh multi-megabyte
    array costs one page fault per 4 KiB page every call (glibc hands large blocks back to the
    OS on free); measured here that cost as much as the GEMM itself. A temporary never leaves
    the impl that asked for it, so one buffer per (slot, dtype) and thread is safe.
    """
    n = 1
    for d in shape:
        n *= d
    if n * dtype.itemsize > _SCRATCH_LIMIT:
        return np.empty(shape, dtype)
    key = (slot, dtype)
    buf = _SCRATCH.buffers.get(key)
    if buf is None or buf.size < n:
        buf = np.empty(max(n, 1), dtype)
        _SCRATCH.buffers[key] = buf
    return buf[:n].reshape(shape)


def _kernels() -> Any:
    # Imported here, not at the top: the first convolution loads Numba, `import lucid` does not.
    # The per-sample kernels call BLAS through SciPy: load it first, with lucid's kernel choice.
    from ..kernels.cpu.blas import scipy_blas

    scipy_blas()
    from ..kernels.cpu import conv

    return conv


# One sample at a time (see lucid.kernels.cpu.conv) when the column matrix has few rows (at
# most this many: C/groups * prod(K)), where a whole-batch GEMM is bound by memory traffic, or
# when one sample's GEMM is small (at most _PER_SAMPLE_MAX_MACS multiply-adds), where the
# whole-batch pipeline (im2col of the batch, GEMM, transposing copy) moves more data than it
# computes. The benchmark CNN's layers have 27 and 144 rows, 0.44 and 1.2 M multiply-adds per
# sample; a 64->128-channel 3x3 layer on 56x56 images (231 M) stays batched. Below
# _PER_SAMPLE_MIN_MACS per sample the calls cost more than they save (average pooling's
# (B*C, 1, H, W) planes, 14 k multiply-adds: 1.5x slower per sample).
_PER_SAMPLE_MAX_ROWS = 64
_PER_SAMPLE_MAX_MACS = 4_000_000
_PER_SAMPLE_MIN_MACS = 32_768
# OpenBLAS runs products of up to 100^3 multiply-adds with its small-matrix kernel (no packing,
# no thread pool, so several threads may call it at once): the per-sample GEMMs are cut into
# row blocks that stay within that. A product whose second operand is transposed (the weight
# gradient's g @ cols.T) qualifies only with at most 1200 results (OpenBLAS's rule for its
# "TN" case), so those blocks are cut smaller still: 3x faster at the CNN's second layer.
_SMALL_GEMM_MACS = 1_000_000
_SMALL_GEMM_TN_RESULTS = 1200


def _per_sample(rows: int, cout: int, positions: int, groups: int, batch: int,
                dtype: np.dtype) -> bool:
    macs = cout * rows * positions
    return (groups == 1 and rows > 0 and batch > 0 and dtype.char in "fd"
            and macs >= max(_PER_SAMPLE_MIN_MACS, 1)
            and (rows <= _PER_SAMPLE_MAX_ROWS or macs <= _PER_SAMPLE_MAX_MACS))


def _row_block(total: int, most: int) -> int:
    """Rows per GEMM block: at most ``most``, in blocks of (nearly) equal size, as a short last
    block runs the small-matrix kernel at a poor rate (27 + 5 rows: 1.15x the time of 16 + 16)."""
    most = max(1, most)
    blocks = -(-total // most)
    return max(1, -(-total // blocks))


class _Pool:
    """Worker threads for the per-sample kernels (created on first use, one fewer than the
    threads used: the calling thread takes a share too)."""

    def __init__(self) -> None:
        self.executor: Any = None
        self.pid = 0  # the process that made the executor: a forked child makes its own
        self.workers = 0
        self.lock = threading.Lock()

    def threads(self, batch: int) -> int:
        # Numba's thread count: the CPUs available, or NUMBA_NUM_THREADS where it is set (the
        # benchmarks set it with the BLAS thread count).
        from numba import config

        return max(1, min(int(config.NUMBA_NUM_THREADS), len(os.sched_getaffinity(0))
                          if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, batch))

    def run(self, fn: Callable[[int, int], Any], batch: int) -> list[Any]:
        """``fn(b0, b1)`` over a partition of ``range(batch)`` into contiguous chunks, one per
        thread, the first in the calling thread; the results in chunk order."""
        n = self.threads(batch)
        bounds = [batch * i // n for i in range(n + 1)]
        if n == 1:
            return [fn(0, batch)]
        with self.lock:
            if self.executor is None or self.pid != os.getpid() or self.workers < n - 1:
                from concurrent.futures import ThreadPoolExecutor

                # (threads do not survive a fork: the parent's executor would never run a task)
                self.executor = ThreadPoolExecutor(n - 1, thread_name_prefix="lucid-conv")
                self.pid, self.workers = os.getpid(), n - 1
            executor = self.executor
        futures = [executor.submit(fn, bounds[i], bounds[i + 1]) for i in range(1, n)]
        first = fn(bounds[0], bounds[1])
        return [first] + [f.result() for f in futures]


_POOL = _Pool()


def _prod(t: Sequence[int]) -> int:
    n = 1
    for d in t:
        n *= d
    return n


def _work_dtype(a: np.ndarray) -> np.dtype:
    # float16 runs in float32 (the kernels compile for float32/float64 only), as CPU BLAS has
    # no half-precision GEMM anyway.
    return np.dtype(np.float32) if a.dtype == np.float16 else a.dtype


def _geometry(ksize: Sequence[int], stride: Sequence[int], padding: Pads,
              dilation: Sequence[int], osize: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    """Kernel arguments padded to 3 spatial dims (a 1-d conv is a 3-d one with unit D, H)."""
    lead = 3 - len(ksize)
    return (
        (1,) * lead + tuple(ksize),
        (1,) * lead + tuple(stride),
        (0,) * lead + tuple(lo for lo, _ in padding),
        (1,) * lead + tuple(dilation),
        (1,) * lead + tuple(osize),
    )


def _as5d(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=dtype)
    return a.reshape(a.shape[:2] + (1,) * (5 - a.ndim) + a.shape[2:])


def _pointwise(ksize: Sequence[int], stride: Sequence[int], padding: Pads) -> bool:
    """A 1x1 convolution without stride or padding: im2col is a plain transpose."""
    return (all(k == 1 for k in ksize) and all(s == 1 for s in stride)
            and all(p == (0, 0) for p in padding))


def _channel_major(a: np.ndarray, dtype: np.dtype, slot: str) -> np.ndarray:
    """``(B, C, *S)`` as a C-contiguous ``(C, B * prod(S))`` matrix."""
    b, c = a.shape[:2]
    m = _prod(a.shape[2:])
    if b == 1:
        return np.ascontiguousarray(a, dtype=dtype).reshape(c, m)
    out = _scratch(slot, (c, b, m), dtype)
    np.copyto(out, a.reshape(b, c, m).transpose(1, 0, 2), casting="unsafe")
    return out.reshape(c, b * m)


def _batch_major(a: np.ndarray, b: int, spatial: Sequence[int], dtype: np.dtype) -> np.ndarray:
    """A ``(C, B * prod(S))`` matrix as a new C-contiguous ``(B, C, *S)`` array."""
    c, m = a.shape[0], _prod(spatial)
    if b == 1:
        return np.array(a, dtype=dtype).reshape((1, c, *spatial))
    out = np.empty((b, c, *spatial), dtype)
    np.copyto(out.reshape(b, c, m), a.reshape(c, b, m).transpose(1, 0, 2), casting="unsafe")
    return out


def _im2col(x: np.ndarray, ksize: Sequence[int], stride: Sequence[int], padding: Pads,
            dilation: Sequence[int], osize: Sequence[int], dtype: np.dtype) -> np.ndarray:
    """The ``(C * prod(K), B * prod(O))`` column matrix of ``x`` (a scratch buffer)."""
    if _pointwise(ksize, stride, padding):
        return _channel_major(x, dtype, "cols")
    b, c = x.shape[:2]
    cols = _scratch("cols", (c * _prod(ksize), b * _prod(osize)), dtype)
    _kernels().im2col(_as5d(x, dtype), cols, *_geometry(ksize, stride, padding, dilation, osize))
    return cols


def _mm(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for 2-d operands, or a stack of per-group products for 3-d ones."""
    from ..kernels.cpu.blas import gemm  # one BLAS for every GEMM of lucid's

    if a.ndim == 2 and b.ndim == 2:
        return gemm(a, b, out)
    if not (a.ndim == 3 and b.ndim == 3 and a.shape[0] == b.shape[0]):
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((a.shape[0], a.shape[1], b.shape[-1]), dtype=np.result_type(a, b))
    for i in range(a.shape[0]):
        gemm(a[i], b[i], out[i])
    return out


def _conv_impl(x: np.ndarray, w: np.ndarray, *, stride: tuple[int, ...], padding: Pads,
               dilation: tuple[int, ...], groups: int) -> np.ndarray:
    dt = _work_dtype(x)
    b, cout = x.shape[0], w.shape[0]
    ksize = w.shape[2:]
    osize = tuple(conv_output_size(n, k, s, lo, hi, d) for n, k, s, (lo, hi), d
                  in zip(x.shape[2:], ksize, stride, padding, dilation, strict=True))
    rows, p = _prod(w.shape[1:]), _prod(osize)
    if _per_sample(rows, cout, p, groups, b, dt):
        out = np.empty((b, cout, p), dt)
        x5, w2 = _as5d(x, dt), np.ascontiguousarray(w, dtype=dt).reshape(cout, rows)
        geo = _geometry(ksize, stride, padding, dilation, osize)
        mb = _row_block(cout, _SMALL_GEMM_MACS // (rows * p))
        kernel = _kernels().conv_per_sample
        _POOL.run(lambda b0, b1: kernel(x5, w2, out, _scratch("cols", (rows, p), dt), b0, b1,
                                        mb, *geo), b)
        return out.reshape((b, cout, *osize)).astype(x.dtype, copy=False)
    cols = _im2col(x, ksize, stride, padding, dilation, osize, dt)
    m, ck = cols.shape[1], cols.shape[0] // groups  # (sizes spelled out: -1 fails on empties)
    wg = np.ascontiguousarray(w, dtype=dt).reshape(groups, cout // groups, ck)
    res = _scratch("mm", (groups, cout // groups, m), dt)
    _mm(wg, cols.reshape(groups, ck, m), out=res)
    return _batch_major(res.reshape(cout, m), b, osize, x.dtype)


def _conv_transpose_impl(g: np.ndarray, w: np.ndarray, *, stride: tuple[int, ...],
                         padding: Pads, dilation: tuple[int, ...], groups: int,
                         in_spatial: tuple[int, ...]) -> np.ndarray:
    dt = _work_dtype(g)
    b, cout = g.shape[:2]
    cin = w.shape[1] * groups
    ksize, osize = w.shape[2:], g.shape[2:]
    rows, p = w.shape[1] * _prod(ksize), _prod(osize)
    if _per_sample(rows, cout, p, groups, b, dt):
        dx = np.empty((b, cin, *in_spatial), dt)
        g3, dx5 = np.ascontiguousarray(g, dtype=dt).reshape(b, cout, p), _as5d(dx, dt)
        wt = np.ascontiguousarray(np.asarray(w, dtype=dt).reshape(cout, rows).T)
        geo = _geometry(ksize, stride, padding, dilation, osize)
        mb = _row_block(rows, _SMALL_GEMM_MACS // (cout * p))
        kernel = _kernels().conv_transpose_per_sample
        _POOL.run(lambda b0, b1: kernel(g3, wt, dx5, _scratch("cols", (rows, p), dt), b0, b1,
                                        mb, *geo), b)
        return dx.astype(g.dtype, copy=False)
    gt = _channel_major(g, dt, "gt")
    m, ck = gt.shape[1], w.shape[1] * _prod(ksize)
    wg = np.ascontiguousarray(w, dtype=dt).reshape(groups, cout // groups, ck)
    cols = _scratch("cols", (groups, ck, m), dt)
    _mm(wg.transpose(0, 2, 1), gt.reshape(groups, cout // groups, m), out=cols)
    cols = cols.reshape(groups * ck, m)
    if _pointwise(ksize, stride, padding):
        return _batch_major(cols, b, in_spatial, g.dtype)
    dx = np.empty((b, cin, *in_spatial), dt)
    _kernels().col2im(cols, _as5d(dx, dt), *_geometry(ksize, stride, padding, dilation, osize))
    return dx.astype(g.dtype, copy=False)


def _conv_weight_grad_impl(x: np.ndarray, g: np.ndarray, *, stride: tuple[int, ...],
                           padding: Pads, dilation: tuple[int, ...], groups: int,
                           kernel_size: tuple[int, ...]) -> np.ndarray:
    dt = _work_dtype(x)
    cout, cin = g.shape[1], x.shape[1]
    osize = g.shape[2:]
    rows, p, b = cin // groups * _prod(kernel_size), _prod(osize), x.shape[0]
    if _per_sample(rows, cout, p, groups, b, dt):
        x5, g3 = _as5d(x, dt), np.ascontiguousarray(g, dtype=dt).reshape(b, cout, p)
        geo = _geometry(kernel_size, stride, padding, dilation, osize)
        mb = _row_block(cout, min(_SMALL_GEMM_MACS // (rows * p), _SMALL_GEMM_TN_RESULTS // rows))
        kernel = _kernels().conv_weight_grad_per_sample

        def part(b0: int, b1: int) -> np.ndarray:
            dw = np.empty((cout, rows), dt)
            kernel(x5, g3, dw, _scratch("cols", (rows, p), dt), b0, b1, mb, *geo)
            return dw

        dw, *others = _POOL.run(part, b)
        for o in others:
            dw += o
        return dw.reshape((cout, cin, *kernel_size)).astype(x.dtype, copy=False)
    cols = _im2col(x, kernel_size, stride, padding, dilation, osize, dt)
    m, ck = cols.shape[1], cols.shape[0] // groups
    gt = _channel_major(g, dt, "gt")
    # dW.T = cols @ g.T (BLAS takes the transposed operand as a flag, no copy), then the small
    # dW transposed: with the long inner dimension this orientation ran ~1.5x faster than
    # dW = g @ cols.T at the benchmark CNN's second layer (144 x 32 result, inner 8192).
    dwt = _mm(cols.reshape(groups, ck, m), gt.reshape(groups, cout // groups, m).transpose(0, 2, 1))
    dw = np.ascontiguousarray(dwt.transpose(0, 2, 1), dtype=x.dtype)
    return dw.reshape((cout, cin // groups, *kernel_size))


# ---------------------------------------------------------------- the primitives


def _conv_vjp_x(g: Tensor, out: Any, x: Tensor, w: Tensor, **p: Any) -> Tensor:
    return conv_transpose_p.bind(g, w, in_spatial=tuple(x.shape[2:]), **p)


def _conv_vjp_w(g: Tensor, out: Any, x: Tensor, w: Tensor, **p: Any) -> Tensor:
    return conv_weight_grad_p.bind(x, g, kernel_size=tuple(w.shape[2:]), **p)


conv_p = primitive(
    "conv",
    shape_rule=_conv_rule,
    impl=_conv_impl,
    vjp=(_conv_vjp_x, _conv_vjp_w),
    lowering=Kernel("conv"),
    doc="N-d (N = 1, 2, 3) grouped, strided, dilated convolution (cross-correlation) of "
        "x (B, C, *S) with w (C_out, C/groups, *K); explicit (low, high) padding; no bias.",
)


def _conv_transpose_vjp_g(h: Tensor, out: Any, g: Tensor, w: Tensor, *,
                          in_spatial: tuple[int, ...], **p: Any) -> Tensor:
    return conv_p.bind(h, w, **p)


def _conv_transpose_vjp_w(h: Tensor, out: Any, g: Tensor, w: Tensor, *,
                          in_spatial: tuple[int, ...], **p: Any) -> Tensor:
    return conv_weight_grad_p.bind(h, g, kernel_size=tuple(w.shape[2:]), **p)


conv_transpose_p = primitive(
    "conv_transpose",
    shape_rule=_conv_transpose_rule,
    impl=_conv_transpose_impl,
    vjp=(_conv_transpose_vjp_g, _conv_transpose_vjp_w),
    lowering=Kernel("conv_transpose"),
    doc="The transpose (adjoint) of conv(., w): g (B, C_out, *O) -> (B, C, *in_spatial); "
        "conv's input gradient and the transposed convolution.",
)


def _conv_weight_grad_vjp_x(hw: Tensor, out: Any, x: Tensor, g: Tensor, *,
                            kernel_size: tuple[int, ...], **p: Any) -> Tensor:
    return conv_transpose_p.bind(g, hw, in_spatial=tuple(x.shape[2:]), **p)


def _conv_weight_grad_vjp_g(hw: Tensor, out: Any, x: Tensor, g: Tensor, *,
                            kernel_size: tuple[int, ...], **p: Any) -> Tensor:
    return conv_p.bind(x, hw, **p)


conv_weight_grad_p = primitive(
    "conv_weight_grad",
    shape_rule=_conv_weight_grad_rule,
    impl=_conv_weight_grad_impl,
    vjp=(_conv_weight_grad_vjp_x, _conv_weight_grad_vjp_g),
    lowering=Kernel("conv_weight_grad"),
    doc="The adjoint of w -> conv(x, w): (x, g) -> dW of shape (C_out, C/groups, *kernel_size).",
)


# ---------------------------------------------------------------- public functions


def _ntuple(value: Any, n: int, name: str, op: str) -> tuple[int, ...]:
    """``value`` (an int or a sequence of ``n`` ints) as a tuple of ``n`` Python ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and len(value) == n and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        return tuple(int(v) for v in value)
    if isinstance(value, (tuple, list)) and len(value) == 1 and n > 1:
        return _ntuple(value[0], n, name, op)
    raise ValueError(f"{op}: {name} must be an int or a sequence of {n} ints, got {value!r}")


def _conv_padding(padding: Any, nd: int, ksize: Sequence[int], stride: Sequence[int],
                  dilation: Sequence[int], op: str) -> Pads:
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride={list(stride)})")
            # Like PyTorch: an odd total (even kernel) puts the extra element at the end.
            totals = [d * (k - 1) for k, d in zip(ksize, dilation, strict=True)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{op}: invalid padding string {padding!r}; expected 'valid' or 'same'")
    pads = _ntuple(padding, nd, "padding", op)
    if min(pads) < 0:
        raise ValueError(f"{op}: negative padding is not supported, got {padding!r}")
    return tuple((p, p) for p in pads)


def _positive(t: tuple[int, ...], name: str, op: str) -> tuple[int, ...]:
    if min(t) < 1:
        raise ValueError(f"{op}: {name} must be positive, got {list(t)}")
    return t


def _batched(x: Tensor, nd: int, op: str, what: str = "input") -> tuple[Tensor, bool]:
    """Add a batch dimension to an unbatched ``(C, *S)`` input (PyTorch accepts both)."""
    if x.ndim == nd + 2:
        return x, False
    if x.ndim == nd + 1:
        return _shape.reshape(x, (1, *x.shape)), True
    raise ShapeError(f"{op}: expected a {nd + 1}-d (unbatched) or {nd + 2}-d (batched) {what}, "
                     f"got {describe(x)}")


def _check_dtypes(op: str, *ts: Tensor | None) -> None:
    present = [t for t in ts if t is not None]
    if any(t.dtype is not present[0].dtype for t in present):
        raise DTypeError(f"{op}: input, weight and bias must have one dtype, got "
                         f"{describe(*present)}; cast them with .to(dtype)")
    if not present[0].dtype.is_floating_point:
        raise DTypeError(f"{op}: expected floating tensors, got {describe(*present)}")


def _add_bias(out: Tensor, bias: Tensor | None, nd: int, op: str) -> Tensor:
    if bias is None:
        return out
    if bias.ndim != 1 or bias.shape[0] != out.shape[1]:
        raise ShapeError(f"{op}: bias must have shape [{out.shape[1]}] (one entry per output "
                         f"channel), got {describe(bias)}")
    return _binary.add(out, _shape.reshape(bias, (out.shape[1],) + (1,) * nd))


def _convnd(nd: int, op: str, inp: Any, weight: Any, bias: Any, stride: Any, padding: Any,
            dilation: Any, groups: int) -> Tensor:
    x, w = as_tensor(inp), as_tensor(weight)
    b = None if bias is None else as_tensor(bias)
    _check_dtypes(op, x, w, b)
    if w.ndim != nd + 2:
        raise ShapeError(f"{op}: expected a {nd + 2}-d weight (C_out, C_in/groups, *kernel), "
                         f"got {describe(w)}")
    x, unbatched = _batched(x, nd, op)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    if x.shape[1] != w.shape[1] * groups:
        raise ShapeError(
            f"{op}: given groups={groups} and weight {describe(w)}, expected the input "
            f"{describe(x)} to have {w.shape[1] * groups} channels, but got {x.shape[1]}"
        )
    if w.shape[0] % groups:
        raise ShapeError(f"{op}: weight {describe(w)} has {w.shape[0]} output channels, not "
                         f"divisible by groups={groups}")
    stride_t = _positive(_ntuple(stride, nd, "stride", op), "stride", op)
    dilation_t = _positive(_ntuple(dilation, nd, "dilation", op), "dilation", op)
    pads = _conv_padding(padding, nd, w.shape[2:], stride_t, dilation_t, op)
    out = conv_p.bind(x, w, stride=stride_t, padding=pads, dilation=dilation_t, groups=groups)
    out = _add_bias(out, b, nd, op)
    return _shape.reshape(out, tuple(out.shape[1:])) if unbatched else out


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-d convolution (cross-correlation), as ``torch.nn.functional.conv1d``.

    ``input`` is ``(B, C_in, W)`` or unbatched ``(C_in, W)``; ``weight`` is
    ``(C_out, C_in / groups, kW)``; ``bias`` ``(C_out,)`` or None. ``padding`` is an int, a
    1-tuple, ``"valid"`` (none) or ``"same"`` (output as long as the input; stride 1 only).
    """
    return _convnd(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-d convolution (cross-correlation), as ``torch.nn.functional.conv2d``.

    ``input`` is ``(B, C_in, H, W)`` or unbatched ``(C_in, H, W)``; ``weight`` is
    ``(C_out, C_in / groups, kH, kW)``; ``bias`` ``(C_out,)`` or None. ``stride``, ``padding``
    and ``dilation`` are ints or pairs; ``padding`` may also be ``"valid"`` or ``"same"``
    (stride 1 only; an even kernel gets the extra padding at the end, as in PyTorch).
    """
    return _convnd(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-d convolution (cross-correlation), as ``torch.nn.functional.conv3d``.

    ``input`` is ``(B, C_in, D, H, W)`` or unbatched ``(C_in, D, H, W)``; ``weight`` is
    ``(C_out, C_in / groups, kD, kH, kW)``; other arguments as in :func:`conv2d`.
    """
    return _convnd(3, "conv3d", input, weight, bias, stride, padding, dilation, groups)


def _conv_transposend(nd: int, op: str, inp: Any, weight: Any, bias: Any, stride: Any,
                      padding: Any, output_padding: Any, groups: int, dilation: Any) -> Tensor:
    x, w = as_tensor(inp), as_tensor(weight)
    b = None if bias is None else as_tensor(bias)
    _check_dtypes(op, x, w, b)
    if w.ndim != nd + 2:
        raise ShapeError(f"{op}: expected a {nd + 2}-d weight (C_in, C_out/groups, *kernel), "
                         f"got {describe(w)}")
    x, unbatched = _batched(x, nd, op)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    if x.shape[1] != w.shape[0] or w.shape[0] % groups:
        raise ShapeError(
            f"{op}: weight {describe(w)} expects {w.shape[0]} input channels (divisible by "
            f"groups={groups}), got input {describe(x)}"
        )
    s = _positive(_ntuple(stride, nd, "stride", op), "stride", op)
    d = _positive(_ntuple(dilation, nd, "dilation", op), "dilation", op)
    p = _ntuple(padding, nd, "padding", op)
    op_ = _ntuple(output_padding, nd, "output_padding", op)
    if min(p) < 0 or min(op_) < 0:
        raise ValueError(f"{op}: padding and output_padding must be >= 0, got {padding!r}, "
                         f"{output_padding!r}")
    for o, si, di in zip(op_, s, d, strict=True):
        if o >= si and o >= di:
            raise ValueError(f"{op}: output padding must be smaller than either stride or "
                             f"dilation, got output_padding={list(op_)}, stride={list(s)}, "
                             f"dilation={list(d)}")
    k = w.shape[2:]
    size = tuple((n - 1) * si - 2 * pi + di * (ki - 1) + oi + 1
                 for n, si, pi, di, ki, oi in zip(x.shape[2:], s, p, d, k, op_, strict=True))
    if min(size) < 1:
        raise ShapeError(f"{op}: the output size {list(size)} of input {describe(x)} with "
                         f"weight {describe(w)} and padding {list(p)} is not positive")
    # The transposed convolution is the adjoint of a conv from `size` to the input's size. Its
    # low padding is `p`; the high amount just has to make that conv's output size match (any
    # value in [p - op, p - op + s - 1] does; pick the largest, which is >= 0 when op < s).
    pads = tuple((pi, pi + si - 1 - oi) for pi, si, oi in zip(p, s, op_, strict=True))
    out = conv_transpose_p.bind(x, w, stride=s, padding=pads, dilation=d, groups=groups,
                                in_spatial=size)
    out = _add_bias(out, b, nd, op)
    return _shape.reshape(out, tuple(out.shape[1:])) if unbatched else out


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """1-d transposed convolution, as ``torch.nn.functional.conv_transpose1d``.

    ``input`` is ``(B, C_in, W)`` or ``(C_in, W)``; ``weight`` is ``(C_in, C_out / groups, kW)``
    (PyTorch's layout); the output length is
    ``(W - 1) * stride - 2 * padding + dilation * (kW - 1) + output_padding + 1``.
    """
    return _conv_transposend(1, "conv_transpose1d", input, weight, bias, stride, padding,
                             output_padding, groups, dilation)


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """2-d transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    ``input`` is ``(B, C_in, H, W)`` or ``(C_in, H, W)``; ``weight`` is
    ``(C_in, C_out / groups, kH, kW)``; see :func:`conv_transpose1d` for the output size.
    """
    return _conv_transposend(2, "conv_transpose2d", input, weight, bias, stride, padding,
                             output_padding, groups, dilation)


def conv_transpose3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """3-d transposed convolution, as ``torch.nn.functional.conv_transpose3d``.

    ``input`` is ``(B, C_in, D, H, W)`` or ``(C_in, D, H, W)``; ``weight`` is
    ``(C_in, C_out / groups, kD, kH, kW)``; see :func:`conv_transpose1d` for the output size.
    """
    return _conv_transposend(3, "conv_transpose3d", input, weight, bias, stride, padding,
                             output_padding, groups, dilation)


__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
]
