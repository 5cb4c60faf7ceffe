"""Comparing stored runs: selection, the comparison table, Pareto fronts, significance, the verdict.

Pure functions over the result store; no streamlit. :func:`compare` builds
everything one comparison shows (the CLI's ``compare``, the compare page and
the HTML report call it with the same arguments).
"""

from engine.compare.build import Axes, Comparison, axis_column, compare, to_json
from engine.compare.selection import RunFilter, Selection, candidates, parse_run_ids, select

__all__ = ["Axes", "Comparison", "RunFilter", "Selection", "axis_column", "candidates", "compare",
           "parse_run_ids", "select", "to_json"]
