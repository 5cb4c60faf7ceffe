"""``python -m engine worker`` joins a study made by ``tune``: its request is read from the study,
the total is shared, SQLite is refused for a second worker, bad joins exit 2 with one line."""

from __future__ import annotations

import optuna
import pytest
from frontier_support import run_cli


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    root = tmp_path_factory.mktemp("worker")
    ws, journal = root / "ws", f"journal:{root / 'studies.log'}"
    result = run_cli("tune", "--family", "logreg", "--data", "digits", "--trials", "3", "--cv", "3",
                     "--storage", journal, "--study", "shared", "--save-best", "0", "--workspace", ws, "--json")
    assert result.returncode == 0, str(result)
    return ws, journal


def test_a_worker_joins_and_the_study_reaches_the_new_total_once(started):
    ws, journal = started
    result = run_cli("worker", "--study", "shared", "--storage", journal, "--trials", "5", "--workspace", ws,
                     "--json")
    assert result.returncode == 0, str(result)
    assert result.json["study"] == "shared" and result.json["n_trials"] == 5
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal.split(":", 1)[1]))
    trials = optuna.load_study(study_name="shared", storage=storage).trials
    assert len(trials) == 5 and sorted(t.number for t in trials) == list(range(5))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)


@pytest.mark.parametrize(("args", "words"), [
    (["--study", "shared", "--storage", "sqlite:///{root}/x.db"], "SQLite"),
    (["--study", "nope", "--storage", "{journal}"], "--study: no study 'nope'"),
    (["--study", "shared", "--storage", "{journal}", "--trials", "0"], "--trials must be between"),
])
def test_bad_joins_exit_2_with_one_line(started, tmp_path, args, words):
    ws, journal = started
    args = [a.format(root=tmp_path, journal=journal) for a in args]
    result = run_cli("worker", *args, "--workspace", ws)
    assert result.returncode == 2 and len(result.stderr_lines) == 1, str(result)
    assert words in result.stderr_lines[0]


def test_a_worker_in_a_workspace_without_the_data_is_told_where_to_point(started, tmp_path):
    _, journal = started
    result = run_cli("worker", "--study", "shared", "--storage", journal, "--workspace", tmp_path / "other")
    assert result.returncode == 2 and "--workspace" in result.stderr_lines[0], str(result)
    assert not (tmp_path / "other").exists()
