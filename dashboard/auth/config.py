"""Who may sign in, read from Streamlit's secrets (``.streamlit/secrets.toml``).

Two ways, usable together::

    [frontier]
    admins = ["alice", "carol@example.com"]   # may cancel and delete anything
    allowed = ["@example.com", "bob@partner.org"]  # identity-provider accounts let in

    [frontier.users]                          # the password gate
    alice = "scrypt$16384$8$1$..."            # python -m dashboard.auth hash

    [auth]                                    # Streamlit's st.login (OpenID Connect)
    redirect_uri = "https://frontier.example.com/oauth2callback"
    cookie_secret = "..."
    client_id = "..."
    client_secret = "..."
    server_metadata_url = "https://accounts.example.com/.well-known/openid-configuration"

Nothing configured means the embedded, one-person mode. A section that is
present but wrong is an error, never the embedded mode: a broken secrets file
must not open the dashboard to everyone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboard.auth import passwords
from engine.errors import FrontierError

USER_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
OIDC_KEYS = ("redirect_uri", "cookie_secret")
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
MIN_COOKIE_SECRET = 32


@dataclass(frozen=True)
class SignIn:
    """The sign-in set-up: password users (name -> hash), identity providers, admins, allow-list."""

    users: Mapping[str, str] = field(default_factory=dict)
    providers: tuple[str | None, ...] = ()  # None: the unnamed [auth] provider
    admins: frozenset[str] = frozenset()
    allowed: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        """Whether anyone must sign in (else: the embedded one-person mode)."""
        return bool(self.users) or bool(self.providers)

    @property
    def passwords(self) -> bool:
        return bool(self.users)

    def is_admin(self, name: str) -> bool:
        return name in self.admins or name.lower() in {a.lower() for a in self.admins if "@" in a}

    def admits(self, email: str) -> bool:
        """Whether an identity-provider account may use the dashboard (exact address or ``@domain``)."""
        email = email.strip().lower()
        if "@" not in email:
            return False
        domain = "@" + email.rsplit("@", 1)[1]
        return any(entry.lower() in (email, domain) for entry in self.allowed)


def _names(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise FrontierError(f"[frontier] {what} in secrets.toml must be a list of strings")
    return [v.strip() for v in value]


def read(secrets: Mapping[str, Any]) -> SignIn:
    """The sign-in set-up in ``secrets``; one-line :class:`FrontierError` when it is wrong."""
    frontier = secrets.get("frontier") or {}
    if not isinstance(frontier, Mapping):
        raise FrontierError("[frontier] in secrets.toml must be a table")
    users = _users(frontier)
    admins = _names(frontier.get("admins"), "admins")
    allowed = _names(frontier.get("allowed"), "allowed")
    for entry in allowed:
        if not re.fullmatch(r"[^@\s]*@[^@\s]+\.[^@\s]+", entry):
            raise FrontierError(f"[frontier] allowed entry {entry[:60]!r} is neither an e-mail address "
                                "nor an @domain")
    providers = _providers(secrets.get("auth"))
    if providers and not allowed:
        raise FrontierError("an [auth] identity provider is set but [frontier] allowed is empty: list the "
                            "e-mail addresses or @domains that may sign in, or anyone with an account "
                            "at the provider could")
    return SignIn(users=users, providers=providers, admins=frozenset(admins), allowed=tuple(allowed))


def _users(frontier: Mapping[str, Any]) -> dict[str, str]:
    if "users" not in frontier:
        return {}
    table = frontier["users"]
    if not isinstance(table, Mapping) or not table:
        raise FrontierError("[frontier.users] in secrets.toml is empty; add `name = \"<hash>\"` lines made "
                            "with `python -m dashboard.auth hash`, or remove the section")
    users = {}
    for name, stored in table.items():
        if not isinstance(name, str) or not USER_NAME_RE.fullmatch(name):
            raise FrontierError(f"user name {str(name)[:40]!r} in [frontier.users] may use only letters, "
                                "digits and . _ @ - (up to 64)")
        try:
            passwords.parse(stored)
        except FrontierError as exc:
            raise FrontierError(f"[frontier.users] {name}: {exc.message}") from None
        users[name] = stored
    return users


def _providers(auth: Any) -> tuple[str | None, ...]:
    if auth is None:
        return ()
    if not isinstance(auth, Mapping):
        raise FrontierError("[auth] in secrets.toml must be a table")
    for key in OIDC_KEYS:
        if not isinstance(auth.get(key), str) or not auth[key].strip():
            raise FrontierError(f"[auth] needs {key} for sign-in with an identity provider")
    if len(auth["cookie_secret"]) < MIN_COOKIE_SECRET:
        raise FrontierError(f"[auth] cookie_secret is shorter than {MIN_COOKIE_SECRET} characters; "
                            "use a long random string (python -c 'import secrets; print(secrets.token_hex(32))')")
    named = [k for k, v in auth.items() if isinstance(v, Mapping)]
    if all(isinstance(auth.get(k), str) for k in PROVIDER_KEYS):
        return (None, *named)
    if not named:
        raise FrontierError(f"[auth] needs {', '.join(PROVIDER_KEYS)} (or an [auth.<provider>] table with them)")
    for name in named:
        missing = [k for k in PROVIDER_KEYS if not isinstance(auth[name].get(k), str)]
        if missing:
            raise FrontierError(f"[auth.{name}] needs {', '.join(missing)}")
    return tuple(named)
