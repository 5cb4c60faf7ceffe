"""Pickle and joblib files: arbitrary code by design, loaded only when trusted.

Nothing in a pickle can be checked without running it, so the only checks
are the size cap and that the file is not empty; loading happens in the
worker, from the bytes whose hash is the artifact id.
"""

from __future__ import annotations

import io
from typing import Any

from engine.errors import FrontierError, option


def refusal(name: str) -> FrontierError:
    return FrontierError(
        f"'{name}' is a pickle/joblib file, which can run arbitrary code when loaded; mark it trusted "
        f"({option('trust')}) only if you trust its author, or export it to ONNX or skops")


def load(data: bytes) -> Any:
    """The object in a (trusted) pickle or joblib file."""
    import joblib

    if not data:
        raise FrontierError("the pickle file is empty")
    return joblib.load(io.BytesIO(data))
