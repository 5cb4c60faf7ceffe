"""Torch families: trial scores recomputed with scikit-learn, seeded reproducibility, epoch-level pruning,
TorchScript artifacts that predict what the trained model did, the CNN's input rule, and a CLI study
whose best network is saved and benchmarked (flagged as scored on rows it was trained on)."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from frontier_support import run_cli
from sklearn.base import clone
from sklearn.metrics import accuracy_score, mean_squared_error

from engine import models
from engine.datasets.builtins import builtin
from engine.datasets.prepare import prepare
from engine.errors import FrontierError
from engine.measure.evaluate import folds
from engine.models.predictors import make_predictor
from engine.tune import spaces
from engine.tune.objective import parse_objective, run_trial
from engine.tune.study import StudySpec, open_study, optimize
from engine.workspace import Workspace

optuna.logging.set_verbosity(optuna.logging.WARNING)

TINY = {"learning_rate": 0.01, "width": 16, "depth": 1, "dropout": 0.0, "batch_size": 64, "epochs": 3}
TINY_CNN = TINY | {"width": 4}


@pytest.fixture(scope="module")
def digits():
    return prepare(builtin("digits"), target="target", n_splits=3)


@pytest.fixture(scope="module")
def digits_images():
    return prepare(builtin("digits_images"), n_splits=3)


def _study(direction="maximize"):
    """A study whose pruner never prunes (run_trial still reports every epoch to it), and a live trial."""
    study = optuna.create_study(direction=direction, pruner=optuna.pruners.NopPruner())
    return study, study.ask()


# --------------------------------------------------------------- trial scores
@pytest.mark.parametrize("case", ["mlp-classification", "cnn-classification", "mlp-regression"])
def test_fold_scores_equal_scikit_learn_metrics_on_the_wrappers_predictions(case, digits):
    name, task = case.split("-")
    if task == "regression":
        prep = prepare(builtin("diabetes"), target="target", n_splits=3)
        objective, oracle = parse_objective("rmse", task), lambda t, p: mean_squared_error(t, p) ** 0.5
    else:
        prep, objective, oracle = digits, parse_objective("accuracy", task), accuracy_score
    params = TINY_CNN if name == "cnn" else TINY
    est = spaces.family(name).build(params, task=task, seed=0)
    splits = folds(prep, n_splits=3, seed=0)
    study, trial = _study("minimize" if task == "regression" else "maximize")
    (value,) = run_trial(trial, est, prep, splits, objective)

    y = prep.y_encoded if task == "classification" else prep.y
    expected = []
    for k, (train, test) in enumerate(splits):
        model = clone(est).fit(prep.rows(train), y[train])  # no callback: reporting must not change training
        expected.append(oracle(y[test], model.predict(prep.rows(test))))
        if k == 0:
            fold0 = model
    assert trial.user_attrs["fold_scores"] == pytest.approx(expected, abs=1e-12)
    assert value == pytest.approx(np.mean(expected), abs=1e-12)

    # one report per epoch of the first fold, the last one the score on its validation slice
    reported = study.trials[-1].intermediate_values
    assert sorted(reported) == list(range(params["epochs"]))
    train0 = splits[0][0]
    _, val = fold0._split(y[train0])
    assert len(val) == round(0.1 * len(train0)) and fold0.n_train_rows_ == len(train0) - len(val)
    X_val = prep.rows(train0[val])
    assert reported[params["epochs"] - 1] == pytest.approx(oracle(y[train0][val], fold0.predict(X_val)), abs=1e-12)


def test_the_same_seed_gives_the_same_score_and_another_seed_does_not(digits):
    splits = folds(digits, n_splits=3, seed=0)
    objective = parse_objective("log_loss", "classification")

    def score(seed):
        est = spaces.family("mlp").build(TINY | {"dropout": 0.2}, task="classification", seed=seed)
        return run_trial(_study("minimize")[1], est, digits, splits, objective)[0]

    first = score(0)
    assert score(0) == first
    assert score(1) != first


def test_size_and_latency_of_a_torch_trial_are_its_torchscripts(digits):
    est = spaces.family("mlp").build(TINY, task="classification", seed=0)
    objective = parse_objective("accuracy", "classification", ["size_bytes<=1e9", "latency_p95_ms<=1e6"])
    _, trial = _study()
    run_trial(trial, est, digits, folds(digits, n_splits=3, seed=0), objective)
    attrs = trial.user_attrs
    full = clone(est).fit(digits.X, digits.y_encoded)
    assert attrs["size_bytes"] == len(full.to_torchscript())  # the bytes a best trial is saved as
    assert 0 < attrs["latency"]["latency_p50_ms"] <= attrs["latency"]["latency_p95_ms"]
    assert attrs["constraints"][0] == pytest.approx(attrs["size_bytes"] - 1e9)


# -------------------------------------------------------------------- pruning
def test_the_median_pruner_stops_a_hopeless_network_at_an_epoch(digits):
    space = (spaces.Param("learning_rate", "float", 1e-7, 0.1, log=True),
             spaces.Param("width", "categorical", choices=(16,)),
             spaces.Param("epochs", "categorical", choices=(3,)),
             spaces.Param("batch_size", "categorical", choices=(64,)))
    spec = StudySpec(family="mlp", dataset_id="digits", target="target", task="classification", cv=2, seed=0,
                     objective=parse_objective("accuracy", "classification"), sampler="random", pruner="median",
                     space=space)
    study = open_study(spec, name="prune", storage=None)
    for lr in (0.01, 0.02, 0.03, 0.05, 0.08):  # five sound networks: the median pruner's startup trials
        study.enqueue_trial({"learning_rate": lr, "width": 16, "epochs": 3, "batch_size": 64})
    study.enqueue_trial({"learning_rate": 1e-7, "width": 16, "epochs": 3, "batch_size": 64})  # cannot learn
    optimize(study, spec, digits, n_trials=6)

    *sound, hopeless = sorted(study.trials, key=lambda t: t.number)
    assert [t.state for t in sound] == [optuna.trial.TrialState.COMPLETE] * 5
    for t in sound:  # every epoch of the first fold reported, by epoch
        assert sorted(t.intermediate_values) == [0, 1, 2]
    assert hopeless.state == optuna.trial.TrialState.PRUNED
    assert sorted(hopeless.intermediate_values) == [0]  # stopped after its first epoch, not after a fold
    assert hopeless.intermediate_values[0] < np.median([t.intermediate_values[0] for t in sound])
    assert hopeless.user_attrs["fold_scores"] == []


# ------------------------------------------------------------------ artifacts
@pytest.mark.parametrize("case", ["mlp-digits", "cnn-digits", "cnn-digits_images"])
def test_the_saved_torchscript_predicts_what_the_wrapper_did(case, digits, digits_images, tmp_path):
    name, data = case.split("-", 1)
    prep = digits_images if data == "digits_images" else digits
    params = TINY_CNN if name == "cnn" else TINY
    model = spaces.family(name).build(params, task="classification", seed=0).fit(prep.X, prep.y)
    ws = Workspace.open(tmp_path / "ws")
    info = models.register_bytes(ws, model.to_torchscript(), f"{name}.pt", trusted=True)
    assert info.format == "torchscript"
    loaded = models.load_model(ws, models.get(ws, info.id))  # the benchmark's own loading path
    scores = make_predictor(loaded, info.format).predict_scores(prep.numeric_X(), classes=prep.classes)
    expected = model.predict_proba(prep.X)
    np.testing.assert_allclose(scores.proba, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(prep.classes[scores.labels], model.predict(prep.X))
    assert accuracy_score(prep.y, model.predict(prep.X)) > 0.5  # it learnt something: a non-trivial comparison


# --------------------------------------------------------------------- inputs
def test_the_cnn_reads_images_and_square_rows_and_refuses_the_rest():
    cnn = spaces.family("cnn")
    assert spaces.image_shape((64,)) == (1, 8, 8) and spaces.image_shape((3, 5, 7)) == (3, 5, 7)
    cnn.check_input((1, 8, 8), "digits_images")
    cnn.check_input((64,), "digits")
    for shape, says in [((13,), "'wine' has 13 features"), ((1,), "'wine' has 1 features"),
                        ((2, 8), "rows of shape (2, 8)")]:
        with pytest.raises(FrontierError) as err:
            cnn.check_input(shape, "wine")
        msg = err.value.message
        assert msg.startswith("--family cnn needs images") and says in msg and "--family mlp" in msg
        assert "\n" not in msg
    with pytest.raises(FrontierError, match="--family cnn needs images"):  # the estimator refuses too
        cnn.build(TINY_CNN, task="classification", seed=0).fit(np.zeros((20, 13)), np.arange(20) % 2)
    with pytest.raises(FrontierError, match="--family logreg needs a tabular dataset"):
        spaces.family("logreg").check_input((1, 8, 8), "digits_images")
    spaces.family("mlp").check_input((1, 8, 8), "digits_images")
    assert spaces.family("cnn").tasks == ("classification",)


# ------------------------------------------------------------------------ CLI
def test_a_cli_study_of_the_mlp_saves_and_benchmarks_its_best_network(tmp_path):
    ws = tmp_path / "ws"
    space = ('{"epochs": {"type": "int", "low": 2, "high": 3}, "width": {"type": "int", "low": 8, "high": 16}, '
             '"learning_rate": {"type": "float", "low": 0.005, "high": 0.02, "log": true}}')
    result = run_cli("tune", "--family", "mlp", "--data", "digits", "--trials", "2", "--cv", "3", "--space", space,
                     "--workspace", ws, "--json")
    assert result.returncode == 0, str(result)
    doc = result.json
    study = optuna.load_study(study_name=doc["study"], storage=doc["storage"])
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    (best,) = doc["best_trials"]
    assert best["values"][0] == max(t.values[0] for t in done)
    assert best["artifact_id"] and best["run_id"]

    shown = run_cli("compare", "--run", best["run_id"], "--workspace", ws, "--json")
    assert shown.returncode == 0, str(shown)
    run = shown.json["runs"][0]
    assert run["artifact_id"] == best["artifact_id"] and run["format"] == "torchscript" and run["mode"] == "as-is"
    assert run["rows_seen"] is True  # one network trained on these rows, scored on each test fold
    assert run["lineage"].startswith(f"trial {best['number']} of study {doc['study']} (torch mlp trained on ")
    assert f"3-fold accuracy in the study: {best['values'][0]:.4g}" in run["lineage"]
    assert run["n_folds"] == 3 and 0 < run["accuracy_mean"] <= 1 and run["latency_p50_ms"] > 0
