"""The result store: cache hits, new runs for new settings, safe deletes, atomic writes."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pandas as pd
import pytest
from frontier_support import DIGITS_ONNX_NAME, FAST_BENCH, copy_workspace, run_cli, sample, snapshot

from engine import benchmark, datasets, models
from engine.benchmark.execute import execute
from engine.errors import FrontierError
from engine.measure.latency import LatencySettings
from engine.results import ResultStore, RunRecord, run_key
from engine.workspace import Workspace, staged_dir

# The configuration FAST_BENCH gives on the command line, built through the API.
CLI_CONFIG = benchmark.BenchmarkConfig(
    latency=LatencySettings(batch_sizes=(1, 8), min_time_s=0.01, min_count=3), threads=1)


def _with_workspace(args: tuple[str, ...], ws) -> list[str]:
    i = args.index("--workspace")
    return [*args[:i + 1], str(ws), *args[i + 2:]]


def _under(snap: dict, prefix: str) -> dict:
    return {k: v for k, v in snap.items() if k.startswith(prefix)}


# ------------------------------------------------------------- CLI cache
def test_identical_request_is_served_from_the_store(digits_comparison, tmp_path):
    ws = copy_workspace(digits_comparison.workspace, tmp_path / "ws")
    before = snapshot(ws)
    again = run_cli(*_with_workspace(digits_comparison.result.args, ws))
    assert again.returncode == 0, str(again)
    runs = again.json["runs"]
    assert [r["cached"] for r in runs] == [True] * len(digits_comparison.runs)
    assert [r["cached"] for r in digits_comparison.runs] == [False] * len(runs)
    for first, second in zip(digits_comparison.runs, runs, strict=True):
        assert {k: v for k, v in second.items() if k != "cached"} == \
               {k: v for k, v in first.items() if k != "cached"}
    after = snapshot(ws)
    assert _under(after, "results") == _under(before, "results"), "a cached request must not rewrite results"
    assert _under(after, "jobs") == _under(before, "jobs"), "a cached request must not start a job"


def test_no_cache_recomputes_the_run(digits_comparison, tmp_path):
    ws = copy_workspace(digits_comparison.workspace, tmp_path / "ws")
    first = digits_comparison.run_for("digits_mlp.onnx")
    before = snapshot(ws)
    r = run_cli("benchmark", "--model", sample("digits_mlp.onnx"), "--name", DIGITS_ONNX_NAME, "--data", "digits",
                "--workspace", ws, "--json", "--no-cache", *FAST_BENCH)
    assert r.returncode == 0, str(r)
    (run,) = r.json["runs"]
    assert run["run_id"] == first["run_id"]
    assert run["cached"] is False
    assert pd.Timestamp(run["created_at"]) > pd.Timestamp(first["created_at"])
    for metric in ("accuracy_mean", "f1_macro_mean", "roc_auc_mean", "log_loss_mean"):
        assert run[metric] == pytest.approx(first[metric], rel=1e-12)
    after = snapshot(ws)
    assert len(_under(after, "jobs")) > len(_under(before, "jobs")), "--no-cache must start a job"
    assert _under(after, f"results/{first['run_id']}/summary") != _under(before, f"results/{first['run_id']}/summary")
    for other in digits_comparison.runs:
        if other["run_id"] != first["run_id"]:
            prefix = f"results/{other['run_id']}"
            assert _under(after, prefix) == _under(before, prefix), f"{other['model']} was touched"
    assert not [k for k in after if k.startswith("results/.")], "staging folders left behind"


# ------------------------------------------------------- keys and plans
def test_plan_matches_the_cli_run_and_new_settings_make_new_runs(digits_comparison, tmp_path):
    ws = Workspace(digits_comparison.workspace)  # read-only use: plan() writes nothing
    before = snapshot(ws.root)
    ds = datasets.builtin("digits")
    info = models.info_from_bytes(sample("digits_mlp.onnx").read_bytes(), "digits_mlp.onnx")
    same = benchmark.plan(ws, [info], ds, CLI_CONFIG).runs[0]
    assert same.run_id == digits_comparison.run_for("digits_mlp.onnx")["run_id"]
    assert same.cached
    # naming the default target is the same request as leaving it out (the UI names it, the CLI may not)
    named = benchmark.plan(ws, [info], ds, benchmark.BenchmarkConfig(**(vars(CLI_CONFIG) | {"target": "target"})))
    assert named.runs[0].run_id == same.run_id and named.runs[0].cached

    ids = {same.run_id}
    for change in ({"seed": 1}, {"cv": 3}, {"latency": None},
                   {"latency": LatencySettings(batch_sizes=(1,), min_time_s=0.01, min_count=3)}, {"threads": 2}):
        other = benchmark.plan(ws, [info], ds, benchmark.BenchmarkConfig(**(vars(CLI_CONFIG) | change))).runs[0]
        assert not other.cached, change
        ids.add(other.run_id)
    assert len(ids) == 6
    assert snapshot(ws.root) == before


def test_a_new_seed_is_stored_beside_the_old_run(digits_comparison, tmp_path):
    ws = Workspace.open(copy_workspace(digits_comparison.workspace, tmp_path / "ws"))
    before = snapshot(ws.root)
    info = models.get(ws, digits_comparison.run_for("digits_mlp.onnx")["artifact_id"])
    ds = datasets.builtin("digits")
    p = benchmark.plan(ws, [info], ds, benchmark.BenchmarkConfig(seed=1, latency=None, threads=1))
    assert [r.cached for r in p.runs] == [False]
    assert execute(ws, p.to_request()) == [p.runs[0].run_id]
    store = ResultStore(ws)
    assert store.has(p.runs[0].run_id)
    assert len(store.runs()) == len(digits_comparison.runs) + 1
    after = snapshot(ws.root)
    for run in digits_comparison.runs:
        prefix = f"results/{run['run_id']}"
        assert _under(after, prefix) == _under(before, prefix)
    old = store.table(digits_comparison.run_for("digits_mlp.onnx")["run_id"], "predictions").sort_values("row")
    new = store.table(p.runs[0].run_id, "predictions").sort_values("row")
    assert not np.array_equal(old["fold"].to_numpy(), new["fold"].to_numpy()), "seed 1 must reshuffle the folds"
    assert store.summary(p.runs[0].run_id)["seed"] == 1


def test_run_key_is_stable_and_sensitive():
    base = {"artifact": "a" * 16, "dataset": "b" * 16, "config": {"cv": 5, "seed": 0}, "engine": "0.1.0"}
    key = run_key(**base)
    assert len(key) == 16 and int(key, 16) >= 0
    assert run_key(**dict(reversed(base.items()))) == key
    assert run_key(**(base | {"config": {"seed": 0, "cv": 5}})) == key
    for change in ({"artifact": "c" * 16}, {"config": {"cv": 5, "seed": 1}}, {"engine": "0.2.0"}):
        assert run_key(**(base | change)) != key


# ---------------------------------------------------------------- delete
def test_deleting_one_run_leaves_the_others_intact(digits_comparison, tmp_path):
    ws = Workspace.open(copy_workspace(digits_comparison.workspace, tmp_path / "ws"))
    store = ResultStore(ws)
    victim = digits_comparison.run_for("digits_logreg.skops")["run_id"]
    before = snapshot(ws.root)
    store.delete(victim)
    after = snapshot(ws.root)
    assert not store.has(victim) and not (ws.results / victim).exists()
    assert {k: v for k, v in before.items() if not k.startswith(f"results/{victim}") and k != "results"} == \
           {k: v for k, v in after.items() if k != "results"}
    assert sorted(store.runs()["run_id"]) == sorted(r["run_id"] for r in digits_comparison.runs if r["run_id"] != victim)
    for run in digits_comparison.runs:
        if run["run_id"] != victim:
            assert store.summary(run["run_id"])["accuracy_mean"] == pytest.approx(run["accuracy_mean"])
    with pytest.raises(FrontierError, match="no run"):
        store.delete(victim)


@pytest.mark.parametrize("bad", ["../../etc", "..", "results", "ABCDEF0123456789", "0123456789abcdef/.."])
def test_run_ids_cannot_escape_the_results_folder(tmp_path, bad):
    store = ResultStore(Workspace.open(tmp_path / "ws"))
    with pytest.raises(FrontierError):
        store.delete(bad)
    with pytest.raises(FrontierError):
        store.summary(bad)


# ------------------------------------------------------ atomic writes
def _record(run_id: str, **summary) -> RunRecord:
    return RunRecord(run_id, {"run_id": run_id, "created_at": pd.Timestamp.now(tz="UTC").isoformat(),
                              "config": {"cv": 5, "drop": ["a"]}, "classes": ["x", "y"],
                              "roc_auc_mean": float("nan"), **summary},
                     {"folds": pd.DataFrame({"fold": [0, 1], "accuracy": [0.5, 0.75]}),
                      "predictions": pd.DataFrame({"row": [0, 1, 2], "fold": [0, 1, 0]})})


def test_staged_dir_crash_leaves_no_final_and_no_stage(tmp_path):
    final = tmp_path / "results" / "0123456789abcdef"
    with pytest.raises(RuntimeError, match="boom"), staged_dir(final) as stage:
        (stage / "summary.parquet").write_bytes(b"half a table")
        raise RuntimeError("boom")
    assert not final.exists()
    assert list((tmp_path / "results").iterdir()) == []


def test_staged_dir_success_appears_whole(tmp_path):
    final = tmp_path / "out"
    with staged_dir(final) as stage:
        (stage / "a").write_text("1")
        assert not final.exists(), "the final folder must not appear before the block ends"
    assert (final / "a").read_text() == "1"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def _fail_on_nth_parquet(monkeypatch, n: int) -> None:
    real = pd.DataFrame.to_parquet
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise OSError("disk full (simulated)")
        return real(self, *args, **kwargs)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", flaky)


def test_crash_while_saving_a_run_leaves_no_table(tmp_path, monkeypatch):
    ws = Workspace.open(tmp_path / "ws")
    store = ResultStore(ws)
    store.save(_record("aaaaaaaaaaaaaaaa"))
    before = snapshot(ws.root)
    _fail_on_nth_parquet(monkeypatch, 2)  # the first table is written, then the "disk" fails
    with pytest.raises(OSError, match="simulated"):
        store.save(_record("bbbbbbbbbbbbbbbb"))
    monkeypatch.undo()
    assert not store.has("bbbbbbbbbbbbbbbb")
    assert sorted(p.name for p in ws.results.iterdir()) == ["aaaaaaaaaaaaaaaa"]
    assert _under(snapshot(ws.root), "results/aaaa") == _under(before, "results/aaaa")
    assert list(store.runs()["run_id"]) == ["aaaaaaaaaaaaaaaa"]


def test_crash_while_replacing_a_run_keeps_the_old_one(tmp_path, monkeypatch):
    ws = Workspace.open(tmp_path / "ws")
    store = ResultStore(ws)
    store.save(_record("aaaaaaaaaaaaaaaa", accuracy_mean=0.5))
    before = snapshot(ws.root)
    _fail_on_nth_parquet(monkeypatch, 3)
    with pytest.raises(OSError, match="simulated"):
        store.save(_record("aaaaaaaaaaaaaaaa", accuracy_mean=0.9), replace=True)
    monkeypatch.undo()
    unchanged = {k: v for k, v in before.items() if k != "results"}  # (the folder's own mtime moves)
    assert {k: v for k, v in snapshot(ws.root).items() if k != "results"} == unchanged
    assert store.summary("aaaaaaaaaaaaaaaa")["accuracy_mean"] == 0.5
    store.save(_record("aaaaaaaaaaaaaaaa", accuracy_mean=0.9), replace=True)
    assert store.summary("aaaaaaaaaaaaaaaa")["accuracy_mean"] == 0.9
    assert sorted(p.name for p in ws.results.iterdir()) == ["aaaaaaaaaaaaaaaa"]


def test_save_without_replace_keeps_the_first_result(tmp_path):
    store = ResultStore(Workspace.open(tmp_path / "ws"))
    store.save(_record("aaaaaaaaaaaaaaaa", accuracy_mean=0.5))
    store.save(_record("aaaaaaaaaaaaaaaa", accuracy_mean=0.9))
    assert store.summary("aaaaaaaaaaaaaaaa")["accuracy_mean"] == 0.5


def test_summary_and_tables_round_trip(tmp_path):
    store = ResultStore(Workspace.open(tmp_path / "ws"))
    rec = _record("abcdefabcdefabcd", accuracy_mean=0.8125, n_rows=3)
    store.save(rec)
    s = store.summary("abcdefabcdefabcd")
    assert s["config"] == {"cv": 5, "drop": ["a"]}
    assert s["classes"] == ["x", "y"]
    assert s["roc_auc_mean"] is None  # NaN reads back as "undefined"
    assert s["accuracy_mean"] == 0.8125 and s["n_rows"] == 3 and isinstance(s["n_rows"], int)
    for name, frame in rec.tables.items():
        pd.testing.assert_frame_equal(store.table("abcdefabcdefabcd", name), frame)
    assert store.table("abcdefabcdefabcd", "latency").empty
    with pytest.raises(ValueError):
        store.table("abcdefabcdefabcd", "../summary")
    assert math.isnan(pd.read_parquet(store.path("abcdefabcdefabcd") / "summary.parquet")["roc_auc_mean"][0])


def test_runs_are_listed_newest_first(tmp_path):
    store = ResultStore(Workspace.open(tmp_path / "ws"))
    for rid in ("1111111111111111", "2222222222222222", "3333333333333333"):
        store.save(_record(rid))
        time.sleep(0.002)
    assert list(store.runs()["run_id"]) == ["3333333333333333", "2222222222222222", "1111111111111111"]


def test_sweep_removes_only_stale_staging_folders(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    store = ResultStore(ws)
    store.save(_record("aaaaaaaaaaaaaaaa"))
    old = [ws.results / ".stage-x-1", ws.results / ".new-y-2", ws.results / ".old-z-3"]
    fresh = ws.results / ".stage-w-4"
    for d in [*old, fresh]:
        d.mkdir()
    hour_ago = time.time() - 2 * 3600
    for d in old:
        os.utime(d, (hour_ago, hour_ago))
    store.sweep_stale()
    assert sorted(p.name for p in ws.results.iterdir()) == [".stage-w-4", "aaaaaaaaaaaaaaaa"]
    assert store.has("aaaaaaaaaaaaaaaa")


# ------------------------------------------------ content-addressed registry
def test_registering_the_same_model_twice_is_one_artifact(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    a = models.register_file(ws, sample("digits_mlp.onnx"))
    b = models.register_bytes(ws, sample("digits_mlp.onnx").read_bytes(), "renamed.onnx")
    assert a.id == b.id
    assert [p.name for p in ws.artifacts.iterdir()] == [a.id]
    assert a.trusted is False
    c = models.register_file(ws, sample("digits_mlp.onnx"), trusted=True)
    assert c.trusted and models.get(ws, a.id).trusted  # trust only upgrades
    models.register_file(ws, sample("digits_mlp.onnx"), trusted=False)
    assert models.get(ws, a.id).trusted
