"""Who made what, and who may change it.

Every model, dataset, run and job records its ``owner`` (a user name). Anyone
may read and compare; only the owner or an admin cancels or deletes. The CLI
acts as the local operating-system user, an admin of its own workspace; the
dashboard acts as the signed-in user (see ``dashboard.auth``), or as the local
user when it runs embedded for one person (``make run``).
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

from engine.errors import FrontierError


@dataclass(frozen=True)
class Actor:
    """The user on whose behalf an action runs."""

    name: str
    admin: bool = False

    def may_modify(self, owner: str | None) -> bool:
        """Owners and admins may cancel or delete; records without an owner only admins."""
        return self.admin or (owner is not None and owner == self.name)

    def require(self, owner: str | None, what: str) -> None:
        """Raise unless this actor may cancel or delete ``what`` (a display phrase)."""
        if not self.may_modify(owner):
            whose = f"{owner}'s" if owner else "a shared"
            raise FrontierError(f"{what} is {whose}; only its owner or an admin can change or delete it")


def local_actor() -> Actor:
    """The operating-system user running this process: admin of the workspace it opens."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = f"uid-{os.getuid()}"
    return Actor(name=name, admin=True)
