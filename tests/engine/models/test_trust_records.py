"""``engine.trust``: the per-installation key and HMAC-signed trust records.

The oracle for a signature is Python's ``hmac`` computed here from the key file's
contents, independently of the module's own helper.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat

import pytest

from engine import trust
from engine.errors import FrontierError

ID = "0123456789abcdef"
SHA = ID + "0" * 48


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("FRONTIER_SECRET_KEY", raising=False)
    return tmp_path / "config"


def test_key_file_is_created_once_with_mode_0600(config_home):
    record = trust.sign(ID, SHA, by="alice")
    key_file = config_home / "frontier" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 32
    payload = json.dumps({k: record[k] for k in ("v", "artifact_id", "sha256", "trusted_by", "trusted_at")},
                         sort_keys=True, separators=(",", ":"))
    expected = hmac.new(key.encode(), b"frontier-trust-v1\n" + payload.encode(), hashlib.sha256).hexdigest()
    assert record["signature"] == expected
    trust.sign(ID, SHA, by="bob")
    assert key_file.read_text().strip() == key  # reused, not replaced
    assert trust.verify(record, artifact_id=ID, sha256=SHA)


def test_verifying_without_a_key_creates_none_and_fails(config_home):
    record = {"v": 1, "artifact_id": ID, "sha256": SHA, "trusted_by": "a", "trusted_at": "t", "signature": "00"}
    assert not trust.verify(record, artifact_id=ID)
    assert not (config_home / "frontier").exists()


@pytest.mark.parametrize("change", [
    {"artifact_id": "fedcba9876543210"}, {"sha256": ID + "1" * 48}, {"trusted_by": "mallory"},
    {"trusted_at": "2000-01-01T00:00:00Z"}, {"v": 2}, {"signature": "x"},
])
def test_any_change_to_a_record_breaks_it(config_home, change):
    record = trust.sign(ID, SHA, by="alice")
    assert trust.verify(record, artifact_id=ID, sha256=SHA)
    assert not trust.verify(record | change, artifact_id=record["artifact_id"] if "artifact_id" not in change
                            else change["artifact_id"])


def test_a_record_is_bound_to_its_artifact_and_bytes(config_home):
    record = trust.sign(ID, SHA, by="alice")
    assert not trust.verify(record, artifact_id="fedcba9876543210")
    assert not trust.verify(record, artifact_id=ID, sha256=ID + "f" * 48)
    assert not trust.verify("trusted", artifact_id=ID) and not trust.verify(None, artifact_id=ID)


def test_environment_key_wins_and_writes_no_file(config_home, monkeypatch):
    monkeypatch.setenv("FRONTIER_SECRET_KEY", "k" * 40)
    record = trust.sign(ID, SHA, by=None)
    assert not config_home.exists()
    assert trust.verify(record, artifact_id=ID)
    monkeypatch.setenv("FRONTIER_SECRET_KEY", "j" * 40)
    assert not trust.verify(record, artifact_id=ID)
    monkeypatch.setenv("FRONTIER_SECRET_KEY", "short")
    with pytest.raises(FrontierError, match="FRONTIER_SECRET_KEY must be at least 16 characters"):
        trust.sign(ID, SHA, by=None)


def test_a_key_file_others_can_read_is_refused(config_home):
    trust.sign(ID, SHA, by="alice")
    key_file = config_home / "frontier" / "secret.key"
    os.chmod(key_file, 0o644)
    with pytest.raises(FrontierError, match=r"accessible to other users; run `chmod 600 "):
        trust.sign(ID, SHA, by="alice")


def test_a_symlinked_key_file_is_refused(config_home, tmp_path):
    (config_home / "frontier").mkdir(parents=True)
    planted = tmp_path / "attacker.key"
    planted.write_text("a" * 64)
    os.chmod(planted, 0o600)
    (config_home / "frontier" / "secret.key").symlink_to(planted)
    with pytest.raises(FrontierError, match="not a regular file"):
        trust.sign(ID, SHA, by="alice")
