"""Comparing stored runs: selection, the comparison table, Pareto fronts, significance, the verdict.

Pure functions over the result store; no streamlit. :func:`compare` builds
everything one comparison shows (the CLI's ``compare``, the compare page and
the HTML report call it with the same arguments). Exports load on first use,
so ``python -m engine`` parses its flags without importing scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Axes": "engine.compare.build", "Comparison": "engine.compare.build", "axis_column": "engine.compare.build",
    "compare": "engine.compare.build", "to_json": "engine.compare.build",
    "RunFilter": "engine.compare.selection", "Selection": "engine.compare.selection",
    "candidates": "engine.compare.selection", "parse_run_ids": "engine.compare.selection",
    "select": "engine.compare.selection",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'engine.compare' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
