"""One measurement in its own process: ``python -m benchmarks.worker SPEC_JSON OUT_PATH``.

SPEC_JSON holds ``workload``, ``impl``, ``samples``, ``threads`` and ``max_seconds``; the
result is written as JSON to OUT_PATH (not stdout, which libraries print to):
``{"status": "ok", "samples": [...], "check": [...], ...}``, or ``status`` ``"skipped"`` /
``"error"`` with a ``reason``. The parent (:mod:`benchmarks.__main__`) has already set the
thread-count environment variables, the CPU affinity and the cache folders of this process.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from .impls import Runner, UnavailableError, library_versions, make_runner
from .workloads import WORKLOADS, Workload, make_batch

WARMUP_MIN = 3  # untimed calls after the first two (which compile and check)


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    out_path = argv[1]
    try:
        result = run(spec)
    except UnavailableError as e:
        result = {"status": "skipped", "reason": str(e), "unavailable": True}
    except Exception as e:  # report, never crash the parent's table
        reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        if spec["impl"] == "torch_compile":
            # torch.compile is a peer "where it works": a failure skips it, with the reason.
            result = {"status": "skipped", "reason": f"torch.compile failed: {reason}"}
        else:
            result = {"status": "error", "reason": reason, "traceback": traceback.format_exc()}
    result["versions"] = library_versions()
    with open(out_path, "w") as f:
        json.dump(result, f)
    return 0


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Build the runner and take the samples the workload's ``measure`` asks for."""
    workload = WORKLOADS[spec["workload"]]
    runner = make_runner(spec["impl"], workload.model, workload.train, spec["threads"])
    measure: Callable[..., dict[str, Any]] = {
        "steps": _steps,
        "first_call": _first_call,
        "rebatch": _rebatch,
        "peak_memory": _peak_memory,
    }[workload.measure]
    return {"status": "ok", **measure(runner, workload, spec)}


def _timed_call(runner: Runner, args: tuple[Any, ...]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = runner.call(*args)
    runner.sync(out)
    return time.perf_counter() - t0, out


def _check(runner: Runner, args: tuple[Any, ...]) -> tuple[float, list[float]]:
    """First call (timed: it includes any compilation) and the values to compare.

    Train: the loss before and after one SGD step (forward, then backward + update agree);
    inference: the sum of the logits.
    """
    first, out = _timed_call(runner, args)
    values = [runner.value(out)]
    if runner.train:
        _, out = _timed_call(runner, args)
        values.append(runner.value(out))
    return first, values


def _steps(runner: Runner, w: Workload, spec: dict[str, Any]) -> dict[str, Any]:
    args = runner.args(*make_batch(w.model, w.batch))
    first, check = _check(runner, args)
    # Warm up: at least WARMUP_MIN calls and a tenth of the samples (caches, BLAS threads).
    for _ in range(max(WARMUP_MIN, spec["samples"] // 10)):
        _timed_call(runner, args)
    times: list[float] = []
    budget = spec["max_seconds"]
    load = _OtherLoad()
    start = time.perf_counter()
    for _ in range(spec["samples"]):
        times.append(_timed_call(runner, args)[0] * 1e3)
        # A slow implementation stops early (with at least 5 samples) to bound the run.
        if len(times) >= 5 and time.perf_counter() - start > budget:
            break
    others = load.cpus()
    if spec.get("profile"):
        _profile(runner, args, len(times), spec["profile"])
    return {"samples": times, "first_ms": first * 1e3, "check": check,
            "extra": {} if others is None else {"other_cpus": others}}


class _OtherLoad:
    """How many CPUs other processes kept busy meanwhile: the machine is shared, and a busy
    neighbour slows multi-threaded BLAS calls by large factors (threads wait for each other).

    System-wide busy time from /proc/stat (including time stolen by the hypervisor) minus this
    process's own CPU time, over the wall time; None where /proc/stat is unreadable.
    """

    def __init__(self) -> None:
        self.busy, self.own, self.wall = _system_busy(), _own_cpu(), time.perf_counter()

    def cpus(self) -> float | None:
        busy = _system_busy()
        if busy is None or self.busy is None:
            return None
        wall = time.perf_counter() - self.wall
        if wall < 0.05:  # below a few clock ticks the estimate is noise
            return None
        return max(0.0, ((busy - self.busy) - (_own_cpu() - self.own)) / wall)


def _system_busy() -> float | None:
    """Seconds all CPUs together spent busy since boot (user, nice, system, irq, steal)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    guest = sum(fields[8:10])  # guest time is already counted in user time
    return (sum(fields) - idle - guest) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _profile(runner: Runner, args: tuple[Any, ...], calls: int, path: str) -> None:
    """Run ``calls`` more steps under cProfile (after the timing, which it would distort)."""
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        _timed_call(runner, args)
    profiler.disable()
    profiler.dump_stats(path)


def _first_call(runner: Runner, w: Workload, spec: dict[str, Any]) -> dict[str, Any]:
    args = runner.args(*make_batch(w.model, w.batch))
    before, stats = runner.compiles(), runner.stats()
    first, out = _timed_call(runner, args)
    after = runner.compiles()
    return {"samples": [first * 1e3], "check": [runner.value(out)],
            "compiles": _diff(before, after), "extra": _stats_diff(stats, runner.stats())}


def _rebatch(runner: Runner, w: Workload, spec: dict[str, Any]) -> dict[str, Any]:
    args = runner.args(*make_batch(w.model, w.batch))
    _, check = _check(runner, args)
    for _ in range(WARMUP_MIN):
        _timed_call(runner, args)
    args2 = runner.args(*make_batch(w.model, w.batch2))
    before, stats = runner.compiles(), runner.stats()
    first, _ = _timed_call(runner, args2)
    after = runner.compiles()
    extra = _stats_diff(stats, runner.stats())
    second, _ = _timed_call(runner, args2)
    return {"samples": [first * 1e3], "check": check, "compiles": _diff(before, after),
            "extra": {"second_call_ms": second * 1e3, **extra}}


def _peak_memory(runner: Runner, w: Workload, spec: dict[str, Any]) -> dict[str, Any]:
    """Growth of the peak resident set during one warm step, over the RSS just before it.

    Library-neutral (counts NumPy, PyTorch and XLA allocations alike): the kernel's peak-RSS
    mark is reset through /proc/self/clear_refs before each step; freed heap memory is first
    handed back to the OS (malloc_trim), so memory cached by malloc from the previous step
    does not hide the step's own needs.
    """
    args = runner.args(*make_batch(w.model, w.batch))
    _, check = _check(runner, args)
    for _ in range(WARMUP_MIN):
        _timed_call(runner, args)
    libc = ctypes.CDLL(None)
    peaks: list[float] = []
    base = 0
    for _ in range(max(1, spec["samples"])):
        gc.collect()
        libc.malloc_trim(0)
        base = _status_kib("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError as e:
            raise UnavailableError(f"cannot reset the peak-RSS mark ({e})") from e
        _timed_call(runner, args)
        peaks.append((_status_kib("VmHWM") - base) / 1024)
    return {"samples": peaks, "check": check, "extra": {"rss_before_step_mib": base / 1024}}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise UnavailableError(f"/proc/self/status has no {field}")


def _stats_diff(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """What the library's counters moved by during the measured call."""
    return {k: after[k] - before.get(k, 0) for k in after}


def _diff(before: int | None, after: int | None) -> int | None:
    return None if before is None or after is None else after - before


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
