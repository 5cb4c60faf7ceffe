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


def _time_listing(ws: Path, repeats: int = 15) -> tuple[float, float]:
    """Median time of ``ResultStore.runs()`` (a) right after one more run was stored, the case the
    dashboard pays for (its cache is keyed by the results folder, so it lists again only after a
    change), and (b) again with nothing changed."""
    from engine.results import ResultStore
    from engine.workspace import Workspace

    store = ResultStore(Workspace(ws))
    store.runs()  # the index is built once, like the first page load after an upgrade
    src = next(p for p in (ws / "results").iterdir() if not p.name.startswith("."))
    summary = pd.read_parquet(src / "summary.parquet")
    after_add, unchanged = [], []
    for i in range(repeats):
        rid = f"{0xfff0000000000000 + i:016x}"
        shutil.copytree(src, ws / "results" / rid)
        summary.assign(run_id=rid).to_parquet(ws / "results" / rid / "summary.parquet", index=False)
        t0 = time.perf_counter()
        store.runs()
        after_add.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        store.runs()
        unchanged.append(time.perf_counter() - t0)
        shutil.rmtree(ws / "results" / rid)  # back to the stated number of runs
        store.runs()
    return statistics.median(after_add), statistics.median(unchanged)


def _time_pages(workspaces: list[Path], repeats: int = 15, setup=None) -> list[float]:
    """Median script time of a page (the Benchmark page unless ``setup(at, ws)`` switches) in AppTest, per
    workspace. The pages are rerun in turn (A B A B ...), so a burst of load on this noisy machine
    touches both sides alike, and the median of many reruns is compared, not one."""
    from streamlit.testing.v1 import AppTest

    apps = []
    for ws in workspaces:
        os.environ["FRONTIER_WORKSPACE"] = str(ws)
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=180)
        if setup is not None:  # e.g. open another page with query parameters
            setup(at, ws)
        at.run()  # warm: opens the workspace, fills caches
        assert not at.exception, at.exception
        apps.append(at)
    times: list[list[float]] = [[] for _ in workspaces]
    for _ in range(repeats):
        for ws, at, out in zip(workspaces, apps, times, strict=True):
            os.environ["FRONTIER_WORKSPACE"] = str(ws)
            t0 = time.perf_counter()
            at.run()
            out.append(time.perf_counter() - t0)
            assert not at.exception, at.exception
    return [statistics.median(t) for t in times]


def bench_listing() -> list[dict[str, Any]]:
    with scratch() as tmp:
        cli("benchmark", "--model", SAMPLES / "digits_logreg.skops", "--data", "digits", "--workspace",
            tmp / "template", "--json", "--no-latency", "--cv", "3")
        small, large = _workspace_with_runs(tmp, 10, tmp / "template"), _workspace_with_runs(tmp, 1000,
                                                                                            tmp / "template")
        (add_small, same_small), (add_large, same_large) = _time_listing(small), _time_listing(large)
        page_small, page_large = _time_pages([small, large])
    return [
        row("listing stored runs (`ResultStore.runs()`) after one more run was stored (what the dashboard "
            "pays after each benchmark): 1,000 runs / 10", f"{add_small * 1e3:.1f} ms", f"{add_large * 1e3:.1f} ms",
            add_large / add_small, "≤ 2x", add_large / add_small <= 2),
        row("listing again with nothing changed (a stat per run folder; the dashboard caches this case)",
            f"{same_small * 1e3:.1f} ms", f"{same_large * 1e3:.1f} ms", same_large / same_small, "(informational)",
            None),
        row("Benchmark page script time (AppTest rerun, median of 15 interleaved): 1,000 stored runs / 10",
            f"{page_small * 1e3:.0f} ms", f"{page_large * 1e3:.0f} ms", page_large / page_small, "≤ 2x",
            page_large / page_small <= 2),
    ]
