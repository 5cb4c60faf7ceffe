"""Model tests sign trust records with a key of their own, never the real ``~/.config`` one.

``XDG_CONFIG_HOME`` points at a session folder (the CLI and worker subprocesses
inherit it); ``FRONTIER_SECRET_KEY`` is unset so the key-file path is exercised.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_trust_key(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        mp.delenv("FRONTIER_SECRET_KEY", raising=False)
        yield
