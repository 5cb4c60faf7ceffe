"""Start the dashboard as ``make run`` and as ``make serve`` do, in fresh workspaces, and drive a real Chromium.

``dashboard`` is the embedded one-person server; ``served`` is the team server
started through ``python -m dashboard.serve`` in a folder of its own, with a
``.streamlit/secrets.toml`` written by the test (alice and bob with passwords,
carol an admin) and ``HOME`` pointing there too, so no real secrets are read.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
START_TIMEOUT_S = 90
HOSTILE_MEMORY_MB = 1500
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22", "carol": "carol-admin-333"}


@dataclass(frozen=True)
class Dashboard:
    url: str
    workspace: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.status == 200 and resp.read().strip() == b"ok"
    except OSError:
        return False


def _cancel_jobs(root: Path) -> None:
    """Workers run detached from the server: stop any the test left running."""
    from engine import jobs
    from engine.workspace import Workspace

    if root.is_dir():
        ws = Workspace.open(root)
        for job in jobs.list_jobs(ws, active_only=True):
            jobs.cancel(ws, job.job_id)


def _requirements() -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing; install Debian's chromium (make apt-test-deps)")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory) -> Iterator[Dashboard]:
    """``make run``: streamlit on 127.0.0.1, no sign-in."""
    _requirements()
    tmp = tmp_path_factory.mktemp("dashboard")
    port = _free_port()
    # a memory cap well above a normal worker (~0.5 GB) so a hostile model is stopped quickly
    env = os.environ | {"FRONTIER_WORKSPACE": str(tmp / "ws"), "PYTHONUNBUFFERED": "1",
                        "FRONTIER_WORKER_MEMORY_MB": str(HOSTILE_MEMORY_MB)}
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.address", "127.0.0.1",
               "--server.port", str(port), "--server.headless", "true"]
    yield from _serve(command, cwd=REPO_ROOT, env=env, tmp=tmp, port=port)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Dashboard]:
    """``make serve``: the launcher, sign-in by password, hardened settings."""
    _requirements()
    from dashboard.auth import passwords

    site = tmp_path_factory.mktemp("served")
    (site / ".streamlit").mkdir()
    shutil.copyfile(REPO_ROOT / ".streamlit" / "config.toml", site / ".streamlit" / "config.toml")
    users = "\n".join(f'{name} = "{passwords.hash_password(pw)}"' for name, pw in PASSWORDS.items())
    (site / ".streamlit" / "secrets.toml").write_text(f'[frontier]\nadmins = ["carol"]\n\n[frontier.users]\n{users}\n')
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env |= {"FRONTIER_WORKSPACE": str(site / "ws"), "PYTHONUNBUFFERED": "1", "HOME": str(site),
            "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "dashboard.serve", "--host", "127.0.0.1", "--port", str(port)]
    yield from _serve(command, cwd=site, env=env, tmp=site, port=port)


def _serve(command: list[str], *, cwd: Path, env: dict[str, str], tmp: Path, port: int) -> Iterator[Dashboard]:
    url = f"http://127.0.0.1:{port}"
    log = tmp / "streamlit.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None:
                pytest.fail(f"the dashboard exited with code {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the dashboard did not answer {url}/_stcore/health in {START_TIMEOUT_S} s")
            time.sleep(0.3)
        yield Dashboard(url, tmp / "ws", log)
    finally:
        _cancel_jobs(tmp / "ws")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    _requirements()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        context.close()
