"""The Compare page with 1,000 stored runs against 10, and the cost of its data and figures.

Two measures, both ratios taken in the same run:

* the page's data and figures for 1,000 runs — filtering the run index, the
  Pareto record and its (WebGL) figure over every run — against reading the
  runs table alone (``ResultStore.runs()``), the floor any page pays;
* the page's script time in Streamlit's AppTest, comparing the same five
  runs, in a workspace of 1,000 stored runs against one of 10 (median of
  interleaved reruns).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.common import SAMPLES, cli, median_time, row, scratch
from benchmarks.listing import _time_pages, _workspace_with_runs


def _data_and_figures(ws: Path) -> tuple[float, float]:
    """(reading the runs table, filtering + Pareto record + figure of every run), median seconds."""
    from engine.charts.pareto import pareto_figure
    from engine.compare import RunFilter, candidates
    from engine.compare.build import Axes, overview
    from engine.results import ResultStore
    from engine.workspace import Workspace

    store = ResultStore(Workspace(ws))
    store.runs()  # the index exists, as on any page load after the first

    def page() -> None:
        runs = store.runs()
        matching = candidates(runs, RunFilter())
        pareto_figure(overview(matching, Axes())).to_dict()
    return median_time(store.runs), median_time(page)


def _page_times(workspaces: list[Path], run_ids: list[list[str]], repeats: int = 11) -> list[float]:
    """The Compare page comparing ``run_ids`` in each workspace (the listing benchmark's interleaved loop)."""
    ids = {ws: r for ws, r in zip(workspaces, run_ids, strict=True)}

    def open_compare(at, ws: Path) -> None:
        at.query_params["runs"] = ",".join(ids[ws])
        at.switch_page("../pages/compare.py")
    return _time_pages(workspaces, repeats, setup=open_compare)


def bench_compare_page() -> list[dict[str, Any]]:
    from engine.results import ResultStore
    from engine.workspace import Workspace

    with scratch() as tmp:
        cli("benchmark", "--model", SAMPLES / "digits_logreg.skops", "--data", "digits", "--workspace",
            tmp / "template", "--json", "--cv", "3", "--latency-time", "0.02", "--latency-count", "5",
            "--batch-sizes", "1,8")
        small, large = _workspace_with_runs(tmp, 10, tmp / "template"), _workspace_with_runs(tmp, 1000,
                                                                                            tmp / "template")
        read, page = _data_and_figures(large)
        _, page_10 = _data_and_figures(small)
        ids = [ResultStore(Workspace(ws)).runs()["run_id"].head(5).tolist() for ws in (small, large)]
        page_small, page_large = _page_times([small, large], ids)
    return [
        row("Compare page data + figures for 1,000 runs (filter the index, Pareto record and WebGL figure of "
            "every run) / reading the runs table alone", f"{read * 1e3:.1f} ms", f"{page * 1e3:.1f} ms",
            page / read, "(recorded)", None),
        row("the same data + figures: 1,000 stored runs / 10 (Plotly's per-figure cost dominates at 10)",
            f"{page_10 * 1e3:.1f} ms", f"{page * 1e3:.1f} ms", page / page_10, "(recorded)", None),
        row("Compare page script time (AppTest rerun comparing 5 runs, median of 11 interleaved): 1,000 stored "
            "runs / 10", f"{page_small * 1e3:.0f} ms", f"{page_large * 1e3:.0f} ms", page_large / page_small,
            "≤ 2x", page_large / page_small <= 2),
    ]
