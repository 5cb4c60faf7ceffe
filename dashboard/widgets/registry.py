"""Registry widgets: lists of models and datasets (with owners) and the owner-only delete control.

Everyone sees every item; the delete control offers only what the signed-in
actor may delete (its owner or an admin), and the action checks again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard.text import md
from dashboard.units import size_text
from dashboard.widgets.errors import ui_message
from engine.errors import FrontierError


@dataclass(frozen=True)
class Item:
    """Something that can be deleted: its id, how it is named, and its owner."""

    id: str
    label: str
    owner: str | None


# ------------------------------------------------------------------ messages
def flash(key: str, level: str, message: str) -> None:
    """Queue a message (escaped when shown) for the next run of the page."""
    st.session_state.setdefault(key, []).append((level, message))


def show_flashes(key: str) -> None:
    for level, message in st.session_state.pop(key, []):
        getattr(st, level)(md(message))


# -------------------------------------------------------------------- tables
SHARED = "—"  # shown as the owner of what nobody owns (the bundled samples): only admins delete it


def _owners(values: pd.Series) -> pd.Series:
    return values.map(lambda o: o if isinstance(o, str) and o else SHARED)


def models_table(rows: list[dict], *, key: str) -> None:
    """Registered models: name, owner, format, size (binary units, like the CLI), parameters..."""
    table = pd.DataFrame(rows)
    table["owner"] = _owners(table["owner"])
    order = ["name", "owner", "format", "task", "size_bytes", "n_parameters", "trusted", "lineage", "id"]
    table = table[[c for c in order if c in table.columns]]
    shown = table.style.format({"size_bytes": size_text,
                                "n_parameters": lambda n: "" if pd.isna(n) else f"{int(n):,}"}, na_rep="")
    st.dataframe(shown, hide_index=True, key=key, column_config={
        "name": st.column_config.TextColumn("Name", pinned=True), "owner": "Owner", "format": "Format",
        "task": "Task", "size_bytes": st.column_config.Column("Size", help="file size in binary units (1 MB = 2²⁰ bytes)"),
        "n_parameters": "Parameters", "trusted": st.column_config.CheckboxColumn("Trusted"), "lineage": "Lineage",
        "id": "Id",
    })


def datasets_table(table: pd.DataFrame, *, key: str) -> None:
    table = table.assign(owner=_owners(table["owner"])) if "owner" in table.columns else table
    columns = [c for c in ("name", "owner", "kind", "source", "n_rows", "n_columns", "id") if c in table.columns]
    st.dataframe(table[columns], hide_index=True, key=key, column_config={
        "name": st.column_config.TextColumn("Name", pinned=True), "owner": "Owner", "kind": "Kind",
        "source": "Source", "n_rows": st.column_config.NumberColumn("Rows", format="localized"),
        "n_columns": st.column_config.NumberColumn("Columns"), "id": "Id"})


# -------------------------------------------------------------------- delete
def delete_control(kind: str, items: Sequence[Item], *, may_delete: Callable[[str | None], bool], key: str,
                   note: str, flash_key: str, delete: Callable[[str], None]) -> None:
    """Pick one of your items, press Delete, confirm: ``delete(id)`` runs only after the confirmation."""
    mine = {i.id: i for i in items if may_delete(i.owner)}
    if not mine:
        if items:
            st.caption(f"Only a {kind}'s owner or an admin can delete it; none of these is yours.")
        return
    pending_key, choice_key = f"{key}:pending", f"{key}:choice"

    def ask() -> None:
        st.session_state[pending_key] = st.session_state.get(choice_key)

    def cancel() -> None:
        st.session_state.pop(pending_key, None)

    def confirm() -> None:
        item = mine.get(st.session_state.pop(pending_key, None))
        if item is None:
            return
        try:
            delete(item.id)
        except FrontierError as exc:
            flash(flash_key, "error", ui_message(exc))
            return
        flash(flash_key, "success", f"Deleted {item.label}.")
        st.session_state[choice_key] = None

    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    chosen = c1.selectbox(f"Delete a {kind}", list(mine), format_func=lambda i: mine[i].label, index=None,
                          placeholder=f"choose a {kind} to delete", key=choice_key)
    c2.button(f"Delete {kind}…", key=f"{key}:ask", on_click=ask, disabled=chosen is None,
              icon=":material/delete:", width="stretch")
    pending = st.session_state.get(pending_key)
    if pending in mine:
        with st.container(border=True):
            st.warning(f"Delete {md(mine[pending].label)}? This cannot be undone. {note}")
            a, b, _ = st.columns([1, 1, 4])
            a.button("Yes, delete", key=f"{key}:confirm", type="primary", on_click=confirm)
            b.button("Cancel", key=f"{key}:cancel", on_click=cancel)
