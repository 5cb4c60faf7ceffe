"""Pairwise significance between selected runs of one comparison group.

For every pair of runs scored on the same rows and folds: the corrected
resampled t-test per metric on per-fold scores, McNemar's test on the
out-of-fold predictions (classification) and the Bayesian correlated t-test
with a region of practical equivalence on the chosen metric. p-values are
Holm-adjusted within each family (one test on one metric over the pairs of
one comparison group).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from engine import metrics
from engine.compare import significance
from engine.compare.selection import Selection

COLUMNS = ["a", "b", "metric", "test", "statistic", "p_value", "p_adjusted", "verdict", "better",
           "a_label", "b_label"]
TESTS = ("corrected_t", "mcnemar", "bayes_corr_t")
BOUNDED_ROPE = 0.005  # half an accuracy point
UNBOUNDED_ROPE_SHARE = 0.01  # 1% of the metric's typical value


def default_rope(metric: str, values: Sequence[float] | None = None) -> float:
    """A region of practical equivalence when the user sets none: 0.005 for metrics in [0, 1],
    else 1% of the median absolute value of ``values``."""
    if metrics.get(metric).bounded:
        return BOUNDED_ROPE
    arr = np.abs(np.asarray([v for v in (values or []) if v is not None], dtype=float))
    arr = arr[np.isfinite(arr)]
    return float(UNBOUNDED_ROPE_SHARE * np.median(arr)) if len(arr) and np.median(arr) > 0 else BOUNDED_ROPE


def pairs(sel: Selection) -> list[tuple[str, str]]:
    """Every pair of runs within a comparison group, in selection order."""
    out = []
    for ids in sel.groups.values():
        out.extend(itertools.combinations(ids, 2))
    return out


def pairwise(sel: Selection, *, metric_names: Sequence[str] | None = None, bayes_metric: str | None = None,
             rope: float | None = None, alpha: float = 0.05, tests: Sequence[str] = TESTS) -> pd.DataFrame:
    """One row per (pair, metric, test) with ``COLUMNS``; empty when no two runs share folds."""
    task = sel.task if sel.task != "mixed" else "classification"
    names = list(metric_names or [m.name for m in metrics.for_task(task)])
    bayes_metric = bayes_metric or metrics.primary(task).name
    rows: list[dict] = []
    for a, b in pairs(sel):
        la, lb = sel.labels[a], sel.labels[b]
        frac = sel.test_fraction(a)
        if "corrected_t" in tests:
            for name in names:
                sa, sb = sel.fold_scores(a, name), sel.fold_scores(b, name)
                if sa is None or sb is None or len(sa) != len(sb):
                    continue
                r = significance.corrected_t(sa, sb, test_fraction=frac, alpha=alpha, names=(la, lb),
                                             higher_is_better=metrics.get(name).higher_is_better)
                rows.append(_row(a, b, la, lb, name, r))
        if "mcnemar" in tests and task == "classification":
            pa, pb = sel.predictions_by_row(a), sel.predictions_by_row(b)
            if pa is not None and pb is not None and len(pa[0]) == len(pb[0]):
                r = significance.mcnemar(pa[0], pa[1], pb[1], alpha=alpha, names=(la, lb))
                rows.append(_row(a, b, la, lb, "accuracy", r))
        if "bayes_corr_t" in tests:
            sa, sb = sel.fold_scores(a, bayes_metric), sel.fold_scores(b, bayes_metric)
            if sa is not None and sb is not None and len(sa) == len(sb):
                width = rope if rope is not None else default_rope(bayes_metric, [*sa, *sb])
                r = significance.bayes_corr_t(sa, sb, rope=width, test_fraction=frac, names=(la, lb),
                                              higher_is_better=metrics.get(bayes_metric).higher_is_better)
                rows.append(_row(a, b, la, lb, bayes_metric, r))
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "detail"])
    if frame.empty:
        return frame
    frame["p_adjusted"] = None
    group = dict(zip(sel.runs["run_id"], sel.runs["group"].astype(str), strict=True))  # 4,950 pairs: no lookups
    frame["group"] = [group[a] for a in frame["a"]]
    # one family = one test on one metric over the pairs of one comparison group (rows of other
    # datasets are other questions and must not change these p-values)
    for _, idx in frame.groupby(["test", "metric", "group"], sort=False).groups.items():
        if frame.loc[idx[0], "test"] == "bayes_corr_t":
            continue
        adjusted = significance.holm([None if p is None or p != p else float(p) for p in frame.loc[idx, "p_value"]])
        frame.loc[idx, "p_adjusted"] = pd.Series(adjusted, index=idx, dtype=object)
        family = sum(p is not None for p in adjusted)
        for i, p_adj in zip(idx, adjusted, strict=True):
            p = frame.at[i, "p_value"]
            if p_adj is not None and p < alpha <= p_adj:  # significant alone, not over the family
                frame.at[i, "verdict"] = (f"no significant difference after Holm's correction over {family} pairs "
                                          f"(p = {p:.2g}, adjusted {p_adj:.2g})")
                frame.at[i, "better"] = None
    return frame


def _row(a: str, b: str, la: str, lb: str, metric: str, r: significance.PairTest) -> dict:
    return {"a": a, "b": b, "metric": metric, "test": r.test, "statistic": r.statistic, "p_value": r.p_value,
            "p_adjusted": None, "verdict": r.verdict, "better": {"a": a, "b": b}.get(r.better or ""),
            "a_label": la, "b_label": lb, "detail": dict(r.detail)}


def matrix(frame: pd.DataFrame, sel: Selection, *, metric: str, test: str = "corrected_t",
           value: str = "p_adjusted") -> pd.DataFrame:
    """A square table of ``value`` for one test and metric (labels on both axes; NaN on the diagonal
    and between runs of different groups)."""
    labels = list(sel.labels.values())
    out = pd.DataFrame(np.nan, index=labels, columns=labels)
    if frame.empty:
        return out
    part = frame[(frame["metric"] == metric) & (frame["test"] == test)]
    for r in part.itertuples():
        v = getattr(r, value)
        v = np.nan if v is None else float(v)
        out.loc[r.a_label, r.b_label] = out.loc[r.b_label, r.a_label] = v
    return out
