"""Run the performance suite and write ``benchmarks/RESULTS.md`` and ``results.json``.

Every goal is a ratio against a bare baseline measured in the same run, with
the two sides interleaved, because these machines are noisy::

    .venv/bin/python -m benchmarks.run            # or: make bench

1. latency harness p50 vs a bare ``time.perf_counter`` loop around the same
   ONNX Runtime call: within 1.00 ± 0.05;
2. 5-fold benchmark of the three scikit-learn samples on digits (latency
   excluded) vs ``cross_validate`` of the same models, same n_jobs: ≤ 1.15;
3. a cached re-run vs the first run: ≥ 20x faster.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models" / "artifacts"
SKLEARN_SAMPLES = ("digits_logreg.skops", "digits_random_forest.skops", "digits_hist_gradient_boosting.skops")
OUT_MD = ROOT / "benchmarks" / "RESULTS.md"
OUT_JSON = ROOT / "benchmarks" / "results.json"


# ------------------------------------------------------------ 1. harness
def bench_harness_overhead(*, calls: int = 3000, repeats: int = 7) -> list[dict[str, Any]]:
    from engine import datasets
    from engine.measure.latency import make_batches, time_calls
    from engine.models.predictors import OnnxPredictor

    X = datasets.prepare(datasets.builtin("digits")).numeric_X()
    pred = OnnxPredictor(SAMPLES / "digits_mlp.onnx", threads=1)
    sess, name = pred.session, pred.input_name
    rows = []
    for batch in (1, 32):
        inputs = make_batches(X, batch, 16)
        for i in range(300):  # warm both paths
            sess.run(None, {name: inputs[i % 16]})
        bare, harness = [], []
        for _ in range(repeats):  # interleaved: bare, harness, bare, harness...
            bare.append(float(np.median(_bare_loop(sess, name, inputs, calls))))
            samples = time_calls(pred.infer, inputs, min_time_s=0.0, min_count=calls, max_time_s=1e9)
            harness.append(float(np.median(samples)))
        ratio = statistics.median(harness) / statistics.median(bare)
        rows.append({
            "benchmark": f"latency harness p50 / bare loop (ONNX MLP, batch {batch})",
            "baseline": f"{statistics.median(bare) * 1e6:.2f} µs", "ours": f"{statistics.median(harness) * 1e6:.2f} µs",
            "ratio": ratio, "goal": "1.00 ± 0.05", "pass": abs(ratio - 1.0) <= 0.05,
        })
    return rows


def _bare_loop(sess, name: str, inputs: list, n: int) -> list[float]:
    pc = time.perf_counter
    out = []
    k = len(inputs)
    for i in range(n):
        x = inputs[i % k]
        t0 = pc()
        sess.run(None, {name: x})
        out.append(pc() - t0)
    return out


# --------------------------------------------------------------- 2. CV
SCORING = ["accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro",
           "precision_weighted", "recall_weighted", "f1_weighted", "roc_auc_ovr", "neg_log_loss"]


BASELINE_SCRIPT = """
import sys, time
t0 = time.perf_counter()
import skops.io as sio
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, cross_validate
import pandas as pd
d = load_digits()
X = pd.DataFrame(d.data, columns=[f"pixel_{i}" for i in range(64)])
cv = StratifiedKFold(5, shuffle=True, random_state=0)
for path in sys.argv[2:]:
    est = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    cross_validate(clone(est), X, d.target, cv=cv, scoring=sys.argv[1].split(","), n_jobs=None)
print(time.perf_counter() - t0)
"""


def bench_cv_overhead(*, repeats: int = 3) -> list[dict[str, Any]]:
    """Both sides in a fresh process (start-up, imports and model loading included)."""
    paths = [str(SAMPLES / f) for f in SKLEARN_SAMPLES]

    def baseline() -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", BASELINE_SCRIPT, ",".join(SCORING), *paths],
                       check=True, capture_output=True, env=_thread_env())
        return time.perf_counter() - t0

    base, mine = [], []
    for _ in range(repeats):  # interleaved
        base.append(baseline())
        mine.append(_engine_job_seconds())
    ratio = statistics.median(mine) / statistics.median(base)
    cli = _cli_first_and_cached(latency=False)
    return [
        {"benchmark": "5-fold benchmark of the 3 scikit-learn samples on digits, no latency: engine job in its "
                      "worker process / `cross_validate` (same scorers, n_jobs=None) in a fresh process",
         "baseline": f"{statistics.median(base):.2f} s", "ours": f"{statistics.median(mine):.2f} s",
         "ratio": ratio, "goal": "≤ 1.15", "pass": ratio <= 1.15},
        {"benchmark": "same, end to end through `python -m engine benchmark` (adds validating and "
                      "registering the inputs in the CLI process) / the same baseline",
         "baseline": f"{statistics.median(base):.2f} s", "ours": f"{cli['first']:.2f} s",
         "ratio": cli["first"] / statistics.median(base), "goal": "(informational)", "pass": None},
    ]


def _thread_env() -> dict[str, str]:
    n = str(os.cpu_count())
    return os.environ | {"OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "MKL_NUM_THREADS": n}


def _engine_job_seconds() -> float:
    """Wall time of the benchmark job (worker start to results stored), inputs registered first."""
    from engine import benchmark, datasets, jobs, models
    from engine.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="frontier-bench-"))
    try:
        ws = Workspace.open(tmp)
        infos = [models.register_file(ws, SAMPLES / f) for f in SKLEARN_SAMPLES]
        ds = datasets.builtin("digits")
        datasets.register(ws, ds)
        plan = benchmark.plan(ws, infos, ds, benchmark.BenchmarkConfig(latency=None))
        t0 = time.perf_counter()
        st = jobs.run(ws, plan.to_request())
        elapsed = time.perf_counter() - t0
        assert st.state == "done", st.error
        return elapsed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _engine_run(*, latency: bool) -> tuple[float, float]:
    """(first run, cached re-run) seconds through the engine API in a fresh workspace."""
    from engine import benchmark, datasets, models
    from engine.measure.latency import LatencySettings
    from engine.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="frontier-bench-"))
    try:
        ws = Workspace.open(tmp)
        infos = [models.register_file(ws, SAMPLES / f) for f in SKLEARN_SAMPLES]
        config = benchmark.BenchmarkConfig(latency=LatencySettings() if latency else None)
        ds = datasets.builtin("digits")
        datasets.register(ws, ds)
        t0 = time.perf_counter()
        plan = benchmark.plan(ws, infos, ds, config)
        benchmark.execute(ws, plan.to_request())
        benchmark.collect(ws, plan)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = benchmark.plan(ws, infos, ds, config)
        assert not again.pending
        benchmark.collect(ws, again)
        cached = time.perf_counter() - t0
        return first, cached
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _cli_first_and_cached(*, latency: bool) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="frontier-bench-cli-"))
    cmd = [sys.executable, "-m", "engine", "benchmark", "--data", "digits", "--workspace", str(tmp), "--json"]
    for f in SKLEARN_SAMPLES:
        cmd += ["--model", str(SAMPLES / f)]
    if not latency:
        cmd.append("--no-latency")
    try:
        times = {}
        for label in ("first", "cached"):
            t0 = time.perf_counter()
            out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
            times[label] = time.perf_counter() - t0
            runs = json.loads(out.stdout)["runs"]
            assert all(r["cached"] == (label == "cached") for r in runs)
        return times
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------- 3. cache
def bench_cache() -> list[dict[str, Any]]:
    first, cached = _engine_run(latency=True)
    cli = _cli_first_and_cached(latency=True)
    return [
        {"benchmark": "cached re-run vs first run (engine API, 3 scikit-learn samples, with latency)",
         "baseline": f"{first:.2f} s", "ours": f"{cached * 1e3:.1f} ms",
         "ratio": first / cached, "goal": "≥ 20x", "pass": first / cached >= 20},
        {"benchmark": "same, end to end through the CLI (process start-up and imports included)",
         "baseline": f"{cli['first']:.2f} s", "ours": f"{cli['cached']:.2f} s",
         "ratio": cli["first"] / cli["cached"], "goal": "(informational)", "pass": None},
    ]


# ------------------------------------------------------------- report
def main() -> int:
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))
    rows = [*bench_harness_overhead(), *bench_cv_overhead(), *bench_cache()]
    from engine.measure.environment import cpu_model

    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu_model(),
            "cores": os.cpu_count(), "python": platform.python_version()}
    OUT_JSON.write_text(json.dumps({"meta": meta, "results": rows}, indent=1) + "\n")
    lines = [
        "# Frontier benchmark results", "",
        f"Measured {meta['date']} on {meta['cpu']} ({meta['cores']} cores), Python {meta['python']}, "
        "by `make bench` (`python -m benchmarks.run`). Each goal is a ratio against a bare baseline "
        "measured in the same run, the two sides interleaved.", "",
        "| benchmark | baseline | Frontier | ratio | goal | met |", "|---|---|---|---|---|---|",
    ]
    for r in rows:
        met = "—" if r["pass"] is None else ("yes" if r["pass"] else "**no**")
        lines.append(f"| {r['benchmark']} | {r['baseline']} | {r['ours']} | {r['ratio']:.3f} | {r['goal']} | {met} |")
    OUT_MD.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["pass"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
