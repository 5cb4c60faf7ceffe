"""A variant against its original: accuracy, flip rate, per-class recall and ECE against independent oracles
(scikit-learn's metrics, a hand count, a plain loop over bins)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, recall_score

from engine.compress import deltas
from engine.errors import FrontierError


def _frame(rows, y_true, y_pred, proba):
    frame = pd.DataFrame({"row": rows, "fold": np.asarray(rows) % 3, "y_true": y_true, "y_pred": y_pred})
    for k in range(proba.shape[1]):
        frame[f"proba_{k}"] = proba[:, k]
    return frame


@pytest.fixture
def pair():
    rng = np.random.default_rng(3)
    n, k = 300, 4
    y = rng.integers(0, k, n)
    p1 = rng.dirichlet(np.ones(k) * 0.7, n)
    p2 = np.clip(p1 + rng.normal(0, 0.08, p1.shape), 1e-6, None)
    p2 /= p2.sum(axis=1, keepdims=True)
    rows = rng.permutation(n)  # stored in fold order, not row order: matching must be by row
    a = _frame(rows, y[rows], p1[rows].argmax(1), p1[rows])
    b = _frame(rows[::-1], y[rows[::-1]], p2[rows[::-1]].argmax(1), p2[rows[::-1]])
    return y, p1, p2, a, b


def _hand_ece(y, p, bins=15):
    conf, pred = p.max(axis=1), p.argmax(axis=1)
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [i for i in range(len(y)) if (lo < conf[i] <= hi) or (b == 0 and conf[i] == 0)]
        if inside:
            acc = sum(pred[i] == y[i] for i in inside) / len(inside)
            total += len(inside) / len(y) * abs(acc - sum(conf[i] for i in inside) / len(inside))
    return total


def test_flip_rate_recall_and_ece_match_independent_oracles(pair):
    y, p1, p2, a, b = pair
    summary = {"classes": ["a", "b", "c", "d"], "size_bytes": 1000, "latency_p50_ms": 2.0, "folds_id": "x"}
    orig = summary | {"accuracy_mean": accuracy_score(y, p1.argmax(1))}
    var = summary | {"accuracy_mean": accuracy_score(y, p2.argmax(1)), "size_bytes": 250, "latency_p50_ms": 0.5}
    out = deltas.compare(orig, a, var, b, gate=1.0)
    hand = 0
    for i in range(len(y)):  # a hand count of changed predictions
        if p1[i].argmax() != p2[i].argmax():
            hand += 1
    assert out["n_flipped"] == hand and out["flip_rate"] == hand / len(y) and hand > 0
    r1, r2 = recall_score(y, p1.argmax(1), average=None), recall_score(y, p2.argmax(1), average=None)
    assert out["recall_deltas"] == pytest.approx({c: (x2 - x1) * 100 for c, x1, x2 in zip("abcd", r1, r2, strict=True)})
    assert out["ece"] == pytest.approx(_hand_ece(y, p2), abs=1e-12)
    assert out["ece_delta"] == pytest.approx(_hand_ece(y, p2) - _hand_ece(y, p1), abs=1e-12)
    delta = (accuracy_score(y, p2.argmax(1)) - accuracy_score(y, p1.argmax(1))) * 100
    assert out["accuracy_delta"] == pytest.approx(delta)
    assert out["size_ratio"] == 4.0 and out["speedup"] == 4.0
    assert out["gate_passed"] == (delta >= -1.0)
    assert deltas.compare(orig, a, var, b, gate=abs(delta) + 0.01)["gate_passed"]


def test_runs_on_other_rows_or_folds_are_not_compared(pair):
    _, _, _, a, b = pair
    base = {"classes": ["a", "b", "c", "d"], "accuracy_mean": 0.5}
    with pytest.raises(FrontierError, match="same rows"):
        deltas.compare(base, a, base, b.iloc[1:], gate=1.0)
    with pytest.raises(FrontierError, match="different folds"):
        deltas.compare(base | {"folds_id": "x"}, a, base | {"folds_id": "y"}, b, gate=1.0)


def test_the_accuracy_delta_interval_is_the_paired_fold_t_interval_by_hand(pair):
    y, p1, p2, a, b = pair
    got = deltas.delta_interval(a, b)
    per_fold = []
    for k in range(3):  # by hand: accuracy per fold, paired differences, t quantile from a table
        rows = np.flatnonzero(np.arange(len(y)) % 3 == k)
        per_fold.append(100 * (np.mean(p2[rows].argmax(1) == y[rows]) - np.mean(p1[rows].argmax(1) == y[rows])))
    d = np.asarray(per_fold)
    half = 4.302652729911275 * d.std(ddof=1) / np.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert got == pytest.approx([d.mean() - half, d.mean() + half])
    assert deltas.delta_interval(a[a["fold"] == 0], b[b["fold"] == 0]) is None  # one fold: no interval
