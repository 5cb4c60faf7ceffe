"""engine.compare.significance against independent oracles: textbook formulas written out
here, literal values computed once by hand, and the libraries' own front ends."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.compare import significance as sig

# Five folds of two runs (accuracy, higher is better); d = a - b = [.03, -.01, .04, .03, .04].
A5 = [0.81, 0.79, 0.84, 0.80, 0.83]
B5 = [0.78, 0.80, 0.80, 0.77, 0.79]
# Six folds; d = [.007, -.002, .011, .002, .006, .009].
A6 = [0.912, 0.905, 0.921, 0.899, 0.915, 0.908]
B6 = [0.905, 0.907, 0.910, 0.897, 0.909, 0.899]


# --- corrected_t ---------------------------------------------------------------------------------

def test_corrected_t_matches_the_textbook_formula_and_a_literal_value():
    r = sig.corrected_t(A5, B5, test_fraction=0.2)
    # by hand: mean(d) = 0.026, var(d, ddof=1) = 0.00043, n_test/n_train = 0.2/0.8 = 0.25
    t_hand = 0.026 / math.sqrt((1 / 5 + 0.25) * 0.00043)
    assert r.test == "corrected_t"
    assert r.statistic == pytest.approx(t_hand, rel=1e-9)
    assert r.statistic == pytest.approx(1.8691014021929324, rel=1e-9)
    assert r.p_value == pytest.approx(0.13497133155226626, abs=1e-9)
    assert r.p_value == pytest.approx(2 * stats.t.sf(t_hand, df=4), rel=1e-9)
    assert r.detail["df"] == 4 and r.detail["n_folds"] == 5
    assert r.detail["mean_diff"] == pytest.approx(0.026)
    assert r.better is None
    assert r.verdict == "no significant difference (p = 0.135)"


def test_correction_makes_the_test_more_conservative_than_a_plain_paired_t():
    plain = stats.ttest_rel(A5, B5)
    r = sig.corrected_t(A5, B5, test_fraction=0.2)
    assert plain.pvalue < 0.05 < r.p_value
    assert r.p_value > plain.pvalue
    assert abs(r.statistic) < abs(plain.statistic)


def test_corrected_t_agrees_with_baycomps_nadeau_bengio_variance_for_k_fold():
    from baycomp import CorrelatedTTest

    # baycomp corrects var(d) by 1/k + 1/(k-1), i.e. test_fraction = 1/k; its diff is b - a
    mean, var, df = CorrelatedTTest.compute_statistics(np.array(A6), np.array(B6))
    r = sig.corrected_t(A6, B6, test_fraction=1 / 6)
    assert r.statistic == pytest.approx(-mean / math.sqrt(var), rel=1e-9)
    assert r.detail["df"] == df


def test_significant_difference_names_the_better_run_in_the_metrics_direction():
    a = [0.90, 0.91, 0.92, 0.90, 0.93, 0.91, 0.92, 0.90, 0.91, 0.92]
    b = [0.85, 0.87, 0.86, 0.85, 0.88, 0.86, 0.86, 0.86, 0.85, 0.87]
    hi = sig.corrected_t(a, b, test_fraction=0.1, names=("forest", "tree"))
    assert hi.p_value < 0.001 and hi.better == "a"
    assert hi.verdict == "forest is better (p < 0.001)"
    # the same numbers as errors (lower is better): B is the better run, p unchanged
    lo = sig.corrected_t(a, b, test_fraction=0.1, higher_is_better=False, names=("forest", "tree"))
    assert lo.p_value == hi.p_value and lo.better == "b"
    assert lo.verdict.startswith("tree is better")
    # not significant at a strict alpha: nobody is better
    strict = sig.corrected_t(A5, B5, test_fraction=0.2, alpha=0.01)
    assert strict.better is None


def test_alpha_decides_significance():
    r = sig.corrected_t(A6, B6, test_fraction=1 / 6)
    assert 0.1 < r.p_value < 0.2
    assert sig.corrected_t(A6, B6, test_fraction=1 / 6, alpha=0.2).better == "a"
    assert sig.corrected_t(A6, B6, test_fraction=1 / 6, alpha=0.1).better is None


def test_corrected_t_identical_scores():
    r = sig.corrected_t(A5, A5, test_fraction=0.2)
    assert (r.statistic, r.p_value, r.better) == (0.0, 1.0, None)
    assert "identical per-fold scores" in r.verdict


@pytest.mark.parametrize(("higher", "better"), [(True, "a"), (False, "b")])
def test_corrected_t_constant_nonzero_difference(higher, better):
    # d = 0.1 in every fold, up to floating-point noise
    r = sig.corrected_t([0.8, 0.9, 0.7], [0.7, 0.8, 0.6], test_fraction=1 / 3,
                        higher_is_better=higher)
    assert r.statistic is None and r.p_value == 0.0 and r.better == better
    assert "every fold differs by the same amount" in r.verdict


@pytest.mark.parametrize(("a", "b", "reason"), [
    ([0.8], [0.7], "fewer than 2 folds"),
    ([], [], "fewer than 2 folds"),
    ([0.8, float("nan"), 0.7], [0.7, 0.8, 0.6], "NaN"),
])
def test_corrected_t_untestable_data_gives_no_p_value(a, b, reason):
    r = sig.corrected_t(a, b, test_fraction=0.5)
    assert r.p_value is None and r.statistic is None and r.better is None
    assert reason in r.verdict


def test_single_fold_runs_are_untested_even_with_test_fraction_one():
    r = sig.corrected_t([0.8], [0.7], test_fraction=1.0)
    assert r.p_value is None and "fewer than 2 folds" in r.verdict
    assert sig.diff_ci([0.8], [0.7], test_fraction=1.0) is None


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="length"):
        sig.corrected_t([0.1, 0.2], [0.1, 0.2, 0.3], test_fraction=0.2)
    with pytest.raises(ValueError, match="test_fraction"):
        sig.corrected_t(A5, B5, test_fraction=0.0)
    with pytest.raises(ValueError, match="rope"):
        sig.bayes_corr_t(A5, B5, rope=-0.1, test_fraction=0.2)


# --- diff_ci --------------------------------------------------------------------------------------

def test_diff_ci_by_hand():
    lo, hi = sig.diff_ci(A5, B5, test_fraction=0.2)
    half = stats.t.ppf(0.975, 4) * math.sqrt((1 / 5 + 0.25) * 0.00043)
    assert lo == pytest.approx(0.026 - half, rel=1e-9)
    assert hi == pytest.approx(0.026 + half, rel=1e-9)


def test_diff_ci_is_consistent_with_corrected_t():
    p = sig.corrected_t(A6, B6, test_fraction=0.25).p_value
    # the (1 - p) interval just touches zero; a wider one contains it, a narrower one does not
    lo, _ = sig.diff_ci(A6, B6, test_fraction=0.25, confidence=1 - p)
    assert lo == pytest.approx(0.0, abs=1e-12)
    assert sig.diff_ci(A6, B6, test_fraction=0.25, confidence=1 - p / 2)[0] < 0
    assert sig.diff_ci(A6, B6, test_fraction=0.25, confidence=1 - 2 * p)[0] > 0


def test_diff_ci_degenerate():
    assert sig.diff_ci(A5, A5, test_fraction=0.2) == (0.0, 0.0)
    lo, hi = sig.diff_ci([0.8, 0.9, 0.7], [0.7, 0.8, 0.6], test_fraction=1 / 3)
    assert lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
    assert sig.diff_ci([0.8, float("nan")], [0.7, 0.6], test_fraction=0.5) is None


# --- mcnemar --------------------------------------------------------------------------------------

def _rows(both: int, n01: int, n10: int, neither: int) -> tuple[list, list, list]:
    """Multiclass labels with the given agreement counts; A and B err with different labels."""
    classes = ["cat", "dog", "bird"]
    y, pa, pb = [], [], []
    for i, (a_right, b_right, count) in enumerate([(True, True, both), (True, False, n01),
                                                   (False, True, n10), (False, False, neither)]):
        for j in range(count):
            label = classes[(i + j) % 3]
            y.append(label)
            pa.append(label if a_right else classes[(i + j + 1) % 3])
            pb.append(label if b_right else classes[(i + j + 2) % 3])
    return y, pa, pb


def test_mcnemar_exact_binomial_small_counts():
    y, pa, pb = _rows(30, 10, 2, 5)
    r = sig.mcnemar(y, pa, pb, names=("svm", "knn"))
    # two-sided exact binomial: 2 * P(X <= 2), X ~ Bin(12, 1/2) = 2 * 79 / 4096
    assert r.p_value == pytest.approx(2 * 79 / 4096, abs=1e-12)
    assert r.p_value == pytest.approx(0.03857421875, abs=1e-12)
    assert r.detail["n01"] == 10 and r.detail["n10"] == 2 and r.detail["exact"]
    assert r.detail["errors_a"] == 7 and r.detail["errors_b"] == 15
    assert r.statistic == 2.0
    assert r.better == "a" and r.verdict.startswith("svm is better (p = 0.0386")
    # the mirror image: B has fewer errors
    r2 = sig.mcnemar(y, pb, pa)
    assert r2.p_value == pytest.approx(r.p_value) and r2.better == "b"


def test_mcnemar_chi_square_with_continuity_correction_for_large_counts():
    y, pa, pb = _rows(100, 40, 20, 10)
    r = sig.mcnemar(y, pa, pb)
    chi2 = (abs(40 - 20) - 1) ** 2 / (40 + 20)
    assert not r.detail["exact"]
    assert r.statistic == pytest.approx(chi2)
    assert r.p_value == pytest.approx(stats.chi2.sf(chi2, df=1), rel=1e-12)
    assert r.better == "a"


def test_mcnemar_switches_to_chi_square_at_25_discordant_pairs():
    assert sig.mcnemar(*_rows(5, 12, 12, 0)).detail["exact"]
    assert not sig.mcnemar(*_rows(5, 13, 12, 0)).detail["exact"]
    # balanced discordance: exact p is capped at 1
    assert sig.mcnemar(*_rows(5, 12, 12, 0)).p_value == 1.0


def test_mcnemar_not_significant():
    r = sig.mcnemar(*_rows(50, 6, 3, 4))
    assert r.p_value == pytest.approx(2 * stats.binom.cdf(3, 9, 0.5))
    assert r.better is None and r.verdict.startswith("no significant difference")


def test_mcnemar_identical_errors_and_empty_input():
    y, pa, _ = _rows(10, 3, 0, 2)
    r = sig.mcnemar(y, pa, list(pa))
    assert (r.statistic, r.p_value, r.better) == (0.0, 1.0, None)
    assert "identical errors" in r.verdict
    empty = sig.mcnemar([], [], [])
    assert empty.p_value is None and "no rows" in empty.verdict


def test_mcnemar_numeric_labels_and_dropped_missing_rows():
    y = np.array([0, 1, 2, 1, 0, 2, 1, 1])
    pa = np.array([0, 1, 2, 1, 0, 2, 1, np.nan])
    pb = np.array([1, 0, 2, 1, 0, 0, 0, 1])
    r = sig.mcnemar(y, pa, pb)
    assert r.detail["n_dropped"] == 1 and r.detail["n_rows"] == 7
    assert (r.detail["n01"], r.detail["n10"]) == (4, 0)
    assert r.p_value == pytest.approx(2 * 0.5 ** 4)


def test_mcnemar_length_mismatch_raises():
    with pytest.raises(ValueError, match="length"):
        sig.mcnemar([1, 0], [1, 0], [1])


# --- holm -----------------------------------------------------------------------------------------

def test_holm_by_hand():
    # sorted: .01*4 = .04, .03*3 = .09, .04*2 = .08 -> running max .09, .20*1 = .20
    out = sig.holm([0.01, 0.04, 0.03, 0.20])
    assert out == pytest.approx([0.04, 0.09, 0.09, 0.20])


def test_holm_passes_none_through_and_leaves_it_out_of_the_family():
    out = sig.holm([None, 0.01, 0.04, None, 0.03, 0.20, float("nan")])
    assert out[0] is None and out[3] is None and out[6] is None
    assert [out[i] for i in (1, 2, 4, 5)] == pytest.approx([0.04, 0.09, 0.09, 0.20])


def test_holm_caps_at_one_and_handles_empty_families():
    assert sig.holm([0.5, 0.6]) == [1.0, 1.0]
    assert sig.holm([0.3]) == [0.3]
    assert sig.holm([]) == []
    assert sig.holm([None, None]) == [None, None]


# --- bayes_corr_t ---------------------------------------------------------------------------------

def _posterior_by_hand(a, b, rope, rho):
    d = np.array(a) - np.array(b)
    k = len(d)
    scale = math.sqrt((1 / k + rho / (1 - rho)) * np.var(d, ddof=1))
    left = stats.t.cdf(-rope, k - 1, loc=d.mean(), scale=scale)
    right = 1 - stats.t.cdf(rope, k - 1, loc=d.mean(), scale=scale)
    return left, 1 - left - right, right  # B better, equivalent, A better (higher is better)


def test_bayes_matches_the_posterior_computed_by_hand():
    r = sig.bayes_corr_t(A6, B6, rope=0.005, test_fraction=0.25)
    p_b, p_eq, p_a = _posterior_by_hand(A6, B6, 0.005, 0.25)
    assert r.test == "bayes_corr_t" and r.p_value is None
    assert r.detail["p_a_better"] == pytest.approx(p_a, abs=1e-12)
    assert r.detail["p_equivalent"] == pytest.approx(p_eq, abs=1e-12)
    assert r.detail["p_b_better"] == pytest.approx(p_b, abs=1e-12)
    assert r.detail["rope"] == 0.005
    total = r.detail["p_a_better"] + r.detail["p_equivalent"] + r.detail["p_b_better"]
    assert total == pytest.approx(1.0, abs=1e-12)
    assert r.better is None and r.verdict.startswith("undecided: P(A better) = ")
    assert "P(equivalent within ±0.005)" in r.verdict


def test_bayes_sides_agree_with_baycomps_own_front_end_for_k_fold():
    from baycomp import CorrelatedTTest

    # baycomp fixes rho = 1/k; its "left" is b - a < -rope, i.e. A better when higher is better
    left, rope_p, right = CorrelatedTTest.probs(np.array(A6), np.array(B6), rope=0.003)
    r = sig.bayes_corr_t(A6, B6, rope=0.003, test_fraction=1 / 6)
    assert r.detail["p_a_better"] == pytest.approx(left, abs=1e-12)
    assert r.detail["p_equivalent"] == pytest.approx(rope_p, abs=1e-12)
    assert r.detail["p_b_better"] == pytest.approx(right, abs=1e-12)


def test_bayes_direction_flips_for_lower_is_better():
    hi = sig.bayes_corr_t(A6, B6, rope=0.002, test_fraction=0.2, names=("x", "y"))
    lo = sig.bayes_corr_t(A6, B6, rope=0.002, test_fraction=0.2, higher_is_better=False,
                          names=("x", "y"))
    assert lo.detail["p_a_better"] == pytest.approx(hi.detail["p_b_better"])
    assert lo.detail["p_b_better"] == pytest.approx(hi.detail["p_a_better"])
    assert lo.detail["p_equivalent"] == pytest.approx(hi.detail["p_equivalent"])
    assert hi.detail["p_a_better"] > 0.8 > 0.2 > lo.detail["p_a_better"]
    assert lo.verdict.startswith("undecided: P(x better) = 0.03")


def test_bayes_decides_a_side_and_equivalence():
    a = [0.90, 0.91, 0.92, 0.90, 0.93, 0.91, 0.92, 0.90, 0.91, 0.92]
    b = [0.85, 0.87, 0.86, 0.85, 0.88, 0.86, 0.86, 0.86, 0.85, 0.87]
    win = sig.bayes_corr_t(a, b, rope=0.005, test_fraction=0.1, names=("forest", "tree"))
    assert win.detail["p_a_better"] >= 0.95 and win.better == "a"
    assert win.verdict.startswith("forest is better: P(forest better) = ")
    lose = sig.bayes_corr_t(a, b, rope=0.005, test_fraction=0.1, higher_is_better=False)
    assert lose.better == "b"
    same = sig.bayes_corr_t(a, [x + 0.0004 * (-1) ** i for i, x in enumerate(a)], rope=0.01,
                            test_fraction=0.1)
    assert same.detail["p_equivalent"] >= 0.95 and same.better is None
    assert same.verdict.startswith("practically equivalent")


def test_bayes_zero_variance_puts_all_mass_on_the_region_of_the_difference():
    # d = 0.1 in every fold: beyond the rope, A better
    out = sig.bayes_corr_t([0.8, 0.9, 0.7], [0.7, 0.8, 0.6], rope=0.005, test_fraction=1 / 3)
    assert (out.detail["p_a_better"], out.detail["p_equivalent"], out.detail["p_b_better"]) == (
        1.0, 0.0, 0.0)
    assert out.better == "a"
    # d = 0.002 in every fold: inside the rope
    inside = sig.bayes_corr_t([0.802, 0.902], [0.8, 0.9], rope=0.005, test_fraction=0.5)
    assert inside.detail["p_equivalent"] == 1.0 and inside.better is None
    assert inside.verdict.startswith("practically equivalent")
    # identical scores
    same = sig.bayes_corr_t(A5, A5, rope=0.005, test_fraction=0.2)
    assert same.detail["p_equivalent"] == 1.0


def test_bayes_without_a_rope_and_untestable_data():
    r = sig.bayes_corr_t(A6, B6, rope=0.0, test_fraction=0.25)
    assert r.detail["p_equivalent"] == 0.0
    assert r.detail["p_a_better"] + r.detail["p_b_better"] == pytest.approx(1.0)
    nan = sig.bayes_corr_t([0.1, float("nan")], [0.1, 0.2], rope=0.01, test_fraction=0.5)
    assert nan.detail["p_a_better"] is None and nan.better is None and "NaN" in nan.verdict
    one = sig.bayes_corr_t([0.1], [0.2], rope=0.01, test_fraction=1.0)
    assert "fewer than 2 folds" in one.verdict


# --- friedman -------------------------------------------------------------------------------------

DEMSAR_Q05 = {3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164}


@pytest.mark.parametrize(("k", "q"), sorted(DEMSAR_Q05.items()))
def test_nemenyi_q_matches_demsars_table(k, q):
    assert sig.nemenyi_q(k, 0.05) == pytest.approx(q, abs=1e-3)


def test_friedman_by_hand():
    scores = pd.DataFrame({"A": [0.90, 0.70, 0.88, 0.95], "B": [0.85, 0.75, 0.86, 0.90],
                           "C": [0.80, 0.60, 0.87, 0.85]}, index=["d1", "d2", "d3", "d4"])
    r = sig.friedman(scores)
    # ranks (1 = best): d1 1 2 3, d2 2 1 3, d3 1 3 2, d4 1 2 3 -> R = 1.25, 2.0, 2.75
    assert r.mean_ranks == {"A": 1.25, "B": 2.0, "C": 2.75}
    n, k = 4, 3
    chi2 = 12 * n / (k * (k + 1)) * (1.25**2 + 2.0**2 + 2.75**2) - 3 * n * (k + 1)
    assert chi2 == pytest.approx(4.5)
    assert r.statistic == pytest.approx(chi2)
    assert r.p_value == pytest.approx(math.exp(-4.5 / 2))  # chi-square sf with 2 df
    assert r.n_datasets == 4 and r.alpha == 0.05
    assert r.cd == pytest.approx(2.343 * math.sqrt(k * (k + 1) / (6 * n)), abs=1e-3)
    assert r.verdict.startswith("no significant difference among 3 runs over 4 datasets")
    assert list(r.pairwise_p.index) == list(r.pairwise_p.columns) == ["A", "B", "C"]


def test_friedman_significant_and_nemenyi_agrees_with_the_critical_difference():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.6, 0.9, size=(6, 1))
    scores = pd.DataFrame(base + np.array([[0.05, 0.02, 0.0]]), columns=["A", "B", "C"])
    r = sig.friedman(scores)
    # every dataset ranks A, B, C: R = 1, 2, 3 -> chi2 = 6 * 14 - 72 = 12
    assert r.statistic == pytest.approx(12.0) and r.p_value == pytest.approx(math.exp(-6))
    assert "significant differences" in r.verdict and "best mean rank: A" in r.verdict
    for x in "ABC":
        for y in "ABC":
            if x != y:
                far = abs(r.mean_ranks[x] - r.mean_ranks[y]) > r.cd
                assert (r.pairwise_p.loc[x, y] < r.alpha) == far
    assert r.pairwise_p.loc["A", "C"] < 0.05 < r.pairwise_p.loc["A", "B"]


def test_friedman_lower_is_better_and_ties():
    scores = pd.DataFrame({"A": [0.9, 0.5, 0.3], "B": [0.9, 0.4, 0.2], "C": [0.8, 0.6, 0.2]})
    hi = sig.friedman(scores)
    # higher better: row1 1.5 1.5 3, row2 2 3 1, row3 1 2.5 2.5
    assert hi.mean_ranks == pytest.approx({"A": 4.5 / 3, "B": 7 / 3, "C": 6.5 / 3})
    lo = sig.friedman(scores, higher_is_better=False)
    assert lo.mean_ranks == pytest.approx({"A": 7.5 / 3, "B": 5 / 3, "C": 5.5 / 3})
    # scipy's tie-corrected statistic: chi2 / (1 - sum(t^3 - t) / (n (k^3 - k)))
    n, k = 3, 3
    chi2 = 12 * n / (k * (k + 1)) * sum(v**2 for v in hi.mean_ranks.values()) - 3 * n * (k + 1)
    assert hi.statistic == pytest.approx(chi2 / (1 - (6 + 6) / (n * (k**3 - k))))


def test_friedman_drops_incomplete_rows_and_refuses_too_little_data():
    scores = pd.DataFrame({"A": [0.9, 0.8, np.nan, 0.7], "B": [0.8, 0.7, 0.6, 0.6],
                           "C": [0.7, 0.75, 0.5, 0.65]})
    r = sig.friedman(scores)
    assert r.n_datasets == 3 and "1 dataset with missing scores dropped" in r.verdict
    two = sig.friedman(scores[["A", "B"]])
    assert two.p_value is None and two.cd is None and "at least 3 runs" in two.verdict
    assert two.mean_ranks == {"A": 1.0, "B": 2.0}
    one = sig.friedman(scores.iloc[:1])
    assert one.p_value is None and "at least 2 datasets" in one.verdict


def test_friedman_all_tied():
    r = sig.friedman(pd.DataFrame({"A": [0.5, 0.6], "B": [0.5, 0.6], "C": [0.5, 0.6]}))
    assert (r.statistic, r.p_value) == (0.0, 1.0)
    assert r.mean_ranks == {"A": 2.0, "B": 2.0, "C": 2.0}
    assert "tie" in r.verdict


# --- bootstrap_ci ---------------------------------------------------------------------------------

def test_bootstrap_ci_contains_the_mean_narrows_with_data_and_is_seeded():
    rng = np.random.default_rng(0)
    small, large = rng.normal(0.8, 0.05, 20), rng.normal(0.8, 0.05, 500)
    lo, hi = sig.bootstrap_ci(small)
    assert lo < small.mean() < hi
    lo2, hi2 = sig.bootstrap_ci(large)
    assert lo2 < large.mean() < hi2
    assert hi2 - lo2 < (hi - lo) / 2
    assert sig.bootstrap_ci(small, seed=3) == sig.bootstrap_ci(small, seed=3)
    assert sig.bootstrap_ci(small, seed=3) != sig.bootstrap_ci(small, seed=4)
    lo90, hi90 = sig.bootstrap_ci(small, confidence=0.9)
    assert lo < lo90 < hi90 < hi
    # roughly the normal-theory interval mean ± 1.96 s / sqrt(n)
    half = 1.96 * small.std(ddof=1) / math.sqrt(small.size)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.2)


def test_bootstrap_ci_degenerate():
    assert sig.bootstrap_ci([0.5]) is None
    assert sig.bootstrap_ci([0.5, float("nan")]) is None
    assert sig.bootstrap_ci([]) is None
    assert sig.bootstrap_ci([0.7, 0.7, 0.7]) == (0.7, 0.7)
    lo, hi = sig.bootstrap_ci([0.1, float("nan"), 0.3, 0.2])
    assert 0.1 <= lo < 0.2 < hi <= 0.3
