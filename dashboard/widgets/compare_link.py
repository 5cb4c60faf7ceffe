"""The compare page's state in its URL: opening a copied link shows the same comparison.

``st.query_params`` carries the selection, baseline, axes, view and verdict
settings. A link is user input: run ids are validated against the id regex
and the workspace, axis and view names against their option lists, numbers
parsed; anything invalid is dropped with one note, never an error page. The
URL is read once per session (before the widgets exist) and then follows
the widgets.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

import streamlit as st

from engine.compare.selection import MAX_SELECTED
from engine.ids import CONTENT_ID_RE

PREFIX = "compare:"
LOADED = f"{PREFIX}url_loaded"
# URL parameter -> widget key (without the prefix)
LIST_PARAMS = {"runs": "runs"}
TEXT_PARAMS = {"baseline": "baseline", "x": "x", "y": "y", "color": "color", "view": "view", "metric": "metric",
               "cost": "cost"}
NUMBER_PARAMS = {"batch": "batch", "margin": "margin", "rope": "rope", "max_p95": "max_p95",
                 "max_size_mb": "max_size_mb"}


@dataclass
class Choices:
    """What each parameter may hold (from the page's option lists)."""

    run_ids: Collection[str]
    text: Mapping[str, Collection[str]] = field(default_factory=dict)  # parameter -> allowed values


def key(name: str) -> str:
    return PREFIX + name


def load(choices: Choices) -> list[str]:
    """Copy valid URL parameters into the widgets' session state, once per session; notes on what was dropped."""
    if st.session_state.get(LOADED):
        return []
    st.session_state[LOADED] = True
    params = st.query_params
    notes: list[str] = []
    if "runs" in params:
        raw = [v for item in params.get_all("runs") for v in item.split(",") if v]
        valid = [v for v in dict.fromkeys(raw) if CONTENT_ID_RE.fullmatch(v) and v in choices.run_ids]
        dropped = len(raw) - len(valid)
        if dropped:
            notes.append(f"The link names {dropped} run(s) that are not in this workspace; they are left out.")
        st.session_state[key("runs")] = valid[:MAX_SELECTED]
    for param, name in TEXT_PARAMS.items():
        value = params.get(param)
        if value is None:
            continue
        allowed = choices.run_ids if param == "baseline" else choices.text.get(param, ())
        if param == "baseline" and value in allowed and value not in st.session_state.get(key("runs"), []):
            notes.append("The link's baseline is not among its runs; no baseline is used.")
        elif value in allowed:
            st.session_state[key(name)] = value
        else:
            notes.append(f"The link's {param} is not one of the choices here; the default is used.")
    for param, name in NUMBER_PARAMS.items():
        value = params.get(param)
        if value is None:
            continue
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number) and number >= 0:
            st.session_state[key(name)] = int(number) if param == "batch" else number
        else:
            notes.append(f"The link's {param} is not a number of 0 or more; the default is used.")
    return notes


def params_of(values: Mapping[str, object]) -> dict[str, str]:
    """The URL parameters of the current widget values (empty and default values left out)."""
    out: dict[str, str] = {}
    for param in (*LIST_PARAMS, *TEXT_PARAMS, *NUMBER_PARAMS):
        value = values.get(param)
        if value is None or value == "" or value == [] or (isinstance(value, float) and math.isnan(value)):
            continue
        out[param] = ",".join(value) if isinstance(value, Sequence) and not isinstance(value, str) else (
            f"{value:g}" if isinstance(value, float) else str(value))
    return out


def save(values: Mapping[str, object]) -> str:
    """Write the parameters to the browser's URL; returns the link to copy."""
    params = params_of(values)
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)
    base = (getattr(st.context, "url", None) or "").split("?")[0]
    return f"{base}?{urlencode(params)}" if params else base
