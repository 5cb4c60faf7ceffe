"""The registry: owners, hostile metadata, the source index and stored descriptions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from frontier_support import snapshot

from engine import datasets
from engine.errors import FrontierError
from engine.owners import Actor
from engine.workspace import Workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


def _table(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.integers(0, 9, n), "target": np.arange(n) % 2})


def _csv(tmp_path: Path, name: str = "t.csv", frame: pd.DataFrame | None = None) -> Path:
    path = tmp_path / name
    (_table() if frame is None else frame).to_csv(path, index=False)
    return path


# ------------------------------------------------------------------ owners
def test_register_records_the_owner_and_the_first_owner_stays(ws, tmp_path):
    ds = datasets.read_file(_csv(tmp_path))
    assert datasets.register(ws, ds, owner="ana").owner == "ana"
    assert datasets.register(ws, ds, owner="bob").owner == "ana"  # same content: already registered by ana
    assert json.loads((ws.datasets / ds.id / "meta.json").read_text())["owner"] == "ana"
    assert datasets.load(ws, ds.id).owner == "ana"
    datasets.register(ws, datasets.builtin("iris"))
    listed = datasets.list_registered(ws).set_index("id")
    assert listed.loc[ds.id, "owner"] == "ana"
    assert pd.isna(listed.loc[datasets.builtin("iris").id, "owner"])


@pytest.mark.parametrize(("owner", "actor", "allowed"), [
    ("ana", Actor("ana"), True),
    ("ana", Actor("bob"), False),
    ("ana", Actor("root", admin=True), True),
    (None, Actor("bob"), False),        # a dataset without an owner: admins only
    (None, Actor("root", admin=True), True),
    ("ana", None, True),                # no actor: the caller already decided (CLI, samples)
])
def test_delete_checks_the_actor(ws, tmp_path, owner, actor, allowed):
    ds = datasets.register(ws, datasets.read_file(_csv(tmp_path)), owner=owner)
    if allowed:
        datasets.delete(ws, ds.id, actor=actor)
        assert not (ws.datasets / ds.id).exists()
    else:
        before = snapshot(ws.root)
        with pytest.raises(FrontierError, match="only its owner or an admin"):
            datasets.delete(ws, ds.id, actor=actor)
        assert snapshot(ws.root) == before


def test_old_metadata_without_owner_reads_as_unowned(ws, tmp_path):
    ds = datasets.register(ws, datasets.read_file(_csv(tmp_path)), owner="ana")
    meta_path = ws.datasets / ds.id / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["owner"]
    meta_path.write_text(json.dumps(meta))
    assert datasets.load(ws, ds.id).owner is None
    with pytest.raises(FrontierError):
        datasets.delete(ws, ds.id, actor=Actor("ana"))


# --------------------------------------------------------- hostile metadata
def _registered(ws: Workspace, tmp_path: Path) -> tuple[datasets.Dataset, Path]:
    ds = datasets.register(ws, datasets.read_file(_csv(tmp_path)))
    return ds, ws.datasets / ds.id


def _edit_meta(folder: Path, **changes) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    meta.update(changes)
    (folder / "meta.json").write_text(json.dumps(meta))


def _secret(tmp_path: Path) -> Path:
    """A file outside the workspace that a hostile edit tries to make the server read."""
    path = tmp_path / "secret.parquet"
    pd.DataFrame({"password": ["hunter2"] * 40, "target": [0, 1] * 20}).to_parquet(path)
    return path


@pytest.mark.parametrize("attack", [
    "kind-as-path", "file-key-outside", "data-symlink-outside", "meta-symlink-outside", "folder-symlink",
    "row-count-lie", "column-lie", "other-id", "meta-not-json", "kind-images-on-table",
])
def test_hostile_meta_never_reads_outside_the_folder(ws, tmp_path, attack):
    ds, folder = _registered(ws, tmp_path)
    secret = _secret(tmp_path)
    dataset_id = ds.id
    if attack == "kind-as-path":
        _edit_meta(folder, kind="../../../secret")
    elif attack == "file-key-outside":  # paths in meta are never used: the data file name is fixed
        _edit_meta(folder, file=str(secret), data=str(secret), path=str(secret))
        (folder / "data.parquet").unlink()
    elif attack == "data-symlink-outside":
        (folder / "data.parquet").unlink()
        (folder / "data.parquet").symlink_to(secret)
    elif attack == "meta-symlink-outside":
        outside = tmp_path / "outside_meta.json"
        outside.write_text((folder / "meta.json").read_text())
        (folder / "meta.json").unlink()
        (folder / "meta.json").symlink_to(outside)
    elif attack == "folder-symlink":
        real = tmp_path / "elsewhere"
        real.mkdir()
        (real / "data.parquet").write_bytes(secret.read_bytes())
        (real / "meta.json").write_text((folder / "meta.json").read_text())
        dataset_id = "0123456789abcdef"
        (ws.datasets / dataset_id).symlink_to(real)
        _edit_meta(real, id=dataset_id)
    elif attack == "row-count-lie":
        _edit_meta(folder, n_rows=3)
    elif attack == "column-lie":
        _edit_meta(folder, columns=["password", "target"])
    elif attack == "other-id":
        _edit_meta(folder, id="f" * 16)
    elif attack == "meta-not-json":
        (folder / "meta.json").write_text("{not json")
    else:
        _edit_meta(folder, kind="images")
    with pytest.raises(FrontierError) as err:
        datasets.load(ws, dataset_id)
    assert "hunter2" not in err.value.message and "\n" not in err.value.message


def test_hostile_ids_are_refused_before_any_path_is_built(ws):
    for bad in ("../../etc/passwd", "0123456789ABCDEF", "0123456789abcde", "/abs", "sources"):
        with pytest.raises(FrontierError, match="no dataset"):
            datasets.load(ws, bad)
        with pytest.raises(FrontierError, match="no dataset"):
            datasets.delete(ws, bad)


def test_images_whose_shape_disagrees_with_meta_are_refused(ws):
    ds = datasets.register(ws, datasets.builtin("digits_images"))
    _edit_meta(ws.datasets / ds.id, shape=[1797, 1, 4, 16])
    with pytest.raises(FrontierError, match="shape"):
        datasets.load(ws, ds.id)


def test_listing_skips_damaged_entries(ws, tmp_path):
    _, folder = _registered(ws, tmp_path)
    datasets.register(ws, datasets.builtin("iris"))
    (folder / "meta.json").write_text("[]")
    assert list(datasets.list_registered(ws)["name"]) == ["iris"]


# -------------------------------------------------------------- source index
def test_registered_file_is_found_without_reading_it(ws, tmp_path, monkeypatch):
    path = _csv(tmp_path)
    assert datasets.registered_id_for(ws, path) is None
    ds = datasets.register(ws, datasets.read_file(path))
    assert datasets.registered_id_for(ws, path) == ds.id
    assert datasets.registered_id_for(ws, str(tmp_path / "." / "t.csv")) == ds.id  # same file, other spelling

    from engine.datasets import csv_reader

    def no_parsing(*args, **kwargs):
        raise AssertionError("the file was parsed again")

    monkeypatch.setattr(csv_reader.pd, "read_csv", no_parsing)
    again = datasets.resolve(ws, str(path))
    assert again.id == ds.id
    pd.testing.assert_frame_equal(again.frame, ds.frame)


def _index_entry(ws: Workspace) -> Path:
    (entry,) = (ws.datasets / "sources").glob("*.json")
    return entry


@pytest.mark.parametrize("change", ["head-byte", "tail-byte", "appended", "touched", "replaced-same-size"])
def test_a_changed_file_is_not_taken_for_the_registered_one(ws, tmp_path, change):
    path = _csv(tmp_path, frame=_table(20_000))
    datasets.register(ws, datasets.read_file(path))
    st = path.stat()
    data = bytearray(path.read_bytes())
    if change == "head-byte":
        data[20] = ord("9") if data[20] != ord("9") else ord("8")
    elif change == "tail-byte":
        data[-3] = ord("9") if data[-3] != ord("9") else ord("8")
    elif change == "appended":
        data += b"1.0,2,0\n"
    elif change == "replaced-same-size":
        other = _table(20_000, seed=1).to_csv(index=False).encode()
        data = bytearray(other[:len(data)].ljust(len(data), b"0"))
    if change != "touched":
        path.write_bytes(bytes(data))
    keep_mtime = change in ("head-byte", "tail-byte", "replaced-same-size")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns if keep_mtime else st.st_mtime_ns + 10**9))
    assert datasets.registered_id_for(ws, path) is None


@pytest.mark.parametrize("forgery", ["other-dataset-missing", "bad-id", "garbage", "path-of-another-file",
                                     "stamp-of-another-file"])
def test_a_forged_index_entry_does_not_make_a_file_registered(ws, tmp_path, forgery):
    registered = _csv(tmp_path, "a.csv")
    ds = datasets.register(ws, datasets.read_file(registered))
    entry = _index_entry(ws)
    record = json.loads(entry.read_text())
    other = _csv(tmp_path, "b.csv", _table(40, seed=3))
    target = registered
    if forgery == "other-dataset-missing":
        record["dataset_id"] = "0" * 16
    elif forgery == "bad-id":
        record["dataset_id"] = "../" + ds.id
    elif forgery == "garbage":
        entry.write_text("\x00not json")
        record = None
    else:
        # b.csv's own entry, pointing at a.csv's dataset
        from engine.datasets import sources

        stamp_b = sources.stamp(other)
        forged = dict(record)
        if forgery == "path-of-another-file":
            forged["path"] = str(registered.resolve())  # a's stamp filed under b's path
        else:
            forged.update(size=stamp_b.size, mtime_ns=stamp_b.mtime_ns, check=record["check"], path=stamp_b.path)
        sources.entry_path(ws, stamp_b.path).write_text(json.dumps(forged))
        target = other
    if record is not None and forgery in ("other-dataset-missing", "bad-id"):
        entry.write_text(json.dumps(record))
    assert datasets.registered_id_for(ws, target) is None


def test_deleting_a_dataset_unregisters_its_file(ws, tmp_path):
    path = _csv(tmp_path)
    ds = datasets.register(ws, datasets.read_file(path))
    datasets.delete(ws, ds.id)
    assert datasets.registered_id_for(ws, path) is None


def test_uploaded_bytes_are_not_indexed(ws, tmp_path):
    path = _csv(tmp_path)
    datasets.register(ws, datasets.read_bytes(path.read_bytes(), name="t.csv"))
    assert not (ws.datasets / "sources").exists()
    assert datasets.registered_id_for(ws, path) is None


# ------------------------------------------------------- stored descriptions
def test_info_describes_columns_as_pandas_sees_them(ws, tmp_path):
    rng = np.random.default_rng(5)
    n = 120
    frame = pd.DataFrame({
        "f": rng.normal(size=n), "gaps": np.where(np.arange(n) % 10 == 0, np.nan, 1.0),
        "inf": np.where(np.arange(n) == 3, np.inf, 0.5), "whole": rng.integers(0, 4, n).astype(float),
        "many": np.arange(n), "city": rng.choice(["oslo", "lima", "pune"], n), "flag": rng.choice([True, False], n),
        "target": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
    })
    ds = datasets.register(ws, datasets.read_file(_csv(tmp_path, frame=frame)), owner="ana")
    got = datasets.info(ws, ds.id)
    back = datasets.load(ws, ds.id).frame
    assert (got.id, got.kind, got.n_rows, got.columns, got.owner) == (ds.id, "tabular", n, list(frame.columns), "ana")
    assert got.dtypes == {c: str(t) for c, t in back.dtypes.items()}
    for c in frame.columns:
        col = got.column_info[c]
        assert col.numeric == (pd.api.types.is_numeric_dtype(back[c]))
        assert col.n_missing == int(back[c].isna().sum())
        if col.numeric:
            assert col.n_infinite == int(np.isinf(back[c].to_numpy(dtype=float)).sum())
    for c in ("whole", "city", "flag", "target", "many"):
        labels, counts = np.unique(back[c].dropna().to_numpy(), return_counts=True)
        col = got.column_info[c]
        assert col.n_distinct == len(labels)
        assert col.min_count == counts.min() and col.rarest == labels[counts.argmin()]
        if len(labels) <= datasets.MAX_CLASSES:
            assert col.classes == list(labels) and col.counts == list(counts)
        else:
            assert col.classes is None
    assert not got.column_info["f"].has_class_stats  # fractions: only a regression target


REQUESTS = [
    {}, {"target": "city"}, {"target": "f"}, {"target": "f", "task": "classification"}, {"target": "whole"},
    {"target": "many"}, {"target": "many", "task": "classification", "n_splits": 2}, {"target": "gaps"},
    {"target": "inf"}, {"drop": ["city"]}, {"drop": ["city", "gaps", "inf"]}, {"drop": ["city", "gaps", "inf"], "n_splits": 3},
    {"drop": ["nope"]}, {"target": "nope"}, {"target": "target", "drop": ["target"]}, {"numeric": False},
    {"numeric": False, "n_splits": 20}, {"target": "flag", "numeric": False}, {"target": "flag", "task": "regression"},
    {"target": "city", "task": "regression", "numeric": False}, {"n_splits": 1}, {"n_splits": 70, "numeric": False},
    {"needed_by": "m.onnx"},
]


@pytest.mark.parametrize("request_", REQUESTS, ids=[json.dumps(r, sort_keys=True) for r in REQUESTS])
def test_checking_the_stored_description_agrees_with_preparing_the_data(ws, tmp_path, request_):
    """A planner can validate a request from meta.json alone: same verdict, same message as prepare()."""
    rng = np.random.default_rng(6)
    n = 120
    frame = pd.DataFrame({
        "f": rng.normal(size=n), "gaps": np.where(np.arange(n) % 10 == 0, np.nan, 1.0),
        "inf": np.where(np.arange(n) == 3, np.inf, 0.5), "whole": rng.integers(0, 4, n).astype(float),
        "many": np.arange(n) % 60, "city": rng.choice(["oslo", "lima", "pune"], n),
        "flag": rng.choice([True, False], n), "target": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
    })
    ds = datasets.register(ws, datasets.read_file(_csv(tmp_path, frame=frame)))
    stored = datasets.info(ws, ds.id)
    try:
        prep = datasets.prepare(datasets.load(ws, ds.id), **request_)
    except FrontierError as exc:
        with pytest.raises(FrontierError) as err:
            datasets.check(stored, **request_)
        assert err.value.message == exc.message
        return
    ok = datasets.check(stored, **request_)
    assert (ok.task, ok.features) == (prep.task, prep.feature_names)
    if prep.task == "classification" and ok.classes is not None:
        assert ok.classes == list(prep.classes)


def test_info_for_images_and_builtins(ws):
    ds = datasets.register(ws, datasets.builtin("digits_images"))
    got = datasets.info(ws, ds.id)
    assert got.kind == "images" and got.shape == [1797, 1, 8, 8] and got.images_finite is True
    assert got.column_info["y"].classes == list(range(10))
    ok = datasets.check(got, n_splits=5)
    assert ok.task == "classification" and ok.input_shape == (1, 8, 8)


def test_info_of_a_dataset_registered_before_descriptions_were_stored(ws):
    ds = datasets.register(ws, datasets.builtin("wine"))
    meta_path = ws.datasets / ds.id / "meta.json"
    meta = json.loads(meta_path.read_text())
    old = {k: meta[k] for k in ("id", "name", "kind", "source", "n_rows", "columns")}
    meta_path.write_text(json.dumps(old))
    before = snapshot(ws.root)
    got = datasets.info(ws, ds.id)
    assert got.column_info["target"].classes == [0, 1, 2] and got.owner is None
    assert snapshot(ws.root) == before  # computed, not written back


def test_a_symlinked_index_folder_is_neither_written_nor_believed(ws, tmp_path):
    """The index folder pointed out of the workspace: registering writes nothing there."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws.datasets / "sources").symlink_to(outside)
    path = _csv(tmp_path)
    ds = datasets.register(ws, datasets.read_file(path))
    assert list(outside.iterdir()) == []
    from engine.datasets import sources

    # even a correct entry planted there is not believed
    stamp = sources.stamp(path)
    (outside / sources.entry_path(ws, stamp.path).name).write_text(json.dumps(
        {"version": sources.INDEX_VERSION, "dataset_id": ds.id, "path": stamp.path, "size": stamp.size,
         "mtime_ns": stamp.mtime_ns, "check": stamp.check}))
    assert datasets.registered_id_for(ws, path) is None


def test_index_lookup_of_a_fifo_does_not_block(ws, tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert datasets.registered_id_for(ws, fifo) is None
    with pytest.raises(FrontierError, match="not found"):
        datasets.read_file(fifo)
