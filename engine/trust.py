"""Trust as a signed decision: who marked which exact bytes trusted, and when.

A model that can run code when loaded is loaded only when a *trust record*
says so, and a record counts only when its HMAC-SHA256 signature verifies
with this installation's secret key. The key lives outside the workspace —
``FRONTIER_SECRET_KEY``, else a key file ``$XDG_CONFIG_HOME/frontier/secret.key``
(``~/.config/frontier/secret.key``) created with mode 0600 on first use — so
anyone who can edit ``meta.json`` in a shared workspace cannot forge or move
a record: it names the artifact id and the SHA-256 of every file the model
loads.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Any

from engine.errors import FrontierError

KEY_ENV = "FRONTIER_SECRET_KEY"
MIN_KEY_CHARS = 16
RECORD_VERSION = 1
_DOMAIN = b"frontier-trust-v1\n"
_FIELDS = ("v", "artifact_id", "sha256", "trusted_by", "trusted_at")


def key_path() -> Path:
    """Where the installation's key file lives (read at call time)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "frontier" / "secret.key"


def secret_key(*, create: bool = True) -> bytes | None:
    """The signing key: ``$FRONTIER_SECRET_KEY``, else the key file (made if ``create``)."""
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        if len(env) < MIN_KEY_CHARS:
            raise FrontierError(f"{KEY_ENV} must be at least {MIN_KEY_CHARS} characters; "
                                "set it to a long random string (e.g. `openssl rand -hex 32`)")
        return env.encode()
    path = key_path()
    if not path.exists() and not path.is_symlink():
        if not create:
            return None
        _create_key_file(path)
    return _read_key_file(path)


def _create_key_file(path: Path) -> None:
    """Write a fresh random key with mode 0600; a concurrent creator's key wins."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.parent / f".secret.key.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # atomic: never a half-written key, never two keys
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _read_key_file(path: Path) -> bytes:
    try:
        st = path.lstat()
    except OSError as exc:
        raise FrontierError(f"cannot read the trust key file {path} ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise FrontierError(f"the trust key file {path} is not a regular file; remove it (a new key is made)")
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise FrontierError(f"the trust key file {path} is accessible to other users; "
                            f"run `chmod 600 {path}` (and make sure you own it)")
    key = path.read_text().strip()
    if len(key) < MIN_KEY_CHARS:
        raise FrontierError(f"the trust key file {path} is too short; remove it (a new key is made) "
                            f"or set {KEY_ENV}")
    return key.encode()


def _signature(key: bytes, fields: dict[str, Any]) -> str:
    payload = json.dumps({k: fields[k] for k in _FIELDS}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, _DOMAIN + payload.encode(), hashlib.sha256).hexdigest()


def sign(artifact_id: str, sha256: str, *, by: str | None) -> dict[str, Any]:
    """A trust record for the model whose files hash to ``sha256``, decided by ``by``."""
    fields: dict[str, Any] = {
        "v": RECORD_VERSION, "artifact_id": artifact_id, "sha256": sha256, "trusted_by": by,
        "trusted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    key = secret_key(create=True)
    assert key is not None
    return fields | {"signature": _signature(key, fields)}


def verify(record: object, *, artifact_id: str, sha256: str | None = None) -> bool:
    """True only for a well-formed record of ``artifact_id`` (and ``sha256``) whose signature verifies."""
    if not isinstance(record, dict) or record.get("v") != RECORD_VERSION:
        return False
    digest, signature = record.get("sha256"), record.get("signature")
    if (record.get("artifact_id") != artifact_id or not isinstance(digest, str) or len(digest) != 64
            or not digest.startswith(artifact_id) or not isinstance(signature, str)
            or not isinstance(record.get("trusted_at"), str)
            or not isinstance(record.get("trusted_by"), str | None)):
        return False
    if sha256 is not None and not hmac.compare_digest(digest, sha256):
        return False
    key = secret_key(create=False)
    if key is None:
        return False
    return hmac.compare_digest(signature, _signature(key, record))
