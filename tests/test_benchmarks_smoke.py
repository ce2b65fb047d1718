"""Smoke test of the benchmark harness (``python -m benchmarks``): the smallest workloads, two
repeats, the JSON's structure, the skip path, and the report's arithmetic. No timing
assertions: this machine is shared and noisy."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The harness is a top-level package beside lucid, not installed: import it from the checkout.
sys.path.insert(0, str(ROOT))

from benchmarks.report import add_ratios, check_agreement, format_table, summarize  # noqa: E402
from benchmarks.workloads import WORKLOADS, init_params, make_batch, model_flops  # noqa: E402

HAS_TORCH = importlib.util.find_spec("torch") is not None


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quiet", "--json", str(out), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )
    assert out.exists(), proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    data["stdout"] = proc.stdout
    data["returncode"] = proc.returncode
    return data


def test_harness_runs_the_tiny_workloads_and_writes_json(tmp_path: Path) -> None:
    impls = ["lucid", "torch"] if HAS_TORCH else ["lucid"]
    data = _run(tmp_path, "--workloads", "tiny_b1_train,tiny_b1_infer", "--impl",
                ",".join(impls), "--repeats", "2", "--rounds", "1")
    assert data["returncode"] == 0, data["stdout"] + "\n".join(data["notes"])
    assert set(data) >= {"meta", "workloads", "results", "notes"}
    assert data["meta"]["threads"] == 2
    assert set(data["workloads"]) == {"tiny_b1_train", "tiny_b1_infer"}
    assert data["workloads"]["tiny_b1_train"]["flops"] == model_flops("tiny", 1, True)
    rows = {(r["workload"], r["impl"]): r for r in data["results"]}
    assert set(rows) == {(w, i) for w in ("tiny_b1_train", "tiny_b1_infer") for i in impls}
    for (workload, impl), r in rows.items():
        assert r["status"] == "ok", r
        assert r["unit"] == "ms"
        # 2 repeats x 10 for the microsecond workloads, one round.
        assert len(r["samples"]) == 2 * WORKLOADS[workload].scale
        assert 0 < r["min"] <= r["median"]
        assert r["gflops"] > 0
        assert len(r["check"]) == (2 if WORKLOADS[workload].train else 1)
        if HAS_TORCH:
            assert r["ratio"] > 0 and r["ratio_min"] > 0
            if impl == "torch":  # the only reference peer here: the best by definition
                assert r["ratio"] == pytest.approx(1.0) == r["ratio_min"]
        else:
            assert r["ratio"] is None
    if HAS_TORCH:  # the same weights and data: the losses agree, no "check:" note
        assert not [n for n in data["notes"] if n.startswith("check:")], data["notes"]
        train = rows[("tiny_b1_train", "lucid")]["check"]
        assert train == pytest.approx(rows[("tiny_b1_train", "torch")]["check"], rel=1e-4)
        assert train[1] < train[0]  # one SGD step lowered the loss on the same batch
    assert "tiny_b1_train" in data["stdout"] and "lucid eager" in data["stdout"]


@pytest.mark.parametrize(("package", "impl", "label"),
                         [("jax", "jax", "jax.jit"), ("torch", "torch", "torch eager")])
def test_missing_library_is_skipped_with_a_line(tmp_path: Path, package: str, impl: str,
                                                label: str) -> None:
    # A shadowing package that fails to import stands for the library not being installed.
    fake = tmp_path / "fake"
    (fake / package).mkdir(parents=True)
    (fake / package / "__init__.py").write_text(f"raise ImportError('no {package} here')\n")
    env = dict(os.environ, PYTHONPATH=str(fake))
    data = _run(tmp_path, "--workloads", "tiny_b1_infer,tiny_b1_train", "--impl", impl,
                "--repeats", "2", "--rounds", "1", env=env)
    assert data["returncode"] == 0
    assert [r["status"] for r in data["results"]] == ["skipped", "skipped"]
    assert "not installed" in data["results"][0]["reason"]
    assert any(n.startswith(f"skipped {label}") for n in data["notes"]), data["notes"]
    assert f"skipped {label}" in data["stdout"]


def test_unknown_names_are_refused(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--workloads", "nope"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "unknown workload" in proc.stderr


def test_report_ratios_checks_and_skips() -> None:
    w = WORKLOADS["mlp_b64_train"]

    def ok(samples: list[float], check: list[float]) -> list[dict]:
        return [{"status": "ok", "samples": samples, "check": check}]

    rows = [
        summarize(w, "lucid", ok([2.0, 4.0, 3.0], [2.3, 2.2])),
        summarize(w, "torch", ok([1.0, 1.5], [2.3, 2.2])),
        summarize(w, "jax", ok([0.5, 0.5, 0.7], [2.3, 2.5])),
        summarize(w, "torch_compile", [{"status": "skipped", "reason": "no compiler"}]),
    ]
    add_ratios(rows)
    lucid, torch, jax, compiled = rows
    assert (lucid["median"], lucid["min"]) == (3.0, 2.0)
    assert lucid["ratio"] == pytest.approx(6.0) and torch["ratio"] == pytest.approx(2.5)
    assert jax["ratio"] == pytest.approx(1.0)
    assert lucid["ratio_min"] == pytest.approx(4.0) and jax["ratio_min"] == pytest.approx(1.0)
    assert lucid["gflops"] == pytest.approx(w.flops / 3e-3 / 1e9)
    assert compiled["status"] == "skipped" and "ratio" not in compiled
    lines = check_agreement(rows)
    assert len(lines) == 1 and "jax.jit" in lines[0] and "disagree" in lines[0]
    meta = {"threads": 2, "cpu": "cpu", "cpu_count": 2, "versions": {}}
    text = format_table(rows, meta, lines)
    assert "mlp_b64_train" in text and "6.00" in text and "4.00" in text
    assert "disagree" in text and "target <= 1.0" not in text  # lucid.jit has no row here


def test_shared_weights_and_flops() -> None:
    # FLOP counts of BENCHMARKS.md: ~103 M (mlp, batch 64), ~1.65 G (1024), ~0.31 G (cnn).
    assert model_flops("mlp", 64, True) == pytest.approx(103e6, rel=0.01)
    assert model_flops("mlp", 1024, True) == pytest.approx(1.65e9, rel=0.01)
    assert model_flops("cnn", 32, True) == pytest.approx(0.31e9, rel=0.02)
    a, b = init_params("cnn"), init_params("cnn")
    assert all((a[k] == b[k]).all() and a[k].dtype.name == "float32" for k in a)
    x, y = make_batch("mlp", 96)
    assert x.shape == (96, 784) and y.max() < 10 and y.dtype.name == "int64"
