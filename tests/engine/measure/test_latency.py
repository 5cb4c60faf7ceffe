"""The latency harness's behaviour, on a fake clock: no timing assertions (moved from tests/engine/jobs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.measure import latency
from engine.measure.latency import LatencySettings, LatencyStats, make_batches, measure, time_calls


class FakeClock:
    """``perf_counter`` that only moves when the timed function runs."""

    def __init__(self, step: float) -> None:
        self.now = 100.0
        self.step = step

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += self.step


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    c = FakeClock(step=0.01)
    monkeypatch.setattr(latency.time, "perf_counter", c)
    return c


def _recording(clock: FakeClock):
    seen: list = []

    def fn(x):
        seen.append(x)
        clock.tick()
    return fn, seen


def test_min_count_wins_when_time_is_already_met(clock):
    fn, seen = _recording(clock)
    samples = time_calls(fn, ["a"], min_time_s=0.0, min_count=7)
    assert len(seen) == 7
    np.testing.assert_allclose(samples, [0.01] * 7)


def test_min_time_wins_when_count_is_already_met(clock):
    fn, seen = _recording(clock)
    samples = time_calls(fn, ["a"], min_time_s=0.1, min_count=3)
    assert len(seen) == len(samples) == 10  # 10 calls of 10 ms reach 0.1 s
    assert samples.sum() == pytest.approx(0.1)


def test_max_time_caps_a_slow_function(clock):
    fn, seen = _recording(clock)
    time_calls(fn, ["a"], min_time_s=0.0, min_count=10_000, max_time_s=0.05)
    assert len(seen) == 5


def test_cycles_through_distinct_inputs_in_order(clock):
    fn, seen = _recording(clock)
    inputs = [object() for _ in range(5)]
    time_calls(fn, inputs, min_time_s=0.0, min_count=12)
    assert [inputs.index(x) for x in seen] == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]


def test_sync_runs_inside_the_timed_region(clock):
    events: list[str] = []

    def fn(x):
        events.append("call")
        clock.tick()

    def sync():
        events.append("sync")
        clock.tick()  # device work finishing counts towards the call
    samples = time_calls(fn, [1], min_time_s=0.0, min_count=4, sync=sync)
    assert events == ["call", "sync"] * 4
    np.testing.assert_allclose(samples, [0.02] * 4)


def test_from_samples_percentiles_equal_numpy():
    rng = np.random.default_rng(0)
    s = rng.lognormal(mean=-7, sigma=0.5, size=501)
    ms = s * 1e3
    st = LatencyStats.from_samples(s, batch_size=32, warmup_s=0.25, first_call_s=0.125)
    expected = dict(zip(("p25", "p50", "p75", "p90", "p95", "p99"),
                        np.percentile(ms, [25, 50, 75, 90, 95, 99]), strict=True))
    assert st.p50_ms == pytest.approx(expected["p50"])
    assert st.p90_ms == pytest.approx(expected["p90"])
    assert st.p95_ms == pytest.approx(expected["p95"])
    assert st.p99_ms == pytest.approx(expected["p99"])
    assert st.iqr_ms == pytest.approx(expected["p75"] - expected["p25"])
    assert st.mean_ms == pytest.approx(ms.mean())
    assert st.std_ms == pytest.approx(ms.std(ddof=1))
    assert st.min_ms == pytest.approx(ms.min())
    assert st.n_calls == 501 and st.batch_size == 32
    assert st.warmup_ms == pytest.approx(250.0) and st.first_call_ms == pytest.approx(125.0)
    assert st.throughput_per_s == pytest.approx(32 / np.median(s))


def test_from_samples_known_small_array():
    st = LatencyStats.from_samples(np.array([0.001, 0.002, 0.003, 0.004]), batch_size=1,
                                   warmup_s=0.0, first_call_s=0.0)
    assert st.p50_ms == pytest.approx(2.5)
    assert st.iqr_ms == pytest.approx(3.25 - 1.75)
    assert st.throughput_per_s == pytest.approx(400.0)
    single = LatencyStats.from_samples(np.array([0.002]), batch_size=4, warmup_s=0, first_call_s=0)
    assert single.std_ms == 0.0 and single.p99_ms == pytest.approx(2.0)


@pytest.mark.parametrize(("samples_ms", "skewed"), [
    ([10.0] * 20, False),                         # no spread
    ([8.0, 12.0] * 10, False),                    # a wide but steady spread (IQR 40 %) is not skew
    ([1000.0 if i in (2, 9, 15) else 10.0 for i in range(20)], False),  # scattered outliers: medians agree
    ([10.0] * 12 + [30.0] * 8, True),             # the last blocks run 3x slower: the machine changed
    ([0.0] * 20, False),                          # zero median: never skewed, throughput infinite
])
def test_noisy_is_now_the_skew_flag_from_blocks(samples_ms, skewed):
    """Without a probe only the blocks are judged; ``noisy`` is kept as the skew flag's alias."""
    st = LatencyStats.from_samples(np.array(samples_ms) / 1e3, batch_size=1, warmup_s=0, first_call_s=0)
    assert st.skewed is skewed and st.noisy is skewed
    assert (st.skew_reason is not None) is skewed
    if np.median(samples_ms) == 0:
        assert st.throughput_per_s == float("inf")


def test_make_batches_are_distinct_real_rows():
    X = np.arange(100 * 3, dtype=np.float32).reshape(100, 3)
    batches = make_batches(X, 8, 16)
    assert len(batches) == 12  # only 100 // 8 distinct batches exist
    starts = [b[0, 0] / 3 for b in batches]
    assert starts == [8.0 * j for j in range(12)]
    for b in batches:
        assert b.shape == (8, 3) and b.flags.c_contiguous
        assert any((b[0] == row).all() for row in X)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    fb = make_batches(frame, 32, 2)
    assert [len(b) for b in fb] == [32, 32] and isinstance(fb[0], pd.DataFrame)
    assert list(fb[1].index) == list(range(32, 64))
    # a batch larger than the data wraps around instead of failing
    big = make_batches(X[:5], 8, 4)
    assert len(big) == 1 and big[0].shape == (8, 3)


def test_measure_skips_batch_sizes_larger_than_the_data():
    calls: list[int] = []
    settings = LatencySettings(batch_sizes=(1, 8, 32, 256), min_time_s=0.0, min_count=3, warmup=2)
    X = np.zeros((20, 4), np.float32)
    stats, samples = measure(lambda b: calls.append(len(b)), X, settings)
    assert [s.batch_size for s in stats] == [1, 8]
    assert set(calls) == {1, 8}
    for s in stats:  # one first call + warm-up calls, then at least min_count timed calls
        assert calls.count(s.batch_size) == 1 + settings.warmup + s.n_calls
        assert s.n_calls >= 3
    assert list(samples.columns) == ["batch_size", "call", "seconds"]
    assert samples.groupby("batch_size").size().to_dict() == {s.batch_size: s.n_calls for s in stats}
    assert (samples["seconds"] >= 0).all()


def test_measure_with_only_oversized_batches_falls_back_to_one():
    calls: list[int] = []
    stats, _ = measure(lambda b: calls.append(len(b)), np.zeros((3, 2)),
                       LatencySettings(batch_sizes=(8, 16), min_time_s=0.0, min_count=2, warmup=0))
    assert [s.batch_size for s in stats] == [1]
    assert set(calls) == {1}


def test_measure_reports_progress_per_batch_size():
    seen: list[tuple[float, str]] = []
    measure(lambda b: None, np.zeros((10, 2)),
            LatencySettings(batch_sizes=(1, 2, 4), min_time_s=0.0, min_count=1, warmup=0),
            progress=lambda f, m: seen.append((f, m)))
    assert [f for f, _ in seen] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert [m for _, m in seen] == ["latency at batch 1", "latency at batch 2", "latency at batch 4"]
