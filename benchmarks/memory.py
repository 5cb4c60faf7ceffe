"""Peak memory of the whole process tree (CLI, supervisor, worker) against the feature bytes, 1M rows."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import PYTHON, ROOT, TreePeak, row, scratch

N_ROWS, N_FEATURES = 1_000_000, 50


def _table(path: Path) -> int:
    """A 1M x 50 float64 table with a 3-class target; returns the feature bytes (float64, as stored)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_ROWS, N_FEATURES))
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(N_FEATURES)])
    frame["target"] = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    frame.to_parquet(path, index=False)
    return X.nbytes


def _onnx_logreg(path: Path) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    X = rng.normal(size=(5000, N_FEATURES)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    model = LogisticRegression(max_iter=300).fit(X, y)
    path.write_bytes(to_onnx(model, X[:1], options={id(model): {"zipmap": False}}).SerializeToString())


def _peak(args: list[str]) -> tuple[int, float]:
    proc = subprocess.Popen([PYTHON, "-m", "engine", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    peak = TreePeak(proc.pid)
    out, err = proc.communicate()
    top = peak.stop()
    if proc.returncode != 0:
        raise RuntimeError(err[-500:])
    return top, json.loads(out)["runs"][0].get("accuracy_mean")


def bench_memory() -> list[dict[str, Any]]:
    with scratch() as tmp:
        feature_bytes = _table(tmp / "big.parquet")
        _onnx_logreg(tmp / "logreg50.onnx")
        common = ["--data", str(tmp / "big.parquet"), "--target", "target", "--json", "--threads",
                  str(os.cpu_count() or 1), "--latency-time", "0.05", "--latency-count", "5"]
        first, _ = _peak(["benchmark", "--model", str(tmp / "logreg50.onnx"), "--workspace", str(tmp / "ws"),
                          *common])
        again, _ = _peak(["benchmark", "--model", str(tmp / "logreg50.onnx"), "--workspace", str(tmp / "ws"),
                          *common])
    mb = 2**20
    return [
        row("peak memory of the process tree (CLI + supervisor + worker) / feature bytes: 1M x 50 float64 "
            "Parquet, ONNX logistic regression, 5 folds", f"{feature_bytes / mb:.0f} MB", f"{first / mb:.0f} MB",
            first / feature_bytes, "≤ 3x", first / feature_bytes <= 3),
        row("same request again, served from the store: peak memory / feature bytes",
            f"{feature_bytes / mb:.0f} MB", f"{again / mb:.0f} MB", again / feature_bytes, "(informational)",
            None),
    ]
