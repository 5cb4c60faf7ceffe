"""engine.charts: the info records match scikit-learn computed independently; figures have one trace per model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from engine import charts


# ----------------------------------------------------------------- fixtures
def _predictions(n: int, n_classes: int, *, seed: int, skill: float = 2.0, proba: bool = True) -> pd.DataFrame:
    """Out-of-fold-like predictions: informative but imperfect probabilities."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    logits = rng.normal(size=(n, n_classes))
    logits[np.arange(n), y] += skill
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"row": np.arange(n), "fold": np.arange(n) % 3, "y_true": y, "y_pred": p.argmax(axis=1)})
    if proba:
        for k in range(n_classes):
            frame[f"proba_{k}"] = p[:, k]
    return frame


@pytest.fixture(scope="module")
def multi() -> dict[str, pd.DataFrame]:
    return {"model A": _predictions(300, 4, seed=0), "model B": _predictions(300, 4, seed=1, skill=1.0)}


@pytest.fixture(scope="module")
def binary() -> dict[str, pd.DataFrame]:
    return {"good": _predictions(200, 2, seed=2, skill=2.5), "weak": _predictions(200, 2, seed=3, skill=0.5)}


CLASSES4 = ["cat", "dog", "eel", "fox"]


@pytest.fixture(scope="module")
def iris_predictions() -> tuple[pd.DataFrame, list]:
    """Real out-of-fold predictions from the engine's own evaluation on iris."""
    from sklearn.linear_model import LogisticRegression

    from engine import datasets
    from engine.measure.evaluate import evaluate, folds
    from engine.models.predictors import SklearnPredictor

    prep = datasets.prepare(datasets.builtin("iris"), n_splits=3)
    ev = evaluate(SklearnPredictor(LogisticRegression(max_iter=500)), prep, folds(prep, n_splits=3, seed=0),
                  refit=True)
    return ev.predictions, [c.item() for c in prep.classes]


# ---------------------------------------------------------------- confusion
def test_confusion_counts_match_sklearn(multi):
    preds = multi["model B"]
    info = charts.confusion_matrix_info(preds, CLASSES4)
    expected = skm.confusion_matrix(preds["y_true"], preds["y_pred"], labels=range(4))
    assert info["count"].to_numpy().reshape(4, 4).tolist() == expected.tolist()
    assert list(info["true"].unique()) == CLASSES4 and list(info["predicted"].unique()) == CLASSES4
    frac = skm.confusion_matrix(preds["y_true"], preds["y_pred"], labels=range(4), normalize="true")
    np.testing.assert_allclose(info["fraction"].to_numpy().reshape(4, 4), frac)


def test_confusion_figure_is_one_labelled_heatmap(multi):
    info = charts.confusion_matrix_info(multi["model A"], CLASSES4, normalize=True)
    fig = charts.confusion_matrix_figure(info, title="model A")
    assert len(fig.data) == 1 and fig.data[0].type == "heatmap"
    assert list(fig.data[0].x) == CLASSES4
    assert fig.data[0].zmax == 1
    counts = charts.confusion_matrix_figure(info, normalize=False).data[0]
    assert np.asarray(counts.z).sum() == len(multi["model A"])


def test_confusion_keeps_classes_never_predicted():
    preds = pd.DataFrame({"row": range(4), "fold": 0, "y_true": [0, 1, 2, 2], "y_pred": [0, 0, 0, 0]})
    info = charts.confusion_matrix_info(preds, ["a", "b", "c"])
    assert len(info) == 9
    assert info.set_index(["true", "predicted"]).loc[("c", "a"), "count"] == 2


# ---------------------------------------------------------------------- ROC
def test_roc_per_class_and_averages_match_sklearn(multi):
    info = charts.roc_curve_info(multi, CLASSES4)
    assert set(info["model"]) == set(multi)
    for label, preds in multi.items():
        y = preds["y_true"].to_numpy()
        proba = preds[[f"proba_{k}" for k in range(4)]].to_numpy()
        auc = info[info["model"] == label].groupby("curve")["auc"].first()
        assert set(auc.index) == {*CLASSES4, "micro", "macro"}
        for k, name in enumerate(CLASSES4):
            assert auc[name] == pytest.approx(skm.roc_auc_score(y == k, proba[:, k]))
        assert auc["macro"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))
        onehot = np.eye(4)[y]
        assert auc["micro"] == pytest.approx(skm.roc_auc_score(onehot, proba, average="micro"))
        # each curve starts at (0, 0) and ends at (1, 1) and the macro curve's area is close to its AUC
        for _, g in info[info["model"] == label].groupby("curve"):
            assert g["fpr"].iloc[0] == 0 and g["tpr"].iloc[-1] == pytest.approx(1)
        macro = info[(info["model"] == label) & (info["curve"] == "macro")]
        assert skm.auc(macro["fpr"], macro["tpr"]) == pytest.approx(auc["macro"], abs=0.01)


def test_roc_binary_is_the_positive_class_only(binary):
    info = charts.roc_curve_info(binary, ["neg", "pos"])
    assert set(info["curve"]) == {"pos"}
    for label, preds in binary.items():
        area = info.loc[info["model"] == label, "auc"].iloc[0]
        assert area == pytest.approx(skm.roc_auc_score(preds["y_true"], preds["proba_1"]))
    assert charts.available_curves(info) == ["pos"]
    fig = charts.roc_curve_figure(info)  # "macro" falls back to the single binary curve
    assert [t.name for t in fig.data[1:]] == [f"{m} (AUC {info.loc[info['model'] == m, 'auc'].iloc[0]:.3f})"
                                              for m in binary]


def test_roc_figure_has_one_trace_per_model_plus_chance(multi):
    info = charts.roc_curve_info(multi, CLASSES4)
    for curve in ("macro", "micro", "dog"):
        fig = charts.roc_curve_figure(info, curve=curve)
        assert len(fig.data) == 1 + len(multi)
        assert fig.data[0].name == "chance"
        assert all(t.name.startswith(m) for t, m in zip(fig.data[1:], multi, strict=True))


def test_curves_skip_models_without_probabilities(multi):
    preds = dict(multi) | {"labels only": _predictions(300, 4, seed=5, proba=False)}
    assert not charts.has_probabilities(preds["labels only"])
    roc = charts.roc_curve_info(preds, CLASSES4)
    pr = charts.pr_curve_info(preds, CLASSES4)
    cal = charts.calibration_info(preds)
    for info in (roc, pr, cal):
        assert "labels only" not in set(info["model"])
    empty = charts.roc_curve_info({"labels only": preds["labels only"]}, CLASSES4)
    assert empty.empty
    assert len(charts.roc_curve_figure(empty).layout.annotations) == 1  # says why there is no curve


# ----------------------------------------------------------------------- PR
def test_pr_average_precision_matches_sklearn(multi):
    info = charts.pr_curve_info(multi, CLASSES4)
    for label, preds in multi.items():
        y = preds["y_true"].to_numpy()
        proba = preds[[f"proba_{k}" for k in range(4)]].to_numpy()
        onehot = np.eye(4)[y]
        ap = info[info["model"] == label].groupby("curve")["average_precision"].first()
        for k, name in enumerate(CLASSES4):
            assert ap[name] == pytest.approx(skm.average_precision_score(y == k, proba[:, k]))
        assert ap["macro"] == pytest.approx(skm.average_precision_score(onehot, proba, average="macro"))
        assert ap["micro"] == pytest.approx(skm.average_precision_score(onehot, proba, average="micro"))
        prevalence = info[(info["model"] == label) & (info["curve"] == "dog")]["prevalence"].iloc[0]
        assert prevalence == pytest.approx((y == 1).mean())
    assert charts.available_curves(info)[:2] == ["macro", "micro"]
    fig = charts.pr_curve_figure(info, curve="micro")
    assert len(fig.data) == len(multi)


def test_pr_binary(binary):
    info = charts.pr_curve_info(binary, None)
    assert set(info["curve"]) == {"1"}
    for label, preds in binary.items():
        ap = info.loc[info["model"] == label, "average_precision"].iloc[0]
        assert ap == pytest.approx(skm.average_precision_score(preds["y_true"], preds["proba_1"]))


# -------------------------------------------------------------- calibration
def test_calibration_binary_matches_calibration_curve(binary):
    info = charts.calibration_info(binary, n_bins=5, classes=["neg", "pos"])
    for label, preds in binary.items():
        g = info[info["model"] == label]
        frac, mean = calibration_curve(preds["y_true"], preds["proba_1"], n_bins=5)
        np.testing.assert_allclose(g["fraction_positive"], frac)
        np.testing.assert_allclose(g["mean_predicted"], mean)
        assert g["count"].sum() == len(preds)
        assert g["kind"].iloc[0] == "P(class pos)"
        assert g["brier"].iloc[0] == pytest.approx(skm.brier_score_loss(preds["y_true"], preds["proba_1"]))
    fig = charts.calibration_figure(info)
    assert len(fig.data) == 1 + len(binary) and fig.data[0].name == "perfectly calibrated"


def test_calibration_multiclass_is_top_label(multi):
    info = charts.calibration_info(multi)
    preds = multi["model A"]
    proba = preds[[f"proba_{k}" for k in range(4)]].to_numpy()
    correct = proba.argmax(axis=1) == preds["y_true"].to_numpy()
    frac, mean = calibration_curve(correct, proba.max(axis=1), n_bins=10)
    g = info[info["model"] == "model A"]
    np.testing.assert_allclose(g["fraction_positive"], frac)
    np.testing.assert_allclose(g["mean_predicted"], mean)
    assert g["count"].sum() == len(preds)
    assert set(info["kind"]) == {"top-label confidence"}


# -------------------------------------------------------------- per class
def test_per_class_report_matches_sklearn(multi):
    preds = multi["model A"]
    info = charts.per_class_report_info(preds, CLASSES4)
    p, r, f, s = skm.precision_recall_fscore_support(preds["y_true"], preds["y_pred"], labels=range(4),
                                                     zero_division=0)
    rows = info[info["kind"] == "class"].set_index("label")
    assert list(rows.index) == CLASSES4
    np.testing.assert_allclose(rows["precision"], p)
    np.testing.assert_allclose(rows["recall"], r)
    np.testing.assert_allclose(rows["f1"], f)
    assert rows["support"].tolist() == s.tolist()
    macro = info.set_index("label").loc["macro avg"]
    assert macro["f1"] == pytest.approx(skm.f1_score(preds["y_true"], preds["y_pred"], average="macro"))


# ------------------------------------------------------------------ latency
def _samples(scale: float) -> pd.DataFrame:
    return pd.DataFrame({"batch_size": [1] * 5 + [32] * 3, "call": [0, 1, 2, 3, 4, 0, 1, 2],
                         "seconds": scale * np.array([1, 2, 3, 4, 5, 10, 11, 12]) * 1e-3})


def test_latency_distribution_info_in_ms_at_one_batch_size():
    info = charts.latency_distribution_info({"a": _samples(1.0), "b": _samples(2.0), "none": pd.DataFrame()},
                                            batch_size=1)
    assert set(info["model"]) == {"a", "b"}
    np.testing.assert_allclose(info.loc[info["model"] == "b", "ms"], [2, 4, 6, 8, 10])
    assert (info["batch_size"] == 1).all()
    fig = charts.latency_distribution_figure(info)
    assert len(fig.data) == 2 and fig.data[0].type == "box"
    assert charts.latency_distribution_figure(info, kind="violin").data[0].type == "violin"
    assert charts.latency_distribution_info({"a": _samples(1.0)}, batch_size=8).empty


def test_batch_sweep_info_and_figure():
    lat = pd.DataFrame({"batch_size": [32, 1], "p50_ms": [4.0, 1.0], "p95_ms": [5.0, 1.5], "p99_ms": [6.0, 2.0],
                        "throughput_per_s": [8000.0, 1000.0], "noisy": [False, True]})
    info = charts.batch_sweep_info({"m1": lat, "m2": lat.assign(p50_ms=lat["p50_ms"] * 2)})
    m1 = info[info["model"] == "m1"]
    assert m1["batch_size"].tolist() == [1, 32]
    assert m1["ms_per_row"].tolist() == [1.0, 4.0 / 32]
    fig = charts.batch_sweep_figure(info)
    assert len(fig.data) == 4  # throughput and p50 for each model
    assert sum(bool(t.showlegend is not False) for t in fig.data) == 2  # one legend entry per model
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type == "log"


# --------------------------------------------------------------- regression
def test_residuals_info_and_figure():
    preds = pd.DataFrame({"row": [0, 1, 2], "fold": [0, 1, 0], "y_true": [1.0, 2.0, 3.0],
                          "y_pred": [1.5, 2.0, 2.0]})
    info = charts.residuals_info({"ridge": preds, "copy": preds})
    assert info.loc[info["model"] == "ridge", "residual"].tolist() == [-0.5, 0.0, 1.0]
    fig = charts.residuals_figure(info)
    model_traces = [t for t in fig.data if t.name in ("ridge", "copy")]
    assert len(model_traces) == 4  # predicted-vs-actual and residual panels, per model
    assert sum(bool(t.showlegend is not False) for t in model_traces) == 2


# ------------------------------------------------------------- fold metrics
def test_fold_metrics_info_mean_std():
    folds = {"a": pd.DataFrame({"fold": [0, 1, 2], "accuracy": [0.8, 0.9, 1.0]}),
             "b": pd.DataFrame({"fold": [0, 1, 2], "accuracy": [0.5, 0.5, 0.5]})}
    info = charts.fold_metrics_info(folds, "accuracy")
    a = info[info["model"] == "a"]
    assert a["mean"].iloc[0] == pytest.approx(0.9) and a["std"].iloc[0] == pytest.approx(0.1)
    fig = charts.fold_metrics_figure(info, metric="accuracy")
    assert [t.name for t in fig.data if t.showlegend is not False] == ["a", "b"]
    assert charts.fold_metrics_info(folds, "rmse").empty


# ------------------------------------------------------------ results table
def test_results_table_keeps_numbers_numeric_and_drops_absent_metrics():
    runs = pd.DataFrame([
        {"model": "x", "dataset": "d", "task": "classification", "mode": "cv-refit", "format": "skops",
         "accuracy_mean": 0.9, "accuracy_std": 0.01, "roc_auc_mean": None, "roc_auc_std": None,
         "latency_p50_ms": 0.5, "latency_p95_ms": 0.7, "latency_p99_ms": 0.9, "throughput_per_s": 1e4,
         "size_bytes": 100, "run_id": "0123456789abcdef", "config": {"cv": 5}},
        {"model": "y", "dataset": "d", "task": "classification", "mode": "as-is", "format": "onnx",
         "accuracy_mean": 0.95, "accuracy_std": 0.02, "roc_auc_mean": None, "roc_auc_std": None,
         "latency_p50_ms": 0.1, "latency_p95_ms": 0.2, "latency_p99_ms": 0.3, "throughput_per_s": 5e4,
         "size_bytes": 200, "run_id": "fedcba9876543210", "config": {"cv": 5}},
    ])
    table = charts.results_table(runs)
    assert list(table.columns[:6]) == ["model", "dataset", "mode", "format", "accuracy_mean", "accuracy_std"]
    assert table.columns.get_loc("latency_p50_ms") < table.columns.get_loc("run_id")
    assert "roc_auc_mean" not in table and "config" not in table
    assert table["run_id"].tolist() == ["0123456789abcdef", "fedcba9876543210"]
    for col in ("accuracy_mean", "latency_p50_ms", "throughput_per_s", "size_bytes"):
        assert pd.api.types.is_numeric_dtype(table[col])
    assert table.sort_values("latency_p50_ms")["model"].tolist() == ["y", "x"]
    assert charts.results_table(pd.DataFrame()).empty


def test_tradeoff_info_and_figure():
    runs = pd.DataFrame({"model": ["x", "y", "no latency"], "accuracy_mean": [0.9, 0.95, 0.99],
                         "accuracy_std": [0.01, 0.02, 0.0], "latency_p50_ms": [0.5, 0.1, None],
                         "throughput_per_s": [1e3, 1e4, None], "size_bytes": [10, 20, 30]})
    info = charts.tradeoff_info(runs, "accuracy", labels=["X", "Y", "Z"])
    assert info["model"].tolist() == ["X", "Y"]
    assert info["mean"].tolist() == [0.9, 0.95] and info["latency_p50_ms"].tolist() == [0.5, 0.1]
    fig = charts.tradeoff_figure(info)
    assert len(fig.data) == 2 and fig.layout.xaxis.type == "log"
    assert charts.tradeoff_info(runs, "rmse").empty


def test_unique_labels():
    assert charts.unique_labels(["a", "b", "a"], ["111111aa", "222222bb", "333333cc"]) == [
        "a (111111)", "b", "a (333333)"]


# ------------------------------------------------------ real engine output
def test_real_out_of_fold_predictions(iris_predictions):
    preds, classes = iris_predictions
    roc = charts.roc_curve_info({"logreg": preds}, classes)
    proba = preds[["proba_0", "proba_1", "proba_2"]].to_numpy()
    macro = roc.loc[roc["curve"] == "macro", "auc"].iloc[0]
    assert macro == pytest.approx(skm.roc_auc_score(preds["y_true"], proba, multi_class="ovr"))
    cm = charts.confusion_matrix_info(preds, classes)
    assert cm["count"].sum() == 150
    assert set(cm["true"]) == {str(c) for c in classes}
    report = charts.per_class_report_info(preds, classes)
    assert report.loc[report["kind"] == "class", "support"].tolist() == [50, 50, 50]


def test_charts_module_does_not_import_streamlit():
    code = "import sys, engine.charts; sys.exit('streamlit' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
