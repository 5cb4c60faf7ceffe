"""Readers against pandas as the oracle: same tables, one type per column, clear refusals."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine import datasets
from engine.errors import FrontierError


def read_parquet(source, *, name):
    from engine.datasets.parquet_reader import read_parquet

    return read_parquet(source, name=name)


def read_csv(source, *, name):
    from engine.datasets.csv_reader import read_csv

    return read_csv(source, name=name)


def _blocks_of(monkeypatch, rows: int) -> None:
    from engine.datasets import csv_reader

    monkeypatch.setattr(csv_reader, "_rows_per_block", lambda head: rows)


def _mixed_frame(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "f": rng.normal(size=n),
        "f_nan": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "i": rng.integers(-5, 5, n),
        "b": rng.choice([True, False], n),
        "s": rng.choice(["oslo", "lima", None], n),
        "target": np.arange(n) % 3,
    })


# ------------------------------------------------------------------ Parquet
@pytest.mark.parametrize("variant", ["plain", "row-groups", "categorical", "index", "datetime", "bytes"])
def test_parquet_reader_gives_what_pandas_gives(tmp_path, variant):
    frame = _mixed_frame()
    kwargs = {"index": False}
    if variant == "row-groups":
        kwargs["row_group_size"] = 37
    elif variant == "categorical":
        frame["c"] = pd.Categorical(np.where(np.arange(len(frame)) % 2, "even", "odd"))
        frame["target"] = pd.Categorical(frame["target"].map({0: "a", 1: "b", 2: "c"}))
        kwargs["row_group_size"] = 50
    elif variant == "index":
        frame.index = [f"r{i}" for i in range(len(frame))]
        kwargs = {}
    elif variant == "datetime":
        frame["when"] = pd.date_range("2024-01-01", periods=len(frame), freq="h")
    else:
        frame["raw"] = [bytes([i % 256]) * 3 for i in range(len(frame))]
    path = tmp_path / "t.parquet"
    frame.to_parquet(path, **kwargs)
    got = read_parquet(path, name="t.parquet")
    pd.testing.assert_frame_equal(got, pd.read_parquet(path))
    pd.testing.assert_frame_equal(read_parquet(path.read_bytes(), name="t.parquet"), got)


def test_dictionary_encoded_columns_written_by_arrow_work(tmp_path):
    """A dictionary-encoded column (no pandas metadata) reads as a categorical and registers."""
    n = 60
    table = pa.table({
        "colour": pa.array(["red", "green", "blue"] * 20).dictionary_encode(),
        "x": pa.array(np.arange(n, dtype=np.float64)),
        "label": pa.array(["a", "b"] * 30).dictionary_encode(),
    })
    path = tmp_path / "dict.parquet"
    pq.write_table(table, path)
    ds = datasets.read_file(path)
    pd.testing.assert_frame_equal(ds.frame, pd.read_parquet(path))
    assert isinstance(ds.frame["colour"].dtype, pd.CategoricalDtype)
    prep = datasets.prepare(ds, target="label", numeric=False, n_splits=2)
    assert list(prep.classes) == ["a", "b"] and prep.feature_names == ["colour", "x"]
    np.testing.assert_array_equal(prep.classes[prep.y_encoded], np.array(["a", "b"] * 30, dtype=object))
    with pytest.raises(FrontierError, match=r"feature column\(s\) colour are not numeric"):
        datasets.prepare(ds, target="label", n_splits=2)


def test_pandas_categoricals_round_trip_through_the_workspace(tmp_path):
    from engine.workspace import Workspace

    frame = pd.DataFrame({"size": pd.Categorical(["s", "m", "l"] * 10, categories=["s", "m", "l"], ordered=True),
                          "w": np.arange(30.0), "kind": pd.Categorical(["cat", "dog"] * 15)})
    frame.to_parquet(tmp_path / "c.parquet", index=False)
    ds = datasets.read_file(tmp_path / "c.parquet")
    ws = Workspace.open(tmp_path / "ws")
    datasets.register(ws, ds)
    back = datasets.load(ws, ds.id)
    pd.testing.assert_frame_equal(back.frame, frame)
    prep = datasets.prepare(back, target="kind", numeric=False, n_splits=3)
    assert prep.task == "classification" and list(prep.classes) == ["cat", "dog"]


@pytest.mark.parametrize(("column", "kind"), [
    (pa.array([[1, 2], [3], [], [4]] * 5), "list"),
    (pa.array([{"a": 1, "b": "x"}] * 20), "struct"),
    (pa.array([[("k", 1)]] * 20, type=pa.map_(pa.string(), pa.int64())), "map"),
])
def test_nested_parquet_columns_are_named_and_refused(tmp_path, column, kind):
    table = pa.table({"x": pa.array(np.arange(20.0)), "nested": column, "other": column,
                      "target": pa.array([0, 1] * 10)})
    path = tmp_path / "n.parquet"
    pq.write_table(table, path)
    with pytest.raises(FrontierError) as err:
        datasets.read_file(path)
    msg = err.value.message
    assert f"nested ({kind})" in msg and f"other ({kind})" in msg and "flatten" in msg
    assert "\n" not in msg


def test_corrupt_parquet_is_one_line(tmp_path):
    frame = _mixed_frame()
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    data = bytearray(buf.getvalue())
    data[4:200] = b"\xff" * 196  # first page header destroyed, footer intact
    with pytest.raises(FrontierError, match="could not be read as Parquet"):
        datasets.read_bytes(bytes(data), name="broken.parquet")


# ---------------------------------------------------------------------- CSV
def test_csv_blocks_give_the_whole_file_types(tmp_path, monkeypatch):
    """Parsed in many blocks, the table equals pandas' one-piece parse (low_memory=False)."""
    _blocks_of(monkeypatch, 29)
    frame = _mixed_frame(500)
    data = frame.to_csv(index=False).encode()
    got = read_csv(data, name="m.csv")
    pd.testing.assert_frame_equal(got, pd.read_csv(io.BytesIO(data), low_memory=False))


@pytest.mark.parametrize("block_rows", [None, 100_000])
def test_csv_column_whose_type_changes_late_gets_one_type(tmp_path, monkeypatch, block_rows):
    """Integers for most rows, then words: one text column, never Python ints mixed with strings.

    Read in one block, or in blocks that disagree (then the whole file is parsed at once).
    """
    n = 300_000
    labels = [str(i % 3) for i in range(n - 1000)] + ["cat", "dog"] * 500
    path = tmp_path / "late.csv"
    pd.DataFrame({"a": np.arange(n, dtype=np.float64), "target": labels}).to_csv(path, index=False)
    with pytest.warns(pd.errors.DtypeWarning):
        chunked = pd.read_csv(path)  # what pandas does by default: types decided per chunk
    assert {type(v) for v in chunked["target"]} == {int, str}
    if block_rows:
        _blocks_of(monkeypatch, block_rows)
    ds = datasets.read_file(path)
    assert {type(v) for v in ds.frame["target"]} == {str}
    prep = datasets.prepare(ds, n_splits=5)
    assert prep.task == "classification"
    assert list(prep.classes) == sorted(set(labels))
    np.testing.assert_array_equal(prep.classes[prep.y_encoded], np.array(labels, dtype=object))


def test_csv_bool_column_with_gaps_matches_pandas(monkeypatch):
    _blocks_of(monkeypatch, 5)
    data = b"a,flag,t\n" + b"".join(
        f"{i},{'' if i == 17 else ['True', 'False'][i % 2]},{i % 2}\n".encode() for i in range(30))
    pd.testing.assert_frame_equal(read_csv(data, name="b.csv"), pd.read_csv(io.BytesIO(data), low_memory=False))


def test_csv_read_from_path_or_bytes_is_the_same_dataset(tmp_path):
    frame = _mixed_frame()
    path = tmp_path / "p.csv"
    frame.to_csv(path, index=False)
    a, b = datasets.read_file(path), datasets.read_bytes(path.read_bytes(), name="p.csv")
    assert a.id == b.id
    pd.testing.assert_frame_equal(a.frame, b.frame)


@pytest.mark.parametrize("data", [
    b"a,b\nx,1,2\ny,3,4\nz,5,6\n",                  # one field more than the header: pandas makes an index
    b",a,b\n0,1,2\n1,3,4\n2,5,6\n",                 # a saved index: 'Unnamed: 0'
    b"a,a,t\n1,2,0\n3,4,1\n5,6,0\n",                # duplicate names: a, a.1
    b"a,t\n1,x\n2,\n3,z\n",                          # text with a gap
])
def test_csv_quirks_match_pandas(monkeypatch, data):
    _blocks_of(monkeypatch, 2)
    pd.testing.assert_frame_equal(read_csv(data, name="q.csv"), pd.read_csv(io.BytesIO(data), low_memory=False))
