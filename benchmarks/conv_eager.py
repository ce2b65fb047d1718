"""Eager CNN step, lucid vs PyTorch: forward + backward of the seed's ConvNetwork.

    Conv 3->16 3x3 pad 1, ReLU, MaxPool 2, Conv 16->32 3x3 pad 1, ReLU, MaxPool 2, Linear 2048->10

built from lucid's functional ops (conv2d, relu, max_pool2d, matmul) and, side by side, from
torch.nn.functional, at batch 32, float32, with the same thread count for both libraries. The
loss is the sum of the logits (the step times the layers, not a loss function). Prints the
median and min time per step of each and the ratio lucid / torch (the target is <= 2);
``--breakdown`` also prints where lucid's time goes, per primitive.

    python benchmarks/conv_eager.py [--batch 32] [--repeats 100] [--threads 2] [--breakdown]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=100, help="timed steps per library")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--breakdown", action="store_true", help="time lucid per primitive")
    return ap.parse_args()


ARGS = _parse()
# Thread counts must be fixed before NumPy's OpenBLAS (and torch) load.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(ARGS.threads))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import lucid  # noqa: E402
from lucid.ops import conv as lconv  # noqa: E402
from lucid.ops import pool as lpool  # noqa: E402


def _params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def init(*shape: int, fan_in: int) -> np.ndarray:
        bound = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    return {
        "w1": init(16, 3, 3, 3, fan_in=27), "b1": init(16, fan_in=27),
        "w2": init(32, 16, 3, 3, fan_in=144), "b2": init(32, fan_in=144),
        "w3": init(10, 2048, fan_in=2048), "b3": init(10, fan_in=2048),
    }


def lucid_step(x: lucid.Tensor, p: dict[str, lucid.Tensor]) -> lucid.Tensor:
    h = lpool.max_pool2d(lucid.relu(lconv.conv2d(x, p["w1"], p["b1"], padding=1)), 2)
    h = lpool.max_pool2d(lucid.relu(lconv.conv2d(h, p["w2"], p["b2"], padding=1)), 2)
    logits = lucid.matmul(h.reshape(h.shape[0], -1), p["w3"].t()) + p["b3"]
    loss = logits.sum()
    loss.backward()
    return loss


def torch_step(x: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
    h = F.max_pool2d(F.relu(F.conv2d(x, p["w1"], p["b1"], padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p["w2"], p["b2"], padding=1)), 2)
    logits = F.linear(h.reshape(h.shape[0], -1), p["w3"], p["b3"])
    loss = logits.sum()
    loss.backward()
    return loss


def _timed(step: Callable[[], Any], reset: Callable[[], None]) -> float:
    reset()
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((ARGS.batch, 3, 32, 32)).astype(np.float32)
    init = _params(rng)
    lp = {k: lucid.tensor(v, requires_grad=True) for k, v in init.items()}
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
    lx, tx = lucid.tensor(xs), torch.tensor(xs)

    def reset_lucid() -> None:
        for t in lp.values():
            t.grad = None

    def reset_torch() -> None:
        for t in tp.values():
            t.grad = None

    # Correctness first (also compiles or loads lucid's kernels: not part of the timing).
    t0 = time.perf_counter()
    ll = lucid_step(lx, lp)
    first = time.perf_counter() - t0
    tl = torch_step(tx, tp)
    worst = max(
        float(np.max(np.abs(lp[k].grad.numpy() - tp[k].grad.numpy()))
              / (np.max(np.abs(tp[k].grad.numpy())) + 1e-12))
        for k in lp
    )
    print(f"first lucid step (kernel compile or cache load): {first * 1e3:.0f} ms")
    print(f"loss lucid {ll.item():.5f} torch {tl.item():.5f}; max relative grad error "
          f"{worst:.2e}")

    # Alternate blocks of steps, so both libraries see the same machine load (the machine is
    # shared and noisy). Not single steps: each library's idle worker threads keep spinning
    # for a while after its last call (OpenMP in torch, OpenBLAS in NumPy) and would slow the
    # other down; a pause and two untimed steps start each block.
    lt: list[float] = []
    tt: list[float] = []
    rounds = 5
    per_block = -(-ARGS.repeats // rounds)
    for _ in range(rounds):
        for times, step, reset in ((lt, lambda: lucid_step(lx, lp), reset_lucid),
                                   (tt, lambda: torch_step(tx, tp), reset_torch)):
            time.sleep(0.3)
            for _ in range(2):
                _timed(step, reset)
            times.extend(_timed(step, reset) for _ in range(per_block))
    lm, tm = np.median(lt) * 1e3, np.median(tt) * 1e3
    flops = 2 * ARGS.batch * (16 * 27 * 1024 + 32 * 144 * 256 + 10 * 2048) * 3
    print(f"batch {ARGS.batch}, float32, {ARGS.threads} threads, {len(lt)} steps each")
    print(f"{'impl':<14}{'median ms':>10}{'min ms':>10}{'GFLOP/s':>10}")
    for name, ts in (("lucid eager", lt), ("torch eager", tt)):
        med = np.median(ts)
        print(f"{name:<14}{med * 1e3:>10.2f}{min(ts) * 1e3:>10.2f}{flops / med / 1e9:>10.1f}")
    print(f"ratio lucid / torch (median): {lm / tm:.2f}   (min: {min(lt) / min(tt):.2f})")

    if ARGS.breakdown:
        _breakdown(lambda: lucid_step(lx, lp), reset_lucid)


def _breakdown(step: Callable[[], Any], reset: Callable[[], None]) -> None:
    """Median time per primitive per step, by wrapping every registered primitive's impl."""
    from lucid.ops.registry import PRIMITIVES

    samples: dict[str, list[float]] = defaultdict(list)
    current: dict[str, float] = defaultdict(float)
    originals = {}
    for name, prim in PRIMITIVES.items():
        originals[name] = prim.impl

        def timed(*a: Any, _f: Callable[..., Any] = prim.impl, _n: str = name, **k: Any) -> Any:
            t0 = time.perf_counter()
            r = _f(*a, **k)
            current[_n] += time.perf_counter() - t0
            return r

        prim.impl = timed
    totals = []
    try:
        for _ in range(ARGS.repeats):
            current.clear()
            totals.append(_timed(step, reset))
            for n in PRIMITIVES:
                if n in current:
                    samples[n].append(current[n])
    finally:
        for name, prim in PRIMITIVES.items():
            prim.impl = originals[name]
    total, best = np.median(totals) * 1e3, min(totals) * 1e3
    rows = sorted(((np.median(v) * 1e3, min(v) * 1e3, n) for n, v in samples.items()),
                  reverse=True)
    print(f"\nlucid per primitive, ms per step (step: median {total:.2f}, min {best:.2f}):")
    print(f"  {'primitive':<22}{'median':>8}{'min':>8}")
    for med, low, n in rows:
        print(f"  {n:<22}{med:>8.3f}{low:>8.3f}")
    print(f"  {'(outside impls)':<22}{total - sum(r[0] for r in rows):>8.3f}"
          f"{best - sum(r[1] for r in rows):>8.3f}")


if __name__ == "__main__":
    main()
