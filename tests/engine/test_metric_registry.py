"""The metric registry is the only place a metric is defined: walk it.

Every metric it lists is computed per fold (equal to scikit-learn on the stored
out-of-fold predictions), stored in the run summary, shown in the results
table, and points the way scikit-learn's own scorer does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from frontier_support import FAST_BENCH, run_cli, sample
from sklearn import metrics as skm

from engine import charts, metrics
from engine.results import ResultStore
from engine.workspace import Workspace

SKLEARN_SCORER = {  # scikit-learn's scorer for each metric: "neg_" means lower is better
    "accuracy": "accuracy", "balanced_accuracy": "balanced_accuracy", "f1_macro": "f1_macro",
    "f1_weighted": "f1_weighted", "precision_macro": "precision_macro",
    "precision_weighted": "precision_weighted", "recall_macro": "recall_macro",
    "recall_weighted": "recall_weighted", "roc_auc": "roc_auc_ovr", "log_loss": "neg_log_loss",
    "rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error", "r2": "r2",
}


def test_every_metric_has_a_scikit_learn_direction_and_a_unique_label():
    assert set(SKLEARN_SCORER) == set(metrics.BY_NAME)
    for m in metrics.REGISTRY:
        assert m.higher_is_better == (skm.get_scorer(SKLEARN_SCORER[m.name])._sign > 0), m.name
        assert m.direction == ("maximize" if m.higher_is_better else "minimize")
    labels = [m.label for m in metrics.REGISTRY]
    assert len(set(labels)) == len(labels)
    assert metrics.primary("classification").task == "classification"
    assert metrics.primary("regression").task == "regression"


def _oracle(name: str, y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, k: int) -> float | None:
    """Each classification metric computed straight from scikit-learn, independently of the registry."""
    labels = np.arange(k)
    if name in ("roc_auc", "log_loss") and proba is None:
        return None
    if name == "accuracy":
        return skm.accuracy_score(y, pred)
    if name == "balanced_accuracy":
        return skm.balanced_accuracy_score(y, pred)
    if name == "roc_auc":
        return skm.roc_auc_score(y, proba, multi_class="ovr", labels=labels)
    if name == "log_loss":
        return skm.log_loss(y, proba, labels=labels)
    kind, average = name.split("_")
    fn = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[kind]
    return fn(y, pred, labels=labels, average=average, zero_division=0)


def test_every_classification_metric_is_computed_stored_and_shown(digits_comparison):
    store = ResultStore(Workspace(digits_comparison.workspace))
    summaries = [store.summary(r["run_id"]) for r in digits_comparison.runs]
    for summary in summaries:
        folds = store.table(summary["run_id"], "folds")
        preds = store.table(summary["run_id"], "predictions")
        k = len(summary["classes"])
        proba_cols = [f"proba_{j}" for j in range(k)]
        for m in metrics.for_task("classification"):
            assert m.name in folds.columns, m.name
            assert f"{m.name}_mean" in summary and f"{m.name}_std" in summary, m.name
            for fold, part in preds.groupby("fold"):
                proba = part[proba_cols].to_numpy() if set(proba_cols) <= set(part.columns) else None
                expected = _oracle(m.name, part["y_true"].to_numpy(), part["y_pred"].to_numpy(), proba, k)
                got = folds.loc[folds["fold"] == fold, m.name].iloc[0]
                if expected is None:
                    assert got is None or np.isnan(got), (m.name, got)
                else:
                    assert got == pytest.approx(expected, abs=1e-12), (summary["model"], m.name, fold)
            values = folds[m.name].to_numpy(dtype=float)
            if not np.isnan(values).any():
                assert summary[f"{m.name}_mean"] == pytest.approx(values.mean(), abs=1e-12)
    table = charts.results_table_info(pd.DataFrame(summaries))
    for m in metrics.for_task("classification"):
        assert f"{m.name}_mean" in table.frame.columns, m.name  # shown (decision column or behind the chooser)
        assert table.higher_is_better[f"{m.name}_mean"] is m.higher_is_better


def test_every_regression_metric_is_computed_stored_and_shown(tmp_path):
    r = run_cli("benchmark", "--model", sample("diabetes_ridge.skops"), "--data", "diabetes",
                "--workspace", tmp_path / "ws", "--json", *FAST_BENCH)
    assert r.returncode == 0, str(r)
    (run,) = r.json["runs"]
    store = ResultStore(Workspace(tmp_path / "ws"))
    folds, preds = store.table(run["run_id"], "folds"), store.table(run["run_id"], "predictions")
    oracle = {"rmse": skm.root_mean_squared_error, "mae": skm.mean_absolute_error, "r2": skm.r2_score}
    for m in metrics.for_task("regression"):
        for fold, part in preds.groupby("fold"):
            expected = oracle[m.name](part["y_true"], part["y_pred"])
            assert folds.loc[folds["fold"] == fold, m.name].iloc[0] == pytest.approx(expected, rel=1e-12)
        assert run[f"{m.name}_mean"] == pytest.approx(folds[m.name].mean(), rel=1e-12)
    table = charts.results_table_info(pd.DataFrame([store.summary(run["run_id"])]))
    assert table.primary == ("rmse",)
    assert {f"{m.name}_mean" for m in metrics.for_task("regression")} <= set(table.frame.columns)


def test_the_cli_table_shows_the_headline_metrics_in_their_format(digits_comparison, tmp_path):
    from frontier_support import copy_workspace

    ws = copy_workspace(digits_comparison.workspace, tmp_path / "ws")
    args = [a for a in digits_comparison.result.args if a != "--json"]
    args[args.index("--workspace") + 1] = str(ws)
    r = run_cli(*args)
    assert r.returncode == 0, str(r)
    header = r.stdout.splitlines()[0].split()
    headline = [m.name for m in metrics.for_task("classification") if m.headline]
    assert header[2:2 + len(headline)] == headline
    first = digits_comparison.runs[0]
    log_loss = metrics.get("log_loss")
    assert f"{log_loss.format(first['log_loss_mean'])} ± {log_loss.format(first['log_loss_std'])}" in r.stdout
