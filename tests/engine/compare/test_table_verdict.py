"""engine.compare: the comparison table, the verdict and the pairwise tests on runs with
hand-chosen per-fold scores and predictions.

Every expected number is computed here from the values written: fold differences by hand,
Nadeau–Bengio intervals with scipy.stats.t, Holm's step-down by hand, McNemar counts from the
error rows chosen below and its exact p-value with scipy.stats.binomtest.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.compare import select
from engine.compare.pairwise import pairwise
from engine.compare.table import compare_table_info
from engine.compare.verdict import verdict
from engine.results import ResultStore, RunRecord
from engine.results.folds import folds_id
from engine.workspace import Workspace

K = 5
N_ROWS = 100  # 20 rows per fold: test fraction 0.2, n_test / n_train = 0.25
CLASSES = [0, 1]

# per-fold accuracy; group 1 shares folds (seed 0), group 2 has other folds (seed 1)
ACC = {
    "A": [0.950, 0.955, 0.945, 0.952, 0.948],                 # mean 0.95, p95 3.0 ms
    "B": [0.948, 0.954, 0.942, 0.950, 0.946],                 # A - [.002,.001,.003,.002,.002]: 0.948, 1.0 ms
    "C": [0.899, 0.906, 0.894, 0.903, 0.898],                 # 0.90, 0.5 ms: clearly worse
    "E": [0.960, 0.967, 0.954, 0.963, 0.956],                 # A + [.010,.012,.009,.011,.008]: 0.96, 0.2 ms
    "D": [0.990, 0.985, 0.995, 0.990, 0.990],                 # group 2: 0.99, 0.1 ms
    "D2": [0.970, 0.975, 0.965, 0.972, 0.968],                # group 2: 0.97, 0.05 ms
    # for Holm: Y - X = [.01,.016,.004,.012,.008] gives p ~ 0.029 alone; Z is noise around X
    "X": [0.900, 0.910, 0.890, 0.905, 0.895],
    "Y": [0.910, 0.926, 0.894, 0.917, 0.903],
    "Z": [0.930, 0.880, 0.910, 0.885, 0.895],
}
COSTS = {  # p95 latency (ms), size (bytes)
    "A": (3.0, 4000), "B": (1.0, 1000), "C": (0.5, 500), "E": (0.2, 300),
    "D": (0.1, 100), "D2": (0.05, 200), "X": (1.0, 1000), "Y": (1.0, 1000), "Z": (1.0, 1000),
}
SEED = {"D": 1, "D2": 1}
# McNemar: A is wrong on rows 0-4, B on rows 3-14; every other run is wrong on no row
WRONG = {"A": set(range(0, 5)), "B": set(range(3, 15))}


def rid(name: str) -> str:
    return (name.encode().hex() + "0" * 16)[:15] + "f"


def fold_of(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(N_ROWS) % K


def predictions(name: str) -> pd.DataFrame:
    rows = np.arange(N_ROWS)
    y = rows % 2
    pred = y.copy()
    for r in WRONG.get(name, ()):
        pred[r] = 1 - y[r]
    frame = pd.DataFrame({"row": rows, "fold": fold_of(SEED.get(name, 0)), "y_true": y, "y_pred": pred})
    # stored in a shuffled row order: the tests must align runs by row, not by position
    return frame.sample(frac=1.0, random_state=len(name) * 7 + ord(name[0])).reset_index(drop=True)


def write_run(ws: Workspace, name: str) -> str:
    acc = np.asarray(ACC[name])
    f1 = acc * 0.99
    pred = predictions(name)
    p95, size = COSTS[name]
    s = {
        "run_id": rid(name), "model": f"model {name}", "artifact_id": "cd" * 8, "format": "onnx",
        "mode": "as-is", "task": "classification", "dataset": "digits", "dataset_id": "68620f2325db13f3",
        "target": "target", "n_rows": N_ROWS, "n_features": 64, "n_folds": K, "seed": SEED.get(name, 0),
        "rows_seen": False, "accuracy_mean": float(acc.mean()), "accuracy_std": float(acc.std(ddof=1)),
        "f1_macro_mean": float(f1.mean()), "f1_macro_std": float(f1.std(ddof=1)),
        "latency_p50_ms": p95 / 2, "latency_p95_ms": p95, "latency_p99_ms": p95 * 1.2,
        "throughput_per_s": 1000 / p95, "size_bytes": size, "n_parameters": size // 4,
        "latency_skewed": False, "created_at": "2024-05-01T12:00:00+00:00", "classes": CLASSES,
        "config": {"cv": K, "seed": SEED.get(name, 0)}, "environment": {"cpu": "test", "cores": 2},
        "folds_id": folds_id(pred, CLASSES),
    }
    folds = pd.DataFrame({"fold": np.arange(K), "n_test": N_ROWS // K, "fit_seconds": 0.0,
                          "accuracy": acc, "f1_macro": f1})
    ResultStore(ws).save(RunRecord(s["run_id"], s, {"folds": folds.iloc[::-1], "predictions": pred}))
    return s["run_id"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("table-verdict") / "ws")
    for name in ACC:
        write_run(ws, name)
    return ws


def ids(*names: str) -> list[str]:
    return [rid(n) for n in names]


def nb_interval(d, *, ratio: float = 0.25, confidence: float = 0.95) -> tuple[float, float]:
    """Textbook Nadeau–Bengio interval of mean(d): t_{k-1} * sqrt((1/k + n_test/n_train) s^2)."""
    d = np.asarray(d, dtype=float)
    k = len(d)
    half = stats.t.ppf(0.5 + confidence / 2, k - 1) * math.sqrt((1 / k + ratio) * np.var(d, ddof=1))
    return d.mean() - half, d.mean() + half


def nb_p(d, *, ratio: float = 0.25) -> float:
    d = np.asarray(d, dtype=float)
    t = d.mean() / math.sqrt((1 / len(d) + ratio) * np.var(d, ddof=1))
    return 2 * stats.t.sf(abs(t), len(d) - 1)


def holm_by_hand(p: list[float]) -> list[float]:
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


# ------------------------------------------------------------------ the table
ALL = ("A", "B", "C", "E", "D", "D2")


@pytest.fixture(scope="module")
def table(ws):
    return compare_table_info(select(ws, ids(*ALL)), baseline=rid("A"))


def test_table_means_and_std_are_the_runs(table):
    f = table.frame
    assert f["run_id"].tolist() == ids(*ALL)
    for i, name in enumerate(ALL):
        assert f["accuracy"].iloc[i] == pytest.approx(np.mean(ACC[name]), abs=1e-12)
        assert f["accuracy_std"].iloc[i] == pytest.approx(np.std(ACC[name], ddof=1), abs=1e-12)
    assert set(table.metrics) == {"accuracy", "f1_macro"}  # only metrics the runs carry


def test_table_interval_of_a_mean_lies_within_the_fold_values(table):
    f = table.frame
    for i, name in enumerate(ALL):
        lo, hi = f["accuracy_ci_low"].iloc[i], f["accuracy_ci_high"].iloc[i]
        assert min(ACC[name]) <= lo <= np.mean(ACC[name]) <= hi <= max(ACC[name]), name
        assert hi > lo


def test_table_differences_from_the_baseline_match_hand_computed_fold_differences(table):
    f = table.frame.set_index("run_id")
    by_hand = {"A": 0.0, "B": -0.002, "C": -0.05, "E": 0.01}  # mean(run - A) over folds, computed above
    for name, diff in by_hand.items():
        assert f.loc[rid(name), "accuracy_diff"] == pytest.approx(diff, abs=1e-12), name
    for name in ("B", "C", "E"):
        d = np.asarray(ACC[name]) - np.asarray(ACC["A"])
        lo, hi = nb_interval(d)
        assert f.loc[rid(name), "accuracy_diff_low"] == pytest.approx(lo, abs=1e-12), name
        assert f.loc[rid(name), "accuracy_diff_high"] == pytest.approx(hi, abs=1e-12), name
    assert (f.loc[rid("A"), "accuracy_diff_low"], f.loc[rid("A"), "accuracy_diff_high"]) == (0.0, 0.0)
    # runs scored on other folds get no difference from the baseline, and a note says why
    for name in ("D", "D2"):
        assert np.isnan(f.loc[rid(name), "accuracy_diff"]) and np.isnan(f.loc[rid(name), "accuracy_diff_low"])
    assert any("2 run(s) were scored on other rows" in n for n in table.notes)


def test_table_interval_at_another_confidence(ws):
    t = compare_table_info(select(ws, ids("A", "B")), baseline=rid("A"), confidence=0.8)
    lo, hi = nb_interval(np.asarray(ACC["B"]) - np.asarray(ACC["A"]), confidence=0.8)
    assert t.frame["accuracy_diff_low"].iloc[1] == pytest.approx(lo, abs=1e-12)
    assert t.frame["accuracy_diff_high"].iloc[1] == pytest.approx(hi, abs=1e-12)


def test_best_is_marked_within_each_group(table):
    pos = {name: i for i, name in enumerate(ALL)}
    # group 1 (A, B, C, E) and group 2 (D, D2), each with its own best
    assert set(table.best["accuracy"]) == {pos["E"], pos["D"]}
    assert set(table.best["latency_p95_ms"]) == {pos["E"], pos["D2"]}
    assert set(table.best["size_bytes"]) == {pos["E"], pos["D"]}
    assert set(table.best["throughput_per_s"]) == {pos["E"], pos["D2"]}
    assert table.higher_is_better["accuracy"] is True and table.higher_is_better["size_bytes"] is False
    assert table.frame["group"].nunique() == 2
    assert any("2 different sets of rows or folds" in n for n in table.notes)


def test_best_is_not_marked_in_a_group_of_one(ws):
    t = compare_table_info(select(ws, ids("A", "B", "D")))
    assert set(t.best["accuracy"]) == {0}  # A over B; D alone in its group is not "best"


def test_cost_ratios_against_the_baseline(table):
    f = table.frame.set_index("run_id")
    base_p95, base_size = COSTS["A"]
    for name in ALL:
        p95, size = COSTS[name]
        assert f.loc[rid(name), "size_bytes_ratio"] == pytest.approx(size / base_size)
        assert f.loc[rid(name), "latency_p95_ms_ratio"] == pytest.approx(p95 / base_p95)
    assert f.loc[rid("B"), "size_bytes_ratio"] == pytest.approx(0.25)


def test_a_baseline_not_selected_is_dropped_with_a_note(ws):
    t = compare_table_info(select(ws, ids("A", "B")), baseline=rid("C"))
    assert t.baseline is None and "accuracy_diff" not in t.frame
    assert any("baseline is not among" in n for n in t.notes)


# ------------------------------------------------------------------ the verdict
def test_verdict_best_and_cheapest_is_picked(ws):
    v = verdict(select(ws, ids("A", "B", "C", "E")))
    assert v.pick == rid("E")
    assert v.text.startswith("Ship model E: the best Accuracy (0.9600)")
    assert set(v.beaten) | set(v.tied) == set(ids("A", "B", "C"))
    assert rid("C") in v.beaten  # worse on every fold by 0.06 (p < 1e-5 even after Holm)
    assert v.metric == "accuracy" and v.margin == 0.005 and v.cost == "latency_p95_ms"


def test_verdict_picks_a_slightly_worse_but_3x_faster_run(ws):
    v = verdict(select(ws, ids("A", "B", "C")))
    assert v.pick == rid("B")  # 0.002 below A (within the 0.005 margin), p95 1 ms vs 3 ms
    assert "within" in v.text and "faster" in v.text
    assert "within 0.2 points of the best Accuracy (model A" in v.text
    assert "3.0x faster at p95" in v.text
    assert "4.0x smaller" in v.text  # 1000 vs 4000 bytes
    # a margin under the gap, and A is significantly better (p ~ 0.014): A is the pick
    assert nb_p(np.asarray(ACC["B"]) - np.asarray(ACC["A"])) < 0.05
    tight = verdict(select(ws, ids("A", "B", "C")), margin=0.001)
    assert tight.pick == rid("A")


def test_verdict_cost_decides_between_contenders(ws):
    sel = select(ws, ids("A", "B", "C"))
    assert verdict(sel, cost="size_bytes").pick == rid("B")
    # deciding on throughput (higher is better): B's 1000 rows/s beat A's 333
    assert verdict(sel, cost="throughput_per_s").pick == rid("B")


def test_verdict_budgets_exclude_the_best(ws):
    sel = select(ws, ids("A", "B", "C"))
    v = verdict(sel, budgets={"latency_p95_ms": 2})
    assert v.pick == rid("B")
    assert set(v.excluded) == {rid("A")}
    why = v.excluded[rid("A")]
    assert "Latency p95" in why and "3" in why and "budget of 2" in why
    assert "the best Accuracy (0.9480)" in v.text and "Budget: Latency p95 ≤ 2 ms" in v.text

    v = verdict(sel, budgets={"latency_p95_ms": 0.8})
    assert v.pick == rid("C") and set(v.excluded) == set(ids("A", "B"))

    v = verdict(sel, budgets={"latency_p95_ms": 2, "size_bytes": 600})
    assert v.pick == rid("C") and set(v.excluded) == set(ids("A", "B"))
    assert "Size" in v.excluded[rid("B")]

    v = verdict(sel, budgets={"throughput_per_s": 1500})  # a lower bound: only C (2000/s) meets it
    assert v.pick == rid("C") and set(v.excluded) == set(ids("A", "B"))


def test_verdict_with_no_run_within_budget_picks_none(ws):
    v = verdict(select(ws, ids("A", "B", "C")), budgets={"latency_p95_ms": 0.1})
    assert v.pick is None
    assert "No run meets the budget" in v.text and "0.1" in v.text
    assert set(v.excluded) == set(ids("A", "B", "C"))
    assert v.beaten == () and v.tied == ()


def test_verdict_never_picks_a_run_of_another_group(ws):
    sel = select(ws, ids("A", "B", "C", "E", "D", "D2"))  # D: best and cheapest, but other folds
    v = verdict(sel)
    assert v.pick == rid("E")
    assert v.excluded[rid("D")] == v.excluded[rid("D2")] == "scored on other rows or folds"
    assert rid("D") not in v.beaten + v.tied
    # a budget only D and D2 meet: still not picked
    v = verdict(sel, budgets={"latency_p95_ms": 0.15})
    assert v.pick is None
    # with the baseline in group 2 the verdict is about group 2
    v = verdict(sel, baseline=rid("D2"))
    assert v.pick == rid("D") or v.pick == rid("D2")
    assert set(v.excluded) == set(ids("A", "B", "C", "E"))


# ------------------------------------------------------------------ pairwise tests
@pytest.fixture(scope="module")
def pw(ws):
    return pairwise(select(ws, ids(*ALL)))


def test_pairwise_has_one_corrected_t_row_per_pair_and_metric(pw):
    t = pw[pw["test"] == "corrected_t"]
    pairs_by_hand = 4 * 3 // 2 + 1  # group 1: 4 runs; group 2: 2 runs
    assert len(t) == pairs_by_hand * 2  # accuracy and f1_macro have fold scores
    assert set(t["metric"]) == {"accuracy", "f1_macro"}
    cross = {frozenset(p) for p in zip(t["a"], t["b"], strict=True)}
    assert len(cross) == pairs_by_hand
    for pair in cross:  # never a pair across groups
        assert len({rid(n) in pair for n in ("D", "D2")}) == 1 or pair == frozenset(ids("D", "D2"))
    assert len(pw[pw["test"] == "mcnemar"]) == pairs_by_hand
    assert len(pw[pw["test"] == "bayes_corr_t"]) == pairs_by_hand


def test_pairwise_raw_p_is_the_textbook_corrected_t(pw):
    row = pw[(pw["test"] == "corrected_t") & (pw["metric"] == "accuracy")
             & (pw["a"] == rid("A")) & (pw["b"] == rid("B"))].iloc[0]
    d = np.asarray(ACC["A"]) - np.asarray(ACC["B"])
    assert row["p_value"] == pytest.approx(nb_p(d), rel=1e-9)
    assert row["statistic"] == pytest.approx(d.mean() / math.sqrt(0.45 * np.var(d, ddof=1)), rel=1e-9)


def test_pairwise_holm_matches_a_hand_holm_over_one_family(pw):
    # a family is one test on one metric over the pairs of one comparison group: the pair on the
    # other rows (D vs D2) is its own family, so adding it changes no p-value of the first group
    for test in ("corrected_t", "mcnemar"):
        families = pw[pw["test"] == test].groupby(["metric", "group"])
        assert len(families) == (2 if test == "mcnemar" else 4)
        for _, fam in families:
            raw = [float(p) for p in fam["p_value"]]
            assert [float(p) for p in fam["p_adjusted"]] == pytest.approx(holm_by_hand(raw), rel=1e-9, abs=1e-15)
    lone = pw[(pw["test"] == "corrected_t") & pw["a"].isin(ids("D", "D2")) & pw["b"].isin(ids("D", "D2"))]
    assert (lone["p_adjusted"].astype(float) == lone["p_value"].astype(float)).all()
    assert pw.loc[pw["test"] == "bayes_corr_t", "p_adjusted"].isna().all()


def test_significant_alone_but_not_after_holm_says_so(ws):
    frame = pairwise(select(ws, ids("X", "Y", "Z")), tests=("corrected_t",), metric_names=["accuracy"])
    assert len(frame) == 3
    xy = frame[(frame["a"] == rid("X")) & (frame["b"] == rid("Y"))].iloc[0]
    p = nb_p(np.asarray(ACC["X"]) - np.asarray(ACC["Y"]))
    assert 0.05 / 3 < p < 0.05  # significant alone, not once tripled
    assert xy["p_value"] == pytest.approx(p, rel=1e-9)
    assert xy["p_adjusted"] == pytest.approx(holm_by_hand([float(v) for v in frame["p_value"]])[
        frame.index.get_loc(xy.name)], rel=1e-9)
    assert xy["p_adjusted"] >= 0.05
    assert "Holm" in xy["verdict"] and "no significant difference" in xy["verdict"]
    assert pd.isna(xy["better"])  # no side called
    # the same pair alone (a family of one) is significant
    alone = pairwise(select(ws, ids("X", "Y")), tests=("corrected_t",), metric_names=["accuracy"]).iloc[0]
    assert alone["p_adjusted"] == pytest.approx(p) and alone["better"] == rid("Y")
    assert "Holm" not in alone["verdict"]


def test_mcnemar_counts_match_the_rows_written(pw):
    row = pw[(pw["test"] == "mcnemar") & (pw["a"] == rid("A")) & (pw["b"] == rid("B"))].iloc[0]
    n01 = len(WRONG["B"] - WRONG["A"])  # A right, B wrong: rows 5-14
    n10 = len(WRONG["A"] - WRONG["B"])  # A wrong, B right: rows 0-2
    assert (n01, n10) == (10, 3)
    assert row["detail"]["n01"] == n01 and row["detail"]["n10"] == n10
    assert row["detail"]["n_rows"] == N_ROWS
    assert row["p_value"] == pytest.approx(stats.binomtest(n10, n01 + n10, 0.5).pvalue, rel=1e-9)
    # A against a run that is never wrong: only A's 5 errors are discordant
    row = pw[(pw["test"] == "mcnemar") & (pw["a"] == rid("A")) & (pw["b"] == rid("C"))].iloc[0]
    assert (row["detail"]["n01"], row["detail"]["n10"]) == (0, len(WRONG["A"]))


def test_a_metric_without_a_std_column_does_not_crash_the_table(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    for name in ("A", "B"):
        write_run(ws, name)
        path = ws.results / rid(name) / "summary.parquet"
        pd.read_parquet(path).drop(columns=["f1_macro_std"]).to_parquet(path, index=False)
    t = compare_table_info(select(ws, ids("A", "B")))
    assert t.frame["f1_macro"].tolist() == pytest.approx([np.mean(ACC[n]) * 0.99 for n in ("A", "B")])
    assert t.frame["f1_macro_std"].isna().all()


def test_a_verdict_over_several_sets_of_rows_names_the_one_it_answers_for(ws):
    sel = select(ws, ids(*ALL))
    v = verdict(sel)
    group = sel.group_names[sel.group_of(v.pick)]
    assert v.text.startswith(f"On {group}: Ship ")
    assert set(v.excluded) == set(ids("D", "D2"))  # the other rows are left out, not ranked
    assert not verdict(select(ws, ids("A", "B"))).text.startswith("On ")
