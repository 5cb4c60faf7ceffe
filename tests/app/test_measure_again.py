"""A run whose latency was measured on a busy machine says so, and its owner can measure it again."""

from __future__ import annotations

import pandas as pd
from app_support import new_app, run_until
from test_benchmark_page import LOGREG, submit_directly

from engine import jobs
from engine.jobs import spec as jobspec
from engine.owners import local_actor


def _mark_skewed(workspace, run_id: str) -> None:
    path = workspace.results / run_id / "summary.parquet"
    summary = pd.read_parquet(path)
    summary["latency_skewed"], summary["latency_skew_reason"] = True, "batch 1: descheduled 40% of the time"
    summary.to_parquet(path, index=False)


def test_a_skewed_run_is_flagged_and_measured_again_on_request(workspace):
    job_id, run_ids = submit_directly(workspace, LOGREG, "digits", owner=local_actor().name)
    assert jobs.wait(workspace, job_id, timeout_s=300).state == "done"
    _mark_skewed(workspace, run_ids[0])

    at = new_app()
    at.query_params["job"] = job_id
    run_until(at, lambda a: any(b.label == "Measure latency again" for b in a.button))
    shown = [w.value.replace("\\", "").replace("\u2060", "") for w in at.warning]  # md() escapes
    assert any("measured while the machine was busy (batch 1: descheduled 40%" in w for w in shown), shown
    assert at.dataframe[0].value["caution"].iloc[0].startswith("latency measured on a busy machine")

    at.button(key="benchmark:measure_again").click().run()
    assert not at.exception
    again = at.session_state["benchmark:job_id"]
    assert again != job_id and at.query_params["job"] == again
    request = jobspec.read(workspace.job_dir(again)).payload
    assert [r.run_id for r in request.runs] == run_ids and request.recompute  # the same runs, replaced
    assert jobs.wait(workspace, again, timeout_s=300).state == "done"
