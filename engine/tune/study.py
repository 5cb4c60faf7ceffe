"""Running an Optuna study of one family on one dataset, and reading its best trials back.

A study is Optuna's own (any storage Optuna supports): Frontier adds the
objective (:mod:`engine.tune.objective`), the family's space
(:mod:`engine.tune.spaces`), a seeded sampler and pruner
(:mod:`engine.tune.samplers`) and, in the study's user attributes, what it
is about (family, dataset, target, folds, objective), so a worker joining it
from another machine checks it is the same question, and the heartbeat its
workers use (``frontier_heartbeat_s``), so they all wait the same grace period
before failing a silent trial.

``n_trials`` is a total over every worker, counted by :func:`tally`: complete
and pruned trials, and failed ones that were not retried (a trial whose
objective raised counts, so a study of failing trials ends; a trial failed
because its worker died, then re-queued by the heartbeat's retry callback,
does not - its retry does). On a storage with heartbeats a worker starts no
trial once the counted trials plus the ones running elsewhere reach the total;
it then waits for those (failing the stale ones of dead workers, and running
their retries), so the study ends with exactly ``n_trials`` counted trials
even when workers race or die (see :func:`optimize` for the journal). Each trial's sampler randomness is seeded from the study's seed and the
trial's number, so parallel workers never draw the same parameters and a
one-worker study is reproducible.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from engine.errors import FrontierError
from engine.tune.objective import Objective, run_trial

MAX_TRIALS = 100_000
HEARTBEAT_ATTR = "frontier_heartbeat_s"  # the heartbeat every worker of the study uses
SURPLUS_ATTR = "frontier_surplus"  # a trial started when the study was already full (not counted)
JOB_ATTR = "frontier_job"  # the job whose worker ran the trial
STOPPED_ATTR = "frontier_stopped"  # a RUNNING trial failed because its job was cancelled or died (not counted)
WAIT_POLL_S = 0.25  # between looks at the trials other workers are finishing


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
    _TrialStart.of(sampler, spec.seed)
    study = optuna.create_study(study_name=name, storage=storage, directions=spec.objective.directions,
                                sampler=sampler, pruner=pruner, load_if_exists=True)
    attrs = study.user_attrs
    stored = attrs.get("frontier")
    mine = spec.signature()
    if stored is None:
        study.set_user_attr("frontier", mine)
    elif stored != mine:
        differ = sorted(k for k in mine if stored.get(k) != mine.get(k))
        raise FrontierError(f"study '{name}' exists with another {', '.join(differ)}; give --study a new name "
                            "or the same settings")
    _check_heartbeat(study, name, attrs.get(HEARTBEAT_ATTR))
    return study


def _check_heartbeat(study, name: str, recorded: Any) -> None:
    """Record the study's heartbeat, or refuse a worker whose heartbeat differs: with a shorter
    grace period it would fail other workers' live trials, with a longer one wait too long."""
    from engine.tune.storage import heartbeat_of

    beat = heartbeat_of(study)
    if beat is None:
        return
    if recorded is None:
        study.set_user_attr(HEARTBEAT_ATTR, beat)
    elif recorded != beat:
        raise FrontierError(f"study '{name}' was started with --heartbeat {recorded}; run this worker with "
                            f"--heartbeat {recorded} too (got {beat}): workers of one study must agree on when "
                            "a silent trial is given up")


class _TrialStart:
    """What the engine does as each trial starts, in the sampler's ``before_trial`` hook (inside
    ``Study.ask``, before the trial's heartbeat thread starts writing, so its reads never wait on
    that write on SQLite): seed the sampler for this trial, then let :func:`optimize` claim a place.

    Seeds: every worker builds its sampler with the study's seed; left alone, parallel workers
    would draw the same random start-up parameters trial after trial, and Optuna's own
    ``reseed_rng`` draws from the OS, which would lose reproducibility of a one-worker study. So
    each trial's random states (Optuna 5.0's ``LazyRandomState``, also inside nested samplers
    such as TPE's random start-up sampler) are seeded from ``(seed, trial number)``.
    """

    def __init__(self, sampler, seed: int | None) -> None:
        self.sampler, self.seed, self.inner = sampler, seed, sampler.before_trial
        self.claim: Callable[[Any, Any], None] | None = None
        sampler.before_trial = self.before_trial

    @classmethod
    def of(cls, sampler, seed: int | None = None) -> _TrialStart:
        hooks = getattr(sampler, "_frontier_trial_start", None)
        if hooks is None:
            hooks = cls(sampler, seed)
            sampler._frontier_trial_start = hooks
        return hooks

    def before_trial(self, study, trial) -> None:
        import optuna

        if self.seed is not None:
            states = list(_random_states(self.sampler, optuna.samplers.BaseSampler))
            if states:
                seeds = np.random.SeedSequence([self.seed, trial.number]).generate_state(len(states))
                for state, s in zip(states, seeds, strict=True):
                    state.seed(int(s))
        self.inner(study, trial)
        if self.claim is not None:
            self.claim(study, trial)


def _random_states(obj: Any, sampler_type: type, depth: int = 0) -> Iterable[np.random.RandomState]:
    from optuna.samplers._lazy_random_state import LazyRandomState

    for value in vars(obj).values():
        if isinstance(value, LazyRandomState):
            yield value.rng
        elif isinstance(value, np.random.RandomState):
            yield value
        elif isinstance(value, sampler_type) and depth < 3:
            yield from _random_states(value, sampler_type, depth + 1)


@dataclass(frozen=True)
class Tally:
    """Where a study's trials stand against its ``n_trials`` (see :func:`tally`)."""

    counted: int  # towards n_trials: COMPLETE, PRUNED, FAIL neither retried nor surplus
    running: int
    waiting: int
    retried: frozenset[int]  # numbers of failed trials that were re-queued as another trial


def tally(trials: Iterable[Any]) -> Tally:
    """Count a study's trials towards its total (the one rule for stopping and for progress).

    Counted: complete and pruned trials, and failed ones except (a) a trial whose worker died,
    failed when its heartbeat went stale and re-queued by ``RetryHeartbeatStaleTrialCallback``
    (its number is in the retry's ``retry_history`` system attribute; the retry counts
    instead), (b) a surplus trial, started by a worker racing another for the last place
    and failed before it sampled anything, and (c) a trial stopped with its job (cancelled, or
    its worker killed; see :func:`engine.tune.run.release_trials`). A stale trial past the retry
    limit is counted.
    """
    from optuna.trial import TrialState

    trials = list(trials)
    retried: set[int] = set()
    for t in trials:
        retried.update(t.system_attrs.get("retry_history") or ())
    counted = running = waiting = 0
    for t in trials:
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            counted += 1
        elif t.state == TrialState.FAIL:
            counted += (t.number not in retried and not t.user_attrs.get(SURPLUS_ATTR)
                        and not t.user_attrs.get(STOPPED_ATTR))
        elif t.state == TrialState.RUNNING:
            running += 1
        elif t.state == TrialState.WAITING:
            waiting += 1
    return Tally(counted, running, waiting, frozenset(retried))


class _Surplus(Exception):
    """A trial that found the study full when it started (another worker took the last place)."""


def optimize(study, spec: StudySpec, prep, *, n_trials: int, threads: int = 1,
             on_trial: Callable[[int, int], None] | None = None,
             objective: Callable[[Any], float | tuple[float, ...]] | None = None,
             job_id: str | None = None) -> None:
    """Run trials until the study holds ``n_trials`` counted ones (every worker's; see :func:`tally`).

    On a storage with heartbeats (the RDB ones) a trial RUNNING elsewhere is trusted to finish or
    go stale: no trial is started that could take the study past its total, and once it is full
    or the rest is running elsewhere this waits for those trials (failing stale ones and running
    their retries), so it returns with exactly ``n_trials`` counted. Without heartbeats (the
    journal) a dead worker's trial stays RUNNING for ever, so running trials are not trusted:
    workers racing for the last trials may add one each beyond the total.

    ``objective`` replaces the family's (the benchmarks time the loop with a trivial one; ``prep``
    is then unused).
    """
    import optuna

    from engine.tune.storage import heartbeat_of

    if not 1 <= n_trials <= MAX_TRIALS:
        raise FrontierError(f"--trials must be between 1 and {MAX_TRIALS:,}, got {n_trials}")
    if objective is None:
        objective = _family_objective(spec, prep, threads)
    beat = heartbeat_of(study)
    running = optuna.trial.TrialState.RUNNING
    surplus: set[int] = set()

    def claim(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        # the last place may have been taken between our look at the study and this trial's start.
        # Study.ask has just emptied Optuna's per-trial cache of the study's trials and created this
        # trial; reading through that cache fills it, so the sampler uses the same read (no extra)
        trials = study._get_trials(deepcopy=False, use_cache=True)
        ahead = sum(1 for t in trials if t.state == running and t.number < trial.number) if beat else 0
        if tally(trials).counted + ahead >= n_trials:
            surplus.add(trial.number)

    def run(trial: optuna.Trial) -> tuple[float, ...] | float:
        if trial.number in surplus:
            trial.set_user_attr(SURPLUS_ATTR, True)
            raise _Surplus(f"the study already had {n_trials} trials finished or running when this one started")
        if job_id is not None:
            trial.set_user_attr(JOB_ATTR, job_id)
        return objective(trial)

    def look() -> tuple[int, int]:
        """(counted trials, counted + trials running elsewhere that are trusted to finish)."""
        now = tally(study.get_trials(deepcopy=False))
        if on_trial is not None:
            on_trial(min(now.counted, n_trials), n_trials)
        return now.counted, now.counted + (now.running if beat else 0)

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if look()[1] >= n_trials:
            study.stop()

    start = _TrialStart.of(study.sampler)
    start.claim = claim
    try:
        while True:
            if beat is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    optuna.storages.fail_stale_trials(study)  # a restarted worker retries its dead trial first
            counted, promised = look()
            if counted >= n_trials:
                return
            if promised >= n_trials:  # the rest is running elsewhere: wait for it to finish or go stale
                time.sleep(WAIT_POLL_S)
                continue
            study.optimize(run, n_trials=n_trials - counted, catch=(ValueError, ArithmeticError, _Surplus),
                           callbacks=[after_trial])
    finally:
        start.claim = None


def _family_objective(spec: StudySpec, prep, threads: int) -> Callable[[Any], float | tuple[float, ...]]:
    from engine.measure.evaluate import folds
    from engine.tune import spaces

    fam = spaces.family(spec.family)
    space = spec.space or fam.space(spec.task)
    splits = folds(prep, n_splits=spec.cv, seed=spec.seed)

    def objective(trial) -> tuple[float, ...] | float:
        params = spaces.suggest(trial, space)
        est = fam.build(params, task=spec.task, seed=spec.seed, threads=threads)
        values = run_trial(trial, est, prep, splits, spec.objective, threads=threads)
        return values if len(values) > 1 else values[0]

    return objective


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
        chosen.sort(key=lambda t: -t.values[0] if maximize[0] else t.values[0])  # best first objective first
    return [BestTrial(t.number, list(t.values), dict(t.params), feasible(t)) for t in chosen]


def ranked_trials(study, n: int) -> list[BestTrial]:
    """The ``n`` trials worth saving: the Pareto set best first on the first objective (several
    objectives), or the ``n`` best distinct trials (one objective); feasible ones, or, when none is,
    the same over all trials marked infeasible."""
    from optuna.trial import TrialState

    if n <= 0:
        return []
    if len(study.directions) > 1:
        return best_trials(study)[:n]
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.values]
    pool = [t for t in done if feasible(t)] or done
    maximize = study.directions[0].name == "MAXIMIZE"
    pool.sort(key=lambda t: (-t.values[0] if maximize else t.values[0], t.number))
    chosen, seen = [], set()
    for t in pool:
        key = tuple(sorted((k, repr(v)) for k, v in t.params.items()))
        if key not in seen:  # a retried trial repeats its parameters: one model per parameter set
            seen.add(key)
            chosen.append(t)
        if len(chosen) == n:
            break
    return [BestTrial(t.number, list(t.values), dict(t.params), feasible(t)) for t in chosen]
