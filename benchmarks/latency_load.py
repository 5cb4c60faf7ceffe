"""Latency under load, and the thread study behind Frontier's thread and wait-policy defaults.

The ``latency_load`` group (:func:`bench_latency_under_load`) runs the real
harness (``engine.measure.latency.measure``, skew detection included) on the
TorchScript and ONNX MLP samples with Frontier's default thread settings, next
to a bare ``perf_counter`` loop in the same process under the same load,
interleaved: with no load of ours, with one core kept busy, and with both
cores kept busy (every thread of ours then shares a core, so the skew flag
must fire). Rows: harness p50 over the bare loop's (goal 1.00 ± 0.10) and how
often the skew flag fired in each condition.

``python -m benchmarks.latency_load study [--repeats 3]`` compares, interleaved
and with and without another process spinning on one core, thread counts (1 vs
all cores), ``OMP_WAIT_POLICY`` (PASSIVE vs unset) and ONNX Runtime's intra-op
spinning (on vs off) for the sample workloads the two-click benchmark runs: a
histogram gradient boosting refit on one fold, the TorchScript MLP and the ONNX
MLP at batch 1 and 256 (harness p50 next to a bare ``perf_counter`` loop). Each
configuration runs in a fresh process, since thread pools read their
environment when they start. It prints one JSON line per measurement and a
table of medians.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks.common import PYTHON, ROOT, SAMPLES, busy_core, row

WORKLOADS = ("hgb", "torch", "onnx", "sequence")
BATCHES = (1, 256)


# ------------------------------------------------------------------ the child
def _cpu_wall(fn) -> tuple[float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - c0, time.perf_counter() - w0


def _bare(fn, inputs: list, n: int) -> list[float]:
    pc = time.perf_counter
    out = []
    for i in range(n):
        x = inputs[i % len(inputs)]
        t0 = pc()
        fn(x)
        out.append(pc() - t0)
    return out


def _latency_pair(fn, X) -> dict[str, Any]:
    """Harness p50 and a bare loop's p50 at each batch size, interleaved three times."""
    import numpy as np

    from engine.measure.latency import make_batches, time_calls

    out: dict[str, Any] = {}
    for b in BATCHES:
        inputs = make_batches(X, b, 16)
        for i in range(20):
            fn(inputs[i % len(inputs)])
        harness, bare, ratios = [], [], []
        for _ in range(3):
            c0, w0 = time.process_time(), time.perf_counter()
            s = time_calls(fn, inputs, min_time_s=0.3, min_count=30)
            ratios.append((time.process_time() - c0) / (time.perf_counter() - w0))
            harness.append(float(np.median(s)))
            bare.append(float(np.median(_bare(fn, inputs, len(s)))))
        out[f"b{b}_harness_ms"] = statistics.median(harness) * 1e3
        out[f"b{b}_bare_ms"] = statistics.median(bare) * 1e3
        out[f"b{b}_cpu_per_wall"] = statistics.median(ratios)
    return out


def child(workload: str) -> dict[str, Any]:
    """One workload under the thread settings in this process's environment."""
    from engine import datasets

    threads = int(os.environ["STUDY_THREADS"])
    prep = datasets.prepare(datasets.builtin("digits"))
    if workload == "hgb":
        from sklearn.base import clone
        from sklearn.model_selection import StratifiedKFold

        from engine.models.formats import skops as skops_format

        est = skops_format.load((SAMPLES / "digits_hist_gradient_boosting.skops").read_bytes(), trusted=True)
        train, _ = next(StratifiedKFold(5, shuffle=True, random_state=0).split(prep.X, prep.y_encoded))
        cpu, wall = _cpu_wall(lambda: clone(est).fit(prep.rows(train), prep.y[train]))
        return {"fit_s": wall, "fit_cpu_per_wall": cpu / wall}
    X = prep.numeric_X()
    if workload == "sequence":  # as in a worker: a fit, the fitted model's latency, then the torch MLP's
        import torch

        from engine.models.formats import skops as skops_format
        from engine.models.predictors import SklearnPredictor, TorchPredictor

        est = skops_format.load((SAMPLES / "digits_hist_gradient_boosting.skops").read_bytes(), trusted=True)
        cpu, wall = _cpu_wall(lambda: est.fit(prep.X, prep.y))
        hgb = {f"hgb_{k}": v for k, v in _latency_pair(SklearnPredictor(est).infer, prep.X).items()}
        pred = TorchPredictor(torch.jit.load(str(SAMPLES / "digits_mlp.pt")), threads=threads)
        mlp = {f"torch_{k}": v for k, v in _latency_pair(pred.infer, X).items()}
        return {"fit_all_s": wall, "fit_cpu_per_wall": cpu / wall} | hgb | mlp
    if workload == "torch":
        import torch

        from engine.models.predictors import TorchPredictor

        pred = TorchPredictor(torch.jit.load(str(SAMPLES / "digits_mlp.pt")), threads=threads)
        return _latency_pair(pred.infer, X)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", os.environ["STUDY_ORT_SPIN"])
    sess = ort.InferenceSession(str(SAMPLES / "digits_mlp.onnx"), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return _latency_pair(lambda x: sess.run(None, {name: x}), X)


# ------------------------------------------------------------ the group
@contextlib.contextmanager
def _load(kind: str):
    """No load of ours, one busy core, or every core busy (a spinner per core)."""
    n = {"quiet": 0, "one busy core": 1, "all cores busy": os.cpu_count() or 1}[kind]
    with contextlib.ExitStack() as stack:
        for _ in range(n):
            stack.enter_context(busy_core())
        yield


def _predictors():
    import torch

    from engine import settings
    from engine.models.predictors import OnnxPredictor, TorchPredictor

    threads = settings.default_threads()
    return {"TorchScript MLP": TorchPredictor(torch.jit.load(str(SAMPLES / "digits_mlp.pt")), threads=threads),
            "ONNX MLP": OnnxPredictor(SAMPLES / "digits_mlp.onnx", threads=threads)}


def bench_latency_under_load(*, repeats: int = 3, batches: tuple[int, ...] = BATCHES) -> list[dict[str, Any]]:
    """Harness p50 vs a bare loop in the same process, under each load, and whether skew was flagged."""
    import numpy as np

    from engine import datasets
    from engine.measure.latency import LatencySettings, make_batches, measure

    X = datasets.prepare(datasets.builtin("digits")).numeric_X()
    settings_ = LatencySettings(batch_sizes=batches)
    rows = []
    conditions = ("quiet", "one busy core", "all cores busy")
    for label, pred in _predictors().items():
        inputs = {b: make_batches(X, b, settings_.distinct_batches) for b in batches}
        for b in batches:  # warm both paths
            for i in range(50):
                pred.infer(inputs[b][i % len(inputs[b])])
        got: dict[tuple[str, int], dict[str, list]] = {}
        for rep in range(repeats):
            for cond in (conditions if rep % 2 == 0 else conditions[::-1]):
                with _load(cond):
                    first_bare = rep % 2 == 1
                    if first_bare:
                        bare = {b: np.median(_bare(pred.infer, inputs[b], 2000 // b + 30)) for b in batches}
                    stats, _ = measure(pred.infer, X, settings_, threads=1)
                    if not first_bare:
                        bare = {b: np.median(_bare(pred.infer, inputs[b], 2000 // b + 30)) for b in batches}
                for st in stats:
                    cell = got.setdefault((cond, st.batch_size), {"harness": [], "bare": [], "skewed": [],
                                                                  "reasons": [], "load": [], "blocks": [],
                                                                  "desched": []})
                    cell["blocks"].append(st.block_ratio or 1.0)
                    cell["desched"].append(st.descheduled or 0.0)
                    cell["harness"].append(st.p50_ms)
                    cell["bare"].append(float(bare[st.batch_size]) * 1e3)
                    cell["skewed"].append(bool(st.skewed))
                    cell["load"].append(st.load_1m_before)
                    if st.skew_reason:
                        cell["reasons"].append(st.skew_reason)
        quiet = {b: statistics.median(got[("quiet", b)]["harness"]) for b in batches}
        for (cond, b), cell in got.items():
            h, bare_ms = float(statistics.median(cell["harness"])), float(statistics.median(cell["bare"]))
            ratio = h / bare_ms
            fired = sum(cell["skewed"])
            why = f"; e.g. {cell['reasons'][0]}" if cell["reasons"] else ""
            rows.append(row(f"harness p50 / bare loop, {label} batch {b}, {cond} (load {min(cell['load']):.1f}-"
                            f"{max(cell['load']):.1f}; vs quiet harness {h / quiet[b]:.2f}x)",
                            f"{bare_ms * 1e3:.1f} µs", f"{h * 1e3:.1f} µs", ratio, "1.00 ± 0.10",
                            bool(abs(ratio - 1) <= 0.10)))
            must_fire = cond == "all cores busy"
            evidence = (f"blocks {min(cell['blocks']):.2f}-{max(cell['blocks']):.2f}x, descheduled "
                        f"{min(cell['desched']):.0%}-{max(cell['desched']):.0%}")
            rows.append(row(f"skew flag, {label} batch {b}, {cond} ({evidence})",
                            f"{len(cell['skewed'])} measurements", f"flagged {fired}{why}", fired / len(cell["skewed"]),
                            "flagged every time" if must_fire else "— (recorded)",
                            bool(fired == len(cell["skewed"])) if must_fire else None))
    return rows


# ----------------------------------------------------------------- the parent
def _configs(workload: str, threads: tuple[int, ...], waits: tuple[str, ...]) -> list[dict[str, Any]]:
    """``waits``: ``unset``, ``PASSIVE``, ``ACTIVE`` (OMP_WAIT_POLICY) or ``spin:N`` (GOMP_SPINCOUNT=N)."""
    if workload == "onnx":  # ONNX Runtime's own pool: OMP_WAIT_POLICY does not reach it
        return [{"threads": t, "wait": "unset", "ort_spin": s} for t, s in itertools.product(threads, ("1", "0"))]
    return [{"threads": t, "wait": w, "ort_spin": "-"} for t, w in itertools.product(threads, waits)]


def _env(cfg: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")}
    n = str(cfg["threads"])
    env |= {"OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "MKL_NUM_THREADS": n, "STUDY_THREADS": n,
            "STUDY_ORT_SPIN": cfg["ort_spin"] if cfg["ort_spin"] != "-" else "1",
            "PYTHONPATH": str(ROOT)}
    if cfg["wait"].startswith("spin:"):
        env["GOMP_SPINCOUNT"] = cfg["wait"].split(":", 1)[1]
    elif cfg["wait"] != "unset":
        env["OMP_WAIT_POLICY"] = cfg["wait"]
    return env


def _run_child(workload: str, cfg: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([PYTHON, "-m", "benchmarks.latency_load", "child", workload], env=_env(cfg),
                              cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, check=False)
        out = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {
            "error": proc.stderr.strip().splitlines()[-1:]}
    except subprocess.TimeoutExpired:
        out = {"error": f"over {timeout_s:g} s"}
    return out | {"child_s": time.perf_counter() - t0, "load_1m": load0}


LOADS = ("quiet", "one busy core", "all cores busy")


def study(repeats: int, workloads: tuple[str, ...], timeout_s: float, *, threads: tuple[int, ...],
          waits: tuple[str, ...], loads: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every (workload, configuration, load) cell ``repeats`` times, in a shuffled interleaved order."""
    rng = random.Random(0)
    rows = []
    for rep in range(repeats):
        cells = [(w, c) for w in workloads for c in _configs(w, threads, waits)]
        for load in loads:
            rng.shuffle(cells)
            for workload, cfg in cells:
                with _load(load):
                    out = _run_child(workload, cfg, timeout_s)
                r = {"rep": rep, "load": load, "workload": workload} | cfg | out
                print(json.dumps(r), flush=True)
                rows.append(r)
    return rows


def summarise(rows: list[dict[str, Any]]) -> str:
    """Median of each numeric field per (workload, load, threads, wait, ort_spin)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["workload"], r["load"], r["threads"], r["wait"], r["ort_spin"]), []).append(r)
    lines = []
    for key in sorted(groups):
        rs = groups[key]
        fields = sorted({k for r in rs for k, v in r.items() if isinstance(v, float) and k not in ("load_1m",)})
        vals = []
        for f in fields:
            xs = [r[f] for r in rs if isinstance(r.get(f), float)]
            vals.append(f"{f}={statistics.median(xs):.4g} [{min(xs):.3g}..{max(xs):.3g}]")
        errors = [r["error"] for r in rs if "error" in r]
        lines.append(f"{key}: n={len(rs)} " + " ".join(vals) + (f" errors={errors}" if errors else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency_load")
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("study", help="the thread / wait-policy study (several minutes)")
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--workload", action="append", choices=WORKLOADS)
    s.add_argument("--timeout", type=float, default=120.0, help="seconds before one child is given up")
    s.add_argument("--threads", default=f"1,{os.cpu_count() or 1}", help="thread counts, comma-separated")
    s.add_argument("--waits", default="unset,PASSIVE", help="unset, PASSIVE, ACTIVE or spin:N, comma-separated")
    s.add_argument("--loads", default="quiet,one busy core", help=f"of {', '.join(LOADS)}, comma-separated")
    c = sub.add_parser("child")
    c.add_argument("workload", choices=WORKLOADS)
    args = parser.parse_args(argv)
    if args.cmd == "child":
        print(json.dumps(child(args.workload)))
        return 0
    rows = study(args.repeats, tuple(args.workload or WORKLOADS), args.timeout,
                 threads=tuple(sorted({int(t) for t in args.threads.split(",")})),
                 waits=tuple(args.waits.split(",")), loads=tuple(args.loads.split(",")))
    print(summarise(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
