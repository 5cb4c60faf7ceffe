"""What the Models & data page does with an upload before a worker parses it.

The server never parses an uploaded file: it checks the size and the name,
then hands the bytes to a ``register_model`` or ``register_dataset`` job
(``engine.jobs.submit(..., files=...)``), which checks, describes and
registers the file in a worker under limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard.units import MB
from engine import settings
from engine.errors import FrontierError, option

SERVER_UPLOAD_MB = 100  # server.maxUploadSize for `make serve` (Streamlit's default is 200)
MODEL_UPLOAD_MB = 80
DATASET_UPLOAD_MB = 50
MODEL_TYPES = ("skops", "onnx", "pt", "pth", "pt2", "pkl", "pickle", "joblib")
DATASET_TYPES = ("csv", "parquet", "npz")
# formats that can run code when loaded, known from the suffix alone: refused before any job without trust
CODE_BEARING_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth")
MODEL_UPLOAD, DATASET_UPLOAD = "model", "dataset"  # the names the files get in the job's inputs


def model_limit_mb() -> int:
    """Largest model upload in MB: this page's limit, or less where the engine allows less."""
    return max(1, int(min(MODEL_UPLOAD_MB, settings.max_model_mb())))


def dataset_limit_mb() -> int:
    """Largest dataset upload in MB."""
    return max(1, int(min(DATASET_UPLOAD_MB, settings.max_data_mb())))


def check_size(filename: str, size: int, limit_mb: int, what: str) -> None:
    """Refuse an empty or too large upload (one line)."""
    if size == 0:
        raise FrontierError(f"'{filename}' is empty; upload the {what} file itself")
    if size > limit_mb * MB:
        raise FrontierError(f"'{filename}' is {size / MB:.1f} MB; {what}s may be at most {limit_mb} MB here")


def default_name(filename: str, typed: str | None) -> str:
    """The display name: what was typed, else the file's name without its extension."""
    return (typed or "").strip() or Path(filename).stem or filename


def needs_trust(filename: str) -> bool:
    """Whether the file's suffix alone says it can run code when loaded (pickle, TorchScript)."""
    return Path(filename).suffix.lower() in CODE_BEARING_SUFFIXES


@dataclass(frozen=True)
class Upload:
    """A job request and the files it carries."""

    request: dict[str, Any]
    files: dict[str, bytes]
    title: str


def model_upload(data: bytes, filename: str, *, display_name: str | None, trusted: bool) -> Upload:
    """The ``register_model`` job for an uploaded model; refuses before any job when trust is missing."""
    check_size(filename, len(data), model_limit_mb(), "model")
    if needs_trust(filename) and not trusted:
        raise FrontierError(f"'{filename}' is a pickle/joblib or TorchScript file, which can run code when "
                            f"loaded; tick {option('trust')} only if you trust its author, or export the "
                            "model to ONNX or skops")
    name = default_name(filename, display_name)
    return Upload({"kind": "register_model", "upload": MODEL_UPLOAD, "filename": filename,
                   "display_name": name, "trusted": bool(trusted)},
                  {MODEL_UPLOAD: data}, f"register model {name}")


def dataset_upload(data: bytes, filename: str, *, display_name: str | None) -> Upload:
    """The ``register_dataset`` job for an uploaded dataset."""
    check_size(filename, len(data), dataset_limit_mb(), "dataset")
    name = default_name(filename, display_name)
    return Upload({"kind": "register_dataset", "upload": DATASET_UPLOAD, "filename": filename,
                   "display_name": name},
                  {DATASET_UPLOAD: data}, f"register dataset {name}")
