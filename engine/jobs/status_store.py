"""The status store: ``status.json`` of each job, with one writer at a time.

Every read-modify-write of ``status.json`` holds the job's ``status.lock``
(:func:`update`), and the file is replaced atomically, so readers never lock
and never see half a file. Reading (:func:`view`) never writes: a job whose
supervisor is gone is *reported* failed straight away, and recorded so by the
next writer that looks (:func:`reconcile`, run by cancel, the supervisor and
workspace sweeps). Terminal states are final.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock

from engine.errors import FrontierError
from engine.jobs import liveness
from engine.jobs.spec import plain
from engine.workspace import read_json, write_json_atomic

ACTIVE = ("queued", "running")
TERMINAL = ("done", "failed", "cancelled")
STATUS_FILE = "status.json"
LOCK_FILE = "status.lock"
PROGRESS_FILE = "progress.json"
LOCK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class JobStatus:
    """What a job is doing, as anyone may read it."""

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
    owner: str | None = None
    step: str = ""
    elapsed_s: float | None = None
    eta_s: float | None = None
    condition: str | None = None  # "slow" (a long step still using CPU) | "stalled" (no CPU use)
    ahead: int | None = None  # jobs ahead while waiting for the machine
    ui_error: str | None = None  # ``error`` in the dashboard's words (widget labels, not flags)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def detail(self) -> str:
        """One line for a progress bar: message, elapsed time, estimate, and whether it is slow."""
        parts = [self.message or ("waiting for a worker" if self.state == "queued" else self.state)]
        if self.elapsed_s is not None and self.active:
            parts.append(f"{_duration(self.elapsed_s)} elapsed")
        if self.eta_s is not None and self.active:
            parts.append(f"about {_duration(self.eta_s)} left")
        if self.condition == "slow":
            parts.append("slow: this step is taking long but still working")
        elif self.condition == "stalled":
            parts.append("stalled: no CPU use lately")
        return " · ".join(parts)


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


# -------------------------------------------------------------- raw access
def read(job_dir: Path) -> dict[str, Any]:
    """The raw status record; a missing or damaged file is a one-line error."""
    try:
        data = read_json(job_dir / STATUS_FILE)
    except FileNotFoundError:
        raise FrontierError(f"no job with id '{job_dir.name}'") from None
    except (ValueError, OSError):
        raise FrontierError(f"job {job_dir.name}'s status file is damaged") from None
    if not isinstance(data, dict) or data.get("state") not in (*ACTIVE, *TERMINAL):
        raise FrontierError(f"job {job_dir.name}'s status file is damaged")
    return data


def read_progress(job_dir: Path) -> dict[str, Any]:
    """What the worker last reported (``{}`` before it reports, or when unreadable)."""
    try:
        data = read_json(job_dir / PROGRESS_FILE)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def lock(job_dir: Path) -> filelock.BaseFileLock:
    return filelock.FileLock(job_dir / LOCK_FILE, timeout=LOCK_TIMEOUT_S)


def create(job_dir: Path, record: dict[str, Any]) -> None:
    """The first status of a new job folder."""
    now = time.time()
    with lock(job_dir):
        write_json_atomic(job_dir / STATUS_FILE, record | {"created_at": now, "started_at": now,
                                                           "heartbeat_at": now, "updated_at": now})


Change = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any] | None]


def update(job_dir: Path, change: Change, *, only_active: bool = True) -> tuple[dict[str, Any], bool]:
    """Apply ``change`` (a dict, or a function of the current record returning one or ``None``)
    under the job's lock. Returns the record and whether it changed; a finished job is left
    alone unless ``only_active`` is false."""
    try:
        with lock(job_dir):
            current = read(job_dir)
            if only_active and current["state"] not in ACTIVE:
                return current, False
            changes = change(current) if callable(change) else change
            if not changes:
                return current, False
            new = current | changes | {"updated_at": time.time()}
            write_json_atomic(job_dir / STATUS_FILE, new)
            return new, True
    except filelock.Timeout:
        raise FrontierError(f"job {job_dir.name}'s status stayed locked for {LOCK_TIMEOUT_S:g} s; try again") from None
    except PermissionError:
        raise FrontierError(f"this user may not change job {job_dir.name} (its folder is not writable)") from None


def reconcile(job_dir: Path, *, state: str = "failed") -> dict[str, Any]:
    """Record an active job whose supervisor is gone as ``state`` (a writer's step, under the lock)."""
    def settle(current: dict[str, Any]) -> dict[str, Any] | None:
        reason = liveness.stale_reason(current)
        if reason is None:
            return None
        return {"state": state, "error": reason if state == "failed" else None, "finished_at": time.time()}
    return update(job_dir, settle)[0]


# ------------------------------------------------------------------ reading
def view(job_dir: Path) -> JobStatus:
    """The job's status as readers see it; never writes."""
    st = read(job_dir)
    prog = read_progress(job_dir)
    state, error = st["state"], _text(st.get("error"))
    ui_error = _text(st.get("ui_error")) or error
    if state in ACTIVE and (reason := liveness.stale_reason(st)) is not None:
        state, error = "failed", reason
        ui_error = reason
    active = state in ACTIVE
    started = _number(st.get("started_at"))
    end = _number(st.get("finished_at")) if not active else time.time()
    fraction = 1.0 if state == "done" else min(max(_number(prog.get("fraction")) or 0.0, 0.0), 1.0)
    ahead = _number(prog.get("ahead")) if active and prog.get("waiting") else None
    return JobStatus(
        job_id=job_dir.name, state=state, fraction=fraction, message=_text(prog.get("message")) or "",
        error=error, result=st.get("result"), kind=_text(st.get("kind")) or "", title=_text(st.get("title")) or "",
        started_at=started, updated_at=_number(st.get("updated_at")), owner=_text(st.get("owner")),
        step=_text(prog.get("step")) or "",
        elapsed_s=max(end - started, 0.0) if started is not None and end is not None else None,
        eta_s=_number(prog.get("eta_s")) if active else None,
        condition=st.get("condition") if active and st.get("condition") in ("slow", "stalled") else None,
        ahead=int(ahead) if ahead is not None else None, ui_error=ui_error if error is not None else None,
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _text(value: object) -> str | None:
    """Strings from job files as one plain line (they are shown to users)."""
    return plain(value)[:1000] if isinstance(value, str) else None
