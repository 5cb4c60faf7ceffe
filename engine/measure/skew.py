"""Skew: evidence, gathered while timing, that a latency measurement was disturbed.

A latency measured while another process had the CPU is not a measurement.
Two kinds of evidence are gathered over each batch size's timed phase, and a
measurement is flagged ``skewed`` (with a one-line reason) when either is
beyond its limit:

* **Blocks disagree.** The timed calls are cut into :data:`BLOCKS` blocks of
  equal call counts; on a steady machine their medians agree, so a ratio
  between the slowest and fastest block median above :data:`BLOCK_RATIO_LIMIT`
  means the conditions changed while timing.
* **Descheduled.** On Linux each thread's ``/proc/self/task/<tid>/schedstat``
  counts the time it was runnable but waiting for a CPU: time another process
  had the core. The largest share of the phase any thread of this process
  spent waiting so is the *descheduled* fraction; above
  :data:`DESCHEDULED_LIMIT` the calls were slowed by someone else
  ("descheduled 40% of the time"). Where schedstat is missing, a
  single-threaded CPU call's process CPU time over wall time stands in
  (``1 - CPU/wall``). Process CPU/wall is recorded either way.

A phase flagged only because its *first* block was the slowest looks like
warm-up, not disturbance (scikit-learn models in a fresh worker settled over
their first ~20 calls: block ratios of 1.4-1.8x with nobody else on the
machine). :func:`warming_up` says so, and the phase is timed once more, the
calls just made serving as warm-up; the second timing is judged on its own
evidence and kept (``attempts`` = 2). A slowdown that starts later in the
phase, or any descheduling beyond the limit, is flagged at once.

The IQR, which measures spread rather than disturbance, no longer decides:
a model whose calls differ steadily is not skewed, and a machine that slows
every call alike (the IQR stays small) is.

Timed phases shorter than :data:`MIN_WALL_S` are recorded but not judged: in
10 ms phases on a quiet machine the first block was still warming up (block
ratios up to 2.1x with no descheduling at all), and one preemption is most of
such a phase. At the default 0.3 s per batch size, block ratios on a quiet
machine stayed within 1.00-1.09x for the sample models (one run: 1.41x), and
the descheduled share within 0-1% with the machine quiet or one of its two
cores busy, against 19-48% with both cores busy (``benchmarks/latency_load.py``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BLOCKS = 5
BLOCK_RATIO_LIMIT = 1.5      # slowest block median over the fastest one
DESCHEDULED_LIMIT = 0.10     # share of the timed phase a thread waited for a CPU
MIN_CALLS_PER_BLOCK = 2      # fewer calls: the block comparison says nothing
MIN_WALL_S = 0.05            # shorter timed phases are recorded, not judged (see below)
TASKS = Path("/proc/self/task")


def block_medians(samples_s: np.ndarray, blocks: int = BLOCKS) -> np.ndarray:
    """Median seconds of ``blocks`` consecutive blocks of (nearly) equal call counts; empty
    when there are too few calls to compare blocks."""
    samples_s = np.asarray(samples_s, dtype=float)
    if len(samples_s) < blocks * MIN_CALLS_PER_BLOCK:
        return np.array([])
    return np.array([float(np.median(b)) for b in np.array_split(samples_s, blocks)])


def _schedstat() -> dict[int, tuple[int, int]] | None:
    """Per thread of this process: (ns on a CPU, ns runnable but waiting for one); None off Linux."""
    try:
        tids = os.listdir(TASKS)
    except OSError:
        return None
    out = {}
    for tid in tids:
        try:
            run, wait, *_ = (TASKS / tid / "schedstat").read_text().split()
            out[int(tid)] = (int(run), int(wait))
        except (OSError, ValueError):
            continue
    return out or None


@dataclass
class Probe:
    """Process CPU time, wall time and run-queue waits around a timed phase (``with Probe() as p``)."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    run_wait_s: float | None = None  # the largest per-thread wait for a CPU over the phase

    def __enter__(self) -> Probe:
        self._sched = _schedstat()
        self._cpu = time.process_time()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._wall
        self.cpu_s = time.process_time() - self._cpu
        after = _schedstat()
        if self._sched is not None and after is not None:
            waits = [after[t][1] - self._sched[t][1] for t in after if t in self._sched]
            self.run_wait_s = max(waits, default=0) / 1e9


@dataclass(frozen=True)
class Skew:
    """The evidence about one timed phase, and the verdict."""

    block_ratio: float | None     # slowest / fastest block median (None: too few calls)
    cpu_per_wall: float | None    # process CPU seconds per wall second over the phase
    descheduled: float | None     # share of the phase a thread of this process waited for a CPU
    skewed: bool
    reason: str | None


def assess(samples_s: np.ndarray, probe: Probe | None, *, threads: int = 1, device: str = "cpu") -> Skew:
    """Judge one timed phase from its samples and the probe taken around it."""
    samples_s = np.asarray(samples_s, dtype=float)
    medians = block_medians(samples_s)
    ratio = None
    if len(medians):
        low, high = float(medians.min()), float(medians.max())
        ratio = high / low if low > 0 else (1.0 if high == 0 else float("inf"))
    cpu_per_wall = descheduled = None
    if probe is not None and probe.wall_s > 0:
        cpu_per_wall = probe.cpu_s / probe.wall_s
        if probe.run_wait_s is not None:
            descheduled = min(probe.run_wait_s / probe.wall_s, 1.0)
        elif threads == 1 and device == "cpu":  # no schedstat: a lone CPU thread should use all its wall time
            descheduled = max(0.0, 1.0 - cpu_per_wall)
    reasons = []
    if ratio is not None and ratio > BLOCK_RATIO_LIMIT and float(samples_s.sum()) >= MIN_WALL_S:
        reasons.append(f"blocks disagree: {ratio:.1f}x between the slowest and fastest {_nth(BLOCKS)}")
    long_enough = probe is not None and probe.wall_s >= MIN_WALL_S
    if descheduled is not None and descheduled > DESCHEDULED_LIMIT and long_enough:
        reasons.append(f"descheduled {descheduled:.0%} of the time")
    return Skew(ratio, cpu_per_wall, descheduled, bool(reasons), "; ".join(reasons) or None)


def warming_up(samples_s: np.ndarray, verdict: Skew) -> bool:
    """Whether a skewed phase looks like warm-up rather than disturbance: only its blocks
    disagree (no thread waited for a CPU beyond the limit) and its first block is the slowest.

    Such a phase is timed once more (:func:`engine.measure.latency.measure`), the calls
    just made serving as warm-up, and the new timing is judged on its own evidence. A
    slowdown that starts later in the phase is never taken for warm-up.
    """
    if not verdict.skewed or (verdict.descheduled is not None and verdict.descheduled > DESCHEDULED_LIMIT):
        return False
    medians = block_medians(samples_s)
    return len(medians) > 0 and int(np.argmax(medians)) == 0


def _nth(n: int) -> str:
    return {2: "half", 3: "third", 4: "quarter", 5: "fifth"}.get(n, f"1/{n}")
