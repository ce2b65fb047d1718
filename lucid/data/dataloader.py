"""``DataLoader``: batches from a dataset, optionally shuffled, reproducibly."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..random import Generator, numpy_rng
from ..tensor import Tensor
from .collate import default_collate
from .dataset import Dataset, TensorDataset


class DataLoader:
    """Iterate over ``dataset`` in batches.

    ``shuffle`` draws a new permutation each epoch from ``generator`` (or lucid's global
    generator, so ``lucid.manual_seed`` makes it reproducible). ``drop_last`` drops a final
    partial batch. ``collate_fn`` turns a list of samples into a batch (default:
    :func:`default_collate`). Data is loaded in the calling thread.
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool = False,
                 drop_last: bool = False, collate_fn: Callable[[list], Any] | None = None,
                 generator: Generator | None = None, num_workers: int = 0,
                 pin_memory: bool = False) -> None:
        if batch_size is not None and batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be positive, got {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn or default_collate
        self.generator = generator
        self.num_workers = num_workers  # accepted for PyTorch compatibility; loading is in-thread

    def _order(self) -> np.ndarray:
        n = len(self.dataset)  # type: ignore[arg-type]
        return numpy_rng(self.generator).permutation(n) if self.shuffle else np.arange(n)

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        if self.batch_size is None:
            for i in order:
                yield self.dataset[int(i)]
            return
        bs = self.batch_size
        stop = len(order) - (len(order) % bs if self.drop_last else 0)
        fast = type(self.dataset) is TensorDataset and self.collate_fn is default_collate
        for start in range(0, stop, bs):
            idx = order[start:start + bs]
            if fast:
                # Index every tensor once per batch instead of stacking per-sample rows.
                ds: TensorDataset = self.dataset  # type: ignore[assignment]
                rows = Tensor._make(np.asarray(idx, dtype=np.int64))
                yield tuple(t[rows] for t in ds.tensors)
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in idx])

    def __len__(self) -> int:
        n = len(self.dataset)  # type: ignore[arg-type]
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


__all__ = ["DataLoader"]
