"""Train a small CNN on scikit-learn's bundled 8x8 handwritten digits, the PyTorch way.

Shows the whole training stack: a ``Dataset`` and ``DataLoader``, an ``nn.Module`` built from
``Conv2d`` / ``MaxPool2d`` / ``Linear`` layers, ``CrossEntropyLoss``, the ``Adam`` optimizer with
a learning-rate schedule, a tqdm progress bar, and a checkpoint that is saved, reloaded into a
fresh model and checked. No download: the digits ship with scikit-learn.

    python examples/train_digits.py [--epochs N] [--batch-size B] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from tqdm import tqdm

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
from lucid.data import DataLoader, TensorDataset


class DigitsCNN(nn.Module):
    """Two 3x3 convolutions with batch norm, one max-pool, two linear layers (~43k parameters)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.Conv2d(32, 32, kernel_size=3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2),  # 8x8 -> 4x4
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.25),
            nn.Linear(32 * 4 * 4, 64),
            nn.ReLU(),
            nn.Dropout(0.25),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        x = self.features(x)
        x = x.view(x.size(0), -1)
        return self.classifier(x)


def load_data(seed: int) -> tuple[TensorDataset, TensorDataset]:
    """The digits as (N, 1, 8, 8) float32 images in [0, 1], split 80/20 with stratification."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    labels = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in range(10):  # stratified split: 20 % of each class goes to the test set
        idx = rng.permutation(np.flatnonzero(labels == c))
        cut = len(idx) // 5
        test_idx += idx[:cut].tolist()
        train_idx += idx[cut:].tolist()

    def subset(ix: list[int]) -> TensorDataset:
        return TensorDataset(lucid.tensor(images[ix]), lucid.tensor(labels[ix]))

    return subset(train_idx), subset(test_idx)


def random_shift(x: lucid.Tensor, max_shift: int = 1) -> lucid.Tensor:
    """Augmentation: move the whole batch by up to ``max_shift`` pixels in each direction."""
    dy, dx = (int(v) for v in lucid.randint(-max_shift, max_shift + 1, (2,)))
    padded = F.pad(x, (max_shift,) * 4)
    h, w = x.shape[-2:]
    return padded[..., max_shift + dy: max_shift + dy + h, max_shift + dx: max_shift + dx + w]


@lucid.no_grad()
def evaluate(model: Any, loader: DataLoader) -> float:
    """Accuracy of ``model`` (a module, or a ``lucid.jit``-compiled one) over ``loader``."""
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += int((model(x).argmax(1) == y).sum().item())
        total += y.shape[0]
    return correct / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eager", action="store_true", help="run without lucid.jit")
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "digits_cnn.lucid"),
                        help="where to write the checkpoint")
    args = parser.parse_args()

    lucid.manual_seed(args.seed)
    train_set, test_set = load_data(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)
    print(f"digits: {len(train_set)} training and {len(test_set)} test images of 8x8 pixels")

    model = DigitsCNN()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {type(model).__name__} with {n_params:,} parameters")
    loss_fn = nn.CrossEntropyLoss()
    optimizer = lucid.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = lucid.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    def train_step(x: lucid.Tensor, y: lucid.Tensor) -> tuple[lucid.Tensor, lucid.Tensor]:
        """One PyTorch-style step; returns the loss and the number of correct predictions."""
        optimizer.zero_grad()
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        optimizer.step()
        return loss, (logits.argmax(1) == y).sum()

    # lucid.jit traces the whole step (forward, backward, Adam update, BatchNorm statistics)
    # into one graph and runs it as fused Numba kernels; --eager runs it op by op instead.
    step = train_step if args.eager else lucid.jit(train_step)
    eval_model = model if args.eager else lucid.jit(model)

    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.perf_counter()
        seen = correct = 0
        running = 0.0
        bar = tqdm(train_loader, desc=f"epoch {epoch:2d}/{args.epochs}", leave=False)
        for x, y in bar:
            loss, hits = step(random_shift(x), y)
            n = y.shape[0]
            seen += n
            running += loss.item() * n
            correct += int(hits.item())
            bar.set_postfix(loss=f"{running / seen:.3f}", acc=f"{correct / seen:.3f}")
        scheduler.step()
        elapsed = time.perf_counter() - start
        test_acc = evaluate(eval_model, test_loader)
        print(f"epoch {epoch:2d}  loss {running / seen:.4f}  train acc {correct / seen:.3f}  "
              f"test acc {test_acc:.3f}  {elapsed:.2f} s/epoch")

    final_acc = evaluate(eval_model, test_loader)
    lucid.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": args.epochs}, args.out)
    print(f"saved checkpoint to {args.out}")

    restored = DigitsCNN()
    checkpoint = lucid.load(args.out)
    restored.load_state_dict(checkpoint["model"])
    restored_acc = evaluate(restored, test_loader)
    print(f"test accuracy {final_acc:.4f}; after reloading the checkpoint {restored_acc:.4f}")
    if restored_acc != final_acc:
        raise SystemExit("the reloaded model does not reproduce the trained model's accuracy")
    if final_acc < 0.97:
        raise SystemExit(f"test accuracy {final_acc:.4f} is below the 97 % target")


if __name__ == "__main__":
    main()
