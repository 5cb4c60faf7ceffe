"""The table of bundled dataset ids matches the data, and a bundled name only ever means its id."""

from __future__ import annotations

import pandas as pd
import pytest

from engine import datasets, samples
from engine.datasets.registry import describe
from engine.errors import FrontierError
from engine.workspace import Workspace


def test_bundled_ids_are_the_content_ids_of_the_data():
    computed = {name: datasets.builtin(name).id for name in datasets.BUILTINS}
    computed |= {d.name: d.id for d in samples.holdout_datasets()}
    assert computed == datasets.BUNDLED_IDS


def test_describe_answers_a_registered_bundled_name_from_its_stored_info(tmp_path, monkeypatch):
    ws = Workspace.open(tmp_path / "ws")
    datasets.register(ws, datasets.builtin("iris"))

    def no_loading(*args, **kwargs):
        raise AssertionError("the data was loaded")

    monkeypatch.setattr("engine.datasets.registry.builtin", no_loading)
    described = describe(ws, "iris")
    assert isinstance(described, datasets.DatasetInfo) and described.id == datasets.BUNDLED_IDS["iris"]


def test_a_planted_dataset_named_like_a_builtin_is_not_the_builtin(tmp_path):
    """A teammate registers an upload called 'iris': asking for the built-in iris never gets it."""
    ws = Workspace.open(tmp_path / "ws")
    fake = pd.DataFrame({"a": [1.0, 2.0] * 20, "target": [0, 1] * 20})
    planted = datasets.register(ws, datasets.read_bytes(fake.to_csv(index=False).encode(), name="iris.csv"))
    assert planted.name == "iris" or planted.name == "iris.csv"
    got = describe(ws, "iris")
    assert got.id == datasets.BUNDLED_IDS["iris"] != planted.id


def test_an_unregistered_file_is_read(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": [1.0, 2.0] * 20, "target": [0, 1] * 20}).to_csv(path, index=False)
    got = describe(ws, str(path))
    assert isinstance(got, datasets.Dataset)
    datasets.register(ws, got)
    again = describe(ws, str(path))  # now registered and unchanged: its stored description
    assert isinstance(again, datasets.DatasetInfo) and again.id == got.id


@pytest.mark.parametrize("spec", ["nope", "../../etc/passwd-not-there", "0123456789abcdef"])
def test_unknown_specs_are_one_line_errors(tmp_path, spec):
    with pytest.raises(FrontierError) as err:
        describe(Workspace.open(tmp_path / "ws"), spec)
    assert "\n" not in str(err.value)
