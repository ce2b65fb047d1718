"""Max-pooling kernels: the window argmax, and the gather / scatter-add around it.

Inputs are viewed as planes ``(N, H, W)`` (``N`` = batch x channels; ``H = 1`` for 1-d
pooling) or volumes ``(N, D, H, W)``, so each kernel compiles once per dtype, for any shape. A
window is described per dimension by two int64 arrays over the output positions, ``lo[o]``
(the first valid input index) and ``hi[o]`` (one past the last), plus a dilation step:
fixed-size pooling (windows ``o*s - p + j*d``, clipped to the input) and adaptive pooling
(``[floor(o*n/m), ceil((o+1)*n/m))``) both reduce to that, so one kernel serves both.

Indices follow PyTorch: the flat position ``(z * H + y) * W + x`` inside each ``(n, c)`` plane;
the first maximum in scan order wins ties, and a NaN wins over everything (the last NaN seen).
"""

# Sizes are named as in the math (B, C, D, H, W, K, ...), which reads better in index code.
# ruff: noqa: N803, N806

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _window_argmax_exact(xf: np.ndarray, base: int, H: int, W: int, z0: int, z1: int, y0: int,
                         y1: int, x0: int, x1: int, DD: int, DH: int, DW: int) -> int:
    """PyTorch's scan of one window, literally: take a value if it is greater or NaN."""
    best = -np.inf
    arg = (z0 * H + y0) * W + x0
    for z in range(z0, z1, DD):
        for y in range(y0, y1, DH):
            for i in range((z * H + y) * W + x0, (z * H + y) * W + x1, DW):
                v = xf[base + i]
                if v > best or v != v:
                    best = v
                    arg = i
    return arg


@njit(cache=True)
def _has_nan(xf: np.ndarray, start: int, n: int) -> bool:
    nan = False
    for i in range(n):
        v = xf[np.uint64(start + i)]
        nan |= v != v
    return nan


@njit(cache=True)
def max_pool_argmax_2d(x: np.ndarray, lo_h: np.ndarray, hi_h: np.ndarray, lo_w: np.ndarray,
                       hi_w: np.ndarray, dil: tuple, idx: np.ndarray) -> None:
    """Write into ``idx`` (``(N, OH, OW)`` int64) the argmax of each window of ``x``
    (``(N, H, W)``, C-contiguous); every window must hold at least one position.

    1-d pooling runs here too, with ``H = 1``. A separate 3-d kernel keeps this loop nest
    shallow: the extra depth loop alone made the 2-d case 2x slower.
    """
    N, H, W = x.shape
    OH, OW = lo_h.size, lo_w.size
    DH, DW = dil
    plane = H * W
    xf = x.reshape(x.size)
    jf = idx.reshape(idx.size)
    ninf = np.empty(1, x.dtype)
    ninf[0] = -np.inf  # typed like x: a float64 running max would convert every element
    j = 0
    for n in range(N):
        base = n * plane
        # Without NaNs PyTorch's rule "greater, or NaN" is just "greater": planes holding a
        # NaN (rare) are scanned literally, the others by the fast loop below.
        exact = _has_nan(xf, base, plane)
        for oh in range(OH):
            y0, y1 = lo_h[oh], hi_h[oh]
            for ow in range(OW):
                x0, x1 = lo_w[ow], hi_w[ow]
                if exact:
                    arg = _window_argmax_exact(xf, base, H, W, 0, 1, y0, y1, x0, x1, 1, DH, DW)
                else:
                    # `while` loops (a stepped `range` divides to count its iterations, per
                    # window) and unsigned indices (no wraparound checks): 4x faster than the
                    # literal scan.
                    best = ninf[0]
                    arg = y0 * W + x0
                    y = y0
                    while y < y1:
                        i = y * W + x0
                        end = y * W + x1
                        while i < end:
                            v = xf[np.uint64(base + i)]
                            if v > best:
                                best = v
                                arg = i
                            i += DW
                        y += DH
                jf[j] = arg
                j += 1


@njit(cache=True)
def max_pool_argmax_2x2(x: np.ndarray, idx: np.ndarray) -> None:
    """:func:`max_pool_argmax_2d` for the most common pooling, 2x2 windows with stride 2, no
    padding or dilation: ``x`` ``(N, H, W)`` with ``H >= 2 * OH`` and ``W >= 2 * OW``, ``idx``
    ``(N, OH, OW)``, both C-contiguous.

    Each window's 4 values are compared branch-free, as two row pairs and then the two row
    winners (the first maximum in scan order still wins ties), so the loop over a row of
    windows vectorises: about 5x faster than the general kernel at the benchmark CNN's sizes.
    A NaN is noticed on the way, and a plane that holds one is redone by the literal scan.
    """
    N, H, W = x.shape
    OH, OW = idx.shape[1], idx.shape[2]
    xf = x.reshape(x.size)
    for n in range(N):
        nan = False
        for oh in range(OH):
            r0 = x[n, 2 * oh]
            r1 = x[n, 2 * oh + 1]
            out = idx[n, oh]
            b0 = 2 * oh * W
            for ow in range(OW):
                a = r0[2 * ow]
                b = r0[2 * ow + 1]
                c = r1[2 * ow]
                d = r1[2 * ow + 1]
                t0 = b > a
                m0 = b if t0 else a
                t1 = d > c
                m1 = d if t1 else c
                pick = (W + 1 if t1 else W) if m1 > m0 else (1 if t0 else 0)
                out[ow] = b0 + 2 * ow + pick
                nan |= (a != a) | (b != b) | (c != c) | (d != d)
        if nan:
            for oh in range(OH):
                for ow in range(OW):
                    idx[n, oh, ow] = _window_argmax_exact(
                        xf, n * H * W, H, W, 0, 1, 2 * oh, 2 * oh + 2, 2 * ow, 2 * ow + 2, 1, 1,
                        1)


@njit(cache=True)
def max_pool_argmax_3d(x: np.ndarray, lo_d: np.ndarray, hi_d: np.ndarray, lo_h: np.ndarray,
                       hi_h: np.ndarray, lo_w: np.ndarray, hi_w: np.ndarray, dil: tuple,
                       idx: np.ndarray) -> None:
    """:func:`max_pool_argmax_2d` for volumes: ``x`` ``(N, D, H, W)``, ``idx``
    ``(N, OD, OH, OW)``, indices flat within each ``D x H x W`` volume."""
    N, D, H, W = x.shape
    OD, OH, OW = lo_d.size, lo_h.size, lo_w.size
    DD, DH, DW = dil
    plane = D * H * W
    xf = x.reshape(x.size)
    jf = idx.reshape(idx.size)
    ninf = np.empty(1, x.dtype)
    ninf[0] = -np.inf
    j = 0
    for n in range(N):
        base = n * plane
        exact = _has_nan(xf, base, plane)
        for od in range(OD):
            z0, z1 = lo_d[od], hi_d[od]
            for oh in range(OH):
                y0, y1 = lo_h[oh], hi_h[oh]
                for ow in range(OW):
                    x0, x1 = lo_w[ow], hi_w[ow]
                    if exact:
                        arg = _window_argmax_exact(xf, base, H, W, z0, z1, y0, y1, x0, x1, DD,
                                                   DH, DW)
                    else:
                        best = ninf[0]
                        arg = (z0 * H + y0) * W + x0
                        z = z0
                        while z < z1:
                            y = y0
                            while y < y1:
                                i = (z * H + y) * W + x0
                                end = (z * H + y) * W + x1
                                while i < end:
                                    v = xf[np.uint64(base + i)]
                                    if v > best:
                                        best = v
                                        arg = i
                                    i += DW
                                y += DH
                            z += DD
                    jf[j] = arg
                    j += 1


@njit(cache=True)
def gather_planes(x: np.ndarray, idx: np.ndarray, out: np.ndarray) -> None:
    """``out[n, q] = x[n, idx[n, q]]`` for 2-d C-contiguous ``x`` ``(N, P)`` and ``idx``/``out``
    ``(N, Q)`` (the values of max pooling at its argmax)."""
    N, Q = idx.shape
    P = x.shape[1]
    xf = x.reshape(x.size)
    jf = idx.reshape(idx.size)
    of = out.reshape(out.size)
    for n in range(N):
        for q in range(n * Q, (n + 1) * Q):
            i = jf[q]
            if i < 0 or i >= P:
                raise IndexError("pool_gather: index out of range for the input plane")
            of[np.uint64(q)] = xf[np.uint64(n * P + i)]


@njit(cache=True)
def scatter_add_planes(g: np.ndarray, idx: np.ndarray, out: np.ndarray) -> None:
    """``out[n, :] = 0; out[n, idx[n, q]] += g[n, q]`` for 2-d ``g``/``idx`` ``(N, Q)`` and
    ``out`` ``(N, P)``, all C-contiguous (the backward of a gather within planes)."""
    N, Q = g.shape
    P = out.shape[1]
    gf = g.reshape(g.size)
    jf = idx.reshape(idx.size)
    of = out.reshape(out.size)
    for n in range(N):
        # Each plane zeroed right before its scatter: it is still in L1 when the adds land
        # (zeroing the whole output first: ~15% slower at the benchmark CNN's sizes).
        for j in range(n * P, (n + 1) * P):
            of[np.uint64(j)] = 0
        for q in range(n * Q, (n + 1) * Q):
            i = jf[q]
            if i < 0 or i >= P:
                raise IndexError("pool_scatter: index out of range for the input plane")
            of[np.uint64(n * P + i)] += gf[np.uint64(q)]
