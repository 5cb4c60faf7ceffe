"""The supervisor: runs a job's worker under its limits and writes the job's status.

:func:`supervise` claims a queued job, starts ``python -m engine.jobs.worker``
in its own process group (dying with the supervisor: ``PR_SET_PDEATHSIG`` plus
the worker's own parent check; a SIGTERM'd supervisor kills the group first),
then polls every 50 ms: the cancel flag, the memory of the worker's process
tree, the time of the current step (``Limits.step_time_s``) and of the current
model (``Limits.time_s``) — neither counts time spent waiting for the machine —
and the worker's CPU use, which tells a slow step (still computing) from a
stalled one. Every :data:`~engine.jobs.liveness.HEARTBEAT_S` it refreshes the
heartbeat. Finished results named by the worker are kept and reported when a
later step fails. ``python -m engine.jobs.supervisor JOB_DIR`` is the detached
form the dashboard starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from engine.errors import FrontierError, first_line, option
from engine.ids import is_content_id
from engine.jobs import inputs, liveness, processes
from engine.jobs import spec as jobspec
from engine.jobs import status_store as status
from engine.jobs.progress import ProgressFn
from engine.jobs.spare import Spare
from engine.jobs.spec import JobSpec, Limits, plain
from engine.jobs.status_store import JobStatus
from engine.workspace import read_json

POLL_S = 0.05
CPU_SAMPLE_S = 0.5
BUSY_CORES = 0.05  # using at least 5 % of a core counts as working
SLOW_AFTER_S = 60.0  # a step is called slow (or stalled) after this, or half its limit if shorter
PR_SET_PDEATHSIG = 1


class _Stopped(BaseException):
    """The supervisor itself got SIGTERM or SIGHUP."""


def supervise(job_dir: Path, *, on_progress: ProgressFn | None = None, spare: Spare | None = None) -> JobStatus:
    """Run the queued job in ``job_dir`` to its end; blocks. Returns its final status.

    ``spare``: a worker started ahead by this process (:mod:`engine.jobs.spare`), used as the
    job's worker when it was started with the job's settings, else discarded.
    """
    supervision = None
    try:
        if not _claim(job_dir):
            return status.view(job_dir)
        try:
            spec = jobspec.read(job_dir)
        except FrontierError as exc:
            return _finish(job_dir, {"state": "failed", "error": exc.message, "ui_error": exc.ui_message})
        if processes.flag_raised(job_dir / processes.CANCEL_FLAG):
            return _finish(job_dir, {"state": "cancelled"})
        with _signals_raise():
            supervision = _Supervision(job_dir, spec, on_progress, spare)
            return supervision.run()
    finally:
        if spare is not None and (supervision is None or not supervision.spare_used):
            spare.discard()


def _claim(job_dir: Path) -> bool:
    me = liveness.identity()

    def claim(st: dict[str, Any]) -> dict[str, Any] | None:
        if st["state"] != "queued" or st.get("claimed"):
            return None
        return {"claimed": True, "state": "running", "supervisor": me, "supervisor_pid": me["pid"],
                "heartbeat_at": time.time()}
    return status.update(job_dir, claim)[1]


def _finish(job_dir: Path, final: dict[str, Any]) -> JobStatus:
    inputs.remove(job_dir)
    status.update(job_dir, final | {"finished_at": time.time(), "condition": None})
    return status.view(job_dir)


class _Supervision:
    """One run of a worker: the polling loop and its bookkeeping."""

    def __init__(self, job_dir: Path, spec: JobSpec, on_progress: ProgressFn | None,
                 spare: Spare | None = None) -> None:
        self.job_dir, self.spec, self.limits, self.on_progress = job_dir, spec, spec.limits, on_progress
        self.spare, self.spare_used = spare, False
        self.proc: subprocess.Popen[bytes] | None = None
        self.prog: dict[str, Any] = {}
        self.step_key: tuple[Any, ...] | None = None
        self.step_since = self.unit_running = 0.0
        self.unit: Any = None
        self.cpu: deque[tuple[float, float]] = deque(maxlen=int(10 / CPU_SAMPLE_S))
        self.last_busy = time.monotonic()
        self.last_beat = 0.0
        self.shown: tuple[float, str] | None = None
        self.written: dict[str, Any] = {}

    # ---------------------------------------------------------------- run
    def run(self) -> JobStatus:
        final: dict[str, Any] = {"state": "failed", "error": "the job's supervisor stopped unexpectedly"}
        try:
            self.proc = self._spawn()
            final = self._watch(psutil.Process(self.proc.pid))
        except _Stopped as stop:
            final = {"state": "failed",
                     "error": f"the job's supervisor was stopped ({signal.Signals(stop.args[0]).name}); run it again"}
            raise
        except KeyboardInterrupt:
            final = {"state": "cancelled", "error": "interrupted"}
            raise
        except Exception as exc:  # the supervisor's own failure still ends the job cleanly
            final = {"state": "failed", "error": f"the job's supervisor failed: {type(exc).__name__}: {first_line(exc)}"}
        finally:
            self._kill()
            _finish(self.job_dir, self._keep_finished(final))
        return status.view(self.job_dir)

    def _spawn(self) -> subprocess.Popen[bytes]:
        threads = getattr(self.spec.payload, "threads", None)
        if self.spare is not None and self.spare.fits(threads=threads, limits=self.limits):
            proc = self.spare.hand(self.job_dir, os.getpid())
            if proc is not None:
                self.spare_used = True
                status.update(self.job_dir, {"worker": {"pid": proc.pid, "spare": True}})
                return proc
        env = processes.worker_env(threads=threads)
        log = processes.open_log(self.job_dir / "worker.log")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "engine.jobs.worker", str(self.job_dir), str(os.getpid())],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env, cwd=processes.PROJECT_ROOT,
                start_new_session=True, preexec_fn=worker_preexec(self.limits))
        finally:
            os.close(log)
        status.update(self.job_dir, {"worker": {"pid": proc.pid}})
        return proc

    def _watch(self, ps: psutil.Process) -> dict[str, Any]:
        assert self.proc is not None
        last = start = time.monotonic()
        self.step_since = start
        next_cpu = start
        while self.proc.poll() is None:
            time.sleep(POLL_S)
            now = time.monotonic()
            dt, last = now - last, now
            if processes.flag_raised(self.job_dir / processes.CANCEL_FLAG):
                return {"state": "cancelled", "error": None}
            if _rss_mb(ps) > self.limits.memory_mb:
                return self._failure(
                    f"the run used more than {self.limits.memory_mb} MB of memory and was stopped{self._during()}; "
                    "benchmark a smaller model or batch, or raise FRONTIER_WORKER_MEMORY_MB")
            self._follow(now, dt)
            if now >= next_cpu:
                self._sample_cpu(ps, now)
                next_cpu = now + CPU_SAMPLE_S
            if (over := self._over_time(now)) is not None:
                return over
            due = now - self.last_beat >= liveness.HEARTBEAT_S or self._state_changed(now)
            if due and not self._beat(now):
                return {}  # someone else ended the job (e.g. marked it stale): stop the worker
            self._report(now)
        return self._outcome()

    # ----------------------------------------------------------- progress
    def _follow(self, now: float, dt: float) -> None:
        self.prog = status.read_progress(self.job_dir) or self.prog
        if self.prog.get("unit") != self.unit:
            self.unit, self.unit_running = self.prog.get("unit"), 0.0
        key = (self.prog.get("unit"), self.prog.get("step"), self.prog.get("step_started_at"))
        if key != self.step_key or self.waiting:  # waiting for the machine: the step starts after
            self.step_key, self.step_since = key, now
        if self.waiting:
            self.last_busy = now
        if not self.waiting:
            self.unit_running += dt

    @property
    def waiting(self) -> bool:
        return bool(self.prog.get("waiting"))

    def _sample_cpu(self, ps: psutil.Process, now: float) -> None:
        total = _cpu_seconds(ps)
        if self.cpu:
            t0, c0 = self.cpu[-1]
            if now > t0 and (total - c0) / (now - t0) >= BUSY_CORES:
                self.last_busy = now
        self.cpu.append((now, total))

    def cores_used(self) -> float | None:
        """CPU cores the worker used over the last few seconds."""
        if len(self.cpu) < 2:
            return None
        (t0, c0), (t1, c1) = self.cpu[max(0, len(self.cpu) - 7)], self.cpu[-1]
        return (c1 - c0) / (t1 - t0) if t1 > t0 else None

    def condition(self, now: float) -> str | None:
        if self.waiting:
            return None
        elapsed = now - self.step_since
        expected = _number(self.prog.get("expected_s"))
        attention = max(min(SLOW_AFTER_S, 0.5 * self.limits.step_time_s), 2 * expected if expected else 0.0)
        if elapsed < attention:
            return None
        return "stalled" if now - self.last_busy > min(SLOW_AFTER_S, 0.5 * self.limits.step_time_s) else "slow"

    def _state_changed(self, now: float) -> bool:
        return (("queued" if self.waiting else "running") != self.written.get("state")
                or self.condition(now) != self.written.get("condition"))

    def _beat(self, now: float) -> bool:
        """Heartbeat and state; ``False`` when the job was ended by someone else."""
        self.last_beat = now
        cores = self.cores_used()
        changes = {"heartbeat_at": time.time(), "state": "queued" if self.waiting else "running",
                   "condition": self.condition(now), "cpu_cores": None if cores is None else round(cores, 3)}
        record, _ = status.update(self.job_dir, changes)
        self.written = changes
        return record["state"] in status.ACTIVE

    def _report(self, now: float) -> None:
        if self.on_progress is None or not self.prog:
            return
        fraction = min(max(_number(self.prog.get("fraction")) or 0.0, 0.0), 1.0)
        text = JobStatus(self.job_dir.name, "queued" if self.waiting else "running",
                         message=str(self.prog.get("message") or ""), eta_s=_number(self.prog.get("eta_s")),
                         condition=self.condition(now)).detail
        if (fraction, text) != self.shown:
            self.shown = (fraction, text)
            self.on_progress(fraction, text)

    # -------------------------------------------------------------- limits
    def _over_time(self, now: float) -> dict[str, Any] | None:
        if self.waiting:
            return None
        step_s = now - self.step_since
        if step_s > self.limits.step_time_s:
            return self._failure(
                f"the step '{self._where()}' took longer than {self.limits.step_time_s:g} s and was stopped; "
                f"{self._activity(now)}; if it is only slow, raise {option('time_limit')} "
                "(the limit per step)")
        if self.unit_running > self.limits.time_s:
            return self._failure(
                f"{self._who()} took longer than {self.limits.time_s:g} s and was stopped{self._during()} "
                f"(the limit per model, FRONTIER_WORKER_TIMEOUT_S); {self._activity(now)}")
        return None

    def _activity(self, now: float) -> str:
        idle = now - self.last_busy
        if idle < 2 * CPU_SAMPLE_S + POLL_S:
            cores = self.cores_used()
            use = f" ({cores:.0%} of a core)" if cores is not None else ""
            return f"it was still using CPU{use}, so it is slow or looping rather than stuck"
        return f"it used no CPU for its last {idle:.0f} s, so it looks stuck waiting for something"

    def _where(self) -> str:
        return plain(self.prog.get("message") or self.prog.get("step") or "starting the worker")[:300]

    def _who(self) -> str:
        name = self.prog.get("unit_name")
        return f"'{plain(name)[:200]}'" if isinstance(name, str) and name else "the run"

    def _during(self) -> str:
        return f" (at '{self._where()}')" if self.prog.get("message") else ""

    def _failure(self, template: str) -> dict[str, Any]:
        exc = FrontierError(template)
        return {"state": "failed", "error": exc.message, "ui_error": exc.ui_message}

    # ------------------------------------------------------------- outcome
    def _outcome(self) -> dict[str, Any]:
        assert self.proc is not None
        code = self.proc.returncode
        result = _read_optional(self.job_dir / "result.json")
        worker_error = _read_optional(self.job_dir / "error.json")
        if code == 0 and result is not None:
            return {"state": "done", "error": None, "result": result}
        if isinstance(worker_error, dict) and isinstance(worker_error.get("error"), str):
            return {"state": "failed", "error": worker_error["error"],
                    "ui_error": worker_error.get("ui_error") or worker_error["error"]}
        return {"state": "failed", "error": self._crash_message(code)}

    def _crash_message(self, code: int | None) -> str:
        log = self.job_dir / "worker.log"
        if code is not None and code < 0:
            sig = signal.Signals(-code).name
            if sig == "SIGKILL":
                return (f"the worker was killed (likely out of memory; limit {self.limits.memory_mb} MB)"
                        f"{self._during()}; benchmark a smaller model or raise FRONTIER_WORKER_MEMORY_MB")
            return f"the worker crashed ({sig}){self._during()}; see {log}"
        return f"the worker exited with code {code}{self._during()}; see {log}"

    def _keep_finished(self, final: dict[str, Any]) -> dict[str, Any]:
        """On failure or cancel, report the results the worker finished before (run ids)."""
        if not final or final.get("state") == "done":
            return final
        self.prog = status.read_progress(self.job_dir) or self.prog
        kept = [r for r in self.prog.get("finished") or [] if is_content_id(r)]
        if not kept:
            return final
        final = final | {"result": {"run_ids": kept, "partial": True}}
        if final.get("error"):
            note = f"; the {len(kept)} finished run(s) were kept: {', '.join(kept)}"
            final["error"] += note
            if final.get("ui_error"):
                final["ui_error"] += note
        return final

    def _kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


# ------------------------------------------------------------------ helpers
def worker_preexec(limits: Limits) -> Callable[[], None]:
    """Run in the worker between fork and exec: die with the supervisor (Linux
    ``PR_SET_PDEATHSIG``), and cap virtual memory well above the RSS limit — a backstop
    that turns one enormous allocation into a clean error instead of host swap."""
    import resource

    prctl = None
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork
    cap = (limits.memory_mb * 4 + 8192) * 2**20

    def apply() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return apply


@contextlib.contextmanager
def _signals_raise():
    """In the main thread, SIGTERM/SIGHUP stop the job (the worker's group is killed and the
    status written), then the signal's usual action runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: Any) -> None:
        raise _Stopped(signum)
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    except _Stopped as stopped:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        previous = {}
        os.kill(os.getpid(), stopped.args[0])
        raise SystemExit(128 + stopped.args[0]) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _rss_mb(ps: psutil.Process) -> float:
    try:
        procs = [ps, *ps.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total / 2**20


def _cpu_seconds(ps: psutil.Process) -> float:
    total = 0.0
    try:
        procs = [ps, *ps.children(recursive=True)]
    except psutil.Error:
        return total
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _read_optional(path: Path) -> Any:
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m engine.jobs.supervisor JOB_DIR", file=sys.stderr)
        return 2
    return 0 if supervise(Path(argv[0])).state == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
