"""The ``tune`` job, in the worker: run the study, save its best trials as models, benchmark them.

The best trials (the feasible Pareto set, or the feasible best) are refit on
every row, saved as artifacts whose lineage names the study, trial and
parameters, and benchmarked on the study's own folds, so they appear on the
compare page beside every other run of that dataset.

A scikit-learn family's model is saved as skops and benchmarked like any
scikit-learn model: refit per fold (``cv-refit``), so its benchmark score is
the study's. A torch family's model (``mlp``, ``cnn``) is saved as TorchScript
(its standardisation inside, raw float32 features in), registered as trusted
because this job built it from Frontier's own code, and, like every torch
model, benchmarked as-is: one network trained on the dataset's rows is scored
on each test fold. Those rows are ones it was trained on, so the run is marked
``rows_seen`` (the compare page flags it) and its lineage says what it was
trained on and gives its cross-validated score from the study, the honest one.
"""

from __future__ import annotations

import re
import time
from typing import Any

from engine import metrics
from engine.errors import FrontierError, first_line, option
from engine.jobs.progress import Reporter, Scoped, as_reporter
from engine.jobs.spec import TunePayload, TuneSavePayload
from engine.workspace import Workspace

TUNE_END = 0.8  # progress share of the trials; saving and benchmarking the best take the rest
REQUEST_ATTR = "frontier_request"  # the tune request, without its storage URL (it may hold a password)
BEST_LATENCY = {"batch_sizes": (1, 32), "min_time_s": 0.2, "min_count": 20}
# a saved trial's lineage starts "trial N of study S", then ":" or " (" (study names have neither)
_TRIAL_LINEAGE = re.compile(r"trial (\d{1,7}) of study ([A-Za-z0-9][A-Za-z0-9._-]{0,99})(?=: | \()")


def lineage_prefix(number: int, study: str) -> str:
    """How a saved trial's lineage begins."""
    return f"trial {number} of study {study}"


def trial_of(lineage: object) -> tuple[str, int] | None:
    """``(study, trial number)`` of a model saved from a study, read from its lineage; None otherwise."""
    m = _TRIAL_LINEAGE.match(lineage) if isinstance(lineage, str) else None
    return (m.group(2), int(m.group(1))) if m else None


def spec_of(payload: TunePayload, ws: Workspace | None = None):
    """The study's question from a request (validates objective, constraints and the user space)."""
    from engine.tune import spaces
    from engine.tune.objective import parse_objective
    from engine.tune.study import StudySpec

    fam = spaces.family(payload.family)
    if payload.task not in fam.tasks:
        raise FrontierError(f"{option('family', payload.family)} does not do {payload.task}; choose one of "
                            f"{', '.join(n for n, f in spaces.FAMILIES.items() if payload.task in f.tasks)}")
    objective = parse_objective(payload.objective or metrics.primary(payload.task).name, payload.task,
                                payload.constraints, batch_size=payload.batch_size)
    space = spaces.parse_space(payload.space, fam, task=payload.task) if payload.space else ()
    return StudySpec(family=payload.family, dataset_id=payload.dataset_id, target=payload.target,
                     task=payload.task, cv=payload.cv, seed=payload.seed, objective=objective,
                     sampler=payload.sampler, pruner=payload.pruner, space=space)


def execute(ws: Workspace, payload: TunePayload, progress: Any = None, *, owner: str | None = None,
            job_id: str | None = None) -> dict[str, Any]:
    from engine.tune.storage import mask, open_storage
    from engine.tune.study import best_trials, open_study, optimize, ranked_trials, tally

    steps = as_reporter(progress)
    spec = spec_of(payload)
    steps.step("preparing the data", 0.0)
    dataset, prep = _prepared(ws, payload)
    storage = open_storage(payload.storage)
    study = open_study(spec, name=payload.study, storage=storage)
    if REQUEST_ATTR not in study.user_attrs:  # what `engine worker` needs to join from another machine
        study.set_user_attr(REQUEST_ATTR, payload.to_dict() | {"storage": ""})
    threads = payload.threads or 1

    started, first = time.monotonic(), tally(study.get_trials(deepcopy=False)).counted

    def on_trial(done: int, total: int) -> None:
        # each trial is its own step, so a per-step time limit bounds one trial, not the whole study
        steps.step(f"{done} of {total} trials done", TUNE_END * done / total, name="trial")
        if done > first:  # the rate of the whole study (every worker's trials), from this worker's start
            steps.eta((time.monotonic() - started) / (done - first) * (total - done))

    steps.step(f"{first} of {payload.n_trials} trials done", 0.01, name="trial")
    optimize(study, spec, prep, n_trials=payload.n_trials, threads=threads, on_trial=on_trial, job_id=job_id)
    best = best_trials(study)
    chosen = ranked_trials(study, payload.save_best)
    saved = _save_and_benchmark(ws, payload, spec, prep, dataset, chosen, steps, owner=owner)
    none = {"artifact_id": None, "run_id": None}
    return {"study": payload.study, "storage": mask(payload.storage), "n_trials": len(study.trials),
            "directions": [d.name.lower() for d in study.directions],
            "best_trials": [b.to_dict() | saved.get(b.number, none) for b in best],
            "saved": [b.to_dict() | saved[b.number] for b in chosen if b.number in saved],
            "feasible": any(b.feasible for b in best)}


def _prepared(ws: Workspace, payload: TunePayload) -> tuple[Any, Any]:
    """The study's dataset and its prepared rows, checked against the family (tabular or images)."""
    from engine import datasets
    from engine.tune import spaces

    fam = spaces.family(payload.family)
    dataset = datasets.load(ws, payload.dataset_id)
    prep = datasets.prepare(dataset, target=payload.target, task=payload.task, n_splits=payload.cv,
                            numeric=fam.needs_numeric, needed_by=option("family", fam.name) if fam.needs_numeric else None)
    fam.check_input(prep.input_shape, dataset.name)
    return dataset, prep


def release_trials(storage_url: str, study_name: str, job_id: str) -> int:
    """Fail the trials a stopped job left RUNNING (cancelled, or its worker killed: nothing can finish
    them), marked so they are not counted towards the total; how many. Idempotent; call it only once
    the job has ended."""
    import optuna
    from optuna.trial import TrialState

    from engine.tune.storage import open_storage
    from engine.tune.study import JOB_ATTR, STOPPED_ATTR

    storage = open_storage(storage_url, heartbeat_s=None, grace_s=None)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        return 0
    left = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if t.user_attrs.get(JOB_ATTR) == job_id]
    released = 0
    for t in left:
        try:  # the mark first: a finished trial takes no more writes (and the mark counts only on FAIL)
            storage.set_trial_user_attr(t._trial_id, STOPPED_ATTR, True)
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            released += 1
        except RuntimeError:  # it finished after all, between the look and the write
            continue
    return released


def request_of(study: Any, storage_url: str) -> TunePayload:
    """The tune request a study was made with (stored in it by the tune job), with ``storage_url``."""
    request = study.user_attrs.get(REQUEST_ATTR)
    if not isinstance(request, dict):
        raise FrontierError(f"{option('study')}: '{study.study_name[:60]}' was not made by a Frontier tune job")
    return TunePayload.from_dict(request | {"storage": storage_url, "study": study.study_name})


def execute_save(ws: Workspace, payload: TuneSavePayload, progress: Any = None, *,
                 owner: str | None = None) -> dict[str, Any]:
    """Save the chosen complete trials of a study as models and benchmark them on its folds."""
    import optuna
    from optuna.trial import TrialState

    from engine.tune.storage import open_storage
    from engine.tune.study import BestTrial, feasible

    steps = as_reporter(progress)
    storage = open_storage(payload.storage, heartbeat_s=None, grace_s=None)
    try:
        study = optuna.load_study(study_name=payload.study, storage=storage)
    except KeyError:
        raise FrontierError(f"{option('study')}: no study '{payload.study[:60]}' in that storage") from None
    request = request_of(study, payload.storage)
    by_number = {t.number: t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}
    missing = [n for n in payload.trials if n not in by_number]
    if missing:
        raise FrontierError(f"trial(s) {', '.join(map(str, missing[:10]))} of study '{payload.study}' did not "
                            "complete, so there is no model to save")
    chosen = [BestTrial(n, list(by_number[n].values), dict(by_number[n].params), feasible(by_number[n]))
              for n in dict.fromkeys(payload.trials)]
    spec = spec_of(request)
    steps.step("preparing the data", 0.0)
    dataset, prep = _prepared(ws, request)
    saved = _save_and_benchmark(ws, request, spec, prep, dataset, chosen, steps, owner=owner, start=0.0)
    return {"study": payload.study, "saved": [b.to_dict() | saved.get(b.number, {"artifact_id": None, "run_id": None})
                                              for b in chosen]}


def _save_and_benchmark(ws: Workspace, payload: TunePayload, spec, prep, dataset, best, steps: Reporter, *,
                        owner: str | None, start: float = TUNE_END) -> dict[int, dict[str, Any]]:
    """Refit ``best`` on every row, register them, benchmark them; progress from ``start`` to 1."""
    import dataclasses

    from engine import benchmark, datasets
    from engine.benchmark.execute import execute as run_benchmark
    from engine.measure.latency import LatencySettings
    from engine.tune import spaces

    if not best:
        return {}
    fam = spaces.family(payload.family)
    y = prep.y
    infos, numbers = [], []
    with _save_lock(ws, payload.study):  # workers finishing together save each trial once
        earlier = _saved_models(ws, payload.study)
        for i, b in enumerate(best):
            params = _params_text(b.params)
            if b.number in earlier and _same_params(earlier[b.number].lineage, params):
                infos.append(earlier[b.number])  # saved before (another worker, or an earlier run)
                numbers.append(b.number)
                continue
            info = _save_one(ws, payload, spec, prep, dataset, fam, b, y, params, steps, owner=owner,
                             at=start + 0.05 * i / len(best))
            if info is not None:
                infos.append(info)
                numbers.append(b.number)
    if not infos:
        return {}
    config = benchmark.BenchmarkConfig(target=payload.target, cv=payload.cv, seed=payload.seed,
                                       latency=LatencySettings(**BEST_LATENCY), threads=payload.threads)
    plan = benchmark.plan(ws, infos, datasets.info(ws, dataset.id), config, names=[i.name for i in infos])
    # a torch model is scored as-is on the folds of the rows it was trained on: say so on the run
    plan = dataclasses.replace(plan, runs=[dataclasses.replace(r, rows_seen=True) if r.mode == "as-is" else r
                                           for r in plan.runs])
    if plan.pending:
        steps.step(f"benchmarking {len(plan.pending)} saved model(s) on the study's folds", start + 0.05)
        run_benchmark(ws, plan.to_request(), Scoped(steps, start + 0.05, 1.0, "saved models: "))
    return {n: {"artifact_id": r.artifact.id, "run_id": r.run_id} for n, r in zip(numbers, plan.runs, strict=True)}


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _same_params(lineage: str, params: str) -> bool:
    """Whether a saved trial's lineage names these parameters (a study name reused in another storage
    would not); a lineage cut at its 300 characters before them is trusted."""
    return params[:40] in lineage or len(lineage) >= 300


def _save_lock(ws: Workspace, study: str):
    """One saver per study at a time (workers of a study may finish together)."""
    import filelock

    folder = ws.root / ".locks"
    folder.mkdir(exist_ok=True)
    return filelock.FileLock(folder / f"tune-save-{study}.lock", timeout=600)


def _saved_models(ws: Workspace, study: str) -> dict[int, Any]:
    """Trial number -> the model already saved from ``study`` in this workspace (by its lineage)."""
    from engine import models

    out: dict[int, Any] = {}
    for info in models.list_registered(ws):
        hit = trial_of(info.lineage)
        if hit is not None and hit[0] == study:
            out.setdefault(hit[1], info)
    return out


def _save_one(ws: Workspace, payload: TunePayload, spec, prep, dataset, fam, b, y, params: str, steps: Reporter, *,
              owner: str | None, at: float):
    """Refit one trial on every row and register it; None (and a progress note) when it cannot be saved."""
    from engine import models

    steps.step(f"saving trial {b.number}", at)
    name = f"{payload.family} trial {b.number} ({payload.study})"
    lineage = f"{lineage_prefix(b.number, payload.study)}: {params}"
    try:
        model = fam.build(b.params, task=payload.task, seed=payload.seed, threads=payload.threads or 1)
        model = model.fit(prep.X, y)
        if fam.artifact == "torchscript":
            return _register_torch(ws, model, payload, spec, prep, dataset, b, name=name, params=params, owner=owner)
        return models.register_bytes(ws, _skops_bytes(model), f"{payload.family}-trial{b.number}.skops",
                                     display_name=name, lineage=lineage[:300], owner=owner)
    except (FrontierError, ArithmeticError, ValueError) as exc:
        # a family whose fitted types the skops allow-list refuses, or a refit that diverged
        steps.step(f"trial {b.number} not saved: {first_line(exc)}", at)
        return None


def _skops_bytes(model: Any) -> bytes:
    from engine.models.formats.skops import import_skops

    import_skops()
    import skops.io as sio

    return sio.dumps(model)


def _register_torch(ws: Workspace, model: Any, payload: TunePayload, spec, prep, dataset, b, *, name: str,
                    params: str, owner: str | None):
    """Register a fitted torch-family model as TorchScript, with what it was trained on in its lineage."""
    from engine import models

    metric = spec.objective.metric
    held = f" ({model.n_validation_rows_} more held out for its per-epoch score)" if model.n_validation_rows_ else ""
    trained = (f"torch {model.arch} trained on {model.n_train_rows_} of the {prep.n_rows} rows of '{dataset.name}'"
               f"{held}, so a benchmark on them scores rows it saw; its {payload.cv}-fold {metric} in the study: "
               f"{b.values[0]:.4g}")
    lineage = f"{lineage_prefix(b.number, payload.study)} ({trained}): {params}"
    # Frontier built these bytes itself, from its own code and the study's parameters: trusted, as the
    # bundled samples are (a TorchScript archive is otherwise refused untrusted)
    info = models.register_bytes(ws, model.to_torchscript(), f"{payload.family}-trial{b.number}.pt", trusted=True,
                                 display_name=name, lineage=lineage[:300], owner=owner)
    classes = None if prep.classes is None else [c.item() if hasattr(c, "item") else c for c in prep.classes]
    shape = [int(d) for d in prep.input_shape]
    return models.update(ws, info, task=payload.task, estimator=type(model).__name__, classes=classes,
                         n_features=int(model.n_features_in_),
                         inputs=[{"name": "x", "shape": [None, *shape], "dtype": "float32"}],
                         n_parameters=int(sum(p.numel() for p in model.net_.parameters())))
