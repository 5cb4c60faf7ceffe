"""The status store: one writer at a time, readers never write, terminal states are final."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import time

import pytest

from engine import jobs
from engine.errors import FrontierError
from engine.jobs import executor, liveness
from engine.jobs import status_store as store
from engine.jobs.spec import JobSpec
from engine.workspace import Workspace

DESCRIBE = {"kind": "describe", "artifact_id": "fedcba9876543210"}


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


def _job(ws: Workspace, **status_fields):
    job_dir = executor.create_job(ws, JobSpec.from_request(DESCRIBE, owner="ana"))
    if status_fields:
        store.update(job_dir, status_fields)
    return job_dir


def _increment(job_dir: str, n: int) -> None:
    from pathlib import Path

    for _ in range(n):
        store.update(Path(job_dir), lambda st: {"counter": st.get("counter", 0) + 1})


def _read_many(job_dir: str, n: int, out) -> None:
    from pathlib import Path

    bad = 0
    for _ in range(n):
        try:
            json.loads((Path(job_dir) / "status.json").read_text())
        except ValueError:
            bad += 1
    out.put(bad)


def test_concurrent_read_modify_writes_lose_nothing_and_readers_never_see_half_a_file(ws):
    job_dir = _job(ws)
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    writers = [ctx.Process(target=_increment, args=(str(job_dir), 60)) for _ in range(4)]
    reader = ctx.Process(target=_read_many, args=(str(job_dir), 2000, results))
    for p in [*writers, reader]:
        p.start()
    for p in [*writers, reader]:
        p.join(120)
        assert p.exitcode == 0
    assert store.read(job_dir)["counter"] == 4 * 60  # no lost update
    assert results.get(timeout=5) == 0  # no torn read


def _fingerprint(job_dir) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(job_dir.iterdir()) if p.is_file()}


def test_status_never_writes_even_when_it_reports_a_dead_supervisor(ws):
    dead = {"host": liveness.machine.host_id(), "pid": 2**22 + 17, "started": 1.0}  # no such pid
    job_dir = _job(ws, state="running", supervisor=dead, heartbeat_at=time.time())
    before = _fingerprint(job_dir)
    st = jobs.status(ws, job_dir.name)
    listed = {j.job_id: j for j in jobs.list_jobs(ws)}
    assert st.state == "failed" and "stopped unexpectedly" in st.error
    assert listed[job_dir.name].state == "failed"
    assert _fingerprint(job_dir) == before  # reported failed, recorded by nobody
    assert store.read(job_dir)["state"] == "running"
    # a writer's step records it
    assert jobs.reconcile(ws, job_dir.name).state == "failed"
    assert store.read(job_dir)["state"] == "failed"


def test_a_finished_job_stays_finished(ws):
    job_dir = _job(ws, state="done", result={"run_ids": []})
    record, changed = store.update(job_dir, {"state": "running", "heartbeat_at": time.time()})
    assert not changed and record["state"] == "done"
    jobs.cancel(ws, job_dir.name)  # cancelling a finished job changes nothing
    assert store.read(job_dir)["state"] == "done"
    assert not (job_dir / "cancel").exists()


def test_cancel_of_a_job_without_a_live_supervisor_records_cancelled(ws):
    dead = {"host": liveness.machine.host_id(), "pid": 2**22 + 19, "started": 1.0}
    job_dir = _job(ws, state="running", supervisor=dead)
    jobs.cancel(ws, job_dir.name)
    st = jobs.status(ws, job_dir.name)
    assert st.state == "cancelled" and st.error is None


def test_only_owners_and_admins_cancel(ws):
    from engine.owners import Actor

    job_dir = _job(ws, supervisor=liveness.identity())  # alive: this test process
    with pytest.raises(FrontierError, match="ana's"):
        jobs.cancel(ws, job_dir.name, actor=Actor("eve"))
    assert not (job_dir / "cancel").exists()
    assert jobs.status(ws, job_dir.name).owner == "ana"
    jobs.cancel(ws, job_dir.name, actor=Actor("ana"))
    assert (job_dir / "cancel").exists()
    other = _job(ws, supervisor=liveness.identity())
    jobs.cancel(ws, other.name, actor=Actor("root", admin=True))
    assert (other / "cancel").exists()
    # an owner forged into status.json as a non-string does not make the job anyone's
    forged = _job(ws, supervisor=liveness.identity(), owner=["eve"])
    with pytest.raises(FrontierError):
        jobs.cancel(ws, forged.name, actor=Actor("eve"))


@pytest.mark.parametrize("content", ["{half", "[]", '{"state": "exploded"}', ""])
def test_a_damaged_status_file_is_one_line_and_skipped_by_listings(ws, content):
    good = _job(ws, supervisor=liveness.identity())
    bad = _job(ws)
    (bad / "status.json").write_text(content)
    with pytest.raises(FrontierError, match="damaged") as err:
        jobs.status(ws, bad.name)
    assert "\n" not in err.value.message
    assert [j.job_id for j in jobs.list_jobs(ws)] == [good.name]


def test_untrusted_progress_fields_are_sanitised(ws):
    job_dir = _job(ws, supervisor=liveness.identity())
    (job_dir / "progress.json").write_text(json.dumps(
        {"fraction": 7, "message": "line\nbreak\x00", "eta_s": "soon", "waiting": True, "ahead": "many"}))
    st = jobs.status(ws, job_dir.name)
    assert st.fraction == 1.0 and st.message == "line break" and st.eta_s is None
    assert st.ahead is None
    (job_dir / "progress.json").write_text(json.dumps({"fraction": -1}))
    assert jobs.status(ws, job_dir.name).fraction == 0.0
