"""``where`` as a Numba kernel: NumPy's ``np.where`` runs ~3x slower than a multiply on
random masks (it is the costliest op of an eager CNN step, through relu's backward).

Each operand is either a contiguous array or a broadcast scalar (all strides 0, the shape of
the zeros that VJP rules select against); the kernel reads scalars once instead of
materialising them.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _where_aa(c: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    for i in range(out.size):
        out[i] = a[i] if c[i] else b[i]


@njit(cache=True)
def _where_as(c: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    s = b[0]
    for i in range(out.size):
        out[i] = a[i] if c[i] else s


@njit(cache=True)
def _where_sa(c: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    s = a[0]
    for i in range(out.size):
        out[i] = s if c[i] else b[i]


def _is_scalar(x: np.ndarray) -> bool:
    return x.size > 0 and all(s == 0 for s in x.strides)


_SMALL = 4096  # below this, NumPy's call overhead is lower than the kernel's


def where(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.where(c, a, b)`` for operands of one shape (broadcast scalars allowed)."""
    if c.size < _SMALL or not c.flags.c_contiguous:
        return np.where(c, a, b)
    sa, sb = _is_scalar(a), _is_scalar(b)
    if (not sa and not a.flags.c_contiguous) or (not sb and not b.flags.c_contiguous) or (
        sa and sb
    ):
        return np.where(c, a, b)
    out = np.empty(c.shape, dtype=a.dtype)
    flat_c, flat_out = c.reshape(-1), out.reshape(-1)
    if sb:
        _where_as(flat_c, a.reshape(-1), b.reshape(-1)[:1], flat_out)
    elif sa:
        _where_sa(flat_c, a.reshape(-1)[:1], b.reshape(-1), flat_out)
    else:
        _where_aa(flat_c, a.reshape(-1), b.reshape(-1), flat_out)
    return out


__all__ = ["where"]
