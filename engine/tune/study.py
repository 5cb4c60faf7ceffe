"""Running an Optuna study of one family on one dataset, and reading its best trials back.

A study is Optuna's own (any storage Optuna supports): Frontier adds the
objective (:mod:`engine.tune.objective`), the family's space
(:mod:`engine.tune.spaces`), a seeded sampler and pruner
(:mod:`engine.tune.samplers`) and, in the study's user attributes, what it
is about (family, dataset, target, folds, objective), so a worker joining it
from another machine checks it is the same question. ``n_trials`` is a
total over every worker: a ``MaxTrialsCallback`` stops each worker once the
study holds that many finished trials.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from engine.errors import FrontierError
from engine.tune.objective import Objective, run_trial

MAX_TRIALS = 100_000


@dataclass(frozen=True)
class StudySpec:
    """The question a study answers; stored in the study so every worker asks the same one."""

    family: str
    dataset_id: str
    target: str
    task: str
    cv: int
    seed: int
    objective: Objective
    sampler: str = "tpe"
    pruner: str = "median"
    space: tuple[Any, ...] = field(default=(), compare=False)  # Params; the family's default when empty

    def signature(self) -> dict[str, Any]:
        """The fields a joining worker must match."""
        obj = self.objective
        return {"family": self.family, "dataset_id": self.dataset_id, "target": self.target, "task": self.task,
                "cv": self.cv, "seed": self.seed, "objective": list(obj.names),
                "constraints": [str(c) for c in obj.constraints], "batch_size": obj.batch_size}


def open_study(spec: StudySpec, *, name: str, storage: Any, n_objectives: int | None = None):
    """Create the study, or load it when it exists and asks the same question (else one error)."""
    import optuna

    from engine.tune.samplers import make_pruner, make_sampler

    n = n_objectives or len(spec.objective.directions)
    sampler = make_sampler(spec.sampler, seed=spec.seed, n_objectives=n, constrained=bool(spec.objective.constraints))
    pruner = make_pruner(spec.pruner, n_objectives=n)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=storage, directions=spec.objective.directions,
                                sampler=sampler, pruner=pruner, load_if_exists=True)
    stored = study.user_attrs.get("frontier")
    mine = spec.signature()
    if stored is None:
        study.set_user_attr("frontier", mine)
    elif stored != mine:
        differ = sorted(k for k in mine if stored.get(k) != mine.get(k))
        raise FrontierError(f"study '{name}' exists with another {', '.join(differ)}; give --study a new name "
                            "or the same settings")
    return study


def optimize(study, spec: StudySpec, prep, *, n_trials: int, threads: int = 1,
             on_trial: Callable[[int, int], None] | None = None) -> None:
    """Run trials until the study holds ``n_trials`` finished ones (counting every worker's)."""
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    from engine.measure.evaluate import folds
    from engine.tune import spaces

    if not 1 <= n_trials <= MAX_TRIALS:
        raise FrontierError(f"--trials must be between 1 and {MAX_TRIALS:,}, got {n_trials}")
    fam = spaces.family(spec.family)
    space = spec.space or fam.space(spec.task)
    splits = folds(prep, n_splits=spec.cv, seed=spec.seed)
    finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

    def objective(trial: optuna.Trial) -> tuple[float, ...] | float:
        params = spaces.suggest(trial, space)
        est = fam.build(params, task=spec.task, seed=spec.seed, threads=threads)
        values = run_trial(trial, est, prep, splits, spec.objective, threads=threads)
        return values if len(values) > 1 else values[0]

    def progress(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            done = sum(1 for t in study.get_trials(deepcopy=False, states=finished))
            on_trial(min(done, n_trials), n_trials)

    remaining = n_trials - len(study.get_trials(deepcopy=False, states=finished))
    if remaining <= 0:
        return
    study.optimize(objective, n_trials=remaining, catch=(ValueError, ArithmeticError),
                   callbacks=[MaxTrialsCallback(n_trials, states=finished), progress])


def feasible(trial) -> bool:
    """No constraint, or every constraint value <= 0."""
    from engine.tune.samplers import is_feasible

    return is_feasible(trial)


@dataclass(frozen=True)
class BestTrial:
    number: int
    values: list[float]
    params: dict[str, Any]
    feasible: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def best_trials(study) -> list[BestTrial]:
    """The feasible Pareto set (multi-objective) or the feasible best (one objective); when no trial is
    feasible, the same over all trials, marked infeasible."""
    from optuna.trial import TrialState

    from engine.compare.pareto import non_dominated

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.values]
    pool = [t for t in done if feasible(t)] or done
    if not pool:
        return []
    maximize = [d.name == "MAXIMIZE" for d in study.directions]
    points = np.asarray([t.values for t in pool], dtype=float)
    if len(maximize) == 1:
        best = points[:, 0].max() if maximize[0] else points[:, 0].min()
        chosen = [t for t, v in zip(pool, points[:, 0], strict=True) if v == best][:1]
    else:
        mask = non_dominated(points, maximize)
        chosen = [t for t, keep in zip(pool, mask, strict=True) if keep]
    return [BestTrial(t.number, list(t.values), dict(t.params), feasible(t)) for t in chosen]
