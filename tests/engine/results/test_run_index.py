"""The run index lists exactly what the run folders hold, reading only what changed."""

from __future__ import annotations

import shutil

import pandas as pd
import pyarrow.parquet as pq
import pytest

from engine.results import ResultStore
from engine.results import index as run_index
from engine.workspace import Workspace


def _summary(run_id: str, **extra) -> pd.DataFrame:
    return pd.DataFrame([{"run_id": run_id, "model": f"model {run_id[:4]}", "task": "classification",
                          "accuracy_mean": 0.5, "created_at": f"2026-11-{int(run_id[-2:], 16) % 28 + 1:02d}"}
                         | extra])


@pytest.fixture
def store(tmp_path) -> ResultStore:
    ws = Workspace.open(tmp_path / "ws")
    for i in range(20):
        rid = f"{i:016x}"
        (ws.results / rid).mkdir()
        _summary(rid).to_parquet(ws.results / rid / "summary.parquet", index=False)
    return ResultStore(ws)


def _oracle(store: ResultStore) -> pd.DataFrame:
    """Brute force: read every folder's summary, as listing did before the index."""
    frames = [pd.read_parquet(p) for p in store.root.glob("[0-9a-f]*/summary.parquet")]
    return pd.concat(frames, ignore_index=True).sort_values("run_id", ignore_index=True)


def _listed(store: ResultStore) -> pd.DataFrame:
    return store.runs().sort_values("run_id", ignore_index=True)


def _count_reads(monkeypatch) -> list[str]:
    reads: list[str] = []
    real = pq.read_table

    def counting(path, *args, **kwargs):
        if str(path).endswith("summary.parquet"):
            reads.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(run_index.pq, "read_table", counting)
    return reads


def test_listing_matches_the_folders_through_adds_deletes_and_recomputes(store, monkeypatch):
    pd.testing.assert_frame_equal(_listed(store)[["run_id", "model"]], _oracle(store)[["run_id", "model"]])
    reads = _count_reads(monkeypatch)
    assert len(_listed(store)) == 20 and reads == []  # nothing changed: no summary is read

    shutil.rmtree(store.root / f"{3:016x}")
    new = "ffffffffffffff01"
    (store.root / new).mkdir()
    _summary(new).to_parquet(store.root / new / "summary.parquet", index=False)
    _summary(f"{7:016x}", model="recomputed").to_parquet(store.root / f"{7:016x}" / "summary.parquet", index=False)
    listed = _listed(store)
    assert sorted(r.rsplit("/", 2)[-2] for r in reads) == sorted([new, f"{7:016x}"])  # only what changed
    pd.testing.assert_frame_equal(listed[["run_id", "model"]], _oracle(store)[["run_id", "model"]])
    assert listed.set_index("run_id").loc[f"{7:016x}", "model"] == "recomputed"


def test_newest_first(store):
    dates = store.runs()["created_at"].tolist()
    assert dates == sorted(dates, reverse=True)


def test_an_edited_or_broken_index_never_invents_or_hides_a_run(store):
    store.runs()
    path = store.root / run_index.INDEX_FILE
    index = pd.read_parquet(path)
    forged = index.iloc[[0]].assign(run_id="abcdefabcdefabcd", model="planted")  # no such folder
    changed = index.assign(model=index["model"].where(index["run_id"] != f"{1:016x}", "edited"),
                           **{run_index.VERSION: index[run_index.VERSION].where(index["run_id"] != f"{1:016x}", 1)})
    pd.concat([changed, forged]).to_parquet(path, index=False)
    listed = _listed(store)
    assert "abcdefabcdefabcd" not in set(listed["run_id"])
    assert listed.set_index("run_id").loc[f"{1:016x}", "model"] == f"model {'0' * 4}"  # re-read from its folder
    path.write_bytes(b"not parquet")
    pd.testing.assert_frame_equal(_listed(store)[["run_id", "model"]], _oracle(store)[["run_id", "model"]])


def test_a_summary_that_names_another_run_is_not_listed(store):
    rid = f"{2:016x}"
    _summary("0123456789abcdef").to_parquet(store.root / rid / "summary.parquet", index=False)
    listed = set(_listed(store)["run_id"])
    assert rid not in listed and "0123456789abcdef" not in listed


def test_folders_that_are_not_runs_are_ignored(store):
    (store.root / ".stage-0000000000000000-1234").mkdir()
    _summary("0000000000000000").to_parquet(store.root / ".stage-0000000000000000-1234" / "summary.parquet")
    (store.root / "notes").mkdir()
    assert len(store.runs()) == 20
