"""Identifiers and their patterns: the one place that knows what an id looks like.

Artifacts, datasets and runs are named by a *content id*: the first 16 hex
digits of a SHA-256 (of the bytes, the data, or the request). Jobs are named
by a time stamp and a random suffix. Ids arrive from URLs and editable files,
so every reader validates them with these patterns before building a path.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from typing import Any

CONTENT_ID_LEN = 16
CONTENT_ID_RE = re.compile(rf"[0-9a-f]{{{CONTENT_ID_LEN}}}")
JOB_ID_RE = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")


def content_id(data: bytes) -> str:
    """The id of a blob: 16 hex digits of its SHA-256."""
    return hashlib.sha256(data).hexdigest()[:CONTENT_ID_LEN]


def id_of(digest: Any) -> str:
    """The id from a finished ``hashlib`` object (for data hashed while streaming)."""
    return digest.hexdigest()[:CONTENT_ID_LEN]


def key_id(**parts: Any) -> str:
    """A stable id for a request (artifact, dataset, config, engine version...)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return content_id(blob)


def is_content_id(value: object) -> bool:
    return isinstance(value, str) and CONTENT_ID_RE.fullmatch(value) is not None


def is_job_id(value: object) -> bool:
    return isinstance(value, str) and JOB_ID_RE.fullmatch(value) is not None


def new_job_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
