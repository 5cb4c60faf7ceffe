"""Password hashes for the sign-in gate: scrypt, salted, compared in constant time.

A stored hash reads ``scrypt$<n>$<r>$<p>$<salt>$<key>`` (salt and key in
URL-safe base64), so the cost can be raised later without breaking old lines.
Only hashes live in ``.streamlit/secrets.toml``; ``python -m dashboard.auth
hash`` makes them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from engine.errors import FrontierError

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1  # ~50 ms and 16 MB per check: cheap for a person, dear for a guesser
KEY_BYTES = 32
SALT_BYTES = 16
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
# bounds on parameters read back, so a tampered line cannot make each check cost minutes or gigabytes
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16
_HASH_RE = re.compile(r"scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+={0,2})\$([A-Za-z0-9_-]+={0,2})")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=256 * r * (n + p + 2) + 2**20)


def check_password_rules(password: str) -> None:
    """Refuse passwords too short to resist guessing (one line)."""
    if len(password) < MIN_PASSWORD:
        raise FrontierError(f"the password is shorter than {MIN_PASSWORD} characters; choose a longer one")
    if len(password) > MAX_PASSWORD:
        raise FrontierError(f"the password is longer than {MAX_PASSWORD} characters")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A new stored hash for ``password``."""
    check_password_rules(password)
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    key = _derive(password, salt, N, R, P, KEY_BYTES)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(key)}"


def parse(stored: object) -> tuple[int, int, int, bytes, bytes]:
    """The parameters, salt and key of a stored hash; a malformed one is a one-line error."""
    m = _HASH_RE.fullmatch(stored) if isinstance(stored, str) else None
    if m is None:
        raise FrontierError("a password hash is not in the form scrypt$n$r$p$salt$key; "
                            "make it with `python -m dashboard.auth hash`")
    n, r, p = (int(g) for g in m.groups()[:3])
    if not (2 <= n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        raise FrontierError("a password hash has out-of-range scrypt parameters; "
                            "make it again with `python -m dashboard.auth hash`")
    salt, key = base64.urlsafe_b64decode(m.group(4)), base64.urlsafe_b64decode(m.group(5))
    if len(salt) < 8 or not 16 <= len(key) <= 64:
        raise FrontierError("a password hash has a short salt or key; make it again with "
                            "`python -m dashboard.auth hash`")
    return n, r, p, salt, key


def verify(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison of the derived keys)."""
    n, r, p, salt, key = parse(stored)
    if len(password) > MAX_PASSWORD:
        return False
    return hmac.compare_digest(_derive(password, salt, n, r, p, len(key)), key)


# A fixed hash checked for unknown user names, so a miss costs as long as a wrong password.
DUMMY_HASH = f"{SCHEME}${N}${R}${P}${_b64(bytes(SALT_BYTES))}${_b64(bytes(KEY_BYTES))}"
