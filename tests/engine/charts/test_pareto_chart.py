"""engine.charts.pareto: the front in the info record is known by construction; the figure draws it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from engine.charts.pareto import (
    PARETO_COLUMNS,
    SKEWED_NAME,
    SKEWED_SYMBOL,
    pareto_figure,
    pareto_info,
)

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture()
def runs() -> pd.DataFrame:
    """Latency (lower is better) against accuracy (higher is better); the front by construction:
    F, A, B, D and its duplicate E. C loses to B, G to A; H and I lack a value and are dropped."""
    rows = [
        # run_id, label, latency, accuracy, size, throughput, skewed, rows_seen, lineage
        ("A", "model A", 1.0, 0.80, 100, 900.0, False, False, "uploaded"),
        ("B", "model B", 2.0, 0.85, 100, 400.0, False, True, "trial 12 of study s"),
        ("C", "model C", 3.0, 0.84, 10, 300.0, False, False, "variant of model B by dynamic-int8"),
        ("D", "model D", 10.0, 0.90, 100, 100.0, True, False, "uploaded"),
        ("E", "model E", 10.0, 0.90, 200, 100.0, False, False, "uploaded"),
        ("F", HOSTILE, 0.5, 0.70, 100, 1000.0, False, False, "<b>bold</b> lineage"),
        ("G", "model G", 5.0, 0.70, 1000, 50.0, False, False, "uploaded"),
        ("H", "model H", np.nan, 0.99, 100, np.nan, False, False, "uploaded"),
        ("I", "model I", 100.0, np.nan, 100, 10.0, False, False, "uploaded"),
    ]
    frame = pd.DataFrame(rows, columns=["run_id", "label", "latency_p95_ms", "accuracy_mean", "size_bytes",
                                        "throughput_per_s", "latency_skewed", "rows_seen", "lineage"])
    frame["params"] = ["C=1", "C=10", "", "depth=3", "depth=3", "<script>x</script>", "", "", ""]
    return frame


def _front(info: pd.DataFrame) -> set[str]:
    return set(info.loc[info["on_front"], "run_id"])


def _line(fig):
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == 1
    return lines[0]


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


# -------------------------------------------------------------------- info
def test_info_front_known_by_construction(runs):
    info = pareto_info(runs, x="latency_p95_ms", y="accuracy_mean")
    assert list(info.columns) == PARETO_COLUMNS
    assert list(info["run_id"]) == ["A", "B", "C", "D", "E", "F", "G"]  # input order, H and I dropped
    assert _front(info) == {"F", "A", "B", "D", "E"}
    rank = dict(zip(info["run_id"], info["front_rank"], strict=True))
    assert rank == {"F": 0, "A": 1, "B": 2, "D": 3, "E": 4, "C": -1, "G": -1}
    assert info["color"].isna().all()
    assert info.loc[info["run_id"] == "D", "skewed"].item()
    assert info.loc[info["run_id"] == "B", "rows_seen"].item()
    assert info.loc[info["run_id"] == "C", "lineage"].item() == "variant of model B by dynamic-int8"
    assert info.attrs["n_dropped"] == 2
    assert info.attrs["x_label"] == "Latency p95 (ms)" and info.attrs["y_label"] == "Accuracy"
    assert info.attrs["x_higher_is_better"] is False and info.attrs["y_higher_is_better"] is True
    assert info.attrs["color"] is None


def test_info_directions_come_from_registry(runs):
    # throughput: higher is better. F (1000/s, .70), A (900, .80), B (400, .85), D/E (100, .90)
    # are each the best accuracy at their throughput or better; C (300, .84) loses to B, G to D
    info = pareto_info(runs, x="throughput_per_s", y="accuracy_mean")
    assert info.attrs["x_higher_is_better"] is True
    assert _front(info) == {"F", "A", "B", "D", "E"}
    # lower-is-better metric on y: the worst accuracy is the "best" log loss in spirit; use rmse
    frame = runs.rename(columns={"accuracy_mean": "rmse_mean"})
    info = pareto_info(frame, x="latency_p95_ms", y="rmse_mean")
    # minimize both: F (0.5, .70) and nothing else can beat it on x; G (5, .70) loses to F; A..E lose to F
    assert _front(info) == {"F"}


def test_color_is_a_third_objective(runs):
    info = pareto_info(runs, x="latency_p95_ms", y="accuracy_mean", color="size_bytes")
    # C is far smaller than B: on the front now; E is D but larger: dominated now
    assert _front(info) == {"F", "A", "B", "C", "D"}
    assert info.attrs["color_label"] == "Size (bytes)"
    assert info.attrs["color_higher_is_better"] is False
    np.testing.assert_array_equal(info["color"], [100, 100, 10, 100, 200, 100, 1000])
    assert sorted(info.loc[info["on_front"], "front_rank"]) == [0, 1, 2, 3, 4]


def test_missing_color_value_is_shown_but_not_on_front(runs):
    runs.loc[runs["run_id"] == "F", "size_bytes"] = np.nan
    info = pareto_info(runs, x="latency_p95_ms", y="accuracy_mean", color="size_bytes")
    assert "F" in set(info["run_id"]) and "F" not in _front(info)
    assert info.attrs["n_missing_color"] == 1


@pytest.mark.parametrize(("kwargs", "bad"), [
    ({"x": "latency_p95", "y": "accuracy_mean"}, "latency_p95"),
    ({"x": "latency_p95_ms", "y": "accuracy_std"}, "accuracy_std"),
    ({"x": "latency_p95_ms", "y": "accuracy_mean", "color": "lineage"}, "lineage"),
])
def test_unknown_column_raises(runs, kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        pareto_info(runs, **kwargs)


def test_known_column_absent_from_runs_drops_every_run(runs):
    info = pareto_info(runs, x="peak_rss_mb", y="accuracy_mean")
    assert info.empty and info.attrs["n_dropped"] == len(runs)


def test_optional_columns_default(runs):
    info = pareto_info(runs[["run_id", "label", "latency_p95_ms", "accuracy_mean"]],
                       x="latency_p95_ms", y="accuracy_mean")
    assert not info["skewed"].any() and not info["rows_seen"].any()
    assert (info["lineage"] == "").all() and (info["params"] == "").all()


# ------------------------------------------------------------------ figure
def test_step_line_runs_through_the_front_in_order(runs):
    info = pareto_info(runs, x="latency_p95_ms", y="accuracy_mean")
    fig = pareto_figure(info)
    line = _line(fig)
    front = info[info["on_front"]].sort_values("front_rank")
    np.testing.assert_array_equal(line.x, front["x"])
    np.testing.assert_array_equal(line.y, front["y"])
    np.testing.assert_array_equal(line.x, [0.5, 1.0, 2.0, 10.0, 10.0])
    assert line.line.shape == "hv"  # lower x better: across, then up; the dominated region is below-right
    assert fig.data[0] is line  # drawn under the markers
    assert all(isinstance(t, type(line)) and t.type == "scatter" for t in fig.data)
    assert fig.layout.xaxis.type != "log"  # 0.5 .. 10 ms: not two decades
    assert "lower is better" in fig.layout.xaxis.title.text
    assert "higher is better" in fig.layout.yaxis.title.text


def test_step_shape_follows_x_direction(runs):
    fig = pareto_figure(pareto_info(runs, x="throughput_per_s", y="accuracy_mean"))
    assert _line(fig).line.shape == "vh"  # higher x better: the dominated region lies to the left
    assert "higher is better" in fig.layout.xaxis.title.text


def test_markers_front_highlighted_and_others_dimmer(runs):
    fig = pareto_figure(pareto_info(runs, x="latency_p95_ms", y="accuracy_mean"))
    by_name = {t.name: t for t in fig.data}
    front, others = by_name["on the front"], by_name["dominated runs"]
    assert sorted(front.customdata) == ["A", "B", "D", "E", "F"]
    assert sorted(others.customdata) == ["C", "G"]
    assert front.marker.size > others.marker.size
    assert front.marker.opacity > others.marker.opacity


def test_skewed_symbol_and_legend(runs):
    fig = pareto_figure(pareto_info(runs, x="latency_p95_ms", y="accuracy_mean"))
    front = next(t for t in fig.data if t.name == "on the front")
    symbols = dict(zip(front.customdata, front.marker.symbol, strict=True))
    assert symbols["D"] == SKEWED_SYMBOL and symbols["A"] == "circle"
    legend = [t for t in fig.data if t.name == SKEWED_NAME]
    assert len(legend) == 1 and legend[0].marker.symbol == SKEWED_SYMBOL
    # no skewed runs: no legend entry
    runs["latency_skewed"] = False
    fig = pareto_figure(pareto_info(runs, x="latency_p95_ms", y="accuracy_mean"))
    assert not [t for t in fig.data if t.name == SKEWED_NAME]


def test_hover_text(runs):
    fig = pareto_figure(pareto_info(runs, x="latency_p95_ms", y="accuracy_mean"))
    hover = {}
    for t in fig.data:
        if t.customdata is not None:
            hover.update(zip(t.customdata, t.text, strict=True))
    assert "model B" in hover["B"] and "trial 12 of study s" in hover["B"] and "C=10" in hover["B"]
    assert "Latency p95 (ms): 2" in hover["B"] and "Accuracy: 0.8500" in hover["B"]
    assert "scored on rows it may have been trained on" in hover["B"]
    assert "scored on rows" not in hover["A"]
    assert SKEWED_NAME in hover["D"]


def test_hostile_strings_escaped(runs):
    fig = pareto_figure(pareto_info(runs, x="latency_p95_ms", y="accuracy_mean", color="size_bytes"))
    raw = fig.to_json()
    assert "<img" not in raw and "\\u003cimg" not in raw and "<script" not in raw
    strings = list(_strings(json.loads(raw)))
    assert not any("<img" in s or "<script" in s or "<b>bold" in s for s in strings)
    assert any("&lt;img src=x onerror=alert(1)&gt;" in s for s in strings)
    assert any("&lt;script&gt;" in s for s in strings)


def test_color_scale_and_colorbar(runs):
    info = pareto_info(runs, x="latency_p95_ms", y="accuracy_mean", color="size_bytes")
    fig = pareto_figure(info)
    scaled = [t for t in fig.data if t.marker is not None and t.marker.showscale]
    assert len(scaled) == 1
    assert "Size (bytes)" in scaled[0].marker.colorbar.title.text
    colored = [t for t in fig.data if t.mode == "markers" and t.customdata is not None]
    assert all(t.marker.cmin == 10 and t.marker.cmax == 1000 for t in colored)
    line = _line(fig)  # three objectives: a dotted line through the front, left to right
    np.testing.assert_array_equal(line.x, [0.5, 1.0, 2.0, 3.0, 10.0])
    assert line.line.dash == "dot"


def test_webgl_above_threshold():
    rng = np.random.default_rng(0)
    n = 600
    runs = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "label": [f"run {i}" for i in range(n)],
                         "latency_p95_ms": 10 ** rng.uniform(-1, 3, n), "accuracy_mean": rng.uniform(0.5, 1, n),
                         "latency_skewed": rng.random(n) < 0.1})
    info = pareto_info(runs, x="latency_p95_ms", y="accuracy_mean")
    fig = pareto_figure(info)
    assert {t.type for t in fig.data} == {"scattergl"}
    assert fig.layout.xaxis.type == "log"  # four decades
    line = _line(fig)
    assert len(line.x) == int(info["on_front"].sum())
    assert np.all(np.diff(np.asarray(line.x)) >= 0) and np.all(np.diff(np.asarray(line.y)) >= 0)
    small = pareto_figure(info.head(10).copy(), webgl_threshold=500)
    assert {t.type for t in small.data} == {"scatter"}
    assert {t.type for t in pareto_figure(info.head(10), webgl_threshold=5).data} == {"scattergl"}


def test_empty_info_gives_a_message(runs):
    info = pareto_info(runs[runs["run_id"].isin(["H", "I"])], x="latency_p95_ms", y="accuracy_mean")
    assert info.empty and info.attrs["n_dropped"] == 2
    fig = pareto_figure(info)
    assert len(fig.data) == 0
    text = fig.layout.annotations[0].text
    assert "Latency p95 (ms)" in text and "Accuracy" in text and "2 run(s)" in text
    assert len(pareto_figure(pareto_info(runs.iloc[:0], x="size_bytes", y="rmse_mean")).data) == 0


def test_dropped_runs_noted_in_title(runs):
    fig = pareto_figure(pareto_info(runs, x="latency_p95_ms", y="accuracy_mean"))
    assert "2 run(s) without" in fig.layout.title.text
