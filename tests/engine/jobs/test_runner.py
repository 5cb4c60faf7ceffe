"""Jobs run in a worker with time and memory limits; a hostile model fails only its own run.

The hostile models are built here: TorchScript modules whose ``forward`` never
returns or allocates without bound, and a pickle that kills the process that
loads it. They are trusted (``--trust``), so the limits are the only defence.
"""

from __future__ import annotations

import os
import pickle
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from frontier_support import run_cli, sample

from engine import benchmark, datasets, jobs, models
from engine.measure.latency import LatencySettings
from engine.workspace import Workspace


def _script_models(folder: Path) -> dict[str, Path]:
    import torch

    class Hang(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = x.sum()
            while bool(y > -1.0):  # never false: y only grows
                y = y + 1.0
            return x[:, :10]

    class Hog(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            chunks: list[torch.Tensor] = []
            for _ in range(100000):  # 50 MB each, all kept alive
                chunks.append(torch.rand(12_500_000))
            total = torch.zeros(1)
            for c in chunks:
                total = total + c[0]
            return x[:, :10] * total

    paths = {}
    for name, module in (("hang", Hang()), ("hog", Hog())):
        paths[name] = folder / f"{name}.pt"
        torch.jit.save(torch.jit.script(module), str(paths[name]))
    return paths


class _AbortOnLoad:
    def __reduce__(self):
        return (os.abort, ())


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    paths = _script_models(folder)
    paths["abort"] = folder / "abort.pkl"
    paths["abort"].write_bytes(pickle.dumps(_AbortOnLoad()))
    return paths


def _run_ids(ws: Path) -> list[str]:
    results = ws / "results"
    return sorted(p.name for p in results.iterdir()) if results.exists() else []


def _leftover_workers(ws: Path) -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if ("engine.jobs.worker" in cmd or "engine.jobs.supervisor" in cmd) and str(ws) in cmd:
            out.append(proc)
    return [p for p in out if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


# ------------------------------------------------------------ CLI limits
@pytest.fixture(scope="module")
def limited_runs(hostile, tmp_path_factory):
    """The hanging and the memory-hungry model run through the CLI, side by side."""
    root = tmp_path_factory.mktemp("limits")

    def go(name: str, env: dict[str, str]):
        ws = root / name
        t0 = time.monotonic()
        r = run_cli("benchmark", "--model", hostile[name], "--trust", "--data", "digits", "--workspace", ws,
                    "--json", "--no-latency", "--threads", "1", env=env, timeout=170)
        return r, time.monotonic() - t0, ws

    with ThreadPoolExecutor(2) as pool:
        hang = pool.submit(go, "hang", {"FRONTIER_WORKER_TIMEOUT_S": "5"})
        hog = pool.submit(go, "hog", {"FRONTIER_WORKER_MEMORY_MB": "800"})
        return {"hang": hang.result(), "hog": hog.result()}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "message"), [
    ("hang", r"took longer than 5 s and was stopped"),
    ("hog", r"memory"),
])
def test_hostile_model_fails_its_own_run_cleanly(limited_runs, name, message):
    r, elapsed, ws = limited_runs[name]
    assert r.returncode == 1, str(r)
    assert r.stdout == "" and "Traceback" not in r.stderr, str(r)
    assert len(r.stderr_lines) == 1 and re.search(message, r.stderr_lines[0]), str(r)
    assert elapsed < 60, f"{name} took {elapsed:.0f} s to be stopped"
    assert _run_ids(ws) == [], "a failed run must not be stored"
    assert _leftover_workers(ws) == []


# ------------------------------------------------------- detached jobs
@pytest.fixture(scope="module")
def job_ws(hostile, tmp_path_factory) -> tuple[Workspace, dict[str, benchmark.Plan]]:
    """A workspace with digits and three models, and a plan for each (fast latency)."""
    ws = Workspace.open(tmp_path_factory.mktemp("jobs") / "ws")
    ds = datasets.register(ws, datasets.builtin("digits"))
    plans = {}
    for name, path in (("mlp", sample("digits_mlp.onnx")), ("hang", hostile["hang"]), ("abort", hostile["abort"])):
        info = models.register_file(ws, path, trusted=True)
        latency = LatencySettings(batch_sizes=(1, 8, 32), min_time_s=0.4, min_count=3) if name == "mlp" else None
        config = benchmark.BenchmarkConfig(latency=latency, threads=1, as_is=True)
        plans[name] = benchmark.plan(ws, [info], ds, config)
    return ws, plans


def _wait_for(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _status_file(ws: Workspace, job_id: str) -> dict:
    import json

    return json.loads((ws.jobs / job_id / "status.json").read_text())


def test_cancel_stops_the_worker(job_ws):
    ws, plans = job_ws
    job_id = jobs.submit(ws, plans["hang"].to_request(), limits=jobs.Limits(memory_mb=4096, time_s=120))
    supervisor = psutil.Process(_wait_for(lambda: _status_file(ws, job_id).get("supervisor_pid"),
                                          what="the supervisor pid"))

    def worker():
        kids = [k for k in supervisor.children() if "engine.jobs.worker" in " ".join(k.cmdline())]
        return kids[0] if kids else None
    proc = _wait_for(worker, what="the worker process")
    _wait_for(lambda: (ws.jobs / job_id / "progress.json").exists(), what="the worker to start the model")
    assert jobs.status(ws, job_id).state == "running"

    jobs.cancel(ws, job_id)
    st = jobs.wait(ws, job_id, timeout_s=30)
    assert st.state == "cancelled"
    assert st.error is None
    _wait_for(lambda: not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE, 10, "the worker to exit")
    _wait_for(lambda: not supervisor.is_running() or supervisor.status() == psutil.STATUS_ZOMBIE, 10,
              "the supervisor to exit")
    assert not ws.results.joinpath(plans["hang"].runs[0].run_id).exists()
    assert jobs.status(ws, job_id).state == "cancelled"  # stays cancelled after the supervisor left


def test_status_reports_progress_of_a_running_job(job_ws):
    ws, plans = job_ws
    run_id = plans["mlp"].runs[0].run_id
    job_id = jobs.submit(ws, plans["mlp"].to_request(), title="mlp on digits")
    seen = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        st = jobs.status(ws, job_id)
        seen.append(st)
        if not st.active:
            break
        time.sleep(0.02)
    final = seen[-1]
    assert final.state == "done", final
    assert final.fraction == 1.0
    assert final.result == {"run_ids": [run_id]}
    assert (ws.results / run_id / "summary.parquet").is_file()

    running = [s for s in seen if s.state == "running" and 0 < s.fraction < 1]
    assert running, f"never saw partial progress: {[(s.state, s.fraction) for s in seen][:20]}"
    assert all(s.message for s in running)
    assert any("latency" in s.message for s in running)
    fractions = [s.fraction for s in seen if s.state == "running"]
    assert fractions == sorted(fractions), "progress went backwards"
    assert {j.job_id: j.title for j in jobs.list_jobs(ws)}[job_id] == "mlp on digits"
    assert job_id not in {j.job_id for j in jobs.list_jobs(ws, active_only=True)}


def test_supervisor_survives_a_crashing_worker(job_ws):
    ws, plans = job_ws
    job_id = jobs.submit(ws, plans["abort"].to_request())
    st = jobs.wait(ws, job_id, timeout_s=60)
    assert st.state == "failed"
    assert "crashed (SIGABRT)" in st.error
    assert "\n" not in st.error
    assert not ws.results.joinpath(plans["abort"].runs[0].run_id).exists()
    # the workspace keeps working: a new run right after completes and is stored
    again = benchmark.plan(ws, [plans["mlp"].runs[0].artifact], plans["mlp"].dataset,
                           benchmark.BenchmarkConfig(latency=None, threads=1, seed=3))
    assert again.pending
    ok = jobs.run(ws, again.to_request())
    assert ok.state == "done", ok
    assert (ws.results / again.runs[0].run_id / "summary.parquet").is_file()


def test_crashing_worker_through_the_cli(hostile, tmp_path):
    ws = tmp_path / "ws"
    r = run_cli("benchmark", "--model", hostile["abort"], "--trust", "--data", "iris", "--workspace", ws,
                "--json", "--no-latency")
    assert r.returncode == 1, str(r)
    assert r.stdout == "" and len(r.stderr_lines) == 1, str(r)
    assert "crashed (SIGABRT)" in r.stderr_lines[0]
    assert _run_ids(ws) == []
