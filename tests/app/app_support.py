"""Helpers for the AppTest tests: open the app, find things, poll until a job is done."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine import models
from engine.workspace import Workspace

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
UPLOAD_PAGE = "../pages/upload.py"  # AppTest resolves pages relative to the main script
# Small, single-threaded latency settings keep the tests quick on a busy machine.
FAST_LATENCY = {"benchmark:lat_time": 0.02, "benchmark:lat_count": 5, "benchmark:lat_batches": [1, 32],
                "benchmark:threads": 1}


def new_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60)


def artifact_id(ws: Workspace, name: str) -> str:
    return next(i.id for i in models.list_registered(ws) if i.name == name)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def charts_of(at: AppTest) -> list:
    return list(at.get("plotly_chart"))


def run_until(at: AppTest, done, *, timeout_s: float = 150.0, pause_s: float = 0.3) -> AppTest:
    """Rerun the app (as the polling fragment would) until ``done(at)`` or the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return at
        if time.monotonic() > deadline:
            pytest.fail(f"app did not reach the expected state in {timeout_s:g} s; errors: {errors(at)}")
        time.sleep(pause_s)
