"""Per-fold metrics, all computed by scikit-learn.

Inputs are class indices into the dataset's sorted classes and probability
columns in the same order, so every backend is scored identically.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn import metrics as skm

CLASSIFICATION_METRICS = (
    "accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro",
    "precision_weighted", "recall_weighted", "f1_weighted", "roc_auc", "log_loss",
)
REGRESSION_METRICS = ("rmse", "mae", "r2")


def classification_metrics(y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None,
                           n_classes: int) -> dict[str, float | None]:
    """Scores for one fold; ``roc_auc``/``log_loss`` are None without probabilities."""
    labels = np.arange(n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out: dict[str, float | None] = {
            "accuracy": skm.accuracy_score(y, pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        }
        for avg in ("macro", "weighted"):
            p, r, f, _ = skm.precision_recall_fscore_support(
                y, pred, labels=labels, average=avg, zero_division=0)
            out |= {f"precision_{avg}": p, f"recall_{avg}": r, f"f1_{avg}": f}
        out["roc_auc"] = roc_auc(y, proba, n_classes)
        out["log_loss"] = skm.log_loss(y, proba, labels=labels) if proba is not None else None
    return {k: (None if v is None else float(v)) for k, v in out.items()}


def roc_auc(y: np.ndarray, proba: np.ndarray | None, n_classes: int) -> float | None:
    """One-vs-rest macro ROC-AUC, or None where undefined (no scores, or a class absent)."""
    if proba is None or len(np.unique(y)) < 2:
        return None
    try:
        if n_classes == 2:
            return float(skm.roc_auc_score(y, proba[:, 1]))
        if len(np.unique(y)) < n_classes:
            return None
        return float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(n_classes)))
    except ValueError:
        return None


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "rmse": float(skm.root_mean_squared_error(y, pred)),
        "mae": float(skm.mean_absolute_error(y, pred)),
        "r2": float(skm.r2_score(y, pred)),
    }


def mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample std over folds, None when any fold is undefined."""
    if not values or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
        return None, None
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
