"""Built-in datasets, uploads, content-hash ids, task inference and validation."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets as skd

from engine import datasets
from engine.datasets import infer_task, prepare, read_bytes, read_file
from engine.datasets.hashing import frame_id
from engine.errors import FrontierError
from engine.workspace import Workspace


# ------------------------------------------------------------- built-ins
@pytest.mark.parametrize(("name", "loader", "n_rows", "n_features", "task"), [
    ("digits", skd.load_digits, 1797, 64, "classification"),
    ("breast_cancer", skd.load_breast_cancer, 569, 30, "classification"),
    ("wine", skd.load_wine, 178, 13, "classification"),
    ("iris", skd.load_iris, 150, 4, "classification"),
    ("diabetes", skd.load_diabetes, 442, 10, "regression"),
])
def test_tabular_builtins_are_scikit_learns_data(name, loader, n_rows, n_features, task):
    ds = datasets.builtin(name)
    ref = loader()
    assert ds.kind == "tabular" and ds.source == "builtin" and ds.name == name
    assert ds.frame.shape == (n_rows, n_features + 1)
    assert ds.default_target == "target" and ds.columns[-1] == "target"
    np.testing.assert_array_equal(ds.frame.drop(columns="target").to_numpy(), ref.data)
    np.testing.assert_array_equal(ds.frame["target"].to_numpy(), ref.target)
    if name == "digits":
        assert ds.columns[:-1] == [f"pixel_{i}" for i in range(64)]
    else:  # scikit-learn's names, spaces made CLI-friendly
        assert ds.columns[:-1] == [str(c).replace(" ", "_") for c in ref.feature_names]
    assert all(" " not in c for c in ds.columns)
    prep = prepare(ds)
    assert prep.task == task and prep.n_features == n_features and prep.n_rows == n_rows
    if task == "classification":
        np.testing.assert_array_equal(prep.classes, np.unique(ref.target))
        np.testing.assert_array_equal(prep.classes[prep.y_encoded], ref.target)
    else:
        assert prep.classes is None and prep.y.dtype == np.float64


def test_digits_images_builtin():
    ds = datasets.builtin("digits_images")
    ref = skd.load_digits()
    assert ds.kind == "images" and ds.images.shape == (1797, 1, 8, 8) and ds.images.dtype == np.float32
    np.testing.assert_array_equal(ds.images[:, 0], ref.images)
    np.testing.assert_array_equal(ds.labels, ref.target)
    prep = prepare(ds)
    assert prep.is_image and prep.input_shape == (1, 8, 8) and prep.task == "classification"
    assert prep.numeric_X().shape == (1797, 1, 8, 8)
    # the tabular and the image digits are the same pixels
    np.testing.assert_array_equal(prepare(datasets.builtin("digits")).numeric_X(), prep.numeric_X().reshape(1797, 64))
    with pytest.raises(FrontierError, match="image dataset"):
        prepare(ds, target="target")
    with pytest.raises(FrontierError, match="--drop applies to tabular"):
        prepare(ds, drop=["x"])


def test_unknown_builtin_lists_the_choices():
    with pytest.raises(FrontierError, match="digits, digits_images, breast_cancer, wine, iris, diabetes"):
        datasets.builtin("mnist")


# ------------------------------------------------------- content hashes
def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x1": rng.normal(size=30), "x2": rng.integers(0, 5, 30),
                         "city": rng.choice(["oslo", "lima", "pune"], 30), "label": np.arange(30) % 3})


def test_ids_are_stable_content_hashes():
    assert datasets.builtin("iris").id == datasets.builtin("iris").id
    assert datasets.builtin("digits_images").id == datasets.builtin("digits_images").id
    ids = {datasets.builtin(n).id for n in datasets.BUILTINS}
    assert len(ids) == len(datasets.BUILTINS)
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


def test_csv_and_parquet_of_the_same_content_share_an_id(tmp_path):
    frame = _frame()
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_parquet(tmp_path / "b.parquet", index=False)
    a, b = read_file(tmp_path / "a.csv"), read_file(tmp_path / "b.parquet")
    assert a.name == "a.csv" and b.name == "b.parquet"
    assert a.id == b.id
    pd.testing.assert_frame_equal(a.frame, b.frame)
    # the same bytes under another name are the same dataset too
    assert read_bytes((tmp_path / "a.csv").read_bytes(), name="other.csv").id == a.id


@pytest.mark.parametrize("change", ["value", "column-name", "column-order", "row-order"])
def test_different_content_gets_a_different_id(tmp_path, change):
    frame = _frame()
    other = frame.copy()
    if change == "value":
        other.loc[3, "x1"] += 1e-9
    elif change == "column-name":
        other = other.rename(columns={"x2": "x3"})
    elif change == "column-order":
        other = other[["x2", "x1", "city", "label"]]
    else:
        other = other.iloc[::-1].reset_index(drop=True)
    frame.to_parquet(tmp_path / "a.parquet", index=False)
    other.to_parquet(tmp_path / "b.parquet", index=False)
    assert read_file(tmp_path / "a.parquet").id != read_file(tmp_path / "b.parquet").id


def test_register_and_load_round_trip_keeps_the_id(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    for ds in (datasets.builtin("wine"), datasets.builtin("digits_images"), read_bytes(_frame().to_csv(index=False).encode(), name="u.csv")):
        datasets.register(ws, ds)
        datasets.register(ws, ds)  # idempotent
        back = datasets.load(ws, ds.id)
        assert (back.id, back.name, back.kind, back.source) == (ds.id, ds.name, ds.kind, ds.source)
        if ds.kind == "tabular":
            pd.testing.assert_frame_equal(back.frame, ds.frame)
            assert frame_id(back.frame) == ds.id  # the stored content still hashes to its id
        else:
            np.testing.assert_array_equal(back.images, ds.images)
            np.testing.assert_array_equal(back.labels, ds.labels)
    listed = datasets.list_registered(ws)
    assert sorted(listed["name"]) == ["digits_images", "u.csv", "wine"]
    assert dict(zip(listed["name"], listed["n_rows"], strict=True)) == {"digits_images": 1797, "u.csv": 30, "wine": 178}
    assert not list(ws.datasets.glob(".stage-*"))
    assert datasets.resolve(ws, datasets.builtin("wine").id).name == "wine"
    datasets.delete(ws, datasets.builtin("wine").id)
    assert sorted(datasets.list_registered(ws)["name"]) == ["digits_images", "u.csv"]
    with pytest.raises(FrontierError, match="no dataset"):
        datasets.load(ws, "../../etc/passwd")


# ------------------------------------------------------- task inference
@pytest.mark.parametrize(("y", "task"), [
    (np.array([0, 1, 2, 1, 0]), "classification"),
    (np.array([0.0, 1.0, 1.0, 0.0]), "classification"),       # whole floats, few values
    (np.array(["a", "b", "a"], dtype=object), "classification"),
    (np.array([True, False, True]), "classification"),
    (np.array([0.5, 1.25, 3.0]), "regression"),
    (np.arange(51), "regression"),                              # too many distinct integers
    (np.arange(50), "classification"),
])
def test_infer_task(y, task):
    assert infer_task(y) == task


def test_string_labels_are_sorted_classes(tmp_path):
    frame = pd.DataFrame({"f": np.arange(12.0), "kind": ["pear", "apple", "fig"] * 4})
    prep = prepare(read_bytes(frame.to_csv(index=False).encode(), name="fruit.csv"), target="kind", n_splits=2)
    assert prep.task == "classification"
    assert list(prep.classes) == ["apple", "fig", "pear"]
    np.testing.assert_array_equal(prep.classes[prep.y_encoded], frame["kind"].to_numpy())


def test_features_are_every_column_but_target_and_drops_in_file_order():
    frame = pd.DataFrame({"c": [1.0] * 10, "target": [0, 1] * 5, "a": [2.0] * 10, "b": [3.0] * 10})
    ds = datasets.Dataset("f" * 16, "t", "tabular", frame=frame)
    assert prepare(ds, n_splits=2).feature_names == ["c", "a", "b"]
    prep = prepare(ds, drop=("a",), n_splits=2)
    assert prep.feature_names == ["c", "b"]
    assert list(prep.X.columns) == ["c", "b"]
    with pytest.raises(FrontierError, match="cannot also be dropped"):
        prepare(ds, drop=("target",), n_splits=2)
    with pytest.raises(FrontierError, match="no feature columns left"):
        prepare(ds, drop=("a", "b", "c"), n_splits=2)


def test_default_target_names():
    def ds(cols):
        return datasets.Dataset("0" * 16, "t", "tabular", frame=pd.DataFrame({c: [0] for c in cols}))
    assert ds(["a", "label", "b"]).default_target == "label"
    assert ds(["y", "a"]).default_target == "y"
    assert ds(["a", "b", "z"]).default_target == "z"


def test_non_numeric_features_allowed_for_models_that_encode_them():
    frame = _frame()
    ds = datasets.Dataset("0" * 16, "t", "tabular", frame=frame)
    with pytest.raises(FrontierError, match="city"):
        prepare(ds)
    prep = prepare(ds, numeric=False)
    assert prep.feature_names == ["x1", "x2", "city"]


@pytest.mark.parametrize(("frame", "message"), [
    (pd.DataFrame({"a": [1.0, np.inf] * 10, "target": [0, 1] * 10}), "infinite"),
    (pd.DataFrame({"a": [1.0] * 20, "target": [0, 1] * 9 + [None, 1]}), "missing value"),
    (pd.DataFrame({"a": [1.0] * 6, "target": [0, 1] * 3}), "too few for 5 folds"),
    (pd.DataFrame({"a": np.arange(20.0), "target": np.linspace(0, 1, 20)}), None),  # regression: fine
])
def test_prepare_validation(frame, message):
    ds = datasets.Dataset("0" * 16, "t", "tabular", frame=frame)
    if message is None:
        assert prepare(ds).task == "regression"
    else:
        with pytest.raises(FrontierError, match=message):
            prepare(ds)


def test_forced_classification_of_a_continuous_target_is_refused():
    ds = datasets.builtin("diabetes")
    with pytest.raises(FrontierError, match="continuous"):
        prepare(ds, task="classification")
    # whole-number float classes are still fine
    frame = pd.DataFrame({"a": np.arange(20.0), "target": [0.0, 1.0] * 10})
    assert prepare(datasets.Dataset("0" * 16, "t", "tabular", frame=frame), task="classification").task == "classification"


# ------------------------------------------------------------------- NPZ
def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_npz_images():
    X = np.random.default_rng(0).normal(size=(20, 3, 4, 5)).astype(np.float64)
    y = np.arange(20) % 2
    ds = read_bytes(_npz(X=X, y=y), name="imgs.npz")
    assert ds.kind == "images" and ds.images.dtype == np.float32 and ds.images.shape == (20, 3, 4, 5)
    np.testing.assert_allclose(ds.images, X.astype(np.float32))
    prep = prepare(ds, n_splits=2)
    assert prep.input_shape == (3, 4, 5) and prep.task == "classification"
    assert read_bytes(_npz(X=X, y=y), name="again.npz").id == ds.id


def test_npz_tabular():
    X = np.arange(30.0).reshape(10, 3)
    ds = read_bytes(_npz(X=X, y=np.arange(10) % 2), name="tab.npz")
    assert ds.kind == "tabular" and ds.columns == ["x0", "x1", "x2", "y"]
    assert ds.default_target == "y"
    np.testing.assert_array_equal(ds.frame[["x0", "x1", "x2"]].to_numpy(), X)


@pytest.mark.parametrize(("arrays", "message"), [
    ({"X": np.zeros((4, 2, 2))}, "arrays named X"),
    ({"X": np.zeros((4, 2, 2)), "y": np.zeros(4)}, r"X has shape \(4, 2, 2\)"),
    ({"X": np.zeros((4, 1, 2, 2)), "y": np.zeros(3)}, r"y has shape \(3,\)"),
    ({"X": np.array([["a", "b"]] * 4), "y": np.zeros(4)}, "expected numbers"),
])
def test_npz_validation(arrays, message):
    with pytest.raises(FrontierError, match=message):
        read_bytes(_npz(**arrays), name="bad.npz")


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"a,b\n1,2\n", "data.xlsx", "not a dataset format"),
    (b"", "e.csv", "is empty"),
    (b"a\n1\n2\n", "one.csv", "1 column"),
    (b"a,a,t\n1,2,0\n", "dup.csv", None),  # pandas renames duplicates: a, a.1
    (b"not parquet", "p.parquet", "could not be read as Parquet"),
    (b"PK\x03\x04junk", "z.npz", "could not be read as NPZ"),
])
def test_upload_validation(data, name, message):
    if message is None:
        assert read_bytes(data, name=name).columns == ["a", "a.1", "t"]
        return
    with pytest.raises(FrontierError, match=message):
        read_bytes(data, name=name)


def test_missing_dataset_file(tmp_path):
    with pytest.raises(FrontierError, match="not found"):
        read_file(tmp_path / "nope.csv")
    with pytest.raises(FrontierError, match="not found"):
        datasets.resolve(Workspace(tmp_path / "ws"), str(tmp_path / "nope.csv"))
