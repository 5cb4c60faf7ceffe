"""Run jobs in a worker process with memory and time limits.

A job is a folder ``jobs/<id>/`` with ``request.json``. A *supervisor* starts
the worker (``python -m engine.jobs.runner work DIR``), polls its memory, elapsed
time and a cancel flag, and writes ``status.json``; the worker reports
``progress.json`` and leaves ``result.json`` or ``error.json``. The CLI
supervises in its own process (:func:`run`); the dashboard starts a detached
supervisor (:func:`submit`) so a job survives a browser refresh and a hostile
model never runs inside the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import FrontierError
from engine.workspace import Workspace, read_json, write_json_atomic

POLL_S = 0.05
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ACTIVE = ("queued", "running")
JOB_ID_RE = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")


@dataclass(frozen=True)
class Limits:
    """Per-job resource limits; defaults from ``FRONTIER_WORKER_MEMORY_MB`` / ``_TIMEOUT_S``."""

    memory_mb: int = field(default_factory=lambda: int(os.environ.get("FRONTIER_WORKER_MEMORY_MB", 4096)))
    time_s: float = field(default_factory=lambda: float(os.environ.get("FRONTIER_WORKER_TIMEOUT_S", 1800)))


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    state: str  # queued | running | done | failed | cancelled
    fraction: float = 0.0
    message: str = ""
    error: str | None = None
    result: Any = None
    kind: str = ""
    title: str = ""
    started_at: float | None = None
    updated_at: float | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


# ---------------------------------------------------------------- job files
def create_job(ws: Workspace, request: dict[str, Any], *, title: str = "") -> Path:
    job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    job_dir = ws.jobs / job_id
    job_dir.mkdir(parents=True)
    write_json_atomic(job_dir / "request.json", request)
    _write_status(job_dir, state="queued", kind=request.get("kind", ""), title=title,
                  started_at=time.time())
    return job_dir


def _write_status(job_dir: Path, **changes: Any) -> dict[str, Any]:
    path = job_dir / "status.json"
    current = read_json(path) if path.is_file() else {}
    current |= changes | {"updated_at": time.time()}
    write_json_atomic(path, current)
    return current


def _job_dir(ws: Workspace, job_id: str) -> Path:
    """The folder of an existing job; ids come from URLs, so nothing else is accepted."""
    job_dir = ws.jobs / job_id
    if not JOB_ID_RE.fullmatch(job_id) or not (job_dir / "status.json").is_file():
        raise FrontierError(f"no job with id '{job_id}'")
    return job_dir


def status(ws: Workspace, job_id: str) -> JobStatus:
    job_dir = _job_dir(ws, job_id)
    st = read_json(job_dir / "status.json")
    prog = _read_optional(job_dir / "progress.json") or {}
    if st["state"] in ACTIVE and not _alive(st.get("supervisor_pid")) and st.get("supervisor_pid"):
        st = _write_status(job_dir, state="failed", error="the job's supervisor stopped unexpectedly; run it again")
    fraction = 1.0 if st["state"] == "done" else prog.get("fraction", 0.0)
    return JobStatus(job_id, st["state"], fraction, prog.get("message", ""), st.get("error"),
                     st.get("result"), st.get("kind", ""), st.get("title", ""),
                     st.get("started_at"), st.get("updated_at"))


def request(ws: Workspace, job_id: str) -> dict[str, Any]:
    """The request a job was created with."""
    return read_json(_job_dir(ws, job_id) / "request.json")


def list_jobs(ws: Workspace, *, active_only: bool = False) -> list[JobStatus]:
    jobs = []
    for path in sorted(ws.jobs.glob("*/status.json"), reverse=True):
        with contextlib.suppress(FrontierError, json.JSONDecodeError, KeyError):
            st = status(ws, path.parent.name)
            if st.active or not active_only:
                jobs.append(st)
    return jobs


def cancel(ws: Workspace, job_id: str) -> None:
    job_dir = _job_dir(ws, job_id)
    (job_dir / "cancel").touch()
    st = read_json(job_dir / "status.json")
    if st["state"] in ACTIVE and not _alive(st.get("supervisor_pid")):
        _write_status(job_dir, state="cancelled")


def _read_optional(path: Path) -> Any:
    try:
        return read_json(path)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        import psutil

        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except Exception:
        return True


# --------------------------------------------------------------- supervisor
def supervise(job_dir: Path, limits: Limits | None = None,
              on_progress: Callable[[float, str], None] | None = None) -> JobStatus:
    """Run the job's worker to completion under ``limits``; blocks."""
    import psutil

    limits = limits or Limits()
    _write_status(job_dir, state="running", supervisor_pid=os.getpid(), limits=asdict(limits))
    log = open(job_dir / "worker.log", "ab")  # noqa: SIM115
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    env |= _thread_env(read_json(job_dir / "request.json").get("threads"))
    proc = subprocess.Popen([sys.executable, "-m", "engine.jobs.runner", "work", str(job_dir)],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True, preexec_fn=_limit_address_space(limits))
    start = time.monotonic()
    error = None
    state = "failed"
    last_msg = None
    ps = psutil.Process(proc.pid)
    try:
        while proc.poll() is None:
            time.sleep(POLL_S)
            if (job_dir / "cancel").exists():
                _kill(proc)
                state, error = "cancelled", None
                break
            if time.monotonic() - start > limits.time_s:
                _kill(proc)
                error = f"the run took longer than {limits.time_s:g} s and was stopped{_during(job_dir)}; a model may hang — check it, or raise FRONTIER_WORKER_TIMEOUT_S"
                break
            if _rss_mb(ps) > limits.memory_mb:
                _kill(proc)
                error = f"the run used more than {limits.memory_mb} MB of memory and was stopped{_during(job_dir)}; benchmark a smaller model or batch, or raise FRONTIER_WORKER_MEMORY_MB"
                break
            if on_progress:
                prog = _read_optional(job_dir / "progress.json")
                if prog and (prog["fraction"], prog["message"]) != last_msg:
                    last_msg = (prog["fraction"], prog["message"])
                    on_progress(*last_msg)
        else:
            result = _read_optional(job_dir / "result.json")
            worker_error = _read_optional(job_dir / "error.json")
            if proc.returncode == 0 and result is not None:
                state = "done"
            elif worker_error:
                error = worker_error["error"]
            else:
                error = _crash_message(proc.returncode, limits, job_dir)
    except BaseException:
        _kill(proc)
        _write_status(job_dir, state="cancelled", error="interrupted")
        raise
    finally:
        log.close()
    result = _read_optional(job_dir / "result.json") if state == "done" else None
    _write_status(job_dir, state=state, error=error, result=result, finished_at=time.time())
    return JobStatus(job_dir.name, state, 1.0 if state == "done" else 0.0, "", error, result)


def _during(job_dir: Path) -> str:
    """`` (at 'Model: step')`` from the worker's last progress report, so errors name the model."""
    prog = _read_optional(job_dir / "progress.json")
    return f" (at '{prog['message']}')" if prog and prog.get("message") else ""


def _thread_env(threads: int | None) -> dict[str, str]:
    """Thread-pool sizes fixed before the worker starts (set later, with several OpenMP
    runtimes loaded — torch's and scikit-learn's — they slow each other down badly)."""
    if not threads:
        return {}
    n = str(int(threads))
    return {"OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "MKL_NUM_THREADS": n}


def _crash_message(code: int | None, limits: Limits, job_dir: Path) -> str:
    if code is not None and code < 0:
        sig = signal.Signals(-code).name
        if sig == "SIGKILL":
            return f"the worker was killed (likely out of memory; limit {limits.memory_mb} MB){_during(job_dir)}; benchmark a smaller model or raise FRONTIER_WORKER_MEMORY_MB"
        return f"the worker crashed ({sig}){_during(job_dir)}; see {job_dir / 'worker.log'}"
    return f"the worker exited with code {code}{_during(job_dir)}; see {job_dir / 'worker.log'}"


def _rss_mb(ps) -> float:
    try:
        procs = [ps, *ps.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except Exception:
        return 0.0


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _limit_address_space(limits: Limits):
    """A pre-exec hook capping virtual memory well above the RSS limit: a backstop
    that turns one enormous allocation into a clean error instead of host swap."""
    def apply() -> None:
        import resource

        cap = (limits.memory_mb * 4 + 8192) * 2**20
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return apply


# ------------------------------------------------------------ entry points
def run(ws: Workspace, request: dict[str, Any], *, limits: Limits | None = None,
        on_progress: Callable[[float, str], None] | None = None, title: str = "") -> JobStatus:
    """Run a job in a worker and wait for it (the CLI's path)."""
    return supervise(create_job(ws, request, title=title), limits, on_progress)


def submit(ws: Workspace, request: dict[str, Any], *, limits: Limits | None = None, title: str = "") -> str:
    """Start a job under a detached supervisor and return its id (the dashboard's path)."""
    job_dir = create_job(ws, request, title=title)
    limits = limits or Limits()
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
                        "FRONTIER_WORKER_MEMORY_MB": str(limits.memory_mb),
                        "FRONTIER_WORKER_TIMEOUT_S": str(limits.time_s)}
    proc = subprocess.Popen([sys.executable, "-m", "engine.jobs.runner", "supervise", str(job_dir)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(job_dir / "supervisor.log", "ab"),  # noqa: SIM115
                            env=env, start_new_session=True)
    _write_status(job_dir, supervisor_pid=proc.pid)
    return job_dir.name


def wait(ws: Workspace, job_id: str, timeout_s: float = 600) -> JobStatus:
    deadline = time.monotonic() + timeout_s
    while True:
        st = status(ws, job_id)
        if not st.active or time.monotonic() > deadline:
            return st
        time.sleep(0.1)


def _work(job_dir: Path) -> int:
    """The worker: run the request, report progress, leave result.json or error.json."""
    ws = Workspace.open(job_dir.parent.parent)
    request = read_json(job_dir / "request.json")
    last: list = [0.0, None]

    def progress(fraction: float, message: str) -> None:
        """Report every new step (errors name the step a model died in); repeats at most 10/s."""
        now = time.monotonic()
        if message != last[1] or now - last[0] > 0.1 or fraction >= 1.0:
            last[0], last[1] = now, message
            write_json_atomic(job_dir / "progress.json", {"fraction": round(min(max(fraction, 0.0), 1.0), 4), "message": message})

    try:
        result = dispatch(ws, request, progress)
    except FrontierError as exc:
        write_json_atomic(job_dir / "error.json", {"error": exc.message})
        return 1
    except MemoryError:
        write_json_atomic(job_dir / "error.json", {"error": "the model ran out of memory; benchmark a smaller model or batch"})
        return 1
    except Exception as exc:
        traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        write_json_atomic(job_dir / "error.json", {"error": f"{type(exc).__name__}: {first} (details in {job_dir / 'worker.log'})"})
        return 1
    write_json_atomic(job_dir / "result.json", result)
    return 0


def dispatch(ws: Workspace, request: dict[str, Any], progress: Callable[[float, str], None]) -> Any:
    kind = request.get("kind")
    if kind == "benchmark":
        from engine.benchmark.execute import execute

        return {"run_ids": execute(ws, request, progress)}
    if kind == "describe":
        from engine.models.describe import describe_in_worker

        return describe_in_worker(ws, request["artifact_id"])
    raise FrontierError(f"unknown job kind '{kind}'")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in ("work", "supervise"):
        print("usage: python -m engine.jobs.runner work|supervise JOB_DIR", file=sys.stderr)
        return 2
    job_dir = Path(argv[1])
    if argv[0] == "work":
        return _work(job_dir)
    return 0 if supervise(job_dir).state == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
