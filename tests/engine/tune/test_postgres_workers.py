"""Distributed tuning on a real PostgreSQL server (``postgres_server``): two ``python -m engine``
workers share one study and stop at exactly its total, and a worker SIGKILLed in the middle of a
trial leaves a trial that is failed once its heartbeat is stale, retried with the same parameters,
and not counted, so the study still ends with exactly ``--trials`` counted trials.

Oracle: Optuna itself reads the study back (``optuna.load_study``); counted trials are recounted
here from their states and Optuna's own retry records, not with the engine's ``tally``.

The first tests need no server: the counting rule, the race for the last place, per-trial seeds and
the heartbeat every worker of a study must share, on SQLite files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import optuna
import psutil
import pytest
from frontier_support import CLI_WORKER_TIMEOUT_S, REPO_ROOT, run_cli, wait_for
from optuna.trial import TrialState
from postgres_server import missing_reason, postgres_server

from engine.errors import FrontierError
from engine.tune.objective import parse_objective
from engine.tune.storage import HEARTBEAT_ENV, heartbeat_seconds, open_storage
from engine.tune.study import StudySpec, Tally, open_study, optimize, tally

# a random forest on digits, 2 folds: real trials of about half a second, long enough for the second
# worker to join and for a worker to be killed in the middle of one; max_features is continuous, so
# two counted trials with the same parameters can only mean one was run twice
SPACE = ('{"n_estimators": {"type": "int", "low": 100, "high": 160}, '
         '"max_features": {"type": "float", "low": 0.15, "high": 0.3}}')
TUNE = ("--family", "random_forest", "--data", "digits", "--cv", "2", "--space", SPACE, "--pruner", "none",
        "--save-best", "0", "--threads", "1")
HEARTBEAT_S = 2  # grace 4 s: short for the test, long enough for a busy 2-core machine
WAIT_S = 150


# ---- without a server -----------------------------------------------------------------------------

SPEC = StudySpec(family="logreg", dataset_id="digits", target="target", task="classification", cv=2, seed=0,
                 objective=parse_objective("accuracy", "classification", ()), sampler="tpe", pruner="none")


def quadratic(trial) -> float:
    return (trial.suggest_float("x", -10, 10) - 2) ** 2


def test_failed_trials_count_unless_retried_so_a_study_of_failures_ends(tmp_path):
    study = open_study(SPEC, name="s", storage=open_storage(f"sqlite:///{tmp_path / 's.db'}"))

    def broken(trial):
        trial.suggest_float("x", 0, 1)
        raise ValueError("no fit")
    optimize(study, SPEC, None, n_trials=3, objective=broken)
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 3 and tally(study.trials).counted == 3

    # a trial failed because its worker died, re-queued by Optuna's retry callback: only the retry counts
    study = open_study(SPEC, name="r", storage=open_storage(f"sqlite:///{tmp_path / 's.db'}"))
    study.add_trial(optuna.create_trial(state=TrialState.FAIL, params={"x": 1.0},
                                        distributions={"x": optuna.distributions.FloatDistribution(-10, 10)}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)(study, study.trials[0])
    assert tally(study.trials) == Tally(counted=0, running=0, waiting=1, retried=frozenset({0}))
    seen = []
    optimize(study, SPEC, None, n_trials=2, objective=quadratic, on_trial=lambda d, n: seen.append((d, n)))
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert trials[1].params == {"x": 1.0} and tally(trials).counted == 2 and seen[-1] == (2, 2)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_worker_that_loses_the_race_for_the_last_place_does_not_run_it_and_waits(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    mine, other = (open_study(SPEC, name="s", storage=open_storage(url)) for _ in range(2))  # heartbeats on
    optimize(mine, SPEC, None, n_trials=1, objective=quadratic)
    theirs = []
    ask = mine.ask

    def racing_ask(*args, **kwargs):  # the other worker takes the last place just before us...
        theirs.append(other.ask())
        threading.Timer(0.5, lambda: other.tell(theirs[0], quadratic(theirs[0]))).start()  # ...and ends it
        return ask(*args, **kwargs)
    mine.ask = racing_ask
    ran = []
    optimize(mine, SPEC, None, n_trials=2, objective=lambda t: ran.append(t.number) or quadratic(t))
    trials = mine.get_trials()
    assert ran == [] and trials[2].state == TrialState.FAIL and trials[2].user_attrs["frontier_surplus"]
    assert not trials[2].params and trials[1].state == TrialState.COMPLETE  # returned once theirs ended
    assert tally(trials).counted == 2


def test_without_heartbeats_a_running_trial_is_not_waited_for(tmp_path):
    study = open_study(SPEC, name="j", storage=open_storage(f"journal:{tmp_path / 'j.log'}"))
    study.ask()  # a worker that died: RUNNING for ever in a journal
    optimize(study, SPEC, None, n_trials=2, objective=quadratic)
    assert [t.state for t in study.trials] == [TrialState.RUNNING, TrialState.COMPLETE, TrialState.COMPLETE]


def test_parallel_workers_draw_different_parameters_and_one_worker_is_reproducible(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    a, b = (open_study(SPEC, name="pair", storage=open_storage(url, heartbeat_s=None)) for _ in range(2))
    for _ in range(6):  # alternating, as two workers would
        for study in (a, b):
            trial = study.ask()
            study.tell(trial, quadratic(trial))
    xs = [t.params["x"] for t in a.trials]
    assert len(set(xs)) == 12  # the same seed in every worker, yet no parameters drawn twice
    solo = [open_study(SPEC, name=f"solo{i}", storage=open_storage(url, heartbeat_s=None)) for i in range(2)]
    for study in solo:
        optimize(study, SPEC, None, n_trials=12, objective=quadratic)
    assert [t.params for t in solo[0].trials] == [t.params for t in solo[1].trials]


def test_every_worker_of_a_study_uses_its_heartbeat(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 's.db'}"
    monkeypatch.setenv(HEARTBEAT_ENV, "7")
    store = open_storage(url)
    assert (store.heartbeat_interval, store.grace_period) == (7, 14)
    assert open_study(SPEC, name="h", storage=store).user_attrs["frontier_heartbeat_s"] == 7
    with pytest.raises(FrontierError, match="started with --heartbeat 7; run this worker with --heartbeat 7"):
        open_study(SPEC, name="h", storage=open_storage(url, heartbeat_s=60))
    monkeypatch.setenv(HEARTBEAT_ENV, "soon")
    with pytest.raises(FrontierError, match=f"{HEARTBEAT_ENV} must be a whole number of seconds"):
        open_storage(url)
    for bad in ("0", "1.5", "3601", True):
        with pytest.raises(FrontierError, match="--heartbeat must be a whole number of seconds from 1 to 3600"):
            heartbeat_seconds(bad, what="--heartbeat")


def test_a_bad_heartbeat_flag_exits_2_before_anything_is_written(tmp_path):
    result = run_cli("tune", "--family", "logreg", "--data", "digits", "--trials", "2", "--heartbeat", "0",
                     "--workspace", tmp_path / "ws")
    assert result.returncode == 2 and len(result.stderr_lines) == 1, str(result)
    assert "--heartbeat must be a whole number of seconds" in result.stderr_lines[0]
    assert not (tmp_path / "ws").exists()


# ---- on PostgreSQL --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_url():
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pg-workers") / "ws"


_STARTED: list[Cli] = []


@pytest.fixture(autouse=True)
def _no_worker_outlives_its_test():
    yield
    while _STARTED:
        cli = _STARTED.pop()
        if cli.proc.poll() is None:  # a failed test: stop the workers it left behind
            cli.kill()


class Cli:
    """``python -m engine ARGS`` started in the background, as a user's terminal would."""

    def __init__(self, tmp: Path, *args: str | os.PathLike[str]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTIER_")}
        env["FRONTIER_WORKER_TIMEOUT_S"] = CLI_WORKER_TIMEOUT_S
        self.args = [str(a) for a in args]
        self.out = tmp / f"cli-{time.monotonic_ns()}"
        with open(f"{self.out}.out", "wb") as out, open(f"{self.out}.err", "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "engine", *self.args], cwd=REPO_ROOT, env=env,
                                         stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _STARTED.append(self)

    def wait(self, timeout: float = WAIT_S) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> list[psutil.Process]:
        """SIGKILL this process only (like the OOM killer); returns its descendants as they were."""
        try:
            tree = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        return tree

    def json(self) -> dict:
        return json.loads(Path(f"{self.out}.out").read_text())

    def __str__(self) -> str:
        text = Path(f"{self.out}.err").read_text(errors="replace")[-3000:]
        return f"python -m engine {' '.join(self.args)} -> {self.proc.returncode}\nstderr: {text}"


_STORAGES: dict[str, optuna.storages.RDBStorage] = {}


def _study(url: str, name: str) -> optuna.Study:
    """The study as Optuna reads it (one connection pool per server, however often the test looks)."""
    if url not in _STORAGES:
        _STORAGES[url] = optuna.storages.RDBStorage(url.replace("postgresql://", "postgresql+psycopg2://"))
    return optuna.load_study(study_name=name, storage=_STORAGES[url])


def _started(url: str, name: str) -> bool:
    """The study exists and holds the request a worker joins with."""
    try:
        return "frontier_request" in _study(url, name).user_attrs
    except KeyError:
        return False


def _running(url: str, name: str, at_least_s: float = 0.0) -> list[optuna.trial.FrozenTrial]:
    """RUNNING trials that started at least ``at_least_s`` ago (their worker has sent a heartbeat)."""
    now = time.time()
    try:
        study = _study(url, name)
    except KeyError:  # not created yet
        return []
    return [t for t in study.get_trials(states=(TrialState.RUNNING,))
            if t.datetime_start is not None and now - t.datetime_start.timestamp() >= at_least_s]


def _retried_from(trial: optuna.trial.FrozenTrial) -> int | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(trial)


def _check_total(study: optuna.Study, n: int) -> list[optuna.trial.FrozenTrial]:
    """Exactly ``n`` counted trials (complete, pruned, or failed and not retried), each a distinct
    number and a distinct parameter set, and nothing left running or waiting; the counted trials."""
    trials = study.get_trials()
    retried = {_retried_from(t) for t in trials} - {None}
    counted = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
               or (t.state == TrialState.FAIL and t.number not in retried
                   and not t.user_attrs.get("frontier_surplus"))]
    assert len(counted) == n, [(t.number, t.state.name) for t in trials]
    assert len({t.number for t in counted}) == n
    params = [tuple(sorted(t.params.items())) for t in counted]
    assert len(set(params)) == n, "a parameter set was run twice"
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    return counted


@pytest.mark.slow
@pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")
def test_two_workers_share_a_study_and_stop_at_exactly_its_total(pg_url, ws, tmp_path):
    n = 6  # about three trials per worker
    made = Cli(tmp_path, "tune", *TUNE, "--trials", 1, "--storage", pg_url, "--study", "two", "--workspace", ws)
    assert made.wait() == 0, str(made)
    # two workers start together, so they race for every trial and for the last place
    workers = [Cli(tmp_path, "worker", "--study", "two", "--storage", pg_url, "--trials", n, "--workspace", ws,
                   "--json") for _ in range(2)]
    most = 0
    while any(w.proc.poll() is None for w in workers):
        most = max(most, len(_running(pg_url, "two")))
        time.sleep(0.05)
    for w in workers:
        assert w.wait() == 0, str(w)
        assert w.json()["n_trials"] >= n
    assert most == 2  # one trial per worker at a time, and both were working together
    study = _study(pg_url, "two")
    counted = _check_total(study, n)
    assert all(t.state == TrialState.COMPLETE for t in counted)
    assert study.user_attrs["frontier_heartbeat_s"] == 60  # the default, recorded for every worker


@pytest.mark.slow
@pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")
def test_a_killed_worker_s_trial_is_failed_retried_and_the_total_stays_exact(pg_url, ws, tmp_path):
    n = 12
    first = Cli(tmp_path, "tune", *TUNE, "--trials", n, "--storage", pg_url, "--study", "kill", "--workspace", ws,
                "--heartbeat", HEARTBEAT_S)
    wait_for(lambda: _started(pg_url, "kill") or first.proc.poll() is not None, what="the study")
    second = Cli(tmp_path, "worker", "--study", "kill", "--storage", pg_url, "--workspace", ws)
    # both workers are in the middle of a trial (each started long enough ago to have sent a heartbeat)
    both = wait_for(lambda: len(r := _running(pg_url, "kill", 0.3)) == 2 and r, what="two running trials")
    tree = second.kill()
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert tree and not alive  # the job's worker process died with its CLI: no heartbeat keeps its trial alive
    restarted = Cli(tmp_path, "worker", "--study", "kill", "--storage", pg_url, "--workspace", ws)
    assert restarted.wait() == 0, str(restarted)
    assert first.wait() == 0, str(first)

    study = _study(pg_url, "kill")
    trials = study.get_trials()
    # (a worker that found the study full as it started a trial fails that one, marked surplus)
    failed = [t for t in trials if t.state == TrialState.FAIL and not t.user_attrs.get("frontier_surplus")]
    assert len(failed) == 1 and failed[0].number in {t.number for t in both}, [
        (t.number, t.state.name) for t in trials]
    (retry,) = [t for t in trials if _retried_from(t) == failed[0].number]
    assert retry.state == TrialState.COMPLETE and retry.params == failed[0].params
    assert retry.number > failed[0].number
    counted = _check_total(study, n)
    assert failed[0] not in counted and retry in counted


@pytest.mark.slow
@pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")
def test_a_worker_restarted_alone_fails_and_retries_its_stale_trial(pg_url, ws, tmp_path):
    n = 3
    only = Cli(tmp_path, "tune", *TUNE, "--trials", n, "--storage", pg_url, "--study", "alone", "--workspace", ws,
               "--heartbeat", HEARTBEAT_S)
    (dead,) = wait_for(lambda: _running(pg_url, "alone", 0.3), what="a running trial")
    only.kill()
    killed_at = time.monotonic()
    # meanwhile: a worker that would give up silent trials at another time than the study's is refused
    refused = Cli(tmp_path, "worker", "--study", "alone", "--storage", pg_url, "--workspace", ws,
                  "--heartbeat", "5")
    assert refused.wait() == 2, str(refused)
    assert "--heartbeat 2" in Path(f"{refused.out}.err").read_text()
    time.sleep(max(0.0, killed_at + 2 * HEARTBEAT_S + 1 - time.monotonic()))
    # past the grace period: stale, but no worker is left to notice
    assert _study(pg_url, "alone").trials[dead.number].state == TrialState.RUNNING

    again = Cli(tmp_path, "worker", "--study", "alone", "--storage", pg_url, "--workspace", ws)
    assert again.wait() == 0, str(again)
    study = _study(pg_url, "alone")
    assert study.trials[dead.number].state == TrialState.FAIL
    (retry,) = [t for t in study.trials if _retried_from(t) == dead.number]
    assert retry.state == TrialState.COMPLETE and retry.params == study.trials[dead.number].params
    _check_total(study, n)
