"""The ``python -m engine benchmark`` contract of DESIGN.md: JSON shape, labels, modes, options."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from frontier_support import DIGITS_ONNX_NAME, FAST_BENCH, copy_workspace, run_cli, sample
from sklearn import datasets as skd
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

REQUIRED = ("run_id", "model", "format", "mode", "n_folds", "accuracy_mean", "accuracy_std", "f1_macro_mean",
            "roc_auc_mean", "log_loss_mean", "latency_p50_ms", "latency_p95_ms", "throughput_per_s",
            "size_bytes", "cached")
REGRESSION = ("rmse_mean", "mae_mean", "r2_mean")
FORMATS = {"digits_mlp.onnx": "onnx", "digits_logreg.skops": "skops", "digits_random_forest.skops": "skops",
           "digits_mlp.pt2": "torch_export", "digits_mlp.pt": "torchscript"}


def _one_json_document(stdout: str):
    doc, end = json.JSONDecoder().raw_decode(stdout)
    assert stdout[end:].strip() == "", "anything after the JSON document"
    assert stdout.count("\n") <= 1
    return doc


def test_json_output_is_one_document_with_the_required_fields(digits_comparison):
    r = digits_comparison.result
    doc = _one_json_document(r.stdout)
    assert list(doc) == ["runs"]
    assert "Traceback" not in r.stderr
    runs = doc["runs"]
    assert len(runs) == len(digits_comparison.files)
    for file, run in zip(digits_comparison.files, runs, strict=True):
        missing = [k for k in REQUIRED if k not in run]
        assert not missing, f"{file}: missing {missing}"
        assert re.fullmatch(r"[0-9a-f]{16}", run["run_id"])
        assert run["format"] == FORMATS[file]
        assert run["n_folds"] == 5 and isinstance(run["n_folds"], int)
        assert run["cached"] is False
        assert run["size_bytes"] == sample(file).stat().st_size
        for m in ("accuracy_mean", "f1_macro_mean", "roc_auc_mean"):
            assert 0.9 < run[m] <= 1.0, (file, m, run[m])
        assert 0 <= run["accuracy_std"] < 0.05
        assert 0 < run["log_loss_mean"] < 0.5
        assert 0 < run["latency_p50_ms"] <= run["latency_p95_ms"]
        assert run["throughput_per_s"] > 0
        assert run["task"] == "classification" and run["n_features"] == 64 and run["n_rows"] == 1797
    assert len({r["run_id"] for r in runs}) == len(runs)


def test_modes_and_names(digits_comparison):
    modes = {f: digits_comparison.run_for(f)["mode"] for f in digits_comparison.files}
    # scikit-learn models are refit per fold; every other format is always as-is
    assert modes == {"digits_mlp.onnx": "as-is", "digits_logreg.skops": "cv-refit",
                     "digits_random_forest.skops": "cv-refit", "digits_mlp.pt2": "as-is", "digits_mlp.pt": "as-is"}
    names = [r["model"] for r in digits_comparison.runs]
    assert names == [DIGITS_ONNX_NAME, *digits_comparison.files[1:]]  # --name labels the first model only


# ------------------------------------------- as-is, --drop, --name, nulls
@pytest.fixture(scope="module")
def breast_cancer_run(tmp_path_factory):
    """Two fitted skops models on breast_cancer minus two columns, evaluated --as-is."""
    tmp = tmp_path_factory.mktemp("bc")
    d = skd.load_breast_cancer(as_frame=True)
    X = d.data.rename(columns=lambda c: c.replace(" ", "_")).drop(columns=["mean_radius", "mean_texture"])
    y = d.target.to_numpy()
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)
    svc = make_pipeline(StandardScaler(), LinearSVC()).fit(X, y)  # no predict_proba
    (tmp / "lr.skops").write_bytes(sio.dumps(lr))
    (tmp / "svc.skops").write_bytes(sio.dumps(svc))
    ws = tmp / "ws"
    r = run_cli("benchmark", "--model", tmp / "lr.skops", "--model", tmp / "svc.skops", "--name", "My LR",
                "--data", "breast_cancer", "--as-is", "--drop", "mean_radius", "--drop", "mean_texture",
                "--workspace", ws, "--json", "--no-latency", "--threads", "1")
    assert r.returncode == 0, str(r)
    return {"result": r, "runs": r.json["runs"], "ws": ws, "X": X, "y": y, "models": (lr, svc)}


def test_as_is_drop_and_name(breast_cancer_run):
    lr_run, svc_run = breast_cancer_run["runs"]
    assert (lr_run["model"], svc_run["model"]) == ("My LR", "svc.skops")
    for run in (lr_run, svc_run):
        assert run["mode"] == "as-is" and run["format"] == "skops"
        assert run["n_features"] == 28
        assert run["config"]["drop"] == ["mean_radius", "mean_texture"]
        assert run["latency_p50_ms"] is None and run["throughput_per_s"] is None  # --no-latency
    # oracle: the fitted models' own predictions on each fold's rows (28 named columns)
    X, y = breast_cancer_run["X"], breast_cancer_run["y"]
    for est, run in zip(breast_cancer_run["models"], (lr_run, svc_run), strict=True):
        folds = pd.read_parquet(breast_cancer_run["ws"] / "results" / run["run_id"] / "folds.parquet")
        pred = est.predict(X)
        expected = [skm.accuracy_score(y[te], pred[te])
                    for _, te in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)]
        np.testing.assert_allclose(folds["accuracy"], expected, atol=1e-12)
        assert run["accuracy_mean"] == pytest.approx(np.mean(expected), abs=1e-12)


def test_undefined_metrics_are_null(breast_cancer_run):
    raw = json.loads(breast_cancer_run["result"].stdout)["runs"][1]
    assert raw["roc_auc_mean"] is None and raw["log_loss_mean"] is None  # no probabilities: undefined
    assert raw["accuracy_mean"] is not None
    assert "NaN" not in breast_cancer_run["result"].stdout


# ------------------------------------------------------------ regression
def test_regression_runs_carry_regression_metrics(tmp_path):
    ws = tmp_path / "ws"
    r = run_cli("benchmark", "--model", sample("diabetes_ridge.skops"), "--data", "diabetes",
                "--workspace", ws, "--json", *FAST_BENCH)
    assert r.returncode == 0, str(r)
    (run,) = _one_json_document(r.stdout)["runs"]
    assert run["task"] == "regression" and run["mode"] == "cv-refit" and run["n_folds"] == 5
    for k in (*REGRESSION, "run_id", "model", "format", "latency_p50_ms", "size_bytes", "cached"):
        assert k in run, k
    assert not any(k.startswith(("accuracy", "f1_", "roc_auc", "log_loss")) for k in run)

    ridge = sio.load(sample("diabetes_ridge.skops"))
    d = skd.load_diabetes(as_frame=True)
    cv = cross_validate(ridge, d.data, d.target, cv=KFold(5, shuffle=True, random_state=0),
                        scoring=["neg_root_mean_squared_error", "neg_mean_absolute_error", "r2"])
    assert run["rmse_mean"] == pytest.approx(-cv["test_neg_root_mean_squared_error"].mean(), rel=1e-9)
    assert run["mae_mean"] == pytest.approx(-cv["test_neg_mean_absolute_error"].mean(), rel=1e-9)
    assert run["r2_mean"] == pytest.approx(cv["test_r2"].mean(), rel=1e-9)
    assert run["rmse_std"] == pytest.approx(cv["test_neg_root_mean_squared_error"].std(ddof=1), rel=1e-6)


# ----------------------------------------------------------- human output
def test_table_output_without_json(digits_comparison, tmp_path):
    ws = copy_workspace(digits_comparison.workspace, tmp_path / "ws")
    args = [a for a in digits_comparison.result.args if a != "--json"]
    args[args.index("--workspace") + 1] = str(ws)
    r = run_cli(*args)
    assert r.returncode == 0, str(r)
    lines = r.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["model", "mode", "accuracy"]
    assert len(lines) == 1 + len(digits_comparison.runs)
    for line, run in zip(lines[1:], digits_comparison.runs, strict=True):
        assert line.startswith(run["model"])
        assert f"{run['accuracy_mean']:.4f} ± {run['accuracy_std']:.4f}" in line
        assert line.rstrip().endswith("yes")  # served from the store
    assert all(run["run_id"] in r.stderr for run in digits_comparison.runs)
    assert "Traceback" not in r.stderr


def test_help_exits_cleanly():
    r = run_cli("benchmark", "--help")
    assert r.returncode == 0
    for option in ("--model", "--data", "--target", "--cv", "--seed", "--as-is", "--drop", "--name", "--trust",
                   "--json", "--workspace"):
        assert option in r.stdout
