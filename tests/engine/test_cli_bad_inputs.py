"""Every bad input gets one clear line on stderr and leaves the workspace alone.

Each case runs ``python -m engine benchmark ... --json`` (in this process where the input is refused
before any job exists, as a process of its own where only a worker can see it) against a
private copy of a populated workspace (or a workspace path that does not exist
yet) and checks: the exit code, exactly one line on stderr naming the problem,
no traceback, an empty stdout, and a workspace that is byte-for-byte unchanged
(for errors only a worker can see: no new run under ``results/``).

The cases run in one module fixture, each with its own workspace; the tests then assert on each
outcome.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from frontier_support import CliResult, copy_workspace, run_cli, run_cli_here, sample, snapshot

INPUT, WORKER = "input", "worker"  # where the error can be detected


@dataclass(frozen=True)
class Case:
    id: str
    args: Callable[[Path], list]  # given a scratch folder, the arguments (files made there)
    message: str                  # regex the one error line must match
    detected: str = INPUT
    workspace: str = "populated"  # or "absent": the --workspace path does not exist yet
    cpu_only: bool = False        # only a bad input where no CUDA GPU is visible


def csv(tmp: Path, name: str, frame: pd.DataFrame) -> Path:
    path = tmp / name
    frame.to_csv(path, index=False)
    return path


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def small_frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "target": np.arange(n) % 2})


def state_dict_pt(tmp: Path) -> Path:
    import torch

    path = tmp / "weights.pt"
    torch.save(torch.nn.Linear(64, 10).state_dict(), path)
    return path


MLP_ONNX = sample("digits_mlp.onnx")

CASES = [
    Case("missing-target-column", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--target", "nope"],
         r"target column 'nope' is not in"),
    Case("non-numeric-feature-for-onnx",
         lambda t: ["--model", MLP_ONNX, "--data", csv(t, "d.csv", small_frame().assign(a=["x", "y"] * 20))],
         r"not numeric.*\ba\b"),
    Case("nan-in-features",
         lambda t: ["--model", MLP_ONNX, "--data", csv(t, "d.csv", small_frame().assign(b=[np.nan] + [1.0] * 39))],
         r"missing value.*'b'"),
    Case("single-class",
         lambda t: ["--model", MLP_ONNX, "--data", csv(t, "d.csv", small_frame().assign(target=1))],
         r"single class \(1\)"),
    Case("too-few-rows-per-class",
         lambda t: ["--model", MLP_ONNX, "--cv", "5",
                    "--data", csv(t, "d.csv", small_frame(23).assign(target=[0] * 10 + [1] * 10 + [2] * 3))],
         r"class 2 has 3 row\(s\), fewer than the 5 folds; use --cv 3"),
    Case("feature-count-mismatch", lambda t: ["--model", MLP_ONNX, "--data", "breast_cancer"],
         r"takes inputs of shape \(batch, 64\) but the dataset gives rows of shape \(N, 30\)"),
    Case("image-shape-mismatch", lambda t: ["--model", sample("digits_cnn.onnx"), "--data", "digits"],
         r"takes inputs of shape \(batch, 1, 8, 8\) but the dataset gives rows of shape \(N, 64\)"),
    Case("classifier-on-continuous-target",
         lambda t: ["--model", sample("digits_logreg.skops"), "--data", "diabetes"],
         r"continuous"),
    Case("missing-model-file", lambda t: ["--model", t / "nope.onnx", "--data", "digits"],
         r"model file not found: .*nope\.onnx"),
    Case("unsupported-extension", lambda t: ["--model", write(t, "model.txt", b"hello"), "--data", "digits"],
         r"'model\.txt' is not a model format"),
    Case("corrupt-onnx",
         lambda t: ["--model", write(t, "m.onnx", np.random.default_rng(1).bytes(4096)), "--data", "digits"],
         r"not a valid ONNX model"),
    Case("corrupt-csv-binary",
         lambda t: ["--model", MLP_ONNX, "--data", write(t, "d.csv", b"\x93\xff\x00garbage" * 50)],
         r"'d\.csv' could not be read as CSV"),
    Case("corrupt-csv-ragged",
         lambda t: ["--model", MLP_ONNX, "--data", write(t, "d.csv", b"a,b\n1,2\n3,4,5\n6,7\n")],
         r"'d\.csv' could not be read as CSV"),
    Case("empty-csv", lambda t: ["--model", MLP_ONNX, "--data", write(t, "d.csv", b"")], r"'d\.csv' is empty"),
    Case("header-only-csv", lambda t: ["--model", MLP_ONNX, "--data", write(t, "d.csv", b"a,b,target\n")],
         r"header but no rows"),
    Case("unknown-builtin-dataset", lambda t: ["--model", MLP_ONNX, "--data", "digitz"],
         r"dataset 'digitz' not found"),
    Case("drop-missing-column", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--drop", "nope"],
         r"--drop names column\(s\) not in 'digits': nope"),
    Case("cv-1", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--cv", "1"], r"--cv must be at least 2"),
    Case("cv-more-folds-than-rows", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--cv", "2000"],
         r"1797 rows, too few for 2000 folds"),
    Case("negative-seed", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--seed", "-1"],
         r"--seed must be between 0 and 4294967295, got -1"),
    Case("threads-zero", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--threads", "0"],
         r"--threads must be at least 1"),
    Case("device-cuda-without-gpu", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--device", "cuda"],
         r"--device cuda was asked for but no CUDA GPU is visible", cpu_only=True),
    Case("cv-not-a-number", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--cv", "x"],
         r"--cv: invalid int value"),
    Case("torch-save-state-dict", lambda t: ["--model", state_dict_pt(t), "--data", "digits"],
         r"torch\.save checkpoint \(weights without the architecture\)"),
    Case("torchscript-without-trust", lambda t: ["--model", sample("digits_cnn.pt"), "--data", "digits"],
         r"TorchScript archive, which can run arbitrary code.*--trust"),
    Case("latency-time-negative", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--latency-time", "-1"],
         r"--latency-time must be between 0 and 60 seconds"),
    Case("latency-count-zero", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--latency-count", "0"],
         r"--latency-count must be at least 1"),
    Case("batch-sizes-not-integers", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--batch-sizes", "1,x"],
         r"--batch-sizes takes comma-separated integers"),
    Case("batch-sizes-zero", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--batch-sizes", "0,8"],
         r"--batch-sizes must be positive"),
    Case("unknown-option", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--bogus"],
         r"unrecognized arguments: --bogus \(see python -m engine --help\)"),
    Case("missing-model-option", lambda t: ["--data", "digits"], r"arguments are required: --model"),
    Case("too-many-names", lambda t: ["--model", MLP_ONNX, "--data", "digits", "--name", "a", "--name", "b"],
         r"2 --name given for 1 --model"),
    # only a worker can see these: the model has to run to fail
    Case("torchscript-wrong-input-width", lambda t: ["--model", sample("digits_mlp.pt"), "--trust",
                                                     "--data", "breast_cancer"],
         r"'digits_mlp\.pt' failed on a batch of shape \(2, 30\): RuntimeError: mat1 and mat2 shapes "
         r"cannot be multiplied \(2x30 and 64x128\)$", detected=WORKER),
    Case("torch-export-wrong-input-width", lambda t: ["--model", sample("digits_mlp.pt2"), "--data", "breast_cancer"],
         r"'digits_mlp\.pt2' takes inputs of shape \(N, 64\) but the dataset gives rows of shape \(N, 30\)"),
]
# Errors found while checking the data against the models (the last step before anything is
# written) must not create the workspace either; one case per kind of check.
PLAN_STAGE = ("missing-target-column", "nan-in-features", "feature-count-mismatch",
              "classifier-on-continuous-target", "torchscript-without-trust")
CASES += [Case(f"{c.id}@absent-workspace", c.args, c.message, c.detected, "absent", c.cpu_only)
          for c in CASES if c.id in PLAN_STAGE]


@dataclass(frozen=True)
class Outcome:
    result: CliResult
    workspace: Path
    before: dict
    after: dict


def _run_case(case: Case, root: Path, template: Path, run: Callable[..., CliResult]) -> Outcome:
    scratch = root / "files"
    scratch.mkdir(parents=True)
    ws = root / "ws"
    if case.workspace == "populated":
        copy_workspace(template, ws)
    args = ["benchmark", "--workspace", ws, "--json", "--latency-time", "0.01", "--latency-count", "3",
            "--threads", "1", *case.args(scratch)]  # the case's own options come last and win
    before = snapshot(ws)
    result = run(*args)
    return Outcome(result, ws, before, snapshot(ws))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, populated_workspace) -> dict[str, Outcome]:
    """Inputs refused before any job exists run in this process, one after another (a process each
    would only add its start-up: ``test_bad_input_without_json_also_prints_one_line`` checks a real
    one); those only a worker sees run as real processes."""
    root = tmp_path_factory.mktemp("bad-inputs")
    template = populated_workspace
    as_process = partial(run_cli, timeout=120)
    with ThreadPoolExecutor(max_workers=2) as pool:  # the worker cases' processes run meanwhile
        running = {c.id: pool.submit(_run_case, c, root / f"case{i}", template, as_process)
                   for i, c in enumerate(CASES) if c.detected == WORKER}
        here = {c.id: _run_case(c, root / f"case{i}", template, run_cli_here)
                for i, c in enumerate(CASES) if c.detected == INPUT}
        return here | {key: future.result() for key, future in running.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_clear_line_and_leaves_workspace_alone(case, outcomes):
    out = outcomes[case.id]
    r = out.result
    if case.cpu_only and _cuda_visible():
        pytest.skip("a CUDA GPU is visible here, so this input is valid")
    if case.detected == INPUT:
        assert r.returncode == 2, str(r)
    else:
        assert r.returncode in (1, 2), str(r)
    assert "Traceback" not in r.stderr, str(r)
    assert r.stdout == "", str(r)
    assert len(r.stderr_lines) == 1, str(r)
    line = r.stderr_lines[0]
    assert line.startswith("error: "), str(r)
    assert re.search(case.message, line), f"expected /{case.message}/ in {line!r}"
    assert not re.search(r"\bnp\.\w+\(", line), f"numpy repr leaked into the message: {line!r}"

    if case.workspace == "absent":
        assert not out.workspace.exists(), f"{case.id}: the workspace was created: {sorted(out.after)}"
    elif case.detected == INPUT:
        assert out.after == out.before, _diff(out.before, out.after)
    else:  # a job record is fine; no run may appear under results/
        results_before = {k: v for k, v in out.before.items() if k.startswith("results")}
        results_after = {k: v for k, v in out.after.items() if k.startswith("results")}
        assert results_after == results_before, _diff(results_before, results_after)


def _cuda_visible() -> bool:
    import torch

    return torch.cuda.is_available()


def _diff(before: dict, after: dict) -> str:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return f"workspace changed: added {added[:10]}, removed {removed[:10]}, changed {changed[:10]}"


def test_cases_cover_the_required_bad_inputs():
    """Guard against the list silently shrinking."""
    ids = {c.id for c in CASES}
    required = {"missing-target-column", "non-numeric-feature-for-onnx", "nan-in-features", "single-class",
                "too-few-rows-per-class", "feature-count-mismatch", "image-shape-mismatch",
                "missing-model-file", "unsupported-extension", "corrupt-onnx", "corrupt-csv-binary",
                "empty-csv", "unknown-builtin-dataset", "drop-missing-column", "cv-1",
                "torch-save-state-dict", "torchscript-without-trust", "batch-sizes-not-integers",
                "torchscript-wrong-input-width"}
    assert required <= ids


def test_bad_input_without_json_also_prints_one_line(tmp_path):
    """The human-readable path: same single line, nothing on stdout, no workspace."""
    ws = tmp_path / "ws"
    r = run_cli("benchmark", "--model", MLP_ONNX, "--data", "breast_cancer", "--workspace", ws)
    assert r.returncode == 2, str(r)
    assert r.stdout == ""
    assert len(r.stderr_lines) == 1 and r.stderr_lines[0].startswith("error: "), str(r)
    assert not ws.exists()


def test_worker_error_leaves_a_failed_job_record(outcomes):
    """A failure only the worker saw is recorded as a failed job with the same message."""
    import json

    out = outcomes["torchscript-wrong-input-width"]
    jobs = [p for p in (out.workspace / "jobs").glob("*/status.json")
            if f"jobs/{p.parent.name}/status.json" not in out.before]
    assert len(jobs) == 1
    status = json.loads(jobs[0].read_text())
    assert status["state"] == "failed"
    assert status["error"] in out.result.stderr_lines[0]
    assert not list((out.workspace / "results").glob(".stage-*"))
