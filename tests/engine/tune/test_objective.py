"""Objectives and constraints from the CLI's words: metric directions from the registry, one-line
errors naming the flag for anything else."""

from __future__ import annotations

import pytest

from engine.errors import FrontierError
from engine.tune.objective import Constraint, parse_constraint, parse_objective


def test_objectives_take_their_directions_from_the_metric_registry():
    assert parse_objective("accuracy", "classification").directions == ["maximize"]
    both = parse_objective("accuracy,latency", "classification")
    assert both.names == ("accuracy", "latency_p50_ms") and both.directions == ["maximize", "minimize"]
    assert parse_objective("rmse,size", "regression").directions == ["minimize", "minimize"]
    assert parse_objective("accuracy", "classification", ["latency_p95_ms<=2"]).needs_latency


@pytest.mark.parametrize(("text", "task", "words"), [
    ("", "classification", "names a metric"),
    ("rmse", "classification", "not a classification metric"),
    ("accuracy,speed", "classification", "only 'latency' and 'size'"),
    ("__import__('os')", "classification", "not a classification metric"),
])
def test_bad_objectives_are_refused_naming_the_flag(text, task, words):
    with pytest.raises(FrontierError, match=words) as err:
        parse_objective(text, task)
    assert err.value.message.startswith("--objective")


@pytest.mark.parametrize(("text", "words"), [
    ("latency_p95_ms<2", "takes COLUMN<=VALUE"), ("latency_p95_ms<=nan", "takes COLUMN<=VALUE"),
    ("latency_p95_ms<=1e999", "finite limit"), ("bogus<=1", "unknown column"), ("rmse<=1", "unknown column"),
])
def test_bad_constraints_are_refused_naming_the_flag(text, words):
    with pytest.raises(FrontierError, match=words) as err:
        parse_constraint(text, "classification")
    assert err.value.message.startswith("--constraint")


def test_constraint_values_follow_optunas_convention():
    upper, lower = Constraint("latency_p95_ms", "<=", 2.0), Constraint("accuracy", ">=", 0.9)
    assert upper.violation(1.5) == pytest.approx(-0.5) and upper.violation(2.5) == pytest.approx(0.5)
    assert lower.violation(0.95) == pytest.approx(-0.05) and lower.violation(0.8) == pytest.approx(0.1)
    assert upper.violation(None) > 0 and upper.violation(float("nan")) > 0  # unmeasured is infeasible


@pytest.fixture(scope="module")
def iris():
    from engine.datasets.builtins import builtin
    from engine.datasets.prepare import prepare

    return prepare(builtin("iris"), n_splits=3)


def _report(prep, family: str, params: dict, objective: str) -> tuple[list[float], dict[int, float]]:
    """Run one trial on a study whose pruner never prunes; its fold scores and what it reported."""
    import optuna

    from engine.measure.evaluate import folds
    from engine.tune import spaces
    from engine.tune.objective import run_trial

    parsed = parse_objective(objective, prep.task)
    study = optuna.create_study(directions=parsed.directions, pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    est = spaces.family(family).build(params, task=prep.task, seed=0)
    run_trial(trial, est, prep, folds(prep, n_splits=3, seed=0), parsed)
    return trial.user_attrs["fold_scores"], study.trials[-1].intermediate_values


def test_a_scikit_learn_trial_reports_the_running_mean_after_each_fold(iris):
    scores, reported = _report(iris, "logreg", {"clf__C": 0.05}, "accuracy")
    assert reported == {k: pytest.approx(sum(scores[:k + 1]) / (k + 1), abs=1e-12) for k in range(3)}


def test_a_torch_trial_reports_epochs_of_the_first_fold_and_nothing_with_several_objectives(iris):
    net = {"width": 8, "depth": 1, "epochs": 4, "batch_size": 32, "learning_rate": 0.01}
    scores, reported = _report(iris, "mlp", net, "accuracy")
    assert len(scores) == 3 and sorted(reported) == [0, 1, 2, 3]  # steps are epochs, not folds
    assert all(0 <= v <= 1 for v in reported.values())
    scores, reported = _report(iris, "mlp", net, "accuracy,size")  # Optuna cannot prune several objectives
    assert len(scores) == 3 and reported == {}
