"""A variant's run against its original's: what compressing it cost and bought.

Both runs are scored on the same seeded folds (same ``folds_id``); every number
here comes from their stored summaries and per-row predictions:

* ``accuracy_delta``: variant minus original accuracy (fold means), in points;
  ``accuracy_delta_ci``: its 95 % interval from the per-fold paired differences
  (Student's t with k - 1 degrees of freedom, ``scipy.stats.t.interval``; None
  with fewer than two folds). Folds share training rows, so the interval is
  optimistic (Nadeau & Bengio, 2003): read it as the fold-to-fold spread;
* ``flip_rate``: share of rows whose predicted class changed (``n_flipped`` of
  ``n_rows``), from the out-of-fold predictions matched by row;
* ``recall_deltas``: per class (keyed by the class label as text), variant minus
  original recall, in points;
* ``ece`` / ``ece_delta``: expected calibration error (top-label confidence,
  :data:`ECE_BINS` equal-width bins over (0, 1]) of the variant, and its change;
* ``size_ratio``: original bytes / variant bytes (3.0 = three times smaller);
* ``speedup``: original p50 / variant p50 latency at batch size 1;
* ``gate_passed``: the variant loses at most ``gate`` accuracy points.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.errors import FrontierError

ECE_BINS = 15


def by_row(predictions: pd.DataFrame) -> pd.DataFrame:
    if not {"row", "y_true", "y_pred"} <= set(predictions.columns):
        raise FrontierError("a run has no per-row predictions to compare")
    return predictions.sort_values("row", kind="stable", ignore_index=True)


def proba(predictions: pd.DataFrame) -> np.ndarray | None:
    cols = sorted((c for c in predictions.columns if c.startswith("proba_")), key=lambda c: int(c[6:]))
    return predictions[cols].to_numpy(dtype=np.float64) if cols else None


def flips(original: pd.DataFrame, variant: pd.DataFrame) -> tuple[int, int]:
    """(rows whose predicted class changed, rows compared)."""
    a, b = by_row(original), by_row(variant)
    if len(a) != len(b) or not np.array_equal(a["row"].to_numpy(), b["row"].to_numpy()):
        raise FrontierError("the original and the variant were not scored on the same rows")
    return int(np.sum(a["y_pred"].to_numpy() != b["y_pred"].to_numpy())), len(a)


def recalls(predictions: pd.DataFrame, n_classes: int) -> np.ndarray:
    """Recall of each class (NaN for a class with no rows)."""
    y, p = predictions["y_true"].to_numpy(), predictions["y_pred"].to_numpy()
    out = np.full(n_classes, np.nan)
    for k in range(n_classes):
        mask = y == k
        if mask.any():
            out[k] = float(np.mean(p[mask] == k))
    return out


def ece(predictions: pd.DataFrame, bins: int = ECE_BINS) -> float | None:
    """Expected calibration error of the top-label confidence (None without probabilities)."""
    p = proba(predictions)
    if p is None or not len(p):
        return None
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == predictions["y_true"].to_numpy()).astype(np.float64)
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(total)


def fold_accuracy(predictions: pd.DataFrame) -> pd.Series:
    """Accuracy per fold (indexed by fold)."""
    hit = (predictions["y_true"].to_numpy() == predictions["y_pred"].to_numpy()).astype(float)
    return pd.Series(hit, index=predictions["fold"].to_numpy()).groupby(level=0).mean()


def delta_interval(orig_preds: pd.DataFrame, var_preds: pd.DataFrame, *, level: float = 0.95) -> list[float] | None:
    """The ``level`` t-interval of the variant-minus-original accuracy, in points, from paired fold differences."""
    from scipy import stats

    if "fold" not in orig_preds.columns or "fold" not in var_preds.columns:
        return None
    diff = ((fold_accuracy(var_preds) - fold_accuracy(orig_preds)) * 100).dropna().to_numpy()
    if len(diff) < 2:
        return None
    mean, sem = float(diff.mean()), float(stats.sem(diff))
    if sem == 0:
        return [mean, mean]
    lo, hi = stats.t.interval(level, len(diff) - 1, loc=mean, scale=sem)
    return [float(lo), float(hi)]


def _ratio(a: Any, b: Any) -> float | None:
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b) or b <= 0:
        return None
    return float(a) / float(b)


def compare(original: dict[str, Any], orig_preds: pd.DataFrame, variant: dict[str, Any],
            var_preds: pd.DataFrame, *, gate: float) -> dict[str, Any]:
    """Deltas of ``variant`` (a stored run summary) against ``original``; see the module docstring."""
    if original.get("folds_id") and variant.get("folds_id") and original["folds_id"] != variant["folds_id"]:
        raise FrontierError("the original and the variant were scored on different folds")
    n_flipped, n_rows = flips(orig_preds, var_preds)
    classes = original.get("classes") or []
    a, b = recalls(by_row(orig_preds), len(classes)), recalls(by_row(var_preds), len(classes))
    recall_deltas = {str(c): (None if np.isnan(x) or np.isnan(y) else round(float((y - x) * 100), 6))
                     for c, x, y in zip(classes, a, b, strict=True)}
    acc_o, acc_v = original.get("accuracy_mean"), variant.get("accuracy_mean")
    delta = None if acc_o is None or acc_v is None else (acc_v - acc_o) * 100
    ece_o, ece_v = ece(orig_preds), ece(var_preds)
    return {
        "accuracy_mean": acc_v,
        "accuracy_delta": delta,
        "accuracy_delta_ci": delta_interval(orig_preds, var_preds),
        "flip_rate": n_flipped / n_rows if n_rows else None,
        "n_flipped": n_flipped,
        "n_rows": n_rows,
        "recall_deltas": recall_deltas,
        "ece": ece_v,
        "ece_delta": None if ece_o is None or ece_v is None else ece_v - ece_o,
        "size_ratio": _ratio(original.get("size_bytes"), variant.get("size_bytes")),
        "latency_p50_ms": variant.get("latency_p50_ms"),
        "speedup": _ratio(original.get("latency_p50_ms"), variant.get("latency_p50_ms")),
        "gate_passed": delta is not None and delta >= -gate - 1e-9,
    }
