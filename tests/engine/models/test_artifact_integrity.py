"""What a stored model is comes from its bytes; trust from a signed record, never from meta.json.

``meta.json`` is editable by anyone who can write a shared workspace. The
attack: rewrite a registered model's record to ``format: pickle, trusted: true,
file: ../x`` and plant a pickle there, so the next user's plain run executes it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from frontier_support import run_cli, sample
from models_support import evil_pickle, iris

from engine import ids, models, trust
from engine.errors import FrontierError
from engine.workspace import Workspace, read_json, write_json_atomic

SAMPLE = "digits_logreg.skops"


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


def _meta(ws: Workspace, artifact_id: str) -> dict:
    return read_json(ws.artifacts / artifact_id / "meta.json")


def _rewrite_meta(ws: Workspace, artifact_id: str, **changes) -> None:
    write_json_atomic(ws.artifacts / artifact_id / "meta.json", _meta(ws, artifact_id) | changes)


def _old_style_load(ws: Workspace, artifact_id: str):
    """Oracle: how Frontier loaded a record before — believing its format, file and trusted flag."""
    import joblib

    meta = _meta(ws, artifact_id)
    assert meta["trusted"] and meta["format"] == "pickle"
    return joblib.load(ws.artifacts / artifact_id / meta["file"])


def test_rewritten_record_pointing_at_a_planted_pickle_is_refused(tmp_path, ws):
    marker = tmp_path / "marker"
    info = models.register_file(ws, sample(SAMPLE))  # a harmless model anyone may register
    (ws.artifacts / "x").write_bytes(evil_pickle(marker))
    _rewrite_meta(ws, info.id, format="pickle", trusted=True, file="../x", requires_trust=True)

    from models_support import prove_it_runs

    prove_it_runs(lambda: _old_style_load(ws, info.id), marker)

    with pytest.raises(FrontierError, match=r"names file '\.\./x'.*altered"):
        models.get(ws, info.id)
    forged = models.ArtifactInfo(**(info.to_dict() | {"format": "pickle", "trusted": True, "file": "../x"}))
    with pytest.raises(FrontierError, match="altered"):
        models.load_model(ws, forged)
    assert info.id not in {i.id for i in models.list_registered(ws)}
    assert not marker.exists()

    # the next user's plain CLI run of the same sample: refused in one line, the pickle never runs
    r = run_cli("benchmark", "--model", sample(SAMPLE), "--data", "digits", "--workspace", ws.root, "--json",
                "--no-latency")
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and "altered" in r.stderr_lines[0], str(r)
    assert "Traceback" not in r.stderr
    assert not marker.exists()


def test_a_model_file_swapped_after_registration_is_refused(tmp_path, ws):
    """Same folder, same name, a pickle instead of the trusted model: the hash no longer is the id."""
    marker = tmp_path / "marker"
    import pickle

    from sklearn.linear_model import LogisticRegression

    X, y = iris()
    info = models.register_bytes(ws, pickle.dumps(LogisticRegression(max_iter=500).fit(X, y)), "m.pkl",
                                 trusted=True)
    assert models.get(ws, info.id).trusted
    info.path(ws).write_bytes(evil_pickle(marker))
    with pytest.raises(FrontierError, match=f"no longer matches its id {info.id}"):
        models.load_model(ws, models.get(ws, info.id))
    assert not marker.exists()


def test_a_record_claiming_another_format_than_its_bytes_is_refused(ws):
    """A pickle stored as model.skops (hash and all consistent): the bytes say it is no skops file."""
    data = evil_pickle(ws.root / "marker")
    artifact_id = ids.content_id(data)
    folder = ws.artifacts / artifact_id
    folder.mkdir()
    (folder / "model.skops").write_bytes(data)
    write_json_atomic(folder / "meta.json", {"id": artifact_id, "name": "m", "format": "skops",
                                              "file": "model.skops", "size_bytes": len(data)})
    with pytest.raises(FrontierError, match="not a skops file"):
        models.load_model(ws, models.get(ws, artifact_id))


def _trusted_evil(ws: Workspace, marker) -> models.ArtifactInfo:
    info = models.register_bytes(ws, evil_pickle(marker), "evil.pkl", trusted=True, owner="mallory")
    assert info.trusted and models.get(ws, info.id).trusted
    return info


@pytest.mark.parametrize("forgery", ["flag-only", "bad-signature", "other-signer", "record-of-another-model",
                                     "other-key"])
def test_forged_trust_is_not_believed(tmp_path, ws, monkeypatch, forgery):
    marker = tmp_path / "marker"
    info = _trusted_evil(ws, marker)
    record = dict(_meta(ws, info.id)["trust"])
    if forgery == "flag-only":
        record = None  # meta.json says trusted: true, nothing signed it
    elif forgery == "bad-signature":
        record["signature"] = ("0" if record["signature"][0] != "0" else "1") + record["signature"][1:]
    elif forgery == "other-signer":
        record["trusted_by"] = "alice"
    elif forgery == "record-of-another-model":
        other = models.register_file(ws, sample(SAMPLE), trusted=True)
        record = _meta(ws, other.id)["trust"]
    else:  # a record signed with some other installation's key
        monkeypatch.setenv("FRONTIER_SECRET_KEY", "another-installation-key-0123456789")
        record = trust.sign(info.id, record["sha256"], by="mallory")
        monkeypatch.delenv("FRONTIER_SECRET_KEY")
    _rewrite_meta(ws, info.id, trust=record, trusted=True)
    stored = models.get(ws, info.id)
    assert not stored.trusted and stored.trusted_by is None
    with pytest.raises(FrontierError, match="not marked trusted"):
        models.load_model(ws, stored)
    forged = models.ArtifactInfo(**(stored.to_dict() | {"trusted": True}))  # a caller's flag is not believed either
    with pytest.raises(FrontierError, match="not marked trusted"):
        models.load_model(ws, forged)
    assert not marker.exists()


def test_a_legit_trusted_upload_loads_and_runs(ws):
    import pickle

    from sklearn.linear_model import LogisticRegression

    X, y = iris()
    est = LogisticRegression(max_iter=500).fit(X, y)
    info = models.register_bytes(ws, pickle.dumps(est), "m.pkl", trusted=True, owner="alice")
    stored = models.get(ws, info.id)
    assert stored.trusted and stored.trusted_by == "alice" and stored.owner == "alice"
    record = _meta(ws, info.id)["trust"]
    assert record["artifact_id"] == info.id and record["trusted_by"] == "alice" and record["trusted_at"]
    np.testing.assert_array_equal(models.load_model(ws, stored).predict(X), est.predict(X))
    untrusted = models.update(ws, stored, trusted=False)
    assert not untrusted.trusted and not models.get(ws, info.id).trusted
    with pytest.raises(FrontierError, match="not marked trusted"):
        models.load_model(ws, untrusted)
    retrusted = models.update(ws, untrusted, trusted=True, trusted_by="bob")
    assert retrusted.trusted and retrusted.trusted_by == "bob"


def test_a_trusted_pickle_runs_through_the_cli(tmp_path):
    import pickle

    from sklearn.linear_model import LogisticRegression

    X, y = iris()
    path = tmp_path / "logreg.pkl"
    path.write_bytes(pickle.dumps(LogisticRegression(max_iter=500).fit(X, y)))
    args = ("benchmark", "--model", path, "--data", "iris", "--workspace", tmp_path / "ws", "--json",
            "--no-latency", "--as-is", "--cv", "2")
    r = run_cli(*args, "--trust")
    assert r.returncode == 0, str(r)
    run = r.json["runs"][0]
    assert run["format"] == "pickle" and run["accuracy_mean"] > 0.9
    ws = Workspace.at(tmp_path / "ws")
    (stored,) = models.list_registered(ws)
    assert stored.trusted and json.loads((ws.artifacts / stored.id / "meta.json").read_text())["trust"]
    again = run_cli(*args, "--trust")  # known, trusted and unchanged: served from the store
    assert again.returncode == 0 and again.json["runs"][0]["cached"], str(again)
