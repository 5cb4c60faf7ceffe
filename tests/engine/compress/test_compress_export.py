"""The ONNX export matches its source within the stated tolerance (checked with scikit-learn, torch and
ONNX Runtime themselves, not the engine's predictors), with a dynamic batch axis; recipes that do not
apply say why in one line; static-int8 calibration rows never include test rows."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from frontier_support import sample
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold

from engine import datasets
from engine.compress import calibration, export, half, quantize
from engine.compress.methods import NotApplicable
from engine.compress.parity import PROBA_ATOL
from engine.models import load_skops


@pytest.fixture(scope="module")
def digits():
    frame = datasets.builtin("digits").frame  # scikit-learn's digits, with the samples' column names
    X = frame.drop(columns="target")
    assert np.array_equal(X.to_numpy(), load_digits().data)
    return X, frame["target"].to_numpy()


def _session(data: bytes):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def test_a_scikit_learn_export_matches_predict_proba(digits):
    X, _ = digits
    model = load_skops(sample("digits_logreg.skops").read_bytes(), trusted=False)
    data, tool = export.sklearn_to_onnx(model, X.shape[1])
    assert tool.startswith("skl2onnx")
    sess = _session(data)
    label, proba = sess.run(None, {"input": X.to_numpy(np.float32)})
    assert np.max(np.abs(proba - model.predict_proba(X))) <= PROBA_ATOL
    assert np.array_equal(label, model.predict(X))
    assert sess.run(None, {"input": X.to_numpy(np.float32)[:1]})[1].shape == (1, 10)  # any batch size


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


@pytest.mark.parametrize("file", ["digits_mlp.pt", "digits_cnn.pt"])
def test_a_torchscript_export_matches_the_module_at_any_batch_size(digits, file):
    X, _ = digits
    x = X.to_numpy(np.float32).copy()
    if "cnn" in file:
        x = x.reshape(-1, 1, 8, 8)
    module = torch.jit.load(io.BytesIO(sample(file).read_bytes()))
    data, _ = export.torch_to_onnx(module, "torchscript", x[:2])
    sess = _session(data)
    with torch.no_grad():
        want = _softmax(module(torch.from_numpy(x)).numpy())
    for batch in (1, 7, len(x)):  # the batch axis is dynamic
        got = _softmax(sess.run(None, {"input": x[:batch]})[0])
        assert np.max(np.abs(got - want[:batch])) <= PROBA_ATOL


def test_recipes_that_do_not_apply_say_why_in_one_line(tmp_path, digits, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)  # ONNX Runtime drops a debug file into the current folder on failure
    here = sorted(p.name for p in Path.cwd().iterdir())
    X, _ = digits
    model = load_skops(sample("digits_logreg.skops").read_bytes(), trusted=False)
    data, _ = export.sklearn_to_onnx(model, X.shape[1])  # Scaler + LinearClassifier (ai.onnx.ml)
    rows = np.arange(64)
    attempts = [lambda: quantize.ort_dynamic(data, tmp_path),
                lambda: quantize.ort_static(data, tmp_path, X.to_numpy(np.float32), rows, calibration="minmax"),
                lambda: half.to_fp16(data),
                lambda: quantize.torch_dynamic(model)]
    for attempt in attempts:
        with pytest.raises(NotApplicable) as err:
            attempt()
        message = err.value.message
        assert "\n" not in message and len(message) < 300, message
    with pytest.raises(NotApplicable, match="LinearClassifier"):
        quantize.ort_dynamic(data, tmp_path)
    assert sorted(p.name for p in Path.cwd().iterdir()) == here  # nothing left where the process stood


def test_static_calibration_rows_come_from_the_first_folds_training_part(digits):
    _, y = digits
    # the folds, rebuilt here with scikit-learn: the benchmark's StratifiedKFold(5, shuffle, seed 0)
    splits = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(np.zeros(len(y)), y))
    train, test = splits[0]
    for n in (1, 100, 256, 5000):
        rows = calibration.calibration_rows(splits, n=n, seed=0)
        assert len(rows) and set(rows) <= set(train) and not set(rows) & set(test)
        assert len(rows) <= n and np.array_equal(rows, np.unique(rows))
    assert len(calibration.calibration_rows(splits, n=5000, seed=0)) == len(train) // calibration.BATCH * calibration.BATCH
