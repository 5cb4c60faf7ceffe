"""Size limits of model files, and zip archives opened within them.

One cap, ``FRONTIER_MAX_MODEL_MB`` (:func:`engine.settings.max_model_mb`), bounds
a model file's own size and the sum of the sizes its archive members declare,
checked before anything is decompressed (:class:`engine.archives.SafeZip`).
"""

from __future__ import annotations

from collections.abc import Callable

from engine import settings
from engine.archives import SafeZip, mb
from engine.errors import FrontierError

CAP_SETTING = "FRONTIER_MAX_MODEL_MB"


def cap_bytes() -> int:
    """The model size cap in bytes, read now."""
    return int(settings.max_model_mb() * 2**20)


def check_size(n_bytes: int, what: str) -> None:
    """Refuse a model (or its files together) larger than the cap."""
    cap = cap_bytes()
    if n_bytes > cap:
        raise FrontierError(f"{what} is {mb(n_bytes)}, over the {mb(cap)} model size limit ({CAP_SETTING}); "
                            f"raise {CAP_SETTING} if the file is genuine")


def open_zip(data: bytes, what: str, *, allowed: Callable[[str], bool] | None = None) -> SafeZip:
    """A model archive whose directory passed :class:`SafeZip`'s checks under the model cap."""
    check_size(len(data), what)
    return SafeZip(data, what=what, cap_bytes=cap_bytes(), cap_setting=CAP_SETTING, allowed=allowed)


def is_zip(data: bytes) -> bool:
    """Whether ``data`` starts like a zip archive (local header or empty archive)."""
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")
