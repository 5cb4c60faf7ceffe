"""The benchmark in the worker: steps start before their work, estimates come from the folds done,
cv-refit probes what will actually run, and each model's peak memory is its own."""

from __future__ import annotations

import time

import numpy as np
import pytest
from frontier_support import sample
from jobs_support import BIG_MB, plan
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_score

from engine import datasets, jobs, models
from engine.benchmark import execute as execute_module
from engine.jobs.memory import PeakMemory
from engine.jobs.progress import Reporter
from engine.measure.latency import LatencySettings
from engine.results import ResultStore
from engine.workspace import Workspace

TINY_LATENCY = LatencySettings(batch_sizes=(1, 8), min_time_s=0.01, min_count=3, warmup=1)


class Recorder(Reporter):
    def __init__(self, log: list) -> None:
        super().__init__()
        self.log = log

    def step(self, message, fraction=None, *, name=None, expected_s=None):
        super().step(message, fraction, name=name, expected_s=expected_s)
        self.log.append(("step", message, expected_s))

    def eta(self, seconds):
        super().eta(seconds)
        self.log.append(("eta", seconds))

    def finished(self, item):
        super().finished(item)
        self.log.append(("finished", item))


@pytest.fixture(scope="module")
def refit_on_iris(tmp_path_factory):
    """The bundled digits logreg (fitted on 64 pixel features, 10 classes) refit on iris, 4 folds."""
    ws = Workspace.open(tmp_path_factory.mktemp("refit") / "ws")
    p = plan(ws, [sample("digits_logreg.skops")], as_is=False, cv=4, latency=TINY_LATENCY)
    log: list = []
    original = execute_module.evaluate

    def recording_evaluate(predictor, prep, splits, **kw):
        log.append(("evaluate", len(splits)))
        return original(predictor, prep, splits, **kw)
    mp = pytest.MonkeyPatch()
    mp.setattr(execute_module, "evaluate", recording_evaluate)
    try:
        run_ids = execute_module.execute(ws, p.to_request(), Recorder(log))
    finally:
        mp.undo()
    return ws, p, run_ids, log


def test_a_fitted_sklearn_model_refits_on_another_dataset(refit_on_iris):
    ws, p, run_ids, _ = refit_on_iris
    assert run_ids == [p.runs[0].run_id]
    folds = ResultStore(ws).table(run_ids[0], "folds")
    # oracle: scikit-learn's own cross-validation of a clone on the same folds
    info = models.get(ws, p.runs[0].artifact.id)
    est = models.load_model(ws, info)
    iris = datasets.builtin("iris").frame
    X, y = iris.drop(columns="target"), iris["target"]
    expected = cross_val_score(clone(est), X, y, cv=StratifiedKFold(4, shuffle=True, random_state=0))
    np.testing.assert_allclose(folds.sort_values("fold")["accuracy"], expected)
    assert folds["fold"].tolist() == [0, 1, 2, 3]
    preds = ResultStore(ws).table(run_ids[0], "predictions")
    assert sorted(preds["row"]) == list(range(150)) and set(preds["fold"]) == {0, 1, 2, 3}


def test_each_step_is_announced_before_its_work(refit_on_iris):
    _, p, run_ids, log = refit_on_iris
    name = p.runs[0].name
    steps = [e[1] for e in log if e[0] == "step"]
    assert steps == ["preparing the data", f"{name}: loading", f"{name}: checking it fits 200 rows and predicts",
                     *[f"{name}: fold {k}/4" for k in range(1, 5)],
                     f"{name}: fitting the model to time", f"{name}: measuring latency"]
    work = [e[:2] for e in log if e[0] in ("step", "evaluate")]
    for k in range(1, 5):  # fold k's step comes right before the evaluation it names
        assert work[work.index(("step", f"{name}: fold {k}/4")) + 1] == ("evaluate", 1)
    assert ("finished", run_ids[0]) == log[-1]


def test_estimates_come_from_the_folds_done(refit_on_iris):
    _, _, _, log = refit_on_iris
    etas = [e[1] for e in log if e[0] == "eta"]
    assert len(etas) == 4 and etas[-1] is None
    assert all(e > 0 for e in etas[:-1])
    # each fold's eta is the mean fold time so far times the folds left: it shrinks as folds finish
    expected = [e[2] for e in log if e[0] == "step" and "fold" in e[1]]
    assert expected[0] is None and all(x > 0 for x in expected[1:])
    for k, eta in enumerate(etas[:-1]):
        assert eta == pytest.approx(expected[k + 1] * (3 - k))


def test_each_models_peak_memory_is_its_own(tmp_path, iris_files):
    """The big model allocates BIG_MB on every call; the small one, after it, nothing."""
    ws = Workspace.open(tmp_path / "ws")
    p = plan(ws, [iris_files["big"], iris_files["small"]])
    st = jobs.run(ws, p.to_request())
    assert st.state == "done", st.error
    big, small = (ResultStore(ws).summary(r.run_id)["peak_rss_mb"] for r in p.runs)
    assert big - small > 0.75 * BIG_MB, (big, small)


@pytest.mark.parametrize("use_kernel", [True, False], ids=["vmhwm", "sampled"])
def test_peak_memory_resets_between_blocks(use_kernel):
    with PeakMemory(use_kernel=use_kernel) as first:
        block = np.ones(300 * 2**20 // 8)
        time.sleep(0.05)  # let the sampler see it
        del block
    with PeakMemory(use_kernel=use_kernel) as second:
        small = np.ones(1000)
        del small
    assert first.mb - second.mb > 200, (first.method, first.mb, second.mb)
