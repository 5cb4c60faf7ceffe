"""Helpers shared by the test packages: run the CLI, find samples, snapshot workspaces."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES_DIR = REPO_ROOT / "sample_models" / "artifacts"
# Small latency settings (the harness still runs every phase, in milliseconds) and one
# thread: on a busy 2-core machine, BLAS threads spinning against each other make a
# LogisticRegression fit 100x slower.
FAST_BENCH = ("--latency-time", "0.01", "--latency-count", "3", "--batch-sizes", "1,8", "--threads", "1")
# A hung worker in a test must not stall the suite for the 30-minute default.
CLI_WORKER_TIMEOUT_S = "120"


@dataclass(frozen=True)
class CliResult:
    """What one ``python -m engine`` call did."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def __str__(self) -> str:  # shown by assertion messages
        return (f"python -m engine {' '.join(self.args)}\n-> exit {self.returncode}\n"
                f"stdout: {self.stdout[:2000]!r}\nstderr: {self.stderr[-2000:]!r}")


def run_cli(*args: str | os.PathLike[str], env: dict[str, str] | None = None,
            timeout: float = 180) -> CliResult:
    """Run ``python -m engine ARGS`` from the repository root, as a user would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTIER_")}
    full_env["FRONTIER_WORKER_TIMEOUT_S"] = CLI_WORKER_TIMEOUT_S
    full_env |= env or {}
    str_args = tuple(str(a) for a in args)
    proc = subprocess.run([sys.executable, "-m", "engine", *str_args], cwd=REPO_ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return CliResult(str_args, proc.returncode, proc.stdout, proc.stderr)


def run_cli_here(*args: str | os.PathLike[str]) -> CliResult:
    """``engine.cli.main(ARGS)`` in this process, its output captured: for inputs refused before any job
    exists, where a process of its own would only add its start-up. An exception it lets through fails
    the test that called it (a process would have shown it as a traceback)."""
    import contextlib
    import io

    from engine import cli

    str_args = tuple(str(a) for a in args)
    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.pop(k) for k in [k for k in os.environ if k.startswith("FRONTIER_")]}
    os.environ["FRONTIER_WORKER_TIMEOUT_S"] = CLI_WORKER_TIMEOUT_S
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(str_args))
            except SystemExit as exc:  # argparse's own errors
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.environ.pop("FRONTIER_WORKER_TIMEOUT_S", None)
        os.environ.update(saved)
    return CliResult(str_args, code, out.getvalue(), err.getvalue())


def sample(name: str) -> Path:
    """Path of a bundled sample model (see ``sample_models/artifacts/manifest.json``)."""
    path = SAMPLES_DIR / name
    assert path.is_file(), f"missing sample model {path}; run `make samples`"
    return path


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: kind, size, mtime and content hash ({} if ``root`` is absent)."""
    if not root.exists():
        return {}
    out: dict[str, tuple] = {".": ("dir", root.stat().st_mtime_ns)}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = path.relative_to(root).as_posix()
        if path.is_dir():
            out[rel] = ("dir", st.st_mtime_ns)
        else:
            out[rel] = ("file", st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def copy_workspace(src: Path, dest: Path) -> Path:
    """A private copy of a shared workspace (mtimes kept)."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


@dataclass(frozen=True)
class Comparison:
    """A finished ``benchmark --json`` run: its workspace (read-only) and its runs."""

    workspace: Path
    result: CliResult
    runs: list[dict[str, Any]]
    files: tuple[str, ...]

    def run_for(self, file: str) -> dict[str, Any]:
        return self.runs[self.files.index(file)]


DIGITS_MODELS = ("digits_mlp.onnx", "digits_logreg.skops", "digits_random_forest.skops",
                 "digits_mlp.pt2", "digits_mlp.pt")
DIGITS_ONNX_NAME = "MLP as ONNX"


def wait_for(predicate: Callable[[], Any], timeout: float = 90, what: str = "condition", every: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy (a liveness bound, not a speed check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def concurrently(calls: Mapping[Any, Callable[[], Any]], workers: int = 3) -> dict[Any, Any]:
    """Every call at once on a few threads (each usually a CLI process of its own); results by key."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {key: pool.submit(call) for key, call in calls.items()}
        return {key: f.result() for key, f in futures.items()}
