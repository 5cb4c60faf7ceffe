"""Planning validates from a dataset's description alone and says what it leaves out."""

from __future__ import annotations

import pandas as pd
import pytest
from frontier_support import run_cli, sample

from engine import benchmark, datasets, models
from engine.errors import FrontierError, render
from engine.measure.latency import LatencySettings
from engine.results import ResultStore
from engine.workspace import Workspace


def test_a_stored_description_plans_like_the_loaded_data(tmp_path):
    """Oracle: the plan from the registered dataset's stored info equals the plan from the data."""
    ws = Workspace.open(tmp_path / "ws")
    ds = datasets.register(ws, datasets.builtin("digits"))
    info = models.register_file(ws, sample("digits_mlp.onnx"))
    config = benchmark.BenchmarkConfig(latency=None)
    live = benchmark.plan(ws, [info], ds, config)
    stored = benchmark.plan(ws, [info], datasets.info(ws, ds.id), config)
    assert live.checked == stored.checked
    assert [r.run_id for r in live.runs] == [r.run_id for r in stored.runs]
    assert live.to_request() == stored.to_request()


def test_batch_sizes_larger_than_the_dataset_are_named(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    ds = datasets.builtin("iris")
    info = models.register_file(ws, sample("digits_mlp.onnx"))
    p = benchmark.plan(ws, [info], datasets.builtin("digits"),
                       benchmark.BenchmarkConfig(latency=LatencySettings(batch_sizes=(1, 4096, 8192))))
    assert len(p.notes) == 1 and "4096, 8192" in p.notes[0] and "1,797 rows" in p.notes[0]
    assert "--batch-sizes" in render(p.notes[0]) and "'Batch sizes'" in render(p.notes[0], ui=True)
    assert benchmark.plan(ws, [info], datasets.builtin("digits"), benchmark.BenchmarkConfig()).notes == []
    assert ds.n_rows == 150


def test_the_cli_says_which_batch_sizes_it_skips(tmp_path):
    r = run_cli("benchmark", "--model", sample("digits_mlp.onnx"), "--data", "digits", "--workspace",
                tmp_path / "ws", "--json", "--batch-sizes", "1,5000", "--latency-time", "0.01", "--latency-count",
                "3", "--threads", "1")
    assert r.returncode == 0, str(r)
    notes = [line for line in r.stderr_lines if line.startswith("note:")]
    assert len(notes) == 1 and "5000" in notes[0]
    (run,) = r.json["runs"]
    latency = ResultStore(Workspace(tmp_path / "ws")).table(run["run_id"], "latency")
    assert latency["batch_size"].tolist() == [1]
    assert isinstance(latency, pd.DataFrame)


def test_a_cached_request_for_a_registered_dataset_reads_no_data(tmp_path):
    args = ["benchmark", "--model", sample("digits_mlp.onnx"), "--data", "digits", "--workspace", tmp_path / "ws",
            "--json", "--no-latency", "--threads", "1"]
    assert run_cli(*args).returncode == 0
    code = ("import sys, runpy\n"
            f"sys.argv = ['engine', *{[str(a) for a in args]!r}]\n"
            "try:\n    runpy.run_module('engine', run_name='__main__')\nexcept SystemExit as e:\n    assert not e.code\n"
            "print(sorted(m for m in ('sklearn', 'torch', 'onnxruntime', 'skops') if m in sys.modules), "
            "file=sys.stderr)\n")
    import subprocess
    import sys

    from frontier_support import REPO_ROOT

    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert '"cached": true' in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == "[]"  # no heavy library imported to answer it


@pytest.mark.parametrize(("dataset", "as_is", "expected"), [
    ("digits", True, True),            # a sample scored as-is on rows it was trained on
    ("digits_holdout", True, False),   # ... on rows it never saw
    ("digits", False, False),          # refit per fold: always scored on held-out folds
])
def test_runs_record_whether_they_scored_rows_the_model_was_trained_on(tmp_path, dataset, as_is, expected):
    args = ["benchmark", "--model", sample("digits_logreg.skops"), "--data", dataset, "--workspace", tmp_path / "ws",
            "--json", "--no-latency", "--threads", "1", "--cv", "3"]
    r = run_cli(*args, *(["--as-is"] if as_is else []))
    assert r.returncode == 0, str(r)
    (run,) = r.json["runs"]
    assert run["rows_seen"] is expected


def test_replan_runs_the_same_benchmark_again_under_the_same_run_ids(tmp_path):
    r = run_cli("benchmark", "--model", sample("digits_mlp.onnx"), "--model", sample("digits_logreg.onnx"),
                "--data", "digits", "--workspace", tmp_path / "ws", "--json", "--batch-sizes", "1",
                "--latency-time", "0.01", "--latency-count", "3", "--threads", "1")
    assert r.returncode == 0, str(r)
    ids = [run["run_id"] for run in r.json["runs"]]
    ws = Workspace(tmp_path / "ws")
    again = benchmark.replan(ws, ids)
    assert [p.run_id for p in again.runs] == ids and [p.run_id for p in again.pending] == ids  # all re-run
    assert [p.name for p in again.runs] == [run["model"] for run in r.json["runs"]]
    other = run_cli("benchmark", "--model", sample("digits_mlp.onnx"), "--data", "digits", "--workspace",
                    tmp_path / "ws", "--json", "--no-latency", "--threads", "1")
    with pytest.raises(FrontierError, match="different benchmarks"):
        benchmark.replan(ws, [ids[0], other.json["runs"][0]["run_id"]])
