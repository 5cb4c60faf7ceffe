"""Progress as work reports it: steps, units of work, waiting for the machine, estimates.

Long work takes a :class:`Reporter` (or any ``progress(fraction, message)``
callable, wrapped by :func:`as_reporter`). ``step()`` starts a step — the unit
that per-step time limits apply to — *before* the step's work, so the message
always says what is running now; ``unit()`` starts a unit of work (a model),
``waiting()`` says the work waits for the machine (limits pause), ``eta()``
gives an estimate and ``finished()`` names results already kept.

In the worker, :class:`ProgressFile` writes all this to ``progress.json``
(``fraction, message, step, unit, step_started_at, started_at, elapsed_s,
eta_s, waiting, ahead, finished``), which the supervisor reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.workspace import write_json_atomic

ProgressFn = Callable[[float, str], None]
MIN_INTERVAL_S = 0.1


class Reporter:
    """Progress of one piece of work; forwards to a ``(fraction, message)`` callback."""

    def __init__(self, callback: ProgressFn | None = None) -> None:
        self.callback = callback
        self.started_at = time.time()
        self.fraction, self.message, self.step_name = 0.0, "", ""
        self.step_started_at = self.started_at
        self.unit_index: int | None = None
        self.unit_name = ""
        self.ahead: int | None = None
        self.eta_s: float | None = None
        self.expected_s: float | None = None
        self.done: list[str] = []

    # -------------------------------------------------------------- API
    def __call__(self, fraction: float, message: str) -> None:
        """Progress inside the current step (does not restart its clock)."""
        self.fraction, self.message = _clamp(fraction), message
        self._emit(changed=False)

    def step(self, message: str, fraction: float | None = None, *, name: str | None = None,
             expected_s: float | None = None) -> None:
        """A new step starts now: ``message`` for people, ``name`` (default ``message``) for limits."""
        self.message, self.step_name = message, name or message
        if fraction is not None:
            self.fraction = _clamp(fraction)
        self.step_started_at, self.expected_s, self.ahead = time.time(), expected_s, None
        self._emit(changed=True)

    def unit(self, index: int, name: str = "") -> None:
        """Unit of work ``index`` (a model called ``name``) starts: the per-model time limit restarts."""
        self.unit_index, self.unit_name, self.eta_s = index, name, None

    def waiting(self, ahead: int | None) -> None:
        """Waiting for the machine behind ``ahead`` others (``None``: no longer waiting)."""
        self.ahead = ahead
        if ahead is not None:
            self._emit(changed=True)

    def eta(self, seconds: float | None) -> None:
        self.eta_s = None if seconds is None else max(float(seconds), 0.0)

    def finished(self, item: str) -> None:
        """A result that is kept even if a later part of the job fails (a run id)."""
        if item not in self.done:
            self.done.append(item)
            self._emit(changed=True)

    # -------------------------------------------------------------- out
    @property
    def shown_message(self) -> str:
        return f"waiting for the machine ({self.ahead} ahead)" if self.ahead is not None else self.message

    def _emit(self, *, changed: bool) -> None:
        if self.callback is not None:
            self.callback(self.fraction, self.shown_message)


class ProgressFile(Reporter):
    """The worker's reporter: writes ``progress.json`` on every new step, else at most 10 times a second."""

    def __init__(self, job_dir: Path) -> None:
        super().__init__()
        self.path = job_dir / "progress.json"
        self._last_write = 0.0

    def _emit(self, *, changed: bool) -> None:
        now = time.monotonic()
        if changed or self.fraction >= 1.0 or now - self._last_write >= MIN_INTERVAL_S:
            self._last_write = now
            write_json_atomic(self.path, self.record())

    def record(self) -> dict[str, Any]:
        now = time.time()
        return {"fraction": round(self.fraction, 4), "message": self.shown_message, "step": self.step_name,
                "unit": self.unit_index, "unit_name": self.unit_name, "step_started_at": self.step_started_at,
                "started_at": self.started_at, "elapsed_s": round(now - self.started_at, 3),
                "eta_s": self.eta_s, "expected_s": self.expected_s,
                "waiting": self.ahead is not None, "ahead": self.ahead, "finished": list(self.done),
                "updated_at": now}


def as_reporter(progress: Reporter | ProgressFn | None) -> Reporter:
    """A :class:`Reporter` for whatever progress callback a caller gave (or none)."""
    return progress if isinstance(progress, Reporter) else Reporter(progress)


def _clamp(fraction: float) -> float:
    return min(max(float(fraction), 0.0), 1.0)


class Scoped(Reporter):
    """Part of a larger piece of work: fractions mapped into ``[start, end]``, messages prefixed."""

    def __init__(self, parent: Reporter, start: float, end: float, prefix: str = "") -> None:
        super().__init__()
        self.parent, self.start, self.end, self.prefix = parent, start, end, prefix

    def _scale(self, fraction: float) -> float:
        return self.start + _clamp(fraction) * (self.end - self.start)

    def __call__(self, fraction: float, message: str) -> None:
        self.parent(self._scale(fraction), self.prefix + message)

    def step(self, message: str, fraction: float | None = None, *, name: str | None = None,
             expected_s: float | None = None) -> None:
        self.parent.step(self.prefix + message, None if fraction is None else self._scale(fraction),
                         name=None if name is None else self.prefix + name, expected_s=expected_s)

    def unit(self, index: int, name: str = "") -> None:
        self.parent.unit(index, name)

    def waiting(self, ahead: int | None) -> None:
        self.parent.waiting(ahead)

    def eta(self, seconds: float | None) -> None:
        self.parent.eta(seconds)

    def finished(self, item: str) -> None:
        self.parent.finished(item)
