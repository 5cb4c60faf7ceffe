"""Thread defaults and wait policies: what the worker is started with, and what each run records."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import pytest
from measure_support import digits_plan, run_job

from engine import benchmark, datasets, jobs, models, settings
from engine.errors import FrontierError
from engine.jobs import processes
from engine.jobs import status_store as status
from engine.measure import environment
from engine.results import ResultStore
from engine.workspace import Workspace


@pytest.fixture(autouse=True)
def _no_frontier_settings(monkeypatch):
    for name in ("FRONTIER_THREADS", "FRONTIER_OMP_WAIT_POLICY", "FRONTIER_ORT_SPINNING"):
        monkeypatch.delenv(name, raising=False)


# ------------------------------------------------------------------ settings
@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (2, 1), (4, 1), (8, 4), (16, 8)])
def test_default_threads_is_one_on_small_machines(monkeypatch, cores, expected):
    monkeypatch.setattr(settings.os, "cpu_count", lambda: cores)
    assert settings.default_threads() == expected


def test_frontier_threads_sets_the_default_and_bad_values_are_one_line(monkeypatch):
    monkeypatch.setenv("FRONTIER_THREADS", "3")
    assert settings.default_threads() == 3
    assert benchmark.BenchmarkConfig().n_threads == 3
    for bad in ("0", "two", "1.5", "-1"):
        monkeypatch.setenv("FRONTIER_THREADS", bad)
        with pytest.raises(FrontierError) as err:
            settings.default_threads()
        assert "FRONTIER_THREADS" in str(err.value) and "\n" not in str(err.value)


def test_wait_policy_and_ort_spinning_settings(monkeypatch):
    assert settings.omp_wait_policy() == "PASSIVE" and settings.ort_spinning() is False
    monkeypatch.setenv("FRONTIER_OMP_WAIT_POLICY", "active")
    monkeypatch.setenv("FRONTIER_ORT_SPINNING", "1")
    assert settings.omp_wait_policy() == "ACTIVE" and settings.ort_spinning() is True
    monkeypatch.setenv("FRONTIER_OMP_WAIT_POLICY", "default")
    assert settings.omp_wait_policy() is None
    monkeypatch.setenv("FRONTIER_OMP_WAIT_POLICY", "sometimes")
    with pytest.raises(FrontierError, match="FRONTIER_OMP_WAIT_POLICY"):
        settings.omp_wait_policy()
    monkeypatch.setenv("FRONTIER_ORT_SPINNING", "yes")
    with pytest.raises(FrontierError, match="FRONTIER_ORT_SPINNING"):
        settings.ort_spinning()


def test_config_default_is_the_setting_and_threads_stays_the_users_override():
    assert benchmark.BenchmarkConfig().n_threads == settings.default_threads()
    assert benchmark.BenchmarkConfig().to_dict()["threads"] == settings.default_threads()
    assert benchmark.BenchmarkConfig(threads=2).n_threads == 2


# --------------------------------------------------------- the worker's env
def test_worker_env_fixes_threads_and_wait_policies(monkeypatch):
    env = processes.worker_env(threads=None)
    n = str(settings.default_threads())
    assert (env["OMP_NUM_THREADS"], env["OPENBLAS_NUM_THREADS"], env["MKL_NUM_THREADS"]) == (n, n, n)
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and env["FRONTIER_ORT_SPINNING"] == "0"
    assert processes.worker_env(threads=3)["OMP_NUM_THREADS"] == "3"
    monkeypatch.setenv("FRONTIER_OMP_WAIT_POLICY", "ACTIVE")
    assert processes.worker_env(threads=1)["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # a stray variable in the server's env does not leak
    monkeypatch.delenv("FRONTIER_OMP_WAIT_POLICY")
    assert processes.worker_env(threads=1)["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("FRONTIER_OMP_WAIT_POLICY", "DEFAULT")  # the runtime's own policy: nothing set
    assert "OMP_WAIT_POLICY" not in processes.worker_env(threads=1)


class _SleepOnLoad:
    def __reduce__(self):
        return (time.sleep, (120,))


def test_a_live_worker_was_started_with_the_thread_environment(tmp_path):
    """Read /proc/<worker>/environ of a job whose model takes long to load, then cancel it."""
    if not Path("/proc/self/environ").exists():
        pytest.skip("no /proc here")
    ws = Workspace.open(tmp_path / "ws")
    model = tmp_path / "sleep.pkl"
    model.write_bytes(pickle.dumps(_SleepOnLoad()))
    ds = datasets.register(ws, datasets.builtin("iris"))
    info = models.register_file(ws, model, trusted=True)
    p = benchmark.plan(ws, [info], ds, benchmark.BenchmarkConfig(latency=None, cv=2, as_is=True))
    job = jobs.submit(ws, p.to_request())
    try:
        deadline = time.monotonic() + 120
        environ = None
        while time.monotonic() < deadline and environ is None:
            pid = (status.read(ws.job_dir(job)).get("worker") or {}).get("pid")
            if pid:
                raw = Path(f"/proc/{pid}/environ").read_bytes()
                environ = dict(kv.split("=", 1) for kv in raw.decode().split("\0") if "=" in kv)
            else:
                time.sleep(0.05)
        assert environ is not None, "the worker never started"
        n = str(settings.default_threads())
        assert environ["OMP_NUM_THREADS"] == n and environ["OPENBLAS_NUM_THREADS"] == n
        assert environ["OMP_WAIT_POLICY"] == "PASSIVE" and environ["FRONTIER_ORT_SPINNING"] == "0"
    finally:
        jobs.cancel(ws, job)
        jobs.wait(ws, job, timeout_s=60)


# ----------------------------------------------------- what each run records
@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The ONNX and TorchScript MLPs with default threads, then with --threads 2, via real workers."""
    for name in ("FRONTIER_THREADS", "FRONTIER_OMP_WAIT_POLICY", "FRONTIER_ORT_SPINNING"):
        os.environ.pop(name, None)
    ws = Workspace.open(tmp_path_factory.mktemp("threads") / "ws")
    files = ["digits_mlp.onnx", "digits_mlp.pt"]
    out = {}
    for threads in (None, 2):
        p = digits_plan(ws, files, threads=threads)
        run_job(ws, p)
        store = ResultStore(ws)
        out[threads] = {r.artifact.format: store.summary(r.run_id) for r in p.runs}
    return out


def test_default_runs_record_one_thread_and_passive_waiting(recorded):
    n = settings.default_threads()
    for fmt, s in recorded[None].items():
        env = s["environment"]
        assert s["threads"] == env["threads"] == n, fmt
        assert env["omp_num_threads"] == str(n) and env["omp_wait_policy"] == "PASSIVE", fmt
    onnx, torch = recorded[None]["onnx"]["environment"], recorded[None]["torchscript"]["environment"]
    assert onnx["ort_spinning"] is False and onnx["ort_intra_op_threads"] == n
    assert torch["torch_threads"] == n and torch["ort_spinning"] is None


def test_threads_override_reaches_every_pool(recorded):
    onnx, torch = recorded[2]["onnx"]["environment"], recorded[2]["torchscript"]["environment"]
    assert onnx["threads"] == 2 and onnx["omp_num_threads"] == "2" and onnx["ort_intra_op_threads"] == 2
    assert torch["torch_threads"] == 2 and torch["omp_wait_policy"] == "PASSIVE"


def test_runs_with_different_wait_policies_are_named_as_different():
    a = environment.record(threads=1, backend="torch", device="cpu", provider=None, precision="fp32")
    b = a | {"omp_wait_policy": "ACTIVE"}
    assert "omp_wait_policy" in environment.differences([a, b])
