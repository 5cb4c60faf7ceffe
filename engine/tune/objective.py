"""What a trial measures: the chosen metric on the benchmark's folds, and optionally latency and size.

A trial fits the family's estimator with the sampled parameters on each
fold of the same seeded splits a benchmark uses (so a tuned model's score is
comparable with every stored run on that dataset), reports the running mean
after each fold (pruners stop hopeless trials early; a torch family reports
the score on its validation slice after each epoch of the first fold
instead), and — when latency or size is an objective or a constraint —
times the model refit on all rows with the engine's harness while holding
this machine's lock alone, and measures its serialized size (skops, or
TorchScript for the torch families, as it would be saved). Constraints ("p95
latency at most 2 ms") go through Optuna's constraint API
(``trial.set_constraint``): a value <= 0 is feasible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import metrics
from engine.errors import FrontierError, option

LATENCY_OBJECTIVE = "latency_p50_ms"
SIZE_OBJECTIVE = "size_bytes"
# a trial's latency: short and cheap, enough for a ranking (a stored benchmark measures properly)
TRIAL_LATENCY = {"min_time_s": 0.1, "min_count": 10, "warmup": 3, "distinct_batches": 4}


@dataclass(frozen=True)
class Constraint:
    """``column op limit`` on a metric (``accuracy>=0.95``) or a cost (``latency_p95_ms<=2``)."""

    column: str
    op: str
    limit: float

    def violation(self, value: float | None) -> float:
        """Optuna's convention: <= 0 feasible; a missing value is infeasible."""
        if value is None or not math.isfinite(value):
            return 1.0
        return value - self.limit if self.op == "<=" else self.limit - value

    def __str__(self) -> str:
        return f"{self.column}{self.op}{self.limit:g}"


@dataclass(frozen=True)
class Objective:
    """What a study optimizes: a metric, then optionally latency and size; and constraints."""

    metric: str
    latency: bool = False
    size: bool = False
    constraints: tuple[Constraint, ...] = ()
    batch_size: int = 1

    @property
    def names(self) -> tuple[str, ...]:
        return (self.metric, *([LATENCY_OBJECTIVE] if self.latency else []), *([SIZE_OBJECTIVE] if self.size else []))

    @property
    def directions(self) -> list[str]:
        out = [metrics.get(self.metric).direction]
        out += ["minimize"] * (int(self.latency) + int(self.size))
        return out

    @property
    def needs_latency(self) -> bool:
        return self.latency or any(c.column.startswith("latency_") or c.column == "throughput_per_s"
                                   for c in self.constraints)

    @property
    def needs_size(self) -> bool:
        return self.size or any(c.column == "size_bytes" for c in self.constraints)


def parse_objective(text: str, task: str, constraints: Sequence[str] = (), *, batch_size: int = 1) -> Objective:
    """``accuracy`` or ``accuracy,latency`` (``,size`` too) for ``task``, with ``COL<=V`` constraints."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise FrontierError(f"{option('objective')} names a metric, e.g. accuracy or accuracy,latency")
    metric = parts[0]
    if metric not in metrics.BY_NAME or metrics.get(metric).task != task:
        raise FrontierError(f"{option('objective')}: '{metric[:40]}' is not a {task} metric; choose one of "
                            f"{', '.join(metrics.names(task))}")
    extra = set(parts[1:])
    unknown = extra - {"latency", "size"}
    if unknown:
        raise FrontierError(f"{option('objective')}: after the metric, only 'latency' and 'size' may follow; got "
                            f"{', '.join(sorted(unknown))[:60]}")
    if batch_size < 1:
        raise FrontierError(f"{option('batch_size')} must be at least 1, got {batch_size}")
    return Objective(metric, "latency" in extra, "size" in extra, tuple(parse_constraint(c, task) for c in constraints),
                     batch_size)


def parse_constraint(text: str, task: str) -> Constraint:
    """``COLUMN<=V`` / ``COLUMN>=V`` on a cost or one of the task's metrics, either direction."""
    column, op, limit = metrics.parse_limit(text, opt="constraint")
    if column not in metrics.COST_BY_NAME and (column not in metrics.BY_NAME or metrics.get(column).task != task):
        known = [*metrics.names(task), *metrics.COST_BY_NAME]
        raise FrontierError(f"{option('constraint')}: unknown column '{column}'; choose one of {', '.join(known)}")
    return Constraint(column, op, limit)


@dataclass
class TrialResult:
    """What one trial measured (stored in the trial's user attributes)."""

    fold_scores: list[float] = field(default_factory=list)
    latency: dict[str, float] = field(default_factory=dict)
    size_bytes: int | None = None

    @property
    def score(self) -> float:
        return float(np.mean(self.fold_scores))

    def value(self, column: str, metric: str) -> float | None:
        if column == metric:
            return self.score
        if column == "size_bytes":
            return None if self.size_bytes is None else float(self.size_bytes)
        return self.latency.get(column)


def run_trial(trial: Any, estimator: Any, prep: Any, splits: Sequence[tuple[np.ndarray, np.ndarray]],
              objective: Objective, *, threads: int = 1, prune: bool = True) -> tuple[float, ...]:
    """Score ``estimator`` (unfitted) on ``splits`` for ``trial``; returns the objective values.

    Pruning (one objective only) sees the running mean after each fold (step = fold), or, for an
    estimator with ``reports_epochs`` (the torch families), the score on its validation slice after
    each epoch of the first fold (step = epoch): epoch ``e`` of the first fold is the same point in
    every trial, whatever its number of epochs, and each step is reported once.
    """
    import optuna
    from sklearn.base import clone

    metric = metrics.get(objective.metric)
    labels = np.arange(len(prep.classes)) if prep.classes is not None else None
    result = TrialResult()
    y = prep.y_encoded if prep.y_encoded is not None else prep.y
    pruning = prune and len(objective.directions) == 1
    by_epoch = pruning and bool(getattr(estimator, "reports_epochs", False))
    for k, (train, test) in enumerate(splits):
        model = clone(estimator)
        if by_epoch and k == 0:
            model.fit(prep.rows(train), y[train], on_epoch=_epoch_reporter(trial, metric, labels))
        else:
            model.fit(prep.rows(train), y[train])
        X_test = prep.rows(test)
        pred = model.predict(X_test)
        proba = model.predict_proba(X_test) if metric.needs_proba and hasattr(model, "predict_proba") else None
        score = metric.score(y[test], pred, proba, labels)
        if score is None:
            raise optuna.TrialPruned(f"{metric.label} is undefined on fold {k}")
        result.fold_scores.append(score)
        if pruning and not by_epoch:
            trial.report(result.score, step=k)
            if trial.should_prune():
                trial.set_user_attr("fold_scores", result.fold_scores)
                raise optuna.TrialPruned(f"pruned after fold {k}")
    if objective.needs_latency or objective.needs_size:
        full = clone(estimator).fit(prep.X, y)
        if objective.needs_size:
            result.size_bytes = _size_bytes(full)
        if objective.needs_latency:
            result.latency = _latency(full, prep, objective.batch_size, threads)
    trial.set_user_attr("fold_scores", result.fold_scores)
    if result.latency:
        trial.set_user_attr("latency", result.latency)
    if result.size_bytes is not None:
        trial.set_user_attr("size_bytes", result.size_bytes)
    if objective.constraints:
        values = [c.violation(result.value(c.column, objective.metric)) for c in objective.constraints]
        for c, v in zip(objective.constraints, values, strict=True):
            trial.set_constraint(str(c), v)  # Optuna 5: one named value per constraint, <= 0 feasible
        trial.set_user_attr("constraints", values)
    out = [result.score]
    if objective.latency:
        out.append(result.latency[LATENCY_OBJECTIVE])
    if objective.size:
        out.append(float(result.size_bytes or 0))
    return tuple(out)


def _epoch_reporter(trial: Any, metric: Any, labels: np.ndarray | None):
    """``on_epoch`` for a torch estimator's ``fit``: report the validation score at step = epoch and
    stop the fit (``TrialPruned``) when the pruner says so."""
    import optuna

    def on_epoch(epoch: int, model: Any, X_val: np.ndarray, y_val: np.ndarray) -> None:
        pred = model.predict(X_val)
        proba = model.predict_proba(X_val) if metric.needs_proba and hasattr(model, "predict_proba") else None
        score = metric.score(y_val, pred, proba, labels)
        if score is None:  # undefined on this slice (e.g. one class in it): nothing to report
            return
        trial.report(score, step=epoch)
        if trial.should_prune():
            trial.set_user_attr("fold_scores", [])
            raise optuna.TrialPruned(f"pruned at epoch {epoch} of fold 0")

    return on_epoch


def artifact_bytes(model: Any) -> bytes:
    """The fitted model as the registry would store it: TorchScript for the torch families, else skops."""
    if hasattr(model, "to_torchscript"):
        return model.to_torchscript()
    import skops.io as sio

    return sio.dumps(model)


def _size_bytes(model: Any) -> int:
    """The fitted model's size as the registry would store it."""
    return len(artifact_bytes(model))


def _latency(model: Any, prep: Any, batch_size: int, threads: int) -> dict[str, float]:
    """p50/p95/p99 and throughput at ``batch_size`` with the engine's harness, holding the machine alone.
    A torch family's model is timed as its saved TorchScript on the float32 matrix, as a benchmark would."""
    from engine.jobs import machine
    from engine.measure.latency import LatencySettings, measure
    from engine.models.predictors import SklearnPredictor, TorchPredictor

    if hasattr(model, "to_torchscript"):
        import io

        import torch

        module = torch.jit.load(io.BytesIO(model.to_torchscript()), map_location="cpu")
        predictor: Any = TorchPredictor(module, threads=threads)
        X = prep.numeric_X()
    else:
        predictor, X = SklearnPredictor(model), prep.X
    settings = LatencySettings(batch_sizes=(batch_size,), **TRIAL_LATENCY)
    with machine.exclusive():
        stats, _ = measure(predictor.infer, X, settings, threads=threads)
    s = stats[0]
    return {"latency_p50_ms": s.p50_ms, "latency_p95_ms": s.p95_ms, "latency_p99_ms": s.p99_ms,
            "throughput_per_s": s.throughput_per_s, "latency_skewed": float(bool(s.skewed))}
