"""prepare(): every bad request refused up front in one line, in the words of the place it was made."""

from __future__ import annotations

import hashlib
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from engine import datasets
from engine.datasets import Dataset, prepare
from engine.errors import FrontierError


def _ds(frame: pd.DataFrame, name: str = "t.csv") -> Dataset:
    return Dataset("0" * 16, name, "tabular", frame=frame)


@pytest.mark.parametrize(("target", "task", "message"), [
    ([0.5, 1.5, np.inf, 2.5] * 10, None, r"target column 'y' has 10 infinite value\(s\)"),
    ([0.5, 1.5, -np.inf, 2.5] * 10, "regression", r"has 10 infinite value\(s\)"),
    ([0.0, 1.0, np.inf, 1.0] * 10, "classification", r"has 10 infinite value\(s\)"),
    ([0.5, np.nan, 1.5, 2.5] * 10, "regression", r"has 10 missing value\(s\)"),
])
def test_non_finite_targets_are_refused_up_front(target, task, message):
    frame = pd.DataFrame({"a": np.arange(40.0), "y": target})
    with pytest.raises(FrontierError, match=message):
        prepare(_ds(frame), task=task)


def test_all_non_numeric_features_are_listed_with_the_model_that_needs_numbers():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"ok": np.arange(40.0), "city": rng.choice(["a", "b"], 40), "day": ["mon"] * 40,
                          "code": ["x1"] * 40, "target": np.arange(40) % 2})
    with pytest.raises(FrontierError) as err:
        prepare(_ds(frame), needed_by="'mlp.onnx'")
    e = err.value
    assert e.message == ("feature column(s) city, day, code are not numeric, but 'mlp.onnx' needs numeric input; "
                         "encode them as numbers or leave them out with --drop city --drop day --drop code")
    assert "'Drop columns': city" in e.ui_message and "--drop" not in e.ui_message
    prep = prepare(_ds(frame), drop=["city", "day", "code"])
    assert prep.feature_names == ["ok"]


def test_many_non_numeric_features_are_summarised():
    frame = pd.DataFrame({f"s{i}": ["v"] * 20 for i in range(8)} | {"target": np.arange(20) % 2})
    with pytest.raises(FrontierError, match=r"s0, s1, s2, s3, s4 \.\.\. and 3 more are not numeric"):
        prepare(_ds(frame), n_splits=2)


def test_missing_and_infinite_feature_messages_name_every_column():
    frame = pd.DataFrame({"a": [np.nan, 1.0] * 10, "b": [1.0] * 19 + [np.nan], "target": np.arange(20) % 2})
    with pytest.raises(FrontierError, match=r"11 missing value\(s\) in column\(s\) 'a', 'b'.*--drop a --drop b"):
        prepare(_ds(frame), n_splits=2)
    frame = pd.DataFrame({"a": [np.inf, 1.0] * 10, "b": np.arange(20.0), "target": np.arange(20) % 2})
    with pytest.raises(FrontierError, match=r"'a' hold infinite values"):
        prepare(_ds(frame), n_splits=2)


def test_options_render_as_flags_for_the_cli_and_labels_for_the_dashboard():
    frame = pd.DataFrame({"a": np.arange(20.0), "target": [0] * 17 + [1] * 3})
    with pytest.raises(FrontierError) as err:
        prepare(_ds(frame), n_splits=5)
    assert err.value.message.endswith("use --cv 3 or add rows")
    assert err.value.ui_message.endswith("use 'Folds': 3 or add rows")
    with pytest.raises(FrontierError) as err:
        prepare(datasets.builtin("iris"), drop=["nope"])
    assert err.value.message.startswith("--drop names") and err.value.ui_message.startswith("'Drop columns' names")


def test_a_target_mixing_python_types_is_one_clear_line():
    """What pandas' chunked CSV reading produced: ints for some rows, strings for others."""
    y = np.array([0, 1, 2] * 30 + ["cat", "dog"] * 5, dtype=object)
    frame = pd.DataFrame({"a": np.arange(100.0), "target": y})
    with pytest.raises(FrontierError, match=r"target column 'target' mixes int and str values; make it one type"):
        prepare(_ds(frame))


def test_a_numeric_target_with_stray_words_says_where_they_are():
    values = [str(v) for v in np.round(np.linspace(0, 100, 300), 3)]
    values[123] = "n/a?"
    frame = pd.DataFrame({"a": np.arange(300.0), "price": values})
    with pytest.raises(FrontierError, match=r"holds numbers, but 1 value\(s\) are text \(e\.g\. 'n/a\?' in data row 124\)"):
        prepare(_ds(frame), target="price")
    with pytest.raises(FrontierError, match=r"not numeric, so it cannot be regressed; 1 value\(s\) are text"):
        prepare(_ds(frame), target="price", task="regression")


def test_text_labels_with_few_classes_are_classified():
    labels = ["0", "1", "2", "cat"] * 25
    prep = prepare(_ds(pd.DataFrame({"a": np.arange(100.0), "target": labels})))
    assert prep.task == "classification" and list(prep.classes) == ["0", "1", "2", "cat"]


# ------------------------------------------------------------- numeric_X
def test_numeric_x_is_float32_without_a_float64_copy():
    rng = np.random.default_rng(0)
    n, f = 100_000, 50
    frame = pd.DataFrame(rng.normal(size=(n, f)), columns=[f"c{i}" for i in range(f)])
    frame["target"] = np.arange(n) % 2
    prep = prepare(_ds(frame))
    expected = frame.drop(columns="target").to_numpy(dtype=np.float32)
    tracemalloc.start()
    X = prep.numeric_X()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(X, expected)
    assert X.dtype == np.float32 and X.flags.c_contiguous
    assert peak < 1.5 * X.nbytes, f"peak {peak / 2**20:.1f} MB for a {X.nbytes / 2**20:.1f} MB result"
    assert prep.numeric_X() is X  # built once


def test_numeric_x_of_images_is_the_images():
    prep = prepare(datasets.builtin("digits_images"))
    assert prep.numeric_X() is prep.X


# ------------------------------------------------------------------ ids
def _whole_frame_id(frame: pd.DataFrame) -> str:
    """The id formula applied to the whole table at once (the ids registered workspaces already hold)."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def test_ids_hashed_a_slice_at_a_time_equal_whole_table_ids():
    from engine.datasets.hashing import ROWS_PER_SLICE, frame_id

    rng = np.random.default_rng(2)
    n = 2 * ROWS_PER_SLICE + 17
    frame = pd.DataFrame({"f": rng.normal(size=n), "s": rng.choice(["x", "y", None], n),
                          "c": pd.Categorical(rng.choice(["p", "q"], n)), "i": rng.integers(0, 5, n)})
    assert frame_id(frame) == _whole_frame_id(frame)
    for name in ("iris", "digits", "diabetes"):
        ds = datasets.builtin(name)
        assert ds.id == _whole_frame_id(ds.frame)
