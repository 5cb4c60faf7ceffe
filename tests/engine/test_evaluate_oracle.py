"""Our cross-validation numbers against independent oracles.

Refit CV is checked fold by fold against ``sklearn.model_selection.cross_validate``
on data loaded straight from ``sklearn.datasets``; as-is metrics against metrics
computed here from the model's own runtime (onnxruntime, torch, the sklearn
estimator). Nothing here reuses the engine's metric code for the expected side.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import skops.io as sio
from frontier_support import DIGITS_ONNX_NAME, sample
from scipy.special import softmax
from sklearn import datasets as skd
from sklearn import metrics as skm
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from engine import datasets, models
from engine.benchmark.execute import execute
from engine.measure.evaluate import evaluate, folds, predict_all
from engine.models.predictors import OnnxPredictor, SklearnPredictor, make_predictor
from engine.workspace import Workspace

CLS_SCORING = ["accuracy", "f1_macro", "roc_auc_ovr", "neg_log_loss"]
REG_SCORING = ["neg_root_mean_squared_error", "neg_mean_absolute_error", "r2"]
# Same data, same splits, same estimator: only floating-point summation order may differ.
TIGHT = {"rtol": 1e-9, "atol": 1e-12}


# ---------------------------------------------------------------- oracles
def load_skops(name: str):
    path = sample(name)
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def digits_xy() -> tuple[pd.DataFrame, np.ndarray]:
    d = skd.load_digits()
    return pd.DataFrame(d.data, columns=[f"pixel_{i}" for i in range(64)]), d.target


def breast_cancer_xy() -> tuple[pd.DataFrame, np.ndarray]:
    d = skd.load_breast_cancer(as_frame=True)
    return d.data, d.target.to_numpy()


def breast_cancer_logreg():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


CASES = {
    "digits-logreg": (lambda: load_skops("digits_logreg.skops"), "digits", digits_xy),
    "digits-random-forest": (lambda: load_skops("digits_random_forest.skops"), "digits", digits_xy),
    "breast-cancer-logreg": (breast_cancer_logreg, "breast_cancer", breast_cancer_xy),
}


def stratified(seed: int = 0, n: int = 5) -> StratifiedKFold:
    return StratifiedKFold(n_splits=n, shuffle=True, random_state=seed)


@functools.cache
def sklearn_cv(case: str) -> dict[str, np.ndarray]:
    """Per-fold scores from scikit-learn's own cross_validate."""
    make_est, _, xy = CASES[case]
    X, y = xy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = cross_validate(clone(make_est()), X, y, cv=stratified(), scoring=CLS_SCORING)
    return {"accuracy": r["test_accuracy"], "f1_macro": r["test_f1_macro"],
            "roc_auc": r["test_roc_auc_ovr"], "log_loss": -r["test_neg_log_loss"]}


@functools.cache
def engine_refit(case: str) -> pd.DataFrame:
    make_est, data, _ = CASES[case]
    prep = datasets.prepare(datasets.builtin(data))
    ev = evaluate(SklearnPredictor(make_est()), prep, folds(prep, n_splits=5, seed=0), refit=True)
    assert ev.mode == "cv-refit"
    return ev.folds


def fold_of_rows(splitter, X, y) -> np.ndarray:
    out = np.full(len(y), -1)
    for i, (_, test) in enumerate(splitter.split(X, y)):
        out[test] = i
    assert (out >= 0).all()
    return out


def stored_table(ws, run_id: str, table: str) -> pd.DataFrame:
    return pd.read_parquet(ws / "results" / run_id / f"{table}.parquet")


# ------------------------------------------------------------- refit CV
@pytest.mark.parametrize("case", list(CASES))
def test_refit_cv_matches_cross_validate_fold_by_fold(case):
    ours, theirs = engine_refit(case), sklearn_cv(case)
    assert list(ours["fold"]) == [0, 1, 2, 3, 4]
    for metric, expected in theirs.items():
        np.testing.assert_allclose(ours[metric].to_numpy(), expected, **TIGHT, err_msg=metric)


@pytest.mark.parametrize("data", ["digits", "breast_cancer", "iris"])
def test_folds_are_scikit_learns_stratified_kfold(data):
    prep = datasets.prepare(datasets.builtin(data))
    loader = {"digits": skd.load_digits, "breast_cancer": skd.load_breast_cancer, "iris": skd.load_iris}[data]
    d = loader()
    for seed in (0, 7):
        expected = list(stratified(seed).split(d.data, d.target))
        got = folds(prep, n_splits=5, seed=seed)
        assert len(got) == 5
        for (tr, te), (etr, ete) in zip(got, expected, strict=True):
            np.testing.assert_array_equal(tr, etr)
            np.testing.assert_array_equal(te, ete)
    # the seed matters: a different seed gives different folds
    assert not np.array_equal(folds(prep, n_splits=5, seed=0)[0][1], folds(prep, n_splits=5, seed=1)[0][1])


@pytest.mark.parametrize(("case", "file"), [("digits-logreg", "digits_logreg.skops"),
                                            ("digits-random-forest", "digits_random_forest.skops")])
def test_cli_refit_means_match_cross_validate(digits_comparison, case, file):
    run = digits_comparison.run_for(file)
    assert run["mode"] == "cv-refit"
    theirs = sklearn_cv(case)
    for metric, values in theirs.items():
        assert run[f"{metric}_mean"] == pytest.approx(values.mean(), rel=1e-9), metric
        assert run[f"{metric}_std"] == pytest.approx(values.std(ddof=1), rel=1e-6), metric
    stored = stored_table(digits_comparison.workspace, run["run_id"], "folds")
    np.testing.assert_allclose(stored["accuracy"], theirs["accuracy"], **TIGHT)
    np.testing.assert_allclose(stored["log_loss"], theirs["log_loss"], **TIGHT)


def test_regression_refit_matches_cross_validate():
    ridge = load_skops("diabetes_ridge.skops")
    d = skd.load_diabetes(as_frame=True)
    r = cross_validate(clone(ridge), d.data, d.target, cv=KFold(5, shuffle=True, random_state=0),
                       scoring=REG_SCORING)
    prep = datasets.prepare(datasets.builtin("diabetes"))
    assert prep.task == "regression"
    ev = evaluate(SklearnPredictor(ridge), prep, folds(prep, n_splits=5, seed=0), refit=True)
    np.testing.assert_allclose(ev.folds["rmse"], -r["test_neg_root_mean_squared_error"], **TIGHT)
    np.testing.assert_allclose(ev.folds["mae"], -r["test_neg_mean_absolute_error"], **TIGHT)
    np.testing.assert_allclose(ev.folds["r2"], r["test_r2"], **TIGHT)
    # out-of-fold predictions are scikit-learn's cross_val_predict on the same folds
    from sklearn.model_selection import cross_val_predict

    oof = cross_val_predict(clone(ridge), d.data, d.target, cv=KFold(5, shuffle=True, random_state=0))
    np.testing.assert_allclose(ev.predictions.sort_values("row")["y_pred"], oof, rtol=1e-9)


def test_string_labels_refit_matches_cross_validate(tmp_path):
    iris = skd.load_iris(as_frame=True)
    frame = iris.data.copy()
    frame["species"] = iris.target_names[iris.target]
    path = tmp_path / "iris_named.csv"
    frame.to_csv(path, index=False)

    ds = datasets.read_file(path)
    prep = datasets.prepare(ds, target="species")
    assert prep.task == "classification"
    assert list(prep.classes) == ["setosa", "versicolor", "virginica"]
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    ev = evaluate(SklearnPredictor(est), prep, folds(prep, n_splits=5, seed=0), refit=True)

    y_names = frame["species"].to_numpy()
    r = cross_validate(clone(est), iris.data, y_names, cv=stratified(), scoring=CLS_SCORING)
    np.testing.assert_allclose(ev.folds["accuracy"], r["test_accuracy"], **TIGHT)
    np.testing.assert_allclose(ev.folds["f1_macro"], r["test_f1_macro"], **TIGHT)
    np.testing.assert_allclose(ev.folds["roc_auc"], r["test_roc_auc_ovr"], **TIGHT)
    np.testing.assert_allclose(ev.folds["log_loss"], -r["test_neg_log_loss"], **TIGHT)
    # predictions are stored as indices into the sorted class names
    preds = ev.predictions
    np.testing.assert_array_equal(prep.classes[preds["y_true"]], y_names[preds["row"]])


# ----------------------------------------------------------------- as-is
def test_as_is_onnx_metrics_equal_direct_onnxruntime_computation(digits_comparison):
    run = digits_comparison.run_for("digits_mlp.onnx")
    assert (run["model"], run["mode"], run["format"]) == (DIGITS_ONNX_NAME, "as-is", "onnx")
    X, y = digits_xy()
    sess = ort.InferenceSession(str(sample("digits_mlp.onnx")), providers=["CPUExecutionProvider"])
    logits = sess.run(None, {"input": X.to_numpy(np.float32)})[0]
    proba = softmax(logits.astype(np.float64), axis=1)
    pred = logits.argmax(axis=1)

    stored = stored_table(digits_comparison.workspace, run["run_id"], "folds")
    assert len(stored) == 5
    for i, (_, test) in enumerate(stratified().split(X, y)):
        row = stored.iloc[i]
        assert row["fold"] == i and row["n_test"] == len(test)
        assert row["accuracy"] == pytest.approx(skm.accuracy_score(y[test], pred[test]), abs=1e-12)
        assert row["f1_macro"] == pytest.approx(skm.f1_score(y[test], pred[test], average="macro"), abs=1e-12)
        assert row["roc_auc"] == pytest.approx(
            skm.roc_auc_score(y[test], proba[test], multi_class="ovr"), abs=1e-9)
        assert row["log_loss"] == pytest.approx(skm.log_loss(y[test], proba[test], labels=range(10)), rel=1e-5)
    assert run["accuracy_mean"] == pytest.approx(stored["accuracy"].mean(), abs=1e-12)

    preds = stored_table(digits_comparison.workspace, run["run_id"], "predictions").sort_values("row")
    np.testing.assert_array_equal(preds["y_pred"], pred)
    np.testing.assert_array_equal(preds["y_true"], y)
    np.testing.assert_allclose(preds[[f"proba_{k}" for k in range(10)]].to_numpy(), proba, atol=1e-6)


def test_as_is_sklearn_metrics_equal_model_predictions():
    est = load_skops("digits_logreg.skops")
    X, y = digits_xy()
    prep = datasets.prepare(datasets.builtin("digits"))
    ev = evaluate(SklearnPredictor(est), prep, folds(prep, n_splits=5, seed=0), refit=False)
    assert ev.mode == "as-is"
    assert (ev.folds["fit_seconds"] == 0).all()
    pred, proba = est.predict(X), est.predict_proba(X)
    for i, (_, test) in enumerate(stratified().split(X, y)):
        assert ev.folds["accuracy"][i] == pytest.approx(skm.accuracy_score(y[test], pred[test]), abs=1e-12)
        assert ev.folds["log_loss"][i] == pytest.approx(skm.log_loss(y[test], proba[test]), rel=1e-9)


# ------------------------------------------------------- backends agree
@pytest.fixture(scope="module")
def trusted_ws(tmp_path_factory) -> Workspace:
    return Workspace.open(tmp_path_factory.mktemp("backends") / "ws")


def engine_scores(ws: Workspace, file: str, data: str):
    info = models.register_file(ws, sample(file), trusted=True)
    predictor = make_predictor(models.load_model(ws, info), info.format, threads=2)
    return predictor, predict_all(predictor, datasets.prepare(datasets.builtin(data)))


@pytest.mark.parametrize(("files", "data"), [
    (("digits_mlp.onnx", "digits_mlp.pt", "digits_mlp.pt2"), "digits"),
    (("digits_cnn.onnx", "digits_cnn.pt"), "digits_images"),
])
def test_onnx_and_torch_predictions_of_the_same_model_agree(trusted_ws, files, data):
    import torch

    X = skd.load_digits().images.astype(np.float32)
    X = X[:, None] if data == "digits_images" else X.reshape(len(X), -1)
    with torch.inference_mode():  # oracle: the TorchScript module called directly
        oracle = torch.jit.load(str(sample("digits_cnn.pt" if data == "digits_images" else "digits_mlp.pt")))
        logits = oracle(torch.from_numpy(X)).numpy()
    expected = softmax(logits.astype(np.float64), axis=1)

    backends = set()
    for file in files:
        predictor, scores = engine_scores(trusted_ws, file, data)
        backends.add(predictor.backend)
        assert scores.proba.shape == (1797, 10)
        np.testing.assert_allclose(scores.proba, expected, atol=1e-5, err_msg=file)
        np.testing.assert_array_equal(scores.labels, expected.argmax(axis=1), err_msg=file)
    assert backends == {"onnxruntime", "torch"}


# ------------------------------------------------------------- skl2onnx
def export_skl2onnx(est, n_features: int, *, zipmap: bool) -> bytes:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    final = est.steps[-1][1] if hasattr(est, "steps") else est
    onx = to_onnx(est, initial_types=[("input", FloatTensorType([None, n_features]))],
                  options={id(final): {"zipmap": zipmap}}, target_opset={"": 17, "ai.onnx.ml": 3})
    return onx.SerializeToString()


def as_is_oracle(est, X, y, classes) -> tuple[np.ndarray, np.ndarray]:
    """Per-fold accuracy and log loss of the fitted sklearn estimator itself."""
    pred, proba = est.predict(X), est.predict_proba(X)
    acc, ll = [], []
    for _, test in stratified().split(X, y):
        acc.append(skm.accuracy_score(y[test], pred[test]))
        ll.append(skm.log_loss(y[test], proba[test], labels=classes))
    return np.array(acc), np.array(ll)


def test_skl2onnx_label_and_probability_outputs_match_sklearn(tmp_path):
    """The sample export (label + probabilities tensor) and a ZipMap export, both as-is."""
    est = load_skops("digits_logreg.skops")
    X, y = digits_xy()
    exp_acc, exp_ll = as_is_oracle(est, X, y, est.classes_)
    prep = datasets.prepare(datasets.builtin("digits"))
    splits = folds(prep, n_splits=5, seed=0)

    zipmap_path = tmp_path / "logreg_zipmap.onnx"
    zipmap_path.write_bytes(export_skl2onnx(est, 64, zipmap=True))
    outputs = {}
    for path in (sample("digits_logreg.onnx"), zipmap_path):
        predictor = OnnxPredictor(path)
        outputs[path.name] = predictor.infer(prep.numeric_X()[:2])
        ev = evaluate(predictor, prep, splits, refit=False)
        np.testing.assert_allclose(ev.folds["accuracy"], exp_acc, atol=1e-12, err_msg=path.name)
        np.testing.assert_allclose(ev.folds["log_loss"], exp_ll, rtol=1e-4, err_msg=path.name)
        assert ev.folds["roc_auc"].notna().all()
    # the two exports really differ in output form: a tensor vs a list of dicts (ZipMap)
    assert isinstance(outputs["digits_logreg.onnx"][1], np.ndarray)
    assert isinstance(outputs["logreg_zipmap.onnx"][1], list)
    assert isinstance(outputs["logreg_zipmap.onnx"][1][0], dict)


def test_skl2onnx_zipmap_with_string_labels(tmp_path):
    iris = skd.load_iris()
    y = iris.target_names[iris.target]
    X = pd.DataFrame(iris.data, columns=["a", "b", "c", "d"])
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X.to_numpy(), y)
    path = tmp_path / "iris_zipmap.onnx"
    path.write_bytes(export_skl2onnx(est, 4, zipmap=True))
    raw = ort.InferenceSession(str(path)).run(None, {"input": X.to_numpy(np.float32)[:1]})
    assert raw[0].dtype == object and isinstance(raw[1][0]["setosa"], float)  # labels are strings

    frame = X.assign(species=y)
    prep = datasets.prepare(datasets.Dataset("0" * 16, "iris_named", "tabular", frame=frame), target="species")
    ev = evaluate(OnnxPredictor(path), prep, folds(prep, n_splits=5, seed=0), refit=False)
    exp_acc, exp_ll = as_is_oracle(est, X.to_numpy(), y, est.classes_)
    np.testing.assert_allclose(ev.folds["accuracy"], exp_acc, atol=1e-12)
    np.testing.assert_allclose(ev.folds["log_loss"], exp_ll, rtol=1e-4)


# ------------------------------------------------------------ same folds
def test_every_model_in_a_comparison_sees_the_same_folds(digits_comparison):
    X, y = digits_xy()
    expected = fold_of_rows(stratified(), X, y)
    assert len(digits_comparison.runs) == 5
    for run in digits_comparison.runs:
        preds = stored_table(digits_comparison.workspace, run["run_id"], "predictions")
        preds = preds.sort_values("row")
        np.testing.assert_array_equal(preds["row"], np.arange(len(y)))
        np.testing.assert_array_equal(preds["fold"], expected, err_msg=run["model"])
        f = stored_table(digits_comparison.workspace, run["run_id"], "folds")
        np.testing.assert_array_equal(f["n_test"], np.bincount(expected))


def test_folds_are_shared_across_separate_runs(tmp_path, digits_comparison):
    """A later, separate benchmark of another model on the same data sees the same folds."""
    from engine import benchmark

    ws = Workspace.open(tmp_path / "ws")
    ds = datasets.builtin("digits")
    info = models.register_file(ws, sample("digits_logreg.onnx"))
    config = benchmark.BenchmarkConfig(latency=None)
    p = benchmark.plan(ws, [info], ds, config)
    datasets.register(ws, ds)
    execute(ws, p.to_request())
    ours = pd.read_parquet(ws.results / p.runs[0].run_id / "predictions.parquet").sort_values("row")
    first = digits_comparison.run_for("digits_mlp.onnx")["run_id"]
    theirs = stored_table(digits_comparison.workspace, first, "predictions").sort_values("row")
    np.testing.assert_array_equal(ours["fold"].to_numpy(), theirs["fold"].to_numpy())


# ------------------------------------------------------ output shapes
def test_interpretation_of_raw_model_outputs():
    from scipy.special import expit

    from engine.errors import FrontierError
    from engine.models.predictors import interpret_array, interpret_onnx_outputs

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 3)) * 4
    s = interpret_array(logits, np.array([0, 1, 2]))
    np.testing.assert_allclose(s.proba, softmax(logits, axis=1))
    np.testing.assert_array_equal(s.labels, logits.argmax(axis=1))
    probs = softmax(logits, axis=1)
    np.testing.assert_allclose(interpret_array(probs, np.array([0, 1, 2])).proba, probs)  # kept, not re-softmaxed

    one_logit = rng.normal(size=(6, 1)) * 3
    s = interpret_array(one_logit, np.array(["neg", "pos"]))
    np.testing.assert_allclose(s.proba[:, 1], expit(one_logit[:, 0]))
    np.testing.assert_allclose(s.proba.sum(axis=1), 1.0)
    one_prob = expit(one_logit)
    np.testing.assert_allclose(interpret_array(one_prob, np.array([0, 1])).proba[:, 1], one_prob[:, 0])

    with pytest.raises(FrontierError, match="outputs 4 score"):
        interpret_array(rng.normal(size=(6, 4)), np.array([0, 1, 2]))

    # a label-only output: labels mapped onto the dataset's classes, no probabilities
    s = interpret_onnx_outputs([np.array(["b", "a", "c"], dtype=object)], np.array(["a", "b", "c"]))
    assert s.proba is None
    np.testing.assert_array_equal(s.labels, [1, 0, 2])
    with pytest.raises(FrontierError, match="labels the dataset's target does not have"):
        interpret_onnx_outputs([np.array(["x", "a"], dtype=object)], np.array(["a", "b"]))


def test_binary_single_logit_onnx_model(tmp_path):
    """A torch model exported to ONNX with one logit per row, on a binary dataset."""
    import torch
    from scipy.special import expit

    X, y = breast_cancer_xy()
    torch.manual_seed(0)
    Xs = ((X - X.mean()) / X.std()).to_numpy(np.float32, copy=True)
    lin = torch.nn.Linear(30, 1)
    opt = torch.optim.Adam(lin.parameters(), lr=0.05)
    xt, yt = torch.from_numpy(Xs), torch.from_numpy(y.astype(np.float32))[:, None]
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(lin(xt), yt).backward()
        opt.step()
    path = tmp_path / "binary.onnx"
    torch.onnx.export(lin.eval(), (xt[:1],), str(path), input_names=["input"], output_names=["logit"],
                      dynamic_axes={"input": {0: "batch"}}, dynamo=False)
    frame = pd.DataFrame(Xs, columns=X.columns).assign(target=y)
    prep = datasets.prepare(datasets.Dataset("1" * 16, "bc_std", "tabular", frame=frame))
    ev = evaluate(OnnxPredictor(path), prep, folds(prep, n_splits=5, seed=0), refit=False)

    with torch.inference_mode():
        p1 = expit(lin(xt).numpy()[:, 0].astype(np.float64))
    for i, (_, test) in enumerate(stratified().split(Xs, y)):
        assert ev.folds["roc_auc"][i] == pytest.approx(skm.roc_auc_score(y[test], p1[test]), abs=1e-9)
        assert ev.folds["accuracy"][i] == pytest.approx(skm.accuracy_score(y[test], p1[test] > 0.5), abs=1e-12)
        assert ev.folds["log_loss"][i] == pytest.approx(skm.log_loss(y[test], p1[test]), rel=1e-5)
