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
    info = charts.confusion_matrix_info(multi["model A"], CLASSES4)
    fig = charts.confusion_matrix_figure(info, title="model A", normalize=True)
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
@pytest.mark.parametrize("decimals", [1, 2])
def test_per_class_areas_from_the_curves_equal_sklearns_own_on_tied_scores(decimals):
    """ROC-AUC and AP (per class, micro, macro) are read off the curves (one sort, not two): with coarse, tied
    probabilities, where a careless step sum would differ, they still equal scikit-learn's."""
    preds = _predictions(400, 4, seed=5, skill=1.0)
    for k in range(4):
        preds[f"proba_{k}"] = preds[f"proba_{k}"].round(decimals)
    y = preds["y_true"].to_numpy()
    proba = preds[[f"proba_{k}" for k in range(4)]].to_numpy()
    auc = charts.roc_curve_info({"m": preds}, CLASSES4).groupby("curve")["auc"].first()
    ap = charts.pr_curve_info({"m": preds}, CLASSES4).groupby("curve")["average_precision"].first()
    for k, name in enumerate(CLASSES4):
        assert auc[name] == pytest.approx(skm.roc_auc_score(y == k, proba[:, k]), abs=1e-12)
        assert ap[name] == pytest.approx(skm.average_precision_score(y == k, proba[:, k]), abs=1e-12)
    onehot = np.eye(4)[y]
    for average in ("micro", "macro"):
        assert auc[average] == pytest.approx(skm.roc_auc_score(onehot, proba, average=average), abs=1e-12)
        assert ap[average] == pytest.approx(skm.average_precision_score(onehot, proba, average=average), abs=1e-12)


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
    assert m1["skewed"].tolist() == [True, False]  # an older run's "noisy" column reads as the skew flag
    assert list(fig.data[1].marker.symbol) == ["x", "circle"]  # skewed points are drawn as crosses


def test_batch_sweep_reads_the_skew_flag_and_reason():
    lat = pd.DataFrame({"batch_size": [1, 8], "p50_ms": [1.0, 2.0], "p95_ms": [1.5, 2.5], "p99_ms": [2.0, 3.0],
                        "throughput_per_s": [1e3, 4e3], "skewed": [False, True],
                        "skew_reason": [None, "descheduled 40% of the time"]})
    info = charts.batch_sweep_info({"m": lat})
    assert info["skewed"].tolist() == [False, True]
    assert info["skew_reason"].tolist() == ["", "descheduled 40% of the time"]


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
def test_results_table_puts_decision_columns_first_and_keeps_numbers_numeric():
    runs = pd.DataFrame([
        {"model": "x", "dataset": "d", "task": "classification", "mode": "cv-refit", "format": "skops",
         "accuracy_mean": 0.9, "accuracy_std": 0.01, "roc_auc_mean": None, "roc_auc_std": None,
         "f1_macro_mean": 0.88, "f1_macro_std": 0.02,
         "latency_p50_ms": 0.5, "latency_p95_ms": 0.7, "latency_p99_ms": 0.9, "throughput_per_s": 1e4,
         "size_bytes": 100, "run_id": "0123456789abcdef", "config": {"cv": 5}},
        {"model": "y", "dataset": "d", "task": "classification", "mode": "as-is", "format": "onnx",
         "accuracy_mean": 0.95, "accuracy_std": 0.02, "roc_auc_mean": None, "roc_auc_std": None,
         "f1_macro_mean": 0.80, "f1_macro_std": 0.03,
         "latency_p50_ms": 0.1, "latency_p95_ms": 0.2, "latency_p99_ms": 0.3, "throughput_per_s": 5e4,
         "size_bytes": 200, "run_id": "fedcba9876543210", "config": {"cv": 5}},
    ])
    info = charts.results_table_info(runs)
    assert info.decision_columns == ("model", "accuracy_mean", "accuracy_std", "latency_p50_ms", "latency_p95_ms",
                                     "throughput_per_s", "size_bytes")
    table = info.frame
    assert list(table.columns[:7]) == list(info.decision_columns)
    assert set(info.other_columns) == set(table.columns) - set(info.decision_columns)
    assert "roc_auc_mean" not in table and "config" not in table
    assert table["run_id"].tolist() == ["fedcba9876543210", "0123456789abcdef"]  # best accuracy first
    for col in ("accuracy_mean", "latency_p50_ms", "throughput_per_s", "size_bytes"):
        assert pd.api.types.is_numeric_dtype(table[col])
    assert charts.results_table(pd.DataFrame()).empty


def _brute_force_best(table: pd.DataFrame, column: str, higher: bool) -> tuple[int, ...]:
    values = [v for v in table[column].tolist() if v == v]
    target = max(values) if higher else min(values)
    return tuple(i for i, v in enumerate(table[column].tolist()) if v == target)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_results_table_sorts_by_the_primary_metric_and_marks_the_best_like_brute_force(task):
    from engine import metrics

    rng = np.random.default_rng(7)
    n = 12
    runs = pd.DataFrame({"model": [f"m{i}" for i in range(n)], "task": task,
                         "latency_p50_ms": rng.choice([0.1, 0.2, 0.3], n), "throughput_per_s": rng.random(n) * 1e4,
                         "size_bytes": rng.integers(1, 5, n)})
    for m in metrics.for_task(task):
        runs[f"{m.name}_mean"] = rng.choice([0.5, 0.7, 0.9, np.nan], n)
        runs[f"{m.name}_std"] = 0.01
    info = charts.results_table_info(runs)
    primary = metrics.primary(task)
    assert info.primary == (primary.name,)
    ranked = info.frame[f"{primary.name}_mean"].to_numpy(dtype=float)
    finite = ranked[~np.isnan(ranked)]
    assert list(finite) == sorted(finite, reverse=primary.higher_is_better)  # best first
    assert np.isnan(ranked[len(finite):]).all()  # runs without the metric last
    for m in metrics.for_task(task):
        column = f"{m.name}_mean"
        assert info.higher_is_better[column] is m.higher_is_better
        assert info.best[column] == _brute_force_best(info.frame, column, m.higher_is_better)
    assert info.best["latency_p50_ms"] == _brute_force_best(info.frame, "latency_p50_ms", False)
    assert info.best["throughput_per_s"] == _brute_force_best(info.frame, "throughput_per_s", True)
    assert info.best["size_bytes"] == _brute_force_best(info.frame, "size_bytes", False)


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


# ------------------------------------------------------ plain-text labels
HOSTILE = '<a href="http://evil.example/">click</a> <b>bold</b> <img src=x>'


def _all_text(fig) -> str:
    """Every string Plotly would render as (limited) HTML in a figure."""
    parts = [str(fig.layout.title.text or "")]
    for trace in fig.data:
        for attr in ("name", "hovertemplate", "x", "y", "text"):
            value = getattr(trace, attr, None)
            if isinstance(value, str):
                parts.append(value)
            elif value is not None and attr in ("x", "y", "text"):
                parts += [str(v) for v in np.ravel(np.asarray(value, dtype=object))]
    for axis in ("xaxis", "yaxis"):
        ticks = getattr(fig.layout, axis).ticktext
        parts += [str(t) for t in ticks or ()]
    parts += [str(a.text) for a in fig.layout.annotations or ()]
    return "\n".join(parts)


def test_user_strings_are_drawn_as_plain_text_in_every_chart(multi, binary):
    """A model or class name carrying HTML must not become a link or an image inside a chart."""
    preds = {HOSTILE: multi["model A"]}
    classes = [HOSTILE, "b", "c", "d"]
    folds = {HOSTILE: pd.DataFrame({"fold": [0, 1], "accuracy": [0.8, 0.9]})}
    runs = pd.DataFrame({"model": [HOSTILE], "accuracy_mean": [0.9], "accuracy_std": [0.1],
                         "latency_p50_ms": [1.0], "throughput_per_s": [10.0], "size_bytes": [1]})
    lat = pd.DataFrame({"batch_size": [1, 8], "p50_ms": [1.0, 2.0], "p95_ms": [1.5, 2.5], "p99_ms": [2.0, 3.0],
                        "throughput_per_s": [1e3, 4e3], "noisy": [False, False]})
    samples = pd.DataFrame({"batch_size": 1, "call": range(5), "seconds": np.arange(1, 6) * 1e-3})
    reg = pd.DataFrame({"row": range(4), "fold": 0, "y_true": [1.0, 2, 3, 4], "y_pred": [1.1, 2, 2.9, 4.2]})
    roc = charts.roc_curve_info(preds, classes)
    pr = charts.pr_curve_info(preds, classes)
    figures = [
        charts.confusion_matrix_figure(charts.confusion_matrix_info(preds[HOSTILE], classes), title=HOSTILE),
        charts.roc_curve_figure(roc, curve=HOSTILE), charts.roc_curve_figure(roc),
        charts.pr_curve_figure(pr, curve=HOSTILE),
        charts.calibration_figure(charts.calibration_info({HOSTILE: binary["good"]}, classes=["x", HOSTILE])),
        charts.fold_metrics_figure(charts.fold_metrics_info(folds, "accuracy"), metric="accuracy"),
        charts.tradeoff_figure(charts.tradeoff_info(runs, "accuracy")),
        charts.latency_distribution_figure(charts.latency_distribution_info({HOSTILE: samples})),
        charts.batch_sweep_figure(charts.batch_sweep_info({HOSTILE: lat})),
        charts.residuals_figure(charts.residuals_info({HOSTILE: reg})),
    ]
    for fig in figures:
        text = _all_text(fig)
        assert "&lt;a href" in text or "&lt;b&gt;" in text, text[:500]  # the name is there, escaped
        for raw in ("<a ", "<b>", "<img"):
            assert raw not in text


# ------------------------------------------------------------- axis ranges
def test_a_perfect_bounded_metric_does_not_stretch_the_axis_to_two():
    folds = {"a": pd.DataFrame({"fold": [0, 1, 2], "accuracy": [1.0, 1.0, 1.0]}),
             "b": pd.DataFrame({"fold": [0, 1, 2], "accuracy": [1.0, 1.0, 1.0]})}
    fig = charts.fold_metrics_figure(charts.fold_metrics_info(folds, "accuracy"), metric="accuracy")
    low, high = fig.layout.yaxis.range
    assert low < 1.0 <= high <= 1.01
    runs = pd.DataFrame({"model": ["a"], "accuracy_mean": [1.0], "accuracy_std": [0.0], "latency_p50_ms": [0.2]})
    low, high = charts.tradeoff_figure(charts.tradeoff_info(runs, "accuracy")).layout.yaxis.range
    assert low < 1.0 <= high <= 1.01


def test_an_unbounded_metric_keeps_its_own_scale():
    folds = {"a": pd.DataFrame({"fold": [0, 1], "rmse": [40000.0, 42000.0]})}
    low, high = charts.fold_metrics_figure(charts.fold_metrics_info(folds, "rmse"), metric="rmse").layout.yaxis.range
    assert low < 40000 and 42000 < high < 45000


def test_log_axes_label_only_powers_of_ten_across_decades():
    runs = pd.DataFrame({"model": ["a", "b"], "accuracy_mean": [0.9, 0.8], "accuracy_std": [0.0, 0.0],
                         "latency_p50_ms": [0.01, 0.5]})
    axis = charts.tradeoff_figure(charts.tradeoff_info(runs, "accuracy")).layout.xaxis
    assert axis.type == "log" and axis.dtick == 1


def test_one_slow_call_does_not_flatten_a_linear_latency_box():
    rng = np.random.default_rng(0)
    seconds = np.concatenate([1e-3 + rng.normal(0, 2e-5, 200), [0.1]])  # 200 calls near 1 ms, one at 100 ms
    samples = pd.DataFrame({"batch_size": 1, "call": range(len(seconds)), "seconds": seconds})
    info = charts.latency_distribution_info({"m": samples})
    fig = charts.latency_distribution_figure(info, log_y=False)
    low, high = fig.layout.yaxis.range
    q3 = np.percentile(info["ms"], 75)
    assert low == 0 and q3 < high < 2.0  # the boxes fill the axis; the 100 ms call is off it...
    assert "1 slow call(s) above the axis" in fig.layout.annotations[0].text  # ...and the chart says so
    assert max(fig.data[0].y) == pytest.approx(100.0)  # still in the data (hover shows it)


def test_runs_that_need_care_say_why_next_to_the_model():
    runs = pd.DataFrame([
        {"model": "seen", "task": "classification", "accuracy_mean": 0.99, "rows_seen": True, "latency_skewed": False},
        {"model": "busy", "task": "classification", "accuracy_mean": 0.9, "rows_seen": None, "latency_skewed": True,
         "latency_skew_reason": "blocks disagree"},
        {"model": "clean", "task": "classification", "accuracy_mean": 0.8, "rows_seen": False,
         "latency_skewed": False},
    ])
    info = charts.results_table_info(runs)
    assert info.decision_columns[:2] == ("model", "caution")
    caution = dict(zip(info.frame["model"], info.frame["caution"], strict=True))
    assert caution == {"seen": "scored on rows it was trained on",
                       "busy": "latency measured on a busy machine (blocks disagree)", "clean": ""}
    bools = runs.assign(rows_seen=[True, False, False])  # a bool column (NumPy booleans) reads the same
    assert charts.results_table_info(bools).frame["caution"].iloc[0] == "scored on rows it was trained on"
    assert "caution" not in charts.results_table_info(runs.iloc[[2]]).decision_columns  # nothing to say
