"""Liveness on a workspace shared by several machines: pids are checked only on their own host.

The host id is faked: a job "on another machine" has a supervisor pid that does
not exist here, which must never make it look dead while its heartbeat is fresh.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from engine import jobs
from engine.jobs import executor, liveness, machine
from engine.jobs import status_store as store
from engine.jobs.spec import JobSpec
from engine.workspace import Workspace

DESCRIBE = {"kind": "describe", "artifact_id": "fedcba9876543210"}
NO_SUCH_PID = 2**22 + 23


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


def _running(ws: Workspace, **fields):
    job_dir = executor.create_job(ws, JobSpec.from_request(DESCRIBE))
    store.update(job_dir, {"state": "running"} | fields)
    return job_dir


def test_another_hosts_job_with_a_fresh_heartbeat_is_alive_though_its_pid_is_absent_here(ws):
    other = {"host": "other-machine/boot-1/4026531836", "pid": NO_SUCH_PID, "started": 1.0}
    job_dir = _running(ws, supervisor=other, heartbeat_at=time.time())
    assert not psutil.pid_exists(NO_SUCH_PID)
    assert jobs.status(ws, job_dir.name).state == "running"
    assert jobs.reconcile(ws, job_dir.name).state == "running"
    jobs.cancel(ws, job_dir.name)  # a cancel only raises the flag for that machine's supervisor
    assert store.read(job_dir)["state"] == "running" and (job_dir / "cancel").exists()


def test_a_job_whose_heartbeat_stopped_is_stale_for_anyone(ws):
    other = {"host": "other-machine/boot-1/4026531836", "pid": os.getpid(), "started": 1.0}
    job_dir = _running(ws, supervisor=other, heartbeat_at=time.time() - liveness.STALE_AFTER_S - 5)
    st = jobs.status(ws, job_dir.name)
    assert st.state == "failed" and "stopped reporting" in st.error
    jobs.reconcile(ws, job_dir.name)
    assert store.read(job_dir)["state"] == "failed"


def test_the_same_host_knows_at_once_when_the_supervisor_is_gone(ws, monkeypatch):
    monkeypatch.setattr(machine, "host_id", lambda: "this-machine/boot-7/1")
    here = {"host": "this-machine/boot-7/1", "pid": NO_SUCH_PID, "started": 1.0}
    job_dir = _running(ws, supervisor=here, heartbeat_at=time.time())
    assert jobs.status(ws, job_dir.name).state == "failed"
    # the same record read from another machine: not its business to judge by pid
    monkeypatch.setattr(machine, "host_id", lambda: "that-machine/boot-2/1")
    assert jobs.status(ws, job_dir.name).state == "running"


def test_a_recycled_pid_is_not_the_supervisor(ws):
    """Attack: a status that names a live but unrelated process (pid reuse, or pid 1)."""
    me = liveness.identity()
    assert jobs.status(ws, _running(ws, supervisor=me, heartbeat_at=time.time()).name).state == "running"
    for pid in (os.getpid(), 1):
        impostor = me | {"pid": pid, "started": psutil.Process(pid).create_time() - 1000}
        job_dir = _running(ws, supervisor=impostor, heartbeat_at=time.time())
        assert jobs.status(ws, job_dir.name).state == "failed"


def test_an_exited_supervisor_is_dead_even_before_it_is_reaped(ws):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    who = liveness.identity(proc.pid)
    job_dir = _running(ws, supervisor=who, heartbeat_at=time.time())
    deadline = time.monotonic() + 30
    while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.02)
    assert jobs.status(ws, job_dir.name).state == "failed"  # a zombie is not a supervisor
    proc.wait()


@pytest.mark.parametrize("beat", ["future", "yesterday", None, True])
def test_a_forged_or_missing_heartbeat_does_not_keep_a_job_alive(ws, beat):
    if beat == "future":  # taken when the test runs: a time fixed at collection is no longer future 15 min on
        beat = time.time() + 10 * liveness.STALE_AFTER_S
    other = {"host": "other-machine/boot-1/4026531836", "pid": 1, "started": 1.0}
    job_dir = _running(ws, supervisor=other, heartbeat_at=beat)
    assert jobs.status(ws, job_dir.name).state == "failed"


def test_host_ids_tell_pid_namespaces_and_boots_apart():
    hid = machine.host_id()
    hostname, boot, pidns = hid.split("/")
    assert hostname and boot and pidns
    if os.path.exists("/proc/sys/kernel/random/boot_id"):
        assert boot == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        assert pidns == str(os.stat("/proc/self/ns/pid").st_ino)
