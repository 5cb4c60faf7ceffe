"""The Compress page in a real Chromium: the devices line, a compression started from the form, its progress,
and the variants table, Pareto chart, downloads and Compare link when it is done (survives a refresh)."""

from __future__ import annotations

import re

import pytest
from browser_support import full_page_screenshot

pytestmark = pytest.mark.browser
PAGE_TIMEOUT_MS = 180_000


def test_compress_a_model_and_read_its_variants(dashboard, browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(f"{dashboard.url}/compress", wait_until="domcontentloaded")
    page.get_by_text(re.compile(r"This server: CPU")).wait_for(timeout=PAGE_TIMEOUT_MS)
    page.get_by_role("button", name=re.compile(r"^Remove auto")).click()
    page.get_by_role("combobox", name="Methods").click()
    page.get_by_role("option", name=re.compile(r"^dynamic int8")).click()
    page.keyboard.press("Escape")
    page.get_by_text("Recipe settings").click()
    page.get_by_role("spinbutton", name="Folds", exact=True).fill("3")
    page.get_by_role("button", name=re.compile("^Compress$")).click()
    page.wait_for_url(re.compile(r"[?&]job=[0-9a-f]+"), timeout=PAGE_TIMEOUT_MS)
    job_url = page.url
    page.reload(wait_until="domcontentloaded")  # a refresh finds the same job again
    assert page.url == job_url
    page.get_by_text(re.compile(r"2 variant\(s\) of")).wait_for(timeout=PAGE_TIMEOUT_MS)
    page.locator(".js-plotly-plot").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.get_by_role("link", name=re.compile("Compare the 3 runs")).wait_for(timeout=PAGE_TIMEOUT_MS)
    assert page.get_by_role("button", name=re.compile(r"dynamic-int8")).count() == 2  # a download each
    assert page.locator('[data-testid="stException"]').count() == 0
    page.get_by_text("Batch size × precision sweep").click()
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=PAGE_TIMEOUT_MS)
    full_page_screenshot(page, "compress.png")
    context.close()
