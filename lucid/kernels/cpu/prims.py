"""Numba implementations of coarse primitives, for the whole-plan drivers of ``lucid.jit``.

A plan driver (:mod:`lucid.jit.codegen_plan`) runs a whole small graph as one ``@njit``
function; elementwise work, reductions and indexing are generated inline as loops, and the
primitives below are the pieces that are easier to write once, generic over rank and layout:
matrix products through BLAS, a reshape that copies only when it must, and the row-wise
softmax / log-softmax. They follow the NumPy reference implementations of the primitives
(``lucid/ops``) to float32 rounding.

Numba specialises them on dtype, rank and layout only, so one compiled version serves every
shape. They are ``cache=True``, like every kernel in this package.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from numba.core import types
from numba.extending import overload

from .blas import scipy_blas

# Numba's np.dot calls SciPy's BLAS: load it the way lucid's own GEMMs do (one BLAS, the
# kernel lucid picks for this CPU) before Numba imports it.
scipy_blas()

_DECORATOR = {"cache": True, "nogil": True, "error_model": "numpy"}


def contig(a: np.ndarray) -> np.ndarray:
    """``a`` as an operand BLAS takes without a copy when its layout allows (C or Fortran
    order, known when compiling), else a C-contiguous array (a copy only when needed)."""
    return np.ascontiguousarray(a)


@overload(contig)
def _contig(a):  # unannotated: Numba compares it with the implementation's signature
    if isinstance(a, types.Array) and a.layout in "CF" and a.ndim >= 1:
        return lambda a: a
    return lambda a: np.ascontiguousarray(a)


@njit(**_DECORATOR)
def matmul2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for 2-d float operands of one dtype (BLAS)."""
    m, n = a.shape[0], b.shape[1]
    if m == 0 or n == 0 or a.shape[1] == 0:
        return np.zeros((m, n), a.dtype)
    return np.dot(contig(a), contig(b))


@njit(**_DECORATOR)
def matmul3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A batch of products: ``out[i] = a[i] @ b[i]`` for 3-d float operands."""
    nb, m, n = a.shape[0], a.shape[1], b.shape[2]
    out = np.zeros((nb, m, n), a.dtype)
    if m == 0 or n == 0 or a.shape[2] == 0:
        return out
    for i in range(nb):
        out[i] = np.dot(contig(a[i]), contig(b[i]))
    return out


@njit(**_DECORATOR)
def reshape(x: np.ndarray, shape: Any) -> np.ndarray:
    """``x.reshape(shape)``: a view of a C-contiguous array, else a reshaped copy."""
    return np.ascontiguousarray(x).reshape(shape)


@njit(**_DECORATOR)
def _row_max(r: np.ndarray) -> Any:
    # NaN propagates, as in np.max: once m is NaN no comparison replaces it.
    m = r[0]
    for j in range(1, r.shape[0]):
        v = r[j]
        if v > m or v != v:
            m = v
    return m


@njit(**_DECORATOR)
def _softmax_rows(x: np.ndarray, log: bool) -> np.ndarray:
    """softmax (or log-softmax) along the last axis, computed stably as the primitives'
    NumPy implementations: ``x - max`` first, the sum of exponentials in float64."""
    c = np.ascontiguousarray(x)
    n = c.shape[-1]
    out = np.empty(c.shape, c.dtype)
    if c.size == 0:
        return out
    rows = c.size // n
    src = c.reshape((rows, n))
    dst = out.reshape((rows, n))
    for i in range(rows):
        r = src[i]
        m = _row_max(r)
        s = 0.0
        for j in range(n):
            e = np.exp(r[j] - m)
            dst[i, j] = e
            s += e
        if log:
            ls = np.log(s)
            for j in range(n):
                dst[i, j] = (r[j] - m) - ls
        else:
            for j in range(n):
                dst[i, j] = dst[i, j] / s
    return out


@njit(**_DECORATOR)
def log_softmax_last(x: np.ndarray) -> np.ndarray:
    """log-softmax along the last axis."""
    return _softmax_rows(x, True)


@njit(**_DECORATOR)
def softmax_last(x: np.ndarray) -> np.ndarray:
    """softmax along the last axis."""
    return _softmax_rows(x, False)


@njit(**_DECORATOR)
def ravel(x: np.ndarray) -> np.ndarray:
    """A C-contiguous array's elements as a 1-d view."""
    return x.reshape(x.size)


@njit(**_DECORATOR)
def copy_into(dst: np.ndarray, src: np.ndarray) -> None:
    """``dst[...] = src`` for arrays of one shape and rank >= 1."""
    dst[:] = src


@njit(**_DECORATOR)
def copy_into0(dst: np.ndarray, src: np.ndarray) -> None:
    """``dst[()] = src[()]`` for 0-d arrays."""
    dst[()] = src[()]


__all__ = ["ravel", "copy_into", "copy_into0", "contig", "matmul2", "matmul3", "reshape",
           "log_softmax_last", "softmax_last"]
