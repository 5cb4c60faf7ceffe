"""The data size cap: declared sizes are checked before anything is decoded, and
a :class:`Budget` enforces the cap again while reading, in case a declaration lied.

The cap is ``FRONTIER_MAX_DATA_MB`` (:func:`engine.settings.max_data_mb`, read
at call time): the most a dataset may take once decoded in memory.
"""

from __future__ import annotations

from engine import settings
from engine.archives import mb
from engine.errors import FrontierError

SETTING = "FRONTIER_MAX_DATA_MB"


def cap_bytes() -> int:
    """The cap in bytes, as configured now."""
    return int(settings.max_data_mb() * 2**20)


def over_cap(what: str, size: int, *, measure: str, cap: int | None = None) -> FrontierError:
    """The refusal for ``what`` whose ``measure`` (e.g. "declares") is ``size`` bytes."""
    cap = cap_bytes() if cap is None else cap
    return FrontierError(
        f"{what} {measure} {mb(size)}, over the {mb(cap)} data limit ({SETTING}); "
        f"raise {SETTING} if the file is genuine")


def check_declared(what: str, size: int, *, measure: str = "declares data of", cap: int | None = None) -> None:
    """Refuse ``what`` if ``size`` (a declared or estimated decoded size) is over the cap."""
    cap = cap_bytes() if cap is None else cap
    if size > cap:
        raise over_cap(what, size, measure=measure, cap=cap)


class Budget:
    """Decoded bytes a reader may still produce; :meth:`spend` raises once the cap is passed."""

    def __init__(self, what: str, *, declared: int, cap: int | None = None, claim: str = "declares") -> None:
        self.what = what
        self.declared = int(declared)
        self.claim = claim
        self.cap = cap_bytes() if cap is None else int(cap)
        self.spent = 0

    def spend(self, n_bytes: int) -> None:
        self.spent += int(n_bytes)
        if self.spent > self.cap:
            raise FrontierError(
                f"{self.what} decodes to more than the {mb(self.cap)} data limit ({SETTING}), although it "
                f"{self.claim} {mb(self.declared)}; raise {SETTING} if the file is genuine")
