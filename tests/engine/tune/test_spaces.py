"""Tunable families: default spaces build, fit and reproduce; user spaces are checked strictly."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace

import numpy as np
import optuna
import pytest
from frontier_support import run_cli
from sklearn.datasets import load_diabetes, load_digits, load_iris

from engine import models
from engine.errors import FrontierError
from engine.tune.spaces import (
    CAPS,
    FAMILIES,
    MAX_PARAMS,
    MAX_SPACE_BYTES,
    Param,
    family,
    parse_space,
    suggest,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

CASES = [(f.name, task) for f in FAMILIES.values() for task in f.tasks]


def _data(task):
    if task == "classification":
        X, y = load_digits(return_X_y=True)
        keep = y < 3
        return X[keep][:150], y[keep][:150]
    X, y = load_diabetes(return_X_y=True)
    return X[:150], y[:150]


def _fast(space):
    """The default space with run-time parameters held small, so the test stays quick."""
    small = {"n_estimators": 30, "max_iter": 30, "epochs": 8, "width": 32}
    return [replace(p, high=min(p.high, small[p.name])) if p.name in small else p for p in space]


def _trial_params(space, seed=0):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return suggest(study.ask(), space)


def _as_json(space):
    return {p.name: ({"type": p.kind, "choices": list(p.choices)} if p.kind == "categorical"
                     else {"type": p.kind, "low": p.low, "high": p.high, "log": p.log}) for p in space}


@pytest.mark.parametrize(("name", "task"), CASES)
def test_family_builds_fits_and_reproduces(name, task):
    fam = family(name)
    X, y = _data(task)
    params = _trial_params(_fast(fam.space(task)))
    assert set(params) == {p.name for p in fam.space(task)}

    est = fam.build(params, task=task, seed=7)
    got = est.get_params(deep=True)
    assert {k: got[k] for k in params} == params
    preds = est.fit(X, y).predict(X)
    assert preds.shape == (len(y),)
    if task == "classification":
        assert est.predict_proba(X).shape == (len(y), 3)  # every family scores log-loss / ROC-AUC

    again = fam.build(params, task=task, seed=7).fit(X, y)
    np.testing.assert_array_equal(again.predict(X), preds)


@pytest.mark.parametrize(("name", "task"), CASES)
def test_default_space_is_valid_and_round_trips_through_parse_space(name, task):
    fam = family(name)
    space = fam.space(task)
    for p in space:
        assert p.help
        if p.kind != "categorical":
            assert p.low < p.high and (not p.log or p.low > 0)
    parsed = parse_space(json.dumps(_as_json(space)), fam, task=task)
    assert parsed == tuple(replace(p, help="") for p in space)


def test_seeds_and_threads_reach_the_estimator():
    rf = family("random_forest").build({}, task="regression", seed=3, threads=2)
    assert rf.get_params()["random_state"] == 3 and rf.get_params()["n_jobs"] == 2
    svm = family("svm").build({}, task="classification", seed=5)
    assert svm.get_params()["clf__estimator__random_state"] == 5
    for name, task in (("mlp", "regression"), ("cnn", "classification")):
        net = family(name).build({}, task=task, seed=4, threads=3)
        assert net.get_params()["random_state"] == 4 and net.get_params()["threads"] == 3


def test_unknown_family_and_task():
    with pytest.raises(FrontierError, match="random_forest"):
        family("xgboost")
    with pytest.raises(FrontierError, match="ranking"):
        family("logreg").build({}, task="ranking", seed=0)
    with pytest.raises(FrontierError, match="memory"):
        family("logreg").build({"memory": "/tmp"}, task="classification", seed=0)


def test_parse_space_accepts_a_valid_user_space():
    text = json.dumps({
        "clf__estimator__C": {"type": "float", "low": 0.01, "high": 100, "log": True},
        "clf__estimator__kernel": {"type": "categorical", "choices": ["rbf", "linear"]},
        "clf__estimator__degree": {"type": "int", "low": 2, "high": 4.0},
    })
    space = parse_space(text, family("svm"), task="classification")
    assert space == (
        Param("clf__estimator__C", "float", 0.01, 100.0, log=True),
        Param("clf__estimator__kernel", "categorical", choices=("rbf", "linear")),
        Param("clf__estimator__degree", "int", 2, 4),
    )
    assert isinstance(space[2].high, int)
    params = _trial_params(space)
    assert family("svm").build(params, task="classification", seed=0).get_params()["clf__estimator__degree"] in (2, 3, 4)
    # a mapping works too; without a task the name must suit every task of the family
    assert parse_space({"max_depth": {"type": "int", "low": 2, "high": 8}}, family("random_forest"))


_F = {"type": "float", "low": 0.1, "high": 10}
HOSTILE = [
    # (family, space, the parameter the message names, what else it says)
    ("logreg", {"__class__": _F}, "__class__", "not a tunable"),
    ("logreg", {"memory": {"type": "categorical", "choices": ["/tmp/x"]}}, "memory", "not a tunable"),
    ("random_forest", {"random_state": {"type": "int", "low": 0, "high": 9}}, "random_state", "not a tunable"),
    ("random_forest", {"n_jobs": {"type": "int", "low": 1, "high": 64}}, "n_jobs", "not a tunable"),
    ("logreg", {"clf": {"type": "categorical", "choices": ["x"]}}, "clf", "not a tunable"),
    ("logreg", {"C": _F}, "C", "clf__C"),
    ("logreg", {"clf__C": {"type": "float", "low": 10, "high": 1}}, "clf__C", "below high"),
    ("logreg", {"clf__C": {"type": "float", "low": 1, "high": 1}}, "clf__C", "below high"),
    ("logreg", {"clf__C": {"type": "float", "low": 1, "high": float("inf")}}, "clf__C", "finite"),
    ("logreg", {"clf__C": {"type": "float", "low": float("nan"), "high": 1}}, "clf__C", "finite"),
    ("logreg", '{"clf__C": {"type": "float", "low": 1, "high": Infinity}}', "clf__C", "finite"),
    ("logreg", '{"clf__C": {"type": "float", "low": NaN, "high": 1}}', "clf__C", "finite"),
    ("logreg", '{"clf__C": {"type": "float", "low": 1, "high": 1e400}}', "clf__C", "finite"),
    ("logreg", {"clf__C": {"type": "float", "low": 0, "high": 1, "log": True}}, "clf__C", "log"),
    ("logreg", {"clf__C": {"type": "float", "low": -1, "high": 1, "log": True}}, "clf__C", "log"),
    ("logreg", {"clf__C": {"type": "float", "low": "1e-3", "high": 1}}, "clf__C", "number"),
    ("logreg", {"clf__C": {"type": "float", "low": True, "high": 2}}, "clf__C", "number"),
    ("logreg", {"clf__C": {"type": "float", "low": [1], "high": 2}}, "clf__C", "number"),
    ("logreg", {"clf__C": {"type": "float", "low": 1, "high": 2, "log": "yes"}}, "clf__C", "true or false"),
    ("logreg", {"clf__C": {"type": "float", "low": 1}}, "clf__C", "high"),
    ("logreg", {"clf__C": {"type": "Float", "low": 1, "high": 2}}, "clf__C", "type"),
    ("logreg", {"clf__C": {"type": "float", "low": 1, "high": 2, "step": 1}}, "clf__C", "step"),
    ("logreg", {"clf__C": "1..10"}, "clf__C", "object"),
    ("logreg", {"clf__C": {"type": "float", "low": -1, "high": 1}}, "clf__C", "not accepted"),
    ("random_forest", {"max_depth": {"type": "int", "low": 1.5, "high": 9}}, "max_depth", "whole number"),
    ("random_forest", {"max_depth": {"type": "int", "low": 1, "high": 10**30}}, "max_depth", "between"),
    ("random_forest", {"n_estimators": {"type": "float", "low": 1, "high": 9}}, "n_estimators", "not accepted"),
    ("random_forest", {"n_estimators": {"type": "int", "low": 1, "high": 10**8}}, "n_estimators",
     str(CAPS["n_estimators"])),
    ("random_forest", {"max_features": {"type": "categorical", "choices": [{"a": 1}]}}, "max_features", "choice"),
    ("random_forest", {"max_features": {"type": "categorical", "choices": [["sqrt"]]}}, "max_features", "choice"),
    ("random_forest", {"max_features": {"type": "categorical", "choices": ["x" * 101]}}, "max_features", "100"),
    ("random_forest", {"max_features": {"type": "categorical", "choices": list(range(1, 52))}},
     "max_features", "at most 50"),
    ("random_forest", {"max_features": {"type": "categorical", "choices": []}}, "max_features", "non-empty"),
    ("random_forest", {"max_features": {"type": "categorical", "choices": "sqrt"}}, "max_features", "list"),
    ("random_forest", {"max_features": {"type": "categorical", "choices": ["sqrt", "sqrt"]}},
     "max_features", "twice"),
    ("random_forest", {"max_features": {"type": "categorical", "choices": ["sqrt", "bogus"]}},
     "max_features", "not accepted"),
    ("random_forest", '{"max_depth": {"type": "int", "low": 1, "high": 3}, "max_depth": {"type": "int", "low": 1, '
                      '"high": 4}}', "max_depth", "twice"),
    ("logreg", {"clf__alpha": _F}, "clf__alpha", "not a tunable"),  # regression-only, asked for classification
    ("mlp", {"threads": {"type": "int", "low": 1, "high": 64}}, "threads", "not a tunable"),
    ("mlp", {"random_state": {"type": "int", "low": 0, "high": 9}}, "random_state", "not a tunable"),
    ("mlp", {"epochs": {"type": "int", "low": 1, "high": 10**6}}, "epochs", str(CAPS["epochs"])),
    ("mlp", {"dropout": {"type": "float", "low": 0.5, "high": 1.0}}, "dropout", "not accepted"),
    ("mlp", {"batch_size": {"type": "categorical", "choices": [32, 0]}}, "batch_size", "not accepted"),
    ("cnn", {"learning_rate": {"type": "float", "low": 0, "high": 0.1}}, "learning_rate", "not accepted"),
]


@pytest.mark.parametrize(("fam", "space", "param", "says"), HOSTILE)
def test_parse_space_rejects_hostile_input_naming_the_parameter(fam, space, param, says):
    with pytest.raises(FrontierError) as info:
        parse_space(space, family(fam), task="classification")
    msg = info.value.message
    assert "\n" not in msg and len(msg) < 400
    assert "--space" in msg and repr(param) in msg
    assert says in msg


def test_parse_space_rejects_callables_too_many_params_huge_text_and_bad_json():
    fam = family("random_forest")
    with pytest.raises(FrontierError, match="JSON values"):
        parse_space({"max_depth": {"type": "int", "low": print, "high": 3}}, fam)
    with pytest.raises(FrontierError, match=f"at most {MAX_PARAMS}"):
        parse_space({f"p{i}": _F for i in range(MAX_PARAMS + 1)}, fam)
    with pytest.raises(FrontierError, match="larger than"):
        parse_space(json.dumps({"max_features": {"type": "categorical", "choices": ["x" * MAX_SPACE_BYTES]}}), fam)
    with pytest.raises(FrontierError, match="not valid JSON"):
        parse_space("[" * 10_000, fam)
    with pytest.raises(FrontierError, match="not valid JSON"):
        parse_space("{'max_depth': 1}", fam)
    with pytest.raises(FrontierError, match="JSON object"):
        parse_space("[1, 2]", fam)
    with pytest.raises(FrontierError, match="empty"):
        parse_space("{}", fam)
    with pytest.raises(FrontierError, match="JSON text"):
        parse_space(42, fam)  # type: ignore[arg-type]
    with pytest.raises(FrontierError) as info:  # a long hostile name is cut short in the message
        parse_space({"\x1b[2J" + "x" * 5000: _F}, fam)
    assert len(info.value.message) < 300 and "\x1b" not in info.value.message


# ---------------------------------------------------------------- svm, saved
def _tuned_svm_skops() -> tuple[bytes, object, np.ndarray]:
    import skops.io as sio

    X, y = load_iris(return_X_y=True)
    est = family("svm").build({"clf__estimator__C": 3.0}, task="classification", seed=0).fit(X, y)
    return sio.dumps(est), est, X


def _with_schema(data: bytes, change) -> bytes:
    """A copy of a skops file whose schema.json went through ``change`` (the rest kept byte for byte)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(src.read("schema.json"))
    change(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item.filename, json.dumps(schema) if item.filename == "schema.json" else src.read(item))
    return out.getvalue()


def _replace_calibrators(schema, make) -> int:
    """Replace every ``_SigmoidCalibration`` node of a skops schema with ``make(node)``; how many there were."""
    found = 0
    stack = [schema]
    while stack:
        item = stack.pop()
        values = item if isinstance(item, list) else list(item.values()) if isinstance(item, dict) else []
        for i, value in enumerate(values):
            if isinstance(value, dict) and value.get("__class__") == "_SigmoidCalibration":
                new = make(value)
                if isinstance(item, list):
                    item[i] = new
                else:
                    item[list(item)[i]] = new
                found += 1
            else:
                stack.append(value)
    return found


def test_a_tuned_svm_needs_no_trust_and_predicts_the_same_once_loaded():
    data, est, X = _tuned_svm_skops()
    assert models.skops_untrusted_types(data) == []
    loaded = models.load_skops(data, trusted=False)
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_a_calibrated_svm_carrying_another_type_or_a_call_is_still_refused(tmp_path):
    import skops.io as sio

    data, _, _ = _tuned_svm_skops()
    # a sibling class the allow-list leaves out, in the calibrators' place
    renamed = _with_schema(data, lambda s: _replace_calibrators(s, lambda n: n | {"__class__": "_TemperatureScaling"}))
    assert models.skops_untrusted_types(renamed) == ["sklearn.calibration._TemperatureScaling"]
    with pytest.raises(FrontierError, match="_TemperatureScaling"):
        models.load_skops(renamed, trusted=False)

    # a shell command in the calibrators' place: proven to run when skops is told to trust it, refused here
    marker = tmp_path / "pwned"
    call = {"__class__": "system", "__module__": "os", "__loader__": "ConstructorFromReduceNode",
            "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                        "content": [{"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
                                     "content": json.dumps(f"echo pwned > {marker}"), "is_json": True}]}}
    counted = []
    evil = _with_schema(data, lambda s: counted.append(_replace_calibrators(s, lambda n: call)))
    assert counted == [3]  # one per iris class
    sio.loads(evil, trusted=sio.get_untrusted_types(data=evil))  # the oracle: the payload really runs
    assert marker.read_text().strip() == "pwned"
    marker.unlink()
    assert "os.system" in models.skops_untrusted_types(evil)
    with pytest.raises(FrontierError, match=r"os\.system"):
        models.load_skops(evil, trusted=False)
    assert not marker.exists()


def test_a_cli_study_of_the_svm_saves_and_benchmarks_its_best_trial(tmp_path):
    ws = tmp_path / "ws"
    # only the best trial is saved and benchmarked (the one read here; saving the best N is test_save_trials.py's)
    result = run_cli("tune", "--family", "svm", "--data", "iris", "--trials", "3", "--cv", "3", "--save-best", "1",
                     "--workspace", ws, "--json")
    assert result.returncode == 0, str(result)
    (best,) = result.json["best_trials"]
    assert best["artifact_id"] and best["run_id"]  # before the allow-list knew calibration: not saved
    shown = run_cli("compare", "--run", best["run_id"], "--workspace", ws, "--json")
    assert shown.returncode == 0, str(shown)
    run = shown.json["runs"][0]
    assert run["format"] == "skops" and run["mode"] == "cv-refit" and run["artifact_id"] == best["artifact_id"]
    assert run["accuracy_mean"] == pytest.approx(best["values"][0], abs=1e-12)  # same folds, same model
