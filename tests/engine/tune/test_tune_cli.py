"""``python -m engine tune``: the JSON contract, a study Optuna reads back, best trials saved as models
and stored as runs the compare command shows with their lineage; bad flags exit 2 with one line."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import optuna
import pytest
from frontier_support import CliResult, run_cli, run_cli_here

from engine.compare.pareto import non_dominated
from engine.tune.samplers import is_feasible

YAML_SPACE = "clf__C:\n  type: float\n  low: 0.5\n  high: 0.6\n"


def _good_runs(root: Path) -> dict[str, Callable[[], CliResult]]:
    """The studies the tests read, each its own process and workspace under ``root``."""
    space = root / "space.yaml"
    space.write_text(YAML_SPACE)
    return {
        # only the best trial is saved and benchmarked: the tests read no other (saving the best N
        # is test_save_trials.py's)
        "tuned": partial(run_cli, "tune", "--family", "logreg", "--data", "digits", "--trials", "5", "--cv", "3",
                         "--save-best", "1", "--workspace", root / "tuned" / "ws", "--json"),
        "multi": partial(run_cli, "tune", "--family", "logreg", "--data", "wine", "--trials", "6", "--cv", "3",
                         "--objective", "accuracy,size", "--sampler", "nsga2", "--constraint", "accuracy>=0.5",
                         "--save-best", "0", "--workspace", root / "multi" / "ws", "--json"),
        "yaml": partial(run_cli, "tune", "--family", "logreg", "--data", "iris", "--trials", "3", "--cv", "2",
                        "--save-best", "0", "--space", space, "--workspace", root / "yaml" / "ws", "--json"),
    }


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tune-cli")


@pytest.fixture(scope="module")
def runs(root) -> dict[object, CliResult]:
    """Every CLI call of this module. The studies run at once, each its own process and workspace (one
    tune process keeps about one core busy, so side by side they use the machine); meanwhile the
    bad-flag cases, each refused before anything runs, go through ``engine.cli.main`` in this process.
    Keys: the names of :func:`_good_runs`, and the index of each bad-flag case."""
    (root / "bad-flags").mkdir()
    with ThreadPoolExecutor(max_workers=3) as pool:
        studies = {name: pool.submit(call) for name, call in _good_runs(root).items()}
        refused: dict[object, CliResult] = {i: _bad_run(args, root / "bad-flags" / f"ws{i}")
                                            for i, (args, _) in enumerate(BAD_FLAGS)}
        return refused | {name: future.result() for name, future in studies.items()}


@pytest.fixture(scope="module")
def tuned(root, runs):
    result = runs["tuned"]
    assert result.returncode == 0, str(result)
    return root / "tuned" / "ws", result.json


def test_the_json_contract_and_a_study_optuna_reads_back(tuned):
    ws, doc = tuned
    assert set(doc) >= {"study", "storage", "n_trials", "directions", "best_trials"}
    assert doc["directions"] == ["maximize"] and doc["storage"] == f"sqlite:///{ws / 'studies.db'}"
    study = optuna.load_study(study_name=doc["study"], storage=doc["storage"])
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(study.trials) == doc["n_trials"] == 5
    (best,) = doc["best_trials"]
    assert set(best) >= {"number", "values", "params", "artifact_id", "feasible"}
    assert best["values"][0] == max(t.values[0] for t in done)  # the best, by Optuna's own record


def test_the_best_trial_is_a_stored_run_with_its_lineage(tuned):
    ws, doc = tuned
    best = doc["best_trials"][0]
    result = run_cli("compare", "--run", best["run_id"], "--workspace", ws, "--json")
    assert result.returncode == 0, str(result)
    run = result.json["runs"][0]
    assert run["artifact_id"] == best["artifact_id"] and run["mode"] == "cv-refit"
    assert run["lineage"].startswith(f"trial {best['number']} of study {doc['study']}")
    assert run["accuracy_mean"] == pytest.approx(best["values"][0], abs=1e-12)  # same folds, same model


def test_multi_objective_constrained_best_trials_are_feasible_and_non_dominated(runs):
    result = runs["multi"]
    assert result.returncode == 0, str(result)
    doc = result.json
    study = optuna.load_study(study_name=doc["study"], storage=doc["storage"])
    ok = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and is_feasible(t)]
    reported = {b["number"] for b in doc["best_trials"]}
    assert all(b["feasible"] for b in doc["best_trials"]) and reported
    mask = non_dominated([t.values for t in ok], [True, False])
    assert reported == {t.number for t, keep in zip(ok, mask, strict=True) if keep}
    # brute-force check of the mask itself
    for t in ok:
        beaten = any(o.values[0] >= t.values[0] and o.values[1] <= t.values[1] and o.values != t.values for o in ok)
        assert (t.number in reported) == (not beaten)


BAD_FLAGS = [
    (["--family", "nope"], "--family: unknown family"),
    (["--trials", "0"], "--trials must be between"),
    (["--objective", "rmse"], "--objective"),
    (["--objective", "accuracy,latency", "--sampler", "cmaes"], "cmaes handles one objective"),
    (["--storage", "http://x"], "--storage"),
    (["--storage", "postgresql://me:s3cret@127.0.0.1:1/db", "--study", "x"], "--storage: cannot open storage"),
    (["--study", "../x"], "--study"),
    (["--constraint", "foo<=1"], "--constraint"),
    (["--space", '{"clf__C": {"type": "float", "low": 1, "high": 0}}'], "--space"),
    (["--space", '{"__class__": {"type": "float", "low": 0, "high": 1}}'], "--space"),
    (["--space", "clf__C: {type: float, low: 1, high: 0}"], "--space"),  # YAML, read then checked
    (["--space", "clf__C: !!python/object/apply:os.system [touch /tmp/pwned]"], "--space is neither JSON nor YAML"),
    (["--space", "just words"], "--space takes JSON or YAML text"),
    (["--family", "cnn", "--data", "wine"], "--family cnn needs images"),  # checked before anything is written
]


def _bad_run(args: list[str], ws) -> object:
    base = {"--family": "logreg", "--trials": "2", "--data": "digits"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    return run_cli_here("tune", "--workspace", ws, *[x for kv in base.items() for x in kv])


@pytest.fixture(scope="module")
def bad_outcomes(root, runs) -> dict[int, tuple[object, object]]:
    """Every bad-flag case's outcome and the workspace it named (which must not exist)."""
    return {i: (runs[i], root / "bad-flags" / f"ws{i}") for i in range(len(BAD_FLAGS))}


@pytest.mark.parametrize("case", range(len(BAD_FLAGS)), ids=[c[1][:40] for c in BAD_FLAGS])
def test_bad_flags_exit_2_with_one_line_and_write_nothing(case, bad_outcomes):
    result, ws = bad_outcomes[case]
    words = BAD_FLAGS[case][1]
    lines = result.stderr_lines
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, str(result)
    assert words in lines[0] and "s3cret" not in result.stderr
    assert not ws.exists()


def test_a_yaml_space_is_searched_as_written(runs):
    result = runs["yaml"]  # --space names a .yaml file holding YAML_SPACE
    assert result.returncode == 0, str(result)
    study = optuna.load_study(study_name=result.json["study"], storage=result.json["storage"])
    values = [t.params["clf__C"] for t in study.trials]
    assert len(values) == 3 and all(0.5 <= v <= 0.6 for v in values) and set(study.trials[0].params) == {"clf__C"}
