"""The one exception type that reaches users.

A :class:`FrontierError` carries a single line that says what is wrong and
what to do about it; the CLI prints it on stderr, the dashboard in
``st.error``. Anything else escaping is a bug.
"""

from __future__ import annotations


class FrontierError(Exception):
    """A user-facing error: one line, says what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return self.args[0]
