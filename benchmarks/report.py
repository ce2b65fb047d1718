"""From raw samples to the table and the JSON file: medians, ratios to the best peer, GFLOP/s,
and the cross-implementation agreement check of the losses.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from .workloads import IMPLS, WORKLOADS, Workload

# Two implementations agree when their check values (losses, sums of logits) are within this.
CHECK_RTOL = 1e-3
CHECK_ATOL = 1e-4
# A row's note warns when other processes kept this many CPUs busy while it was timed.
BUSY_CPUS = 0.25


def summarize(workload: Workload, impl: str, raw: list[dict[str, Any]]) -> dict[str, Any]:
    """One table row from the worker results of one (workload, implementation) pair.

    ``raw`` has one entry per worker process (several for the one-shot measurements); their
    samples are pooled. The row's status is the first non-ok status, if any.
    """
    row: dict[str, Any] = {"workload": workload.name, "impl": impl, "label": IMPLS[impl],
                           "unit": workload.unit}
    bad = [r for r in raw if r.get("status") != "ok"]
    if bad or not raw:
        row["status"] = bad[0]["status"] if bad else "error"
        row["reason"] = bad[0].get("reason", "no result") if bad else "no result"
        if bad and "traceback" in bad[0]:
            row["traceback"] = bad[0]["traceback"]
        return row
    samples = [s for r in raw for s in r["samples"]]
    row.update(status="ok", samples=samples, median=statistics.median(samples), min=min(samples))
    row["check"] = raw[0].get("check", [])
    compiles = [r["compiles"] for r in raw if r.get("compiles") is not None]
    if compiles:
        row["compiles"] = max(compiles)
    if "first_ms" in raw[0]:
        row["first_call_ms"] = raw[0]["first_ms"]
    extra = [r["extra"] for r in raw if r.get("extra")]
    if extra:
        # Medians over the processes; the neighbours' load by its worst round (a warning).
        row["extra"] = {k: (max if k == "other_cpus" else statistics.median)(e[k] for e in extra)
                        for k in extra[0]}
    flops = workload.flops
    row["gflops"] = flops / (row["median"] * 1e-3) / 1e9 if flops else None
    return row


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Set each ok row's ``ratio``: its median over the best median among the reference peers
    of its workload (None when no reference peer has a result); and ``ratio_min``, the same
    with the minimums (less sensitive to the load of a shared machine)."""
    for name in {r["workload"] for r in rows}:
        w = WORKLOADS[name]
        mine = [r for r in rows if r["workload"] == name and r["status"] == "ok"]
        refs = [r for r in mine if r["impl"] in w.reference]
        for key, out in (("median", "ratio"), ("min", "ratio_min")):
            best = min((r[key] for r in refs), default=None)
            for r in mine:
                r[out] = r[key] / best if best else None


def check_agreement(rows: list[dict[str, Any]]) -> list[str]:
    """Lines naming the implementations whose losses (or logits) differ from the first one's."""
    lines = []
    for name in dict.fromkeys(r["workload"] for r in rows):
        mine = [r for r in rows if r["workload"] == name and r["status"] == "ok" and r["check"]]
        if len(mine) < 2:
            continue
        ref = mine[0]
        for r in mine[1:]:
            agree = len(r["check"]) == len(ref["check"]) and all(
                abs(a - b) <= CHECK_ATOL + CHECK_RTOL * abs(b)
                for a, b in zip(r["check"], ref["check"], strict=True)
            )
            if not agree:
                what = "loss before/after one step" if WORKLOADS[name].train else "sum of logits"
                lines.append(f"check: {name}: {what} disagree: {r['label']} "
                             f"{_fmt_list(r['check'])} vs {ref['label']} "
                             f"{_fmt_list(ref['check'])}")
    return lines


def _fmt_list(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in values) + "]"


def _num(value: float | None) -> str:
    """Three significant digits (whole numbers from 1000 on); "-" for no value."""
    if value is None:
        return "-"
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:#.3g}"


def format_table(rows: list[dict[str, Any]], meta: dict[str, Any], notes: list[str]) -> str:
    """The printed report: a header line, one row per measured pair, then notes."""
    versions = meta.get("versions", {})
    head = ", ".join(f"{k} {v}" for k, v in versions.items())
    # Settings that change the BLAS kernels (OPENBLAS_CORETYPE, ...), beyond the thread counts.
    settings = ", ".join(f"{k}={v}" for k, v in meta.get("env", {}).items()
                         if not k.endswith(("_NUM_THREADS", "_MAXIMUM_THREADS")))
    lines = [f"threads {meta['threads']}, float32, {meta['cpu']} ({meta['cpu_count']} cpus); "
             f"{head}" + (f"; {settings}" if settings else "")]
    cols = ("workload", "implementation", "median", "min", "unit", "ratio", "ratio(min)",
            "GFLOP/s", "notes")
    table = [cols]
    for r in rows:
        if r["status"] != "ok":
            continue
        w = WORKLOADS[r["workload"]]
        note = [f"target {w.target}"] if w.target and r["impl"] == w.target_impl else []
        if r.get("extra", {}).get("other_cpus", 0) >= BUSY_CPUS:
            note.append(f"others busy {r['extra']['other_cpus']:.1f} cpus")
        if r.get("compiles") is not None:
            note.append(f"compiles {r['compiles']}")
        if "second_call_ms" in r.get("extra", {}):
            note.append(f"2nd call {_num(r['extra']['second_call_ms'])} ms")
        extra = r.get("extra", {})
        if "jit_traces" in extra:
            note.append(f"lucid.jit traces {extra['jit_traces']:.0f}, kernels compiled "
                        f"{extra.get('jit_compiles', 0):.0f}, loaded "
                        f"{extra.get('jit_disk_loads', 0):.0f}")
        if "rss_before_step_mib" in r.get("extra", {}):
            note.append(f"RSS before {r['extra']['rss_before_step_mib']:.0f} MiB")
        table.append((
            r["workload"], r["label"], _num(r["median"]), _num(r["min"]), r["unit"],
            _num(r.get("ratio")), _num(r.get("ratio_min")), _num(r.get("gflops")),
            ", ".join(note),
        ))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(cols))]
    right = {2, 3, 5, 6, 7}
    for row in table:
        cells = [str(c).rjust(widths[i]) if i in right else str(c).ljust(widths[i])
                 for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    lines.append("ratio = median / best median among the reference peers (ratio(min): the same "
                 "with the minimums): torch eager, torch.compile, jax.jit; for compile_cold, "
                 "compile_warm, rebatch: torch.compile, jax.jit; for eager_mlp_b64_train: "
                 "torch eager.")
    busy = [r["extra"]["other_cpus"] for r in rows if "other_cpus" in r.get("extra", {})]
    if busy and max(busy) >= BUSY_CPUS:
        lines.append(f"other processes kept up to {max(busy):.1f} of {meta['cpu_count']} CPUs "
                     "busy while timing (notes column): multi-threaded BLAS calls slow down "
                     "badly then; the min columns are the steadier comparison.")
    lines.extend(notes)
    return "\n".join(lines)


def write_json(path: str, rows: list[dict[str, Any]], meta: dict[str, Any],
               notes: list[str]) -> None:
    """Write the run: ``meta``, ``workloads`` (FLOPs, unit, target), ``results``, ``notes``."""
    workloads = {
        name: {"flops": w.flops, "unit": w.unit, "target": w.target,
               "target_impl": w.target_impl, "reference": list(w.reference)}
        for name, w in WORKLOADS.items() if any(r["workload"] == name for r in rows)
    }
    with open(path, "w") as f:
        json.dump({"meta": meta, "workloads": workloads, "results": rows, "notes": notes}, f,
                  indent=1)
        f.write("\n")
