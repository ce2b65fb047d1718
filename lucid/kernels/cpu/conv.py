"""im2col / col2im: the data movement around the one GEMM of a convolution.

Every convolution (1-, 2- or 3-d) runs on 5-d arrays ``(B, C, D, H, W)``: the op module views a
1-d input as ``(B, C, 1, 1, W)`` and a 2-d one as ``(B, C, 1, H, W)`` (free reshapes), so two
kernels serve all three ranks and compile once per dtype.

The column matrix has the layout ``cols[(c, kd, kh, kw), (b, od, oh, ow)]``, i.e. shape
``(C * KD * KH * KW, B * OD * OH * OW)``, C-contiguous. With that layout every GEMM of a
convolution is a single contiguous matrix product over the whole batch:

* forward:      ``out[co, (b, o)]   = W[co, (c, k)] @ cols``
* weight grad:  ``dW[co, (c, k)]    = g[co, (b, o)] @ cols.T``   (a transposed operand, no copy)
* input grad:   ``cols             = W.T @ g[co, (b, o)]``, then :func:`col2im`.

These whole-batch GEMMs run outside the kernels (:mod:`lucid.kernels.cpu.blas`). For small
convolutions the op module goes one sample at a time instead (:func:`conv_per_sample`,
:func:`conv_weight_grad_per_sample`, :func:`conv_transpose_per_sample`): im2col into a buffer
that stays in cache and a GEMM right after it (``np.dot`` inside the kernel: the same SciPy
OpenBLAS as lucid's other GEMMs; the op module cuts each product into row blocks small enough
for OpenBLAS's single-threaded small-matrix kernel, which needs no packing), the forward result
written straight into the ``(B, C_out, P)`` layout, no transposing copy. The kernels release
the GIL and the op module runs disjoint ranges of samples in one Python thread per core, so
im2col and col2im run in parallel too. That pays where a whole-batch GEMM is bound by memory
traffic (a column matrix with few rows: a first layer on RGB images) or the whole-batch
pipeline moves more data than it computes (small per-sample products). Measured for the
benchmark CNN at batch 32 on 2 cores (whole batch -> per sample): first layer forward 0.35 ->
0.21 ms and weight gradient 0.70 -> 0.20 ms, second layer forward 0.53 -> 0.50, weight gradient
0.52 -> 0.42 and input gradient 0.55 -> 0.40 ms (minimums on a loaded machine).

The kernels contain no ``prange``: a Numba parallel loop next to the multi-threaded GEMMs
competes with OpenBLAS's threads for the cores (measured on the 2-core machine: a ``prange``
im2col/col2im alternating with GEMMs had its median step several times slower than the serial
one with the OpenMP layer, whose idle workers spin, while the workqueue layer was slower than
serial even alone). Python threads that block between calls do not spin.

``pad`` holds the LOW padding per dimension; the high padding only decides the output size,
which the caller passes in ``osize``. Positions outside the input read as zero (im2col) or
are dropped (col2im), so negative paddings (crops) work too.
"""

# Sizes are named as in the math (B, C, D, H, W, K, ...), which reads better in index code.
# ruff: noqa: N806

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _valid_range(off: int, step: int, n: int, count: int) -> tuple[int, int]:
    """The range ``[lo, hi)`` of ``o`` in ``[0, count)`` with ``0 <= o * step + off < n``."""
    lo = 0
    if off < 0:
        lo = min(count, (-off + step - 1) // step)
    hi = 0
    if n - off > 0:
        hi = min(count, (n - off + step - 1) // step)
    if hi < lo:
        hi = lo
    return lo, hi


# The hot loops index flat arrays with unsigned offsets: a signed index makes Numba emit a
# negative-index wraparound per element, which blocks vectorisation (measured: a row copy ran
# 5x slower). Every offset below is non-negative by construction.


@njit(cache=True)
def _zero(a: np.ndarray, start: int, n: int) -> None:
    for j in range(n):
        a[np.uint64(start + j)] = 0


@njit(cache=True)
def _copy(dst: np.ndarray, d0: int, src: np.ndarray, s0: int, n: int, step: int) -> None:
    if step == 1:
        for j in range(n):
            dst[np.uint64(d0 + j)] = src[np.uint64(s0 + j)]
    else:
        for j in range(n):
            dst[np.uint64(d0 + j)] = src[np.uint64(s0 + j * step)]


@njit(cache=True)
def _add(dst: np.ndarray, d0: int, step: int, src: np.ndarray, s0: int, n: int) -> None:
    if step == 1:
        for j in range(n):
            dst[np.uint64(d0 + j)] += src[np.uint64(s0 + j)]
    else:
        for j in range(n):
            dst[np.uint64(d0 + j * step)] += src[np.uint64(s0 + j)]


@njit(cache=True)
def im2col(x: np.ndarray, cols: np.ndarray, ksize: tuple, stride: tuple, pad: tuple,
           dil: tuple, osize: tuple) -> None:
    """Fill ``cols`` (``(C*K, B*P)``, C-contiguous) from ``x`` (``(B, C, D, H, W)``, C-contiguous).

    ``cols[(c, kd, kh, kw), (b, od, oh, ow)] = x[b, c, od*sd - pd + kd*dd, ...]``, zero where
    that position falls outside ``x``.
    """
    B, C, D, H, W = x.shape
    KD, KH, KW = ksize
    SD, SH, SW = stride
    PD, PH, PW = pad
    DD, DH, DW = dil
    OD, OH, OW = osize
    K = KD * KH * KW
    P = OD * OH * OW  # output positions per sample
    plane = D * H * W
    xf = x.reshape(x.size)
    cf = cols.reshape(cols.size)
    # Stride 1 along H and W with output rows as wide as input rows (the common "same"
    # convolution): the valid output rows of one kernel offset read consecutive input rows, so
    # they are ONE contiguous copy; the few columns that wrapped into a neighbouring row are
    # zeroed afterwards. Otherwise copy row by row.
    block = SW == 1 and SH == 1 and W == OW
    for r in range(C * K):
        c = r // K
        k = r - c * K
        kd = k // (KH * KW)
        kh = (k // KW) % KH
        kw = k % KW
        off_w = kw * DW - PW
        off_h = kh * DH - PH
        lo, hi = _valid_range(off_w, SW, W, OW)  # valid output columns
        oh_lo, oh_hi = _valid_range(off_h, SH, H, OH)  # valid output rows
        for b in range(B):
            xbase = (b * C + c) * plane
            dst = r * (B * P) + b * P
            for od in range(OD):
                iz = od * SD - PD + kd * DD
                if iz < 0 or iz >= D or lo == hi:
                    _zero(cf, dst, OH * OW)
                    dst += OH * OW
                    continue
                zbase = xbase + iz * H * W
                _zero(cf, dst, oh_lo * OW)
                if block:
                    d0 = dst + oh_lo * OW
                    n = (oh_hi - oh_lo) * OW
                    if n > 0:
                        # first read: the first valid column of the first valid row; last read:
                        # the last valid column of the last valid row (both inside the plane)
                        _copy(cf, d0 + lo, xf, zbase + (oh_lo + off_h) * W + off_w + lo,
                              n - lo - (OW - hi), 1)
                        if lo > 0 or hi < OW:
                            for row in range(d0, d0 + n, OW):
                                _zero(cf, row, lo)
                                _zero(cf, row + hi, OW - hi)
                else:
                    for oh in range(oh_lo, oh_hi):
                        d = dst + oh * OW
                        _zero(cf, d, lo)
                        _copy(cf, d + lo, xf, zbase + (oh * SH + off_h) * W + off_w + lo * SW,
                              hi - lo, SW)
                        _zero(cf, d + hi, OW - hi)
                _zero(cf, dst + oh_hi * OW, (OH - oh_hi) * OW)
                dst += OH * OW


@njit(cache=True)
def col2im(cols: np.ndarray, dx: np.ndarray, ksize: tuple, stride: tuple, pad: tuple,
           dil: tuple, osize: tuple) -> None:
    """The adjoint of :func:`im2col`: ``dx`` (``(B, C, D, H, W)``, C-contiguous, overwritten)
    receives the sum of every column entry at the input position it was read from.

    ``cols`` is used as scratch: entries that map outside ``dx`` may be set to zero.
    """
    B, C, D, H, W = dx.shape
    KD, KH, KW = ksize
    SD, SH, SW = stride
    PD, PH, PW = pad
    DD, DH, DW = dil
    OD, OH, OW = osize
    K = KD * KH * KW
    P = OD * OH * OW
    plane = D * H * W
    df = dx.reshape(dx.size)
    cf = cols.reshape(cols.size)
    _zero(df, 0, df.size)
    # The transpose of im2col's block copy: zero the entries of the out-of-range columns, then
    # add all valid rows of one kernel offset as one contiguous run (the zeros land on the
    # neighbouring rows' edges and change nothing).
    block = SW == 1 and SH == 1 and W == OW
    # One (b, c) plane of dx at a time: it stays in L1 while all K column rows add into it.
    for b in range(B):
        for c in range(C):
            xbase = (b * C + c) * plane
            for k in range(K):
                r = c * K + k
                kd = k // (KH * KW)
                kh = (k // KW) % KH
                kw = k % KW
                off_w = kw * DW - PW
                off_h = kh * DH - PH
                lo, hi = _valid_range(off_w, SW, W, OW)
                oh_lo, oh_hi = _valid_range(off_h, SH, H, OH)
                if lo == hi:
                    continue
                src = r * (B * P) + b * P
                for od in range(OD):
                    iz = od * SD - PD + kd * DD
                    if iz >= 0 and iz < D:
                        zbase = xbase + iz * H * W
                        if block:
                            s0 = src + oh_lo * OW
                            n = (oh_hi - oh_lo) * OW
                            if n > 0:
                                if lo > 0 or hi < OW:
                                    for row in range(s0, s0 + n, OW):
                                        _zero(cf, row, lo)
                                        _zero(cf, row + hi, OW - hi)
                                _add(df, zbase + (oh_lo + off_h) * W + off_w + lo, 1, cf,
                                     s0 + lo, n - lo - (OW - hi))
                        else:
                            for oh in range(oh_lo, oh_hi):
                                _add(df, zbase + (oh * SH + off_h) * W + off_w + lo * SW, SW,
                                     cf, src + oh * OW + lo, hi - lo)
                    src += OH * OW


# The per-sample kernels release the GIL (``nogil``): the op module runs disjoint ranges of
# samples [b0, b1) in several Python threads. Each GEMM covers ``mb`` rows of its left operand,
# chosen by the caller so that one product stays within OpenBLAS's small-matrix kernel.


@njit(cache=True, nogil=True)
def conv_per_sample(x: np.ndarray, w: np.ndarray, out: np.ndarray, cols: np.ndarray, b0: int,
                    b1: int, mb: int, ksize: tuple, stride: tuple, pad: tuple, dil: tuple,
                    osize: tuple) -> None:
    """``out[b] = w @ im2col(x[b])`` for ``b0 <= b < b1``: ``x`` ``(B, C, D, H, W)``, ``w``
    ``(C_out, C * K)``, ``out`` ``(B, C_out, P)`` and the scratch ``cols`` ``(C * K, P)``, all
    C-contiguous and of one float dtype (ungrouped convolution)."""
    cout = w.shape[0]
    for b in range(b0, b1):
        im2col(x[b:b + 1], cols, ksize, stride, pad, dil, osize)
        for r in range(0, cout, mb):
            e = min(r + mb, cout)
            np.dot(w[r:e], cols, out[b, r:e])


@njit(cache=True, nogil=True)
def conv_weight_grad_per_sample(x: np.ndarray, g: np.ndarray, dw: np.ndarray, cols: np.ndarray,
                                b0: int, b1: int, mb: int, ksize: tuple, stride: tuple,
                                pad: tuple, dil: tuple, osize: tuple) -> None:
    """``dw = sum_{b0 <= b < b1} g[b] @ im2col(x[b]).T``: ``x`` ``(B, C, D, H, W)``, ``g``
    ``(B, C_out, P)``, ``dw`` ``(C_out, C * K)``, the scratch ``cols`` ``(C * K, P)``, all
    C-contiguous and of one float dtype (ungrouped convolution)."""
    cout = g.shape[1]
    part = np.empty((min(mb, cout), dw.shape[1]), dw.dtype)
    dw[:] = 0
    for b in range(b0, b1):
        im2col(x[b:b + 1], cols, ksize, stride, pad, dil, osize)
        for r in range(0, cout, mb):
            e = min(r + mb, cout)
            p = part[:e - r]
            np.dot(g[b, r:e], cols.T, p)  # the transposed operand is a BLAS flag, not a copy
            dw[r:e] += p


@njit(cache=True, nogil=True)
def conv_transpose_per_sample(g: np.ndarray, wt: np.ndarray, dx: np.ndarray, cols: np.ndarray,
                              b0: int, b1: int, mb: int, ksize: tuple, stride: tuple,
                              pad: tuple, dil: tuple, osize: tuple) -> None:
    """``dx[b] = col2im(wt @ g[b])`` for ``b0 <= b < b1``: ``g`` ``(B, C_out, P)``, ``wt``
    ``(C * K, C_out)`` (the transposed weight), ``dx`` ``(B, C, D, H, W)``, the scratch
    ``cols`` ``(C * K, P)``, all C-contiguous and of one float dtype (ungrouped)."""
    rows = wt.shape[0]
    for b in range(b0, b1):
        for r in range(0, rows, mb):
            e = min(r + mb, rows)
            np.dot(wt[r:e], g[b], cols[r:e])
        col2im(cols, dx[b:b + 1], ksize, stride, pad, dil, osize)
