"""Optuna samplers and pruners by name, seeded, with one-line refusals for what cannot work.

Checked against Optuna 5.0.0 (pinned in requirements.txt):

* Constraints are set in the objective with ``trial.set_constraint(name, value)`` (feasible
  iff every value <= 0). They are stored as the trial system attribute
  ``"constraints:<name>"`` and exposed as the dict ``FrozenTrial.constraints``. TPE, GP and
  NSGA-II read them from there by themselves; the samplers' ``constraints_func`` argument is
  deprecated since 5.0 (FutureWarning), so none is passed. ``study.best_trial`` and
  ``study.best_trials`` keep to feasible trials once any trial has constraints.
* CMA-ES handles one objective and ignores constraints (it warns); it needs the ``cmaes``
  package. GP handles one or several objectives and constraints; it needs torch and scipy.
  Random samples without looking at either; NSGA-II and TPE handle both.
* Pruning is single-objective only (``Trial.report``/``should_prune`` raise otherwise).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.errors import FrontierError, option

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

SAMPLERS = ("tpe", "random", "cmaes", "gp", "nsga2")
PRUNERS = ("none", "median", "sha", "hyperband")
MULTI_OBJECTIVE = ("tpe", "random", "gp", "nsga2")
CONSTRAINED = ("tpe", "random", "gp", "nsga2")  # random keeps the constraints, does not model them
_SAMPLER_PACKAGES = {"cmaes": ("cmaes",), "gp": ("torch", "scipy")}


def _pick(kind: str, name: object, choices: tuple[str, ...]) -> str:
    key = str(name).strip().lower() if isinstance(name, str) else ""
    if key not in choices:
        raise FrontierError(f"{option(kind)}: unknown {kind} {str(name)[:40]!r}; choose one of {', '.join(choices)}")
    return key


def _objectives(n_objectives: int) -> int:
    if isinstance(n_objectives, bool) or not isinstance(n_objectives, int) or n_objectives < 1:
        raise FrontierError(f"a study needs at least one objective, got {n_objectives!r}")
    return n_objectives


def make_sampler(
    name: str, *, seed: int, n_objectives: int, constrained: bool
) -> optuna.samplers.BaseSampler:
    """A seeded sampler; a one-line error when it cannot handle the study's shape."""
    import optuna

    key = _pick("sampler", name, SAMPLERS)
    n = _objectives(n_objectives)
    if n > 1 and key not in MULTI_OBJECTIVE:
        raise FrontierError(
            f"{option('sampler')}: {key} handles one objective; use tpe, gp or nsga2 for {n} objectives "
            "(e.g. metric + latency)"
        )
    if constrained and key not in CONSTRAINED:
        raise FrontierError(
            f"{option('sampler')}: {key} ignores constraints; use tpe, gp or nsga2 for a constrained study"
        )
    missing = [m for m in _SAMPLER_PACKAGES.get(key, ()) if importlib.util.find_spec(m) is None]
    if missing:
        others = ", ".join(k for k in SAMPLERS if k not in _SAMPLER_PACKAGES)
        raise FrontierError(
            f"{option('sampler')}: the {key} sampler needs the {' and '.join(missing)} package "
            f"(pip install {' '.join(missing)}); or pick {others}"
        )
    if key == "tpe":
        # 5.0 defaults: multivariate for one objective, independent for several; constant liar on
        return optuna.samplers.TPESampler(seed=seed)
    if key == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if key == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    if key == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    return optuna.samplers.NSGAIISampler(seed=seed)


def make_pruner(name: str, *, n_objectives: int) -> optuna.pruners.BasePruner:
    """A pruner; steps are folds (3..10) or epochs, so resources start at 1 step."""
    import optuna

    key = _pick("pruner", name, PRUNERS)
    n = _objectives(n_objectives)
    if n > 1 and key != "none":
        raise FrontierError(
            f"{option('pruner')}: pruning works on one objective only (Optuna cannot prune a {n}-objective "
            "study); use pruner none"
        )
    if key == "none":
        return optuna.pruners.NopPruner()
    if key == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if key == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto", reduction_factor=3)


def constraints_func(trial: FrozenTrial) -> Sequence[float]:
    """The constraint values of a finished trial: ``trial.constraints`` (set with
    ``trial.set_constraint``), else the list in ``user_attrs["constraints"]``; ``()`` if none.
    For reading results; samplers in Optuna 5.0 read ``trial.constraints`` themselves."""
    values = getattr(trial, "constraints", None) or {}
    if values:
        return tuple(float(v) for v in values.values())
    legacy = trial.user_attrs.get("constraints")
    if isinstance(legacy, (list, tuple)):
        return tuple(float(v) for v in legacy)
    return ()


def is_feasible(trial: FrozenTrial) -> bool:
    """Whether every constraint value of ``trial`` is <= 0 (true when it has none)."""
    return all(v <= 0 for v in constraints_func(trial))
