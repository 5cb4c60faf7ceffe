"""``python -m engine compare`` and ``python -m engine report`` against their contract.

Runs the CLI as a user would, on private copies of the ``digits_comparison`` workspace (five
sample models benchmarked on digits). Expected values come from elsewhere: the benchmark's
own JSON, the runs' ``folds.parquet`` / ``predictions.parquet`` read with pandas, a
brute-force Pareto front and the Nadeau–Bengio formula written out with scipy.stats.t.
CLI calls cost about 2 s each (about one core), so results are computed once per module, the
independent ones side by side (:func:`outputs`), and bad inputs run three at a time.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from frontier_support import (
    FAST_BENCH,
    CliResult,
    concurrently,
    copy_workspace,
    run_cli,
    run_cli_here,
    sample,
    snapshot,
)
from scipy import stats

RUN_KEYS = ("run_id", "label", "model", "format", "mode", "n_folds", "accuracy_mean", "accuracy_std",
            "f1_macro_mean", "roc_auc_mean", "log_loss_mean", "latency_p50_ms", "latency_p95_ms",
            "throughput_per_s", "size_bytes")
PAIR_KEYS = ("a", "b", "metric", "test", "statistic", "p_value", "p_adjusted", "verdict")
TESTS = {"corrected_t", "mcnemar", "bayes_corr_t"}
HOSTILE = "<img src=x onerror=alert(1)>"


def _no_nan(text: str):
    def refuse(token):
        raise AssertionError(f"{token} in JSON output")
    return json.loads(text, parse_constant=refuse)


def _run_args(ids) -> list[str]:
    return [a for rid in ids for a in ("--run", rid)]


def _brute_force_front(points: dict[str, tuple[float, float]], lower_x: bool, lower_y: bool) -> set[str]:
    """Runs no other run beats on one axis while matching or beating it on the other."""
    def at_least(a, b, lower):
        return a <= b if lower else a >= b

    def strictly(a, b, lower):
        return a < b if lower else a > b

    out = set()
    for r, (x, y) in points.items():
        dominated = any(
            at_least(ox, x, lower_x) and at_least(oy, y, lower_y)
            and (strictly(ox, x, lower_x) or strictly(oy, y, lower_y))
            for o, (ox, oy) in points.items() if o != r)
        if not dominated:
            out.add(r)
    return out


# ------------------------------------------------------------------ module fixtures
@pytest.fixture(scope="module")
def ws(digits_comparison, tmp_path_factory) -> Path:
    return copy_workspace(digits_comparison.workspace, tmp_path_factory.mktemp("compare-cli") / "ws")


@pytest.fixture(scope="module")
def ids(digits_comparison) -> list[str]:
    return [r["run_id"] for r in digits_comparison.runs]


@pytest.fixture(scope="module")
def compared(ws, ids) -> CliResult:
    r = run_cli("compare", *_run_args(ids), "--baseline", ids[0], "--workspace", ws, "--json")
    assert r.returncode == 0, str(r)
    return r


@pytest.fixture(scope="module")
def doc(compared) -> dict:
    return _no_nan(compared.stdout)


def _caught(call: Callable[[], Any]) -> Any:
    """``call()``, or the exception it raised (re-raised by the fixture that reads it, so one
    broken call errors only its own tests)."""
    try:
        return call()
    except Exception as exc:
        return exc


@pytest.fixture(scope="module")
def outputs(ws, ids, compared, digits_comparison, tmp_path_factory) -> dict[str, Any]:
    """The module's other good CLI calls side by side, each its own process (about one core): the text
    output, a cost on the y axis and the three reports. They run once ``compared`` has indexed ``ws``,
    and before ``bad`` snapshots it."""
    folders = {name: tmp_path_factory.mktemp(name) for name in ("report-out", "report-default", "report-hostile")}
    calls = {"newest_dataset": partial(_newest_dataset, digits_comparison, folders["report-default"]),
             "hostile_report": partial(_hostile_report, digits_comparison, ids, folders["report-hostile"]),
             "report": partial(_report, ws, ids, folders["report-out"]),
             "as_text": partial(run_cli, "compare", *_run_args(ids), "--baseline", ids[0], "--workspace", ws),
             "latency_on_y": partial(run_cli, "compare", *_run_args(ids), "--y", "latency_p50_ms",
                                     "--workspace", ws, "--json")}
    return concurrently({name: partial(_caught, call) for name, call in calls.items()})


def _output(outputs: dict[str, Any], name: str) -> Any:
    value = outputs[name]
    if isinstance(value, Exception):
        raise value
    return value


# ------------------------------------------------------------------ compare --json
def test_json_is_one_document_with_the_contract_keys(compared, doc, ids):
    assert compared.stdout.count("\n") <= 1
    assert "Traceback" not in compared.stderr
    assert set(doc) >= {"runs", "pareto", "pairwise", "verdict", "warnings"}
    assert [r["run_id"] for r in doc["runs"]] == ids
    assert set(doc["pareto"]) >= {"x", "y", "color", "run_ids"}
    assert (doc["pareto"]["x"], doc["pareto"]["y"], doc["pareto"]["color"]) == (
        "latency_p50_ms", "accuracy_mean", None)
    assert isinstance(doc["warnings"], list) and all(isinstance(w, str) for w in doc["warnings"])
    assert doc["verdict"]["run_id"] in ids and isinstance(doc["verdict"]["text"], str)


def test_runs_carry_the_benchmark_fields_and_values(doc, digits_comparison):
    bench = {r["run_id"]: r for r in digits_comparison.runs}
    labels = [r["label"] for r in doc["runs"]]
    assert len(set(labels)) == len(labels)
    for run in doc["runs"]:
        missing = [k for k in RUN_KEYS if k not in run]
        assert not missing, (run["run_id"], missing)
        b = bench[run["run_id"]]
        for k in RUN_KEYS:
            if k == "label":
                continue
            if isinstance(b[k], float):
                assert run[k] == pytest.approx(b[k], rel=1e-12), k
            else:
                assert run[k] == b[k], k
        assert run["label"] == run["model"]  # the five names are distinct


def test_pareto_front_is_the_brute_force_non_dominated_set(doc):
    points = {r["run_id"]: (r["latency_p50_ms"], r["accuracy_mean"]) for r in doc["runs"]}
    front = doc["pareto"]["run_ids"]
    assert set(front) <= set(points)
    assert len(front) == len(set(front))
    assert set(front) == _brute_force_front(points, lower_x=True, lower_y=False)


def test_pairwise_rows_follow_the_contract(doc, ids):
    rows = doc["pairwise"]
    assert rows
    for row in rows:
        missing = [k for k in PAIR_KEYS if k not in row]
        assert not missing, missing
        assert row["test"] in TESTS
        assert row["a"] in ids and row["b"] in ids and row["a"] != row["b"]
        for k in ("p_value", "p_adjusted"):
            assert row[k] is None or (isinstance(row[k], float | int) and 0.0 <= row[k] <= 1.0), (k, row)
        if row["p_value"] is not None and row["p_adjusted"] is not None:
            assert row["p_adjusted"] >= row["p_value"] - 1e-15
        assert isinstance(row["verdict"], str) and row["verdict"]
    n_pairs = len(ids) * (len(ids) - 1) // 2
    corrected = [r for r in rows if r["test"] == "corrected_t"]
    # one row per pair and registry metric with per-fold scores (all 10 classification metrics)
    assert len(corrected) == n_pairs * 10
    assert {frozenset((r["a"], r["b"])) for r in corrected} == {frozenset(p) for p in itertools.combinations(ids, 2)}
    assert len([r for r in rows if r["test"] == "mcnemar"]) == n_pairs
    assert len([r for r in rows if r["test"] == "bayes_corr_t"]) == n_pairs


def test_corrected_t_p_matches_a_hand_nadeau_bengio(doc, ws, ids, digits_comparison):
    a, b = ids[0], ids[1]  # the MLP (ONNX) and the refit logistic regression
    row = next(r for r in doc["pairwise"]
               if r["test"] == "corrected_t" and r["metric"] == "accuracy" and (r["a"], r["b"]) == (a, b))
    fa = pd.read_parquet(ws / "results" / a / "folds.parquet").sort_values("fold")
    fb = pd.read_parquet(ws / "results" / b / "folds.parquet").sort_values("fold")
    assert fa["n_test"].tolist() == fb["n_test"].tolist()
    d = fa["accuracy"].to_numpy() - fb["accuracy"].to_numpy()
    k = len(d)
    n = digits_comparison.run_for("digits_mlp.onnx")["n_rows"]
    n_test = fa["n_test"].mean()
    se = math.sqrt((1 / k + n_test / (n - n_test)) * d.var(ddof=1))
    t = d.mean() / se
    p = 2 * stats.t.sf(abs(t), k - 1)
    assert row["statistic"] == pytest.approx(t, rel=1e-9)
    assert row["p_value"] == pytest.approx(p, rel=1e-9)


def test_mcnemar_counts_match_the_stored_predictions(doc, ws, ids):
    a, b = ids[0], ids[1]
    row = next(r for r in doc["pairwise"] if r["test"] == "mcnemar" and (r["a"], r["b"]) == (a, b))
    pa = pd.read_parquet(ws / "results" / a / "predictions.parquet").set_index("row").sort_index()
    pb = pd.read_parquet(ws / "results" / b / "predictions.parquet").set_index("row").sort_index()
    right_a = (pa["y_pred"] == pa["y_true"]).to_numpy()
    right_b = (pb["y_pred"] == pb["y_true"]).to_numpy()
    n01, n10 = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    assert f"right on {n01} rows" in row["verdict"] and f"right on {n10}" in row["verdict"]
    if n01 + n10 >= 25:  # chi-square with continuity correction
        expected = stats.chi2.sf((abs(n01 - n10) - 1) ** 2 / (n01 + n10), 1)
    else:
        expected = stats.binomtest(min(n01, n10), n01 + n10, 0.5).pvalue
    assert row["p_value"] == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------------ text output
@pytest.fixture(scope="module")
def as_text(outputs) -> CliResult:
    return _output(outputs, "as_text")


def test_text_output_prints_the_verdict_and_the_table(as_text, doc):
    r = as_text
    assert r.returncode == 0, str(r)
    assert "Traceback" not in r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == doc["verdict"]["text"]
    assert lines[0].startswith("Ship ")
    header = next(i for i, line in enumerate(lines) if line.startswith("run "))
    assert "model" in lines[header] and "accuracy" in lines[header]
    front = set(doc["pareto"]["run_ids"])
    for i, run in enumerate(doc["runs"], start=1):
        line = lines[header + i]
        assert line.startswith(run["run_id"]), line
        assert run["label"] in line
        assert f"{run['accuracy_mean']:.4f} ± {run['accuracy_std']:.4f}" in line
        assert line.rstrip().endswith("*") == (run["run_id"] in front), line
    assert any(line.startswith("corrected_t") for line in lines)
    assert all(line.startswith("warning: ") for line in r.stderr_lines), r.stderr


# ------------------------------------------------------------------ a cost on the y axis
@pytest.fixture(scope="module")
def latency_on_y(outputs) -> CliResult:
    return _output(outputs, "latency_on_y")


def test_a_cost_on_the_y_axis_is_allowed(latency_on_y, doc):
    """--y takes a metric or a cost; with the default x the chart is latency against itself and
    the front is the fastest run(s) -- accepted, not an error."""
    r = latency_on_y
    assert r.returncode == 0, str(r)
    d = _no_nan(r.stdout)
    assert (d["pareto"]["x"], d["pareto"]["y"]) == ("latency_p50_ms", "latency_p50_ms")
    points = {run["run_id"]: (run["latency_p50_ms"], run["latency_p50_ms"]) for run in d["runs"]}
    assert set(d["pareto"]["run_ids"]) == _brute_force_front(points, lower_x=True, lower_y=True)


# ------------------------------------------------------------------ bad inputs
@dataclass(frozen=True)
class Case:
    id: str
    args: object  # (ids, scratch folder) -> arguments; the workspace is added unless given
    message: str
    own_workspace: bool = False
    made: tuple[str, ...] = ()  # what the case itself puts in its scratch folder
    bug: str = ""  # a known bug: the case is expected to fail (strict)


def _cases() -> list[Case]:
    return [
        Case("run-not-hex", lambda i, t: ["compare", "--run", "nothex"], r"'nothex' is not a run id"),
        Case("run-url", lambda i, t: ["compare", "--run", f"http://x.test/{i[0]}"], r"is not a run id"),
        Case("unknown-run", lambda i, t: ["compare", "--run", i[0], "--run", "0123456789abcdef"],
             r"no run with id 0123456789abcdef"),
        Case("baseline-not-compared", lambda i, t: ["compare", *_run_args(i[:2]), "--baseline", i[2]],
             r"baseline [0-9a-f]{16} is not one of the compared runs"),
        Case("x-bogus", lambda i, t: ["compare", *_run_args(i[:2]), "--x", "bogus"], r"unknown (axis|column) 'bogus'"),
        Case("y-regression-metric", lambda i, t: ["compare", *_run_args(i[:2]), "--y", "rmse"],
             r"'rmse' is a regression metric"),
        Case("metric-is-a-cost", lambda i, t: ["compare", *_run_args(i[:2]), "--metric", "latency_p50_ms"],
             r"cost, not a metric"),
        Case("budget-wrong-direction", lambda i, t: ["compare", *_run_args(i[:2]), "--budget", "latency_p95_ms>=2"],
             r"latency_p95_ms takes an upper bound"),
        Case("budget-unknown-cost", lambda i, t: ["compare", *_run_args(i[:2]), "--budget", "foo<=1"],
             r"unknown cost 'foo'"),
        Case("budget-not-a-number", lambda i, t: ["compare", *_run_args(i[:2]), "--budget", "size_bytes<=1e"],
             r"'1e' is not a number"),
        Case("batch-size-zero", lambda i, t: ["compare", *_run_args(i[:2]), "--batch-size", "0"],
             r"--batch-size must be at least 1"),
        Case("rope-negative", lambda i, t: ["compare", *_run_args(i[:2]), "--rope", "-1"],
             r"--rope must be a non-negative number"),
        Case("margin-nan", lambda i, t: ["compare", *_run_args(i[:2]), "--margin", "nan"],
             r"--margin must be a non-negative number"),
        Case("no-run-option", lambda i, t: ["compare"], r"required: --run"),
        Case("no-results", lambda i, t: ["compare", "--run", i[0], "--workspace", t / "absent-ws"],
             r"no results in .*absent-ws", own_workspace=True),
        Case("report-folder-missing", lambda i, t: ["report", "--out", t / "nope" / "r.html", "--run", i[0]],
             r"folder .*nope does not exist"),
        Case("report-not-html", lambda i, t: ["report", "--out", t / "r.txt", "--run", i[0]],
             r"--out must name an \.html file"),
        Case("report-no-runs", lambda i, t: ["report", "--out", t / "r.html", "--workspace", _empty_ws(t)],
             r"no runs in", own_workspace=True, made=("empty-ws", "empty-ws/results")),
        Case("report-out-is-a-folder", lambda i, t: ["report", "--out", _folder(t / "r.html"), "--run", i[0]],
             r"r\.html", made=("r.html",), bug=None),
    ]


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _empty_ws(t: Path) -> Path:
    ws = t / "empty-ws"
    (ws / "results").mkdir(parents=True, exist_ok=True)
    return ws


CASES = _cases()


@pytest.fixture(scope="module")
def bad(ws, ids, compared, tmp_path_factory) -> dict[str, tuple[CliResult, dict, dict, Path]]:
    """Every case in this process, one after another (each is refused before anything runs), against
    the (indexed) workspace copy; snapshots around them."""
    root = tmp_path_factory.mktemp("compare-bad")

    def one(i: int, case: Case):
        scratch = root / f"case{i}"
        scratch.mkdir()
        args = case.args(ids, scratch)
        if not case.own_workspace:
            args = [*args, "--workspace", ws]
        args = [*args, "--json"]
        return run_cli_here(*args), scratch

    before = snapshot(ws)
    results = {c.id: one(i, c) for i, c in enumerate(CASES)}
    after = snapshot(ws)
    return {cid: (r, before, after, scratch) for cid, (r, scratch) in results.items()}


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.bug)] if c.bug else [])
    for c in CASES])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, bad):
    r, before, after, scratch = bad[case.id]
    assert r.returncode == 2, str(r)
    assert "Traceback" not in r.stderr, str(r)
    assert r.stdout == "", str(r)
    assert len(r.stderr_lines) == 1, str(r)
    line = r.stderr_lines[0]
    assert line.startswith("error: "), line
    assert re.search(case.message, line), f"expected /{case.message}/ in {line!r}"
    assert after == before, "the workspace changed"
    made = sorted(p.relative_to(scratch).as_posix() for p in scratch.rglob("*"))
    assert made == sorted(case.made), made  # no report, no temporary file, no workspace created


# ------------------------------------------------------------------ report
def _report(ws: Path, ids: list[str], out_dir: Path) -> tuple[CliResult, Path]:
    out = out_dir / "comparison.html"
    r = run_cli("report", "--out", out, *_run_args(ids), "--workspace", ws, "--json")
    return r, out


@pytest.fixture(scope="module")
def report(outputs):
    return _output(outputs, "report")


def test_report_writes_one_html_file_with_every_run(report, digits_comparison, ids):
    r, out = report
    assert r.returncode == 0, str(r)
    assert "Traceback" not in r.stderr
    info = _no_nan(r.stdout)
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temporary file left
    assert Path(info["path"]) == out.resolve()
    assert info["bytes"] == out.stat().st_size
    assert info["runs"] == ids
    html = out.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    for run in digits_comparison.runs:
        assert run["model"] in html, run["model"]
        assert run["run_id"] in html


def _newest_dataset(digits_comparison, root: Path):
    """A copy of the comparison plus two newer runs on other folds (digits, 3-fold CV)."""
    ws = copy_workspace(digits_comparison.workspace, root / "ws")
    b = run_cli("benchmark", "--data", "digits", "--cv", "3", "--model", sample("digits_mlp.onnx"),
                "--model", sample("digits_logreg.onnx"), "--workspace", ws, "--json", *FAST_BENCH)
    assert b.returncode == 0, str(b)
    out = root / "default.html"
    r = run_cli("report", "--out", out, "--workspace", ws, "--json")
    return b.json["runs"], r, out


@pytest.fixture(scope="module")
def newest_dataset(outputs):
    return _output(outputs, "newest_dataset")


def test_report_without_runs_takes_the_newest_datasets_runs(newest_dataset, ids):
    newer, r, out = newest_dataset
    assert r.returncode == 0, str(r)
    info = _no_nan(r.stdout)
    assert sorted(info["runs"]) == sorted(run["run_id"] for run in newer)
    assert not set(info["runs"]) & set(ids)
    assert all(run["n_folds"] == 3 for run in newer)
    assert info["bytes"] == out.stat().st_size


def _hostile_report(digits_comparison, ids: list[str], root: Path):
    ws = copy_workspace(digits_comparison.workspace, root / "ws")
    path = ws / "results" / ids[1] / "summary.parquet"
    summary = pd.read_parquet(path)
    columns = list(summary.columns)
    summary["model"] = HOSTILE
    summary.to_parquet(path, index=False)
    assert list(pd.read_parquet(path).columns) == columns
    (ws / "results" / ".index.parquet").unlink(missing_ok=True)  # rebuilt from the folders
    out = root / "hostile.html"
    r = run_cli("report", "--out", out, *_run_args(ids), "--workspace", ws, "--json")
    return r, out


@pytest.fixture(scope="module")
def hostile_report(outputs):
    return _output(outputs, "hostile_report")


def test_report_shows_a_hostile_model_name_as_text(hostile_report):
    r, out = hostile_report
    assert r.returncode == 0, str(r)
    html = out.read_text(encoding="utf-8")
    assert "<img src=x" not in html.lower()
    assert "<img" not in html.lower()
    # the name is in the report, escaped (HTML text or \u003c inside embedded JSON)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html or "\\u003cimg src=x" in html


# ------------------------------------------------------------------ runs without latency
def test_runs_without_latency_still_carry_null_latency_fields(tmp_path, capsys):
    from engine.cli import main
    from engine.results import ResultStore, RunRecord
    from engine.results.folds import folds_id
    from engine.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    rows = np.arange(40)
    pred = pd.DataFrame({"row": rows, "fold": rows % 4, "y_true": rows % 2, "y_pred": rows % 2})
    run_ids = ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"]
    for n, rid in enumerate(run_ids):
        acc = np.array([0.8, 0.85, 0.82, 0.81]) + n / 100
        s = {"run_id": rid, "model": f"m{n}", "format": "skops", "mode": "as-is", "task": "classification",
             "dataset": "d", "dataset_id": "c" * 16, "n_folds": 4, "seed": 0, "n_rows": 40,
             "created_at": f"2024-01-0{n + 1}T00:00:00+00:00", "accuracy_mean": float(acc.mean()),
             "accuracy_std": float(acc.std(ddof=1)), "f1_macro_mean": float(acc.mean()),
             "f1_macro_std": float(acc.std(ddof=1)), "roc_auc_mean": None, "roc_auc_std": None,
             "log_loss_std": None, "log_loss_mean": None, "latency_p50_ms": None, "latency_p95_ms": None,
             "throughput_per_s": None, "size_bytes": 1000 + n, "folds_id": folds_id(pred, [0, 1])}
        folds = pd.DataFrame({"fold": range(4), "n_test": 10, "accuracy": acc, "f1_macro": acc})
        ResultStore(ws).save(RunRecord(rid, s, {"folds": folds, "predictions": pred}))
    assert main(["compare", *_run_args(run_ids), "--workspace", str(ws.root), "--json"]) == 0
    doc = _no_nan(capsys.readouterr().out)
    for run in doc["runs"]:
        for key in ("latency_p50_ms", "latency_p95_ms", "throughput_per_s", "roc_auc_mean", "log_loss_mean"):
            assert key in run and run[key] is None, (key, sorted(run))
