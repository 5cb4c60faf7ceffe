"""Sign-in: who is using the dashboard, and whether they may.

- :mod:`~dashboard.auth.config` reads the set-up from ``.streamlit/secrets.toml``;
- :mod:`~dashboard.auth.passwords` hashes and checks passwords (scrypt);
- :mod:`~dashboard.auth.throttle` slows guessing down;
- :mod:`~dashboard.auth.gate` is the Streamlit gate ``app.py`` runs before any page,
  and gives pages the signed-in :class:`engine.owners.Actor`.

``python -m dashboard.auth hash`` prints a password hash for ``[frontier.users]``.
"""
