"""The Compare page and its report in a real Chromium: a copied link opens the same comparison in a
fresh browser, and the exported report of real runs (one with a hostile name) draws offline, runs nothing."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
from browser_support import full_page_screenshot
from frontier_support import copy_workspace, run_cli

from engine.results import ResultStore
from engine.workspace import Workspace

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"
PAGE_TIMEOUT_MS = 90_000


def _stock(dashboard, populated_workspace) -> list[str]:
    results = dashboard.workspace / "results"
    results.mkdir(parents=True, exist_ok=True)
    for run in (populated_workspace / "results").iterdir():
        if run.is_dir() and not run.name.startswith(".") and not (results / run.name).exists():
            shutil.copytree(run, results / run.name)
    return ResultStore(Workspace(dashboard.workspace)).runs()["run_id"].tolist()


def _verdict(page) -> str:
    box = page.get_by_text(re.compile(r"^Verdict\.")).first
    box.wait_for(timeout=PAGE_TIMEOUT_MS)
    return page.locator('[data-testid="stMarkdownContainer"]', has_text="Verdict.").first.inner_text()


def _chips(page) -> list[str]:
    """The chosen runs, as the 'Runs to compare' picker shows them."""
    tags = page.locator('[data-testid="stMultiSelect"]', has_text="Runs to compare").locator("[data-tag]")
    return [t.get_attribute("aria-label") for t in tags.all()]


def test_a_copied_link_opens_the_same_comparison_in_a_fresh_browser(dashboard, browser, populated_workspace):
    runs = _stock(dashboard, populated_workspace)[:3]
    first = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = first.new_page()
    page.goto(f"{dashboard.url}/compare?runs={','.join(runs)}&baseline={runs[1]}&view=Pareto&x=size_bytes",
              wait_until="domcontentloaded")
    verdict = _verdict(page)
    page.locator(".js-plotly-plot").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    chips = _chips(page)
    assert len(chips) == 3
    link = page.locator('[data-testid="stSidebar"] code').first.inner_text().replace("\n", "")
    assert f"baseline={runs[1]}" in link and "view=Pareto" in link and "x=size_bytes" in link
    full_page_screenshot(page, "compare.png")
    first.close()

    fresh = browser.new_context(viewport={"width": 1440, "height": 1000})  # no cookies, no session
    other = fresh.new_page()
    other.goto(link, wait_until="domcontentloaded")
    assert _verdict(other) == verdict
    other.locator(".js-plotly-plot").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    assert _chips(other) == chips
    assert other.locator('[data-testid="stSidebar"] code').first.inner_text().replace("\n", "") == link
    fresh.close()


def test_the_exported_report_draws_offline_and_shows_a_hostile_name_as_text(browser, populated_workspace,
                                                                            tmp_path):
    ws = copy_workspace(populated_workspace, tmp_path / "ws")
    run_id = ResultStore(Workspace(ws)).runs()["run_id"].iloc[0]
    summary = ws / "results" / run_id / "summary.parquet"
    pd.read_parquet(summary).assign(model=HOSTILE).to_parquet(summary, index=False)
    out = tmp_path / "report.html"
    result = run_cli("report", "--out", out, "--workspace", ws, "--baseline", run_id, "--json")
    assert result.returncode == 0, str(result)
    html = out.read_text()
    n_figures = len(re.findall(r'<script type="application/json" id="section-[0-9]+-figure-[0-9]+-data">', html))
    assert n_figures >= 8

    context = browser.new_context(viewport={"width": 1440, "height": 1000}, offline=True)
    page = context.new_page()
    requests, problems, dialogs = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(out.as_uri())
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n_figures}",
                           timeout=60_000)
    assert page.locator(".js-plotly-plot").count() == n_figures
    assert not problems and not dialogs
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert HOSTILE in page.inner_text("body")  # shown as typed, in the verdict, tables and legends
    assert page.locator("img").count() == 0
    full_page_screenshot(page, "compare_report.png")
    context.close()
