"""The workloads of BENCHMARKS.md: models, data, initial weights and FLOP counts.

Everything here is plain NumPy (no lucid, torch or JAX), so the parent process can read the
specs without loading any library, and every implementation starts from the same arrays:
weights and data are generated here with a fixed seed and copied into each library.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

# Implementation keys, in table order, with the labels the table prints.
IMPLS: dict[str, str] = {
    "lucid": "lucid eager",
    "lucid_jit": "lucid.jit",
    "torch": "torch eager",
    "torch_compile": "torch.compile",
    "jax": "jax.jit",
}
LUCID_IMPLS = ("lucid", "lucid_jit")
PEERS = ("torch", "torch_compile", "jax")
COMPILED_PEERS = ("torch_compile", "jax")
EAGER_PEERS = ("torch",)

LEARNING_RATE = 0.01
SEED = 0

# Layer widths of the two MLPs (784-256-256-10 and 10-20-30-5, ReLU between layers).
MLP_SIZES = (784, 256, 256, 10)
TINY_SIZES = (10, 20, 30, 5)
# The CNN: input 3x32x32, conv 3->16 and 16->32 (3x3, pad 1), each followed by ReLU and a
# 2x2 max-pool, then Linear 2048->10.
CNN_INPUT = (3, 32, 32)
CNN_CONVS = ((3, 16), (16, 32))
CNN_CLASSES = 10
# The GEMM reference: Linear 1024->1024 without bias at batch 1024, forward only, is one float32
# 1024x1024x1024 matrix product, the machine's GEMM rate as each library reaches it.
GEMM_SIZE = 1024


@dataclass(frozen=True)
class Workload:
    """One row group of the table.

    ``measure`` says what a sample is: ``"steps"`` times one call of a warm step;
    ``"first_call"`` times the first call in a fresh process (``cache`` says whether the
    kernel caches start empty or filled by an earlier process); ``"rebatch"`` times the first
    call after the batch size changes to ``batch2``; ``"peak_memory"`` is the growth of the
    process's peak resident memory during one warm step, in MiB.
    """

    name: str
    model: str  # "mlp" | "tiny" | "cnn" | "gemm"
    batch: int
    train: bool
    measure: str = "steps"
    impls: tuple[str, ...] = tuple(IMPLS)
    reference: tuple[str, ...] = PEERS  # the ratio column divides by the best of these
    target: str = ""
    target_impl: str = "lucid_jit"  # the implementation the target is about
    scale: int = 1  # samples = repeats * scale (the tiny workloads take microseconds)
    batch2: int = 0  # for "rebatch": the second batch size
    cache: str = ""  # for "first_call": "cold" or "warm"

    @property
    def unit(self) -> str:
        return "MiB" if self.measure == "peak_memory" else "ms"

    @property
    def flops(self) -> float | None:
        """FLOPs of one step (multiply-adds count 2; backward counts twice the forward)."""
        if self.measure != "steps":
            return None
        return model_flops(self.model, self.batch, self.train)

    @property
    def one_shot(self) -> bool:
        """Whether one process gives one sample (the first call of something)."""
        return self.measure in ("first_call", "rebatch")


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("mlp_b64_train", "mlp", 64, True, target="<= 1.0"),
        Workload("mlp_b1024_train", "mlp", 1024, True,
                 target="<= 1.0, >= 80% of float32 GEMM peak"),
        Workload("cnn_b32_train", "cnn", 32, True, target="<= 0.75 of torch eager"),
        Workload("tiny_b1_train", "tiny", 1, True, scale=10,
                 target="<= 1.0 of jax, <= 0.3 of torch eager"),
        Workload("tiny_b1_infer", "tiny", 1, False, scale=10),
        Workload("mlp_b1_infer", "mlp", 1, False, scale=10),
        Workload("compile_cold", "mlp", 64, True, measure="first_call", cache="cold",
                 reference=COMPILED_PEERS, target="<= 3 s"),
        Workload("compile_warm", "mlp", 64, True, measure="first_call", cache="warm",
                 reference=COMPILED_PEERS, target="<= 0.3 s"),
        Workload("rebatch", "mlp", 64, True, measure="rebatch", batch2=96,
                 reference=COMPILED_PEERS, target="<= 20 ms, no new compile"),
        Workload("eager_mlp_b64_train", "mlp", 64, True, impls=("lucid", "torch"),
                 reference=EAGER_PEERS, target="<= 1.5 of torch eager", target_impl="lucid"),
        Workload("mlp_b1024_train_peak_mem", "mlp", 1024, True, measure="peak_memory",
                 target="<= torch's"),
        Workload("gemm_1024", "gemm", GEMM_SIZE, False),
    )
}


def model_flops(model: str, batch: int, train: bool) -> float:
    """FLOPs of a forward pass (x3 with the backward), counting the matmuls and convolutions.

    Matches BENCHMARKS.md: mlp at batch 64 ~103 MFLOP per train step, cnn at 32 ~0.31 GFLOP.
    """
    if model == "cnn":
        h, w = CNN_INPUT[1:]
        forward = 0
        for cin, cout in CNN_CONVS:
            forward += 2 * cout * cin * 9 * h * w
            h, w = h // 2, w // 2
        forward += 2 * CNN_CLASSES * CNN_CONVS[-1][1] * h * w
    elif model == "gemm":
        forward = 2 * GEMM_SIZE * GEMM_SIZE
    else:
        sizes = MLP_SIZES if model == "mlp" else TINY_SIZES
        forward = sum(2 * a * b for a, b in pairwise(sizes))
    return float(forward * batch * (3 if train else 1))


def init_params(model: str) -> dict[str, np.ndarray]:
    """Initial weights, named as the ``nn.Sequential`` of the model names its parameters.

    PyTorch's default initialisation (uniform in +-1/sqrt(fan_in) for weights and biases),
    drawn with NumPy from a fixed seed, so every library starts from the same numbers.
    """
    rng = np.random.default_rng(SEED)

    def uniform(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        bound = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    params: dict[str, np.ndarray] = {}
    if model == "cnn":
        for index, (cin, cout) in zip((0, 3), CNN_CONVS, strict=True):
            params[f"{index}.weight"] = uniform((cout, cin, 3, 3), cin * 9)
            params[f"{index}.bias"] = uniform((cout,), cin * 9)
        features = CNN_CONVS[-1][1] * (CNN_INPUT[1] // 4) * (CNN_INPUT[2] // 4)
        params["7.weight"] = uniform((CNN_CLASSES, features), features)
        params["7.bias"] = uniform((CNN_CLASSES,), features)
        return params
    if model == "gemm":
        return {"0.weight": uniform((GEMM_SIZE, GEMM_SIZE), GEMM_SIZE)}
    sizes = MLP_SIZES if model == "mlp" else TINY_SIZES
    for i, (fan_in, fan_out) in enumerate(pairwise(sizes)):
        params[f"{2 * i}.weight"] = uniform((fan_out, fan_in), fan_in)
        params[f"{2 * i}.bias"] = uniform((fan_out,), fan_in)
    return params


def make_batch(model: str, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (float32) and class labels (int64) of one batch; the seed depends on the size."""
    rng = np.random.default_rng(SEED + 1 + batch)
    if model == "cnn":
        x = rng.standard_normal((batch, *CNN_INPUT))
        classes = CNN_CLASSES
    elif model == "gemm":
        x = rng.standard_normal((batch, GEMM_SIZE))
        classes = GEMM_SIZE
    else:
        sizes = MLP_SIZES if model == "mlp" else TINY_SIZES
        x = rng.standard_normal((batch, sizes[0]))
        classes = sizes[-1]
    return x.astype(np.float32), rng.integers(0, classes, batch).astype(np.int64)
