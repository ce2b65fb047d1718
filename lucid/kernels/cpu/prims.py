"""Numba implementations of coarse primitives, for the whole-plan drivers of ``lucid.jit``.

A plan driver (:mod:`lucid.jit.codegen_plan`) runs a whole small graph as one ``@njit``
function; elementwise work, reductions and indexing are generated inline as loops, and the
primitives below are the pieces that are easier to write once, generic over rank and layout:
matrix products through BLAS, a reshape that copies only when it must, and softmax /
log-softmax along any axis (the eager primitives' kernel). They follow the NumPy reference
implementations of the primitives (``lucid/ops``) to float32 rounding.

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
from .softmax import softmax

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
def softmax_along(x: np.ndarray, axis: int, log: bool) -> np.ndarray:
    """softmax (or log-softmax) along ``axis``: the kernel of the eager primitives
    (:func:`lucid.kernels.cpu.softmax.softmax`) on the ``(A, N, B)`` view of ``x``."""
    c = np.ascontiguousarray(x)
    out = np.empty(c.shape, c.dtype)
    if c.size == 0:
        return out
    a = 1
    b = 1
    for d in range(c.ndim):
        if d < axis:
            a *= c.shape[d]
        elif d > axis:
            b *= c.shape[d]
    n = c.shape[axis]
    softmax(c.reshape((a, n, b)), out.reshape((a, n, b)), log)
    return out


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
           "softmax_along"]
