"""Execute a planned benchmark in the worker process.

:func:`execute` evaluates each pending model on the shared folds, measures its
latency and stores one :class:`~engine.results.RunRecord` per model as soon as
it is done, so finished models are kept when a later one fails.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from engine import ENGINE_VERSION, datasets, models
from engine.benchmark.plan import BenchmarkConfig, Progress
from engine.datasets import Dataset, Prepared
from engine.errors import FrontierError
from engine.measure import environment
from engine.measure.evaluate import evaluate, folds
from engine.measure.latency import measure
from engine.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS, mean_std
from engine.models import ArtifactInfo
from engine.models.predictors import Predictor, SklearnPredictor, make_predictor, model_input
from engine.results import ResultStore, RunRecord
from engine.workspace import Workspace


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
    info = models.get(ws, run["artifact_id"])
    progress(0.0, "loading")
    t0 = time.perf_counter()
    model = models.load_model(ws, info)
    predictor = make_predictor(model, info.format, device=config.device, threads=config.n_threads)
    build_s = time.perf_counter() - t0
    if info.n_parameters is None:
        from engine.models.describe import loaded_metadata

        info = models.update(ws, info, **loaded_metadata(info, model))
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
