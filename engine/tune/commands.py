"""``python -m engine tune``: validate every flag, register the data, run the study as a job."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from engine.errors import FrontierError

STUDY_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def add_arguments(t: argparse.ArgumentParser) -> None:
    t.add_argument("--family", required=True, metavar="NAME",
                   help="logreg, random_forest, hist_gradient_boosting or svm")
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
    t.add_argument("--space", metavar="JSON", help="a search space of your own (JSON text or a .json file)")
    t.add_argument("--cv", type=int, default=5, help="folds (default 5, the benchmark's)")
    t.add_argument("--seed", type=int, default=0, help="fold and sampler seed (default 0)")
    t.add_argument("--batch-size", type=int, default=1, metavar="N", help="batch size latency is measured at")
    t.add_argument("--threads", type=int, metavar="N", help="threads for fits and inference")
    t.add_argument("--save-best", type=int, default=5, metavar="N",
                   help="best trials to save as models and benchmark (default 5, 0 for none)")


def cmd_tune(args: argparse.Namespace) -> int:
    from engine import datasets, jobs
    from engine.cli import _close_bar, _dataset, _progress_bar
    from engine.datasets.prepare import Live
    from engine.jobs.spec import TunePayload
    from engine.owners import local_actor
    from engine.tune.run import spec_of
    from engine.tune.samplers import make_pruner, make_sampler
    from engine.workspace import Workspace

    if not 1 <= args.trials <= 100_000:
        raise FrontierError(f"--trials must be between 1 and 100,000, got {args.trials}")
    if args.cv < 2:
        raise FrontierError(f"--cv must be at least 2, got {args.cv}")
    if not 0 <= args.seed < 2**32:
        raise FrontierError(f"--seed must be between 0 and {2**32 - 1}, got {args.seed}")
    if args.threads is not None and args.threads < 1:
        raise FrontierError("--threads must be at least 1")
    if not 0 <= args.save_best <= 50:
        raise FrontierError(f"--save-best must be between 0 and 50, got {args.save_best}")
    from engine.tune import spaces

    if args.family not in spaces.FAMILIES:
        raise FrontierError(f"--family: unknown family '{args.family[:40]}'; choose one of {', '.join(spaces.FAMILIES)}")
    space = _space_text(args.space)
    ws_root = Path(args.workspace) if args.workspace else None
    probe = Workspace.at(ws_root)
    dataset = _dataset(probe, args.data)
    described = Live(dataset) if isinstance(dataset, datasets.Dataset) else dataset
    checked = datasets.check(described, target=args.target, n_splits=args.cv, numeric=False)
    name = args.study or f"{args.family}-{dataset.name}"
    if not STUDY_NAME_RE.fullmatch(name):
        raise FrontierError(f"--study: '{name[:40]}' must be letters, digits, '.', '_' or '-' (at most 100)")
    payload = TunePayload(family=args.family, dataset_id=dataset.id, target=checked.target, task=checked.task,
                          n_trials=args.trials, study=name, storage=_storage(args.storage, probe),
                          objective=args.objective, constraints=tuple(args.constraint), sampler=args.sampler,
                          pruner=args.pruner or "median", cv=args.cv, seed=args.seed, batch_size=args.batch_size,
                          space=space, threads=args.threads, save_best=args.save_best)
    spec = spec_of(payload)  # family, objective, constraints and space, in flag words
    n = len(spec.objective.directions)
    pruner = args.pruner or ("median" if n == 1 else "none")
    make_sampler(args.sampler, seed=args.seed, n_objectives=n, constrained=bool(spec.objective.constraints))
    make_pruner(pruner, n_objectives=n)
    payload = TunePayload(**(payload.to_dict() | {"pruner": pruner, "constraints": tuple(args.constraint)}))
    if payload.storage.startswith(("postgresql", "mysql")):  # a server: reachable before anything is written
        from engine.tune.storage import open_storage

        try:
            open_storage(payload.storage, heartbeat_s=None, grace_s=None)
        except FrontierError as exc:
            raise FrontierError(f"--storage: {exc.message}") from None
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

        raise _RunFailed(st.error or st.state)
    if args.json:
        print(json.dumps(st.result or {}, default=str))
    else:
        _print(st.result or {})
    return 0


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
    if not path.is_file():
        raise FrontierError(f"--space takes JSON text or a .json file; '{value[:60]}' is neither")
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
    print("results: the best trials are stored as runs; compare them with `python -m engine compare`",
          file=sys.stderr)
