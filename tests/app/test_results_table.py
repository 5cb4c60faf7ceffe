"""The results table: decision columns first, model pinned, sorted, best marked, registry labels and formats."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest
from app_support import new_app
from test_benchmark_page import LOGREG, submit_directly

from dashboard.widgets import tables
from engine import charts, jobs

BEST = tables.BEST_STYLE


def _summary(model: str, task: str = "classification", **values) -> dict:
    base = {"run_id": f"{abs(hash(model)) % 16**16:016x}", "model": model, "task": task, "dataset": "d",
            "mode": "cv-refit", "format": "skops", "n_folds": 5, "owner": None, "created_at": "2026-11-24T10:00:00"}
    return base | values


def _info(rows: list[dict]) -> charts.ResultsTable:
    return charts.results_table_info(pd.DataFrame(rows))


def test_decision_columns_first_sorted_by_the_primary_metric_best_marked():
    info = _info([
        _summary("slow but right", accuracy_mean=0.97, accuracy_std=0.01, latency_p50_ms=9.0, latency_p95_ms=12.0,
                 throughput_per_s=800.0, size_bytes=3 * 2**20, f1_macro_mean=0.96, f1_macro_std=0.01),
        _summary("fast", accuracy_mean=0.91, accuracy_std=0.02, latency_p50_ms=0.2, latency_p95_ms=0.3,
                 throughput_per_s=90_000.0, size_bytes=4096, f1_macro_mean=0.90, f1_macro_std=0.02),
    ])
    assert list(info.decision_columns) == ["model", "accuracy_mean", "accuracy_std", "latency_p50_ms",
                                           "latency_p95_ms", "throughput_per_s", "size_bytes"]
    assert info.frame["model"].tolist() == ["slow but right", "fast"]  # accuracy: higher is better
    styles = tables.best_styles(info, list(info.decision_columns))
    assert styles.loc[0, "accuracy_mean"] == BEST and styles.loc[1, "accuracy_mean"] == ""
    assert styles.loc[1, "latency_p50_ms"] == BEST and styles.loc[1, "size_bytes"] == BEST  # lower is better
    assert styles.loc[1, "throughput_per_s"] == BEST  # higher is better
    assert (styles["accuracy_std"] == "").all() and (styles["model"] == "").all()


def test_numbers_read_as_the_registry_says_and_missing_values_are_blank():
    info = _info([
        _summary("ridge", "regression", rmse_mean=40013.4597, rmse_std=1407.8711, r2_mean=0.4321, r2_std=0.05,
                 size_bytes=1536),
        _summary("logreg", accuracy_mean=0.973456, accuracy_std=0.012, size_bytes=5 * 2**20),
    ])
    fmt = {c: tables.formatter(c) for c in info.frame.columns}
    ridge = info.frame.set_index("model").loc["ridge"]
    logreg = info.frame.set_index("model").loc["logreg"]
    assert fmt["rmse_mean"](ridge["rmse_mean"]) == "4.001e+04" and fmt["rmse_std"](ridge["rmse_std"]) == "1408"
    assert fmt["accuracy_mean"](logreg["accuracy_mean"]) == "0.9735"
    assert fmt["accuracy_mean"](ridge["accuracy_mean"]) == ""  # a mixed-task table: blank, never "None"
    assert fmt["rmse_mean"](logreg["rmse_mean"]) == ""
    assert fmt["owner"](None) == "" and fmt["owner"](float("nan")) == ""
    assert fmt["size_bytes"](1536) == "1.5 KB" and fmt["size_bytes"](5 * 2**20) == "5.0 MB"  # binary, like the CLI


def test_labels_and_help_come_from_the_metric_registry():
    assert tables.column_label("roc_auc_mean") == "ROC-AUC"
    assert tables.column_label("roc_auc_std") == "ROC-AUC ±"
    assert tables.column_label("rmse_mean") == "RMSE"
    assert "lower is better" in tables.column_help("log_loss_mean")
    assert "higher is better" in tables.column_help("throughput_per_s")


@pytest.fixture
def stored(workspace):
    """Two classification runs on digits."""
    ids = []
    for model in (LOGREG, "MLP (ONNX)"):
        job_id, run_ids = submit_directly(workspace, model, "digits")
        assert jobs.wait(workspace, job_id, timeout_s=150).state == "done"
        ids += run_ids
    return ids


def _proto_frame(element) -> tuple[pd.DataFrame, dict, str]:
    proto = element.proto
    shown = pa.ipc.open_stream(proto.arrow_data.styler.display_values).read_all().to_pandas()
    return shown, json.loads(proto.columns), proto.arrow_data.styler.styles


def test_the_page_table_pins_the_model_and_offers_more_columns(workspace, stored):
    at = new_app().run()
    element = at.dataframe[0]  # the stored runs (nothing else is shown before runs are chosen)
    value, config, styles = element.value, *_proto_frame(element)[1:]
    assert list(value.columns) == ["model", "caution", "accuracy_mean", "accuracy_std", "latency_p50_ms",
                                   "latency_p95_ms", "throughput_per_s", "size_bytes"]
    # the ONNX sample is scored as-is on digits, 70% of which it was trained on: ranked, but marked
    caution = dict(zip(value["model"], value["caution"], strict=True))
    assert caution["MLP (ONNX)"].startswith("scored on rows it was trained on") and not caution[LOGREG]
    assert value["accuracy_mean"].is_monotonic_decreasing
    assert config["model"]["pinned"] is True and config["accuracy_mean"]["label"] == "Accuracy"
    assert "background-color: #dcfce7" in styles
    shown = _proto_frame(element)[0]
    assert all(len(v.split(".")[1]) == 4 for v in shown["accuracy_mean"])  # bounded: 4 decimals
    assert all(v.endswith(("KB", "MB")) for v in shown["size_bytes"])
    # the column chooser adds the rest, labelled from the registry
    chooser = at.multiselect(key="benchmark:stored:table:columns")
    assert {"ROC-AUC", "F1 (macro)", "Log loss", "Mode", "Run id"} <= set(chooser.options)
    chooser.set_value(["f1_macro_mean", "mode"]).run()
    element = at.dataframe[0]
    assert list(element.value.columns)[-2:] == ["f1_macro_mean", "mode"]

