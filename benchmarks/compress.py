"""Compress on CPU: the best variant within the gate against the original, and ONNX Runtime fp32 against
torch eager, for the digits MLP and CNN samples.

* ``compress --method auto`` on each sample (TorchScript originals): the speedup at batch 1 of the fastest
  variant that loses at most the gate (1 point), original and variants timed by the same harness in the same
  job. Goal: at least 1.0 (auto should find something no slower); the table also names the variant.
* A bare ``perf_counter`` loop, one thread, batch 1, the two sides interleaved in rounds: torch *eager* fp32
  (the sample's own ``nn.Module`` with the TorchScript's weights) against an ONNX Runtime session of the
  bundled ``.onnx`` export. Informational: Frontier measures this, it does not assume it.
* The harness against the bare loop: the ``onnx`` variant's speedup over the TorchScript original as the
  job measured it, divided by the same ratio from a bare loop (TorchScript vs ONNX Runtime). Goal: within
  a factor of 2 (the job's figure is one a bare loop would sign).
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from benchmarks.common import SAMPLES, cli, row, scratch

CASES = (("digits_mlp", "digits_holdout", "MLP"), ("digits_cnn", "digits_images_holdout", "CNN"))
ROUNDS, CALLS = 15, 400


def _bare(fns: dict[str, Any]) -> dict[str, float]:
    """Median seconds per call of each function, timed in interleaved rounds of ``CALLS`` calls."""
    for fn in fns.values():  # warm up
        for _ in range(50):
            fn()
    per: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(ROUNDS):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(CALLS):
                fn()
            per[name].append((time.perf_counter() - t0) / CALLS)
    return {k: statistics.median(v) for k, v in per.items()}


def _loops(stem: str) -> dict[str, float]:
    import numpy as np
    import onnxruntime as ort
    import torch

    from sample_models import nets

    torch.set_num_threads(1)
    scripted = torch.jit.load(str(SAMPLES / f"{stem}.pt")).eval()
    eager = (nets.DigitsMLP() if "mlp" in stem else nets.DigitsCNN()).eval()
    eager.load_state_dict(scripted.state_dict())
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(SAMPLES / f"{stem}.onnx"), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = (np.arange(64, dtype=np.float32) % 17).reshape((1, 64) if "mlp" in stem else (1, 1, 8, 8))
    xt = torch.from_numpy(x)
    with torch.inference_mode():
        assert np.allclose(eager(xt).numpy(), session.run(None, {name: x})[0], atol=1e-4)

        def run_eager() -> None:
            eager(xt)

        def run_scripted() -> None:
            scripted(xt)

        return _bare({"eager": run_eager, "torchscript": run_scripted,
                      "onnxruntime": lambda: session.run(None, {name: x})})


def bench_compress() -> list[dict[str, Any]]:
    rows = []
    for stem, data, label in CASES:
        with scratch() as tmp:
            _, out = cli("compress", "--model", SAMPLES / f"{stem}.pt", "--trust", "--data", data, "--method",
                         "auto", "--cv", "3", "--threads", "1", "--batch-sizes", "1", "--latency-time", "0.5",
                         "--latency-count", "200", "--workspace", tmp / "ws", "--json")
        doc = json.loads(out)
        o = doc["original"]
        passing = [v for v in doc["variants"] if v["gate_passed"] and v.get("speedup")]
        best = max(passing, key=lambda v: v["speedup"], default=None)
        if best is not None:
            name = best["method"] + (f" ({best['flavour'] or best['backend']})" if best["backend"] == "torch" else "")
            rows.append(row(f"{label}: fastest variant within the 1-point gate vs the original, p50 batch 1 "
                            f"({len(doc['variants'])} variants)",
                            f"TorchScript original {o['latency_p50_ms'] * 1000:.1f} µs",
                            f"{name} {best['latency_p50_ms'] * 1000:.1f} µs, Δ {best['accuracy_delta']:+.2f} pts",
                            best["speedup"], "≥ 1.0", best["speedup"] >= 1.0))
        t = _loops(stem)
        rows.append(row(f"{label}: ONNX Runtime fp32 vs torch eager fp32, bare loop, batch 1, 1 thread",
                        f"torch eager {t['eager'] * 1e6:.1f} µs", f"ONNX Runtime {t['onnxruntime'] * 1e6:.1f} µs",
                        t["eager"] / t["onnxruntime"], "measured (no goal)", None))
        onnx = next((v for v in doc["variants"] if v["method"] == "onnx"), None)
        if onnx is not None and onnx.get("speedup"):
            bare = t["torchscript"] / t["onnxruntime"]
            agreement = onnx["speedup"] / bare
            rows.append(row(f"{label}: the job's ONNX-vs-TorchScript speedup against a bare loop's",
                            f"bare loop {bare:.2f}x", f"harness {onnx['speedup']:.2f}x", agreement,
                            "0.5 – 2.0", 0.5 <= agreement <= 2.0))
    return rows
