"""Password hashes, the sign-in throttle and the secrets reader, without Streamlit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.auth import config, passwords
from dashboard.auth.throttle import Throttle
from engine.errors import FrontierError

REPO = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- passwords
def test_a_hash_verifies_its_password_only():
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("scrypt$16384$8$1$")
    assert passwords.verify("correct horse battery", stored)
    assert not passwords.verify("correct horse batterY", stored)
    assert not passwords.verify("", stored)


def test_the_same_password_hashes_differently_each_time():
    """Attack: spot users sharing a password, or use a precomputed table. A random salt defeats both."""
    assert passwords.hash_password("same password!") != passwords.hash_password("same password!")


def test_short_passwords_are_refused():
    with pytest.raises(FrontierError, match="shorter than 10"):
        passwords.hash_password("short")


@pytest.mark.parametrize("stored", [
    "plaintext", "scrypt$16384$8$1$AAAA", "md5$abc$def",
    "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # 2**30: gigabytes per check
    "scrypt$16384$999$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
])
def test_malformed_or_ruinous_hashes_are_refused(stored):
    """Attack: an edited secrets line that makes every check cost minutes and gigabytes (a DoS)."""
    with pytest.raises(FrontierError):
        passwords.parse(stored)


def test_hash_command_prints_a_usable_line():
    out = subprocess.run([sys.executable, "-m", "dashboard.auth", "hash", "--user", "alice"], input="a long passphrase\n",
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    name, _, value = out.stdout.strip().partition(" = ")
    assert name == "alice"
    assert passwords.verify("a long passphrase", value.strip('"'))


@pytest.mark.parametrize("args, stdin, words", [
    (["hash"], "short\n", "shorter than 10"),
    (["hash", "--user", "../../etc"], "a long passphrase\n", "--user may use only"),
])
def test_hash_command_refuses_bad_input_in_one_line(args, stdin, words):
    out = subprocess.run([sys.executable, "-m", "dashboard.auth", *args], input=stdin, capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and words in out.stderr


# ----------------------------------------------------------------- throttle
def test_waits_start_after_the_free_failures_and_double():
    clock = Clock()
    t = Throttle(free=3, base_s=30, max_s=100, clock=clock)
    t.failed("user:alice")
    t.failed("user:alice")
    assert t.wait_s("user:alice") == 0
    t.failed("user:alice")
    assert t.wait_s("user:alice") == 30
    clock.now += 30
    assert t.wait_s("user:alice") == 0
    t.failed("user:alice")
    assert t.wait_s("user:alice") == 60
    clock.now += 60
    t.failed("user:alice")
    assert t.wait_s("user:alice") == 100  # capped
    assert t.wait_s("user:bob") == 0  # other keys untouched


def test_success_clears_a_key():
    t = Throttle(free=1, base_s=30, max_s=100, clock=Clock())
    t.failed("user:alice")
    assert t.wait_s("user:alice") == 30
    t.succeeded("user:alice")
    assert t.wait_s("user:alice") == 0


def test_a_flood_of_keys_stays_bounded(monkeypatch):
    """Attack: exhaust the server's memory with endless made-up user names."""
    import dashboard.auth.throttle as throttle

    monkeypatch.setattr(throttle, "MAX_KEYS", 100)
    t = Throttle(free=1, base_s=30, max_s=100, clock=Clock())
    for i in range(1000):
        t.failed(f"user:{i}")
    assert len(t._entries) <= 101


# ------------------------------------------------------------------- config
def test_nothing_configured_is_the_embedded_mode():
    assert not config.read({}).required


def test_users_admins_and_allowed_accounts_are_read():
    stored = passwords.hash_password("alice's password")
    signin = config.read({"frontier": {"users": {"alice": stored}, "admins": ["alice", "Boss@Example.com"],
                                       "allowed": ["@example.com", "guest@partner.org"]}})
    assert signin.required and signin.passwords and signin.users == {"alice": stored}
    assert signin.is_admin("alice") and signin.is_admin("boss@example.com") and not signin.is_admin("bob")
    assert signin.admits("Someone@Example.COM") and signin.admits("guest@partner.org")
    assert not signin.admits("guest@partner.org.evil.example")
    assert not signin.admits("someone@sub.example.com")  # a domain means exactly that domain
    assert not signin.admits("no-address")


def test_an_identity_provider_needs_an_allow_list():
    """Attack: with Google as provider and no allow-list, anyone with a Google account would get in."""
    auth = {"redirect_uri": "https://frontier.example.com/oauth2callback", "cookie_secret": "k" * 40,
            "client_id": "c", "client_secret": "s", "server_metadata_url": "https://accounts.google.com/x"}
    with pytest.raises(FrontierError, match="allowed is empty"):
        config.read({"auth": auth})
    assert config.read({"auth": auth, "frontier": {"allowed": ["@example.com"]}}).providers == (None,)


@pytest.mark.parametrize("auth, words", [
    ({"cookie_secret": "k" * 40}, "needs redirect_uri"),
    ({"redirect_uri": "https://h/oauth2callback", "cookie_secret": "short"}, "shorter than 32"),
    ({"redirect_uri": "https://h/oauth2callback", "cookie_secret": "k" * 40}, "needs client_id"),
    ({"redirect_uri": "https://h/oauth2callback", "cookie_secret": "k" * 40, "google": {"client_id": "c"}},
     "[auth.google] needs client_secret"),
])
def test_incomplete_identity_provider_settings_are_named(auth, words):
    with pytest.raises(FrontierError) as err:
        config.read({"auth": auth, "frontier": {"allowed": ["@example.com"]}})
    assert words in err.value.message
