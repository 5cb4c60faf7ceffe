"""Choosing runs to compare and loading what a comparison needs.

:func:`candidates` filters the run index (one table, no per-run reads) by
dataset, model, format, mode, lineage and date, so listing stays cheap with
thousands of runs. :func:`select` turns run ids into a :class:`Selection`:
their summaries in the order asked, unique labels, latency figures at the
chosen batch size and the *comparison group* of each run. Runs in one group
were scored on the same rows, labels and folds (``folds_id``), so their
metrics sit in one table and paired tests between them are valid; runs of
different groups are never ranked against each other without saying so.
Per-fold scores and predictions are read only for the selected runs, once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from engine import metrics
from engine.errors import FrontierError, option
from engine.ids import CONTENT_ID_RE
from engine.results import ResultStore
from engine.workspace import Workspace

MAX_SELECTED = 200  # runs one comparison loads; pairwise tests grow with its square
LATENCY_QUANTILES = ("p50", "p95", "p99")


@dataclass(frozen=True)
class RunFilter:
    """What the run picker narrows by; empty fields match everything."""

    datasets: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    lineages: tuple[str, ...] = ()
    since: dt.date | None = None
    until: dt.date | None = None
    text: str = ""


def lineage_kind(lineage: object) -> str:
    """A run's lineage reduced to what the picker offers: uploaded, a sample, a trial or a variant."""
    text = str(lineage or "uploaded")
    for prefix in ("trial", "variant", "bundled sample"):
        if text.startswith(prefix):
            return prefix
    return "uploaded"


def candidates(runs: pd.DataFrame, f: RunFilter) -> pd.DataFrame:
    """The runs of the index frame ``runs`` that pass ``f`` (newest first, as given)."""
    if runs.empty:
        return runs
    keep = np.ones(len(runs), dtype=bool)
    for column, wanted in (("dataset", f.datasets), ("model", f.models), ("format", f.formats),
                           ("mode", f.modes)):
        if wanted and column in runs:
            keep &= runs[column].isin(wanted).to_numpy()
    if f.lineages:
        lineage = runs["lineage"] if "lineage" in runs else pd.Series("uploaded", index=runs.index)
        keep &= lineage.map(lineage_kind).isin(f.lineages).to_numpy()
    if (f.since or f.until) and "created_at" in runs:
        day = pd.to_datetime(runs["created_at"], utc=True, errors="coerce").dt.date
        if f.since:
            keep &= (day >= f.since).fillna(False).to_numpy(dtype=bool)
        if f.until:
            keep &= (day <= f.until).fillna(False).to_numpy(dtype=bool)
    out = runs[keep]
    if f.text:
        from engine.results.index import newest_matching

        out, _ = newest_matching(out, f.text, limit=len(out))
    return out


def group_key(run: dict[str, Any] | pd.Series) -> str:
    """The comparison group of a run: its ``folds_id``, or for runs stored before it existed,
    the dataset id with the fold count and seed (conservative: never joins two datasets)."""
    fid = run.get("folds_id")
    if isinstance(fid, str) and fid:
        return fid
    return f"{run.get('dataset_id')}/{run.get('n_folds')}/{run.get('seed')}"


def parse_run_ids(values: Iterable[str]) -> list[str]:
    """Run ids from user input (CLI flags, URL parameters), validated, duplicates dropped in order."""
    out: list[str] = []
    for raw in values:
        value = str(raw).strip().lower()
        if not CONTENT_ID_RE.fullmatch(value):
            shown = str(raw)[:40].encode("unicode_escape").decode()
            raise FrontierError(f"{option('run')}: '{shown}' is not a run id (16 hexadecimal characters)")
        if value not in out:
            out.append(value)
    return out


@dataclass
class Selection:
    """The runs of one comparison and lazily loaded per-run tables.

    ``runs`` has one row per run in the order asked, with ``label`` (unique
    display name), ``group`` (comparison group) and, when ``batch_size`` is
    set, latency quantiles and throughput at that batch size.
    """

    ws: Workspace
    runs: pd.DataFrame
    batch_size: int | None = None
    warnings: list[str] = field(default_factory=list)
    reader: Callable[[str, str], pd.DataFrame] | None = None  # (run_id, table) -> frame; a page's cached read
    _tables: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict, repr=False)
    _scores: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    @property
    def run_ids(self) -> list[str]:
        return self.runs["run_id"].tolist()

    @cached_property
    def labels(self) -> dict[str, str]:
        return dict(zip(self.runs["run_id"], self.runs["label"], strict=True))

    @cached_property
    def task(self) -> str:
        tasks = self.runs["task"].dropna().unique().tolist() if "task" in self.runs else []
        return tasks[0] if len(tasks) == 1 else "classification" if not tasks else "mixed"

    @cached_property
    def groups(self) -> dict[str, list[str]]:
        """Comparison group -> run ids, the largest group first."""
        out: dict[str, list[str]] = {}
        for rid, g in zip(self.runs["run_id"], self.runs["group"], strict=True):
            out.setdefault(g, []).append(rid)
        return dict(sorted(out.items(), key=lambda kv: -len(kv[1])))

    @cached_property
    def group_names(self) -> dict[str, str]:
        """Comparison group -> the dataset names of its runs ("digits / digits_images")."""
        out: dict[str, list[str]] = {}
        for g, name in zip(self.runs["group"], self.runs["dataset"].astype(str), strict=True):
            out.setdefault(g, [])
            if name not in out[g]:
                out[g].append(name)
        named = {g: " / ".join(names) for g, names in out.items()}
        clash = pd.Series(named).duplicated(keep=False)
        for g in clash[clash].index:  # same data, other folds: say which
            r = self.runs.loc[self.runs["group"] == g].iloc[0]
            named[g] += f" ({r.get('n_folds')} folds, seed {r.get('seed')}, {g[:6]})"
        return named

    def group_of(self, run_id: str) -> str:
        return str(self.runs.loc[self.runs["run_id"] == run_id, "group"].iloc[0])

    def run(self, run_id: str) -> dict[str, Any]:
        return self.runs.loc[self.runs["run_id"] == run_id].iloc[0].to_dict()

    def table(self, run_id: str, name: str) -> pd.DataFrame:
        """A run's stored table (folds, predictions, latency, latency_samples), read once."""
        key = (run_id, name)
        if key not in self._tables:
            read = self.reader or ResultStore(self.ws).table
            self._tables[key] = read(run_id, name)
        return self._tables[key]

    def tables(self, name: str, run_ids: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
        """``{label: table}`` for the runs (all selected by default), for the chart ``*_info`` functions."""
        return {self.labels[r]: self.table(r, name) for r in (run_ids or self.run_ids)}

    def fold_scores(self, run_id: str, metric: str) -> np.ndarray | None:
        """Per-fold values of ``metric`` (None when the run lacks it or any fold is undefined); computed
        once per run and metric (pairwise tests ask for every pair)."""
        key = (run_id, metric)
        if key not in self._scores:
            folds = self.table(run_id, "folds")
            values = None
            if metric in folds:
                values = pd.to_numeric(folds.sort_values("fold")[metric], errors="coerce").to_numpy(dtype=float)
                values = None if not len(values) or np.isnan(values).any() else values
            self._scores[key] = values
        return self._scores[key]

    def predictions_by_row(self, run_id: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(y_true, y_pred) of the out-of-fold predictions in row order; None without them. Cached."""
        key = (run_id, "__by_row__")
        if key not in self._scores:
            pred = self.table(run_id, "predictions")
            if {"row", "y_true", "y_pred"} <= set(pred.columns):
                order = np.argsort(pred["row"].to_numpy(), kind="stable")
                self._scores[key] = (pred["y_true"].to_numpy()[order], pred["y_pred"].to_numpy()[order])
            else:
                self._scores[key] = None
        return self._scores[key]

    def test_fraction(self, run_id: str) -> float:
        """The mean share of rows each fold held out (1/k for k-fold)."""
        folds = self.table(run_id, "folds")
        if "n_test" in folds and len(folds) and folds["n_test"].sum() > 0:
            return float(folds["n_test"].mean() / folds["n_test"].sum())
        n = self.run(run_id).get("n_folds") or 5
        return 1.0 / float(n)


def select(ws: Workspace, run_ids: Sequence[str], *, batch_size: int | None = None,
           index: pd.DataFrame | None = None, reader: Callable[[str, str], pd.DataFrame] | None = None) -> Selection:
    """Load the summaries of ``run_ids`` (validated, in order) from the run index.

    ``index`` is the index frame when the caller holds it already (a page).
    Unknown ids raise one error naming them all.
    """
    ids = parse_run_ids(run_ids)
    if not ids:
        raise FrontierError(f"choose at least one run in {option('run')}")
    if len(ids) > MAX_SELECTED:
        raise FrontierError(f"{len(ids)} runs chosen in {option('run')}; compare at most {MAX_SELECTED} at once")
    runs = ResultStore(ws).runs() if index is None else index
    found = runs[runs["run_id"].isin(ids)] if not runs.empty else runs
    missing = [r for r in ids if found.empty or r not in set(found["run_id"])]
    if missing:
        raise FrontierError(f"no run with id {', '.join(missing)} in {ws.root}")
    frame = found.drop_duplicates("run_id").set_index("run_id").loc[ids].reset_index()
    frame = _decoded(frame)
    for column in _summary_fields(frame):  # the index keeps a run's non-null fields only
        if column not in frame:
            frame[column] = None
    from engine.charts.tables import unique_labels

    frame["label"] = unique_labels(frame["model"].astype(str).tolist(), frame["run_id"].tolist())
    frame["group"] = [group_key(r) for r in frame.to_dict("records")]
    sel = Selection(ws, frame, batch_size=batch_size, reader=reader)
    if batch_size is not None:
        _at_batch_size(sel, batch_size)
    return sel


def _summary_fields(frame: pd.DataFrame) -> list[str]:
    """The fields every run summary of these tasks has (null where undefined)."""
    tasks = frame["task"].dropna().unique().tolist() if "task" in frame else []
    out = [f"{m.name}_{part}" for t in tasks or ["classification"] for m in metrics.for_task(t)
           for part in ("mean", "std")]
    out += [c.name for c in metrics.COSTS]
    out += ["latency_p90_ms", "latency_mean_ms", "latency_std_ms", "latency_batch_size", "latency_skewed",
            "latency_skew_reason", "throughput_batch_size", "rows_seen", "lineage", "params", "folds_id"]
    return out


def _decoded(frame: pd.DataFrame) -> pd.DataFrame:
    """Index rows hold JSON columns as text: decode the ones comparisons read."""
    import json

    frame = frame.copy()
    for column in ("config", "environment", "classes", "params"):
        if column in frame:
            frame[column] = [json.loads(v) if isinstance(v, str) else (v if isinstance(v, dict | list) else None)
                             for v in frame[column]]
    return frame


def _at_batch_size(sel: Selection, batch_size: int) -> None:
    """Replace latency quantiles and throughput by those measured at ``batch_size``."""
    cols = {f"latency_{q}_ms": f"{q}_ms" for q in LATENCY_QUANTILES} | {"throughput_per_s": "throughput_per_s"}
    values: dict[str, list[float | None]] = {c: [] for c in cols}
    lacking = []
    for rid in sel.run_ids:
        lat = sel.table(rid, "latency")
        row = lat[lat["batch_size"] == batch_size] if "batch_size" in lat else lat.iloc[0:0]
        if row.empty:
            lacking.append(sel.labels[rid])
        for col, src in cols.items():
            values[col].append(None if row.empty or src not in row else float(row[src].iloc[0]))
    for col, vals in values.items():
        sel.runs[col] = pd.array(vals, dtype="Float64").astype(float)
    sel.runs["latency_batch_size"] = batch_size
    if lacking:
        sel.warnings.append(f"not timed at batch size {batch_size}: {', '.join(lacking)}")


def axis_columns(task: str) -> tuple[list[str], list[str]]:
    """What a Pareto chart may put on its axes: the task's metric columns and the cost columns."""
    return [f"{m.name}_mean" for m in metrics.for_task(task)], [c.name for c in metrics.COSTS]
