"""Units as the dashboard shows them: sizes in binary megabytes (2**20 bytes), like the CLI."""

from __future__ import annotations

import math

MB = 2**20
KB = 2**10


def size_text(n_bytes: float | None) -> str:
    """``'1.5 MB'`` or ``'4.3 KB'`` (binary units, as ``python -m engine`` prints them); blank if unknown."""
    if n_bytes is None or (isinstance(n_bytes, float) and math.isnan(n_bytes)):
        return ""
    return f"{n_bytes / MB:.1f} MB" if n_bytes >= MB else f"{n_bytes / KB:.1f} KB"
