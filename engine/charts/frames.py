"""Tidy records built model by model."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def stack(parts: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    """The per-model parts as one tidy frame; an empty one with ``columns`` when there are none."""
    if not parts:
        return pd.DataFrame(columns=list(columns))
    return pd.concat(parts, ignore_index=True)
