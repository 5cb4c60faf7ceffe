"""The metric registry: the only place a metric is defined.

Each :class:`Metric` names its label, task, direction, the scikit-learn
function that computes it (with its arguments) and whether it needs class
probabilities. Per-fold scoring, stored summaries, results tables, metric
pickers, charts, the CLI table and later Pareto fronts, significance tests and
Optuna objectives all read their metric lists and directions from here.

Scoring inputs are class indices into the dataset's sorted classes and
probability columns in the same order, so every backend is scored identically.
"""

from __future__ import annotations

import importlib
import math
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

Task = Literal["classification", "regression"]
Input = Literal["labels", "proba", "values"]


def _roc_auc(y: np.ndarray, proba: np.ndarray, *, labels: np.ndarray) -> float | None:
    """Binary ROC-AUC on the positive class, one-vs-rest macro for multiclass; None where
    undefined (a fold holding a single class, or missing a class in multiclass)."""
    from sklearn import metrics as skm

    present = np.unique(y)
    if len(present) < 2:
        return None
    try:
        if len(labels) == 2:
            return float(skm.roc_auc_score(y, proba[:, 1]))
        if len(present) < len(labels):
            return None
        return float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=labels))
    except ValueError:
        return None


@dataclass(frozen=True)
class Metric:
    """One metric: how it is computed, shown and compared.

    ``scorer`` names a function of :mod:`sklearn.metrics` (imported on first
    use, so reading the registry costs no scikit-learn import) or is a callable.
    """

    name: str
    label: str
    task: Task
    higher_is_better: bool
    scorer: str | Callable[..., Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    inputs: Input = "labels"
    bounded: bool = True  # in [0, 1]: shown with fixed decimals; unbounded values use significant digits
    help: str = ""
    headline: bool = False  # shown in compact tables (the CLI's), not only in full ones

    @property
    def function(self) -> Callable[..., Any]:
        """The scikit-learn function that computes it."""
        if callable(self.scorer):
            return self.scorer
        return getattr(importlib.import_module("sklearn.metrics"), self.scorer)

    @property
    def needs_proba(self) -> bool:
        return self.inputs == "proba"

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        """Optuna's word for the direction."""
        return "maximize" if self.higher_is_better else "minimize"

    @property
    def better_word(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return a > b if self.higher_is_better else a < b

    def best(self, values: Any) -> float | None:
        """The best of ``values`` (NaN/None ignored), or None."""
        arr = np.asarray([v for v in values if v is not None], dtype=float)
        arr = arr[~np.isnan(arr)]
        if not len(arr):
            return None
        return float(arr.max() if self.higher_is_better else arr.min())

    def format(self, value: float | None) -> str:
        """A value as the tables show it: 4 decimals in [0, 1], else 4 significant digits."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        return f"{value:.4f}" if self.bounded else f"{value:.4g}"

    def score(self, y: np.ndarray, pred: np.ndarray | None, proba: np.ndarray | None,
              labels: np.ndarray | None = None) -> float | None:
        """This metric for one fold; None when its input is missing or it is undefined."""
        first = {"labels": pred, "values": pred, "proba": proba}[self.inputs]
        if first is None:
            return None
        kwargs = dict(self.kwargs)
        if "labels" in kwargs or self.scorer is _roc_auc:
            kwargs["labels"] = labels
        value = self.function(y, first, **kwargs)
        return None if value is None else float(value)


_ZERO = {"zero_division": 0}
REGISTRY: tuple[Metric, ...] = (
    Metric("accuracy", "Accuracy", "classification", True, "accuracy_score",
           help="share of rows whose predicted class is right", headline=True),
    Metric("balanced_accuracy", "Balanced accuracy", "classification", True, "balanced_accuracy_score",
           help="mean recall over classes"),
    Metric("f1_macro", "F1 (macro)", "classification", True, "f1_score",
           {"average": "macro", "labels": None, **_ZERO}, help="F1 per class, averaged with equal weights",
           headline=True),
    Metric("f1_weighted", "F1 (weighted)", "classification", True, "f1_score",
           {"average": "weighted", "labels": None, **_ZERO}, help="F1 per class, weighted by class size"),
    Metric("precision_macro", "Precision (macro)", "classification", True, "precision_score",
           {"average": "macro", "labels": None, **_ZERO}),
    Metric("precision_weighted", "Precision (weighted)", "classification", True, "precision_score",
           {"average": "weighted", "labels": None, **_ZERO}),
    Metric("recall_macro", "Recall (macro)", "classification", True, "recall_score",
           {"average": "macro", "labels": None, **_ZERO}),
    Metric("recall_weighted", "Recall (weighted)", "classification", True, "recall_score",
           {"average": "weighted", "labels": None, **_ZERO}),
    Metric("roc_auc", "ROC-AUC", "classification", True, _roc_auc, inputs="proba",
           help="area under the ROC curve; one-vs-rest macro average for more than two classes", headline=True),
    Metric("log_loss", "Log loss", "classification", False, "log_loss", {"labels": None},
           inputs="proba", bounded=False, help="cross-entropy of the predicted probabilities", headline=True),
    Metric("rmse", "RMSE", "regression", False, "root_mean_squared_error", inputs="values", bounded=False,
           help="root mean squared error, in the target's units", headline=True),
    Metric("mae", "MAE", "regression", False, "mean_absolute_error", inputs="values", bounded=False,
           help="mean absolute error, in the target's units", headline=True),
    Metric("r2", "R²", "regression", True, "r2_score", inputs="values", bounded=False,
           help="coefficient of determination (1 is perfect)", headline=True),
)
BY_NAME: Mapping[str, Metric] = MappingProxyType({m.name: m for m in REGISTRY})
PRIMARY: Mapping[str, str] = MappingProxyType({"classification": "accuracy", "regression": "rmse"})


def get(name: str) -> Metric:
    """The metric called ``name``; a KeyError names the known ones."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(BY_NAME)}") from None


def for_task(task: str) -> tuple[Metric, ...]:
    """The task's metrics in display order."""
    return tuple(m for m in REGISTRY if m.task == task)


def names(task: str) -> tuple[str, ...]:
    return tuple(m.name for m in for_task(task))


def primary(task: str) -> Metric:
    """The metric a task's runs are ranked by first."""
    return BY_NAME[PRIMARY[task]]


CLASSIFICATION_METRICS = names("classification")
REGRESSION_METRICS = names("regression")


def classification_metrics(y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None,
                           n_classes: int) -> dict[str, float | None]:
    """Every classification metric for one fold; those needing probabilities are None without them."""
    labels = np.arange(n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {m.name: m.score(y, pred, proba, labels) for m in for_task("classification")}


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float | None]:
    """Every regression metric for one fold."""
    return {m.name: m.score(y, pred, None) for m in for_task("regression")}


@dataclass(frozen=True)
class Cost:
    """A cost of running a model: a summary column, its label, unit and direction.

    Costs are the other axis of every trade-off (Pareto fronts, verdict budgets,
    results tables); metrics say how good a model is, costs what it takes.
    """

    name: str
    label: str
    unit: str
    higher_is_better: bool = False
    per_batch: bool = False  # measured per batch size (latency tables); the summary holds batch 1's

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        return "maximize" if self.higher_is_better else "minimize"

    def better(self, a: float, b: float) -> bool:
        return a > b if self.higher_is_better else a < b


COSTS: tuple[Cost, ...] = (
    Cost("latency_p50_ms", "Latency p50", "ms", per_batch=True),
    Cost("latency_p95_ms", "Latency p95", "ms", per_batch=True),
    Cost("latency_p99_ms", "Latency p99", "ms", per_batch=True),
    Cost("throughput_per_s", "Throughput", "rows/s", higher_is_better=True, per_batch=True),
    Cost("size_bytes", "Size", "bytes"),
    Cost("n_parameters", "Parameters", ""),
    Cost("peak_rss_mb", "Peak memory", "MB"),
)
COST_BY_NAME: Mapping[str, Cost] = MappingProxyType({c.name: c for c in COSTS})


def cost(name: str) -> Cost:
    """The cost called ``name``; a KeyError names the known ones."""
    try:
        return COST_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown cost {name!r}; known: {', '.join(COST_BY_NAME)}") from None


def column_higher_is_better(column: str) -> bool | None:
    """The direction of a summary column: ``<metric>_mean``, a metric name or a cost; None if neither."""
    if column in COST_BY_NAME:
        return COST_BY_NAME[column].higher_is_better
    name = column.removesuffix("_mean")
    return BY_NAME[name].higher_is_better if name in BY_NAME else None


_LIMIT_RE = re.compile(r"\s*([a-z0-9_]+)\s*(<=|>=)\s*([-+0-9.eE]+)\s*")


def parse_limit(text: str, *, opt: str, what: str = "COLUMN") -> tuple[str, str, float]:
    """``COLUMN<=V`` or ``COLUMN>=V`` as ``(column, op, finite limit)``: the shared grammar of
    ``--budget`` (compare) and ``--constraint`` (tune); ``opt`` names the option in errors
    (:func:`engine.errors.option`). Which columns and directions are allowed is the caller's rule."""
    from engine.errors import FrontierError, option

    m = _LIMIT_RE.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise FrontierError(f"{option(opt)} takes {what}<=VALUE or {what}>=VALUE, e.g. latency_p95_ms<=2; "
                            f"got '{str(text)[:40]}'")
    column, op, raw = m.groups()
    try:
        limit = float(raw)
    except ValueError:
        raise FrontierError(f"{option(opt)}: '{raw}' is not a number") from None
    if not math.isfinite(limit):
        raise FrontierError(f"{option(opt)}: {column} needs a finite limit, got {raw}")
    return column, op, limit


def column_label(column: str) -> str:
    """How a summary column is titled: the metric's or cost's label, else the column name."""
    if column in COST_BY_NAME:
        c = COST_BY_NAME[column]
        return f"{c.label} ({c.unit})" if c.unit else c.label
    name = column.removesuffix("_mean")
    return BY_NAME[name].label if name in BY_NAME else column


def mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample std over folds, None when any fold is undefined."""
    if not values or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
        return None, None
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
