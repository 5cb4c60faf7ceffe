"""Frontier's engine: evaluate, time and compare models without a UI.

Nothing in this package imports streamlit; the dashboard and the CLI are two
front ends over the same functions.
"""

from __future__ import annotations

__version__ = "0.1.0"
ENGINE_VERSION = __version__

__all__ = ["ENGINE_VERSION", "__version__"]
