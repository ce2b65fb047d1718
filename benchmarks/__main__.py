"""``python -m benchmarks``: run the workloads of BENCHMARKS.md and print one table.

    python -m benchmarks                                   # everything, 2 threads
    python -m benchmarks --workloads mlp_b64_train,rebatch --impl lucid,torch,jax
    python -m benchmarks --threads 1 --repeats 100 --json run.json

Every (workload, implementation) pair runs in its own subprocesses (``benchmarks.worker``),
never two at once: a library's idle BLAS / OpenMP threads keep spinning for a while after its
last call and would slow the next library down if both lived in one process. Each process
converts the data once, makes the first calls (compilation, and the loss check), warms up,
then times its share of ``--repeats`` calls (ten times as many for the microsecond workloads).
The machine is shared and its load changes, so the implementations take turns: ``--rounds``
rounds (default 3), one process per implementation each, samples pooled. The one-shot
measurements (``compile_cold``, ``compile_warm``, ``rebatch``) take one sample per process,
``--oneshot-repeats`` rounds.

Threads: ``--threads N`` (default 2) gives every library the same count. Before each worker
starts, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, VECLIB_MAXIMUM_THREADS and
NUMBA_NUM_THREADS are set to N in its environment (so NumPy's and SciPy's OpenBLAS, PyTorch's
OpenMP pool and Numba read them at import), the worker calls ``torch.set_num_threads(N)``, and,
when N is less than the CPUs available, the worker is pinned to N CPUs (XLA sizes its thread
pool from the CPUs it may use; with N = 1, XLA_FLAGS also turns Eigen's multi-threading off).
Other environment variables (OPENBLAS_CORETYPE, ...) pass through unchanged.

Caches: every worker gets empty, private cache folders (LUCID_CACHE_DIR, NUMBA_CACHE_DIR,
TORCHINDUCTOR_CACHE_DIR, TRITON_CACHE_DIR, JAX_COMPILATION_CACHE_DIR), removed afterwards,
except ``compile_warm``'s, which reuses the folders a previous (cold) process filled.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from typing import Any

from .report import add_ratios, check_agreement, format_table, summarize, write_json
from .workloads import IMPLS, WORKLOADS, Workload

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_JSON = os.path.join(ROOT, "benchmarks", "results.json")
_ALIASES = {label: key for key, label in IMPLS.items()} | {
    "lucid_eager": "lucid", "eager": "lucid", "jit": "lucid_jit", "lucid.jit": "lucid_jit",
    "torch_eager": "torch", "torch.compile": "torch_compile", "compile": "torch_compile",
    "jax.jit": "jax", "jax_jit": "jax",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"workloads: {', '.join(WORKLOADS)}; implementations: {', '.join(IMPLS)}",
    )
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated workload names (default: all)")
    ap.add_argument("--impl", default=",".join(IMPLS),
                    help="comma-separated implementations (default: all)")
    ap.add_argument("--repeats", type=int, default=50,
                    help="timed calls per implementation (x10 for the tiny workloads)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="processes per implementation for the timed workloads, interleaved "
                         "with the other implementations' (default 3)")
    ap.add_argument("--oneshot-repeats", type=int, default=3,
                    help="processes for compile_cold / compile_warm / rebatch (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="threads for every library")
    ap.add_argument("--max-seconds", type=float, default=20.0,
                    help="stop timing an implementation after this long (>= 5 samples)")
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="seconds before a worker process is killed")
    ap.add_argument("--json", default=DEFAULT_JSON, help=f"output file ({DEFAULT_JSON})")
    ap.add_argument("--profile", metavar="DIR", default=None,
                    help="also run each timed workload under cProfile (after the timing) and "
                         "save DIR/<workload>-<impl>.prof; prints the top functions")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    args.workloads = _pick(args.workloads, WORKLOADS, {}, "workload")
    args.impl = _pick(args.impl, IMPLS, _ALIASES, "implementation")
    if min(args.repeats, args.rounds, args.oneshot_repeats, args.threads) < 1:
        ap.error("--repeats, --rounds, --oneshot-repeats and --threads must be >= 1")
    return args


def _pick(text: str, known: dict[str, Any], aliases: dict[str, str], what: str) -> list[str]:
    names = [aliases.get(n.strip(), n.strip()) for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in known]
    if bad:
        raise SystemExit(f"unknown {what}(s) {bad}; choose from {', '.join(known)}")
    return [n for n in known if n in names]  # table order, no duplicates


class Harness:
    """Runs the workers and remembers which implementations cannot run here."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.unavailable: dict[str, str] = {}
        self.versions: dict[str, str] = {}
        self.env = thread_env(args.threads)
        cpus = sorted(os.sched_getaffinity(0))
        self.cpus = cpus[: args.threads] if args.threads < len(cpus) else cpus

    def log(self, text: str) -> None:
        if not self.args.quiet:
            print(text, file=sys.stderr, flush=True)

    def worker(self, w: Workload, impl: str, samples: int, cache: str | None = None,
               ) -> dict[str, Any]:
        """Run one worker process; ``cache`` is a cache folder to use (and keep), or None for
        a private one removed afterwards."""
        private = cache is None
        folder = tempfile.mkdtemp(prefix="lucid-bench-") if private else cache
        try:
            env = dict(self.env, **cache_env(folder))
            out = os.path.join(folder, "result.json")
            spec = {"workload": w.name, "impl": impl, "samples": samples,
                    "threads": self.args.threads, "max_seconds": self.args.max_seconds}
            if self.args.profile and w.measure == "steps":
                os.makedirs(self.args.profile, exist_ok=True)
                spec["profile"] = os.path.abspath(
                    os.path.join(self.args.profile, f"{w.name}-{impl}.prof"))
            cpus = self.cpus
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "benchmarks.worker", json.dumps(spec), out],
                    cwd=ROOT, env=env, capture_output=True, text=True,
                    timeout=self.args.timeout,
                    preexec_fn=lambda: os.sched_setaffinity(0, cpus),
                )
            except subprocess.TimeoutExpired:
                return {"status": "error", "reason": f"timed out after {self.args.timeout} s"}
            if not os.path.exists(out):
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
                return {"status": "error",
                        "reason": f"worker exited with {proc.returncode}: " + " | ".join(tail)}
            with open(out) as f:
                result = json.load(f)
            os.remove(out)
            self.versions.update(result.pop("versions", {}))
            return result
        finally:
            if private:
                shutil.rmtree(folder, ignore_errors=True)

    def measure(self, w: Workload, impls: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The worker results of each implementation for one workload.

        Interleaved: round after round, each implementation runs one process in turn, so a
        change in the machine's load (it is shared) hits every implementation alike. Steps
        and memory take ``--rounds`` processes sharing the samples; the one-shot measurements
        one sample per process, ``--oneshot-repeats`` processes. An implementation stops at its
        first failure.
        """
        runs: dict[str, list[dict[str, Any]]] = {impl: [] for impl in impls}
        rounds = self.args.oneshot_repeats if w.one_shot else self.args.rounds
        total = {"steps": self.args.repeats * w.scale, "peak_memory": min(self.args.repeats, 6)}
        samples = -(-total.get(w.measure, rounds) // rounds)
        for _ in range(rounds):
            for impl in impls:
                if impl in self.unavailable:
                    runs[impl] = [{"status": "skipped", "reason": self.unavailable[impl]}]
                    continue
                if any(r.get("status") != "ok" for r in runs[impl]):
                    continue
                result = self._one(w, impl, samples)
                runs[impl].append(result)
                if result.get("unavailable"):
                    # A missing library or feature: do not start it again for other workloads.
                    self.unavailable[impl] = result["reason"]
                elif result.get("status") == "ok":
                    self.log(f"{w.name:<26}{IMPLS[impl]:<15}"
                             f"{statistics.median(result['samples']):>10.3f} {w.unit}")
                else:
                    self.log(f"{w.name:<26}{IMPLS[impl]:<15}{result['status']}: "
                             f"{result['reason']}")
        return runs

    def _one(self, w: Workload, impl: str, samples: int) -> dict[str, Any]:
        if w.measure != "first_call" or w.cache != "warm":
            return self.worker(w, impl, samples)
        folder = tempfile.mkdtemp(prefix="lucid-bench-warm-")
        try:
            # A cold process fills the caches; the measured one starts with them.
            fill = self.worker(WORKLOADS["compile_cold"], impl, 1, cache=folder)
            return self.worker(w, impl, 1, cache=folder) if fill.get("status") == "ok" else fill
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def thread_env(threads: int) -> dict[str, str]:
    """The environment of every worker: this one, with the thread counts set to ``threads``."""
    env = dict(os.environ)
    n = str(threads)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS"):
        env[var] = n
    # Numba refuses more threads than CPUs.
    env["NUMBA_NUM_THREADS"] = str(min(threads, os.cpu_count() or threads))
    if threads == 1:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + flags).strip()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH", "")) if p)
    return env


def cache_env(folder: str) -> dict[str, str]:
    """Kernel-cache folders of every library under ``folder`` (compile_cold starts empty)."""
    return {
        "LUCID_CACHE_DIR": os.path.join(folder, "lucid"),
        "NUMBA_CACHE_DIR": os.path.join(folder, "numba"),
        "TORCHINDUCTOR_CACHE_DIR": os.path.join(folder, "inductor"),
        "TRITON_CACHE_DIR": os.path.join(folder, "triton"),
        "TORCHINDUCTOR_FX_GRAPH_CACHE": "1",
        "TORCHINDUCTOR_AUTOGRAD_CACHE": "1",
        "JAX_COMPILATION_CACHE_DIR": os.path.join(folder, "jax"),
    }


def print_profiles(folder: str, rows: list[dict[str, Any]], top: int = 20) -> None:
    """The functions with the most own time, per profiled (workload, implementation)."""
    import pstats

    for r in rows:
        path = os.path.join(folder, f"{r['workload']}-{r['impl']}.prof")
        if r["status"] != "ok" or not os.path.exists(path):
            continue
        print(f"\nprofile of {r['workload']} / {r['label']} (last round), top {top} by own time:")
        pstats.Stats(path, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness = Harness(args)
    rows: list[dict[str, Any]] = []
    for name in args.workloads:
        w = WORKLOADS[name]
        impls = [impl for impl in args.impl if impl in w.impls]
        for impl, runs in harness.measure(w, impls).items():
            rows.append(summarize(w, impl, runs))
    add_ratios(rows)
    notes: list[str] = []
    for impl, reason in harness.unavailable.items():
        notes.append(f"skipped {IMPLS[impl]}: {reason}")
    for r in rows:
        if r["status"] == "error":
            notes.append(f"error: {r['workload']} / {r['label']}: {r['reason']}")
        elif r["status"] == "skipped" and r["impl"] not in harness.unavailable:
            notes.append(f"skipped {r['workload']} / {r['label']}: {r['reason']}")
    notes.extend(check_agreement(rows))
    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "threads": args.threads, "repeats": args.repeats, "rounds": args.rounds,
        "oneshot_repeats": args.oneshot_repeats, "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(), "cpus_used": harness.cpus,
        "versions": dict(sorted(harness.versions.items())),
        # What the workers ran with: thread counts, and BLAS / compiler settings passed through.
        "env": {k: v for k, v in sorted(harness.env.items())
                if k.startswith(("OPENBLAS_", "MKL_", "OMP_", "VECLIB_", "XLA_", "NUMBA_",
                                 "LUCID_", "TORCHINDUCTOR_", "JAX_"))},
        "argv": sys.argv[1:] if argv is None else argv,
    }
    print(format_table(rows, meta, notes))
    if args.profile:
        print_profiles(args.profile, rows)
    if args.json:
        write_json(args.json, rows, meta, notes)
        print(f"(written to {args.json})")
    return 1 if any(r["status"] == "error" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
