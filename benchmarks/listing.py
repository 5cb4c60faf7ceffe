"""Listing runs and drawing the Benchmark page with 1,000 stored runs against 10."""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.common import ROOT, SAMPLES, cli, row, scratch


def _workspace_with_runs(tmp: Path, n: int, template: Path) -> Path:
    """A copy of ``template`` (a workspace with one run) holding ``n`` runs (copies of that run)."""
    ws = tmp / f"ws-{n}"
    shutil.copytree(template, ws)
    src = next(p for p in (ws / "results").iterdir() if not p.name.startswith("."))
    summary = pd.read_parquet(src / "summary.parquet")
    for i in range(n - 1):
        rid = f"{i:016x}"
        shutil.copytree(src, ws / "results" / rid)
        summary.assign(run_id=rid, model=f"model {i}",
                       created_at=pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(minutes=i)).astype(
            {"created_at": str}).to_parquet(ws / "results" / rid / "summary.parquet", index=False)
    return ws


def _time_listing(ws: Path, repeats: int = 7) -> float:
    from engine.results import ResultStore
    from engine.workspace import Workspace

    store = ResultStore(Workspace(ws))
    store.runs()  # the index is built once, like the first page load after an upgrade
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        store.runs()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _time_page(ws: Path, repeats: int = 5) -> float:
    """Median script time of the Benchmark page (the app's default page) in Streamlit's AppTest."""
    from streamlit.testing.v1 import AppTest

    os.environ["FRONTIER_WORKSPACE"] = str(ws)
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.run()  # warm: opens the workspace, fills caches
    assert not at.exception, at.exception
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_listing() -> list[dict[str, Any]]:
    with scratch() as tmp:
        cli("benchmark", "--model", SAMPLES / "digits_logreg.skops", "--data", "digits", "--workspace",
            tmp / "template", "--json", "--no-latency", "--cv", "3")
        small, large = _workspace_with_runs(tmp, 10, tmp / "template"), _workspace_with_runs(tmp, 1000,
                                                                                            tmp / "template")
        list_small, list_large = _time_listing(small), _time_listing(large)
        page_small, page_large = _time_page(small), _time_page(large)
    return [
        row("listing stored runs (`ResultStore.runs()`): 1,000 runs / 10 runs", f"{list_small * 1e3:.1f} ms",
            f"{list_large * 1e3:.1f} ms", list_large / list_small, "≤ 2x (informational: the page is the goal)",
            None),
        row("Benchmark page script time (AppTest rerun): 1,000 stored runs / 10", f"{page_small:.2f} s",
            f"{page_large:.2f} s", page_large / page_small, "≤ 2x", page_large / page_small <= 2),
    ]
