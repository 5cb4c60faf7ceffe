"""The Tune page's data and figures for a study of 10,000 trials against one of 1,000.

What a rerun of the page does for a study (the live view redraws it every two seconds while a study
runs): read the trials (incrementally: :class:`engine.tune.history.TrialLog` over Optuna's cached
storage), the best-so-far comparison record and figure, the history record (down-sampled) and its
WebGL figure, one page of the trials table, and Optuna's own plot drawn from a bounded sample.
Measured two ways, both as ratios taken in the same run:

* a rerun: the log already read once, ten new trials finished since (what the live view sees);
* a first read: a fresh log of the whole study (a new server, or the first visit).
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.common import median_time, row, scratch

SIZES = (1_000, 10_000)


def _fill(url: str, name: str, n: int) -> None:
    """A finished single-objective study of ``n`` trials (some pruned, some infeasible), written in bulk."""
    import numpy as np
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(n)
    study = optuna.create_study(storage=url, study_name=name, direction="maximize")
    dists = {"C": FloatDistribution(1e-3, 1e3, log=True), "depth": IntDistribution(1, 20),
             "kind": CategoricalDistribution(("a", "b", "c"))}
    t0 = dt.datetime(2026, 1, 1)
    trials = []
    for i in range(n):
        params = {"C": float(10 ** rng.uniform(-3, 3)), "depth": int(rng.integers(1, 21)),
                  "kind": str(rng.choice(["a", "b", "c"]))}
        pruned = rng.random() < 0.2
        t = create_trial(state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
                         value=None if pruned else float(rng.random()), params=params, distributions=dists,
                         intermediate_values={0: float(rng.random())},
                         constraints={"latency": float(rng.normal())})
        t.datetime_start, t.datetime_complete = t0 + dt.timedelta(seconds=i), t0 + dt.timedelta(seconds=i + 0.9)
        trials.append(t)
    study.add_trials(trials)


def _rerun(log: Any) -> None:
    """Everything the page computes for one study on a rerun (figures serialised as Streamlit does)."""
    from engine.charts import tune as charts
    from engine.tune import history

    trials = log.refresh()
    series = [charts.StudySeries(log.name, "g", trials)]
    info = charts.best_so_far_info(series, label="accuracy", maximize=True, target=0.99)
    charts.best_so_far_figure(info).to_json()
    charts.history_figure(charts.history_info(trials, label="accuracy", maximize=True)).to_json()
    history.page_of(trials, page=3, size=50, sort="value_0", ascending=False)
    history.counts(trials)


def _optuna_plot(log: Any) -> None:
    from engine.charts import tune as charts

    sample, _ = charts.sample_study(log.study)
    charts.optuna_figure(sample, "history", labels=["accuracy"]).to_json()


def _add(url: str, name: str, k: int) -> None:
    import optuna

    study = optuna.load_study(study_name=name, storage=url)
    study.optimize(lambda t: t.suggest_float("C", 1e-3, 1e3, log=True), n_trials=k)


def bench_tune_page() -> list[dict[str, Any]]:
    from engine.tune.history import TrialLog
    from engine.tune.storage import open_storage

    with scratch() as tmp:
        urls = {n: f"sqlite:///{Path(tmp) / f'{n}.db'}" for n in SIZES}
        for n, url in urls.items():
            _fill(url, "s", n)
        storages = {n: open_storage(url, heartbeat_s=None, grace_s=None) for n, url in urls.items()}
        first = {n: [] for n in SIZES}
        rerun = {n: [] for n in SIZES}
        plot = {n: [] for n in SIZES}
        logs = {n: TrialLog.load(storages[n], "s") for n in SIZES}
        for n in SIZES:
            logs[n].refresh()
        for _ in range(5):  # interleaved, so drift on a noisy machine hits both sizes alike
            for n in SIZES:
                first[n].append(median_time(lambda n=n: _rerun(TrialLog.load(storages[n], "s")), 1))
                _add(urls[n], "s", 10)
                t0 = time.perf_counter()
                _rerun(logs[n])
                rerun[n].append(time.perf_counter() - t0)
                plot[n].append(median_time(lambda n=n: _optuna_plot(logs[n]), 1))
    med = {k: {n: statistics.median(v[n]) for n in SIZES} for k, v in
           (("first", first), ("rerun", rerun), ("plot", plot))}
    small, large = SIZES
    ratio = med["rerun"][large] / med["rerun"][small]
    return [
        row("Tune page rerun of a live study (10 new trials read incrementally, best-so-far + history figures, "
            "a trials page): 10,000 trials / 1,000", f"{med['rerun'][small] * 1e3:.0f} ms",
            f"{med['rerun'][large] * 1e3:.0f} ms", ratio, "≤ 2x", ratio <= 2),
        row("the same, first read of the whole study (new server or first visit): 10,000 / 1,000",
            f"{med['first'][small] * 1e3:.0f} ms", f"{med['first'][large] * 1e3:.0f} ms",
            med["first"][large] / med["first"][small], "(recorded)", None),
        row("Optuna's history plot from a sample of at most 2,000 trials: 10,000 / 1,000",
            f"{med['plot'][small] * 1e3:.0f} ms", f"{med['plot'][large] * 1e3:.0f} ms",
            med["plot"][large] / med["plot"][small], "(recorded)", None),
    ]
