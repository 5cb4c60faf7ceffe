"""Zip archives from users (``.skops``, ``.pt2``, TorchScript, ``.npz``), opened defensively.

Before anything is decompressed, :class:`SafeZip` reads the central directory
and refuses what a loader could be tricked by: two entries with one name
(Python's zipfile reads the last, torch's reader the first), names that
escape the archive (absolute, ``..``, backslashes, NUL), encryption, exotic
compression, entries outside a caller's allow-list, and declared sizes over a
cap. Reads go through :meth:`SafeZip.read`, which streams and stops at the
declared size, so an entry whose header lies cannot expand past it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from engine.errors import FrontierError, first_line

CHUNK = 1 << 20
SUPPORTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def is_zip(data: bytes) -> bool:
    """Whether ``data`` looks like a zip archive; a damaged end record is "no", never an exception
    (``zipfile.is_zipfile`` itself raises on some, e.g. a multi-disk count)."""
    try:
        return zipfile.is_zipfile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def mb(n_bytes: float) -> str:
    """Binary megabytes for messages (the unit every Frontier cap uses)."""
    return f"{n_bytes / 2**20:,.1f} MB"


class SafeZip:
    """A zip archive whose directory was checked; read members with :meth:`read`.

    ``what`` names the file in messages; ``cap_bytes`` bounds the sum of the
    declared uncompressed sizes and ``cap_setting`` names the environment
    variable that raises it; ``allowed(name)`` (optional) says which entry
    names may appear.
    """

    def __init__(self, source: bytes | Path, *, what: str, cap_bytes: int, cap_setting: str,
                 allowed: Callable[[str], bool] | None = None) -> None:
        self.what = what
        self.cap_bytes = int(cap_bytes)
        self.cap_setting = cap_setting
        try:
            self._zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes | bytearray) else source)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise FrontierError(f"{what} is not a readable zip archive ({first_line(exc)})") from None
        self.infos: list[zipfile.ZipInfo] = self._zf.infolist()
        self._by_name: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in self.infos:
            name = info.filename
            if name in self._by_name:
                raise FrontierError(f"{what} holds two entries named '{_shown(name)}'; loaders disagree on which "
                                    "one counts, so Frontier refuses it — re-save the file")
            self._by_name[name] = info
            _check_name(name, what)
            if info.flag_bits & 0x1:
                raise FrontierError(f"{what} has an encrypted entry '{_shown(name)}'; save it without encryption")
            if info.compress_type not in SUPPORTED_COMPRESSION:
                raise FrontierError(f"{what} uses an unsupported compression in '{_shown(name)}'; save it with the "
                                    "library's own writer")
            if allowed is not None and not info.is_dir() and not allowed(name):
                raise FrontierError(f"{what} holds an unexpected entry '{_shown(name)}'; it is not an archive "
                                    "Frontier knows how to check")
            total += info.file_size
        if total > self.cap_bytes:
            raise FrontierError(
                f"{what} expands to {mb(total)}, over the {mb(self.cap_bytes)} limit ({cap_setting}); "
                f"raise {cap_setting} if the file is genuine")
        self.total_bytes = total

    # ------------------------------------------------------------- reading
    @property
    def names(self) -> list[str]:
        return [i.filename for i in self.infos]

    def info(self, name: str) -> zipfile.ZipInfo:
        try:
            return self._by_name[name]
        except KeyError:
            raise FrontierError(f"{self.what} has no entry '{_shown(name)}'") from None

    def read(self, name: str, *, limit: int | None = None) -> bytes:
        """The entry's bytes, streamed: never more than its declared size (nor ``limit``)."""
        info = self.info(name)
        cap = info.file_size if limit is None else min(info.file_size, int(limit))
        out = bytearray()
        try:
            with self._zf.open(info) as fh:
                while True:
                    chunk = fh.read(min(CHUNK, cap + 1 - len(out)))
                    if not chunk:
                        break
                    out += chunk
                    if len(out) > cap:
                        raise FrontierError(
                            f"{self.what}: entry '{_shown(name)}' holds more than the {mb(cap)} it declares; "
                            "the archive is corrupt or crafted")
        except FrontierError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
            raise FrontierError(f"{self.what}: entry '{_shown(name)}' could not be read ({first_line(exc)})") from None
        return bytes(out)

    def close(self) -> None:
        self._zf.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_name(name: str, what: str) -> None:
    path = PurePosixPath(name)
    if ("\x00" in name or "\\" in name or path.is_absolute() or ".." in path.parts
            or (len(name) > 1 and name[1] == ":")):
        raise FrontierError(f"{what} holds an entry with an unsafe name '{_shown(name)}'; refusing it")


def _shown(name: str) -> str:
    """An entry name as it may be echoed: printable, short."""
    clean = "".join(c if c.isprintable() else "?" for c in name)
    return clean if len(clean) <= 120 else clean[:117] + "..."
