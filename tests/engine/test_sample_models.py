"""The bundled sample models load with their own libraries and still work.

Each sample was trained on a seeded training split; the other rows are registered as
held-out datasets. The split is recomputed here with scikit-learn's
``train_test_split`` from the manifest's parameters, independently of the engine.
Apart from the slow rebuild test, these tests read ``sample_models/artifacts`` as
committed (rebuild with ``python -m sample_models.build``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import subprocess
import sys
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from frontier_support import FAST_BENCH, REPO_ROOT, run_cli, sample
from sklearn.model_selection import StratifiedKFold, train_test_split

from engine import datasets, ids, models, samples
from engine.errors import FrontierError
from engine.workspace import Workspace

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


# -------------------------------------------------------------------- the training split


def _split(entry: dict) -> tuple[np.ndarray, np.ndarray]:
    """(training, held-out) row indices, recomputed from the manifest's parameters."""
    rows = entry["training_rows"]
    y = _frame(rows["rows_of"])[1]
    train, held = train_test_split(np.arange(len(y)), test_size=rows["holdout_fraction"],
                                   random_state=rows["seed"], stratify=y if rows["stratified"] else None)
    return np.sort(train), np.sort(held)


def _digest(rows: np.ndarray) -> str:
    """The manifest's documented hash: SHA-256 of sorted little-endian int64 row indices."""
    return hashlib.sha256(np.sort(rows).astype("<i8").tobytes()).hexdigest()


# Which built-ins hold each sample's rows, and which held-out datasets the rest.
FULL = {"digits": {"digits", "digits_images"}, "digits_images": {"digits", "digits_images"},
        "diabetes": {"diabetes"}}
HELD = {"digits": {"digits_holdout", "digits_images_holdout"},
        "digits_images": {"digits_holdout", "digits_images_holdout"}, "diabetes": {"diabetes_holdout"}}


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


def _predict(entry: dict, folder: Path = ARTIFACTS) -> tuple[np.ndarray, np.ndarray]:
    """Model output (labels or regression values) and ground truth, for every row of the entry's dataset.

    The committed artifacts' outputs are worked out once (several tests compare against them; the arrays
    are only read)."""
    if folder == ARTIFACTS:
        return _committed_prediction(entry["file"])
    return _run_model(entry, folder)


@cache
def _committed_prediction(file: str) -> tuple[np.ndarray, np.ndarray]:
    out = _run_model(next(e for e in MANIFEST if e["file"] == file), ARTIFACTS)
    for array in out:
        array.setflags(write=False)  # shared between tests
    return out


def _run_model(entry: dict, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    path = folder / entry["file"]
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
        assert e["sha256"] == hashlib.sha256((ARTIFACTS / e["file"]).read_bytes()).hexdigest()
        rows = e["training_rows"]
        assert rows["holdout_fraction"] == 0.3
        assert rows["stratified"] is (e["task"] == "classification")
        assert set(rows["holdouts"]) == HELD[e["dataset"]]


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_artifact_loads_and_scores_on_rows_it_never_saw(entry):
    pred, y = _predict(entry)
    assert pred.shape[0] == y.shape[0]
    _, held = _split(entry)
    pred, y = pred[held], y[held]
    if entry["task"] == "classification":
        acc = float((pred.astype(np.int64) == y).mean())
        assert acc > 0.95, f"{entry['file']}: held-out accuracy {acc:.4f}"
    else:
        from sklearn.metrics import r2_score

        r2 = r2_score(y, pred)
        assert r2 > 0.3, f"{entry['file']}: held-out R2 {r2:.4f}"


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


# ---------------------------------------------------------------- training rows, holdouts


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_manifest_split_is_a_seeded_partition_of_the_dataset(entry):
    rows = entry["training_rows"]
    train, held = _split(entry)
    n = len(_frame(rows["rows_of"])[1])
    assert rows["n_rows"] == n and rows["n_train"] == len(train) == n - len(held)
    assert rows["train_index_sha256"] == _digest(train)
    assert np.intersect1d(train, held).size == 0
    assert np.array_equal(np.union1d(train, held), np.arange(n))
    if rows["stratified"]:  # every class keeps its share in both parts (to within a row)
        y = _frame(rows["rows_of"])[1]
        share = np.bincount(y[held]) / np.bincount(y)
        assert np.all(np.abs(share - 0.3) < 0.05)


def test_models_were_fitted_on_the_training_rows_only():
    """Refitting the ridge on the recomputed training rows reproduces it; on all rows it does not."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    entry = next(e for e in MANIFEST if e["file"] == "diabetes_ridge.skops")
    x, y = _frame("diabetes")
    train, _ = _split(entry)
    got = _predict(entry)[0]
    on_train = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(x.iloc[train], y[train]).predict(x)
    on_all = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(x, y).predict(x)
    np.testing.assert_allclose(got, on_train, rtol=1e-9, atol=1e-9)
    assert np.abs(got - on_all).max() > 0.1


@pytest.fixture(scope="module")
def sample_ws(tmp_path_factory) -> Workspace:
    ws = Workspace.open(tmp_path_factory.mktemp("samples") / "ws")
    samples.ensure_registered(ws)
    return ws


def _registered(ws: Workspace, name: str) -> datasets.Dataset:
    table = datasets.list_registered(ws)
    (ds_id,) = table.loc[table["name"] == name, "id"]
    return datasets.load(ws, ds_id)


@pytest.mark.parametrize(("name", "rows_of"), [
    ("digits_holdout", "digits"), ("digits_images_holdout", "digits_images"), ("diabetes_holdout", "diabetes")])
def test_holdout_datasets_hold_exactly_the_rows_no_sample_saw(sample_ws, name, rows_of):
    entry = next(e for e in MANIFEST if name in e["training_rows"]["holdouts"])
    train, held = _split(entry)
    ds = _registered(sample_ws, name)
    assert ds.source != "upload" and ds.n_rows == len(held)
    y = _frame(rows_of)[1]
    if rows_of == "digits_images":
        from sklearn.datasets import load_digits

        assert ds.kind == "images" and ds.images.shape[1:] == (1, 8, 8)
        np.testing.assert_array_equal(ds.images[:, 0], load_digits().images[held])
        np.testing.assert_array_equal(ds.labels, y[held])
        return
    builtin = datasets.builtin(rows_of)
    assert list(ds.frame.columns) == list(builtin.frame.columns)
    assert ds.frame.dtypes.tolist() == builtin.frame.dtypes.tolist()
    # training rows + held-out rows, put back at their places, are the whole dataset
    union = pd.concat([builtin.frame.iloc[train], ds.frame.set_axis(held)]).sort_index()
    pd.testing.assert_frame_equal(union, builtin.frame)
    np.testing.assert_array_equal(ds.frame["target"].to_numpy(), y[held])


def test_a_split_that_does_not_match_the_manifest_is_refused():
    rows = samples.manifest()[0].training_rows
    y = _frame(rows.rows_of)[1]
    assert np.array_equal(rows.split(y)[0], _split(MANIFEST[0])[0])
    with pytest.raises(FrontierError, match="rebuild"):
        dataclasses.replace(rows, seed=rows.seed + 1).split(y)


def test_registered_samples_carry_their_training_rows(sample_ws):
    infos = {i.id: i for i in models.list_registered(sample_ws)}
    for e in MANIFEST:
        info = infos[ids.content_id((ARTIFACTS / e["file"]).read_bytes())]
        rows = e["training_rows"]
        assert info.lineage.startswith(f"bundled sample ({e['dataset']}")
        assert f"{rows['n_train']} of {rows['n_rows']} rows" in info.lineage
        assert f"split seed {rows['seed']}" in info.lineage
        assert f"{e['dataset']}_holdout" in info.lineage


# ------------------------------------------------------------------------------ rows_seen


def test_rows_seen_on_every_registered_dataset(sample_ws):
    table = datasets.list_registered(sample_ws)
    infos = models.list_registered(sample_ws)
    assert len(infos) == len(MANIFEST)
    for info in infos:
        entry = next(e for e in MANIFEST if e["sha256"].startswith(info.id))
        for name, source in zip(table["name"], table["source"], strict=True):
            expected = (True if name in FULL[entry["dataset"]] and source == "builtin"
                        else False if name in HELD[entry["dataset"]] else None)
            assert samples.rows_seen(info, name, source) is expected, (info.name, name, source)


def test_rows_seen_matches_samples_by_id_not_by_name():
    entry = next(e for e in MANIFEST if e["file"] == "digits_logreg.onnx")
    data = sample("digits_logreg.onnx").read_bytes()
    # the same file uploaded by path (lineage "uploaded", named after the file), then renamed
    uploaded = models.info_from_bytes(data, "digits_logreg.onnx")
    renamed = dataclasses.replace(uploaded, name="my model")
    for info in (uploaded, renamed):
        assert samples.rows_seen(info, "digits", "builtin") is True
        assert samples.rows_seen(info, "digits_images", "builtin") is True
        assert samples.rows_seen(info, "digits_holdout", samples.HOLDOUT_SOURCE) is False
    # an upload that borrows a sample's name and lineage is still unknown
    impostor = dataclasses.replace(uploaded, id=ids.content_id(b"another model"), name=entry["name"],
                                   lineage="bundled sample (digits)")
    assert samples.rows_seen(impostor, "digits", "builtin") is None
    assert samples.rows_seen(impostor, "digits_holdout", samples.HOLDOUT_SOURCE) is None


def test_rows_seen_is_unknown_for_uploaded_data_and_other_datasets():
    info = models.info_from_bytes(sample("digits_logreg.onnx").read_bytes(), "digits_logreg.onnx")
    buf = io.BytesIO()
    digits_df().to_csv(buf, index=False)
    # the digits rows uploaded as a CSV, under the built-in's very name
    upload = dataclasses.replace(datasets.read_bytes(buf.getvalue(), name="digits.csv"), name="digits")
    assert upload.source != "builtin"
    assert samples.rows_seen(info, upload.name, upload.source) is None
    assert samples.rows_seen(info, "digits_holdout", upload.source) is None
    assert samples.rows_seen(info, "iris", "builtin") is None
    assert samples.rows_seen(info, "diabetes_holdout", samples.HOLDOUT_SOURCE) is None


def test_samples_shipped_before_the_split_saw_their_holdouts_too():
    for old_id, file in samples.ALL_ROWS_IDS.items():
        entry = next(e for e in MANIFEST if e["file"] == file)
        assert not entry["sha256"].startswith(old_id)
        info = models.ArtifactInfo(id=old_id, name="renamed", format=entry["format"], file="m", size_bytes=1)
        for name in FULL[entry["dataset"]]:
            assert samples.rows_seen(info, name, "builtin") is True
        for name in HELD[entry["dataset"]]:
            assert samples.rows_seen(info, name, samples.HOLDOUT_SOURCE) is True


# ------------------------------------------------------------------------- through the CLI


def test_as_is_benchmark_on_the_holdout_matches_onnxruntime(sample_ws, tmp_path):
    """The ONNX logistic regression on digits_holdout: CLI accuracy == accuracy_score of ORT labels."""
    from sklearn.metrics import accuracy_score

    entry = next(e for e in MANIFEST if e["file"] == "digits_logreg.onnx")
    holdout = _registered(sample_ws, "digits_holdout")
    result = run_cli("benchmark", "--model", sample("digits_logreg.onnx"), "--data", holdout.id,
                     "--workspace", sample_ws.root, "--as-is", "--json", *FAST_BENCH)
    assert result.returncode == 0, str(result)
    (run,) = result.json["runs"]
    # the oracle: the rows recomputed from scikit-learn's digits, labels straight from onnxruntime
    _, held = _split(entry)
    x_all, y_all = _array("digits")
    labels_all = _ort(sample("digits_logreg.onnx")).run(["label"], {"input": x_all})[0]
    y, labels = y_all[held], labels_all[held]
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(np.zeros(len(y)), y)
    expected = np.mean([accuracy_score(y[test], labels[test]) for _, test in folds])
    assert (run["mode"], run["n_rows"], run["n_folds"]) == ("as-is", len(held), 5)
    assert run["accuracy_mean"] == pytest.approx(expected, abs=1e-12)
    # scored on every row, the rows it was trained on flatter it
    assert accuracy_score(y_all, labels_all) > accuracy_score(y, labels)


# ------------------------------------------------------------------------------ rebuilding


@pytest.mark.slow
def test_rebuild_gives_the_same_manifest_and_predictions(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sample_models.build", "--out", str(tmp_path)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rebuilt = json.loads((tmp_path / "manifest.json").read_text())
    strip = ("sha256",)
    assert [{k: v for k, v in e.items() if k not in strip} for e in rebuilt] == \
        [{k: v for k, v in e.items() if k not in strip} for e in MANIFEST]
    for entry in MANIFEST:
        np.testing.assert_array_equal(_predict(entry, tmp_path)[0], _predict(entry)[0], err_msg=entry["file"])
