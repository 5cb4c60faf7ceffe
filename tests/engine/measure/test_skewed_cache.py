"""A skewed latency is never served from the cache as clean; every run records the load it ran under."""

from __future__ import annotations

import pandas as pd
import pytest
from measure_support import digits_plan, run_job

from engine.results import ResultStore, RunRecord
from engine.workspace import Workspace

SUMMARY_FIELDS = ("latency_skewed", "latency_skew_reason", "load_1m_before", "load_1m_after",
                  "latency_cpu_per_wall", "latency_descheduled", "other_jobs_active", "other_jobs_queued")
LATENCY_COLUMNS = ("skewed", "skew_reason", "noisy", "block_ratio", "cpu_per_wall", "descheduled",
                   "load_1m_before", "load_1m_after")


def _store_fake(ws: Workspace, run_id: str, **summary) -> None:
    ResultStore(ws).save(RunRecord(run_id, {"run_id": run_id, "model": "fake"} | summary), replace=True)


# ---------------------------------------------------------------- the rule
def test_a_stored_skewed_run_is_pending_and_a_clean_one_cached(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    first = digits_plan(ws, ["digits_mlp.onnx"])
    (run,) = first.runs
    assert not run.cached
    _store_fake(ws, run.run_id, latency_skewed=True, latency_skew_reason="descheduled 40% of the time")
    (again,) = digits_plan(ws, ["digits_mlp.onnx"]).runs
    assert again.run_id == run.run_id and not again.cached
    _store_fake(ws, run.run_id, latency_skewed=False, latency_skew_reason=None)
    (clean,) = digits_plan(ws, ["digits_mlp.onnx"]).runs
    assert clean.cached
    # a run stored before skew was recorded is not flagged: served as before
    _store_fake(ws, run.run_id)
    assert digits_plan(ws, ["digits_mlp.onnx"]).runs[0].cached
    # --no-cache still re-measures a clean one
    _store_fake(ws, run.run_id, latency_skewed=False)
    assert not digits_plan(ws, ["digits_mlp.onnx"], use_cache=False).runs[0].cached


def test_the_rule_applies_to_requests_that_measure_latency(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    (run,) = digits_plan(ws, ["digits_mlp.onnx"], latency=None).runs
    _store_fake(ws, run.run_id, latency_skewed=True)  # nonsense for a no-latency run, and harmless
    assert digits_plan(ws, ["digits_mlp.onnx"], latency=None).runs[0].cached


# ----------------------------------------------- the worker re-measures it
@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("skewed-cache") / "ws")
    p = digits_plan(ws, ["digits_mlp.onnx"])
    run_job(ws, p)
    return ws, p.runs[0].run_id


def test_each_run_records_skew_and_load(measured):
    ws, run_id = measured
    store = ResultStore(ws)
    s = store.summary(run_id)
    for field in SUMMARY_FIELDS:
        assert field in s, field
    assert isinstance(s["latency_skewed"], bool) and s["latency_noisy"] == s["latency_skewed"]
    assert (s["latency_skew_reason"] is None) == (not s["latency_skewed"])
    assert s["load_1m_before"] >= 0 and s["load_1m_after"] >= 0
    assert s["latency_cpu_per_wall"] > 0
    assert s["other_jobs_active"] == 0  # this job itself is left out
    assert s["other_jobs_queued"] >= 0
    lat = store.table(run_id, "latency")
    for column in LATENCY_COLUMNS:
        assert column in lat.columns, column
    assert lat["batch_size"].tolist() == [1, 8]
    assert s["latency_skewed"] == bool(lat["skewed"].any())
    assert (lat["noisy"] == lat["skewed"]).all()
    assert lat["block_ratio"].ge(1.0).all() and lat["cpu_per_wall"].gt(0).all()
    assert s["load_1m_before"] == lat["load_1m_before"].iloc[0]
    assert s["load_1m_after"] == lat["load_1m_after"].iloc[-1]
    if s["latency_skewed"]:
        assert s["latency_skew_reason"].startswith("batch ")


def test_a_stored_skewed_run_is_measured_again_and_replaced(measured):
    ws, run_id = measured
    store = ResultStore(ws)
    before = store.summary(run_id)
    tables = {name: store.table(run_id, name) for name in ("folds", "predictions", "latency", "latency_samples")}
    marked = before | {"latency_skewed": True, "latency_skew_reason": "batch 1: planted for the test",
                       "created_at": "2000-01-01T00:00:00+00:00"}
    store.save(RunRecord(run_id, marked, tables), replace=True)
    p = digits_plan(ws, ["digits_mlp.onnx"])
    assert [r.cached for r in p.runs] == [False]
    run_job(ws, p)
    after = store.summary(run_id)
    assert after["created_at"] != "2000-01-01T00:00:00+00:00"  # a new measurement took its place
    assert after["latency_skew_reason"] != "batch 1: planted for the test"
    assert pd.Timestamp(after["created_at"]) > pd.Timestamp(before["created_at"])
