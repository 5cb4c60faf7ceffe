"""Decompression bombs: a small model file whose members declare more than the cap is refused unopened.

With ``FRONTIER_MAX_MODEL_MB=1``, each bomb (a 64 MB member that deflates to
about 64 KB) is refused from the archive's directory, naming the cap and how to
raise it; tracemalloc shows the refusal never held the decompressed member.
"""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest
from models_support import (
    bomb_member,
    evil_pickle,
    exported_pt2,
    rewrite_zip,
    torchscript_bytes,
)

from engine import models
from engine.errors import FrontierError
from engine.workspace import Workspace

BOMB_BYTES = 64 * 2**20
CAP_MESSAGE = r"expands to 64\.\d MB, over the 1\.0 MB limit \(FRONTIER_MAX_MODEL_MB\); raise FRONTIER_MAX_MODEL_MB"


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


def zero_array_skops() -> bytes:
    import numpy as np
    import skops.io as sio
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    model = make_pipeline(StandardScaler(), DecisionTreeClassifier()).fit(np.zeros((2, 4)), [0, 1])
    scaler = model[0]
    n = BOMB_BYTES // 8
    scaler.mean_, scaler.var_, scaler.scale_ = np.zeros(n), np.zeros(2), np.ones(2)
    return sio.dumps(model, compression=zipfile.ZIP_DEFLATED)


def _replace_first(data: bytes, pick) -> bytes:
    """``data`` with its first member matching ``pick`` swapped for 64 MB of zeros (deflated)."""
    target = next(n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if pick(n))
    return rewrite_zip(data, lambda name, old: bomb_member(name, BOMB_BYTES)[1] if name == target else old,
                       compression=zipfile.ZIP_DEFLATED)


def _bomb(kind: str) -> tuple[bytes, str]:
    if kind == "skops":  # a genuine skops file: an estimator holding a 64 MB array of zeros
        return zero_array_skops(), "model.skops"
    if kind == "pt2":
        return _replace_first(exported_pt2(), lambda n: "/data/weights/weight_" in n), "model.pt2"
    return _replace_first(torchscript_bytes(), lambda n: "/data/" in n and not n.endswith(".pkl")), "model.pt"


@pytest.mark.parametrize("kind", ["skops", "pt2", "torchscript"])
def test_bomb_is_refused_before_decompressing(ws, monkeypatch, kind):
    data, name = _bomb(kind)
    assert len(data) < 2**20 / 4  # a small file...
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist()) > BOMB_BYTES  # ...declaring 64 MB
    monkeypatch.setenv("FRONTIER_MAX_MODEL_MB", "1")
    tracemalloc.start()
    try:
        with pytest.raises(FrontierError, match=CAP_MESSAGE):
            models.register_bytes(ws, data, name, trusted=True)  # trust does not lift the cap
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MB: the member was decompressed"
    assert models.list_registered(ws) == []


def test_the_same_skops_file_loads_under_a_cap_it_fits(ws, monkeypatch):
    """Positive control: the cap is what refused the skops bomb; under a larger cap it is a model."""
    data, name = _bomb("skops")
    monkeypatch.setenv("FRONTIER_MAX_MODEL_MB", "128")
    info = models.register_bytes(ws, data, name)
    model = models.load_model(ws, info)
    assert model[0].mean_.shape == (BOMB_BYTES // 8,) and not model[0].mean_.any()


def test_declared_size_is_checked_before_any_member_is_read(ws, monkeypatch):
    """The directory alone decides: no member is opened when the declared total is over the cap."""
    data, name = _bomb("skops")
    opened: list[str] = []
    original = zipfile.ZipFile.open

    def spy(self, member, *args, **kwargs):
        opened.append(getattr(member, "filename", member))
        return original(self, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    monkeypatch.setenv("FRONTIER_MAX_MODEL_MB", "1")
    with pytest.raises(FrontierError, match=CAP_MESSAGE):
        models.register_bytes(ws, data, name)
    assert opened == []


def test_a_model_file_over_the_cap_is_refused_by_its_size(tmp_path, ws, monkeypatch):
    path = tmp_path / "big.pkl"
    path.write_bytes(evil_pickle(tmp_path / "marker") + bytes(2 * 2**20))
    monkeypatch.setenv("FRONTIER_MAX_MODEL_MB", "1")
    with pytest.raises(FrontierError, match=r"'big\.pkl' is 2\.0 MB, over the 1\.0 MB model size limit "
                                            r"\(FRONTIER_MAX_MODEL_MB\); raise FRONTIER_MAX_MODEL_MB"):
        models.register_file(ws, path, trusted=True)
    with pytest.raises(FrontierError, match=r"over the 1\.0 MB model size limit"):
        models.info_from_bytes(path.read_bytes(), "big.pkl", trusted=True)
    assert not (tmp_path / "marker").exists() and models.list_registered(ws) == []
