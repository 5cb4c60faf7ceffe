"""Helpers for the browser tests."""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def full_page_screenshot(page, name: str) -> Path:
    """Screenshot the whole app: Streamlit scrolls inside its main container, so grow the viewport to fit."""
    ARTIFACTS.mkdir(exist_ok=True)
    height = page.evaluate(
        "() => Math.max(...['[data-testid=\"stMain\"]', '[data-testid=\"stAppViewContainer\"]', 'body']"
        ".map(s => document.querySelector(s)).filter(Boolean).map(e => e.scrollHeight))")
    page.set_viewport_size({"width": 1440, "height": min(max(int(height) + 40, 900), 12000)})
    page.wait_for_timeout(800)  # let plotly re-layout at the new size
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def healthy(url: str) -> bool:
    """The Streamlit server answers its health check."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False
