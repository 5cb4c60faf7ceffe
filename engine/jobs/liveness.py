"""Is a job's supervisor still alive? Decided safely on a workspace shared by several machines.

The supervisor records who it is (:func:`identity`: host id, pid and the pid's
start time) and refreshes a heartbeat every :data:`HEARTBEAT_S`. A job is
stale when its heartbeat is older than :data:`STALE_AFTER_S` (anyone may tell),
or when its supervisor's host is *this* host and that exact process is gone.
A pid is never looked up on a machine other than the one that recorded it.
"""

from __future__ import annotations

import os
import time
from typing import Any

import psutil

from engine.jobs import machine

HEARTBEAT_S = 2.0
STALE_AFTER_S = 60.0


def identity(pid: int | None = None) -> dict[str, Any]:
    """This host and process (or ``pid`` on this host), as recorded in status.json."""
    pid = os.getpid() if pid is None else pid
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        started = None
    return {"host": machine.host_id(), "pid": pid, "started": started}


def process_alive(who: object) -> bool:
    """Whether the recorded process (on this host) still runs and is the same process."""
    if not isinstance(who, dict):
        return False
    pid, started = who.get("pid"), who.get("started")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        # a recycled pid belongs to a process that started later
        return not isinstance(started, int | float) or abs(proc.create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # e.g. access denied: it exists; never declare it dead
        return True


def stale_reason(status: dict[str, Any], now: float | None = None) -> str | None:
    """Why an active job's supervisor must be considered dead, or ``None`` when it may be alive."""
    now = time.time() if now is None else now
    beat = status.get("heartbeat_at")
    if not isinstance(beat, int | float) or isinstance(beat, bool):
        return "the job's status has no heartbeat; run it again"
    age = now - beat
    if age > STALE_AFTER_S:
        return f"the job's supervisor stopped reporting {age:.0f} s ago (machine down or process killed); run it again"
    if age < -STALE_AFTER_S:  # a heartbeat from the future is forged or a clock is badly off
        return "the job's heartbeat is in the future (clocks out of step or a damaged status file); run it again"
    who = status.get("supervisor")
    if isinstance(who, dict) and who.get("host") == machine.host_id() and not process_alive(who):
        return "the job's supervisor stopped unexpectedly; run it again"
    return None
