"""The worker holds one copy of the features: ONNX and torch models share a float32 matrix, the
table is let go before any model loads, and a model that writes into its input cannot change
what the next model sees."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from jobs_support import iris_models, plan

from engine import datasets
from engine.benchmark import execute as execute_module
from engine.datasets import prepare
from engine.results import ResultStore
from engine.workspace import Workspace


def _torch_models(folder: Path) -> dict[str, Path]:
    """``zeroes``: overwrites its input with zeros, then scores it; ``linear``: a fixed linear layer."""
    import torch

    class Zeroes(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x.zero_()  # in place, into the batch it was given
            return x[:, :3]

    paths = {"linear": iris_models(folder)["linear"], "zeroes": folder / "zeroes.pt"}
    torch.jit.save(torch.jit.script(Zeroes()), str(paths["zeroes"]))
    return paths


def test_as_arrays_keeps_the_numbers_and_drops_the_table():
    prep = prepare(datasets.builtin("iris"))
    arrays = prep.as_arrays()
    assert isinstance(prep.X, pd.DataFrame) and isinstance(arrays.X, np.ndarray)
    np.testing.assert_array_equal(arrays.X, prep.X.to_numpy(dtype=np.float32))  # oracle: pandas' own conversion
    assert arrays.X.dtype == np.float32 and arrays.numeric_X() is arrays.X
    np.testing.assert_array_equal(arrays.y, prep.y)
    assert arrays.feature_names == prep.feature_names and arrays.task == prep.task
    assert arrays.as_arrays() is arrays


def test_a_model_writing_into_its_input_does_not_change_the_next_models_features(tmp_path):
    import torch

    paths = _torch_models(tmp_path)
    ws = Workspace.open(tmp_path / "ws")
    p = plan(ws, [paths["zeroes"], paths["linear"]])
    assert [r.name for r in p.pending] == ["zeroes.pt", "linear.pt"]  # the writer runs first
    run_ids = execute_module.execute(ws, p.to_request())
    preds = ResultStore(ws).table(run_ids[1], "predictions").sort_values("row")
    # oracle: the linear layer applied by hand to iris's features as stored
    iris = datasets.builtin("iris").frame
    X = torch.from_numpy(iris.drop(columns="target").to_numpy(dtype=np.float32))
    expected = torch.jit.load(str(paths["linear"]))(X).argmax(1).numpy()
    np.testing.assert_array_equal(preds["y_pred"].to_numpy(), expected)
    assert len(np.unique(expected)) > 1  # zeroed inputs would give one class for every row


@pytest.mark.parametrize("sklearn_too", [False, True])
def test_the_table_is_let_go_before_the_first_model_loads_unless_a_model_reads_it(tmp_path, sklearn_too):
    paths = _torch_models(tmp_path)
    if sklearn_too:
        import skops.io as sio
        from sklearn.linear_model import LogisticRegression

        iris = datasets.builtin("iris").frame
        model = LogisticRegression(max_iter=500).fit(iris.drop(columns="target"), iris["target"])
        paths["logreg"] = tmp_path / "logreg.skops"
        sio.dump(model, paths["logreg"])
    ws = Workspace.open(tmp_path / "ws")
    p = plan(ws, [paths["linear"], *([paths["logreg"]] if sklearn_too else [])])
    tables: list[weakref.ref] = []
    seen: list[tuple[bool, type]] = []  # (table still alive, type of X) when each model loads
    original_load, original_run = datasets.load, execute_module.run_one

    def recording_load(ws_, dataset_id):
        ds = original_load(ws_, dataset_id)
        tables.append(weakref.ref(ds))
        return ds

    def recording_run(ws_, run, subject, prep, *args, **kw):
        gc.collect()
        seen.append((tables[0]() is not None, type(prep.X)))
        return original_run(ws_, run, subject, prep, *args, **kw)

    mp = pytest.MonkeyPatch()
    mp.setattr(execute_module.datasets, "load", recording_load)
    mp.setattr(execute_module, "run_one", recording_run)
    try:
        execute_module.execute(ws, p.to_request())
    finally:
        mp.undo()
    assert len(seen) == len(p.pending)
    assert all(not alive for alive, _ in seen)  # the Dataset record is never kept
    # the features stay a DataFrame only when a scikit-learn model needs one; else one float32 matrix
    assert all(kind is (pd.DataFrame if sklearn_too else np.ndarray) for _, kind in seen)
