"""Models record who registered them and who trusted them; only owners and admins delete."""

from __future__ import annotations

import pytest
from frontier_support import sample

from engine import models
from engine.errors import FrontierError
from engine.owners import Actor
from engine.workspace import Workspace, read_json, write_json_atomic


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


def test_owner_is_recorded_by_every_way_in(tmp_path, ws):
    a = models.register_file(ws, sample("digits_logreg.skops"), owner="alice")
    b = models.register_bytes(ws, sample("digits_mlp.onnx").read_bytes(), "mlp.onnx", owner="bob")
    data = sample("diabetes_ridge.skops").read_bytes()
    info = models.info_from_bytes(data, "ridge.skops", owner="carol")
    assert info.owner == "carol"
    c = models.save(ws, info, data)
    assert (a.owner, b.owner, c.owner) == ("alice", "bob", "carol")
    assert {i.owner for i in models.list_registered(ws)} == {"alice", "bob", "carol"}
    assert read_json(ws.artifacts / a.id / "meta.json")["owner"] == "alice"
    assert models.save(ws, info, data, owner="dave").owner == "carol"  # the first registration owns it


def test_trust_records_who_trusted_it(ws):
    info = models.register_file(ws, sample("digits_logreg.skops"), owner="alice")
    assert not info.trusted and info.trusted_by is None
    again = models.register_file(ws, sample("digits_logreg.skops"), trusted=True, owner="bob")
    assert again.owner == "alice" and again.trusted and again.trusted_by == "bob"


def test_records_without_an_owner_still_load(ws):
    info = models.register_file(ws, sample("digits_mlp.onnx"))
    meta_path = ws.artifacts / info.id / "meta.json"
    old = {k: v for k, v in read_json(meta_path).items() if k not in ("owner", "trust")}
    write_json_atomic(meta_path, old)
    stored = models.get(ws, info.id)
    assert stored.owner is None and not stored.trusted


@pytest.mark.parametrize(("actor", "allowed"), [
    (Actor("bob"), False), (Actor("alice"), True), (Actor("root", admin=True), True), (None, True),
])
def test_delete_needs_the_owner_or_an_admin(ws, actor, allowed):
    info = models.register_file(ws, sample("digits_logreg.skops"), owner="alice")
    if allowed:
        models.delete(ws, info.id, actor=actor)
        assert not (ws.artifacts / info.id).exists()
    else:
        with pytest.raises(FrontierError, match="is alice's; only its owner or an admin"):
            models.delete(ws, info.id, actor=actor)
        assert models.get(ws, info.id).owner == "alice"


def test_a_model_without_owner_is_deleted_by_admins_only(ws):
    info = models.register_file(ws, sample("digits_mlp.onnx"))
    with pytest.raises(FrontierError, match="a shared"):
        models.delete(ws, info.id, actor=Actor("bob"))
    models.delete(ws, info.id, actor=Actor("admin", admin=True))
    assert models.list_registered(ws) == []
