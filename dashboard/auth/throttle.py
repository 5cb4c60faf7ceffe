"""Slowing down password guessing: per user name and per client, with growing waits.

After ``free`` failed attempts in a row for one key (a user name, or a
client's address), every attempt for that key is refused until a wait has
passed; the wait doubles with each further failure up to ``max_s``. Refused
attempts are not checked, so guessing during a wait learns nothing. State is
kept in the server (one :class:`Throttle` per process, shared by sessions
through ``st.cache_resource``), never in the browser.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 10_000


@dataclass
class _Entry:
    failures: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class Throttle:
    """Failure counts and lock-out times per key; thread-safe."""

    def __init__(self, *, free: int, base_s: float, max_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.base_s, self.max_s, self.clock = free, base_s, max_s, clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def wait_s(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        with self._lock:
            entry = self._entries.get(key)
            return max(entry.locked_until - self.clock(), 0.0) if entry else 0.0

    def failed(self, key: str) -> None:
        """Record a failed attempt; from the ``free``-th on, lock the key for a doubling wait."""
        with self._lock:
            now = self.clock()
            entry = self._entries.setdefault(key, _Entry())
            entry.failures += 1
            entry.last = now
            if entry.failures >= self.free:
                wait = min(self.base_s * 2 ** (entry.failures - self.free), self.max_s)
                entry.locked_until = now + wait
            if len(self._entries) > MAX_KEYS:
                self._forget_old(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()

    def _forget_old(self, now: float) -> None:
        """Drop keys that are not locked and have not failed lately (bounds memory under a flood)."""
        stale = [k for k, e in self._entries.items() if e.locked_until <= now and now - e.last > self.max_s]
        for key in stale:
            del self._entries[key]
        if len(self._entries) > MAX_KEYS:  # still flooded: forget those closest to their end of wait
            for key in sorted(self._entries, key=lambda k: self._entries[k].locked_until)[: MAX_KEYS // 10]:
                del self._entries[key]
