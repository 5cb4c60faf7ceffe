"""The sign-in gate ``app.py`` runs before any page, and the signed-in actor pages act as.

- Nothing configured (``make run``): the embedded one-person mode; the actor is
  the local user (:func:`engine.owners.local_actor`). Started by ``make serve``
  (``--frontier-serve`` in the script's arguments), that is refused instead.
- ``[frontier.users]``: a password form; checks are throttled per user name
  and per client (:mod:`dashboard.auth.throttle`), the session remembers who
  signed in (server-side).
- ``[auth]``: Streamlit's ``st.login`` with an identity provider; only
  accounts on the ``[frontier] allowed`` list get in.

A secrets file that exists but cannot be read, or a set-up that is wrong, stops
the app with one line: never the open embedded mode.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import streamlit as st

from dashboard.auth import config, passwords
from dashboard.auth.throttle import Throttle
from dashboard.text import md
from engine.errors import FrontierError, first_line
from engine.owners import Actor, local_actor

SERVE_FLAG = "--frontier-serve"  # passed by ``python -m dashboard.serve`` after ``--``
USER_KEY, ACTOR_KEY = "auth:user", "auth:actor"
USER_FREE, CLIENT_FREE = 3, 10  # failures allowed before waits start (a client may be a whole office)
BASE_WAIT_S, MAX_WAIT_S = 30.0, 900.0


@st.cache_resource
def throttles() -> tuple[Throttle, Throttle]:
    """Per-user-name and per-client throttles, shared by every session of this server."""
    return (Throttle(free=USER_FREE, base_s=BASE_WAIT_S, max_s=MAX_WAIT_S),
            Throttle(free=CLIENT_FREE, base_s=BASE_WAIT_S, max_s=MAX_WAIT_S))


def serving() -> bool:
    """Whether this server was started by ``make serve`` (sign-in then is compulsory)."""
    return SERVE_FLAG in sys.argv[1:]


def _secrets() -> dict[str, Any]:
    from streamlit import config as st_config
    from streamlit.errors import StreamlitSecretNotFoundError

    try:
        return st.secrets.to_dict()
    except StreamlitSecretNotFoundError as exc:
        files = [Path(p).expanduser() for p in st_config.get_option("secrets.files")]
        present = [p for p in files if p.exists()]
        if present:
            raise FrontierError(f"{present[-1]} could not be read ({first_line(exc)}); fix it, or remove "
                                "it to run without sign-in") from None
        return {}


def setup() -> config.SignIn:
    """The sign-in set-up from the secrets; one-line error when it is wrong."""
    return config.read(_secrets())


# ------------------------------------------------------------------ the gate
def gate(pages: Sequence[st.Page]) -> Actor:
    """The actor this session acts as; shows the sign-in form and stops the script until there is one."""
    try:
        signin = setup()
    except FrontierError as exc:
        _stop(pages, f"Sign-in is misconfigured: {exc.message}")
    if not signin.required:
        if serving():
            _stop(pages, "Sign-in is not configured, and this shared server requires it: add users to "
                         ".streamlit/secrets.toml (python -m dashboard.auth hash) or an [auth] provider")
        return _remember(local_actor())
    actor = _signed_in(signin)
    if isinstance(actor, Actor):
        return _remember(actor)
    st.session_state.pop(ACTOR_KEY, None)
    st.navigation(list(pages), position="hidden")
    if actor is not None:  # signed in at the identity provider with an account not on the list
        _refuse_account(actor)
    _sign_in_view(signin)
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def actor() -> Actor:
    """The signed-in actor for pages (set by :func:`gate` on this run); stops if there is none."""
    who = st.session_state.get(ACTOR_KEY)
    if not isinstance(who, Actor):
        st.error("Sign in first.")
        st.stop()
    return who


def _remember(who: Actor) -> Actor:
    st.session_state[ACTOR_KEY] = who
    return who


def _stop(pages: Sequence[st.Page], message: str) -> NoReturn:
    st.session_state.pop(ACTOR_KEY, None)
    st.navigation(list(pages), position="hidden")
    st.error(md(message), icon=":material/lock:")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def _signed_in(signin: config.SignIn) -> Actor | str | None:
    """The signed-in actor; the e-mail address of a provider account that may not enter; or None."""
    name = st.session_state.get(USER_KEY)
    if isinstance(name, str) and name in signin.users:
        return Actor(name, admin=signin.is_admin(name))
    st.session_state.pop(USER_KEY, None)  # signed out, or removed from the secrets since
    if signin.providers and _user_logged_in():
        email = str(st.user.get("email") or "")
        if st.user.get("email_verified") is False or not signin.admits(email):
            return email
        return Actor(email.lower(), admin=signin.is_admin(email.lower()))
    return None


def _user_logged_in() -> bool:
    try:
        return bool(st.user.get("is_logged_in"))
    except Exception:  # no [auth] section reachable: nobody is logged in through a provider
        return False


def _refuse_account(email: str) -> NoReturn:
    st.error(md(f"The account {email or '(no e-mail address)'} may not use this dashboard; ask an admin "
                "to add it to [frontier] allowed, or sign in with another account."), icon=":material/lock:")
    st.button("Sign out", key="auth:refused_logout", on_click=st.logout)
    st.stop()
    raise AssertionError("unreachable")


# -------------------------------------------------------------- sign-in view
def _sign_in_view(signin: config.SignIn) -> None:
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("Frontier")
        st.caption("Sign in to compare models with your team.")
        for provider in signin.providers:
            label = "Sign in with your identity provider" if provider is None else f"Sign in with {provider}"
            st.button(md(label), key=f"auth:login:{provider or 'default'}", type="primary",
                      on_click=_login, args=(provider,), icon=":material/login:")
        if signin.passwords:
            _password_form(signin)


def _login(provider: str | None) -> None:
    try:
        st.login(provider) if provider else st.login()
    except Exception as exc:  # Authlib missing, provider unreachable...: one line, not a traceback
        st.session_state["auth:login_error"] = first_line(exc)


def _password_form(signin: config.SignIn) -> None:
    error = st.session_state.pop("auth:login_error", None)
    if error:
        st.error(md(f"Sign-in with the identity provider failed: {error}"))
    with st.form("auth:sign_in", clear_on_submit=True, border=True):
        name = st.text_input("User name", key="auth:name", autocomplete="username")
        password = st.text_input("Password", type="password", key="auth:password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if submitted:
        message = attempt(signin, name, password, client_key())
        st.session_state.pop("auth:password", None)  # the password lives no longer than the check
        if message is None:
            st.rerun()
        st.error(md(message), icon=":material/lock:")


def client_key() -> str:
    """The client's address as the server sees it (behind a proxy: the proxy's)."""
    try:
        ip = st.context.ip_address
    except Exception:
        ip = None
    return f"client:{ip if isinstance(ip, str) and ip else 'unknown'}"


def attempt(signin: config.SignIn, name: str, password: str, client: str) -> str | None:
    """Check one sign-in attempt; None when admitted (the session is signed in), else the line to show."""
    name = (name or "").strip()
    user_key = f"user:{name.lower()[:64]}"
    by_user, by_client = throttles()
    wait = max(by_user.wait_s(user_key), by_client.wait_s(client))
    if wait > 0:
        return f"Too many failed sign-ins; try again in {math.ceil(wait)} s."
    stored = signin.users.get(name)
    matched = passwords.verify(password or "", stored or passwords.DUMMY_HASH)
    if stored is not None and matched:
        by_user.succeeded(user_key)  # the client's count stays: one good account must not reset guessing
        st.session_state[USER_KEY] = name
        return None
    by_user.failed(user_key)
    by_client.failed(client)
    return "Wrong user name or password."


def sign_out_button() -> None:
    """A sidebar button that ends the session's sign-in (nothing in the embedded mode)."""
    if st.session_state.get(USER_KEY):
        if st.button("Sign out", key="auth:sign_out", icon=":material/logout:"):
            st.session_state.pop(USER_KEY, None)
            st.session_state.pop(ACTOR_KEY, None)
            st.rerun()
    elif _user_logged_in():
        st.button("Sign out", key="auth:sign_out", icon=":material/logout:", on_click=st.logout)
