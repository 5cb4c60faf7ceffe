"""Study storage URLs and samplers/pruners by name (engine.tune.storage, engine.tune.samplers)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from engine.errors import FrontierError
from engine.tune import samplers, storage
from engine.workspace import Workspace

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(storage.ENV_VAR, raising=False)


def quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    y = trial.suggest_float("y", -5, 5)
    return (x - 1) ** 2 + (y + 2) ** 2


def two_objectives(trial: optuna.Trial) -> tuple[float, float]:
    x = trial.suggest_float("x", 0, 4)
    return (x - 1) ** 2, (x - 3) ** 2


# ---- storage URLs --------------------------------------------------------------------------


def test_default_url_is_absolute_sqlite_under_workspace(ws: Workspace) -> None:
    url = storage.default_url(ws)
    assert url == f"sqlite:///{(ws.root / 'studies.db').resolve()}"
    assert Path(url[len("sqlite:///") :]).is_absolute()
    assert storage.resolve(None, ws) == url
    assert storage.resolve("", ws) == url


def test_env_var_overrides_default(ws: Workspace, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(storage.ENV_VAR, f"journal:{tmp_path / 'j.log'}")
    assert storage.resolve(None, ws) == f"journal:{(tmp_path / 'j.log').resolve()}"
    assert storage.resolve(f"sqlite:///{tmp_path / 'a.db'}", ws).endswith("a.db")


def test_relative_paths_become_absolute(ws: Workspace, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert storage.resolve("sqlite:///s.db", ws) == f"sqlite:///{(tmp_path / 's.db').resolve()}"
    assert storage.resolve("journal:j.log", ws) == f"journal:{(tmp_path / 'j.log').resolve()}"


def test_sqlite_with_parallel_workers_refused(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(FrontierError) as err:
        storage.resolve(None, ws, workers=2)
    msg = err.value.message
    assert "SQLite" in msg and "2 parallel workers" in msg and "database is locked" in msg
    assert "postgresql://" in msg and "journal:" in msg and "\n" not in msg
    # the others are fine with parallel workers
    journal = tmp_path / "x.log"
    assert storage.resolve(f"journal:{journal}", ws, workers=4) == f"journal:{journal.resolve()}"
    assert storage.resolve("postgresql://u@db.example/optuna", ws, workers=4) == (
        "postgresql+psycopg2://u@db.example/optuna"  # SQLAlchemy 2.1 would pick psycopg 3
    )


@pytest.mark.parametrize(
    "url",
    [
        "file:///tmp/studies.db",
        "http://example.com/studies",
        "redis://localhost:6379",
        "mysql://u@host/db",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:studies.db",
        "journal:",
        "studies.db",
    ],
)
def test_bad_schemes_refused(ws: Workspace, url: str) -> None:
    with pytest.raises(FrontierError) as err:
        storage.resolve(url, ws)
    assert "\n" not in err.value.message


def test_refusal_names_accepted_forms(ws: Workspace) -> None:
    with pytest.raises(FrontierError, match=r"sqlite:///PATH.*postgresql://.*journal:PATH"):
        storage.resolve("http://example.com/x", ws)


@pytest.mark.skipif(importlib.util.find_spec("pymysql") is not None, reason="pymysql installed")
def test_mysql_needs_pymysql(ws: Workspace) -> None:
    with pytest.raises(FrontierError, match="pip install pymysql"):
        storage.resolve("mysql+pymysql://u:hunter2@host/db", ws)


def test_password_never_echoed(ws: Workspace) -> None:
    assert storage.mask("postgresql://alice:s3cr%40t@db:5432/x") == "postgresql://alice:***@db:5432/x"
    assert storage.mask("postgresql://db/x?user=a&password=s3cret") == (
        "postgresql://db/x?user=a&password=***"
    )
    assert storage.mask("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"
    for url in (
        "mysql://alice:s3cret@db/x",
        "http://alice:s3cret@db/x",
        "postgresql://alice:s3cret@/x",  # no host
        "mysql+pymysql://alice:s3cret@db/x",
    ):
        with pytest.raises(FrontierError) as err:
            storage.resolve(url, ws)
        assert "s3cret" not in err.value.message and "alice:***@" in err.value.message


def test_unreachable_postgres_error_hides_password() -> None:
    url = "postgresql://alice:s3cret@127.0.0.1:1/nodb?connect_timeout=2"
    with pytest.raises(FrontierError) as err:
        storage.open_storage(url)
    assert "s3cret" not in err.value.message and "alice:***@" in err.value.message
    assert "connect" in err.value.message.lower()  # the driver was found; the server was not


def test_missing_folder_refused(tmp_path: Path) -> None:
    with pytest.raises(FrontierError, match="does not exist"):
        storage.open_storage(f"sqlite:///{tmp_path / 'nope' / 's.db'}")


def _run_and_reload(url: str, store: optuna.storages.BaseStorage) -> None:
    study = optuna.create_study(
        study_name="quad", storage=store, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(quadratic, n_trials=5)
    again = optuna.load_study(study_name="quad", storage=storage.open_storage(url))
    assert len(again.trials) == 5
    assert all(t.state == TrialState.COMPLETE for t in again.trials)
    assert [t.params for t in again.trials] == [t.params for t in study.trials]
    assert again.best_value == study.best_value


def test_sqlite_storage_round_trip(ws: Workspace, tmp_path: Path) -> None:
    url = storage.resolve(f"sqlite:///{tmp_path / 'studies.db'}", ws)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecated / experimental arguments used
        store = storage.open_storage(url)
    assert isinstance(store, optuna.storages.RDBStorage)
    assert store.heartbeat_interval == 60 and store.grace_period == 120
    assert isinstance(
        store.heartbeat_stale_trial_callback, optuna.storages.RetryHeartbeatStaleTrialCallback
    )
    _run_and_reload(url, store)
    # a plain URL string reads the same study too
    assert len(optuna.load_study(study_name="quad", storage=url).trials) == 5


def test_sqlite_storage_without_heartbeat(tmp_path: Path) -> None:
    store = storage.open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_s=None)
    assert store.heartbeat_interval is None


def test_grace_must_exceed_heartbeat(tmp_path: Path) -> None:
    with pytest.raises(FrontierError, match="grace period"):
        storage.open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_s=60, grace_s=30)


def test_journal_storage_round_trip(ws: Workspace, tmp_path: Path) -> None:
    url = storage.resolve(f"journal:{tmp_path / 'studies.log'}", ws, workers=3)
    store = storage.open_storage(url)
    assert isinstance(store, optuna.storages.journal.JournalStorage)
    _run_and_reload(url, store)


# ---- samplers ------------------------------------------------------------------------------


def _params(name: str, n_trials: int = 12) -> list[dict]:
    sampler = samplers.make_sampler(name, seed=0, n_objectives=1, constrained=False)
    study = optuna.create_study(sampler=sampler)
    study.optimize(quadratic, n_trials=n_trials)
    return [t.params for t in study.trials]


@pytest.mark.parametrize("name", [s for s in samplers.SAMPLERS if s != "cmaes"])
def test_sampler_is_deterministic(name: str) -> None:
    # 12 > the 10 start-up trials of TPE and GP, so the models are used too
    first = _params(name)
    assert first == _params(name)
    assert len({p["x"] for p in first}) == len(first)


@pytest.mark.skipif(importlib.util.find_spec("cmaes") is None, reason="cmaes not installed")
def test_cmaes_is_deterministic() -> None:
    assert _params("cmaes") == _params("cmaes")


@pytest.mark.skipif(importlib.util.find_spec("cmaes") is not None, reason="cmaes installed")
def test_cmaes_without_package_refused() -> None:
    with pytest.raises(FrontierError, match=r"pip install cmaes.*tpe"):
        samplers.make_sampler("cmaes", seed=0, n_objectives=1, constrained=False)


@pytest.mark.parametrize("name", ["tpe", "nsga2", "gp", "random"])
def test_multi_objective(name: str) -> None:
    sampler = samplers.make_sampler(name, seed=0, n_objectives=2, constrained=False)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(two_objectives, n_trials=12 if name == "gp" else 8)
    assert study.best_trials and all(len(t.values) == 2 for t in study.best_trials)


def test_cmaes_refuses_multi_objective_and_constraints() -> None:
    with pytest.raises(FrontierError, match="cmaes handles one objective; use tpe, gp or nsga2"):
        samplers.make_sampler("cmaes", seed=0, n_objectives=2, constrained=False)
    with pytest.raises(FrontierError, match="cmaes ignores constraints"):
        samplers.make_sampler("cmaes", seed=0, n_objectives=1, constrained=True)


def test_unknown_names_list_choices() -> None:
    with pytest.raises(FrontierError, match="tpe, random, cmaes, gp, nsga2"):
        samplers.make_sampler("bayes", seed=0, n_objectives=1, constrained=False)
    with pytest.raises(FrontierError, match="none, median, sha, hyperband"):
        samplers.make_pruner("asha", n_objectives=1)
    with pytest.raises(FrontierError, match="at least one objective"):
        samplers.make_sampler("tpe", seed=0, n_objectives=0, constrained=False)
    assert isinstance(
        samplers.make_sampler(" TPE ", seed=0, n_objectives=1, constrained=False),
        optuna.samplers.TPESampler,
    )


@pytest.mark.parametrize("name", ["tpe", "nsga2"])
def test_constrained_study_records_feasibility(name: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 4)
        trial.set_constraint("x_at_most_2", x - 2)  # feasible iff x <= 2
        return -x  # unconstrained optimum x = 4 is infeasible

    sampler = samplers.make_sampler(name, seed=0, n_objectives=1, constrained=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # no deprecated constraints_func
        study = optuna.create_study(
            study_name="c", storage=storage.open_storage(url), sampler=sampler
        )
        study.optimize(objective, n_trials=15)
    trials = optuna.load_study(study_name="c", storage=url).trials
    feasible = [t for t in trials if samplers.is_feasible(t)]
    infeasible = [t for t in trials if not samplers.is_feasible(t)]
    assert feasible and infeasible
    for t in trials:
        assert t.constraints == {"x_at_most_2": pytest.approx(t.params["x"] - 2)}
        assert samplers.constraints_func(t) == (pytest.approx(t.params["x"] - 2),)
        assert samplers.is_feasible(t) == (t.params["x"] <= 2)
    assert study.best_trial.params["x"] <= 2  # best is the best feasible one
    assert all(t.params["x"] <= 2 for t in study.best_trials)


def test_constraints_func_reads_user_attrs() -> None:
    trial = optuna.trial.create_trial(value=1.0, user_attrs={"constraints": [0.5, -1]})
    assert samplers.constraints_func(trial) == (0.5, -1.0)
    assert not samplers.is_feasible(trial)
    plain = optuna.trial.create_trial(value=1.0)
    assert samplers.constraints_func(plain) == () and samplers.is_feasible(plain)


# ---- pruners -------------------------------------------------------------------------------


def test_median_pruner_prunes_bad_trial() -> None:
    study = optuna.create_study(
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=samplers.make_pruner("median", n_objectives=1),
    )
    for _ in range(5):
        trial = study.ask()
        for step in range(3):
            trial.report(0.1, step)
            assert not trial.should_prune()
        study.tell(trial, 0.1)
    bad = study.ask()
    bad.report(0.9, 0)
    assert bad.should_prune()
    study.tell(bad, state=TrialState.PRUNED)
    good = study.ask()
    good.report(0.05, 0)
    assert not good.should_prune()
    assert study.trials[5].state == TrialState.PRUNED


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("none", optuna.pruners.NopPruner),
        ("sha", optuna.pruners.SuccessiveHalvingPruner),
        ("hyperband", optuna.pruners.HyperbandPruner),
    ],
)
def test_other_pruners_run(name: str, cls: type) -> None:
    pruner = samplers.make_pruner(name, n_objectives=1)
    assert isinstance(pruner, cls)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -5, 5)
        for fold in range(5):
            trial.report(x * x, fold)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return x * x

    study.optimize(objective, n_trials=10)
    assert len(study.trials) == 10


@pytest.mark.parametrize("name", ["median", "sha", "hyperband"])
def test_pruner_refused_for_multi_objective(name: str) -> None:
    with pytest.raises(FrontierError, match="one objective only"):
        samplers.make_pruner(name, n_objectives=2)
    assert isinstance(samplers.make_pruner("none", n_objectives=2), optuna.pruners.NopPruner)


RAW_AT = "postgresql://alice:s3c@ret@127.0.0.1:1/db"


@pytest.mark.parametrize(
    "url",
    [
        RAW_AT,
        "postgresql+psycopg2://alice:s3c@ret@127.0.0.1:1/db?connect_timeout=2",
        "postgresql://alice:s3c/x@ret@127.0.0.1/db",  # make_url lets a password hold '/'
        "mysql+pymysql://alice:s3c@ret@127.0.0.1/db",
        "postgresql://alice@127.0.0.1:1/db?password=s3c@ret",  # make_url: host 'ret'
        "postgresql://127.0.0.1:1/db?user=alice&password=s3c@ret",
    ],
)
def test_raw_at_in_a_password_is_refused_without_echoing_it(ws: Workspace, url: str) -> None:
    for call in (lambda: storage.resolve(url, ws), lambda: storage.open_storage(url)):
        with pytest.raises(FrontierError) as err:
            call()
        message = err.value.message
        assert "%40" in message and "\n" not in message
        assert "s3c" not in message and "ret" not in message  # nor s3c@ret
    assert "s3c" not in storage.mask(url) and "ret" not in storage.mask(url)


def test_mask_hides_a_raw_at_password_whole() -> None:
    assert storage.mask(RAW_AT) == "postgresql://alice:***@127.0.0.1:1/db"
    assert storage.mask("postgresql://alice@corp:pw@db/x") == "postgresql://alice@corp:***@db/x"
    # an '@' in a query password does not end the user:password part early or late
    assert storage.mask("postgresql://alice:pw@db:5432/x?password=s3c@ret") == (
        "postgresql://alice:***@db:5432/x?password=***"
    )
    assert storage.mask("postgresql://alice@db:5432/x") == "postgresql://alice@db:5432/x"


def test_percent_encoded_at_in_a_password_is_accepted(ws: Workspace) -> None:
    from sqlalchemy.engine import make_url

    url = storage.resolve("postgresql://alice:s3c%40ret@127.0.0.1:1/db", ws)
    assert url.endswith("://alice:s3c%40ret@127.0.0.1:1/db")
    parsed = make_url(url)
    assert (parsed.password, parsed.host, parsed.port) == ("s3c@ret", "127.0.0.1", 1)
    assert storage.resolve("postgresql://alice@127.0.0.1/db?password=s3c%40ret", ws)
