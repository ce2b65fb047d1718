"""Tests of the kernel cache (``lucid.jit.cache``): a fresh process loads kernels from disk
without compiling, a corrupt cache entry is rebuilt with a warning, two processes compiling the
same kernels at once both succeed, ``LUCID_LOG_COMPILES`` and ``LUCID_DISABLE_JIT`` work from the
environment, and the cache folder follows ``LUCID_CACHE_DIR``.

Processes are started with ``LUCID_CACHE_DIR`` pointing into a temporary folder; each prints
its result and ``lucid.jit.stats()`` as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import lucid
import lucid.jit.cache as jit_cache

REPO = Path(__file__).resolve().parent.parent

# The child process: a jitted function with two kernels (exp, a NumPy call, splits them).
# Arguments: [--rebatch] [READY GO]; with READY/GO it signals that it has imported lucid, then
# waits for GO to exist, so two children compile at the same moment.
CHILD = textwrap.dedent("""
    import json, os, sys, time, warnings
    import numpy as np
    import lucid

    args = sys.argv[1:]
    rebatch = "--rebatch" in args
    args = [a for a in args if a != "--rebatch"]

    @lucid.jit
    def f(x, b):
        return ((x * 2.0 + b).relu().neg().exp() - x.abs() / 3.0).sum(1)

    x = lucid.tensor(np.arange(12, dtype=np.float32).reshape(3, 4) - 5.0)
    b = lucid.tensor(np.array([1.0, -2.0, 3.0, -4.0], dtype=np.float32))
    if args:
        ready, go = args
        open(ready, "w").close()
        deadline = time.time() + 60
        while not os.path.exists(go) and time.time() < deadline:
            time.sleep(0.005)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = f(x, b)
        if rebatch:
            f(lucid.ones(5, 4), b)
    print(json.dumps({
        "out": out.numpy().tolist(),
        "stats": lucid.jit.stats(),
        "disable_jit": lucid.config.disable_jit,
        "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
    }))
""")


def _expected() -> np.ndarray:
    x = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.0
    b = np.array([1.0, -2.0, 3.0, -4.0], dtype=np.float32)
    return (np.exp(-np.maximum(x * 2.0 + b, 0)) - np.abs(x) / 3.0).sum(1)


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LUCID_LOG_COMPILES", "LUCID_DISABLE_JIT", "NUMBA_CACHE_DIR")}
    env["LUCID_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def _start(cache: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, *args], env=_env(cache, **env),
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> tuple[dict, str]:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, f"child failed:\n{err}"
    result = json.loads(out.strip().splitlines()[-1])
    np.testing.assert_allclose(result["out"], _expected(), rtol=1e-5)
    return result, err


def _run(cache: Path, *args: str, **env: str) -> tuple[dict, str]:
    return _finish(_start(cache, *args, **env))


def _kernel_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("kernels/*/k_*.py"))


@pytest.fixture(scope="module")
def filled_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A cache folder filled by one process, and what that process reported."""
    cache = tmp_path_factory.mktemp("filled-cache")
    result, _ = _run(cache)
    return cache, result


# ============================================================================ processes


def test_first_process_compiles_and_writes_the_kernels(filled_cache):
    cache, result = filled_cache
    stats = result["stats"]
    assert stats["traces"] == 1 and stats["compiles"] > 0 and stats["disk_loads"] == 0
    files = _kernel_files(cache)
    assert len(files) == stats["kernel_modules"] > 0
    assert all("@njit" in f.read_text() for f in files)
    assert result["warnings"] == []


def test_fresh_process_loads_from_disk_without_compiling(filled_cache):
    cache, first = filled_cache
    result, _ = _run(cache)
    stats = result["stats"]
    assert stats["compiles"] == 0
    assert stats["disk_loads"] == first["stats"]["compiles"] > 0
    assert result["warnings"] == []


def test_corrupt_cache_entries_are_rebuilt_with_a_warning(filled_cache, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(filled_cache[0], cache)
    files = _kernel_files(cache)
    assert len(files) >= 2
    # A truncated kernel module ...
    text = files[0].read_text()
    files[0].write_text(text[: len(text) // 3])
    # ... and garbage in Numba's index of another kernel's machine code.
    indexes = sorted(files[1].parent.glob(f"__pycache__/{files[1].stem}.*.nbi"))
    assert indexes
    for index in indexes:
        index.write_bytes(b"garbage")

    result, _ = _run(cache)
    messages = result["warnings"]
    assert any(m.startswith("RuntimeWarning") and files[0].name in m and "corrupt" in m
               for m in messages), messages
    assert any(m.startswith("RuntimeWarning") and "failed to load" in m for m in messages)
    assert result["stats"]["compiles"] >= 2  # the two broken kernels, built again
    assert files[0].read_text() == text

    # The rebuilt entries serve the next process.
    again, _ = _run(cache)
    assert again["stats"]["compiles"] == 0 and again["warnings"] == []


def test_two_processes_compiling_the_same_kernels_at_once_both_succeed(tmp_path):
    cache = tmp_path / "cache"
    go = tmp_path / "go"
    procs = [_start(cache, str(tmp_path / f"ready{k}"), str(go)) for k in range(2)]
    deadline = time.time() + 120
    while not all((tmp_path / f"ready{k}").exists() for k in range(2)):
        assert time.time() < deadline and all(p.poll() is None for p in procs), \
            "a child died before it was ready"
        time.sleep(0.01)
    go.touch()  # both are past `import lucid`: they trace and compile together
    results = [_finish(p)[0] for p in procs]
    for result in results:
        assert result["warnings"] == []
        assert result["stats"]["compiles"] + result["stats"]["disk_loads"] > 0
    assert len(_kernel_files(cache)) == results[0]["stats"]["kernel_modules"]
    assert not list(cache.glob("kernels/*/.tmp-*"))  # no temporary file left behind


def test_log_compiles_reports_traces_and_reasons(tmp_path):
    result, err = _run(tmp_path / "cache", "--rebatch", LUCID_LOG_COMPILES="1")
    assert "lucid.jit: tracing f: first call" in err
    # The reason names the argument whose shape changed, old and new.
    assert "lucid.jit: tracing f: x: float32[3, 4] -> float32[5, 4]" in err, err
    assert "compiled kernel" in err
    assert result["stats"]["traces"] == 2


def test_disable_jit_from_the_environment(tmp_path):
    cache = tmp_path / "cache"
    result, _ = _run(cache, LUCID_DISABLE_JIT="1")
    assert result["disable_jit"] is True
    stats = result["stats"]
    assert stats["traces"] == 0 and stats["compiles"] == 0 and stats["kernel_modules"] == 0
    assert _kernel_files(cache) == []


# ============================================================================ in process


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty kernel cache, with nothing loaded in memory."""
    monkeypatch.setenv("LUCID_CACHE_DIR", str(tmp_path))
    jit_cache.clear(memory_only=True)
    yield tmp_path
    jit_cache.clear(memory_only=True)


def test_kernel_dir_follows_the_cache_dir(tmp_path, monkeypatch):
    # "c1" is a prefix of "c10": the folder must still change.
    for name in ("c10", "c1", "c10"):
        monkeypatch.setenv("LUCID_CACHE_DIR", str(tmp_path / name))
        kd = Path(jit_cache.kernel_dir())
        assert kd.parent == tmp_path / name / "kernels" and kd.is_dir()


def test_a_new_module_object_loads_machine_code_from_disk(fresh_cache):
    def f(x):
        return (x * 4.0 - 1.0).abs()

    x = lucid.randn(3, 5)
    before = lucid.jit.stats()
    lucid.jit(f)(x)
    mid = lucid.jit.stats()
    assert mid["compiles"] == before["compiles"] + 1
    assert len(_kernel_files(fresh_cache)) == 1

    jit_cache.clear(memory_only=True)  # as if a new process: the module is imported again
    out = lucid.jit(f)(x)
    after = lucid.jit.stats()
    assert after["compiles"] == mid["compiles"]
    assert after["disk_loads"] == mid["disk_loads"] + 1
    assert after["kernel_modules"] == mid["kernel_modules"] + 1
    np.testing.assert_array_equal(out.numpy(), f(x).numpy())

    jit_cache.clear()
    assert _kernel_files(fresh_cache) == []


def test_a_kernel_error_is_not_mistaken_for_a_broken_cache(fresh_cache):
    # A typing error in a kernel is raised as it is, not retried with a cache warning.
    module = jit_cache.load_module(
        "from numba import njit\n\n\n@njit(cache=True)\ndef flat(n, a0, o0):\n"
        "    o0[0] = a0.undefined_attribute\n"
    )
    a = np.zeros(2, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(Exception, match="undefined_attribute"):
            jit_cache.call_kernel(module.flat, 2, a, a)
