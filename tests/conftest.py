"""Session fixtures shared by the whole suite: sample workspaces built once.

Fixtures that hand out a workspace are *read-only*: copy one with
:func:`frontier_support.copy_workspace` before changing anything.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Trust records are signed with a per-installation key kept outside the workspace
# (~/.config/frontier/secret.key): the suite, its CLI runs, workers and dashboards use a
# private one, never the developer's.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="frontier-test-config-")
os.environ.pop("FRONTIER_SECRET_KEY", None)

import pytest
from frontier_support import (
    DIGITS_MODELS,
    DIGITS_ONNX_NAME,
    FAST_BENCH,
    REPO_ROOT,
    Comparison,
    run_cli,
    sample,
)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def digits_comparison(tmp_path_factory) -> Comparison:
    """One CLI comparison of five sample models on digits (read-only; copy to change).

    ONNX, torch.export and TorchScript are evaluated as-is; the two skops models are
    refit per fold. The first model is renamed with ``--name``.
    """
    ws = tmp_path_factory.mktemp("digits-comparison") / "ws"
    args = ["benchmark", "--data", "digits", "--workspace", ws, "--json", "--trust",
            "--name", DIGITS_ONNX_NAME, *FAST_BENCH]
    for file in DIGITS_MODELS:
        args += ["--model", sample(file)]
    result = run_cli(*args)
    assert result.returncode == 0, str(result)
    return Comparison(ws, result, result.json["runs"], DIGITS_MODELS)


@pytest.fixture(scope="session")
def populated_workspace(digits_comparison) -> Path:
    """A workspace holding datasets, artifacts, results and a job record (read-only)."""
    return digits_comparison.workspace
