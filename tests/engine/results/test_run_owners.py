"""Only a run's owner or an admin deletes it; everyone else reads it."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.errors import FrontierError
from engine.owners import Actor
from engine.results import ResultStore, RunRecord
from engine.workspace import Workspace


@pytest.fixture
def store(tmp_path) -> ResultStore:
    store = ResultStore(Workspace.open(tmp_path / "ws"))
    for rid, owner in (("aaaaaaaaaaaaaaaa", "alice"), ("bbbbbbbbbbbbbbbb", None)):
        store.save(RunRecord(rid, {"run_id": rid, "model": f"m-{rid[:2]}", "owner": owner,
                                   "created_at": "2026-11-24"}, {"folds": pd.DataFrame({"fold": [0]})}))
    return store


def test_a_teammate_cannot_delete_someone_elses_run(store):
    with pytest.raises(FrontierError, match="alice's; only its owner or an admin"):
        store.delete("aaaaaaaaaaaaaaaa", actor=Actor("bob"))
    assert store.has("aaaaaaaaaaaaaaaa")


def test_the_owner_and_an_admin_can(store):
    store.delete("aaaaaaaaaaaaaaaa", actor=Actor("alice"))
    assert not store.has("aaaaaaaaaaaaaaaa")
    with pytest.raises(FrontierError, match="only its owner or an admin"):
        store.delete("bbbbbbbbbbbbbbbb", actor=Actor("alice"))  # an unowned run: admins only
    store.delete("bbbbbbbbbbbbbbbb", actor=Actor("root", admin=True))
    assert not store.has("bbbbbbbbbbbbbbbb")
