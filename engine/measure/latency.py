"""Inference latency: build and warm-up timed apart from steady state.

After warm-up, timed calls run until both a minimum time and a minimum count
are reached (as MLPerf LoadGen does), cycling through different real input
batches. The timed region is one ``time.perf_counter`` pair around the call
(plus a device synchronise on GPU), so the harness adds next to nothing over
a bare loop. Each batch size's timed phase records when it started and ended
(epoch seconds), so anyone can check that no two measurements on a machine
overlapped (see ``engine.jobs.machine``), and the evidence that it was not
disturbed (see :mod:`engine.measure.skew`): how its five blocks of calls agree,
process CPU per wall second, the share of the phase a thread waited for a CPU,
and the load average before and after. A disturbed measurement is flagged
``skewed`` with a one-line reason; ``noisy`` is kept as its alias. A phase
that was only still warming up is timed once more (``attempts``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.measure.skew import Probe, Skew, assess, warming_up

DEFAULT_BATCH_SIZES = (1, 8, 32, 128, 256)
MAX_ATTEMPTS = 2  # a timed phase that looked like warm-up is timed once more, never more


@dataclass(frozen=True)
class LatencySettings:
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    min_time_s: float = 0.3
    min_count: int = 30
    max_time_s: float = 10.0
    warmup: int = 5
    distinct_batches: int = 16

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LatencyStats:
    """Summary of one batch size's timed calls (milliseconds)."""

    batch_size: int
    n_calls: int
    warmup_ms: float
    first_call_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    std_ms: float
    iqr_ms: float
    min_ms: float
    throughput_per_s: float
    noisy: bool  # = skewed; kept for readers of older runs and charts
    started_at: float | None = None  # epoch seconds around the timed calls (not warm-up)
    ended_at: float | None = None
    skewed: bool = False
    skew_reason: str | None = None
    block_ratio: float | None = None   # slowest / fastest median of the five blocks of calls
    cpu_per_wall: float | None = None  # process CPU seconds per wall second while timing
    descheduled: float | None = None   # share of the timed phase a thread of ours waited for a CPU
    load_1m_before: float | None = None
    load_1m_after: float | None = None
    attempts: int = 1  # 2: the first timing looked like warm-up (see skew.warming_up) and was redone

    @classmethod
    def from_samples(cls, samples_s: np.ndarray, *, batch_size: int, warmup_s: float,
                     first_call_s: float, started_at: float | None = None,
                     ended_at: float | None = None, skew: Skew | None = None,
                     load_1m: tuple[float | None, float | None] = (None, None), attempts: int = 1) -> LatencyStats:
        """Statistics of one batch size's samples; ``skew`` is the evidence gathered while
        timing (without it, only the blocks of ``samples_s`` are judged)."""
        ms = np.asarray(samples_s) * 1e3
        p25, p50, p75, p90, p95, p99 = np.percentile(ms, [25, 50, 75, 90, 95, 99])
        skew = skew or assess(np.asarray(samples_s), None)
        return cls(
            batch_size=batch_size, n_calls=len(ms), warmup_ms=warmup_s * 1e3,
            first_call_ms=first_call_s * 1e3, p50_ms=p50, p90_ms=p90, p95_ms=p95, p99_ms=p99,
            mean_ms=float(ms.mean()), std_ms=float(ms.std(ddof=1)) if len(ms) > 1 else 0.0,
            iqr_ms=p75 - p25, min_ms=float(ms.min()),
            throughput_per_s=batch_size / (p50 / 1e3) if p50 > 0 else float("inf"),
            noisy=skew.skewed, started_at=started_at, ended_at=ended_at,
            skewed=skew.skewed, skew_reason=skew.reason, block_ratio=skew.block_ratio,
            cpu_per_wall=skew.cpu_per_wall, descheduled=skew.descheduled,
            load_1m_before=load_1m[0], load_1m_after=load_1m[1], attempts=attempts,
        )


def time_calls(fn: Callable[[Any], Any], inputs: Sequence[Any], *, min_time_s: float,
               min_count: int, max_time_s: float = 10.0,
               sync: Callable[[], None] | None = None) -> np.ndarray:
    """Seconds per call of ``fn(inputs[i % len(inputs)])`` until time and count are met."""
    pc = time.perf_counter
    n = len(inputs)
    samples: list[float] = []
    append = samples.append
    i = 0
    start = pc()
    if sync is None:
        while True:
            x = inputs[i % n]
            t0 = pc()
            fn(x)
            t1 = pc()
            append(t1 - t0)
            i += 1
            if (i >= min_count and t1 - start >= min_time_s) or t1 - start >= max_time_s:
                break
    else:
        while True:
            x = inputs[i % n]
            t0 = pc()
            fn(x)
            sync()
            t1 = pc()
            append(t1 - t0)
            i += 1
            if (i >= min_count and t1 - start >= min_time_s) or t1 - start >= max_time_s:
                break
    return np.asarray(samples)


def make_batches(X: pd.DataFrame | np.ndarray, batch_size: int, count: int) -> list[Any]:
    """Up to ``count`` distinct batches of real rows, built before timing starts."""
    n = len(X)
    batches = []
    for j in range(max(1, min(count, n // batch_size or 1))):
        idx = (np.arange(batch_size) + j * batch_size) % n
        batches.append(X.iloc[idx] if isinstance(X, pd.DataFrame) else np.ascontiguousarray(X[idx]))
    return batches


def load_1m() -> float | None:
    """The 1-minute load average (runnable processes), None where the OS has none."""
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None


def measure(fn: Callable[[Any], Any], X: pd.DataFrame | np.ndarray, settings: LatencySettings, *,
            sync: Callable[[], None] | None = None,
            progress: Callable[[float, str], None] | None = None,
            threads: int = 1, device: str = "cpu") -> tuple[list[LatencyStats], pd.DataFrame]:
    """Sweep the batch sizes; returns per-size stats and the raw samples (tidy).

    Each batch size's timed phase is judged for skew (:func:`engine.measure.skew.assess`);
    ``threads`` and ``device`` say whether process CPU/wall can stand in for the
    run-queue evidence where the OS has none."""
    stats, frames = [], []
    sizes = [b for b in settings.batch_sizes if b <= max(len(X), 1)] or [1]
    for k, b in enumerate(sizes):
        inputs = make_batches(X, b, settings.distinct_batches)
        t0 = time.perf_counter()
        fn(inputs[0])
        if sync:
            sync()
        first = time.perf_counter() - t0
        for w in range(settings.warmup):
            fn(inputs[w % len(inputs)])
        if sync:
            sync()
        warm = time.perf_counter() - t0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            before = load_1m()
            started = time.time()
            with Probe() as probe:
                samples = time_calls(fn, inputs, min_time_s=settings.min_time_s, min_count=settings.min_count,
                                     max_time_s=settings.max_time_s, sync=sync)
            ended = time.time()
            skew = assess(samples, probe, threads=threads, device=device)
            if attempt == MAX_ATTEMPTS or not warming_up(samples, skew):
                break
        stats.append(LatencyStats.from_samples(samples, batch_size=b, warmup_s=warm, first_call_s=first,
                                               started_at=started, ended_at=ended, skew=skew,
                                               load_1m=(before, load_1m()), attempts=attempt))
        frames.append(pd.DataFrame({"batch_size": b, "call": np.arange(len(samples)), "seconds": samples}))
        if progress:
            progress((k + 1) / len(sizes), f"latency at batch {b}")
    return stats, pd.concat(frames, ignore_index=True)


def overall_skew(stats: Sequence[LatencyStats]) -> tuple[bool | None, str | None]:
    """Whether any batch size's timing was skewed, and the first skewed one's reason (one line).

    ``(None, None)`` when nothing was timed."""
    if not stats:
        return None, None
    skewed = [s for s in stats if s.skewed]
    if not skewed:
        return False, None
    more = f" (and {len(skewed) - 1} more batch size(s))" if len(skewed) > 1 else ""
    return True, f"batch {skewed[0].batch_size}: {skewed[0].skew_reason}{more}"
