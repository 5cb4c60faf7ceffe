"""The dashboard in a real Chromium: run a benchmark through the UI and see its charts.

Screenshots land in ``test-artifacts/`` (git-ignored) for a human to look at.
"""

from __future__ import annotations

import re

import pytest
from browser_support import ARTIFACTS, full_page_screenshot

pytestmark = pytest.mark.browser

RESULTS_TIMEOUT_MS = 180_000


def _open_benchmark_with(page, url: str, option: str) -> None:
    """Open the Benchmark page and pick one model in the Models box."""
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("heading", name="Benchmark").wait_for(timeout=60_000)
    page.locator('[data-testid="stMultiSelect"]').filter(has_text="Models").first.click()
    page.keyboard.type(option.split(" · ")[0])
    page.get_by_role("option", name=option).click()
    page.keyboard.press("Escape")


def _set_number(page, label: str, value) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Tab")  # commit the value (Enter would submit the form)


def test_benchmark_page_runs_a_benchmark_and_draws_charts(dashboard, page):
    js_errors: list[str] = []
    page.on("pageerror", lambda exc: js_errors.append(str(exc)))
    _open_benchmark_with(page, dashboard.url, "Logistic regression (scikit-learn) · skops")
    _set_number(page, "Folds", 3)
    page.get_by_text("Latency settings").click()
    _set_number(page, "Minimum time per batch size (s)", 0.02)
    _set_number(page, "Minimum timed calls", 5)
    _set_number(page, "Threads", 1)
    page.get_by_role("button", name="Run benchmark").click()

    page.locator('[data-testid="stProgress"], .js-plotly-plot').first.wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=RESULTS_TIMEOUT_MS)
    page.wait_for_timeout(1500)  # let the remaining charts draw
    assert page.locator(".js-plotly-plot").count() >= 1
    assert page.get_by_text("Logistic regression (scikit-learn)").count() >= 1
    assert page.locator('[data-testid="stDataFrame"]').count() >= 2  # current results + previous runs
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0

    # every chart tab draws: visit them all, counting the charts that are shown
    tabs = page.get_by_role("tab")
    names = [tabs.nth(i).inner_text().strip() for i in range(tabs.count())]
    assert names[:7] == ["Metrics", "Confusion matrices", "ROC", "PR", "Calibration", "Latency", "Per-class report"]
    for i, name in enumerate(names[:6]):
        tabs.nth(i).click()
        panel = page.get_by_role("tabpanel", name=name)
        panel.locator(".js-plotly-plot").first.wait_for(timeout=20_000)
    tabs.nth(5).click()  # the latency tab: distribution and batch sweep
    assert page.get_by_role("tabpanel", name="Latency").locator(".js-plotly-plot").count() == 2
    tabs.nth(0).click()
    page.wait_for_timeout(500)
    shot = full_page_screenshot(page, "benchmark.png")
    assert shot.stat().st_size > 20_000
    assert not js_errors, js_errors


def test_upload_page_lists_the_samples(dashboard, page):
    page.goto(f"{dashboard.url}/models", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Models & data").wait_for(timeout=60_000)
    page.locator('[data-testid="stDataFrame"]').nth(1).wait_for()
    assert page.get_by_text("I trust this file (it may run code when loaded)").count() == 1
    assert page.locator('[data-testid="stFileUploader"]').count() == 2
    page.wait_for_timeout(1000)
    shot = full_page_screenshot(page, "upload.png")
    assert shot.stat().st_size > 20_000


def _memory_hog(path) -> None:
    """A TorchScript model whose forward allocates without bound."""
    import torch

    class Hog(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            chunks: list[torch.Tensor] = []
            for _ in range(100000):  # 50 MB each, all kept alive
                chunks.append(torch.rand(12_500_000))
            return x[:, :10] * chunks[-1][0]

    torch.jit.save(torch.jit.script(Hog()), str(path))


def test_a_hostile_model_fails_its_own_run_and_the_dashboard_keeps_serving(dashboard, page, tmp_path):
    from browser_support import healthy

    from engine import models
    from engine.workspace import Workspace

    _memory_hog(tmp_path / "hog.pt")
    results = dashboard.workspace / "results"
    before = sorted(p.name for p in results.iterdir()) if results.is_dir() else []
    models.register_file(Workspace.open(dashboard.workspace), tmp_path / "hog.pt", trusted=True,
                            display_name="Memory hog")
    _open_benchmark_with(page, dashboard.url, "Memory hog · torchscript")
    page.get_by_role("button", name="Run benchmark").click()

    error = page.locator('[data-testid="stAlertContentError"] [data-testid="stMarkdownContainer"]').first
    error.wait_for(timeout=RESULTS_TIMEOUT_MS)
    assert "memory" in error.inner_text()
    assert len(error.inner_text().strip().splitlines()) == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    full_page_screenshot(page, "hostile.png")
    assert healthy(dashboard.url)
    assert sorted(p.name for p in results.iterdir()) == before  # the failed run stored nothing
    page.goto(f"{dashboard.url}/models", wait_until="domcontentloaded")  # and the server still serves pages
    page.get_by_role("heading", name="Models & data").wait_for(timeout=30_000)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)


def test_results_table_fits_1400_px_with_the_model_pinned_and_best_marked(dashboard, page):
    """Three stored runs compared at 1400 px: decision columns visible without scrolling, best values marked."""
    from engine import benchmark, datasets, jobs, models, samples
    from engine.measure.latency import LatencySettings
    from engine.workspace import Workspace

    ws = Workspace.open(dashboard.workspace)
    samples.ensure_registered(ws)
    chosen = [i for i in models.list_registered(ws)
              if i.name in ("Logistic regression (scikit-learn)", "MLP (ONNX)", "Random forest (scikit-learn)")]
    plan = benchmark.plan(ws, chosen, datasets.builtin("digits"), benchmark.BenchmarkConfig(
        cv=3, threads=1, latency=LatencySettings(batch_sizes=(1, 32), min_time_s=0.02, min_count=5)))
    if plan.pending:
        assert jobs.wait(ws, jobs.submit(ws, plan.to_request(), title="three models"), timeout_s=300).state == "done"
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(dashboard.url, wait_until="domcontentloaded")
    page.get_by_role("heading", name="Previous runs").wait_for(timeout=60_000)
    box = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Show charts for")
    for run in plan.runs:
        box.locator("input").click()
        page.keyboard.type(run.name.split(" (")[0])
        page.get_by_role("option", name=re.compile(re.escape(run.name))).first.click()
        page.keyboard.press("Escape")
        page.wait_for_timeout(1500)  # the page reruns with the new choice
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    table = page.locator('[data-testid="stDataFrame"]').nth(1)
    table.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    headers = [h.text_content() for h in table.locator('th[role="columnheader"]').all()]
    # the ONNX sample, trained on 70 % of digits and scored as-is, is marked; refit-per-fold runs are not
    assert headers == ["Model", "Caution", "Accuracy", "Accuracy ±", "p50 ms", "p95 ms", "rows/s", "Size"]
    rows = [[c.text_content() for c in r.locator("td").all()] for r in table.locator("tbody tr").all()]
    cautions = {r[0]: r[1] for r in rows if len(r) > 1}
    # the grid renders rows lazily, so check the rows it has drawn: the as-is sample is marked, refit runs are not
    assert cautions.get("MLP (ONNX)") == "scored on rows it was trained on", rows
    assert all(text == "" for model, text in cautions.items() if model != "MLP (ONNX)"), rows
    box = table.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1400  # all decision columns on screen, no scrolling
    assert page.get_by_text("Sorted by Accuracy (higher is better)").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "results_table.png"), full_page=False)
