"""The compress charts: one row per model with the job's numbers, the front against a brute-force dominance
check, the original starred, a hostile name drawn as text."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engine.charts import compress

HOSTILE = '<a href="http://evil">x</a>'


def _result(rng):
    variants = []
    for i, (method, flavour) in enumerate(itertools.product(["dynamic-int8", "prune", "distill"], ["", "a", "b"])):
        variants.append({"method": method, "backend": "torch" if flavour else "onnxruntime", "flavour": flavour,
                         "format": "onnx", "artifact_id": f"{i:016x}", "run_id": f"{i + 100:016x}",
                         "size_bytes": int(rng.integers(1000, 90000)), "size_ratio": 1.0,
                         "latency_p50_ms": float(rng.uniform(0.01, 0.05)), "speedup": 1.0,
                         "accuracy_mean": float(rng.uniform(0.9, 0.99)), "accuracy_delta": 0.0,
                         "accuracy_delta_ci": [-1.0, 0.5] if i % 2 else None, "flip_rate": 0.01,
                         "ece_delta": None, "gate_passed": bool(i % 3), "rows_seen": True,
                         "trained_on_fold1": method == "distill",
                         "details": {"heldout_accuracy": 0.9, "original_heldout_accuracy": 0.95}})
    return {"original": {"name": HOSTILE, "artifact_id": "f" * 16, "run_id": "e" * 16, "format": "torchscript",
                         "size_bytes": 80000, "latency_p50_ms": 0.03, "accuracy_mean": 0.97, "rows_seen": True},
            "variants": variants, "gate": 1.0, "dataset": "digits", "n_folds": 5, "distillation": None}


@pytest.mark.parametrize("seed", range(5))
def test_the_front_is_every_model_no_other_dominates(seed):
    result = _result(np.random.default_rng(seed))
    frame = compress.variants_info(result)
    assert len(frame) == 10 and frame["role"].tolist() == ["original"] + ["variant"] * 9
    assert frame.loc[1:, "accuracy_mean"].tolist() == [v["accuracy_mean"] for v in result["variants"]]
    info = compress.pareto_info(frame)
    pts = frame[["latency_p50_ms", "accuracy_mean", "size_bytes"]].to_numpy(dtype=float)
    trained = frame["heldout_delta"].notna().to_numpy()
    pts[trained, 1] = 0.97 + frame["heldout_delta"].to_numpy()[trained] / 100  # the original's + held-out Δ
    assert (info.loc[trained, "y"].to_numpy() == pytest.approx(pts[trained, 1]))
    assert all("held-out" in lin for lin in info.loc[trained, "lineage"])
    brute = []
    for i, p in enumerate(pts):  # lower latency, higher accuracy, lower size
        dominated = any(q[0] <= p[0] and q[1] >= p[1] and q[2] <= p[2] and (q != p).any()
                        for j, q in enumerate(pts) if j != i)
        brute.append(not dominated)
    assert info["on_front"].tolist() == brute
    assert info.attrs["original"] == "e" * 16


def test_held_out_deltas_intervals_and_blanks():
    frame = compress.variants_info(_result(np.random.default_rng(0)))
    distilled = frame[frame["method"] == "distill"]
    assert distilled["heldout_delta"].to_numpy() == pytest.approx([-5.0] * 3)  # 100 * (0.90 - 0.95)
    assert frame[frame["method"] == "prune"]["heldout_delta"].isna().all()
    assert frame["delta_low"].dtype == float and frame.loc[2, "delta_low"] == -1.0 and np.isnan(frame.loc[1, "delta_low"])
    assert np.isnan(frame["ece_delta"].iloc[1])
    summary = compress.gate_summary(frame)
    assert summary["n_variants"] == 9 and summary["n_passing"] == 6


def test_the_original_is_a_star_and_a_hostile_name_is_text():
    info = compress.pareto_info(compress.variants_info(_result(np.random.default_rng(1))))
    fig = compress.pareto_figure(info)
    (star,) = [t for t in fig.data if t.name == "the original"]
    assert star.marker.symbol == "star" and star.x[0] == 0.03 and star.y[0] == 0.97
    assert "<a href" not in star.text[0] and "&lt;a href" in star.text[0]


def test_the_sweep_has_a_row_per_model_and_batch_with_what_each_run_recorded():
    result = _result(np.random.default_rng(2))
    result["sweep"] = [{"method": m, "how": h, "precision": p, "runtime": "onnxruntime",
                        "provider": "CPUExecutionProvider", "batch_size": b, "p50_ms": 0.01 * b, "p95_ms": 0.02 * b,
                        "throughput_per_s": 1000.0 * b, "skewed": b == 32, "accuracy_mean": 0.9, "run_id": "a" * 16}
                       for m, h, p in [("original", "", "as uploaded"), ("prune", "channels", "fp32"),
                                       ("dynamic-int8", "", "int8")] for b in (1, 32)]
    info = compress.sweep_info(result)
    assert len(info) == 6 and set(info["model"]) == {"original", "prune (channels)", "dynamic-int8"}
    assert (info["runs_on"] == "onnxruntime · CPUExecutionProvider").all()
    fig = compress.sweep_figure(info)
    assert [t.name.split(" · ")[0] for t in fig.data] == ["original", "prune (channels)", "dynamic-int8"]
    assert list(fig.data[0].marker.symbol) == ["circle", "circle-open"]  # batch 32 was measured on a busy machine
    assert compress.sweep_figure(compress.sweep_info({})).layout.annotations  # nothing measured: says so


def test_pruning_alone_is_one_line_per_pruned_variant_with_its_own_ratio():
    result = {"variants": [
        {"method": "prune", "flavour": "magnitude",
         "details": {"pruning_alone": {"rebuild_p50_ms": 0.05, "pruned_p50_ms": 0.04, "speedup": 1.25, "skewed": False}}},
        {"method": "prune", "flavour": "channels\x1b[2J**x**",  # a hostile field: one printable line
         "details": {"pruning_alone": {"rebuild_p50_ms": 0.05, "pruned_p50_ms": 0.1, "speedup": 0.5, "skewed": True}}},
        {"method": "prune", "flavour": "magnitude", "details": {"pruning_alone": {"error": "RuntimeError: x"}}},
        {"method": "onnx", "flavour": "", "details": None}]}
    lines = compress.pruning_alone_lines(result)
    assert len(lines) == 2 and all(line.isprintable() for line in lines)
    assert "0.0500 ms, pruned 0.0400 ms, 1.25x" in lines[0] and "busy" not in lines[0]
    assert "0.50x" in lines[1] and "measured while the machine was busy" in lines[1] and "\\x1b" in lines[1]
    assert compress.pruning_alone_lines(None) == []
