"""The sign-in gate in AppTest: nothing renders before sign-in, guessing is throttled, broken set-ups fail closed."""

from __future__ import annotations

import sys

import pytest
from app_support import (
    PASSWORDS,
    UPLOAD_PAGE,
    errors,
    new_app,
    sign_in,
    signed_in_app,
    team_secrets,
    texts,
)

from dashboard.auth import gate
from engine.owners import Actor, local_actor


def _signed_out(at) -> bool:
    titles = [t.value for t in at.title]
    return titles == ["Frontier"] and not at.dataframe and not at.get("plotly_chart") and not at.sidebar.children


def test_embedded_mode_acts_as_the_local_admin(workspace):
    at = new_app().run()
    assert not at.exception
    assert at.title[0].value == "Benchmark"
    assert at.session_state[gate.ACTOR_KEY] == local_actor()
    assert any(local_actor().name in c.value and "(admin)" in c.value for c in at.sidebar.caption)


def test_a_signed_out_visitor_sees_only_the_sign_in_form(workspace):
    at = new_app(secrets=team_secrets()).run()
    assert not at.exception
    assert _signed_out(at), texts(at)
    assert gate.ACTOR_KEY not in at.session_state
    # attack: open another page directly instead of the default one
    at.switch_page(UPLOAD_PAGE).run()
    assert not at.exception
    assert _signed_out(at)
    assert not any("Models & data" in t for t in texts(at))


def test_wrong_password_is_refused_and_the_right_one_admitted(workspace):
    at = new_app(secrets=team_secrets()).run()
    sign_in(at, "alice", "not-her-password")
    assert errors(at) == ["Wrong user name or password."]
    assert _signed_out(at)
    sign_in(at, "alice")
    assert not at.exception and not errors(at)
    assert at.title[0].value == "Benchmark"
    assert at.session_state[gate.ACTOR_KEY] == Actor("alice", admin=False)


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(workspace):
    at = new_app(secrets=team_secrets()).run()
    sign_in(at, "mallory", "whatever-password")
    assert errors(at) == ["Wrong user name or password."]
    assert _signed_out(at)


def test_admins_come_from_the_secrets(workspace):
    at = signed_in_app("carol")
    assert at.session_state[gate.ACTOR_KEY] == Actor("carol", admin=True)
    assert any("carol" in c.value and "(admin)" in c.value for c in at.sidebar.caption)


def test_guessing_one_users_password_locks_that_user_name(workspace):
    """Attack: try passwords for alice until one works. After 3 misses even the right one is refused."""
    at = new_app(secrets=team_secrets()).run()
    for guess in ("password1", "letmein-now", "alice-2024-pw"):
        sign_in(at, "alice", guess)
    sign_in(at, "alice")
    assert len(errors(at)) == 1 and errors(at)[0].startswith("Too many failed sign-ins; try again in")
    assert _signed_out(at)
    # another user on the same client is not locked out by alice's misses
    other = new_app(secrets=team_secrets()).run()
    sign_in(other, "bob")
    assert other.title[0].value == "Benchmark"


def test_rotating_user_names_from_one_client_is_throttled_too(workspace):
    """Attack: dodge the per-user limit by trying a different user name each time."""
    at = new_app(secrets=team_secrets()).run()
    for i in range(gate.CLIENT_FREE):
        sign_in(at, f"user{i}", "some-guess-123")
    sign_in(at, "bob")
    assert len(errors(at)) == 1 and errors(at)[0].startswith("Too many failed sign-ins")
    assert _signed_out(at)


def test_sign_out_ends_the_session(workspace):
    at = signed_in_app("alice")
    at.sidebar.button(key="auth:sign_out").click().run()
    assert _signed_out(at)


def test_a_user_removed_from_the_secrets_is_signed_out(workspace):
    at = signed_in_app("alice")
    secrets = team_secrets()
    del secrets["frontier"]["users"]["alice"]
    at.secrets = secrets
    at.run()
    assert _signed_out(at)


@pytest.mark.parametrize("secrets, words", [
    ({"frontier": {"users": {}}}, "empty"),
    ({"frontier": {"users": {"alice": "plain-text-password"}}}, "not in the form"),
    ({"frontier": {"users": {"../alice": "x"}}}, "may use only"),
    ({"frontier": {"users": team_secrets()["frontier"]["users"], "admins": "alice"}}, "must be a list"),
    ({"auth": {"redirect_uri": "http://h/oauth2callback", "cookie_secret": "x" * 40, "client_id": "c",
               "client_secret": "s", "server_metadata_url": "https://idp/.well-known"}}, "allowed is empty"),
])
def test_a_broken_set_up_fails_closed(workspace, secrets, words):
    """Attack/accident: a secrets file that is present but wrong must not open the app as the local admin."""
    at = new_app(secrets=secrets).run()
    assert not at.exception
    assert len(errors(at)) == 1 and "Sign-in is misconfigured" in errors(at)[0] and words in errors(at)[0]
    assert not at.title and gate.ACTOR_KEY not in at.session_state


def test_a_served_dashboard_without_sign_in_refuses_to_show_anything(workspace, monkeypatch):
    monkeypatch.setattr(sys, "argv", [*sys.argv, gate.SERVE_FLAG])
    at = new_app().run()
    assert not at.exception
    assert len(errors(at)) == 1 and "Sign-in is not configured" in errors(at)[0]
    assert not at.title and gate.ACTOR_KEY not in at.session_state


def _oidc_secrets() -> dict:
    return {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 40,
                     "client_id": "frontier", "client_secret": "s3cret",
                     "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration"},
            "frontier": {"allowed": ["@example.com"], "admins": ["boss@example.com"]}}


def test_identity_provider_accounts_on_the_list_get_in(workspace):
    at = new_app(secrets=_oidc_secrets())
    at.run()
    assert _signed_out(at)
    assert at.button(key="auth:login:default").label == "Sign in with your identity provider"
    at.user = {"is_logged_in": True, "email": "Dave@Example.com", "email_verified": True}
    at.run()
    assert at.title[0].value == "Benchmark"
    assert at.session_state[gate.ACTOR_KEY] == Actor("dave@example.com", admin=False)
    at.user = {"is_logged_in": True, "email": "boss@example.com"}
    at.run()
    assert at.session_state[gate.ACTOR_KEY] == Actor("boss@example.com", admin=True)


@pytest.mark.parametrize("user", [
    {"is_logged_in": True, "email": "eve@evil.example"},  # any account at a public provider
    {"is_logged_in": True, "email": "eve@example.com.evil.example"},  # a look-alike domain
    {"is_logged_in": True, "email": "dave@example.com", "email_verified": False},  # an unverified claim
])
def test_identity_provider_accounts_off_the_list_are_refused(workspace, user):
    at = new_app(secrets=_oidc_secrets())
    at.user = user
    at.run()
    assert not at.exception
    assert len(errors(at)) == 1 and "may not use this dashboard" in errors(at)[0]
    assert not any(t.value == "Benchmark" for t in at.title)
    assert at.button(key="auth:refused_logout")


def test_passwords_are_never_kept_in_session_state(workspace):
    at = signed_in_app("alice")
    assert PASSWORDS["alice"] not in repr(at.session_state.to_dict())
