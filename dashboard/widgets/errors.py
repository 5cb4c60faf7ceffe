"""Errors as one line in the dashboard's words, never a traceback.

Engine errors carry a message in the UI's vocabulary (``ui_message``, options
named by their widget labels); anything else is logged with its traceback on
the server and shown as one line. Every message is escaped: it may quote a
file or model name someone else chose.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import streamlit as st

from dashboard.text import md
from engine.errors import FrontierError, first_line

log = logging.getLogger("frontier.dashboard")


@dataclass
class Outcome:
    """Whether the guarded block finished without an error."""

    ok: bool = True
    message: str | None = None


def ui_message(exc: FrontierError) -> str:
    """The error in the dashboard's words (``ui_message`` where the engine has it)."""
    return getattr(exc, "ui_message", None) or exc.message


def show_error(message: str) -> None:
    """One ``st.error`` line for a message that may quote user strings."""
    st.error(md(message), icon=":material/error:")


@contextlib.contextmanager
def guard(action: str = "") -> Iterator[Outcome]:
    """Run a block; a ``FrontierError`` or any other exception becomes one ``st.error`` line."""
    outcome = Outcome()
    try:
        yield outcome
    except FrontierError as exc:
        outcome.ok, outcome.message = False, ui_message(exc)
        show_error(outcome.message)
    except Exception as exc:
        log.exception("unexpected error%s", f" while {action}" if action else "")
        where = f" while {action}" if action else ""
        outcome.ok, outcome.message = False, f"Unexpected error{where}: {type(exc).__name__}: {first_line(exc)}"
        show_error(outcome.message)
