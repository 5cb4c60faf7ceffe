"""The Tune page in a real Chromium: launch a small study, watch its trials arrive live, survive a refresh,
and land on its charts and saved best trial."""

from __future__ import annotations

import re

import optuna
import pytest
from browser_support import full_page_screenshot

from engine.tune.storage import default_url
from engine.workspace import Workspace

pytestmark = pytest.mark.browser
PAGE_TIMEOUT_MS = 120_000


def test_launch_and_watch_a_study(dashboard, browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(f"{dashboard.url}/tune", wait_until="domcontentloaded")
    page.get_by_text("Start study").wait_for(timeout=PAGE_TIMEOUT_MS)
    page.locator('[data-testid="stSelectbox"]', has_text="Model family").click()
    page.get_by_role("option", name=re.compile("Logistic")).click()
    page.get_by_role("spinbutton", name="Trials", exact=True).fill("12")
    page.get_by_role("spinbutton", name="Folds", exact=True).fill("3")
    page.get_by_role("spinbutton", name="Best trials to save", exact=True).fill("1")
    page.get_by_role("textbox", name="Study name", exact=True).fill("browser-study")
    page.get_by_role("button", name=re.compile("Start study")).click()
    # the job is named in the URL, its progress and the live trials chart appear while it runs
    page.wait_for_url(re.compile(r"[?&]job=[0-9a-f]+"), timeout=PAGE_TIMEOUT_MS)
    page.get_by_text(re.compile(r"trial \d+ of 12|trials finished")).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    job_url = page.url
    page.reload(wait_until="domcontentloaded")  # a refresh finds the same job again
    assert page.url == job_url
    page.get_by_text(re.compile(r"Study browser-study finished: 12 trials")).wait_for(timeout=PAGE_TIMEOUT_MS)
    page.get_by_text("Best trial").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.locator(".js-plotly-plot").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.get_by_role("link", name=re.compile("Compare the 1 saved trial")).wait_for(timeout=PAGE_TIMEOUT_MS)
    full_page_screenshot(page, "tune.png")
    study = optuna.load_study(study_name="browser-study", storage=default_url(Workspace(dashboard.workspace)))
    assert len(study.trials) == 12
    context.close()
