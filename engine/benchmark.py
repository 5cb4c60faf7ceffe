"""Benchmarks: plan (validate everything, find cached runs), execute, collect.

:func:`plan` runs in the caller's process and touches nothing: it checks the
models against the dataset so bad input fails before any work starts.
:func:`execute` runs in a worker process (see :mod:`engine.runner`): it
evaluates each model on the shared folds, measures latency and stores one
:class:`~engine.store.RunRecord` per model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from engine import ENGINE_VERSION, artifacts, datasets, environment
from engine.artifacts import ArtifactInfo
from engine.datasets import Dataset, Prepared
from engine.errors import FrontierError
from engine.evaluate import evaluate, folds
from engine.latency import LatencySettings, measure
from engine.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS, mean_std
from engine.predictors import Predictor, SklearnPredictor, make_predictor, model_input
from engine.store import ResultStore, RunRecord, run_key
from engine.workspace import Workspace

Progress = Callable[[float, str], None]
SKLEARN_FORMATS = ("skops", "pickle")


@dataclass(frozen=True)
class BenchmarkConfig:
    """What determines a benchmark's result (besides the model and the data)."""

    target: str | None = None
    drop: tuple[str, ...] = ()
    cv: int = 5
    seed: int = 0
    as_is: bool = False
    latency: LatencySettings | None = field(default_factory=LatencySettings)
    threads: int | None = None
    device: str = "cpu"

    @property
    def n_threads(self) -> int:
        return self.threads or os.cpu_count() or 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["drop"] = list(self.drop)
        d["threads"] = self.n_threads
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchmarkConfig:
        lat = d.get("latency")
        return cls(**(d | {"drop": tuple(d.get("drop", ())),
                           "latency": LatencySettings(**(lat | {"batch_sizes": tuple(lat["batch_sizes"])})) if lat else None}))


@dataclass(frozen=True)
class PlannedRun:
    run_id: str
    artifact: ArtifactInfo
    name: str
    mode: str
    cached: bool


@dataclass(frozen=True)
class Plan:
    dataset: Dataset
    prepared: Prepared
    config: BenchmarkConfig
    runs: list[PlannedRun]
    recompute: bool = False

    @property
    def pending(self) -> list[PlannedRun]:
        return [r for r in self.runs if not r.cached]

    def to_request(self) -> dict[str, Any]:
        return {
            "kind": "benchmark", "threads": self.config.n_threads, "dataset_id": self.dataset.id, "dataset_name": self.dataset.name,
            "task": self.prepared.task, "config": self.config.to_dict(), "recompute": self.recompute,
            "runs": [{"run_id": r.run_id, "artifact_id": r.artifact.id, "name": r.name, "mode": r.mode}
                     for r in self.pending],
        }


# ------------------------------------------------------------------ planning
def plan(ws: Workspace, models: list[ArtifactInfo], dataset: Dataset, config: BenchmarkConfig,
         *, names: list[str] | None = None, use_cache: bool = True) -> Plan:
    """Validate ``models`` against ``dataset`` and find which runs are already stored."""
    if not models:
        raise FrontierError("choose at least one model to benchmark")
    if config.device.startswith("cuda"):
        _require_cuda()
    tasks = {m.task for m in models if m.task}
    if len(tasks) > 1:
        raise FrontierError("the chosen models mix classifiers and regressors; benchmark them separately")
    numeric = not all(m.format in SKLEARN_FORMATS and m.accepts_non_numeric for m in models)
    prep = datasets.prepare(dataset, target=config.target, drop=config.drop, task=next(iter(tasks), None),
                            n_splits=config.cv, numeric=numeric)
    if dataset.kind == "tabular" and config.target is None:  # the default and its name are one request
        config = replace(config, target=dataset.default_target)
    store = ResultStore(ws)
    runs = []
    for i, info in enumerate(models):
        check_compatible(info, prep, as_is=config.as_is)
        mode = "cv-refit" if info.format in SKLEARN_FORMATS and not config.as_is else "as-is"
        rid = run_key(artifact=info.id, dataset=dataset.id, config=config.to_dict() | {"mode": mode},
                      task=prep.task, engine=ENGINE_VERSION, hardware=environment.hardware_fingerprint())
        name = (names[i] if names and i < len(names) and names[i] else info.name)
        runs.append(PlannedRun(rid, info, name, mode, cached=use_cache and store.has(rid)))
    return Plan(dataset, prep, config, runs, recompute=not use_cache)


def check_compatible(info: ArtifactInfo, prep: Prepared, *, as_is: bool) -> None:
    """Raise a clear error when ``info`` cannot take ``prep``'s inputs (static checks only)."""
    if info.format in SKLEARN_FORMATS:
        if prep.is_image:
            raise FrontierError(f"'{info.name}' is a scikit-learn model and needs a tabular dataset, not images")
        if info.task == "classification" and prep.task == "regression":
            raise FrontierError(f"'{info.name}' is a classifier but the target is continuous; pick a class column as --target")
        if as_is and info.n_features is not None and info.n_features != prep.n_features:
            raise FrontierError(
                f"'{info.name}' was fitted on {info.n_features} features but the dataset gives {prep.n_features}; check --target and --drop")
        if as_is and info.feature_names:
            missing = [c for c in info.feature_names if c not in prep.feature_names]
            if missing:
                raise FrontierError(f"'{info.name}' needs column(s) the dataset lacks: {', '.join(missing[:5])}")
        return
    if info.format in ("onnx", "torch_export") and info.inputs:
        shape = info.inputs[0].get("shape")
        if shape:
            expected = tuple(shape[1:])
            got = prep.input_shape
            if len(expected) != len(got) or any(isinstance(e, int) and e > 0 and e != g for e, g in zip(expected, got, strict=False)):
                raise FrontierError(
                    f"'{info.name}' takes inputs of shape {_fmt_shape(shape)} but the dataset gives rows of shape {_fmt_shape(['N', *got])}; pick the matching dataset")


def _fmt_shape(shape) -> str:
    return "(" + ", ".join(str(d if d not in (None, 0) else "N") for d in shape) + ")"


def _require_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        raise FrontierError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu")


# ----------------------------------------------------------------- execution
def execute(ws: Workspace, request: dict[str, Any], progress: Progress | None = None) -> list[str]:
    """Run the pending runs of a planned request; called in the worker process."""
    config = BenchmarkConfig.from_dict(request["config"])
    dataset = datasets.load(ws, request["dataset_id"])
    prep = datasets.prepare(dataset, target=config.target, drop=config.drop, task=request["task"],
                            n_splits=config.cv, numeric=False)
    splits = folds(prep, n_splits=config.cv, seed=config.seed)
    store = ResultStore(ws)
    done = []
    runs = request["runs"]
    for i, run in enumerate(runs):
        def sub(f: float, msg: str, i=i, name=run["name"]) -> None:
            if progress:
                progress((i + f) / len(runs), f"{name}: {msg}")
        if request.get("recompute") or not store.has(run["run_id"]):
            record = run_one(ws, run, dataset, prep, splits, config, progress=sub)
            store.save(record, replace=bool(request.get("recompute")))
        done.append(run["run_id"])
        sub(1.0, "done")
    return done


def run_one(ws: Workspace, run: dict[str, Any], dataset: Dataset, prep: Prepared, splits,
            config: BenchmarkConfig, *, progress: Progress) -> RunRecord:
    info = artifacts.get(ws, run["artifact_id"])
    progress(0.0, "loading")
    t0 = time.perf_counter()
    model = artifacts.load_model(ws, info)
    predictor = make_predictor(model, info.format, device=config.device, threads=config.n_threads)
    build_s = time.perf_counter() - t0
    if info.n_parameters is None:
        from engine.inspect import describe_loaded

        info = artifacts.update(ws, info, **describe_loaded(info, model))
    progress(0.0, "checking inputs on 2 rows")
    _probe(predictor, prep, info.name)
    refit = run["mode"] == "cv-refit"
    ev = evaluate(predictor, prep, splits, refit=refit, progress=lambda f, m: progress(0.7 * f, m))
    lat_stats, samples = [], pd.DataFrame()
    cuda = predictor.device.startswith("cuda")
    if cuda:
        import torch

        torch.cuda.reset_peak_memory_stats()
    if config.latency is not None:
        timed = _latency_predictor(predictor, prep) if refit else predictor
        X = model_input(timed, prep.X)
        lat_stats, samples = measure(timed.infer, X, config.latency,
                                     sync=timed.synchronize if timed.device != "cpu" else None,
                                     progress=lambda f, m: progress(0.7 + 0.3 * f, m))
    env = environment.record(threads=config.n_threads, backend=predictor.backend, device=predictor.device,
                             provider=predictor.provider, precision=predictor.precision)
    summary = _summary(run, info, dataset, prep, config, ev, lat_stats, env, build_s)
    summary["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    latency = pd.DataFrame([asdict(s) for s in lat_stats])
    return RunRecord(run["run_id"], summary, {"folds": ev.folds, "predictions": ev.predictions,
                                              "latency": latency, "latency_samples": samples})


def _probe(predictor: Predictor, prep: Prepared, name: str) -> None:
    """Run two rows through the model so shape and output errors surface before timing."""
    X = model_input(predictor, prep.X)
    batch = X.iloc[:2] if isinstance(X, pd.DataFrame) else X[:2]
    if isinstance(predictor, SklearnPredictor) and not _is_fitted(predictor.estimator):
        return
    try:
        predictor.predict_scores(batch, classes=prep.classes)
    except FrontierError as exc:
        raise FrontierError(f"'{name}': {exc.message}") from None
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise FrontierError(
            f"'{name}' failed on a batch of shape {tuple(np.shape(batch))}: {first}") from None


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


def _summary(run, info: ArtifactInfo, dataset: Dataset, prep: Prepared, config: BenchmarkConfig, ev,
             lat_stats, env, build_s: float) -> dict[str, Any]:
    import resource

    metrics = REGRESSION_METRICS if prep.task == "regression" else CLASSIFICATION_METRICS
    s: dict[str, Any] = {
        "run_id": run["run_id"], "model": run["name"], "artifact_id": info.id, "format": info.format,
        "mode": run["mode"], "task": prep.task, "dataset": dataset.name, "dataset_id": dataset.id,
        "target": config.target or (dataset.default_target if dataset.kind == "tabular" else "y"),
        "n_rows": prep.n_rows, "n_features": prep.n_features if not prep.is_image else int(np.prod(prep.input_shape)),
        "n_folds": config.cv, "seed": config.seed,
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
    s["latency_noisy"] = any(st.noisy for st in lat_stats) if lat_stats else None
    s["throughput_per_s"] = best.throughput_per_s if best else None
    s["throughput_batch_size"] = best.batch_size if best else None
    s["size_bytes"] = info.size_bytes
    s["n_parameters"] = info.n_parameters
    s["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s["backend"], s["device"], s["provider"] = env["backend"], env["device"], env["provider"]
    s["threads"] = config.n_threads
    s["engine_version"] = ENGINE_VERSION
    s["created_at"] = pd.Timestamp.now(tz="UTC").isoformat()
    s["classes"] = [c.item() if hasattr(c, "item") else c for c in prep.classes] if prep.classes is not None else None
    s["config"] = config.to_dict()
    s["environment"] = env
    return s


# --------------------------------------------------------------- collecting
def collect(ws: Workspace, p: Plan) -> list[dict[str, Any]]:
    """Stored summaries for every planned run, marked ``cached`` when served from the store."""
    store = ResultStore(ws)
    out = []
    for r in p.runs:
        s = store.summary(r.run_id)
        out.append(s | {"model": r.name, "cached": r.cached})
    return out

