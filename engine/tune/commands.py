"""``python -m engine tune``: validate every flag, register the data, run the study as a job."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from engine.errors import FrontierError


def add_arguments(t: argparse.ArgumentParser) -> None:
    t.add_argument("--family", required=True, metavar="NAME",
                   help="logreg, random_forest, hist_gradient_boosting, svm, mlp or cnn")
    t.add_argument("--data", required=True, metavar="PATH", help="dataset file or built-in name (as for benchmark)")
    t.add_argument("--target", metavar="COL", help="target column (default as for benchmark)")
    t.add_argument("--trials", type=int, required=True, metavar="N", help="finished trials the study should hold")
    t.add_argument("--objective", default="", metavar="M[,latency][,size]",
                   help="metric to optimize, optionally with latency (p50 at --batch-size) and size (default: "
                        "the task's primary metric)")
    t.add_argument("--constraint", action="append", default=[], metavar="COL<=V",
                   help="e.g. latency_p95_ms<=2, size_bytes<=5e6 or accuracy>=0.9; repeatable")
    t.add_argument("--sampler", default="tpe", help="tpe (default), random, cmaes, gp or nsga2")
    t.add_argument("--pruner", default=None, help="median (default for one objective), sha, hyperband or none")
    t.add_argument("--storage", metavar="URL", help="sqlite:///PATH, postgresql://..., journal:PATH "
                                                    "(default $FRONTIER_STORAGE or <workspace>/studies.db)")
    t.add_argument("--study", metavar="NAME", help="study name (default: <family>-<dataset>); an existing "
                                                   "study with the same settings is continued")
    t.add_argument("--space", metavar="JSON", help="a search space of your own: JSON or YAML text, or a .json/.yaml "
                                                   "file")
    t.add_argument("--cv", type=int, default=5, help="folds (default 5, the benchmark's)")
    t.add_argument("--seed", type=int, default=0, help="fold and sampler seed (default 0)")
    t.add_argument("--batch-size", type=int, default=1, metavar="N", help="batch size latency is measured at")
    t.add_argument("--threads", type=int, metavar="N", help="threads for fits and inference")
    t.add_argument("--save-best", type=int, default=5, metavar="N",
                   help="best trials to save as models and benchmark (default 5, 0 for none)")
    _add_heartbeat(t, "(default: the study's if it exists, else $FRONTIER_TUNE_HEARTBEAT_S or 60)")


def _add_heartbeat(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--heartbeat", metavar="SECONDS",
                   help="how often a worker tells the storage its trial is alive; a trial silent for twice "
                        f"that is failed and retried (PostgreSQL, MySQL, SQLite) {default}")


def cmd_tune(args: argparse.Namespace) -> int:
    from engine import datasets, jobs
    from engine.cli import _close_bar, _dataset, _progress_bar
    from engine.owners import local_actor
    from engine.tune import request
    from engine.workspace import Workspace

    if args.heartbeat is not None:
        from engine.tune.storage import heartbeat_seconds

        heartbeat_seconds(args.heartbeat, what="--heartbeat")
    space = request.space_from_text(_space_text(args.space))
    ws_root = Path(args.workspace) if args.workspace else None
    probe = Workspace.at(ws_root)
    dataset = _dataset(probe, args.data)
    name = args.study or request.default_study_name(args.family, dataset.name)
    payload = request.build(dataset, family=args.family, target=args.target, n_trials=args.trials, study=name,
                            storage=_storage(args.storage, probe), objective=args.objective,
                            constraints=tuple(args.constraint), sampler=args.sampler, pruner=args.pruner, cv=args.cv,
                            seed=args.seed, batch_size=args.batch_size, space=space, threads=args.threads,
                            save_best=args.save_best)
    recorded = None
    if payload.storage.startswith(("postgresql", "mysql")) or (
            payload.storage.startswith("sqlite:///") and Path(payload.storage[10:].partition("?")[0]).is_file()):
        # a server: reachable before anything is written; an existing study: its heartbeat
        from engine.tune.storage import open_storage

        try:
            storage = open_storage(payload.storage, heartbeat_s=None, grace_s=None)
        except FrontierError as exc:
            raise FrontierError(f"--storage: {exc.message}") from None
        recorded = _recorded_heartbeat(storage, name)
    _use_heartbeat(args.heartbeat, recorded, name)
    ws = Workspace.open(ws_root)
    owner = local_actor().name
    if isinstance(dataset, datasets.Dataset):
        datasets.register(ws, dataset, owner=owner)
    st = jobs.run(ws, {"kind": "tune", **payload.to_dict()},
                  on_progress=_progress_bar(args.json, 1, desc=f"tune {args.family} ({args.trials} trials)"),
                  title=f"tune {args.family} on {dataset.name}", owner=owner)
    _close_bar()
    if st.state != "done":
        from engine.cli import _RunFailed
        from engine.tune.run import release_trials

        with contextlib.suppress(FrontierError):  # the storage gone too: its heartbeat will fail them
            release_trials(payload.storage, payload.study, st.job_id)  # nothing can finish them now

        raise _RunFailed(st.error or st.state)
    result = st.result or {}
    if args.json:
        print(json.dumps(result, default=str))
    else:
        _print(result)
    return 0


def add_worker_arguments(w: argparse.ArgumentParser) -> None:
    w.add_argument("--study", required=True, metavar="NAME", help="the study to join (made by `tune`)")
    w.add_argument("--storage", required=True, metavar="URL",
                   help="the study's storage: postgresql://... or journal:PATH on a shared disk")
    w.add_argument("--trials", type=int, metavar="N", help="finished trials the study should hold in all "
                                                           "(default: what `tune` asked for)")
    w.add_argument("--threads", type=int, metavar="N", help="threads for fits and inference")
    _add_heartbeat(w, "(default: the study's; another is refused)")


def cmd_worker(args: argparse.Namespace) -> int:
    """Join a study from any machine sharing its storage and workspace: the same tune job, its
    request read from the study itself; workers together stop at the study's total."""
    from engine import datasets, jobs
    from engine.cli import _close_bar, _progress_bar
    from engine.jobs.spec import TunePayload
    from engine.owners import local_actor
    from engine.tune.run import REQUEST_ATTR
    from engine.tune.storage import open_storage, resolve
    from engine.workspace import Workspace

    if args.threads is not None and args.threads < 1:
        raise FrontierError("--threads must be at least 1")
    ws_root = Path(args.workspace) if args.workspace else None
    probe = Workspace.at(ws_root)
    try:
        url = resolve(args.storage, probe, workers=2)
        storage = open_storage(url, heartbeat_s=None, grace_s=None)
    except FrontierError as exc:
        raise FrontierError(f"--storage: {exc.message}") from None
    import optuna

    try:
        study = optuna.load_study(study_name=args.study, storage=storage)
    except KeyError:
        raise FrontierError(f"--study: no study '{args.study[:60]}' in that storage; start it with "
                            "`python -m engine tune --storage ...`") from None
    _use_heartbeat(args.heartbeat, _recorded_heartbeat(study, args.study), args.study)
    request = study.user_attrs.get(REQUEST_ATTR)
    if not isinstance(request, dict):
        raise FrontierError(f"--study: '{args.study[:60]}' was not made by `python -m engine tune`")
    payload = TunePayload.from_dict(request | {"storage": url, "study": args.study})
    if args.trials is not None:
        if not 1 <= args.trials <= 100_000:
            raise FrontierError(f"--trials must be between 1 and 100,000, got {args.trials}")
        payload = TunePayload.from_dict(payload.to_dict() | {"n_trials": args.trials})
    if args.threads is not None:
        payload = TunePayload.from_dict(payload.to_dict() | {"threads": args.threads})
    try:
        datasets.info(probe, payload.dataset_id)
    except FrontierError:
        raise FrontierError(f"--workspace: the study's dataset {payload.dataset_id} is not in {probe.root}; "
                            "point --workspace at the workspace the study was started in") from None
    ws = Workspace.open(ws_root)
    st = jobs.run(ws, {"kind": "tune", **payload.to_dict()},
                  on_progress=_progress_bar(args.json, 1, desc=f"worker {args.study[:40]}"),
                  title=f"worker for study {args.study}", owner=local_actor().name)
    _close_bar()
    if st.state != "done":
        from engine.cli import _RunFailed
        from engine.tune.run import release_trials

        with contextlib.suppress(FrontierError):  # the storage gone too: its heartbeat will fail them
            release_trials(payload.storage, payload.study, st.job_id)  # nothing can finish them now

        raise _RunFailed(st.error or st.state)
    if args.json:
        print(json.dumps(st.result or {}, default=str))
    else:
        _print(st.result or {})
    return 0


def _recorded_heartbeat(storage_or_study, name: str) -> int | None:
    """The heartbeat a study was started with (``None``: no such study, or none recorded)."""
    import optuna

    from engine.tune.study import HEARTBEAT_ATTR

    study = storage_or_study
    if not isinstance(study, optuna.Study):
        try:
            study = optuna.load_study(study_name=name, storage=storage_or_study)
        except KeyError:
            return None
    value = study.user_attrs.get(HEARTBEAT_ATTR)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _use_heartbeat(flag: str | None, recorded: int | None, study: str) -> None:
    """Check ``--heartbeat`` against the study's and hand the value to the job's worker process
    (which opens the storage) through ``$FRONTIER_TUNE_HEARTBEAT_S``."""
    import os

    from engine.tune.storage import HEARTBEAT_ENV, heartbeat_seconds

    if flag is not None:
        value = heartbeat_seconds(flag, what="--heartbeat")
        if recorded is not None and value != recorded:
            raise FrontierError(f"--heartbeat: study '{study[:60]}' was started with --heartbeat {recorded}; "
                                f"give {recorded} or leave it out (workers of one study must agree on when a "
                                "silent trial is given up)")
    else:
        value = recorded if recorded is not None else heartbeat_seconds()
    os.environ[HEARTBEAT_ENV] = str(value)


def _storage(url: str | None, ws) -> str:
    from engine.tune.storage import resolve

    try:
        return resolve(url, ws)
    except FrontierError as exc:
        raise FrontierError(f"--storage: {exc.message}") from None


def _space_text(value: str | None) -> str:
    if not value:
        return ""
    if value.lstrip().startswith("{"):
        return value
    path = Path(value)
    try:
        is_file = path.is_file()
    except OSError:  # a name too long for the file system: text
        is_file = False
    if not is_file:
        if ":" in value:  # YAML text: parameter: {type: ..., ...}
            return value
        raise FrontierError(f"--space takes JSON or YAML text, or a .json/.yaml file; '{value[:60]}' is neither")
    if path.stat().st_size > 20_000:
        raise FrontierError(f"--space: {path.name} is larger than 20 KB")
    return path.read_text(encoding="utf-8", errors="replace")


def _print(result: dict[str, Any]) -> None:
    print(f"study {result.get('study')} ({result.get('storage')}): {result.get('n_trials')} trials, "
          f"{', '.join(result.get('directions', []))}")
    for b in result.get("best_trials", []):
        values = ", ".join(f"{v:.4g}" for v in b["values"])
        flag = "" if b.get("feasible", True) else " (infeasible)"
        print(f"  trial {b['number']}: {values}{flag}  {b['params']}  model {b.get('artifact_id') or '-'}"
              f"  run {b.get('run_id') or '-'}")
    saved = [b for b in result.get("saved", []) if b.get("run_id")]
    if not result.get("feasible", True):
        print("no trial meets every constraint: the best overall are shown (and saved) as infeasible",
              file=sys.stderr)
    if saved:
        runs = " ".join(f"--run {b['run_id']}" for b in saved)
        print(f"results: {len(saved)} trial(s) saved as models and runs; compare them with "
              f"`python -m engine compare {runs}`", file=sys.stderr)
    else:
        print("results: no trial saved (--save-best 0, or none could be); the study holds every trial",
              file=sys.stderr)
