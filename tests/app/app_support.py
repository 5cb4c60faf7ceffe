"""Helpers for the AppTest tests: open the app (optionally with sign-in), find things, poll jobs."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.auth import passwords
from engine import jobs, models
from engine.workspace import Workspace

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
UPLOAD_PAGE = "../pages/upload.py"  # AppTest resolves pages relative to the main script
BENCHMARK_PAGE = "../pages/benchmark.py"
# Small, single-threaded latency settings keep the tests quick on a busy machine.
FAST_LATENCY = {"benchmark:lat_time": 0.02, "benchmark:lat_count": 5, "benchmark:lat_batches": [1, 32],
                "benchmark:threads": 1}
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22", "carol": "carol-admin-333"}
HOSTILE = '[click](http://evil) **b** <a href="http://x">y</a> ![i](http://img)'


def _hashes() -> dict[str, str]:
    """Password hashes made once per test session (scrypt is deliberately slow)."""
    if not _HASHES:
        _HASHES.update({u: passwords.hash_password(p) for u, p in PASSWORDS.items()})
    return _HASHES


_HASHES: dict[str, str] = {}


def team_secrets(**extra: Any) -> dict[str, Any]:
    """Secrets of a team deployment: alice and bob with passwords, carol an admin."""
    return {"frontier": {"users": dict(_hashes()), "admins": ["carol"], **extra}}


def new_app(*, secrets: dict[str, Any] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if secrets is not None:
        at.secrets = secrets
    return at


def sign_in(at: AppTest, user: str, password: str | None = None) -> AppTest:
    """Fill the sign-in form and submit it."""
    at.text_input(key="auth:name").set_value(user)
    at.text_input(key="auth:password").set_value(PASSWORDS[user] if password is None else password)
    at.button(key="FormSubmitter:auth:sign_in-Sign in").click()
    return at.run()


def signed_in_app(user: str, *, secrets: dict[str, Any] | None = None) -> AppTest:
    at = new_app(secrets=secrets or team_secrets()).run()
    sign_in(at, user)
    assert not at.exception and at.title and at.title[0].value != "Frontier", texts(at)
    return at


def artifact_id(ws: Workspace, name: str) -> str:
    return next(i.id for i in models.list_registered(ws) if i.name == name)


def plain(markdown: str) -> str:
    """What an escaped markdown string reads as on screen (backslash escapes and word joiners resolved)."""
    return re.sub(r"\\(.)", r"\1", str(markdown)).replace("\u2060", "")


def errors(at: AppTest) -> list[str]:
    return [plain(e.value) for e in at.error]


def warnings(at: AppTest) -> list[str]:
    return [plain(e.value) for e in at.warning]


def successes(at: AppTest) -> list[str]:
    return [plain(e.value) for e in at.success]


def infos(at: AppTest) -> list[str]:
    return [plain(e.value) for e in at.info]


def captions(at: AppTest) -> list[str]:
    return [plain(e.value) for e in at.caption]


def texts(at: AppTest) -> list[str]:
    """Every markdown-rendered string on the page: markdown, captions, alerts, titles, labels."""
    out: list[str] = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "title", "subheader", "header",
                 "toast"):
        out += [str(e.value) for e in at.get(kind)]
    for kind in ("button", "checkbox", "radio", "selectbox", "multiselect", "text_input", "number_input",
                 "expander", "tabs", "toggle", "file_uploader"):
        out += [str(getattr(e, "label", "")) for e in at.get(kind)]
    out += [e.proto.text for e in at.get("progress")]
    return out


def charts_of(at: AppTest) -> list:
    return list(at.get("plotly_chart"))


def form_key(at: AppTest, kind: str, name: str) -> str:
    """The key of an upload form widget (its generation changes when the form is emptied)."""
    gen = at.session_state.get(f"upload:{kind}_form_gen", 0)
    return f"upload:{kind}_{name}:{gen}"


def wait_for_jobs(ws: Workspace, *, timeout_s: float = 150.0) -> None:
    for job in jobs.list_jobs(ws, active_only=True):
        jobs.wait(ws, job.job_id, timeout_s=timeout_s)


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
