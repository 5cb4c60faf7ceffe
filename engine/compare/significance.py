"""Statistical tests for comparing model runs cross-validated on the same folds.

Two runs on one dataset: the Nadeau–Bengio corrected resampled t-test (:func:`corrected_t`,
interval :func:`diff_ci`), McNemar on out-of-fold predictions (:func:`mcnemar`) and the
Bayesian correlated t-test (:func:`bayes_corr_t`). Many runs over many datasets: Friedman
with the Nemenyi post-hoc test and critical difference (:func:`friedman`). Plus Holm's
adjustment (:func:`holm`) and a percentile bootstrap interval of a mean (:func:`bootstrap_ci`).

Degenerate data (too few folds, NaN, zero variance, identical predictions) never raises: the
result says why in its verdict and its p-value is a number or None, never NaN. Invalid
arguments raise ValueError: per-fold scores of different lengths, a negative rope, or a test
fraction outside (0, 1) when there are at least 2 usable folds.
scipy, pandas, statsmodels, baycomp and scikit-posthocs are imported only when a test runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

Scores = Sequence[float] | np.ndarray
Detail = dict[str, float | int | None]

#: Posterior probability at which the Bayesian test calls a side (or equivalence).
BAYES_DECISION = 0.95
#: Below this many discordant pairs McNemar uses the exact binomial test.
MCNEMAR_EXACT_BELOW = 25


@dataclass(frozen=True)
class PairTest:
    """One comparison of run A against run B."""

    test: str  # "corrected_t" | "mcnemar" | "bayes_corr_t"
    statistic: float | None
    p_value: float | None  # None for bayes_corr_t and for data that cannot be tested
    verdict: str
    detail: Detail
    better: str | None  # "a", "b" or None


@dataclass(frozen=True)
class FriedmanResult:
    """Friedman test over datasets (rows) and runs (columns), with Nemenyi post-hoc."""

    statistic: float | None
    p_value: float | None
    mean_ranks: dict[str, float]  # run label -> average rank (1 = best)
    cd: float | None  # Nemenyi critical difference at alpha
    alpha: float
    n_datasets: int
    pairwise_p: pd.DataFrame | None  # Nemenyi p-values, labels on both axes
    verdict: str


# --- shared helpers ------------------------------------------------------------------------------

def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def _pair_arrays(a: Scores, b: Scores) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.size != y.size:
        raise ValueError(f"per-fold scores differ in length ({x.size} vs {y.size}); "
                         "runs must share the same folds")
    return x, y


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")


def _unusable(x: np.ndarray, y: np.ndarray) -> str | None:
    """Why per-fold scores cannot be tested, or None."""
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return "some folds have missing (NaN) scores"
    if x.size < 2:
        return f"fewer than 2 folds ({x.size})"
    return None


def _tol(x: np.ndarray, y: np.ndarray) -> float:
    """Floating-point noise level for differences of these scores."""
    return 1e-12 * max(1.0, float(np.max(np.abs(x))), float(np.max(np.abs(y))))


def _is_constant(d: np.ndarray, x: np.ndarray, y: np.ndarray) -> bool:
    """True when every fold's difference is the same, up to floating-point noise."""
    return float(np.ptp(d)) <= _tol(x, y)


def _is_zero(value: float, x: np.ndarray, y: np.ndarray) -> bool:
    return abs(value) <= _tol(x, y)


def _nb_se(d: np.ndarray, test_fraction: float) -> float:
    """Nadeau–Bengio corrected standard error of mean(d)."""
    k = d.size
    ratio = test_fraction / (1.0 - test_fraction)  # n_test / n_train
    return math.sqrt((1.0 / k + ratio) * float(np.var(d, ddof=1)))


def _side(mean_diff: float, higher_is_better: bool) -> str:
    """'a' when mean(a - b) points A's way under the metric's direction, else 'b'."""
    return "a" if (mean_diff > 0) == higher_is_better else "b"


def _name(side: str, names: tuple[str, str]) -> str:
    return names[0] if side == "a" else names[1]


# --- corrected resampled t-test -----------------------------------------------------------------

def corrected_t(a: Scores, b: Scores, *, test_fraction: float, higher_is_better: bool = True,
                alpha: float = 0.05, names: tuple[str, str] = ("A", "B")) -> PairTest:
    """Nadeau & Bengio's corrected resampled t-test on per-fold scores of two runs.

    ``test_fraction`` is the mean share of rows held out per fold (1/k for k-fold).
    """
    x, y = _pair_arrays(a, b)
    d = x - y
    k = d.size
    detail: Detail = {"n_folds": k, "df": max(k - 1, 0), "test_fraction": test_fraction,
                      "mean_diff": None, "se": None}
    reason = _unusable(x, y)
    if reason:
        return PairTest("corrected_t", None, None, f"not tested: {reason}", detail, None)
    _check_fraction(test_fraction)
    mean = float(d.mean())
    detail["mean_diff"] = mean
    if _is_constant(d, x, y):
        detail["se"] = 0.0
        if _is_zero(mean, x, y):
            detail["mean_diff"] = 0.0
            return PairTest("corrected_t", 0.0, 1.0, "no difference: identical per-fold scores",
                            detail, None)
        side = _side(mean, higher_is_better)
        verdict = (f"{_name(side, names)} is better: every fold differs by the same amount "
                   f"({mean:+.4g})")
        return PairTest("corrected_t", None, 0.0, verdict, detail, side)

    from scipy import stats

    se = _nb_se(d, test_fraction)
    detail["se"] = se
    t = mean / se
    p = float(min(1.0, 2.0 * stats.t.sf(abs(t), k - 1)))
    if p < alpha:
        side = _side(mean, higher_is_better)
        return PairTest("corrected_t", t, p, f"{_name(side, names)} is better ({_fmt_p(p)})",
                        detail, side)
    return PairTest("corrected_t", t, p, f"no significant difference ({_fmt_p(p)})", detail, None)


def diff_ci(a: Scores, b: Scores, *, test_fraction: float,
            confidence: float = 0.95) -> tuple[float, float] | None:
    """Interval for mean(a - b) consistent with :func:`corrected_t` (None if untestable)."""
    x, y = _pair_arrays(a, b)
    if _unusable(x, y):
        return None
    _check_fraction(test_fraction)
    d = x - y
    mean = float(d.mean())
    if _is_constant(d, x, y):
        return (mean, mean)
    from scipy import stats

    half = float(stats.t.ppf(1.0 - (1.0 - confidence) / 2.0, d.size - 1)) * _nb_se(d, test_fraction)
    return (mean - half, mean + half)


# --- McNemar --------------------------------------------------------------------------------------

def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and v != v) for v in values],
                        dtype=bool)
    return np.zeros(values.shape, dtype=bool)


def mcnemar(y_true: Sequence | np.ndarray, pred_a: Sequence | np.ndarray,
            pred_b: Sequence | np.ndarray, *, alpha: float = 0.05,
            names: tuple[str, str] = ("A", "B")) -> PairTest:
    """McNemar's test on two classifiers' out-of-fold predictions for the same rows.

    Exact binomial below 25 discordant pairs, else chi-square with continuity correction.
    Rows where the label or either prediction is missing are dropped (``detail["n_dropped"]``).
    """
    y, pa, pb = (np.asarray(v).ravel() for v in (y_true, pred_a, pred_b))
    if not y.size == pa.size == pb.size:
        raise ValueError(f"y_true, pred_a, pred_b differ in length ({y.size}, {pa.size}, {pb.size})")
    keep = ~(_missing(y) | _missing(pa) | _missing(pb))
    y, pa, pb = y[keep], pa[keep], pb[keep]
    right_a, right_b = pa == y, pb == y
    n01 = int(np.sum(right_a & ~right_b))
    n10 = int(np.sum(~right_a & right_b))
    exact = n01 + n10 < MCNEMAR_EXACT_BELOW
    detail: Detail = {"n01": n01, "n10": n10, "exact": int(exact), "n_rows": int(y.size),
                      "n_dropped": int((~keep).sum()), "errors_a": int((~right_a).sum()),
                      "errors_b": int((~right_b).sum())}
    if y.size == 0:
        return PairTest("mcnemar", None, None, "not tested: no rows to compare", detail, None)
    if n01 + n10 == 0:
        return PairTest("mcnemar", 0.0, 1.0, "no difference: identical errors", detail, None)

    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    n11 = int(np.sum(right_a & right_b))
    table = [[n11, n01], [n10, int(y.size) - n11 - n01 - n10]]
    res = sm_mcnemar(table, exact=exact, correction=True)
    stat, p = float(res.statistic), float(min(1.0, res.pvalue))
    counts = (f"only {names[0]} right on {n01} rows, only {names[1]} right on {n10}")
    if p < alpha:
        side = "a" if n01 > n10 else "b"
        return PairTest("mcnemar", stat, p,
                        f"{_name(side, names)} is better ({_fmt_p(p)}; {counts})", detail, side)
    return PairTest("mcnemar", stat, p, f"no significant difference ({_fmt_p(p)}; {counts})",
                    detail, None)


# --- Holm ---------------------------------------------------------------------------------------

def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values; None (or NaN) entries stay None and are not counted."""
    values = list(p_values)
    family = [i for i, p in enumerate(values) if p is not None and math.isfinite(p)]
    out: list[float | None] = [None] * len(values)
    if not family:
        return out
    from statsmodels.stats.multitest import multipletests

    adjusted = multipletests([float(values[i]) for i in family], method="holm")[1]
    for i, q in zip(family, adjusted, strict=True):
        out[i] = float(q)
    return out


# --- Bayesian correlated t-test -----------------------------------------------------------------

def _bayes_verdict(p_a: float, p_eq: float, p_b: float, rope: float,
                   names: tuple[str, str]) -> tuple[str, str | None]:
    probs = (f"P({names[0]} better) = {p_a:.2f}, P(equivalent within ±{rope:.3g}) = {p_eq:.2f}, "
             f"P({names[1]} better) = {p_b:.2f}")
    if p_a >= BAYES_DECISION:
        return f"{names[0]} is better: {probs}", "a"
    if p_b >= BAYES_DECISION:
        return f"{names[1]} is better: {probs}", "b"
    if p_eq >= BAYES_DECISION:
        return f"practically equivalent: {probs}", None
    return f"undecided: {probs}", None


def bayes_corr_t(a: Scores, b: Scores, *, rope: float, test_fraction: float,
                 higher_is_better: bool = True, names: tuple[str, str] = ("A", "B")) -> PairTest:
    """Bayesian correlated t-test (Corani & Benavoli 2015) with correlation rho = test_fraction.

    ``rope`` is the half-width of the region of practical equivalence in the metric's units.
    Probabilities follow the metric's direction: for lower-is-better, A better means A lower.
    """
    x, y = _pair_arrays(a, b)
    if not (math.isfinite(rope) and rope >= 0):
        raise ValueError(f"rope must be a finite number >= 0, got {rope!r}")
    k = x.size
    detail: Detail = {"p_a_better": None, "p_equivalent": None, "p_b_better": None,
                      "rope": rope, "mean_diff": None, "scale": None, "df": max(k - 1, 0),
                      "n_folds": k, "test_fraction": test_fraction}
    reason = _unusable(x, y)
    if reason:
        return PairTest("bayes_corr_t", None, None, f"not tested: {reason}", detail, None)
    _check_fraction(test_fraction)
    d = x - y
    mean = float(d.mean())
    if _is_constant(d, x, y):
        var = 0.0
        if _is_zero(mean, x, y):
            mean = 0.0
    else:
        var = _nb_se(d, test_fraction) ** 2
    oriented = mean if higher_is_better else -mean  # > 0 means A is better

    from baycomp.single import Posterior

    # baycomp's Posterior: left = difference below -rope, right = above +rope.
    probs = Posterior(oriented, var, k - 1, rope).probs()
    p_b, p_a = float(probs[0]), float(probs[-1])  # (left, [rope,] right); no rope when rope == 0
    p_eq = min(1.0, max(0.0, 1.0 - p_a - p_b)) if len(probs) == 3 else 0.0
    detail.update(p_a_better=p_a, p_equivalent=p_eq, p_b_better=p_b, mean_diff=mean,
                  scale=math.sqrt(var))
    verdict, better = _bayes_verdict(p_a, p_eq, p_b, rope, names)
    return PairTest("bayes_corr_t", None, None, verdict, detail, better)


# --- Friedman + Nemenyi ---------------------------------------------------------------------------

def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """Demšar's q_alpha for k runs: studentized range quantile (df = inf) over sqrt(2)."""
    from scipy import stats

    return float(stats.studentized_range.ppf(1.0 - alpha, k, np.inf)) / math.sqrt(2.0)


def _complete_rows(scores: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Numeric copy with str labels and only rows scored for every run; also the rows dropped."""
    import pandas as pd

    table = scores.apply(pd.to_numeric, errors="coerce").astype(float)
    table.columns = [str(c) for c in scores.columns]
    table = table.replace([np.inf, -np.inf], np.nan)
    complete = table.dropna(axis=0, how="any")
    return complete, len(table) - len(complete)


def _dropped_note(dropped: int) -> str:
    if not dropped:
        return ""
    return f" ({dropped} dataset{'s' if dropped != 1 else ''} with missing scores dropped)"


def friedman(scores: pd.DataFrame, *, higher_is_better: bool = True,
             alpha: float = 0.05) -> FriedmanResult:
    """Friedman test with Nemenyi post-hoc over rows = datasets, columns = runs (mean metric).

    Ranks are per dataset, ties averaged, rank 1 = best under the metric's direction. Rows
    with a missing score are dropped.
    """
    labels = [str(c) for c in scores.columns]
    if len(set(labels)) != len(labels):
        raise ValueError(f"run labels must be unique, got {labels}")
    complete, dropped = _complete_rows(scores)
    n, k = complete.shape
    note = _dropped_note(dropped)
    ranks = complete.rank(axis=1, ascending=not higher_is_better, method="average")
    mean_ranks = {c: float(r) for c, r in ranks.mean(axis=0).items()} if n else {}

    def untested(reason: str) -> FriedmanResult:
        return FriedmanResult(None, None, mean_ranks, None, alpha, n, None,
                              f"not tested: {reason}{note}")

    if k < 3:
        return untested(f"the Friedman test needs at least 3 runs (have {k}); compare pairs")
    if n < 2:
        return untested(f"needs at least 2 datasets with a score for every run (have {n})")

    from scikit_posthocs import posthoc_nemenyi_friedman
    from scipy import stats

    cd = nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n))
    pairwise = posthoc_nemenyi_friedman(complete)
    pairwise.index.name = pairwise.columns.name = None
    if bool((complete.nunique(axis=1) == 1).all()):
        verdict = f"no difference: all {k} runs tie on every one of {n} datasets{note}"
        return FriedmanResult(0.0, 1.0, mean_ranks, cd, alpha, n, pairwise, verdict)
    res = stats.friedmanchisquare(*(complete[c].to_numpy() for c in complete.columns))
    stat, p = float(res.statistic), float(res.pvalue)
    if not (math.isfinite(stat) and math.isfinite(p)):
        return untested("the Friedman statistic is undefined for these scores")
    best = min(mean_ranks, key=mean_ranks.__getitem__)
    if p < alpha:
        verdict = (f"significant differences among {k} runs over {n} datasets ({_fmt_p(p)}); "
                   f"best mean rank: {best} ({mean_ranks[best]:.2f}), "
                   f"critical difference {cd:.2f}{note}")
    else:
        verdict = f"no significant difference among {k} runs over {n} datasets ({_fmt_p(p)}){note}"
    return FriedmanResult(stat, p, mean_ranks, cd, alpha, n, pairwise, verdict)


# --- bootstrap ------------------------------------------------------------------------------------

def bootstrap_ci(values: Scores, *, confidence: float = 0.95, seed: int = 0,
                 n_resamples: int = 2000) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean of the finite values (None if fewer than 2)."""
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size < 2:
        return None
    if bool(np.all(x == x[0])):
        return (float(x[0]), float(x[0]))
    from scipy import stats

    res = stats.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                          method="percentile", rng=np.random.default_rng(seed))
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))
