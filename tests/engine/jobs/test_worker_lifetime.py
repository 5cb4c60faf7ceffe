"""The worker dies with its supervisor: kill -9 or SIGTERM of the supervisor (or of the CLI
running it) never leaves a worker running without limits, and a job shown as ended never runs on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest
from frontier_support import REPO_ROOT
from jobs_support import gone, job_processes, plan, wait_for, worker_of

from engine import jobs
from engine.jobs import status_store as store
from engine.jobs.spec import Limits
from engine.workspace import Workspace

GENEROUS = Limits(memory_mb=4096, time_s=600, step_time_s=600)


@pytest.fixture(scope="module")
def hang_ws(tmp_path_factory, iris_files):
    ws = Workspace.open(tmp_path_factory.mktemp("lifetime") / "ws")
    return ws, plan(ws, [iris_files["hang"]]).to_request()


def _hanging_job(ws: Workspace, request) -> tuple[str, psutil.Process]:
    job_id = jobs.submit(ws, request, limits=GENEROUS)
    wait_for(lambda: "checking inputs" in jobs.status(ws, job_id).message, what="the model to start hanging")
    return job_id, worker_of(ws.jobs / job_id)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_killing_the_supervisor_kills_the_worker(hang_ws, sig):
    ws, request = hang_ws
    job_id, worker = _hanging_job(ws, request)
    assert worker is not None and not gone(worker)
    os.kill(store.read(ws.jobs / job_id)["supervisor_pid"], sig)
    wait_for(lambda: gone(worker), timeout=15, what="the worker to die with its supervisor")
    st = wait_for(lambda: (s := jobs.status(ws, job_id)).state != "running" and s, timeout=15,
                  what="the job to read as ended")
    assert st.state == "failed"
    if sig == signal.SIGTERM:  # the supervisor had time to say so itself
        assert "supervisor was stopped (SIGTERM)" in store.read(ws.jobs / job_id)["error"]
    else:  # nobody wrote it; readers see it at once, the next writer records it
        assert "stopped unexpectedly" in st.error
        assert store.read(ws.jobs / job_id)["state"] == "running"
        jobs.reconcile(ws, job_id)
        assert store.read(ws.jobs / job_id)["state"] == "failed"
    assert job_processes(str(ws.jobs / job_id)) == []


def test_a_job_ended_by_someone_else_stops_its_worker(hang_ws):
    """E.g. another machine judged the heartbeat stale: the job must not run on while shown failed."""
    ws, request = hang_ws
    job_id, worker = _hanging_job(ws, request)
    first = store.read(ws.jobs / job_id)["heartbeat_at"]
    wait_for(lambda: store.read(ws.jobs / job_id)["heartbeat_at"] > first, timeout=30,
             what="the supervisor's next heartbeat")
    store.update(ws.jobs / job_id, {"state": "failed", "error": "judged stale elsewhere"})
    wait_for(lambda: job_processes(str(ws.jobs / job_id)) == [], timeout=15, what="supervisor and worker to stop")
    assert gone(worker)
    assert jobs.status(ws, job_id).error == "judged stale elsewhere"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_stopping_the_cli_stops_its_worker(iris_files, tmp_path, sig):
    ws = tmp_path / "ws"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTIER_")}
    cli = subprocess.Popen([sys.executable, "-m", "engine", "benchmark", "--model", str(iris_files["hang"]),
                            "--trust", "--data", "iris", "--workspace", str(ws), "--no-latency", "--json"],
                           cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the CLI's worker is the spare it started before the job existed (its command line names the jobs folder)
    worker = wait_for(lambda: worker_of(ws / "jobs"), what="the CLI's worker")
    wait_for(lambda: (listed := jobs.list_jobs(Workspace.at(ws))) and "checking inputs" in listed[0].message,
             what="the model to hang")
    assert store.read(ws / "jobs" / jobs.list_jobs(Workspace.at(ws))[0].job_id)["worker"]["pid"] == worker.pid
    cli.send_signal(sig)
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == -sig
    assert "Traceback" not in err and out == ""
    wait_for(lambda: gone(worker), timeout=15, what="the worker to die with the CLI")
    assert jobs.list_jobs(Workspace.at(ws))[0].state == "failed"


def test_the_worker_watches_its_parent_where_pdeathsig_is_missing(tmp_path):
    """The fallback alone: a child started without PR_SET_PDEATHSIG still dies with its parent."""
    child = textwrap.dedent("""
        import os, time
        from engine.jobs.worker import watch_parent
        watch_parent(os.getppid(), interval_s=0.1)
        print("ready", flush=True)
        time.sleep(600)
    """)
    parent = textwrap.dedent(f"""
        import subprocess, sys, time
        kid = subprocess.Popen([sys.executable, "-c", {child!r}], stdout=subprocess.PIPE, text=True)
        assert kid.stdout.readline().strip() == "ready"
        print(kid.pid, flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
                            env=os.environ | {"PYTHONPATH": str(REPO_ROOT)})
    kid = psutil.Process(int(proc.stdout.readline()))
    assert not gone(kid)
    proc.kill()
    proc.wait()
    wait_for(lambda: gone(kid), timeout=15, what="the orphaned child to notice and exit")
