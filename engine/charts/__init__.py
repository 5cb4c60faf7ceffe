"""Charts: ``<chart>_info`` records and ``<chart>_figure`` Plotly figures, shared by pages and reports.

Every chart comes as a pair: ``<chart>_info(...)`` turns result-store tables
into a typed record — a frozen dataclass or a tidy DataFrame whose columns
the docstring lists (all the numbers, no drawing) — and
``<chart>_figure(info, ...)`` draws it with Plotly. Pages and the HTML report
call the same pairs with the same parameters; tests assert on the records.
User strings (model names, class labels) are drawn as plain text.
"""

from engine.charts.classification import (
    confusion_matrix_figure,
    confusion_matrix_info,
    per_class_report_info,
)
from engine.charts.curves import (
    available_curves,
    calibration_figure,
    calibration_info,
    pr_curve_figure,
    pr_curve_info,
    roc_curve_figure,
    roc_curve_info,
)
from engine.charts.latency import (
    batch_sweep_figure,
    batch_sweep_info,
    latency_distribution_figure,
    latency_distribution_info,
)
from engine.charts.predictions import has_probabilities
from engine.charts.regression import residuals_figure, residuals_info
from engine.charts.scores import (
    fold_metrics_figure,
    fold_metrics_info,
    tradeoff_figure,
    tradeoff_info,
)
from engine.charts.tables import ResultsTable, results_table, results_table_info, unique_labels

__all__ = [
    "ResultsTable",
    "available_curves",
    "batch_sweep_figure",
    "batch_sweep_info",
    "calibration_figure",
    "calibration_info",
    "confusion_matrix_figure",
    "confusion_matrix_info",
    "fold_metrics_figure",
    "fold_metrics_info",
    "has_probabilities",
    "latency_distribution_figure",
    "latency_distribution_info",
    "per_class_report_info",
    "pr_curve_figure",
    "pr_curve_info",
    "residuals_figure",
    "residuals_info",
    "results_table",
    "results_table_info",
    "roc_curve_figure",
    "roc_curve_info",
    "tradeoff_figure",
    "tradeoff_info",
    "unique_labels",
]
