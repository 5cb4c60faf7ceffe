"""A self-contained HTML comparison report: one file that opens offline, charts included.

The caller builds the content (:class:`Report` of :class:`Section` s holding Plotly
figures, :class:`Table` s and plain-text notes); :func:`render` turns it into one
HTML document and :func:`write` saves it atomically.

What the document guarantees:

* **Self-contained.** plotly.js is inlined once; each figure is embedded as JSON in a
  ``<script type="application/json">`` data block and drawn with
  ``Plotly.newPlot(div, data, layout, {responsive: true, displaylogo: false})``.
  No URL is loaded: fonts are the system's, and a Content-Security-Policy meta tag
  (``default-src 'none'``) blocks any request a missed escape could start.
* **Every user string is text.** Titles, notes, warnings, table cells and column
  names, provenance keys and values go through Jinja2's autoescape; figure JSON has
  ``<``, ``>``, ``&``, U+2028 and U+2029 written as ``\\uXXXX`` escapes, so no string
  in a figure can close its ``<script>`` block. Strings are data, never templates:
  ``{{ 7*7 }}`` in a title shows as typed.

Plotly itself renders a subset of HTML in trace names, titles and hover text (as SVG
text, never as markup in the page); escape user strings for Plotly where the figure
is built (``engine.charts.style.plain``) so they show as typed.
"""

from __future__ import annotations

import functools
import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from markupsafe import Markup

from engine.workspace import write_bytes_atomic

__all__ = ["PLOTLY_CONFIG", "Report", "Section", "Table", "render", "write"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"
NA_TEXT = "n/a"
PLOTLY_CONFIG: Mapping[str, Any] = {"responsive": True, "displaylogo": False}
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")
MAX_PROVENANCE_DEPTH = 24

# JSON inside <script>: these may only appear inside JSON strings, where \uXXXX means the same
_SCRIPT_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
                        0x2028: "\\u2028", 0x2029: "\\u2029"}
# a cell that reads as a number ("0.953", "-1,234", "0.95 ± 0.01", "12.5 ms", "87%"): right-aligned
_NUMBER_TEXT = re.compile(r"[-+−]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?"
                          r"(\s*±\s*(\d[\d,]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?)?(\s*[%a-zA-Zµ×]{1,3})?")


@dataclass(frozen=True)
class Table:
    """A table shown as HTML: every cell and column name as escaped text.

    ``highlight`` maps a column name (``str(column)``) to the row positions (0-based,
    as ``frame.iloc``) of the cells to mark as best. A frame whose index is not the
    default ``RangeIndex`` shows its index as the first column(s).
    """

    title: str
    frame: pd.DataFrame
    note: str = ""
    highlight: Mapping[str, Sequence[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    """A heading, then its notes (plain-text paragraphs), figures and tables, in that order."""

    title: str
    figures: Sequence[go.Figure] = ()
    tables: Sequence[Table] = ()
    notes: Sequence[str] = ()


@dataclass(frozen=True)
class Report:
    """The whole report: the verdict first, then warnings, sections and provenance.

    ``provenance`` is a nested mapping/sequence of strings and numbers (run ids,
    versions, settings), shown as a nested definition list.
    """

    title: str
    verdict: str | None
    sections: Sequence[Section]
    provenance: Mapping[str, Any]
    warnings: Sequence[str] = ()
    generated_at: str = ""


# ---- view models handed to the template (all strings still raw: the template escapes) ----

@dataclass(frozen=True)
class _Cell:
    text: str
    na: bool = False
    best: bool = False
    header: bool = False  # an index cell: <th scope="row">
    css: str = ""


@dataclass(frozen=True)
class _Column:
    name: str
    css: str = ""


@dataclass(frozen=True)
class _TableView:
    title: str
    note: str
    columns: tuple[_Column, ...]
    rows: tuple[tuple[_Cell, ...], ...]
    has_highlight: bool


@dataclass(frozen=True)
class _FigureView:
    dom_id: str
    data_id: str
    json: Markup  # escaped for a <script> data block


@dataclass(frozen=True)
class _SectionView:
    anchor: str
    title: str
    notes: tuple[str, ...]
    figures: tuple[_FigureView, ...]
    tables: tuple[_TableView, ...]


@dataclass(frozen=True)
class _Node:
    kind: str  # "map" | "list" | "value"
    items: tuple[Any, ...] = ()  # map: ((key, _Node), ...); list: (_Node, ...)
    text: str = ""


# ---- public API ----

def render(report: Report) -> str:
    """The whole HTML document for ``report``."""
    sections = tuple(_section_view(i, s) for i, s in enumerate(report.sections, start=1))
    warnings = tuple(str(w) for w in report.warnings if str(w).strip())
    provenance = _node(report.provenance or {}, 0)
    toc: list[tuple[str, str]] = []
    if report.verdict:
        toc.append(("verdict", "Verdict"))
    if warnings:
        toc.append(("warnings", f"Warnings ({len(warnings)})"))
    toc += [(s.anchor, s.title) for s in sections]
    if provenance.items:
        toc.append(("provenance", "Provenance"))
    n_figures = sum(len(s.figures) for s in sections)
    return _environment().get_template(TEMPLATE).render(
        title=str(report.title) if str(report.title).strip() else "Frontier report",
        verdict=str(report.verdict) if report.verdict else None,
        warnings=warnings,
        sections=sections,
        provenance=provenance,
        generated_at=str(report.generated_at or ""),
        toc=toc,
        csp=Markup(CSP),  # a constant: written as is
        n_figures=n_figures,
        plotly_js=Markup(_plotly_js()) if n_figures else None,
        plotly_config=Markup(script_json(json.dumps(dict(PLOTLY_CONFIG), separators=(",", ":")))),
    )


def write(report: Report, path: Path) -> int:
    """Render ``report`` to ``path`` atomically; returns the number of bytes written.

    The document goes to a temporary file in the same folder, is flushed to disk,
    then replaces ``path`` in one ``os.replace``: a reader sees the old file or the
    new one, never half of one, and a failure leaves no temporary file behind.
    """
    data = render(report).encode("utf-8")
    write_bytes_atomic(Path(path), data)
    return len(data)


def script_json(text: str) -> str:
    """JSON text made safe inside a ``<script>`` element (``</script>``, ``<!--``, U+2028)."""
    return text.translate(_SCRIPT_JSON_ESCAPES)


def figure_json(fig: go.Figure | Mapping[str, Any]) -> str:
    """A figure as compact JSON (``{"data": [...], "layout": {...}}``), script-safe."""
    return script_json(pio.to_json(fig, validate=False, pretty=False, engine="json"))


# ---- helpers ----

@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


@functools.cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    if "</script" in js.lower():  # cannot happen with the bundles Plotly ships; never inline one that could
        raise RuntimeError("plotly.js contains '</script' and cannot be inlined")
    return js


def _section_view(number: int, section: Section) -> _SectionView:
    anchor = f"section-{number}"
    figures = tuple(
        _FigureView(f"{anchor}-figure-{j}", f"{anchor}-figure-{j}-data", Markup(figure_json(fig)))
        for j, fig in enumerate(section.figures, start=1))
    return _SectionView(anchor=anchor, title=str(section.title),
                        notes=tuple(str(n) for n in section.notes if str(n).strip()),
                        figures=figures, tables=tuple(_table_view(t) for t in section.tables))


def _is_na(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.api.types.is_scalar(value) and pd.isna(value))
    except (TypeError, ValueError):
        return False


def _cell_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        return ("∞" if v > 0 else "−∞") if math.isinf(v) else f"{v:.6g}"
    return str(value)


def _cell(value: Any) -> _Cell:
    return _Cell(NA_TEXT, na=True) if _is_na(value) else _Cell(_cell_text(value))


def _reads_as_number(value: Any, text: str) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, numbers.Number) or bool(_NUMBER_TEXT.fullmatch(text.strip()))


def _label(value: Any) -> str:
    if isinstance(value, tuple):  # MultiIndex columns
        return " / ".join(_label(v) for v in value if not _is_na(v) and str(v) != "")
    return "" if _is_na(value) else str(value)


def _classes(**flags: bool) -> str:
    return " ".join(name for name, on in flags.items() if on)


def _table_view(table: Table) -> _TableView:
    frame = table.frame
    n_rows = len(frame)
    names = [_label(c) for c in frame.columns]
    best: dict[int, set[int]] = {}
    for column, rows in (table.highlight or {}).items():
        positions = [i for i, name in enumerate(names) if name == str(column)]
        if not positions:
            raise ValueError(f"table {table.title!r}: highlight names column {column!r}, "
                             f"which is not one of {names}")
        for row in rows:
            if not 0 <= int(row) < n_rows:
                raise ValueError(f"table {table.title!r}: highlight row {row} of column {column!r} "
                                 f"is outside 0..{n_rows - 1}")
            for p in positions:
                best.setdefault(p, set()).add(int(row))

    show_index = not (isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0
                      and frame.index.step == 1 and frame.index.name is None)
    index_names = [_label(n) for n in frame.index.names] if show_index else []
    values = frame.to_numpy(dtype=object) if n_rows else []
    raw: list[list[_Cell]] = []
    numeric = [True] * len(names)
    seen = [False] * len(names)
    for r in range(n_rows):
        row = []
        for c in range(len(names)):
            value = values[r][c]
            cell = _cell(value)
            if not cell.na:
                seen[c] = True
                numeric[c] = numeric[c] and _reads_as_number(value, cell.text)
            row.append(cell)
        raw.append(row)
    numeric = [n and s for n, s in zip(numeric, seen, strict=True)]

    rows: list[tuple[_Cell, ...]] = []
    for r, row in enumerate(raw):
        cells: list[_Cell] = []
        if show_index:
            key = frame.index[r]
            for k in key if isinstance(key, tuple) else (key,):
                na = _is_na(k)
                cells.append(_Cell(NA_TEXT if na else _label(k), na=na, header=True,
                                   css=_classes(index=True, na=na)))
        for c, cell in enumerate(row):
            is_best = r in best.get(c, ())
            cells.append(_Cell(cell.text, na=cell.na, best=is_best,
                               css=_classes(num=numeric[c], na=cell.na, best=is_best)))
        rows.append(tuple(cells))
    columns = tuple(_Column(n, css="index") for n in index_names) + tuple(
        _Column(n, css=_classes(num=numeric[c])) for c, n in enumerate(names))
    return _TableView(title=str(table.title), note=str(table.note or ""), columns=columns,
                      rows=tuple(rows), has_highlight=bool(best))


def _node(value: Any, depth: int) -> _Node:
    if depth >= MAX_PROVENANCE_DEPTH:
        return _Node("value", text="…")
    if isinstance(value, Mapping):
        return _Node("map", items=tuple((_label(k) if not isinstance(k, str) else k, _node(v, depth + 1))
                                        for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return _Node("list", items=tuple(_node(v, depth + 1) for v in sorted(value, key=str)))
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        return _Node("list", items=tuple(_node(v, depth + 1) for v in value))
    if _is_na(value):
        return _Node("value", text=NA_TEXT)
    if isinstance(value, bytes | bytearray):
        return _Node("value", text=value.hex())
    return _Node("value", text=_cell_text(value))
