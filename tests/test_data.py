"""lucid.data: datasets, random_split, DataLoader and default_collate."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import lucid
from lucid.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)


def test_tensor_dataset_and_errors():
    x, y = lucid.arange(10.0).reshape(5, 2), lucid.arange(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    a, b = ds[3]
    assert a.tolist() == [6.0, 7.0] and b.item() == 3
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(x, lucid.arange(4))


def test_subset_concat_and_random_split():
    ds = TensorDataset(lucid.arange(10))
    sub = Subset(ds, [9, 0, 4])
    assert [s[0].item() for s in (sub[0], sub[1], sub[2])] == [9, 0, 4]
    cat = ConcatDataset([sub, ds])
    assert len(cat) == 13 and cat[3][0].item() == 0 and cat[-1][0].item() == 9
    g = lucid.Generator().manual_seed(0)
    parts = random_split(ds, [7, 3], generator=g)
    idx = sorted(parts[0].indices + parts[1].indices)
    assert idx == list(range(10)) and len(parts[0]) == 7
    again = random_split(ds, [7, 3], generator=lucid.Generator().manual_seed(0))
    assert again[0].indices == parts[0].indices
    fr = random_split(ds, [0.5, 0.3, 0.2])
    assert [len(p) for p in fr] == [5, 3, 2]
    with pytest.raises(ValueError, match="sum to"):
        random_split(ds, [3, 3])


def test_loader_batches_drop_last_and_len():
    ds = TensorDataset(lucid.arange(10.0).reshape(10, 1), lucid.arange(10))
    dl = DataLoader(ds, batch_size=4)
    batches = list(dl)
    assert len(dl) == 3 and [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert batches[0][1].tolist() == [0, 1, 2, 3]
    dl = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dl) == 2 and [b[1].shape[0] for b in dl] == [4, 4]


def test_shuffle_is_reproducible_and_covers_everything():
    ds = TensorDataset(lucid.arange(20))
    lucid.manual_seed(1)
    first = [b[0].tolist() for b in DataLoader(ds, batch_size=5, shuffle=True)]
    lucid.manual_seed(1)
    second = [b[0].tolist() for b in DataLoader(ds, batch_size=5, shuffle=True)]
    assert first == second
    flat = [i for batch in first for i in batch]
    assert sorted(flat) == list(range(20)) and flat != list(range(20))
    g = lucid.Generator().manual_seed(3)
    dl = DataLoader(ds, batch_size=20, shuffle=True, generator=g)
    e1, e2 = next(iter(dl))[0].tolist(), next(iter(dl))[0].tolist()
    assert e1 != e2  # a new permutation every epoch


class Pairs(Dataset):
    Sample = namedtuple("Sample", "x label")

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return {"img": np.full((2, 2), i, dtype=np.float32), "meta": (i, float(i) / 2, i % 2 == 0),
                "name": f"s{i}", "nt": self.Sample(lucid.tensor([i, i]), i)}


def test_default_collate_recurses():
    batch = next(iter(DataLoader(Pairs(), batch_size=3)))
    assert batch["img"].shape == (3, 2, 2) and batch["img"].dtype is lucid.float32
    ints, floats, bools = batch["meta"]
    assert ints.dtype is lucid.int64 and ints.tolist() == [0, 1, 2]
    assert floats.dtype is lucid.float32 and floats.tolist() == [0.0, 0.5, 1.0]
    assert bools.dtype is lucid.bool and bools.tolist() == [True, False, True]
    assert batch["name"] == ["s0", "s1", "s2"]
    assert isinstance(batch["nt"], Pairs.Sample) and batch["nt"].x.shape == (3, 2)
    with pytest.raises(TypeError, match="found object"):
        default_collate([object()])


def test_custom_collate_and_no_batching():
    ds = TensorDataset(lucid.arange(4))
    dl = DataLoader(ds, batch_size=2, collate_fn=lambda samples: len(samples))
    assert list(dl) == [2, 2]
    assert [s[0].item() for s in DataLoader(ds, batch_size=None)] == [0, 1, 2, 3]
