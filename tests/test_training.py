"""End-to-end eager training: the whole stack (Module, layers, loss, optimizer, DataLoader)."""

from __future__ import annotations

import numpy as np

import lucid
import lucid.nn as nn
from lucid.data import DataLoader, TensorDataset


def _blobs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Four Gaussian blobs in 2-d, one class each, with a little overlap."""
    centers = np.array([[-2.0, -2.0], [2.0, -2.0], [-2.0, 2.0], [2.0, 2.0]])
    y = rng.integers(0, 4, n)
    x = centers[y] + rng.normal(0.0, 0.7, (n, 2))
    return x.astype(np.float32), y.astype(np.int64)


def test_mlp_trained_with_adam_reaches_95_percent():
    lucid.manual_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = _blobs(800, rng)
    x_test, y_test = _blobs(400, rng)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 4))
    opt = lucid.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(lucid.tensor(x_train), lucid.tensor(y_train)),
                        batch_size=64, shuffle=True)
    first_loss = None
    for _ in range(15):
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            first_loss = loss.item() if first_loss is None else first_loss
    model.eval()
    with lucid.no_grad():
        pred = model(lucid.tensor(x_test)).argmax(1).numpy()
    accuracy = float((pred == y_test).mean())
    assert accuracy > 0.95, accuracy
    assert loss.item() < first_loss / 4
