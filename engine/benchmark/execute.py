"""Execute a planned benchmark in the worker process.

:func:`execute` evaluates each pending model on the shared folds, measures its
latency and stores one :class:`~engine.results.RunRecord` per model as soon as
it is done, so finished models are kept (and named to the supervisor) when a
later one fails. Work is reported in steps — loading, the probe, each fold's
fit, the latency fit, the latency sweep — each started before it runs, which
is what per-step time limits apply to. Heavy steps hold the machine lock
shared; the latency sweep holds it alone, so timings never overlap another
job's work. Each model's peak memory is its own (see ``engine.jobs.memory``).

A stored run whose latency was flagged skewed is measured again (and replaced)
even without ``recompute``: planning does not count it as cached. Each run's
summary says whether its latency was skewed and why, the 1-minute load average
before and after the latency sweep, and how many other Frontier jobs were
active in the workspace and queued on this machine's lock while it was timed.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine import ENGINE_VERSION, datasets, models
from engine.benchmark.plan import BenchmarkConfig, Progress, stored_skewed
from engine.datasets import Prepared
from engine.errors import FrontierError, first_line
from engine.jobs import machine
from engine.jobs.memory import PeakMemory, release_freed
from engine.jobs.progress import ProgressFile, Reporter, Scoped, as_reporter
from engine.jobs.spec import plain
from engine.measure import environment
from engine.measure.evaluate import Evaluation, evaluate, folds
from engine.measure.latency import measure, overall_skew
from engine.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS, mean_std
from engine.models import SKLEARN_FORMATS, ArtifactInfo
from engine.models.describe import model_params
from engine.models.predictors import Predictor, SklearnPredictor, make_predictor, model_input
from engine.results import ResultStore, RunRecord
from engine.results.folds import folds_id
from engine.workspace import Workspace

PROBE_ROWS = 200  # a cv-refit model is probed fitted on at most this many rows of the first fold
# where each part of one model's work sits in its progress bar
LOADED, PROBED, EVALUATED, LATENCY_FITTED = 0.02, 0.05, 0.70, 0.75


@contextlib.contextmanager
def _phase(steps: Reporter, message: str, fraction: float, *, exclusive: bool = False,
           expected_s: float | None = None) -> Iterator[None]:
    """Hold the machine lock (shared, or alone for timing) for one step, started once it is held."""
    hold = machine.exclusive if exclusive else machine.shared
    with hold(on_wait=steps.waiting):
        steps.step(message, fraction, expected_s=expected_s)
        yield


def execute(ws: Workspace, request: dict[str, Any], progress: Progress | Reporter | None = None) -> list[str]:
    """Run the pending runs of a planned request; called in the worker process."""
    steps = as_reporter(progress)
    try:
        config = BenchmarkConfig.from_dict(request["config"])
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise FrontierError(f"the job's benchmark settings are malformed: {first_line(exc)}") from None
    runs = request["runs"]
    with _phase(steps, "preparing the data", 0.0):
        dataset = datasets.load(ws, request["dataset_id"])
        prep = datasets.prepare(dataset, target=config.target, drop=config.drop, task=request["task"],
                                n_splits=config.cv, numeric=False)
        splits = folds(prep, n_splits=config.cv, seed=config.seed)
        subject = Subject(dataset.id, dataset.name,
                          config.target or (dataset.default_target if dataset.kind == "tabular" else "y"))
        if not _any_takes_frame(ws, runs):
            prep = prep.as_arrays()  # the float32 matrix is all ONNX and torch models read:
        del dataset  # the table (twice its size in float64) is let go before any model loads
        release_freed()
    store = ResultStore(ws)
    own_job = steps.path.parent.name if isinstance(steps, ProgressFile) else None
    done = []
    for i, run in enumerate(runs):
        steps.unit(i, run["name"])
        part = Scoped(steps, i / len(runs), (i + 1) / len(runs), f"{run['name']}: ")
        if request.get("recompute") or not store.has(run["run_id"]) or stored_skewed(store, run["run_id"]):
            release_freed()  # so this model's peak starts from what is live, not what the last one freed
            store.save(run_one(ws, run, subject, prep, splits, config, progress=part, own_job=own_job),
                       replace=True)  # a recompute, or a skewed measurement being redone
        done.append(run["run_id"])
        steps.finished(run["run_id"])
        part(1.0, "done")
    return done


@dataclass(frozen=True)
class Subject:
    """What a run's summary says of its dataset (the data themselves are not kept for it)."""

    id: str
    name: str
    target: str


def _any_takes_frame(ws: Workspace, runs: list[dict[str, Any]]) -> bool:
    """Whether any run's model is a scikit-learn estimator (it takes the DataFrame); a model
    that cannot be read here counts as one, and fails in its own run."""
    for run in runs:
        try:
            if models.get(ws, run["artifact_id"]).format in SKLEARN_FORMATS:
                return True
        except (FrontierError, KeyError, TypeError):
            return True
    return False


def _others(ws: Workspace, own_job: str | None) -> dict[str, int]:
    """Other Frontier work while this model is timed: active jobs in this workspace (this one
    left out) and processes queued on this machine's lock from any workspace (the lock keeps
    them from running beside the timing; they are recorded so a reader can see the load)."""
    from engine.jobs import list_jobs

    active = sum(1 for j in list_jobs(ws, active_only=True) if j.job_id != own_job)
    mine = f"-{os.getpid()}"
    queued = sum(1 for t in machine.MachineLock(machine.default_root()).queue() if not t.endswith(mine))
    return {"other_jobs_active": active, "other_jobs_queued": queued}


def run_one(ws: Workspace, run: dict[str, Any], dataset: Subject, prep: Prepared, splits,
            config: BenchmarkConfig, *, progress: Progress | Reporter, own_job: str | None = None) -> RunRecord:
    steps = as_reporter(progress)
    info = models.get(ws, run["artifact_id"])
    name = plain(info.name)  # shown inside error messages: no control characters
    refit = run["mode"] == "cv-refit"
    with PeakMemory() as peak:
        with _phase(steps, "loading", 0.0):
            t0 = time.perf_counter()
            model = models.load_model(ws, info)
            predictor = make_predictor(model, info.format, device=config.device, threads=config.n_threads)
            build_s = time.perf_counter() - t0
            if info.n_parameters is None:
                from engine.models.describe import loaded_metadata

                info = models.update(ws, info, **loaded_metadata(info, model))
        probe = f"checking it fits {PROBE_ROWS} rows and predicts" if refit else "checking inputs on 2 rows"
        with _phase(steps, probe, LOADED):
            _probe(predictor, prep, name, train=splits[0][0] if refit else None, seed=config.seed)
        ev = _evaluate(predictor, prep, splits, refit=refit, steps=steps,
                       end=EVALUATED if config.latency is not None else 0.95)
        lat_stats, samples, others = [], pd.DataFrame(), {}
        cuda = predictor.device.startswith("cuda")
        if cuda:
            import torch

            torch.cuda.reset_peak_memory_stats()
        if config.latency is not None:
            timed = predictor
            if refit:
                with _phase(steps, "fitting the model to time", EVALUATED):
                    timed = _latency_predictor(predictor, prep)
            X = model_input(timed, prep)
            with _phase(steps, "measuring latency", LATENCY_FITTED, exclusive=True):
                lat_stats, samples = measure(
                    timed.infer, X, config.latency, sync=timed.synchronize if timed.device != "cpu" else None,
                    progress=lambda f, m: steps(LATENCY_FITTED + (1 - LATENCY_FITTED) * f, f"measuring {m}"),
                    threads=config.n_threads, device=timed.device)
                others = _others(ws, own_job)
    env = environment.record(threads=config.n_threads, backend=predictor.backend, device=predictor.device,
                             provider=predictor.provider, precision=predictor.precision,
                             backend_settings=predictor.thread_settings)
    summary = _summary(run, info, dataset, prep, config, ev, lat_stats, env, build_s, peak.mb, model) | others
    summary["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    latency = pd.DataFrame([asdict(s) for s in lat_stats])
    return RunRecord(run["run_id"], summary, {"folds": ev.folds, "predictions": ev.predictions,
                                              "latency": latency, "latency_samples": samples})


def _evaluate(predictor: Predictor, prep: Prepared, splits, *, refit: bool, steps: Reporter,
              end: float) -> Evaluation:
    """Each fold's refit is its own step (with an estimate from the folds done); as-is models
    are predicted once over every row."""
    if not refit:
        with _phase(steps, "predicting every row", PROBED):
            return evaluate(predictor, prep, splits, refit=False)
    parts, durations = [], []
    n = len(splits)
    for k, split in enumerate(splits):
        mean = float(np.mean(durations)) if durations else None
        with _phase(steps, f"fold {k + 1}/{n}", PROBED + (end - PROBED) * k / n, expected_s=mean):
            t0 = time.monotonic()
            part = evaluate(predictor, prep, [split], refit=True)
            durations.append(time.monotonic() - t0)
        steps.eta(float(np.mean(durations)) * (n - k - 1) if k + 1 < n else None)
        parts.append(part)
    fold_frames = [p.folds.assign(fold=k) for k, p in enumerate(parts)]
    pred_frames = [p.predictions.assign(fold=k) for k, p in enumerate(parts)]
    preds = pd.concat(pred_frames, ignore_index=True).sort_values("row", ignore_index=True)
    return Evaluation("cv-refit", pd.concat(fold_frames, ignore_index=True), preds)


def _probe(predictor: Predictor, prep: Prepared, name: str, *, train: np.ndarray | None = None,
           seed: int = 0) -> None:
    """Run two rows through what will actually run, so shape and output errors surface early.

    In ``cv-refit`` mode that is a clone fitted on a small stratified sample of the first
    fold's training rows, not the uploaded fitted model (which may know other classes).
    """
    if train is not None:
        from sklearn.base import clone

        rows = probe_rows(prep, train, seed=seed)
        try:
            predictor = SklearnPredictor(clone(predictor.estimator).fit(prep.rows(rows), prep.y[rows]))  # type: ignore[attr-defined]
        except Exception as exc:
            raise FrontierError(
                f"'{name}' failed when fitted on {len(rows)} rows of the first fold: {first_line(exc)}") from None
    X = model_input(predictor, prep)
    batch = X.iloc[:2] if isinstance(X, pd.DataFrame) else X[:2].copy()  # a copy: see predict_all
    try:
        predictor.predict_scores(batch, classes=prep.classes)
    except FrontierError as exc:
        raise FrontierError(f"'{name}': {exc.template}") from None
    except Exception as exc:
        raise FrontierError(
            f"'{name}' failed on a batch of shape {tuple(np.shape(batch))}: {first_line(exc)}") from None


def probe_rows(prep: Prepared, train: np.ndarray, *, n: int = PROBE_ROWS, seed: int = 0) -> np.ndarray:
    """Up to ``n`` of the ``train`` rows, shuffled; for classification taken class by class in
    turn, so every class of the fold is in the sample."""
    rows = np.random.default_rng(seed).permutation(np.asarray(train))
    if prep.task != "classification" or prep.y_encoded is None:
        return rows[:n]
    labels = prep.y_encoded[rows]
    rank = np.empty(len(rows), dtype=np.int64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        rank[members] = np.arange(len(members))
    return rows[np.lexsort((labels, rank))][:n]


def _is_fitted(est: Any) -> bool:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(est)
        return True
    except (NotFittedError, TypeError):
        return False


def _latency_predictor(predictor: Predictor, prep: Prepared) -> Predictor:
    """The uploaded fitted model when it takes these features, else a clone fitted on all rows."""
    from sklearn.base import clone

    est = predictor.estimator  # type: ignore[attr-defined]
    names = getattr(est, "feature_names_in_", None)
    if _is_fitted(est) and getattr(est, "n_features_in_", None) == prep.n_features and (
            names is None or list(names) == prep.feature_names):
        return predictor
    return SklearnPredictor(clone(est).fit(prep.X, prep.y))


def _summary(run, info: ArtifactInfo, dataset: Subject, prep: Prepared, config: BenchmarkConfig, ev,
             lat_stats, env, build_s: float, peak_rss_mb: float | None, model: Any = None) -> dict[str, Any]:
    metrics = REGRESSION_METRICS if prep.task == "regression" else CLASSIFICATION_METRICS
    s: dict[str, Any] = {
        "run_id": run["run_id"], "model": run["name"], "artifact_id": info.id, "format": info.format,
        "mode": run["mode"], "task": prep.task, "dataset": dataset.name, "dataset_id": dataset.id,
        "target": dataset.target,
        "n_rows": prep.n_rows, "n_features": prep.n_features if not prep.is_image else int(np.prod(prep.input_shape)),
        "n_folds": config.cv, "seed": config.seed,
        "rows_seen": run.get("rows_seen"),  # scored as-is on rows it was trained on (None: unknown)
    }
    for m in metrics:
        s[f"{m}_mean"], s[f"{m}_std"] = mean_std(ev.folds[m].tolist())
    s["fit_seconds_mean"] = float(ev.folds["fit_seconds"].mean())
    s["build_seconds"] = build_s
    by_batch = {st.batch_size: st for st in lat_stats}
    one = by_batch.get(1) or (lat_stats[0] if lat_stats else None)
    best = max(lat_stats, key=lambda st: st.throughput_per_s) if lat_stats else None
    for q in ("p50", "p90", "p95", "p99", "mean", "std"):
        s[f"latency_{q}_ms"] = getattr(one, f"{q}_ms") if one else None
    s["latency_batch_size"] = one.batch_size if one else None
    s["latency_skewed"], s["latency_skew_reason"] = overall_skew(lat_stats)
    s["latency_noisy"] = s["latency_skewed"]  # the old name, kept for older readers
    s["load_1m_before"] = lat_stats[0].load_1m_before if lat_stats else None
    s["load_1m_after"] = lat_stats[-1].load_1m_after if lat_stats else None
    s["latency_cpu_per_wall"] = one.cpu_per_wall if one else None
    s["latency_descheduled"] = max((st.descheduled for st in lat_stats if st.descheduled is not None),
                                   default=None)
    s["other_jobs_active"] = s["other_jobs_queued"] = None  # set by run_one when latency was measured
    s["throughput_per_s"] = best.throughput_per_s if best else None
    s["throughput_batch_size"] = best.batch_size if best else None
    s["size_bytes"] = info.size_bytes
    s["n_parameters"] = info.n_parameters
    s["peak_rss_mb"] = peak_rss_mb  # this model's own peak (the worker's RSS high-water mark, reset per model)
    s["backend"], s["device"], s["provider"] = env["backend"], env["device"], env["provider"]
    s["threads"] = config.n_threads
    s["engine_version"] = ENGINE_VERSION
    s["created_at"] = pd.Timestamp.now(tz="UTC").isoformat()
    s["classes"] = [c.item() if hasattr(c, "item") else c for c in prep.classes] if prep.classes is not None else None
    s["config"] = config.to_dict()
    s["environment"] = env
    s["folds_id"] = folds_id(ev.predictions, s["classes"])
    s["lineage"] = info.lineage
    s["params"] = model_params(info, model)
    return s
