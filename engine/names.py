"""Display names of models and datasets: what a user typed or a file was called, made safe to show.

Names are user input that every page, table, chart and error message shows.
They are stored printable (control characters escaped, whitespace collapsed)
and at most :data:`MAX_NAME` characters; markdown and HTML are left as typed
— the places that render them escape them (dashboard text helpers, plain-text
chart labels).
"""

from __future__ import annotations

from engine.errors import printable

MAX_NAME = 120


def clean(name: object) -> str:
    """``name`` as Frontier stores and shows it: one printable line of at most ``MAX_NAME`` characters."""
    text = printable(" ".join(str(name).split()))
    return text if len(text) <= MAX_NAME else text[:MAX_NAME - 1] + "…"
