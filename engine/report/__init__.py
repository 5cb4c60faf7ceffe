"""The self-contained HTML comparison report: :func:`render` a :class:`Report`, or :func:`write` it.

See :mod:`engine.report.html` for what the document guarantees (offline, every user
string escaped, plotly.js inlined once).
"""

from engine.report.html import PLOTLY_CONFIG, Report, Section, Table, figure_json, render, write

__all__ = ["PLOTLY_CONFIG", "Report", "Section", "Table", "figure_json", "render", "write"]
