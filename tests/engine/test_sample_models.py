"""The bundled sample models load with their own libraries and still work.

These tests do not rebuild anything: they read ``sample_models/artifacts`` as committed
(rebuild with ``python -m sample_models.build``).
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "sample_models" / "artifacts"
EXPECTED_FILES = {
    "digits_logreg.skops",
    "digits_random_forest.skops",
    "digits_hist_gradient_boosting.skops",
    "digits_logreg.onnx",
    "digits_mlp.pt",
    "digits_mlp.onnx",
    "digits_mlp.pt2",
    "digits_cnn.pt",
    "digits_cnn.onnx",
    "diabetes_ridge.skops",
}
FORMATS = {"skops", "onnx", "torchscript", "torch_export"}
DATASETS = {"digits", "digits_images", "diabetes"}
SKOPS_ALLOWED_ROOTS = ("sklearn", "numpy", "scipy")


def _manifest() -> list[dict]:
    return json.loads((ARTIFACTS / "manifest.json").read_text())


MANIFEST = _manifest() if (ARTIFACTS / "manifest.json").exists() else []


# ----------------------------------------------------------------- datasets as the engine
# presents them


@cache
def digits_df() -> pd.DataFrame:
    from sklearn.datasets import load_digits

    d = load_digits()
    df = pd.DataFrame(d.data.astype(np.float64), columns=[f"pixel_{i}" for i in range(64)])
    df["target"] = d.target.astype(np.int64)
    return df


@cache
def diabetes_df() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    df = pd.DataFrame(d.data.astype(np.float64), columns=list(d.feature_names))
    df["target"] = d.target.astype(np.float64)
    return df


def _frame(dataset: str) -> tuple[pd.DataFrame, np.ndarray]:
    df = {"digits": digits_df, "digits_images": digits_df, "diabetes": diabetes_df}[dataset]()
    return df.drop(columns=["target"]), df["target"].to_numpy()


def _array(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    x_df, y = _frame(dataset)
    x = np.ascontiguousarray(x_df.to_numpy(dtype=np.float32))
    if dataset == "digits_images":
        x = x.reshape(-1, 1, 8, 8)
    return x, y.astype(np.int64)


# ------------------------------------------------------------------------------ loaders


def _load_skops(path: Path):
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    assert all(t.split(".", 1)[0] in SKOPS_ALLOWED_ROOTS for t in untrusted), untrusted
    return sio.load(path, trusted=untrusted)


def _ort(path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _torch():
    import torch

    torch.set_num_threads(2)
    return torch


def _torchscript(path: Path):
    torch = _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = torch.jit.load(str(path), map_location="cpu")
    model.eval()
    return model


def _torch_export(path: Path):
    return _torch().export.load(str(path)).module()


def _predict(entry: dict) -> tuple[np.ndarray, np.ndarray]:
    """Model output (labels or regression values) and ground truth for the entry."""
    path = ARTIFACTS / entry["file"]
    fmt, dataset = entry["format"], entry["dataset"]
    if fmt == "skops":
        x_df, y = _frame(dataset)
        return np.asarray(_load_skops(path).predict(x_df)), y
    x, y = _array(dataset)
    if fmt == "onnx":
        sess = _ort(path)
        names = [o.name for o in sess.get_outputs()]
        (input_meta,) = sess.get_inputs()
        assert input_meta.name == "input"
        if "logits" in names:
            return sess.run(["logits"], {"input": x})[0].argmax(1), y
        return np.asarray(sess.run(["label"], {"input": x})[0]), y
    torch = _torch()
    model = _torchscript(path) if fmt == "torchscript" else _torch_export(path)
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy().argmax(1), y


# -------------------------------------------------------------------------------- tests


def test_manifest_lists_all_artifacts_and_they_exist():
    assert MANIFEST, f"missing {ARTIFACTS / 'manifest.json'}"
    files = [e["file"] for e in MANIFEST]
    assert len(files) == len(set(files))
    assert set(files) == EXPECTED_FILES
    for e in MANIFEST:
        assert (ARTIFACTS / e["file"]).is_file(), e["file"]
        assert (ARTIFACTS / e["file"]).stat().st_size < 3 * 1024 * 1024, e["file"]
        assert e["format"] in FORMATS
        assert e["dataset"] in DATASETS
        assert e["target"] == "target"
        assert e["task"] in {"classification", "regression"}
        assert e["trusted"] is True
        assert e["name"] and e["description"]


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_artifact_loads_and_scores(entry):
    pred, y = _predict(entry)
    assert pred.shape[0] == y.shape[0]
    if entry["task"] == "classification":
        acc = float((pred.astype(np.int64) == y).mean())
        assert acc > 0.9, f"{entry['file']}: accuracy {acc:.4f}"
    else:
        from sklearn.metrics import r2_score

        r2 = r2_score(y, pred)
        assert r2 > 0.4, f"{entry['file']}: R2 {r2:.4f}"


def test_mlp_formats_agree():
    torch = _torch()
    x, _ = _array("digits")
    x = x[:200]
    with torch.no_grad():
        ts = _torchscript(ARTIFACTS / "digits_mlp.pt")(torch.from_numpy(x)).numpy()
        ep = _torch_export(ARTIFACTS / "digits_mlp.pt2")(torch.from_numpy(x)).numpy()
        ep_one = _torch_export(ARTIFACTS / "digits_mlp.pt2")(torch.from_numpy(x[:1])).numpy()
    onnx_out = _ort(ARTIFACTS / "digits_mlp.onnx").run(["logits"], {"input": x})[0]
    assert ts.shape == (200, 10)
    np.testing.assert_allclose(onnx_out, ts, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ep, ts, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ep_one, ts[:1], rtol=1e-4, atol=1e-4)


def test_cnn_formats_agree():
    torch = _torch()
    x, _ = _array("digits_images")
    x = x[:200]
    with torch.no_grad():
        ts = _torchscript(ARTIFACTS / "digits_cnn.pt")(torch.from_numpy(x)).numpy()
    onnx_out = _ort(ARTIFACTS / "digits_cnn.onnx").run(["logits"], {"input": x})[0]
    np.testing.assert_allclose(onnx_out, ts, rtol=1e-4, atol=1e-4)


def test_logreg_onnx_matches_sklearn():
    x_df, _ = _frame("digits")
    sk = _load_skops(ARTIFACTS / "digits_logreg.skops").predict_proba(x_df)
    sess = _ort(ARTIFACTS / "digits_logreg.onnx")
    assert [o.name for o in sess.get_outputs()] == ["label", "probabilities"]
    proba = sess.run(["probabilities"], {"input": x_df.to_numpy(dtype=np.float32)})[0]
    np.testing.assert_allclose(proba, sk, atol=1e-4)
