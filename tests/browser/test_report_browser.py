"""The HTML report in a real Chromium, opened from disk with the network cut: charts draw, nothing runs.

The screenshot lands in ``test-artifacts/report.png`` (git-ignored) for a human to look at.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from browser_support import full_page_screenshot

from engine.charts.style import TITLE_ONLY_MARGIN, color, layout, log_axis, titled
from engine.report import Report, Section, Table, write

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"
BREAKOUT = "</script><script>alert(2)</script><!--\u2028"
MODELS = ["Logistic regression", "Random forest", "Gradient boosting", HOSTILE]


def _figures() -> list[go.Figure]:
    accuracy = [0.912, 0.947, 0.958, 0.931]
    latency = [0.08, 1.9, 0.74, 0.31]
    scatter = go.Figure()
    for i, (name, acc, lat) in enumerate(zip(MODELS, accuracy, latency, strict=True)):
        scatter.add_trace(go.Scatter(x=[lat], y=[acc], name=name, mode="markers",
                                     marker={"size": 14, "color": color(i)}))
    scatter.update_layout(**layout(margin={"t": 90}), title=titled("Accuracy against latency"),
                          xaxis=log_axis(min(latency), max(latency)) | {"title": {"text": "p50 latency per row (ms)"}},
                          yaxis={"title": {"text": "accuracy"}}, height=420)

    bars = go.Figure(go.Bar(x=MODELS, y=accuracy, error_y={"type": "data", "array": [0.01, 0.008, 0.006, 0.012]},
                            marker={"color": [color(i) for i in range(len(MODELS))]}, name=BREAKOUT))
    bars.update_layout(**layout(margin=TITLE_ONLY_MARGIN), title=titled("Cross-validated accuracy (mean ± std over 5 folds)"),
                       yaxis={"range": [0.85, 1.0], "title": {"text": "accuracy"}}, height=380)

    sizes = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256])
    sweep = go.Figure()
    lows, highs = [], []
    for i, (name, lat) in enumerate(zip(MODELS, latency, strict=True)):
        ys = lat * (1 + 9 / np.sqrt(sizes))
        lows.append(ys.min())
        highs.append(ys.max())
        sweep.add_trace(go.Scatter(x=sizes, y=ys, name=name, mode="lines+markers", line={"color": color(i)}))
    sweep.update_layout(**layout(margin={"t": 90}), title=titled("Latency per row by batch size"),
                        xaxis=log_axis(1, 256) | {"title": {"text": "batch size"}},
                        yaxis=log_axis(min(lows), max(highs)) | {"title": {"text": "ms per row"}}, height=420)
    return [scatter, bars, sweep]


def _report() -> Report:
    frame = pd.DataFrame({
        "model": MODELS,
        "accuracy": ["0.912 ± 0.010", "0.947 ± 0.008", "0.958 ± 0.006", "0.931 ± 0.012"],
        "macro F1": [0.905, 0.941, 0.955, np.nan],
        "p50 latency (ms)": [0.08, 1.9, 0.74, 0.31],
        "size (MB)": [0.06, 38.2, 2.4, None],
        HOSTILE: ["a", "b", "c", "d"],
    })
    table = Table(title="Scores", frame=frame, note="Mean ± std over 5 stratified folds; n/a: not measured.",
                  highlight={"accuracy": [2], "macro F1": [2], "p50 latency (ms)": [0], "size (MB)": [0]})
    figures = _figures()
    return Report(
        title="Digits: four classifiers compared",
        verdict="Gradient boosting is the most accurate (0.958), 9× slower than logistic regression per row.",
        sections=[
            Section(title="Accuracy and latency", figures=figures[:2], tables=[table],
                    notes=["Every model saw the same 5 folds, so paired differences are meaningful."]),
            Section(title=f"Batch sweep {HOSTILE}", figures=figures[2:]),
        ],
        provenance={"runs": [{"id": "20250102-0304-ab12", "dataset": "digits.csv", "rows": 1797}],
                    "versions": {"frontier": "0.1.0", "python": "3.11"}, "note": HOSTILE},
        warnings=[f"Model {HOSTILE} was evaluated as-is (not refit per fold)."],
        generated_at="2025-01-02T03:04:05+00:00",
    )


def test_the_report_opens_offline_draws_its_charts_and_runs_nothing(page, tmp_path):
    report = _report()
    path = tmp_path / "report.html"
    size = write(report, path)
    assert size > 1_000_000  # plotly.js inside

    console_errors: list[str] = []
    page_errors: list[str] = []
    dialogs: list[str] = []
    requests: list[str] = []
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.context.route("**/*", route)
    page.context.set_offline(True)
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda req: requests.append(req.url))

    page.goto(path.as_uri(), wait_until="load")
    n_figures = sum(len(s.figures) for s in report.sections)
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n_figures}")
    page.wait_for_timeout(500)

    charts = page.locator(".js-plotly-plot")
    assert charts.count() == n_figures == 3
    drawn = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(el => ({
        svgs: el.querySelectorAll('svg.main-svg').length,
        traces: el.querySelectorAll('g.trace').length,
        points: el.querySelectorAll('g.trace path.point, g.trace g.point path, g.trace path.js-line').length,
        data: (el.data || []).length,
        height: el.getBoundingClientRect().height}))""")
    for chart in drawn:
        assert chart["svgs"] >= 1 and chart["data"] >= 1 and chart["traces"] >= 1, drawn
        assert chart["points"] >= 1 and chart["height"] > 200, drawn

    # the hostile strings are text: in the legend, the table, the headings; never an element
    legend = page.locator(".js-plotly-plot").first.locator(".legendtext")
    assert HOSTILE in legend.all_text_contents()
    assert page.get_by_role("cell", name=HOSTILE, exact=True).count() == 1
    assert page.get_by_role("columnheader", name=HOSTILE, exact=True).count() == 1
    assert HOSTILE in page.locator("body").inner_text()
    assert page.get_by_text(f"Batch sweep {HOSTILE}", exact=True).count() >= 1
    assert page.evaluate("() => document.images.length") == 0
    assert page.evaluate("() => typeof window.Plotly") == "object"

    # a picture for a human, before any hover or zoom
    shot = full_page_screenshot(page, "report.png")
    assert shot.is_file() and shot.stat().st_size > 10_000

    # interactive: hovering a point shows its label, dragging zooms
    first = charts.first
    first.locator("g.trace path.point").nth(1).hover(force=True)
    page.locator(".hoverlayer .hovertext").first.wait_for(timeout=5_000)
    before = page.evaluate("() => document.querySelector('.js-plotly-plot').layout.xaxis.range.slice()")
    box = first.locator(".nsewdrag").first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7, steps=8)
    page.mouse.up()
    page.wait_for_timeout(300)
    after = page.evaluate("() => document.querySelector('.js-plotly-plot').layout.xaxis.range.slice()")
    assert after != before
    page.evaluate("() => Plotly.relayout(document.querySelector('.js-plotly-plot'), "
                  "{'xaxis.autorange': true, 'yaxis.autorange': true})")
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)

    # the contents links jump within the page
    page.get_by_role("link", name="Provenance").click()
    assert page.evaluate("() => location.hash") == "#provenance"

    assert dialogs == []
    assert page_errors == []
    assert console_errors == []
    assert blocked == []
    assert all(url.startswith(("file:", "data:", "about:", "blob:")) for url in requests), requests


def test_printing_fits_the_charts_to_the_page_and_restores_them(page, tmp_path):
    path = tmp_path / "report.html"
    write(_report(), path)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3")
    widths = "() => [...document.querySelectorAll('.js-plotly-plot')].map(el => Math.round(el._fullLayout.width))"
    on_screen = page.evaluate(widths)
    assert all(w > 900 for w in on_screen), on_screen
    # runs after the report's own beforeprint handler, so it sees the widths the page prints with
    page.evaluate(f"() => window.addEventListener('beforeprint', () => {{ window.printed = ({widths})(); }})")
    pdf = page.pdf(path=str(tmp_path / "report.pdf"), format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    assert all(w <= 680 for w in page.evaluate("() => window.printed")), page.evaluate("() => window.printed")
    page.wait_for_function(f"({widths})().every(w => w > 900)")
    assert page.evaluate(widths) == on_screen
