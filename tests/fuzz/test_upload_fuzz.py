"""Fuzz: hundreds of malformed or truncated model and data files through registration and benchmarking.

Every case (built deterministically by :mod:`fuzz_mutations`; its id is its
recipe) must end with a one-line error or a valid registration, and a failed
one must leave nothing behind. Three paths:

1. In-process registration as a server calls it (``models.register_bytes``;
   ``datasets.read_bytes`` + ``datasets.register``), all cases, in one
   separate "server" process (:mod:`fuzz_server`): a FrontierError is the only
   acceptable exception; a registration must read back; the workspace gains
   only successful registrations' complete folders; the process's peak RSS
   never grows past :data:`MEMORY_BUDGET_MB` over its warmed-up baseline. A
   case that crashes or hangs that process fails as itself.
2. The worker path (``register_model`` / ``register_dataset`` jobs) for a
   sample: each job ends done or failed with one line, agrees with the
   in-process verdict, and leaves no inputs, scratch or partial folders.
3. The CLI (``python -m engine benchmark``) for a smaller sample, mutated
   models on ``digits`` and mutated data under a good model: exit 0 with one
   JSON document, or exit 1/2 with exactly one stderr line and no traceback;
   after exit 2 the workspace is byte-identical.

Caps are small (``FRONTIER_MAX_MODEL_MB`` / ``FRONTIER_MAX_DATA_MB`` = 8) so
the bombs among the cases stay cheap. Known open bugs are marked
``xfail(strict=True)`` with the bug named, so a fix shows up as XPASS.
"""

from __future__ import annotations

import json
import math
import os
import queue
import re
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from frontier_support import (
    FAST_BENCH,
    REPO_ROOT,
    CliResult,
    copy_workspace,
    run_cli,
    sample,
    snapshot,
)
from fuzz_mutations import MODEL_SEEDS, Case, Corpus, Spec, all_specs, build

CAP_MB = "8"
MEMORY_BUDGET_MB = 300   # growth of the registering process's peak RSS over its warmed-up baseline
CASE_TIMEOUT_S = 120     # a liveness bound: a case still running after this is reported as hung
KILL_GROWTH_MB = 1500    # safety net on a shared machine: stop a process this far past its baseline
SERVER = Path(__file__).with_name("fuzz_server.py")
ENV = {
    "FRONTIER_MAX_MODEL_MB": CAP_MB, "FRONTIER_MAX_DATA_MB": CAP_MB,
    "FRONTIER_SECRET_KEY": "fuzz-secret-key-not-for-production-0123456789",
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
}

SPECS: tuple[Spec, ...] = all_specs()
SPEC_IDS = [s.id for s in SPECS]

# Open bugs found by this fuzzer: case id -> the bug (strict: a fix turns the case into an XPASS failure,
# and the entry is then deleted).
KNOWN_INPROC_BUGS: dict[str, str] = {}  # bugs the fuzzer found, marked xfail until fixed (none open)
KNOWN_WORKER_BUGS: dict[str, str] = {}
KNOWN_CLI_BUGS: dict[str, str] = {}


def _params(ids: list[str], known: dict[str, str]) -> list[Any]:
    return [pytest.param(i, id=i, marks=pytest.mark.xfail(strict=True, reason=known[i])) if i in known
            else pytest.param(i, id=i) for i in ids]


def test_sampled_and_known_case_ids_name_real_cases():
    listed = [*WORKER_CASES, *CLI_CASES, *KNOWN_INPROC_BUGS, *KNOWN_WORKER_BUGS, *KNOWN_CLI_BUGS]
    assert not [i for i in listed if i not in set(SPEC_IDS)]
    assert len(SPEC_IDS) == len(set(SPEC_IDS))


def _one_line(message: object) -> str | None:
    """Why ``message`` is not a clear one-line error (None when it is)."""
    if not isinstance(message, str) or not message.strip():
        return f"the error is empty: {message!r}"
    if "\n" in message or "\r" in message:
        return f"the error spans several lines: {message[:300]!r}"
    if "Traceback" in message:
        return f"the error carries a traceback: {message[:300]!r}"
    controls = sorted({c for c in message if unicodedata.category(c) == "Cc"})
    if controls:  # a terminal would act on them (ESC sequences clear screens, rewrite lines)
        return f"the error carries control characters {controls}: {message[:300]!r}"
    return None


# ===================================================== path 1: in process
@dataclass
class Segment:
    """One run of the server process (a crash or a hang starts another from the next case)."""

    baseline_rss_mb: float = 0.0   # resting RSS after the warm-up
    baseline_peak_mb: float = 0.0  # what peaks are compared with: the resting RSS (or, where the
    #                                kernel cannot reset the high-water mark, the warm-up's peak)
    last_rss_mb: float = 0.0
    peaks: list[tuple[str, float]] = field(default_factory=list)  # (case id, peak RSS during it)


@dataclass
class InprocRun:
    ws: Path
    files: dict[str, Path]
    outcomes: dict[str, dict[str, Any]]
    segments: list[Segment]
    wall_s: float


def _write_cases(folder: Path, cases: list[Case]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for i, case in enumerate(cases):
        files[case.id] = folder / f"{i:04d}{case.suffix if case.suffix.isascii() else ''}"
        files[case.id].write_bytes(case.data)
    return files


def _manifest_entry(case: Case, path: Path) -> dict[str, Any]:
    return {"id": case.id, "kind": case.kind, "name": case.name, "display": case.display, "file": str(path)}


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTIER_")}
    env |= ENV | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    return env


def _run_server(manifest: Path, ws: Path, ids: list[str], log: Path) -> tuple[dict[str, dict], list[Segment]]:
    """Run every case through the server process, restarting it after a case that kills it."""
    outcomes: dict[str, dict] = {}
    segments: list[Segment] = []
    start = 0
    while start < len(ids):
        seg = Segment()
        segments.append(seg)
        current, how = _run_segment(manifest, ws, start, log, seg, outcomes, ids)
        if current is None:  # ran to the end
            break
        outcomes[ids[current]] = {"event": "end", "id": ids[current], "outcome": "crash",
                                  "message": f"the registering process {how} on this case", "ws_problem": None}
        start = current + 1
    return outcomes, segments


def _run_segment(manifest: Path, ws: Path, start: int, log: Path, seg: Segment, outcomes: dict[str, dict],
                 ids: list[str]) -> tuple[int | None, str]:
    """One server process from case ``start``: (the case it died on, how) or (None, "") when it finished."""
    with open(log, "a") as err:
        proc = subprocess.Popen([sys.executable, str(SERVER), str(manifest), str(ws), str(start)],
                                stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True,
                                cwd=REPO_ROOT, env=_server_env())
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    current: int | None = None
    since = time.monotonic()  # of the case running now, or of the last event between cases
    killed, done = "", False
    try:
        while True:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                line = ""
            if line is None:
                break
            if line.strip():
                event = json.loads(line)
                since = time.monotonic()
                if event["event"] == "ready":
                    seg.baseline_rss_mb, seg.baseline_peak_mb = event["rss_mb"], event["peak_mb"]
                elif event["event"] == "start":
                    current = event["index"]
                elif event["event"] == "end":
                    outcomes[event["id"]] = event
                    seg.peaks.append((event["id"], event["peak_mb"]))
                    seg.last_rss_mb = event["rss_mb"]
                    current = None
                elif event["event"] == "done":
                    done = True
            if killed:
                continue
            if time.monotonic() - since > CASE_TIMEOUT_S:
                killed = f"was still running after {CASE_TIMEOUT_S} s (hung)"
            elif current is not None and _rss_mb(proc.pid) - seg.baseline_rss_mb > KILL_GROWTH_MB:
                killed = f"grew past {KILL_GROWTH_MB} MB over its baseline (stopped)"
                seg.peaks.append((ids[current], seg.baseline_peak_mb + KILL_GROWTH_MB))
            if killed:
                proc.kill()
    finally:
        if proc.poll() is None:
            proc.kill()
        rc = proc.wait()
    if done:
        return None, ""
    if current is None:
        tail = log.read_text()[-3000:] if log.exists() else ""
        raise RuntimeError(f"the fuzz server exited ({rc}) or {killed or 'stopped'} outside any case; "
                           f"its stderr ends:\n{tail}")
    return current, killed or (f"died with signal {-rc}" if rc < 0 else f"exited with code {rc}")


def _rss_mb(pid: int) -> float:
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.Error:
        return 0.0


@pytest.fixture(scope="module")
def inproc(tmp_path_factory, cli_started) -> InprocRun:  # cli_started: the CLI cases run meanwhile
    root = tmp_path_factory.mktemp("fuzz-inproc")
    corpus = Corpus()
    cases = [build(s, corpus) for s in SPECS]
    files = _write_cases(root / "cases", cases)
    warm_specs = [Spec("model", s, "rename", name=s) for s in MODEL_SEEDS] + [
        Spec("dataset", s, "rename", name=s) for s in ("iris.csv", "iris.parquet", "iris.npz", "digits_images.npz")]
    warm_cases = [build(s, corpus) for s in warm_specs]
    warm_files = _write_cases(root / "warmup", warm_cases)
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps({
        "warmup": [_manifest_entry(c, warm_files[c.id]) for c in warm_cases],
        "cases": [_manifest_entry(c, files[c.id]) for c in cases]}))
    t0 = time.monotonic()
    outcomes, segments = _run_server(manifest, root / "ws", SPEC_IDS, root / "server.log")
    (root / "outcomes.json").write_text(json.dumps(outcomes, indent=1))  # for whoever reads a failure
    return InprocRun(root / "ws", files, outcomes, segments, time.monotonic() - t0)


@pytest.mark.slow
@pytest.mark.parametrize("case_id", _params(SPEC_IDS, KNOWN_INPROC_BUGS))
def test_in_process_registration_ends_in_one_line_or_a_valid_registration(inproc, case_id):
    o = inproc.outcomes[case_id]
    where = f"{case_id} (bytes: {inproc.files[case_id]})"
    assert o["outcome"] in ("ok", "error"), (
        f"{where}: {o['outcome']}: {o.get('type', '')} {o.get('message', '')!r} at {o.get('where', '?')}")
    if o["outcome"] == "error":
        assert _one_line(o["message"]) is None, f"{where}: {_one_line(o['message'])}"
    else:
        assert o["invalid"] is None, f"{where}: registered, but {o['invalid']}"
    assert o["ws_problem"] is None, f"{where}: {o['ws_problem']}"


@pytest.mark.slow
def test_in_process_registration_stays_within_the_memory_budget(inproc):
    for seg in inproc.segments:
        if not seg.peaks:
            continue
        worst_id, worst_peak = max(seg.peaks, key=lambda p: p[1])
        growth = worst_peak - seg.baseline_peak_mb
        over = [i for i, p in seg.peaks if p - seg.baseline_peak_mb > MEMORY_BUDGET_MB]
        assert growth <= MEMORY_BUDGET_MB, (
            f"RSS peaked {growth:.0f} MB over the {seg.baseline_peak_mb:.0f} MB baseline (budget "
            f"{MEMORY_BUDGET_MB} MB) during {worst_id}; {len(over)} case(s) over the budget: {over[:10]}")
        kept = seg.last_rss_mb - seg.baseline_rss_mb
        assert kept <= MEMORY_BUDGET_MB, f"RSS kept {kept:.0f} MB over its baseline after the cases (a leak)"


@pytest.mark.slow
def test_in_process_workspace_holds_only_successful_registrations(inproc):
    ok = {o["result_id"] for o in inproc.outcomes.values() if o["outcome"] == "ok"}
    ws = inproc.ws
    tops = (ws / "artifacts", ws / "datasets")
    found = {p.name for top in tops for p in top.iterdir()}
    assert found == ok, f"unexpected: {sorted(found - ok)[:10]}; missing: {sorted(ok - found)[:10]}"
    stray = [p for top in tops for p in top.rglob(".*")]
    assert not stray, f"staging or temporary files left behind: {stray[:5]}"
    for folder in [p for top in tops for p in top.iterdir()]:
        assert (folder / "meta.json").is_file(), f"{folder} has no meta.json"
    # sanity: the corpus exercises both verdicts on both kinds
    verdicts = {(o["id"].split("/")[0], o["outcome"]) for o in inproc.outcomes.values()}
    assert {("model", "ok"), ("model", "error"), ("dataset", "ok"), ("dataset", "error")} <= verdicts


# ======================================================= path 2: the worker
WORKER_CASES = [
    "model/digits_logreg.skops/truncate/0", "model/digits_logreg.skops/flip/0", "model/digits_logreg.skops/zip_bomb/1",
    "model/digits_logreg.skops/zip_lie/1", "model/digits_logreg.skops/skops_swap/0",
    "model/digits_logreg.skops/skops_object/0", "model/digits_logreg.skops/skops_object/4",
    "model/digits_logreg.skops/skops_npy/1", "model/digits_mlp.onnx/flip/1", "model/digits_mlp.onnx/onnx_graph/9",
    "model/digits_mlp.onnx/onnx_graph/0", "model/digits_mlp.pt/zip_lie/0", "model/digits_mlp.pt/rename/9",
    "model/digits_mlp.pt2/pt2_program/11", "model/digits_mlp.pt2/pt2_program/15", "model/digits_mlp.pt2/truncate/2",
    "model/digits_logreg.onnx/name/0", "model/digits_logreg.onnx/name/2",
    "dataset/iris.csv/csv_utf16/0", "dataset/iris.csv/csv_field_bomb/0", "dataset/breast_cancer.csv/csv_nan_cells/0",
    "dataset/iris.parquet/pq_struct_column/0", "dataset/iris.parquet/pq_dict_bomb/0", "dataset/iris.parquet/flip/4",
    "dataset/iris.npz/npz_object_X/0", "dataset/iris.npz/npz_rows_mismatch/0", "dataset/iris.npz/npz_bomb_lying/0",
    "dataset/iris.npz/npz_huge_shape/0", "dataset/iris.npz/npz_X_float128/0", "dataset/iris.csv/rename/0",
]
WORKER_BATCH = 3            # jobs running at once (2 cores)
WORKER_MEMORY_MB = "1500"   # the supervisor's limit: a kill on these small capped files is a finding
JOB_TIMEOUT_S = 240         # a liveness bound for one job
KILLED = re.compile(r"was stopped|was killed|crashed|exited with code|supervisor|took longer than")


@dataclass
class WorkerRun:
    ws: Path
    results: dict[str, dict[str, Any]]


def _register_kinds_exist() -> bool:
    import engine.jobs.kinds  # noqa: F401  (registers the built-in kinds)
    from engine.jobs.spec import PAYLOADS

    return {"register_model", "register_dataset"} <= set(PAYLOADS)


def _request(case: Case, upload: str) -> dict[str, Any]:
    if case.kind == "model":
        return {"kind": "register_model", "upload": upload, "filename": case.name, "display_name": case.display,
                "trusted": False}
    return {"kind": "register_dataset", "upload": upload, "filename": case.name, "display_name": None}


@pytest.fixture(scope="module")
def worker_run(tmp_path_factory, cli_started) -> WorkerRun:
    if not _register_kinds_exist():
        pytest.skip("engine.jobs has no register_model/register_dataset job kinds yet")
    from engine import jobs
    from engine.errors import FrontierError
    from engine.workspace import Workspace

    wait_for_futures([cli_started])  # the CLI thread reads os.environ, which this fixture changes
    corpus = Corpus()
    by_id = {s.id: s for s in SPECS}
    results: dict[str, dict[str, Any]] = {}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in (ENV | {"FRONTIER_WORKER_MEMORY_MB": WORKER_MEMORY_MB}).items():
            mp.setenv(key, value)
        ws = Workspace.open(tmp_path_factory.mktemp("fuzz-worker") / "ws")
        pending = list(WORKER_CASES)
        running: dict[str, tuple[str, float]] = {}  # case id -> (job id, when it was submitted)
        while pending or running:  # WORKER_BATCH jobs at a time: the next starts as soon as one ends
            while pending and len(running) < WORKER_BATCH:
                case_id = pending.pop(0)
                case = build(by_id[case_id], corpus)
                upload = f"upload{case.suffix}" if re.fullmatch(r"\.[a-z0-9]{1,8}", case.suffix) else "upload"
                try:
                    running[case_id] = (jobs.submit(ws, _request(case, upload), files={upload: case.data},
                                                    owner="fuzz", title=f"fuzz {case_id}"), time.monotonic())
                except FrontierError as exc:  # refused before any job exists: a one-line error too
                    results[case_id] = {"state": "refused", "error": exc.message, "job_id": None}
            for case_id, (job_id, since) in list(running.items()):
                st = jobs.status(ws, job_id)
                if st.active and time.monotonic() - since <= JOB_TIMEOUT_S:
                    continue
                if st.active:  # hung: reported as the state it was stuck in
                    jobs.cancel(ws, job_id)
                    jobs.wait(ws, job_id, timeout_s=30)
                results[case_id] = {"state": st.state, "error": st.error, "result": st.result, "job_id": job_id}
                del running[case_id]
            time.sleep(0.05)
    (ws.root.parent / "outcomes.json").write_text(json.dumps(results, indent=1))  # for whoever reads a failure
    return WorkerRun(ws.root, results)


@pytest.mark.slow
@pytest.mark.parametrize("case_id", _params(WORKER_CASES, KNOWN_WORKER_BUGS))
def test_worker_registration_ends_done_or_failed_in_one_line(worker_run, inproc, case_id):
    r = worker_run.results[case_id]
    assert r["state"] in ("done", "failed", "refused"), f"{case_id}: the job ended {r['state']}: {r['error']!r}"
    if r["state"] == "done":
        key = "artifact_id" if case_id.startswith("model/") else "dataset_id"
        top = "artifacts" if case_id.startswith("model/") else "datasets"
        assert (worker_run.ws / top / r["result"][key] / "meta.json").is_file(), f"{case_id}: {r['result']}"
    else:
        assert _one_line(r["error"]) is None, f"{case_id}: {_one_line(r['error'])}"
        assert not KILLED.search(r["error"]), f"{case_id}: a small capped upload killed its worker: {r['error']}"
    if r["job_id"] is not None:
        job_dir = worker_run.ws / "jobs" / r["job_id"]
        assert not (job_dir / "inputs").exists() and not (job_dir / "scratch").exists(), \
            f"{case_id}: the job's inputs or scratch space outlived it"
    verdict = inproc.outcomes[case_id]["outcome"]
    if r["state"] != "refused" and verdict in ("ok", "error"):
        expected = "done" if verdict == "ok" else "failed"
        assert r["state"] == expected, (f"{case_id}: the worker says {r['state']} ({r['error']!r}) but in-process "
                                        f"registration said {verdict} ({inproc.outcomes[case_id].get('message')!r})")


@pytest.mark.slow
def test_worker_registrations_leave_only_successes(worker_run):
    ws = worker_run.ws
    done = {r["result"].get("artifact_id") or r["result"].get("dataset_id")
            for r in worker_run.results.values() if r["state"] == "done"}
    found = {p.name for p in (ws / "artifacts").iterdir()} | {p.name for p in (ws / "datasets").iterdir()}
    assert found == done, f"unexpected: {sorted(found - done)}; missing: {sorted(done - found)}"
    stray = [p for top in ("artifacts", "datasets") for p in (ws / top).rglob(".*")]
    assert not stray, f"staging or temporary files left behind: {stray[:5]}"


# ========================================================== path 3: the CLI
CLI_MODEL_CASES = [
    "model/digits_logreg.skops/flip/1", "model/digits_logreg.skops/skops_object/0",
    "model/digits_mlp.onnx/onnx_graph/0", "model/digits_mlp.onnx/onnx_graph/2", "model/digits_mlp.onnx/onnx_graph/6",
    "model/digits_mlp.onnx/onnx_graph/18", "model/digits_mlp.pt2/pt2_program/5", "model/digits_mlp.pt2/zip_bomb/1",
    "model/digits_mlp.pt/flip/0",
]
CLI_DATA_CASES = [
    "dataset/iris.csv/csv_semicolon/0", "dataset/diabetes.csv/csv_inf/0", "dataset/breast_cancer.csv/csv_nan_cells/0",
    "dataset/iris.parquet/pq_timestamp_tz/0", "dataset/iris.npz/npz_X_nan/0", "dataset/iris.npz/npz_y_strings/0",
    "dataset/digits_images.npz/flip/0", "dataset/iris.npz/npz_X_float128/0", "dataset/iris.csv/csv_utf16/0",
    "dataset/iris.csv/csv_ansi_header/0",
]
CLI_CASES = CLI_MODEL_CASES + CLI_DATA_CASES
CLI_COMMON = ("--json", "--cv", "2", *FAST_BENCH)
GOOD_MODEL = "digits_logreg.skops"


@dataclass
class CliRun:
    before: dict[str, dict]
    after: dict[str, dict]
    results: dict[str, CliResult]
    workspaces: dict[str, Path]


@pytest.fixture(scope="module")
def cli_started(tmp_path_factory) -> Iterator[Future[CliRun]]:
    """The CLI cases, started in a thread of their own: :func:`inproc` asks for this first, so they run
    while the in-process server (one process, about one core) works through its cases. The workspaces
    and case files are made here, before the thread starts; the thread only runs the CLI (each call
    with its own environment) and takes the snapshots after. A failure is raised by :func:`cli_run`."""
    root = tmp_path_factory.mktemp("fuzz-cli")
    try:
        prepared = _prepare_cli_cases(root)
    except Exception as exc:
        failed: Future[CliRun] = Future()
        failed.set_exception(exc)
        yield failed
        return
    with ThreadPoolExecutor(max_workers=1) as runner:  # leaving the fixture waits for it
        yield runner.submit(_run_cli_cases, root, *prepared)


@pytest.fixture(scope="module")
def cli_run(cli_started) -> CliRun:
    return cli_started.result()


def _prepare_cli_cases(root: Path) -> tuple[dict[str, list], dict[str, Path], dict[str, dict]]:
    """Per case: the CLI arguments, a private copy of a base workspace, and its snapshot."""
    from engine import datasets, models
    from engine.workspace import Workspace

    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        base = Workspace.open(root / "base")
        models.register_file(base, sample(GOOD_MODEL))
        datasets.register(base, datasets.builtin("digits"))
    corpus = Corpus()
    by_id = {s.id: s for s in SPECS}
    jobs_args: dict[str, list] = {}
    workspaces: dict[str, Path] = {}
    before: dict[str, dict] = {}
    for i, case_id in enumerate(CLI_CASES):
        case = build(by_id[case_id], corpus)
        folder = root / f"case{i:02d}"
        folder.mkdir()
        path = folder / Path(case.name).name
        path.write_bytes(case.data)
        ws = copy_workspace(root / "base", folder / "ws")
        workspaces[case_id], before[case_id] = ws, snapshot(ws)
        if case.kind == "model":
            jobs_args[case_id] = ["benchmark", "--model", path, "--data", "digits", "--as-is", "--workspace", ws]
        else:
            jobs_args[case_id] = ["benchmark", "--model", sample(GOOD_MODEL), "--data", path, "--workspace", ws]
    return jobs_args, workspaces, before


def _run_cli_cases(root: Path, jobs_args: dict[str, list], workspaces: dict[str, Path],
                   before: dict[str, dict]) -> CliRun:
    seconds: dict[str, float] = {}

    def timed(case_id: str, args: list) -> CliResult:
        t0 = time.monotonic()
        result = run_cli(*args, *CLI_COMMON, env=ENV)
        seconds[case_id] = round(time.monotonic() - t0, 1)
        return result

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {cid: pool.submit(timed, cid, args) for cid, args in jobs_args.items()}
        results = {cid: f.result() for cid, f in futures.items()}
    (root / "outcomes.json").write_text(json.dumps(  # for whoever reads a failure
        {cid: {"exit": r.returncode, "seconds": seconds[cid], "stderr": r.stderr[-500:]} for cid, r in results.items()},
        indent=1))
    return CliRun(before, {cid: snapshot(ws) for cid, ws in workspaces.items()}, results, workspaces)


def _finite_or_null(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and math.isfinite(value))


@pytest.mark.slow
@pytest.mark.parametrize("case_id", _params(CLI_CASES, KNOWN_CLI_BUGS))
def test_cli_benchmark_ends_with_json_or_one_line(cli_run, case_id):
    r = cli_run.results[case_id]
    assert r.returncode in (0, 1, 2), f"{case_id}: {r}"
    if r.returncode == 0:
        runs = r.json["runs"]
        assert len(runs) == 1 and isinstance(runs[0]["run_id"], str), f"{case_id}: {r}"
        for key in ("accuracy_mean", "rmse_mean", "latency_p50_ms", "size_bytes"):
            assert _finite_or_null(runs[0].get(key)), f"{case_id}: {key} = {runs[0].get(key)!r}"
    else:
        assert len(r.stderr_lines) == 1 and "Traceback" not in r.stderr, f"{case_id}: {r}"
        assert _one_line(r.stderr_lines[0]) is None, f"{case_id}: {_one_line(r.stderr_lines[0])}"
        assert r.stdout.strip() == "", f"{case_id}: a failed --json run printed on stdout: {r}"
    before, after = cli_run.before[case_id], cli_run.after[case_id]
    if r.returncode == 2:
        assert after == before, (f"{case_id}: exit 2 changed the workspace: "
                                 f"{sorted(set(after) ^ set(before))[:5] or 'file contents'}")
    if r.returncode == 1:
        new_runs = [k for k in set(after) - set(before)
                    if k.startswith("results/") and k.count("/") == 1 and after[k][0] == "dir"]
        assert not new_runs, f"{case_id}: a failed run left results: {new_runs}"
    stray = [k for k in after if any(part.startswith(".") for part in k.split("/")[1:])
             and k.split("/")[0] in ("artifacts", "datasets", "results")]
    assert not stray, f"{case_id}: staging or temporary files left behind: {stray[:5]}"
