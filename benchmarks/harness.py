"""Latency harness p50 against a bare ``time.perf_counter`` loop around the same ONNX Runtime call."""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from benchmarks.common import SAMPLES, row


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
        rows.append(row(f"latency harness p50 / bare loop (ONNX MLP, batch {batch})",
                        f"{statistics.median(bare) * 1e6:.2f} µs", f"{statistics.median(harness) * 1e6:.2f} µs",
                        ratio, "1.00 ± 0.05", abs(ratio - 1.0) <= 0.05))
    return rows
