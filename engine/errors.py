"""The one exception type that reaches users, and how any other error becomes one line.

A :class:`FrontierError` carries a single line that says what is wrong and
what to do about it; the CLI prints it on stderr, the dashboard in
``st.error``. Anything else escaping is a bug.
"""

from __future__ import annotations

MAX_LINE = 300


class FrontierError(Exception):
    """A user-facing error: one line, says what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return self.args[0]


def first_line(exc: BaseException, limit: int = MAX_LINE) -> str:
    """The first non-empty line of an exception's message (its type name if it has none)."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0].strip()[:limit] if lines else type(exc).__name__
