"""Reading studies back: best-so-far, bands, time-to-target, hypervolume, paging and sampling, each against
an independent oracle (a plain loop, a cell count, pandas), and incremental reads that convert each
finished trial once."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from engine.charts import tune as charts
from engine.errors import FrontierError
from engine.tune import history

optuna.logging.set_verbosity(optuna.logging.WARNING)
T0 = dt.datetime(2026, 1, 1, 12, 0, 0)


def _trial(i: int, values, *, state=TrialState.COMPLETE, constraint: float | None = None, took_s: float = 1.0):
    start = T0 + dt.timedelta(seconds=i)
    return create_trial(state=state, values=values if state == TrialState.COMPLETE else None,
                        params={"x": float(i % 7) / 7}, distributions={"x": FloatDistribution(0, 1)},
                        constraints=None if constraint is None else {"c": constraint},
                        ) if state != TrialState.RUNNING else None, start, start + dt.timedelta(seconds=took_s)


def _study(spec: list[tuple], directions=("maximize",), storage=None, name=None) -> optuna.Study:
    """A study of hand-made trials: (values, state, constraint) with increasing start times."""
    study = optuna.create_study(directions=list(directions), storage=storage, study_name=name)
    for i, (values, state, constraint) in enumerate(spec):
        t, start, end = _trial(i, values, state=state, constraint=constraint)
        t.datetime_start, t.datetime_complete = start, end
        study.add_trial(t)
    return study


def _random_spec(rng: np.random.Generator, n: int, k: int = 1) -> list[tuple]:
    spec = []
    for _ in range(n):
        r = rng.random()
        if r < 0.15:
            spec.append((None, TrialState.PRUNED, None))
        elif r < 0.2:
            spec.append((None, TrialState.FAIL, None))
        else:
            spec.append((list(rng.normal(size=k)), TrialState.COMPLETE, float(rng.normal())))
    return spec


@pytest.mark.parametrize("maximize", [True, False])
def test_best_so_far_equals_a_plain_loop_over_feasible_complete_trials(maximize):
    rng = np.random.default_rng(3)
    spec = _random_spec(rng, 120)
    study = _study(spec, directions=("maximize" if maximize else "minimize",))
    trials = history.TrialLog(study).refresh()
    curve = history.best_so_far(trials, maximize=maximize)
    best, expected, holder = None, [], []
    for i, (values, state, c) in enumerate(spec):  # trials finish in start order here
        if state == TrialState.COMPLETE and c <= 0 and (best is None or (values[0] > best[0] if maximize
                                                                          else values[0] < best[0])):
            best = (values[0], i)
        expected.append(math.nan if best is None else best[0])
        holder.append(-1 if best is None else best[1])
    np.testing.assert_allclose(curve["best"].to_numpy(), expected, equal_nan=True)
    assert curve["number"].tolist() == holder
    assert curve["order"].tolist() == list(range(1, 121))


def test_time_to_target_is_the_first_trial_reaching_it():
    spec = [([0.2], TrialState.COMPLETE, None), ([0.5], TrialState.COMPLETE, None), (None, TrialState.PRUNED, None),
            ([0.9], TrialState.COMPLETE, 1.0), ([0.8], TrialState.COMPLETE, -1.0), ([0.95], TrialState.COMPLETE, None)]
    trials = history.TrialLog(_study(spec)).refresh()
    curve = history.best_so_far(trials, maximize=True)
    # 0.9 is infeasible, so 0.8 (5th to finish, ending 4 + 1 s after the first start) is the first >= 0.75
    assert history.time_to_target(curve, 0.75, maximize=True) == (5.0, 5.0)
    assert history.time_to_target(curve, 0.95, maximize=True) == (6.0, 6.0)
    assert all(math.isnan(v) for v in history.time_to_target(curve, 0.99, maximize=True))


def test_band_is_the_median_and_range_of_the_repeats_step_functions():
    a = pd.DataFrame({"order": [1, 2, 3, 4], "elapsed_s": [1, 2, 3, 4], "best": [np.nan, 0.5, 0.7, 0.7]})
    b = pd.DataFrame({"order": [1, 2, 3], "elapsed_s": [1, 2, 3], "best": [0.1, 0.6, 0.6]})
    c = pd.DataFrame({"order": [1, 2, 3, 4], "elapsed_s": [1, 2, 3, 4], "best": [0.3, 0.3, 0.9, 0.95]})
    band = history.band([a, b, c], group="g")
    assert band.x.tolist() == [1, 2, 3, 4] and band.n == 3
    # by hand: at 1 {0.1, 0.3}; at 2 {0.5, 0.6, 0.3}; at 3 {0.7, 0.6, 0.9}; at 4 {0.7, 0.95} (b ended at 3)
    np.testing.assert_allclose(band.median, [0.2, 0.5, 0.7, 0.825])
    np.testing.assert_allclose(band.low, [0.1, 0.3, 0.6, 0.7])
    np.testing.assert_allclose(band.high, [0.3, 0.6, 0.9, 0.95])


def _cells_dominated(points: np.ndarray, ref: np.ndarray) -> int:
    """Brute force: unit cells of the integer grid below ``ref`` dominated by some point (minimisation)."""
    count = 0
    for cell in itertools.product(*(range(int(r)) for r in ref)):
        if any(np.all(p <= np.asarray(cell)) for p in points):
            count += 1
    return count


@pytest.mark.parametrize("k", [2, 3])
def test_hypervolume_history_equals_a_cell_count(k):
    rng = np.random.default_rng(k)
    n = 25
    pts = rng.integers(0, 9, size=(n, k)).astype(float)
    # objective 0 maximized (negated back by the engine), the others minimized
    spec = [([-p[0], *p[1:]], TrialState.COMPLETE, None) for p in pts]
    study = _study(spec, directions=("maximize", *["minimize"] * (k - 1)))
    trials = history.TrialLog(study).refresh()
    ref = np.full(k, 10.0)
    hv = history.hypervolume_history(trials, [True] + [False] * (k - 1), ref, points=n)
    assert hv["order"].tolist() == list(range(1, n + 1))
    for i in (0, 4, 12, n - 1):
        assert hv["hypervolume"].iloc[i] == pytest.approx(_cells_dominated(pts[: i + 1], ref))


def test_reference_point_is_past_the_worst_feasible_value_and_needs_one_trial():
    spec = [([0.9, 3.0], TrialState.COMPLETE, None), ([0.5, 1.0], TrialState.COMPLETE, None),
            ([0.1, 9.0], TrialState.COMPLETE, 2.0)]  # infeasible: ignored
    trials = history.TrialLog(_study(spec, directions=("maximize", "minimize"))).refresh()
    ref = history.reference_point([trials], [True, False])
    np.testing.assert_allclose(ref, [-0.5 + 0.1 * 0.4, 3.0 + 0.1 * 2.0])
    empty = history.TrialLog(_study([(None, TrialState.PRUNED, None)], directions=("maximize", "minimize"))).refresh()
    with pytest.raises(FrontierError, match="no study has a completed feasible trial"):
        history.reference_point([empty], [True, False])


def test_refresh_reads_only_new_finished_trials_and_matches_a_fresh_read(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=url, study_name="inc", direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=30)
    log = history.TrialLog.load(url, "inc")
    log.refresh()
    converted = []
    real_row = history._row
    monkeypatch.setattr(history, "_row", lambda t, k: converted.append(t.number) or real_row(t, k))
    running = study.ask()  # stays RUNNING: counted, not converted
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)
    frame = log.refresh()
    assert sorted(converted) == list(range(31, 36))
    assert log.n_running == 1
    study.tell(running, 0.5)
    frame = log.refresh()
    assert sorted(converted) == sorted([*range(31, 36), running.number])
    fresh = history.TrialLog.load(url, "inc").refresh()
    pd.testing.assert_frame_equal(frame.drop(columns="params"), fresh.drop(columns="params"))
    assert len(frame) == 36 and frame["order"].tolist() == list(range(1, 37))


def test_a_missing_study_is_one_line():
    with pytest.raises(FrontierError, match="no study 'nope'"):
        history.TrialLog.load(optuna.storages.InMemoryStorage(), "nope")


def test_page_of_matches_pandas_sorting():
    rng = np.random.default_rng(0)
    trials = history.TrialLog(_study(_random_spec(rng, 137))).refresh()
    for sort, asc in (("value_0", True), ("value_0", False), ("number", False), ("state", True)):
        got = pd.concat([history.page_of(trials, page=p, size=20, sort=sort, ascending=asc)[0] for p in range(1, 8)])
        expected = trials.sort_values(sort, ascending=asc, kind="stable", na_position="last")
        assert got[sort].astype(str).tolist() == expected[sort].astype(str).tolist()
    part, n_pages = history.page_of(trials, page=99, size=20)
    assert n_pages == 7 and len(part) == 137 - 120  # a page past the end shows the last one


def test_list_studies_reads_hostile_attributes_as_short_text():
    storage = optuna.storages.InMemoryStorage()
    s = optuna.create_study(storage=storage, study_name="theirs")
    s.set_user_attr("frontier", "not a mapping")
    t = optuna.create_study(storage=storage, study_name="mine")
    t.set_user_attr("frontier", {"family": "[x](http://evil)\n" * 50, "objective": "accuracy"})
    t.set_user_attr("frontier_request", {"sampler": {"a": 1}, "seed": "7", "n_trials": 5})
    rows = history.list_studies(storage).set_index("study")
    assert rows.loc["theirs", "family"] == "" and rows.loc["mine", "objective"] == ""
    assert len(rows.loc["mine", "family"]) == 100 and "\n" not in rows.loc["mine", "family"]
    assert rows.loc["mine", "seed"] is None and rows.loc["mine", "requested"] == 5


def test_history_sample_keeps_every_improvement_and_stays_bounded():
    rng = np.random.default_rng(1)
    spec = [([float(v)], TrialState.COMPLETE, None) for v in rng.normal(size=6000)]
    trials = history.TrialLog(_study(spec)).refresh()
    info = charts.history_info(trials, label="accuracy", maximize=True, max_points=500)
    curve = history.best_so_far(trials, maximize=True)
    improving = set(curve["number"])
    assert info.n_shown == len(info.points) <= 500
    assert improving <= set(info.points["number"])
    assert info.n_total == 6000


def test_sample_study_keeps_the_best_trials_and_is_bounded():
    rng = np.random.default_rng(2)
    spec = [(list(rng.normal(size=2)), TrialState.COMPLETE, None) for _ in range(700)]
    study = _study(spec, directions=("maximize", "minimize"))
    copy, total = charts.sample_study(study, limit=150)
    assert total == 700 and len(copy.trials) == 150
    kept = {(t.values[0], t.values[1]) for t in copy.trials}
    assert {(t.values[0], t.values[1]) for t in study.best_trials} <= kept
    assert charts.sample_study(study, limit=1000)[0] is study


def test_best_so_far_info_summaries_equal_numpy():
    studies = []
    for seed in range(4):
        spec = _random_spec(np.random.default_rng(seed + 10), 40)
        trials = history.TrialLog(_study(spec)).refresh()
        studies.append(charts.StudySeries(f"s{seed}", "tpe" if seed < 3 else "random", trials))
    info = charts.best_so_far_info(studies, label="accuracy", maximize=True, target=0.5)
    finals = {s.study: history.final_best(s.trials, maximize=True) for s in studies}
    tpe = np.array([finals["s0"], finals["s1"], finals["s2"]])
    g = info.groups.set_index("group")
    assert g.loc["tpe", "median_best"] == pytest.approx(np.median(tpe))
    assert g.loc["tpe", "std_best"] == pytest.approx(np.std(tpe, ddof=1))
    assert g.loc["random", "repeats"] == 1 and math.isnan(g.loc["random", "std_best"])
    assert [b.group for b in info.bands] == ["tpe"]  # a band needs two or more repeats
    fig = charts.best_so_far_figure(info)
    assert any(getattr(t, "fill", None) == "tonexty" for t in fig.data)


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::optuna.exceptions.ExperimentalWarning")
def test_a_running_trial_whose_worker_stopped_beating_is_counted_stale(tmp_path):
    import time

    url = f"sqlite:///{tmp_path / 'hb.db'}"
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=1)
    study = optuna.create_study(storage=storage, study_name="hb")
    alive, dead = study.ask(), study.ask()
    storage.record_heartbeat(dead._trial_id)  # then its worker is killed: no more heartbeats
    time.sleep(2.2)  # SQLite keeps whole seconds
    storage.record_heartbeat(alive._trial_id)
    log = history.TrialLog.load(storage, "hb")
    log.refresh()
    assert (log.n_running, log.n_stale) == (2, 1)
    unbeating = history.TrialLog.load(optuna.storages.RDBStorage(url), "hb")
    unbeating.refresh()
    assert (unbeating.n_running, unbeating.n_stale) == (2, None)  # no heartbeat settings: cannot tell


def test_counts_agree_with_the_studys_tally_on_retried_and_surplus_trials():
    from engine.tune.study import SURPLUS_ATTR, tally

    study = optuna.create_study(direction="maximize")
    dist = {"x": FloatDistribution(0, 1)}
    study.add_trial(create_trial(state=TrialState.FAIL, params={"x": 0.5}, distributions=dist))  # worker died
    study.add_trial(create_trial(value=0.7, params={"x": 0.5}, distributions=dist,
                                 system_attrs={"failed_trial": 0, "retry_history": [0]}))  # its retry
    study.add_trial(create_trial(state=TrialState.FAIL, params={}, distributions={},
                                 user_attrs={SURPLUS_ATTR: True}))  # lost the race for the last place
    study.add_trial(create_trial(state=TrialState.FAIL, params={"x": 0.1}, distributions=dist))  # raised
    study.add_trial(create_trial(state=TrialState.PRUNED, params={"x": 0.2}, distributions=dist))
    trials = history.TrialLog(study).refresh()
    n = history.counts(trials)
    assert n == {"complete": 1, "pruned": 1, "failed": 1, "retried": 1, "stopped": 0, "infeasible": 0}
    assert 2 not in set(trials["number"])  # the surplus trial never sampled: not a trial to show
    assert tally(study.get_trials()).counted == n["complete"] + n["pruned"] + n["failed"]


def test_median_time_to_target_counts_repeats_that_never_got_there():
    def series(name, values):
        spec = [([v], TrialState.COMPLETE, None) for v in values]
        return charts.StudySeries(name, "g", history.TrialLog(_study(spec)).refresh())

    three = [series("a", [0.1, 0.9]), series("b", [0.1, 0.2, 0.3]), series("c", [0.1, 0.2, 0.3, 0.95])]
    g = charts.best_so_far_info(three, label="accuracy", maximize=True, target=0.8).groups.iloc[0]
    assert g["reached_target"] == 2 and g["median_trials_to_target"] == 4  # median of 2, 4 and never
    two_never = [three[0], three[1], series("d", [0.0])]
    g = charts.best_so_far_info(two_never, label="accuracy", maximize=True, target=0.8).groups.iloc[0]
    assert math.isnan(g["median_trials_to_target"])  # the typical repeat never reached it


def test_a_studys_cost_constraints_become_the_compare_links_budgets():
    from dashboard.widgets.tune_view import _budgets

    assert _budgets("latency_p95_ms<=2; size_bytes<=5242880; accuracy>=0.9; junk") == {
        "max_p95": "2", "max_size_mb": "5"}
    assert _budgets("") == {}
