"""The result store: one folder of Parquet tables per run, written atomically.

``results/<run_id>/`` holds ``summary.parquet`` (one row), ``folds.parquet``,
``predictions.parquet``, ``latency.parquet`` (stats per batch size) and
``latency_samples.parquet``. A run folder appears whole or not at all
(staged, then renamed), so a crash never leaves a corrupt table and deleting
one run never touches another. The run id is a hash of everything that
determines the result, so an identical request finds its stored answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from engine.errors import FrontierError
from engine.owners import Actor
from engine.workspace import Workspace, staged_dir

TABLES = ("summary", "folds", "predictions", "latency", "latency_samples")
JSON_COLUMNS = ("config", "environment", "classes", "params")
RUN_ID_RE = re.compile(r"[0-9a-f]{16}")
STALE_STAGE_S = 3600


def run_key(**parts: Any) -> str:
    """A stable 16-hex id for a request (artifact, dataset, config, engine version...)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class RunRecord:
    """Everything one benchmark run produced."""

    run_id: str
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


class ResultStore:
    """Read and write runs under ``<workspace>/results``."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.root = ws.results

    def path(self, run_id: str):
        if not RUN_ID_RE.fullmatch(run_id):
            raise FrontierError(f"'{run_id}' is not a run id")
        return self.root / run_id

    def has(self, run_id: str) -> bool:
        return (self.path(run_id) / "summary.parquet").is_file()

    def save(self, record: RunRecord, *, replace: bool = False) -> None:
        """Write a run's folder atomically; an existing run is kept unless ``replace``."""
        final = self.path(record.run_id)
        if final.exists() and not replace:
            return
        summary = {k: (json.dumps(v, default=str) if k in JSON_COLUMNS else v)
                   for k, v in record.summary.items()}
        target = final.with_name(f".new-{final.name}-{uuid.uuid4().hex[:8]}") if final.exists() else final
        with staged_dir(target) as stage:
            for name, frame in record.tables.items():
                frame.to_parquet(stage / f"{name}.parquet", index=False)
            pd.DataFrame([summary]).to_parquet(stage / "summary.parquet", index=False)
        if target != final:  # swap in the recomputed run, then drop the old one
            old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
            os.rename(final, old)
            os.rename(target, final)
            shutil.rmtree(old, ignore_errors=True)

    def version(self, run_id: str) -> int:
        """Changes whenever the run is (re)written; 0 when it is not stored (for cache keys)."""
        try:
            return (self.path(run_id) / "summary.parquet").stat().st_mtime_ns
        except OSError:
            return 0

    def listing_version(self) -> int:
        """Changes whenever a run is added, replaced or deleted (for cache keys of :meth:`runs`)."""
        try:
            return self.root.stat().st_mtime_ns
        except OSError:
            return 0

    def summary(self, run_id: str) -> dict[str, Any]:
        path = self.path(run_id) / "summary.parquet"
        if not path.is_file():
            raise FrontierError(f"no run with id '{run_id}' in {self.ws.root}")
        row = pd.read_parquet(path).iloc[0].to_dict()
        return _decode(row)

    def table(self, run_id: str, name: str) -> pd.DataFrame:
        if name not in TABLES:
            raise ValueError(f"unknown table {name}")
        path = self.path(run_id) / f"{name}.parquet"
        return pd.read_parquet(path) if path.is_file() else pd.DataFrame()

    def runs(self) -> pd.DataFrame:
        """Every stored run's summary, newest first (through the run index: O(changes) reads)."""
        from engine.results.index import run_summaries

        runs = run_summaries(self.root)
        if runs.empty:
            return pd.DataFrame()
        return runs.sort_values("created_at", ascending=False, ignore_index=True)

    def delete(self, run_id: str, *, actor: Actor | None = None) -> None:
        """Remove one run's folder (nothing else); with ``actor``, only the run's owner or an admin may."""
        path = self.path(run_id)
        if not path.exists():
            raise FrontierError(f"no run with id '{run_id}' in {self.ws.root}")
        if actor is not None:
            summary = self.summary(run_id)
            actor.require(summary.get("owner"), f"the run of '{summary.get('model', run_id)}'")
        shutil.rmtree(path)

    def sweep_stale(self) -> None:
        """Remove staging folders left by killed writers (only those over an hour old: a live
        writer's folder is younger). One pass over ``results/``."""
        now = time.time()
        with os.scandir(self.root) as entries:
            stale = [e.path for e in entries
                     if e.name.startswith((".stage-", ".new-", ".old-")) and _older_than(e, now - STALE_STAGE_S)]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)


def _older_than(entry: os.DirEntry, when: float) -> bool:
    try:
        return entry.stat(follow_symlinks=False).st_mtime < when
    except FileNotFoundError:  # another sweeper or the writer itself removed it
        return False


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if k in JSON_COLUMNS and isinstance(v, str):
            v = json.loads(v)
        elif hasattr(v, "item"):
            v = v.item()
        if isinstance(v, float) and v != v:  # NaN -> None
            v = None
        out[k] = v
    return out
