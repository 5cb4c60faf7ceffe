"""Frontier's Streamlit shell: the router (``app.py``), cached state and shared widgets.

Pages live in ``pages/`` at the repository root; everything they compute comes
from :mod:`engine`.
"""
