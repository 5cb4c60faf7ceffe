"""The job system under contention: several processes start, poll and cancel jobs on one
workspace at once. No status is lost or torn, nothing reads as failed while it is alive, and
every job ends in the state its story calls for (done, or cancelled by another process)."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

from jobs_support import job_processes, plan, wait_for

from engine import jobs
from engine.jobs import status_store as store
from engine.jobs.spec import Limits
from engine.workspace import Workspace

CTX = mp.get_context("spawn")
ACTORS = 3


def _actor(root: str, me: int, quick: dict, hang: dict, go, out) -> None:
    """Submit a quick job and a hanging one, then poll everything and cancel the next actor's hang."""
    ws = Workspace.at(root)
    seen: set[tuple] = set()
    problems: list[str] = []
    go.wait()
    mine = {"quick": jobs.submit(ws, quick, title=f"quick {me}", owner=f"user{me}"),
            "hang": jobs.submit(ws, hang, title=f"hang {me}", owner=f"user{me}",
                                limits=Limits(memory_mb=4096, time_s=600, step_time_s=600))}
    out.put(("ids", me, mine))
    cancelled = False
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            listed = jobs.list_jobs(ws)
        except Exception as exc:  # a torn or unreadable status would land here
            problems.append(repr(exc))
            continue
        for st in listed:
            seen.add((st.job_id, st.state, st.error))
            target = f"hang {(me + 1) % ACTORS}"
            if not cancelled and st.title == target and st.state == "running" and "checking inputs" in st.message:
                jobs.cancel(ws, st.job_id)
                cancelled = True
        if len(listed) == 2 * ACTORS and not any(s.active for s in listed):
            break
        time.sleep(0.01)
    out.put(("seen", me, sorted(seen, key=str), problems, cancelled))


def test_many_processes_starting_polling_and_cancelling_at_once(tmp_path, iris_files):
    ws = Workspace.open(tmp_path / "ws")
    quick = [plan(ws, [iris_files["linear"]], seed=i).to_request() for i in range(ACTORS)]
    hang = plan(ws, [iris_files["hang"]]).to_request()
    go, out = CTX.Event(), CTX.Queue()
    actors = [CTX.Process(target=_actor, args=(str(ws.root), i, quick[i], hang, go, out)) for i in range(ACTORS)]
    for a in actors:
        a.start()
    go.set()
    messages = [out.get(timeout=300) for _ in range(2 * ACTORS)]
    for a in actors:
        a.join(60)
        assert a.exitcode == 0
    ids = {m[1]: m[2] for m in messages if m[0] == "ids"}
    reports = [m for m in messages if m[0] == "seen"]
    assert all(r[3] == [] for r in reports), [r[3] for r in reports]  # no torn or unreadable status
    assert all(r[4] for r in reports)  # every actor cancelled its neighbour's job
    observed = {obs for r in reports for obs in r[2]}
    assert not [o for o in observed if o[1] == "failed"], "a live job read as failed"

    for me, mine in ids.items():
        done = jobs.status(ws, mine["quick"])
        assert done.state == "done" and done.owner == f"user{me}"
        assert done.result == {"run_ids": [quick[me]["runs"][0]["run_id"]]}
        stopped = jobs.status(ws, mine["hang"])
        assert stopped.state == "cancelled" and stopped.error is None
        for job_id in mine.values():
            record = store.read(ws.jobs / job_id)
            assert record["state"] in ("done", "cancelled") and record["finished_at"] >= record["created_at"]
    wait_for(lambda: job_processes(str(ws.root)) == [], timeout=30, what="every supervisor and worker to exit")
    assert len(list(Path(ws.jobs).iterdir())) == 2 * ACTORS
