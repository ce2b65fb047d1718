"""``Embedding``: a lookup table of learnable vectors indexed by integer ids (``torch.nn``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import creation as _creation
from ...autograd.mode import no_grad
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter

__all__ = ["Embedding"]


def _renorm_rows_(weight: Tensor, indices: Tensor, max_norm: float, norm_type: float) -> None:
    """Rescale in place the rows of ``weight`` used by ``indices`` whose ``norm_type``-norm
    exceeds ``max_norm`` to norm ``max_norm`` (PyTorch's ``embedding_renorm_``, same 1e-7)."""
    rows = np.unique(np.asarray(indices._data).reshape(-1))
    if rows.size == 0:
        return
    w = weight._data
    norms = np.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
    over = norms > max_norm
    if not over.any():
        return
    new = np.array(w, copy=True)
    scale = max_norm / (norms[over] + 1e-7)
    new[rows[over]] = (w[rows[over]] * scale[:, None]).astype(w.dtype)
    with no_grad():
        weight.copy_(Tensor._make(new))


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by index.

    Args:
        num_embeddings: Size of the dictionary.
        embedding_dim: Size of each vector.
        padding_idx: If given, that row is initialised to zeros and never receives a gradient
            (so it stays a fixed "padding" vector during training). Negative values count from
            the end.
        max_norm: If given, every looked-up row whose ``norm_type``-norm exceeds it is
            rescaled, in place, to norm ``max_norm`` before the lookup (as in PyTorch, this
            modifies ``weight``).
        norm_type: The p of the p-norm for ``max_norm`` (default 2).
        scale_grad_by_freq: Divide each row's gradient by the number of times its index
            occurs in the mini-batch.
        sparse: Sparse gradients are not supported by lucid (must be False).

    ``weight`` is ``(num_embeddings, embedding_dim)``, initialised N(0, 1).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Tensor | None = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if sparse:
            raise ValueError("Embedding: sparse gradients are not supported by lucid; use "
                             "sparse=False (dense gradients give the same updates)")
        if padding_idx is not None:
            if padding_idx > 0 and padding_idx >= num_embeddings:
                raise ValueError("Padding_idx must be within num_embeddings")
            if padding_idx < 0:
                if padding_idx < -num_embeddings:
                    raise ValueError("Padding_idx must be within num_embeddings")
                padding_idx = num_embeddings + padding_idx
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = Parameter(
                _creation.empty((num_embeddings, embedding_dim), dtype=dtype, device=device),
                requires_grad=not _freeze,
            )
            self.reset_parameters()
        else:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise ValueError("Shape of weight does not match num_embeddings and "
                                 "embedding_dim")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """Re-draw the weight from N(0, 1) and zero the padding row."""
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        if self.max_norm is not None:
            _renorm_rows_(self.weight, input, self.max_norm, self.norm_type)
        out = F.embedding(input, self.weight, self.padding_idx)
        if self.scale_grad_by_freq and self.weight.requires_grad:
            # Same forward value (the added term is exactly zero) but the gradient reaching
            # the table through each looked-up row is divided by that index's count.
            flat = np.asarray(input._data).reshape(-1)
            counts = np.bincount(flat, minlength=self.num_embeddings)[np.asarray(input._data)]
            inv = Tensor._make((1.0 / counts).astype(out.dtype.np)[..., None])
            out = out.detach() + (out - out.detach()) * inv
        return out

    def extra_repr(self) -> str:
        s = "{num_embeddings}, {embedding_dim}"
        if self.padding_idx is not None:
            s += ", padding_idx={padding_idx}"
        if self.max_norm is not None:
            s += ", max_norm={max_norm}"
        if self.norm_type != 2:
            s += ", norm_type={norm_type}"
        if self.scale_grad_by_freq is not False:
            s += ", scale_grad_by_freq={scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s.format(**self.__dict__)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding holding ``embeddings`` (a 2-d tensor, shared, not copied) as its
        weight; ``freeze=True`` (default) makes it not require grad. The padding row is not
        zeroed (as in PyTorch)."""
        if embeddings.ndim != 2:
            raise ValueError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(num_embeddings=rows, embedding_dim=cols, _weight=embeddings, _freeze=freeze,
                   padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)

