"""Linear algebra: the ``matmul`` primitive and the PyTorch functions built on it.

The primitive is strict: both operands have rank >= 2, one dtype, and EQUAL batch dimensions,
``(*batch, m, k) @ (*batch, k, n) -> (*batch, m, n)``. The public :func:`matmul` implements
PyTorch's rules on top of it (1-D operands promoted to matrices and squeezed back, batch
dimensions broadcast with explicit ``broadcast_to`` nodes, dtype promotion), so the VJP rules
stay two lines each and are themselves matmuls (double backward works).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor

# Sibling families are used through their module objects, resolved at call time, because the
# op families import each other.
from . import binary as _binary
from . import shape as _shape
from .promotion import as_tensor, broadcast_shapes, promote
from .registry import Kernel, ShapedArray, primitive
from .rules import describe

# ---------------------------------------------------------------- the primitive


def _matmul_rule(a: Any, b: Any) -> ShapedArray:
    sa, sb = a.shape, b.shape
    if len(sa) < 2 or len(sb) < 2:
        raise ShapeError(
            f"matmul: the primitive needs operands of rank >= 2, got {describe(a, b)}; "
            f"lucid.matmul promotes 1-D operands"
        )
    if a.dtype is not b.dtype:
        raise DTypeError(f"matmul: operands must have one dtype, got {describe(a, b)}")
    if a.dtype is _dt.bool_:
        raise DTypeError(f"matmul: not defined for bool tensors, got {describe(a, b)}; "
                         f"cast to an integer or floating dtype first")
    if sa[:-2] != sb[:-2]:
        raise ShapeError(
            f"matmul: the primitive needs equal batch dimensions, got {describe(a, b)}; "
            f"lucid.matmul broadcasts them"
        )
    if sa[-1] != sb[-2]:
        raise ShapeError(
            f"matmul: {describe(a, b)} cannot be multiplied ({sa[-1]} != {sb[-2]})"
        )
    return ShapedArray((*sa[:-1], sb[-1]), a.dtype)


def _mT(x: Tensor) -> Tensor:  # noqa: N802 - PyTorch's name for a batch transpose
    return _shape.transpose(x, -2, -1)


def _vjp_mT(x: Tensor) -> Tensor:  # noqa: N802
    """``_mT`` inside VJP rules: of a matrix, a plain view when nothing records (see
    ``shape.untracked_permute``), which saves two binds per weight gradient."""
    if x.ndim == 2 and type(x) is Tensor:
        return _shape.untracked_permute(x, (1, 0))
    return _mT(x)


def _matmul_impl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # lucid's GEMMs all go through one BLAS (see lucid/kernels/cpu/blas.py), loaded on first use
    # and then kept here (an import statement would cost a lookup on every product).
    global _blas_matmul
    if _blas_matmul is None:
        from ..kernels.cpu import blas

        _blas_matmul = blas.matmul
    return _blas_matmul(a, b)


_blas_matmul: Any = None


def _stored_transposed(t: Tensor) -> bool:
    """Whether ``t`` is eagerly a transposed view of a row-major matrix (``W.mT`` in
    ``x @ W.mT``): its data is column-major and not row-major."""
    if type(t) is not Tensor:  # a StaleTensor's data must not be touched
        return False
    d = t._data
    return type(d) is np.ndarray and d.ndim == 2 and d.flags.f_contiguous and \
        not d.flags.c_contiguous


def _matmul_vjp_b(g: Tensor, out: Any, a: Tensor, b: Tensor) -> Tensor:
    """dL/db = a^T @ g, computed in b's memory layout.

    When b is a transposed row-major matrix (a linear layer's ``W.mT``), ``(g^T @ a)^T`` gives
    the same values with the product row-major in W's layout, so the gradient that reaches W
    (through the transpose's own VJP) is row-major: storing it in ``W.grad`` is a plain copy
    instead of a transposing one, and the optimizer's update runs over two row-major arrays.
    (PyTorch's ``mm`` backward does the same.) Traced values have no layout and take the
    plain form.
    """
    if _stored_transposed(b):
        return _vjp_mT(matmul_p.bind(_vjp_mT(g), a))
    return matmul_p.bind(_vjp_mT(a), g)


matmul_p = primitive(
    "matmul",
    shape_rule=_matmul_rule,
    impl=_matmul_impl,
    vjp=(
        lambda g, out, a, b: matmul_p.bind(g, _vjp_mT(b)),  # dL/da = g @ b^T
        _matmul_vjp_b,  # dL/db = a^T @ g
    ),
    lowering=Kernel("matmul"),
    doc="Batched matrix product of rank >= 2 operands with equal batch dimensions.",
)


# ---------------------------------------------------------------- public functions


def _shape_str(shape: Any) -> str:
    return "x".join(str(d) for d in shape) if len(shape) else "scalar"


def _operands(a: Any, b: Any, op: str) -> tuple[Tensor, Tensor]:
    """Tensors of one promoted dtype (not bool), each at least 1-D."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"{op}: both arguments need to be at least 1-D, got {describe(a, b)}; use "
            f"lucid.mul (or *) to multiply by a scalar"
        )
    a, b = promote(a, b)
    if a.dtype is _dt.bool_:
        raise DTypeError(f"{op}: not defined for bool tensors, got {describe(a, b)}; "
                         f"cast to an integer or floating dtype first")
    return a, b


def _mismatch(op: str, a: Tensor, b: Tensor, ka: int, kb: int) -> ShapeError:
    return ShapeError(
        f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied "
        f"({_shape_str(a.shape)} and {_shape_str(b.shape)}: {ka} != {kb}); the last dimension "
        f"of the first operand must equal the "
        f"{'only' if b.ndim == 1 else 'second-to-last'} dimension of the second"
    )


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with PyTorch's rules (``a @ b``).

    * 1-D @ 1-D: the dot product (a 0-d tensor).
    * 2-D @ 2-D: the matrix product.
    * A 1-D first operand is treated as a row ``(1, k)`` and a 1-D second operand as a column
      ``(k, 1)``; the added dimension is removed from the result.
    * Dimensions before the last two are batch dimensions and broadcast
      (``(j, 1, m, k) @ (5, k, n) -> (j, 5, m, n)``).

    Mixed dtypes are promoted; bool tensors are not supported.
    """
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype is b.dtype \
            and a.dtype is not _dt.bool_ and a.ndim == 2 and b.ndim == 2:
        # Two matrices of one dtype (every linear layer): nothing to promote or broadcast.
        if a.shape[1] != b.shape[0]:
            raise _mismatch("matmul", a, b, a.shape[1], b.shape[0])
        return matmul_p.bind(a, b)
    a, b = _operands(a, b, "matmul")
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != kb:
        raise _mismatch("matmul", a, b, a.shape[-1], kb)
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    a2 = _shape.reshape(a, (1, a.shape[0])) if a_vec else a
    b2 = _shape.reshape(b, (b.shape[0], 1)) if b_vec else b

    if b2.ndim == 2 and a2.ndim > 2:
        # (..., m, k) @ (k, n): fold the batch into the rows, one matrix product, and no
        # broadcast of b (whose gradient would otherwise be a sum over the batch).
        lead = tuple(a2.shape[:-1])
        rows = int(np.prod(lead, dtype=np.int64))  # not -1: it is ambiguous for empty tensors
        flat = matmul_p.bind(_shape.reshape(a2, (rows, a2.shape[-1])), b2)
        out = _shape.reshape(flat, (*lead, b2.shape[-1]))
    else:
        batch = broadcast_shapes(a2.shape[:-2], b2.shape[:-2], op="matmul")
        a3 = _shape.broadcast_to(a2, (*batch, *a2.shape[-2:]))
        b3 = _shape.broadcast_to(b2, (*batch, *b2.shape[-2:]))
        out = matmul_p.bind(a3, b3)

    if a_vec or b_vec:
        # Drop the dimensions that the 1-D promotion added (rows for a, columns for b).
        shape = tuple(out.shape)
        if b_vec:
            shape = shape[:-1]
        if a_vec:
            shape = shape[:-1] if b_vec else shape[:-2] + shape[-1:]
        out = _shape.reshape(out, shape)
    return out


def mm(a: Any, b: Any) -> Tensor:
    """The product of two matrices (2-D tensors only; see :func:`matmul` for the general op)."""
    a, b = _operands(a, b, "mm")
    if a.ndim != 2 or b.ndim != 2:
        raise ShapeError(f"mm: expects two 2-D tensors, got {describe(a, b)}; use matmul for "
                         f"vectors or batches")
    if a.shape[1] != b.shape[0]:
        raise _mismatch("mm", a, b, a.shape[1], b.shape[0])
    return matmul_p.bind(a, b)


def bmm(a: Any, b: Any) -> Tensor:
    """Batched matrix product of two 3-D tensors with the same batch size (no broadcasting)."""
    a, b = _operands(a, b, "bmm")
    if a.ndim != 3 or b.ndim != 3:
        raise ShapeError(f"bmm: expects two 3-D tensors, got {describe(a, b)}; use matmul "
                         f"to broadcast batch dimensions")
    if a.shape[0] != b.shape[0]:
        raise ShapeError(f"bmm: batch sizes differ ({a.shape[0]} != {b.shape[0]}) in "
                         f"{describe(a, b)}")
    if a.shape[2] != b.shape[1]:
        raise _mismatch("bmm", a, b, a.shape[2], b.shape[1])
    return matmul_p.bind(a, b)


def dot(a: Any, b: Any) -> Tensor:
    """The dot product of two 1-D tensors of one length (a 0-d tensor)."""
    a, b = _operands(a, b, "dot")
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"dot: expects two 1-D tensors, got {describe(a, b)}; use matmul "
                         f"for matrices")
    if a.shape[0] != b.shape[0]:
        raise ShapeError(f"dot: the vectors have different lengths ({a.shape[0]} and "
                         f"{b.shape[0]}): {describe(a, b)}")
    return matmul(a, b)


def outer(a: Any, b: Any) -> Tensor:
    """The outer product ``a[:, None] * b[None, :]`` of two 1-D tensors."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: expects two 1-D tensors, got {describe(a, b)}")
    return _binary.mul(_shape.reshape(a, (a.shape[0], 1)), _shape.reshape(b, (1, b.shape[0])))


ger = outer

__all__ = ["matmul", "mm", "bmm", "dot", "outer", "ger"]
