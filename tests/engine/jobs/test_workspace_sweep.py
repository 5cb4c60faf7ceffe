"""Crash leftovers are swept when a workspace opens: old result staging folders and the inputs of
jobs that ended; never what a live writer or an active job uses."""

from __future__ import annotations

import os
import time

from engine.jobs import executor, liveness
from engine.jobs import status_store as store
from engine.jobs.spec import JobSpec
from engine.workspace import Workspace, staged_dir

HOUR = 3600
UPLOAD = {"kind": "register_dataset", "upload": "d.csv", "filename": "d.csv", "display_name": None}


def _age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _job_with_inputs(ws: Workspace, **status_fields):
    job_dir = executor.create_job(ws, JobSpec.from_request(UPLOAD), {"d.csv": b"a,b\n1,2\n"})
    store.update(job_dir, status_fields)
    return job_dir


def test_opening_a_workspace_sweeps_old_leftovers_only(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    old_stage, fresh_stage = ws.results / ".stage-0123456789abcdef-deadbeef", ws.results / ".new-x-1"
    for folder in (old_stage, fresh_stage):
        folder.mkdir()
        (folder / "summary.parquet").write_bytes(b"half")
    _age(old_stage, 2 * HOUR)
    kept_run = ws.results / "0123456789abcdef"
    kept_run.mkdir()
    _age(kept_run, 2 * HOUR)  # a real run, however old, is never a leftover

    ended = _job_with_inputs(ws, state="failed")
    ended_recently = _job_with_inputs(ws, state="done")
    dead = _job_with_inputs(ws, state="running",  # its supervisor is gone: not active any more
                            supervisor={"host": liveness.machine.host_id(), "pid": 2**22 + 31, "started": 1.0})
    waiting = _job_with_inputs(ws, state="queued", supervisor=liveness.identity())  # alive: this process
    for job_dir in (ended, dead, waiting):
        _age(job_dir / "inputs", 2 * HOUR)

    Workspace.open(ws.root)
    assert not old_stage.exists() and fresh_stage.exists() and kept_run.exists()
    assert not (ended / "inputs").exists() and not (dead / "inputs").exists()
    assert (ended_recently / "inputs" / "d.csv").exists()
    assert (waiting / "inputs" / "d.csv").exists()
    assert (ended / "status.json").exists()  # only the inputs go


def test_a_live_staged_write_survives_a_sweep(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    final = ws.results / "0123456789abcdef"
    with staged_dir(final) as stage:
        (stage / "summary.parquet").write_bytes(b"data")
        Workspace.open(ws.root)  # another process opens the workspace mid-write
        assert stage.exists()
    assert (final / "summary.parquet").read_bytes() == b"data"


def test_sweeping_skips_what_it_cannot_judge(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    odd = ws.jobs / "not-a-job-id" / "inputs"
    odd.mkdir(parents=True)
    _age(odd, 2 * HOUR)
    damaged = _job_with_inputs(ws, state="failed")
    (damaged / "status.json").write_text("{oops")
    _age(damaged / "inputs", 2 * HOUR)
    Workspace.open(ws.root)
    assert odd.exists() and (damaged / "inputs").exists()
