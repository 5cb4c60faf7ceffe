"""The per-machine readers-writer lock: exclusive means alone, shared side by side, arrival order is kept.

Each test uses its own lock folder; processes record when they held the lock
(``time.time()`` inside the held region) and the assertions are on those records.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

from engine.errors import FrontierError
from engine.jobs.machine import MachineLock

CTX = mp.get_context("spawn")


def _hold(root: str, mode: str, seconds: float, name: str, log, ready=None, go=None) -> None:
    """Take the lock in ``mode``, log (name, mode, enter, leave, ahead reports)."""
    waits: list[int] = []
    if go is not None:
        go.wait()
    if ready is not None:
        ready.set()
    with MachineLock(Path(root)).hold(mode, on_wait=waits.append):
        enter = time.time()
        time.sleep(seconds)
        leave = time.time()
    log.put((name, mode, enter, leave, waits))


def _collect(log, n: int) -> dict[str, tuple]:
    out = {}
    for _ in range(n):
        name, mode, enter, leave, waits = log.get(timeout=120)
        out[name] = (mode, enter, leave, waits)
    return out


def _overlap(a: tuple, b: tuple) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def test_exclusive_holders_never_overlap_anyone(tmp_path):
    log = CTX.Queue()
    go = CTX.Event()
    modes = ["exclusive", "shared", "exclusive", "shared", "exclusive", "shared"]
    procs = [CTX.Process(target=_hold, args=(str(tmp_path), m, 0.15, f"p{i}", log, None, go))
             for i, m in enumerate(modes)]
    for p in procs:
        p.start()
    go.set()
    held = _collect(log, len(procs))
    for p in procs:
        p.join(60)
    for a in held:
        for b in held:
            if a < b and "exclusive" in (held[a][0], held[b][0]):
                assert not _overlap(held[a], held[b]), (a, b, held)


def test_shared_holders_run_side_by_side(tmp_path):
    log = CTX.Queue()
    lock = MachineLock(tmp_path)
    with lock.hold("shared"):
        p = CTX.Process(target=_hold, args=(str(tmp_path), "shared", 0.0, "other", log))
        p.start()
        _, _, leave, waits = _collect(log, 1)["other"]
        inside = time.time()
    p.join(30)
    assert waits == [] and leave <= inside  # it got in and out while this process held the lock


def test_a_waiting_exclusive_request_is_not_starved_by_later_shared_ones(tmp_path):
    """Arrival order: shared A holds; exclusive E queues; shared C comes after E and must wait for E."""
    log = CTX.Queue()
    lock = MachineLock(tmp_path)
    started = CTX.Event()
    with lock.hold("shared"):
        e = CTX.Process(target=_hold, args=(str(tmp_path), "exclusive", 0.3, "E", log, started))
        e.start()
        started.wait(30)
        _until(lambda: len(lock.queue()) == 2)
        c = CTX.Process(target=_hold, args=(str(tmp_path), "shared", 0.0, "C", log))
        c.start()
        _until(lambda: len(lock.queue()) == 3)
        released = time.time()
    held = _collect(log, 2)
    e.join(30)
    c.join(30)
    assert held["E"][1] >= released
    assert held["C"][1] >= held["E"][2], held  # C waited for E although only a shared A was held
    assert held["E"][3] == [1] and held["C"][3][0] == 2  # "N ahead" as each joined the queue


def _until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _hold_forever(root: str, mode: str, ready) -> None:
    with MachineLock(Path(root)).hold(mode):
        ready.set()
        time.sleep(600)


@pytest.mark.parametrize("mode", ["exclusive", "shared"])
def test_a_killed_holder_releases_the_lock_and_its_ticket(tmp_path, mode):
    ready = CTX.Event()
    p = CTX.Process(target=_hold_forever, args=(str(tmp_path), mode, ready))
    p.start()
    assert ready.wait(60)
    os.kill(p.pid, signal.SIGKILL)
    p.join(30)
    lock = MachineLock(tmp_path)
    with lock.hold("exclusive"):
        assert len(lock.queue()) == 1  # only ours: the dead holder's ticket was removed
    assert lock.queue() == []
    assert not [n for n in os.listdir(tmp_path / "tickets")]


def test_nested_holds_are_a_programming_error(tmp_path):
    lock = MachineLock(tmp_path)
    with lock.hold("shared"), pytest.raises(RuntimeError, match="already held"), lock.hold("exclusive"):
        pass
    with lock.hold("exclusive"):  # and the lock is usable afterwards
        pass


def test_a_lock_folder_someone_else_controls_is_refused(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(FrontierError, match="not a private folder"), MachineLock(link).hold("shared"):
        pass
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o777)
    os.chmod(loose, 0o777)  # others could plant or delete tickets
    with pytest.raises(FrontierError, match="not a private folder"), MachineLock(loose).hold("shared"):
        pass
