"""The skew detector judges recorded evidence: injected slowdowns are flagged, steady fakes are not.

Timing comes from a fake clock (it moves only when a fake inference function
says so) and the kernel's run-queue counters from a fake ``schedstat``, so no
assertion depends on how fast this machine is or how busy it is.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine.measure import latency, skew
from engine.measure.latency import LatencySettings, measure, overall_skew
from engine.measure.skew import Probe, assess, block_medians


class FakeClock:
    """``perf_counter`` that moves only when the fake inference function advances it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeSched:
    """``/proc/self/task/*/schedstat`` as a script: each read adds ``wait_per_read`` ns of run-queue wait."""

    def __init__(self, wait_per_read_s: float = 0.0) -> None:
        self.reads = 0
        self.wait_ns = int(wait_per_read_s * 1e9)

    def __call__(self) -> dict[int, tuple[int, int]]:
        self.reads += 1
        return {1: (0, self.reads * self.wait_ns), 2: (0, 0)}


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    c = FakeClock()
    monkeypatch.setattr(latency.time, "perf_counter", c)  # the module is ``time``: skew's Probe sees it too
    monkeypatch.setattr(skew.time, "process_time", c)      # CPU time keeps pace with wall time: never descheduled
    monkeypatch.setattr(skew, "_schedstat", FakeSched())
    return c


def _fake_model(clock: FakeClock, durations_s):
    """A fake inference function: call ``i`` takes ``durations_s(i)`` seconds of the fake clock."""
    calls = {"n": 0}

    def infer(_batch):
        clock.now += durations_s(calls["n"])
        calls["n"] += 1
    return infer, calls


SETTINGS = LatencySettings(batch_sizes=(1,), min_time_s=0.0, min_count=100, warmup=0)


def _timed_only(warmup_calls: int, fn):
    """Shift a call-index rule past the first (untimed) call and the warm-up."""
    return lambda i: fn(i - 1 - warmup_calls)


def test_a_steady_fake_is_not_skewed(clock):
    rng = np.random.default_rng(0)
    jitter = rng.uniform(0.9, 1.1, size=1000)  # ±10 % per call, steady over time
    infer, _ = _fake_model(clock, lambda i: 0.001 * jitter[i % 1000])
    (st,), _ = measure(infer, np.zeros((50, 4), np.float32), SETTINGS)
    assert not st.skewed and st.skew_reason is None and not st.noisy
    assert st.block_ratio < skew.BLOCK_RATIO_LIMIT
    assert st.cpu_per_wall == pytest.approx(1.0) and st.descheduled == 0.0


def test_an_injected_slowdown_in_some_blocks_is_flagged(clock):
    # calls 60..99 of the timed 100 (the last two fifths) run 3x slower, as if a process took the core
    infer, _ = _fake_model(clock, _timed_only(0, lambda i: 0.003 if i >= 60 else 0.001))
    (st,), _ = measure(infer, np.zeros((50, 4), np.float32), SETTINGS)
    assert st.skewed and st.noisy
    assert st.block_ratio == pytest.approx(3.0)
    assert st.skew_reason == "blocks disagree: 3.0x between the slowest and fastest fifth"
    assert st.p50_ms == pytest.approx(1.0)  # the median alone would not have shown it


def test_a_slowdown_in_the_middle_is_flagged_too(clock):
    infer, _ = _fake_model(clock, _timed_only(0, lambda i: 0.0025 if 40 <= i < 60 else 0.001))
    (st,), _ = measure(infer, np.zeros((50, 4), np.float32), SETTINGS)
    assert st.skewed and st.block_ratio == pytest.approx(2.5)


def test_descheduling_is_flagged_from_the_run_queue_evidence(clock, monkeypatch):
    """Every call alike slowed (blocks agree, IQR small) but a thread waited for a CPU: skewed."""
    infer, _ = _fake_model(clock, lambda i: 0.001)
    wall = 0.1  # 100 calls of 1 ms
    monkeypatch.setattr(skew, "_schedstat", FakeSched(wait_per_read_s=0.4 * wall))
    (st,), _ = measure(infer, np.zeros((50, 4), np.float32), SETTINGS)
    assert st.block_ratio == pytest.approx(1.0)
    assert st.descheduled == pytest.approx(0.4)
    assert st.skewed and st.skew_reason == "descheduled 40% of the time"


def test_both_reasons_are_given_in_one_line():
    samples = np.array([0.001] * 60 + [0.004] * 40)
    probe = Probe(wall_s=1.0, cpu_s=0.5, run_wait_s=0.5)
    s = assess(samples, probe)
    assert s.skewed and "\n" not in s.reason
    assert s.reason == ("blocks disagree: 4.0x between the slowest and fastest fifth; "
                        "descheduled 50% of the time")


def test_cpu_time_stands_in_for_a_single_threaded_call_without_schedstat():
    """Sleeping spends wall time without CPU time: with no run-queue counters, one CPU thread's
    CPU/wall well below 1 says it did not have the core."""
    samples = np.full(50, 0.002)
    alone = Probe(wall_s=1.0, cpu_s=0.55, run_wait_s=None)
    s = assess(samples, alone, threads=1, device="cpu")
    assert s.cpu_per_wall == pytest.approx(0.55) and s.descheduled == pytest.approx(0.45)
    assert s.skewed and s.reason == "descheduled 45% of the time"
    # several threads or a GPU: CPU/wall says nothing about descheduling, so it does not decide
    assert not assess(samples, alone, threads=2).skewed
    assert not assess(samples, alone, threads=1, device="cuda").skewed
    # schedstat's own evidence wins over CPU/wall: a thread that slept was not waiting for a CPU
    assert not assess(samples, Probe(wall_s=1.0, cpu_s=0.1, run_wait_s=0.0)).skewed


def test_a_real_sleeping_call_records_wall_far_above_cpu(monkeypatch):
    """Evidence, not speed: a function that sleeps uses (almost) no CPU while wall time passes."""
    monkeypatch.setattr(skew, "_schedstat", lambda: None)
    with Probe() as probe:
        for _ in range(20):
            time.sleep(0.005)
    assert probe.wall_s >= 0.1 and probe.cpu_s < probe.wall_s / 2
    verdict = assess(np.full(20, 0.005), probe, threads=1)
    assert verdict.descheduled is not None and verdict.descheduled > 0.5 and verdict.skewed


def test_probe_reads_the_largest_per_thread_wait(monkeypatch):
    reads = iter([{1: (10, 100), 2: (10, 5_000), 3: (0, 0)},
                  {1: (99, 300_000_100), 2: (99, 100_005_000), 4: (0, 9_000_000_000)}])
    monkeypatch.setattr(skew, "_schedstat", lambda: next(reads))
    with Probe() as probe:
        pass
    assert probe.run_wait_s == pytest.approx(0.3)  # thread 1; thread 4 started during the phase: not counted


def test_schedstat_of_this_process_is_read_on_linux():
    stats = skew._schedstat()
    if stats is None:
        pytest.skip("no /proc/self/task/*/schedstat here")
    assert all(run >= 0 and wait >= 0 for run, wait in stats.values())


def test_too_few_calls_or_too_short_a_phase_decide_nothing():
    assert len(block_medians(np.ones(9))) == 0
    s = assess(np.array([0.001, 0.009, 0.001]), Probe(wall_s=0.001, cpu_s=0.0, run_wait_s=0.001))
    assert s.block_ratio is None and not s.skewed  # recorded, but one preemption is not a verdict
    assert s.cpu_per_wall == 0.0 and s.descheduled == 1.0


def test_a_phase_too_short_to_judge_is_recorded_not_flagged():
    """10 ms phases on a quiet machine had first blocks still warming up: no verdict below MIN_WALL_S."""
    short = np.array([0.0002] * 12 + [0.0006] * 8)  # 3x, but 7.2 ms of timed calls in all
    s = assess(short, Probe(wall_s=0.008, cpu_s=0.008, run_wait_s=0.0))
    assert s.block_ratio == pytest.approx(3.0) and not s.skewed
    assert assess(short * 10, Probe(wall_s=0.08, cpu_s=0.08, run_wait_s=0.0)).skewed


def test_blocks_have_equal_call_counts_in_order():
    meds = block_medians(np.arange(1, 21, dtype=float))
    assert meds.tolist() == [2.5, 6.5, 10.5, 14.5, 18.5]


def test_the_run_summary_names_the_first_skewed_batch_size():
    from engine.measure.latency import LatencyStats

    clean = LatencyStats.from_samples(np.full(20, 0.001), batch_size=1, warmup_s=0, first_call_s=0)
    bad = LatencyStats.from_samples(np.array([0.01] * 12 + [0.05] * 8), batch_size=32, warmup_s=0,
                                    first_call_s=0)
    worse = LatencyStats.from_samples(np.array([0.01] * 12 + [0.09] * 8), batch_size=256, warmup_s=0,
                                      first_call_s=0)
    assert overall_skew([]) == (None, None)
    assert overall_skew([clean]) == (False, None)
    flag, reason = overall_skew([clean, bad, worse])
    assert flag is True
    assert reason == ("batch 32: blocks disagree: 5.0x between the slowest and fastest fifth "
                      "(and 1 more batch size(s))")


# ------------------------------------------------------------- warm-up: timed once more
def test_a_phase_still_warming_up_is_timed_again_and_the_second_timing_kept(clock):
    """The first 20 timed calls run 3x slower and never again (a model still warming up): the
    phase is timed once more, and the second timing, steady, is what is reported."""
    infer, calls = _fake_model(clock, _timed_only(0, lambda i: 0.003 if i < 20 else 0.001))
    (st,), samples = measure(infer, np.zeros((50, 4), np.float32), SETTINGS)
    assert st.attempts == 2 and not st.skewed and st.block_ratio == pytest.approx(1.0)
    assert st.p50_ms == pytest.approx(1.0) and st.n_calls == 100 and len(samples) == 100
    assert calls["n"] == 1 + 100 + 100  # the first call, then two timed phases


def test_warm_up_that_does_not_settle_is_flagged_after_the_second_timing(clock):
    """Every phase's first fifth is slow (e.g. a cache flushed by each phase's start): two timings,
    then the verdict stands."""
    infer, calls = _fake_model(clock, _timed_only(0, lambda i: 0.003 if i % 100 < 20 else 0.001))
    (st,), _ = measure(infer, np.zeros((50, 4), np.float32), SETTINGS)
    assert st.attempts == 2 and st.skewed and st.block_ratio == pytest.approx(3.0)
    assert calls["n"] == 1 + 200


def test_a_slowdown_that_starts_later_or_comes_with_descheduling_is_not_taken_for_warm_up(clock, monkeypatch):
    later, calls = _fake_model(clock, _timed_only(0, lambda i: 0.003 if i >= 60 else 0.001))
    (st,), _ = measure(later, np.zeros((50, 4), np.float32), SETTINGS)
    assert st.attempts == 1 and st.skewed and calls["n"] == 1 + 100
    # first fifth slow, but a thread of ours waited for a CPU: someone else had the core, flag it now
    monkeypatch.setattr(skew, "_schedstat", FakeSched(wait_per_read_s=0.05))
    early, calls = _fake_model(clock, _timed_only(0, lambda i: 0.003 if i < 20 else 0.001))
    (st,), _ = measure(early, np.zeros((50, 4), np.float32), SETTINGS)
    assert st.attempts == 1 and st.skewed and "descheduled" in st.skew_reason and calls["n"] == 1 + 100
