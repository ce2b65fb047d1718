"""A small end-to-end demo of lucid's core: tensors, eager autograd, a hand-written SGD loop.

Trains a two-layer MLP to separate two interleaved spirals (a classic problem no linear model
solves) and prints the loss as it goes and the final accuracy.

    python examples/demo.py
"""

from __future__ import annotations

import math
import time

import numpy as np

import lucid


def spirals(n_per_class: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Two spirals, one per class, as float32 points and int64 labels."""
    t = np.sqrt(rng.random(n_per_class)) * 3 * math.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * math.pi)
    x = np.concatenate([arm, -arm]) + noise * rng.standard_normal((2 * n_per_class, 2))
    y = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)])
    return x.astype(np.float32), y.astype(np.int64)


def init_linear(fan_in: int, fan_out: int) -> tuple[lucid.Tensor, lucid.Tensor]:
    """PyTorch's default Linear initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    w = (lucid.rand(fan_in, fan_out) * 2 - 1) * bound
    b = (lucid.rand(fan_out) * 2 - 1) * bound
    return w.requires_grad_(), b.requires_grad_()


def main() -> None:
    lucid.manual_seed(0)
    rng = np.random.default_rng(0)
    x_np, y_np = spirals(500, 0.02, rng)
    x, y = lucid.tensor(x_np), lucid.tensor(y_np, dtype=lucid.float32)

    w1, b1 = init_linear(2, 64)
    w2, b2 = init_linear(64, 64)
    w3, b3 = init_linear(64, 1)
    params = [w1, b1, w2, b2, w3, b3]

    def forward(inp: lucid.Tensor) -> lucid.Tensor:
        h = (inp @ w1 + b1).tanh()
        h = (h @ w2 + b2).tanh()
        return (h @ w3 + b3).reshape(-1)  # logits

    lr, steps = 0.5, 1500
    start = time.perf_counter()
    for step in range(steps + 1):
        logits = forward(x)
        # Binary cross-entropy with logits, written stably: softplus(z) - y * z.
        loss = (lucid.maximum(logits, 0) - logits * y + (-logits.abs()).exp().log1p()).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with lucid.no_grad():
            for p in params:
                p -= lr * p.grad
        if step % 300 == 0:
            acc = ((logits > 0).float() == y).float().mean()
            print(f"step {step:5d}  loss {loss.item():.4f}  accuracy {acc.item():.3f}")
    elapsed = time.perf_counter() - start

    with lucid.no_grad():
        acc = ((forward(x) > 0).float() == y).float().mean().item()
    print(f"trained {steps} steps in {elapsed:.1f} s ({1e3 * elapsed / steps:.2f} ms/step); "
          f"final accuracy {acc:.3f}")


if __name__ == "__main__":
    main()
