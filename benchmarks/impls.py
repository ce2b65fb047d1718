"""Each library's version of the workloads: lucid (eager and ``lucid.jit``), PyTorch (eager and
``torch.compile``) and JAX (``jax.jit``).

A :class:`Runner` holds one model with the shared initial weights and exposes one call (a
training step returning the loss, or a forward pass returning the logits) on library-native
arguments. Libraries are imported inside the builders, so this module loads none of them; a
builder raises :class:`UnavailableError` when its library (or ``lucid.jit.jit``) is missing.

The steps are the idiomatic ones: PyTorch-style ``zero_grad / forward / backward / step`` with
``nn.Sequential``, ``CrossEntropyLoss`` and ``optim.SGD`` for lucid and PyTorch (``lucid.jit``
and ``torch.compile`` wrap exactly that function), and a functional ``value_and_grad`` step
with the parameters donated for JAX.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np

from .workloads import CNN_CONVS, GEMM_SIZE, LEARNING_RATE, MLP_SIZES, TINY_SIZES, init_params


class UnavailableError(Exception):
    """The implementation cannot run here (library not installed, feature absent)."""


class Runner:
    """One implementation of one workload: ``call(*args)`` runs a step (or a forward pass).

    ``args(x, y)`` converts a NumPy batch once, outside the timing; ``sync(out)`` waits for an
    asynchronous result; ``value(out)`` gives the loss (train) or the sum of the logits
    (inference) as a float, to check that the implementations agree; ``compiles()`` is a
    running count of compilations where the library exposes one, else None.
    """

    def __init__(self, fn: Callable[..., Any], train: bool) -> None:
        self.fn = fn
        self.train = train

    def args(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
        raise NotImplementedError

    def call(self, *args: Any) -> Any:
        return self.fn(*args)

    def sync(self, out: Any) -> None:
        """Wait until ``out`` is computed (lucid and PyTorch on CPU are synchronous)."""

    def value(self, out: Any) -> float:
        return float(out.sum().item())

    def compiles(self) -> int | None:
        return None

    def stats(self) -> dict[str, int]:
        """Library counters worth reporting (``lucid.jit.stats()``: traces, compiles, ...)."""
        return {}


# --- lucid ---------------------------------------------------------------------------------------


class _NumbaCompileCounter:
    """Counts Numba compilations (not disk-cache loads) through Numba's event API."""

    def __init__(self) -> None:
        from numba.core import event

        counter = self

        class _Listener(event.Listener):
            def on_start(self, ev: Any) -> None:
                counter.count += 1

            def on_end(self, ev: Any) -> None:
                pass

        self.count = 0
        event.register("numba:compile", _Listener())


def lucid_jit_available() -> tuple[bool, str]:
    """Whether ``lucid.jit.jit`` exists (``lucid.jit`` started as a package without it)."""
    import lucid

    if hasattr(lucid, "jit") and callable(getattr(lucid.jit, "jit", None)):
        return True, ""
    return False, "lucid.jit.jit is absent (lucid.jit has no jit() function yet)"


def _torch_style(lib: Any, nn: Any, net: Any, train: bool) -> Callable[..., Any]:
    """The workload's step, written once for every PyTorch-shaped library (lucid, torch): an
    SGD training step (zero_grad, forward, cross-entropy, backward, step), or inference under
    ``no_grad``."""
    if not train:
        def infer(x: Any) -> Any:
            with lib.no_grad():
                return net(x)

        return infer
    opt = lib.optim.SGD(net.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()

    def step(x: Any, y: Any) -> Any:
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


class LucidRunner(Runner):
    def __init__(self, model: str, train: bool, jit: bool) -> None:
        import lucid
        import lucid.nn as nn

        if jit:
            ok, reason = lucid_jit_available()
            if not ok:
                raise UnavailableError(reason)
        self._counter = _NumbaCompileCounter()
        self._lucid = lucid
        self._jit = jit
        net = _sequential(nn, model)
        _load(net, init_params(model), lambda a: lucid.tensor(a), lucid.no_grad)
        fn = _torch_style(lucid, nn, net, train)
        super().__init__(lucid.jit.jit(fn) if jit else fn, train)

    def args(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
        tx = self._lucid.tensor(x)
        return (tx, self._lucid.tensor(y)) if self.train else (tx,)

    def compiles(self) -> int | None:
        return self._counter.count

    def stats(self) -> dict[str, int]:
        stats = getattr(self._lucid.jit, "stats", None) if self._jit else None
        return {f"jit_{k}": int(v) for k, v in stats().items()} if callable(stats) else {}


# --- PyTorch -------------------------------------------------------------------------------------


class TorchRunner(Runner):
    def __init__(self, model: str, train: bool, compile: bool, threads: int) -> None:
        try:
            import torch
        except ImportError as e:
            raise UnavailableError(f"PyTorch is not installed ({e})") from e
        import torch.nn as nn

        torch.set_num_threads(threads)
        self._torch = torch
        net = _sequential(nn, model)
        _load(net, init_params(model), torch.from_numpy, torch.no_grad)
        fn = _torch_style(torch, nn, net, train)
        if compile:
            # Compiling happens at the first call; a failure there (no C compiler, ...) is
            # reported by the worker as this implementation being skipped, with the reason.
            fn = torch.compile(fn)
        self._compiled = compile
        super().__init__(fn, train)

    def args(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
        tx = self._torch.from_numpy(x.copy())
        return (tx, self._torch.from_numpy(y.copy())) if self.train else (tx,)

    def compiles(self) -> int | None:
        if not self._compiled:
            return None
        from torch._dynamo.utils import counters

        return int(counters["stats"]["unique_graphs"])


# --- JAX -----------------------------------------------------------------------------------------


class JaxRunner(Runner):
    def __init__(self, model: str, train: bool) -> None:
        try:
            import jax
            import jax.numpy as jnp
        except ImportError as e:
            raise UnavailableError(f"JAX is not installed ({e}); pip install jax jaxlib") from e
        import warnings

        # Donation is a hint: where a backend cannot reuse a buffer, JAX warns and copies.
        warnings.filterwarnings("ignore", message=".*donated buffers.*")
        self._jax, self._jnp = jax, jnp
        _configure_jax_cache(jax)
        self.params = {k: jnp.asarray(v) for k, v in init_params(model).items()}
        forward = _jax_forward(jax, jnp, model)
        if train:

            def loss_fn(params: dict[str, Any], x: Any, y: Any) -> Any:
                logp = jax.nn.log_softmax(forward(params, x))
                return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

            def step(params: dict[str, Any], x: Any, y: Any) -> tuple[Any, Any]:
                loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
                new = jax.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads)
                return new, loss

            self._jitted = jax.jit(step, donate_argnums=0)

            def call(x: Any, y: Any) -> Any:
                self.params, loss = self._jitted(self.params, x, y)
                return loss

        else:
            self._jitted = jax.jit(forward)

            def call(x: Any) -> Any:
                return self._jitted(self.params, x)

        super().__init__(call, train)

    def args(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
        tx = self._jax.device_put(x)
        # JAX's default integer is int32 (x64 disabled); the labels fit.
        return (tx, self._jax.device_put(y.astype(np.int32))) if self.train else (tx,)

    def sync(self, out: Any) -> None:
        self._jax.block_until_ready((out, self.params))

    def value(self, out: Any) -> float:
        return float(np.asarray(out, dtype=np.float64).sum())

    def compiles(self) -> int | None:
        size = getattr(self._jitted, "_cache_size", None)
        return int(size()) if callable(size) else None


def _configure_jax_cache(jax: Any) -> None:
    """Turn JAX's persistent compilation cache on when the harness gave it a folder."""
    folder = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if folder:
        jax.config.update("jax_compilation_cache_dir", folder)
        # Cache every executable, however small or quick to compile (the defaults skip those).
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _jax_forward(jax: Any, jnp: Any, model: str) -> Callable[..., Any]:
    if model == "cnn":

        def forward(p: dict[str, Any], x: Any) -> Any:
            h = x
            for index in (0, 3):
                h = jax.lax.conv_general_dilated(
                    h, p[f"{index}.weight"], (1, 1), ((1, 1), (1, 1)),
                    dimension_numbers=("NCHW", "OIHW", "NCHW"),
                ) + p[f"{index}.bias"][None, :, None, None]
                h = jnp.maximum(h, 0.0)
                h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2),
                                          "VALID")
            h = h.reshape(h.shape[0], -1)
            return h @ p["7.weight"].T + p["7.bias"]

        return forward
    if model == "gemm":
        return lambda p, x: x @ p["0.weight"].T
    layers = len(MLP_SIZES if model == "mlp" else TINY_SIZES) - 1

    def mlp(p: dict[str, Any], x: Any) -> Any:
        h = x
        for i in range(layers):
            h = h @ p[f"{2 * i}.weight"].T + p[f"{2 * i}.bias"]
            if i < layers - 1:
                h = jnp.maximum(h, 0.0)
        return h

    return mlp


# --- shared --------------------------------------------------------------------------------------


def _sequential(nn: Any, model: str) -> Any:
    """The model as an ``nn.Sequential`` of ``nn`` (lucid.nn and torch.nn spell it alike)."""
    if model == "cnn":
        (c0, c1), (_, c2) = CNN_CONVS
        return nn.Sequential(
            nn.Conv2d(c0, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * 8 * 8, 10),
        )
    if model == "gemm":
        return nn.Sequential(nn.Linear(GEMM_SIZE, GEMM_SIZE, bias=False))
    sizes = MLP_SIZES if model == "mlp" else TINY_SIZES
    layers: list[Any] = []
    for fan_in, fan_out in pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def _load(net: Any, params: dict[str, np.ndarray], convert: Callable[[np.ndarray], Any],
          no_grad: Callable[[], Any]) -> None:
    """Copy the shared initial weights into ``net``, checking that the names match."""
    named = dict(net.named_parameters())
    if set(named) != set(params):
        raise RuntimeError(f"parameter names differ: {sorted(named)} vs {sorted(params)}")
    with no_grad():
        for name, p in named.items():
            p.copy_(convert(params[name].copy()))


def make_runner(impl: str, model: str, train: bool, threads: int) -> Runner:
    """Build ``impl``'s runner for ``model`` (raises :class:`UnavailableError` if it cannot run).

    ``threads`` is applied where a library takes it at run time (PyTorch); the others read
    it from the environment the harness set before the process started.
    """
    if impl in ("lucid", "lucid_jit"):
        return LucidRunner(model, train, jit=impl == "lucid_jit")
    if impl in ("torch", "torch_compile"):
        return TorchRunner(model, train, compile=impl == "torch_compile", threads=threads)
    if impl == "jax":
        return JaxRunner(model, train)
    raise ValueError(f"unknown implementation {impl!r}")


def library_versions() -> dict[str, str]:
    """Versions of the libraries loaded in this process."""
    out = {"python": sys.version.split()[0]}
    for name in ("numpy", "scipy", "numba", "lucid", "torch", "jax", "jaxlib"):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = str(getattr(module, "__version__", "?"))
    return out
