"""Spare workers: started ahead by the CLI, used only for a job with their settings, never left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from frontier_support import run_cli, sample, snapshot
from jobs_support import iris_models, plan, wait_for

from engine import jobs, settings
from engine.jobs import processes
from engine.jobs.spare import Spare
from engine.results import ResultStore
from engine.workspace import Workspace


def _spares() -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "engine.jobs.worker" in cmd and "--spare" in cmd:
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    out.append(proc)
            except psutil.NoSuchProcess:
                pass
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    return iris_models(tmp_path_factory.mktemp("spare-models"))


def _run_with_spare(root: Path, model: Path, *, spare_threads: int = 1):
    """A one-model iris job (threads=1) run with a spare started for ``spare_threads``:
    (workspace, plan, spare, final status, status.json)."""
    ws = Workspace.open(root)
    p = plan(ws, [model])
    spare = Spare.start("benchmark", ws.jobs, threads=spare_threads)
    assert spare is not None
    st = jobs.run(ws, p.to_request(), spare=spare)
    assert st.state == "done", st.error
    return ws, p, spare, st, json.loads((ws.jobs / st.job_id / "status.json").read_text())


def test_the_cli_runs_its_job_in_the_spare_it_started(tmp_path):
    ws = tmp_path / "ws"
    r = run_cli("benchmark", "--model", sample("digits_logreg.skops"), "--data", "digits", "--workspace", ws,
                "--json", "--no-latency", "--cv", "3")
    assert r.returncode == 0, r.stderr
    (job,) = jobs.list_jobs(Workspace(ws))
    status = json.loads((ws / "jobs" / job.job_id / "status.json").read_text())
    assert status["state"] == "done" and status["worker"].get("spare") is True
    (run,) = json.loads(r.stdout)["runs"]
    assert ResultStore(Workspace(ws)).has(run["run_id"])
    wait_for(lambda: not _spares(), timeout=10, what="no spare worker left")


def test_a_request_refused_after_the_spare_started_leaves_no_spare_and_no_trace(tmp_path, monkeypatch, capsys):
    from engine.cli import main

    ws = tmp_path / "ws"
    Workspace.open(ws)
    before = snapshot(ws)
    started: list[Spare] = []
    real = Spare.start.__func__

    def recording(cls, *a, **k):
        spare = real(cls, *a, **k)
        started.append(spare)
        return spare
    monkeypatch.setattr(Spare, "start", classmethod(recording))
    # a fresh workspace, so the spare starts; then the model's 64 features do not fit iris's 4
    code = main(["benchmark", "--model", str(sample("digits_logreg.skops")), "--data", "iris", "--workspace",
                 str(ws), "--as-is"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "features" in err, err
    assert snapshot(ws) == before
    assert len(started) == 1 and started[0] is not None
    assert started[0].proc.poll() is not None  # stopped before the CLI returned


def test_a_cached_request_starts_no_spare(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    args = ["benchmark", "--model", sample("digits_logreg.skops"), "--data", "digits", "--workspace", ws, "--json",
            "--no-latency", "--cv", "3"]
    assert run_cli(*args).returncode == 0
    started = []
    monkeypatch.setattr(Spare, "start", classmethod(lambda cls, *a, **k: started.append(a) or None))
    from engine.cli import main

    assert main([str(a) for a in args]) == 0
    assert started == []


def test_a_spare_started_with_other_settings_is_stopped_and_a_fresh_worker_runs_the_job(tmp_path, models):
    _, _, spare, _, status = _run_with_spare(tmp_path / "ws", models["small"], spare_threads=2)
    assert spare.threads == 2
    assert "spare" not in status["worker"] and status["worker"]["pid"] != spare.proc.pid
    assert spare.proc.poll() is not None  # stopped, not left running


def test_a_spare_that_fits_runs_the_job_and_writes_its_log(tmp_path, models):
    ws, p, spare, st, status = _run_with_spare(tmp_path / "ws", models["small"])
    assert status["worker"] == {"pid": spare.proc.pid, "spare": True}
    assert (ws.jobs / st.job_id / "worker.log").exists()
    assert ResultStore(ws).has(p.pending[0].run_id)


def test_a_spare_runs_only_a_job_of_its_workspace_named_by_its_parent(tmp_path):
    import os

    env = processes.worker_env(threads=settings.default_threads())
    jobs_dir = tmp_path / "ws" / "jobs"
    job_dir = jobs_dir / "20260101-000000-abcdef"
    outside = tmp_path / "elsewhere" / "20260101-000000-abcdef"
    for d in (job_dir, outside):
        d.mkdir(parents=True)
    cmd = [sys.executable, "-m", "engine.jobs.worker", "--spare", "benchmark", str(jobs_dir)]

    def spare(line: str) -> int:
        return subprocess.run(cmd, input=line.encode(), env=env, cwd=processes.PROJECT_ROOT, capture_output=True,
                              timeout=120).returncode

    assert spare("") == 0  # nobody took it: it just ends
    assert spare(f"{job_dir}\t1\n") == 1  # the named supervisor is not its parent (this process is)
    assert spare(f"{outside}\t{os.getpid()}\n") == 1  # a job folder outside its workspace
    assert spare(f"{jobs_dir / '..' / '..' / 'elsewhere' / outside.name}\t{os.getpid()}\n") == 1
    for d in (job_dir, outside):
        assert sorted(p.name for p in d.iterdir()) == []  # nothing ran, nothing was written
    # named by its parent, inside its workspace: it runs the job (which has no request, so it fails cleanly)
    assert spare(f"{job_dir}\t{os.getpid()}\n") == 1
    assert "error.json" in {p.name for p in job_dir.iterdir()}


def test_a_job_path_that_cannot_be_said_in_one_line_goes_to_a_fresh_worker(tmp_path, models):
    _, _, spare, _, status = _run_with_spare(tmp_path / "odd\nname\tws", models["small"])
    assert "spare" not in status["worker"] and spare.proc.poll() is not None
