"""Saving chosen trials of a study (the ``tune_save`` job): any complete trial becomes a model and a run on the
study's folds whose score equals the trial's; trials that did not complete, foreign studies and forged
lineages are refused or ignored."""

from __future__ import annotations

import shutil

import optuna
import pytest
from frontier_support import run_cli

from engine import jobs
from engine.errors import FrontierError
from engine.jobs.spec import TuneSavePayload
from engine.results import ResultStore
from engine.tune.run import lineage_prefix, trial_of
from engine.workspace import Workspace


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    ws = tmp_path_factory.mktemp("save") / "ws"
    result = run_cli("tune", "--family", "logreg", "--data", "wine", "--trials", "6", "--cv", "3", "--pruner", "none",
                     "--save-best", "0", "--study", "s", "--workspace", ws, "--json")
    assert result.returncode == 0, str(result)
    return ws, result.json


def _copy(tuned, tmp_path) -> tuple[Workspace, str]:
    src, _ = tuned
    shutil.copytree(src, tmp_path / "ws")
    ws = Workspace.open(tmp_path / "ws")
    return ws, f"sqlite:///{tmp_path / 'ws' / 'studies.db'}"


def test_a_chosen_trial_is_saved_and_benchmarked_with_the_trials_score(tuned, tmp_path):
    ws, url = _copy(tuned, tmp_path)
    study = optuna.load_study(study_name="s", storage=url)
    worst = min((t for t in study.trials if t.values), key=lambda t: t.values[0])
    status = jobs.run(ws, {"kind": "tune_save", "study": "s", "storage": url, "trials": [worst.number]})
    assert status.state == "done", status.error
    (saved,) = status.result["saved"]
    assert saved["number"] == worst.number and saved["run_id"]
    run = ResultStore(ws).summary(saved["run_id"])
    assert trial_of(run["lineage"]) == ("s", worst.number)
    assert run["accuracy_mean"] == pytest.approx(worst.values[0], abs=1e-12)  # same folds, refit per fold


def test_trials_that_did_not_complete_and_foreign_studies_are_refused(tuned, tmp_path):
    ws, url = _copy(tuned, tmp_path)
    status = jobs.run(ws, {"kind": "tune_save", "study": "s", "storage": url, "trials": [999]})
    assert status.state == "failed" and "999" in status.error and "did not complete" in status.error
    optuna.create_study(storage=url, study_name="theirs").optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    status = jobs.run(ws, {"kind": "tune_save", "study": "theirs", "storage": url, "trials": [0]})
    assert status.state == "failed" and "not made by a Frontier tune job" in status.error
    assert len(ResultStore(ws).runs()) == 0  # nothing half-saved


@pytest.mark.parametrize("trials", [[], [True], [-1], ["3"], list(range(21))])
def test_the_request_is_checked(trials):
    with pytest.raises(FrontierError):
        TuneSavePayload.from_dict({"study": "s", "storage": "sqlite:///x.db", "trials": trials})


@pytest.mark.parametrize("lineage,expected", [
    (f"{lineage_prefix(3, 's-1.b')}: C=1", ("s-1.b", 3)),
    (f"{lineage_prefix(12, 'x')} (torch mlp trained on ...): lr=0.1", ("x", 12)),
    ("trial 3 of study s", None),  # no separator: not how the engine writes it
    ("uploaded: trial 3 of study s: C=1", None),  # not at the start
    ("trial 3 of study ../etc: x", None),  # not a study name
    ("trial 99999999 of study s: x", None),
    (None, None), (3, None),
])
def test_trial_of_reads_only_the_engines_own_lineage(lineage, expected):
    assert trial_of(lineage) == expected


def test_the_best_n_are_saved_once_however_often_the_study_is_run(tuned, tmp_path):
    from engine import models

    ws, url = _copy(tuned, tmp_path)
    args = ("tune", "--family", "logreg", "--data", "wine", "--trials", "6", "--cv", "3", "--pruner", "none",
            "--save-best", "3", "--study", "s", "--workspace", ws.root, "--json")
    first = run_cli(*args)
    assert first.returncode == 0, str(first)
    study = optuna.load_study(study_name="s", storage=url)
    ranked = sorted((t for t in study.trials if t.values), key=lambda t: (-t.values[0], t.number))
    expected, seen = [], set()
    for t in ranked:  # the 3 best distinct parameter sets, best first
        key = tuple(sorted(t.params.items()))
        if key not in seen:
            seen.add(key)
            expected.append(t.number)
    saved = first.json["saved"]
    assert [b["number"] for b in saved] == expected[:3]
    n_models = len(models.list_registered(ws))
    again = run_cli(*args)
    assert again.returncode == 0, str(again)
    assert [(b["artifact_id"], b["run_id"]) for b in again.json["saved"]] == [
        (b["artifact_id"], b["run_id"]) for b in saved]  # the same models and runs, not copies
    assert len(models.list_registered(ws)) == n_models


def test_a_cancelled_jobs_running_trial_is_failed_and_not_counted(tuned, tmp_path):
    import time

    from engine.tune.history import TrialLog, counts
    from engine.tune.run import release_trials
    from engine.tune.study import JOB_ATTR, STOPPED_ATTR, tally

    ws, url = _copy(tuned, tmp_path)
    made = optuna.load_study(study_name="s", storage=url).user_attrs["frontier_request"]  # the wine study's
    request = {"kind": "tune", **{k: made[k] for k in ("dataset_id", "target", "task")}, "family": "random_forest",
               "n_trials": 50, "study": "slow", "storage": url, "cv": 5, "pruner": "none", "save_best": 0}
    job_id = jobs.submit(ws, request, title="slow study")
    deadline = time.monotonic() + 120
    while True:  # until its worker is inside a trial it has tagged (tagging is a write after the trial's own)
        try:
            study = optuna.load_study(study_name="slow", storage=url)
            running = [t for t in study.get_trials(deepcopy=False)
                       if t.state.name == "RUNNING" and JOB_ATTR in t.user_attrs]
        except KeyError:
            running = []
        if running or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert running and running[0].user_attrs.get(JOB_ATTR) == job_id
    jobs.cancel(ws, job_id)
    assert jobs.wait(ws, job_id, timeout_s=60).state == "cancelled"
    left = [t for t in optuna.load_study(study_name="slow", storage=url).trials if t.state.name == "RUNNING"]
    assert left, "the killed worker's trial is still RUNNING: nothing else will ever finish it"
    assert release_trials(url, "slow", job_id) == len(left)
    assert release_trials(url, "slow", job_id) == 0  # idempotent
    study = optuna.load_study(study_name="slow", storage=url)
    stopped = [t for t in study.trials if t.user_attrs.get(STOPPED_ATTR)]
    assert [t.state.name for t in stopped] == ["FAIL"] * len(left)
    n = counts(TrialLog(study).refresh())
    assert n["stopped"] == len(left) and n["failed"] == 0
    assert tally(study.trials).counted == n["complete"] + n["pruned"]
