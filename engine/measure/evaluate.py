"""Cross-validated evaluation with shared, seeded folds.

A scikit-learn estimator is refit on each fold (``cv-refit``) unless asked to
be evaluated as-is; every other model is evaluated as-is on each fold's test
part. Every model in one comparison sees the same folds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold

from engine.datasets import Prepared
from engine.errors import FrontierError
from engine.metrics import classification_metrics, regression_metrics
from engine.models.predictors import (
    Predictor,
    Scores,
    SklearnPredictor,
    make_predictor,
    model_input,
)

Progress = Callable[[float, str], None]
PREDICT_BATCH = 4096


def folds(prep: Prepared, *, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) index pairs every model in a comparison shares."""
    if prep.task == "classification":
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(prep.n_rows), prep.y_encoded))
    return list(KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(np.zeros(prep.n_rows)))


@dataclass(frozen=True)
class Evaluation:
    """Per-fold metrics and out-of-fold predictions of one model."""

    mode: str
    folds: pd.DataFrame        # fold, n_test, fit_seconds, metric columns...
    predictions: pd.DataFrame  # row, fold, y_true, y_pred, proba_<k>... or y_true, y_pred


def evaluate(predictor: Predictor, prep: Prepared, splits: list[tuple[np.ndarray, np.ndarray]], *,
             refit: bool, progress: Progress | None = None) -> Evaluation:
    """Score ``predictor`` on every fold; refit a clone per fold when ``refit``."""
    import time

    n_classes = len(prep.classes) if prep.classes is not None else 0
    fold_rows, pred_parts = [], []
    if not refit:  # one pass over all rows; each fold's test part is a slice of it
        scores = predict_all(predictor, prep)
    for i, (train, test) in enumerate(splits):
        fit_s = 0.0
        if refit:
            assert isinstance(predictor, SklearnPredictor)
            est = clone(predictor.estimator)
            t0 = time.perf_counter()
            est.fit(prep.rows(train), prep.y[train])
            fit_s = time.perf_counter() - t0
            s = SklearnPredictor(est).predict_scores(prep.rows(test), classes=prep.classes)
        else:
            s = _take(scores, test)
        fold_rows.append({"fold": i, "n_test": len(test), "fit_seconds": fit_s}
                         | _fold_metrics(prep, test, s, n_classes))
        pred_parts.append(_prediction_frame(prep, test, i, s, n_classes))
        if progress:
            progress((i + 1) / len(splits), f"fold {i + 1}/{len(splits)}")
    preds = pd.concat(pred_parts, ignore_index=True).sort_values("row", ignore_index=True)
    return Evaluation("cv-refit" if refit else "as-is", pd.DataFrame(fold_rows), preds)


def _take(s: Scores, idx: np.ndarray) -> Scores:
    return Scores(*(None if a is None else a[idx] for a in (s.proba, s.labels, s.values)))


def _concat(parts: list[Scores], name: str) -> np.ndarray | None:
    if getattr(parts[0], name) is None:
        return None
    return np.concatenate([getattr(p, name) for p in parts])


def predict_all(predictor: Predictor, prep: Prepared) -> Scores:
    """Scores for every row, in batches so large datasets fit in memory."""
    X = model_input(predictor, prep)
    parts = []
    for start in range(0, prep.n_rows, PREDICT_BATCH):
        # an array batch is a copy: a model that writes into its input must not alter the features
        # the next model sees (the prepared float32 matrix is shared by every model of the job)
        batch = X.iloc[start:start + PREDICT_BATCH] if isinstance(X, pd.DataFrame) else X[start:start + PREDICT_BATCH].copy()
        parts.append(predictor.predict_scores(batch, classes=prep.classes))
    out = Scores(_concat(parts, "proba"), _concat(parts, "labels"), _concat(parts, "values"))
    n = out.values if prep.task == "regression" else out.labels
    if n is None or len(n) != prep.n_rows:
        raise FrontierError(f"the model returned {0 if n is None else len(n)} predictions for {prep.n_rows} rows")
    return out


def _fold_metrics(prep: Prepared, test: np.ndarray, s, n_classes: int) -> dict[str, float | None]:
    if prep.task == "regression":
        return regression_metrics(prep.y[test], s.values)
    return classification_metrics(prep.y_encoded[test], s.labels, s.proba, n_classes)


def _prediction_frame(prep: Prepared, test: np.ndarray, fold: int, s, n_classes: int) -> pd.DataFrame:
    if prep.task == "regression":
        return pd.DataFrame({"row": test, "fold": fold, "y_true": prep.y[test], "y_pred": s.values})
    frame = pd.DataFrame({"row": test, "fold": fold, "y_true": prep.y_encoded[test], "y_pred": s.labels})
    if s.proba is not None:
        for k in range(n_classes):
            frame[f"proba_{k}"] = s.proba[:, k]
    return frame


__all__ = ["Evaluation", "evaluate", "folds", "make_predictor", "predict_all"]
