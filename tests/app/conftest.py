"""AppTest fixtures: a workspace with the bundled samples registered once, copied per test.

The dashboard opens ``$FRONTIER_WORKSPACE``; each test points it at its own
copy, so uploads and deletions never leak between tests. Sign-in throttles
live in the process (``st.cache_resource``): each test starts with them empty.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dashboard.auth import gate
from engine import jobs, samples
from engine.workspace import Workspace


@pytest.fixture(scope="session")
def seeded_workspace(tmp_path_factory) -> Path:
    """Built-in datasets and sample models registered (read-only: tests get copies)."""
    root = tmp_path_factory.mktemp("seeded") / "ws"
    samples.ensure_registered(Workspace.open(root))
    return root


@pytest.fixture
def workspace(seeded_workspace, tmp_path, monkeypatch) -> Workspace:
    root = tmp_path / "ws"
    shutil.copytree(seeded_workspace, root)
    monkeypatch.setenv("FRONTIER_WORKSPACE", str(root))
    ws = Workspace.open(root)
    yield ws
    for job in jobs.list_jobs(ws, active_only=True):  # never leave workers behind
        jobs.cancel(ws, job.job_id)


@pytest.fixture(autouse=True)
def fresh_throttles():
    for throttle in gate.throttles():
        throttle.reset()
    yield
