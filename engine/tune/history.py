"""Reading studies back for the tune page: the list of studies, each study's trials read
incrementally, and what comparing studies needs (best-so-far, repeats' bands, time-to-target,
final best, hypervolume over trials).

Reading is cheap at 10,000 trials because it is incremental twice over: Optuna's cached RDB
storage (``_CachedStorage``, what ``optuna.load_study`` wraps an ``RDBStorage`` in) re-reads only
trials that were unfinished, and :class:`TrialLog` turns only the trials it has not seen finished
into rows. A page keeps one ``TrialLog`` per study (``st.cache_resource``) and calls
:meth:`TrialLog.refresh` on each rerun.

Best-so-far counts COMPLETE trials that meet every constraint (``trial.set_constraint`` values,
<= 0 is feasible; :func:`engine.tune.samplers.is_feasible`); pruned, failed and infeasible trials advance the trial
count and the clock but never the best.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import FrontierError
from engine.tune.samplers import is_feasible
from engine.tune.study import STOPPED_ATTR, SURPLUS_ATTR

FINISHED = ("COMPLETE", "PRUNED", "FAIL")
MAX_COMPARED = 24  # studies overlaid at once
HV_POINTS = 200  # hypervolume is evaluated at most this many times along a study
TRIAL_COLUMNS = ["number", "state", "feasible", "datetime_start", "datetime_complete", "duration_s",
                 "elapsed_s", "order", "params", "n_steps", "retried", "stopped", "measured"]


# ------------------------------------------------------------------ studies
def list_studies(storage: Any) -> pd.DataFrame:
    """Every study in ``storage``: name, what it tunes (from the ``frontier`` attributes a tune job
    stores), its sampler, trial count and start time. Studies made outside Frontier are listed too,
    with blanks where they say nothing."""
    import optuna

    rows = []
    for s in optuna.get_all_study_summaries(storage, include_best_trial=False):
        sig = s.user_attrs.get("frontier") if isinstance(s.user_attrs.get("frontier"), dict) else {}
        req = s.user_attrs.get("frontier_request") if isinstance(s.user_attrs.get("frontier_request"), dict) else {}
        rows.append({
            "study": s.study_name,
            "family": _text(sig.get("family")),
            "dataset_id": _text(sig.get("dataset_id")),
            "objective": ", ".join(map(_text, sig.get("objective") or [])) if isinstance(sig.get("objective"), list)
            else "",
            "constraints": "; ".join(map(_text, sig.get("constraints") or []))
            if isinstance(sig.get("constraints"), list) else "",
            "directions": ", ".join(d.name.lower() for d in s.directions),
            "sampler": _text(req.get("sampler")),
            "pruner": _text(req.get("pruner")),
            "seed": req.get("seed") if isinstance(req.get("seed"), int) else None,
            "requested": req.get("n_trials") if isinstance(req.get("n_trials"), int) else None,
            "n_trials": s.n_trials,
            "started": s.datetime_start,
        })
    cols = ["study", "family", "dataset_id", "objective", "constraints", "directions", "sampler", "pruner",
            "seed", "requested", "n_trials", "started"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.sort_values("started", ascending=False, na_position="last").reset_index(drop=True)


def _text(value: Any, limit: int = 100) -> str:
    """A value from a study's attributes (anyone with the storage can write them) as short plain text."""
    return "" if value is None else " ".join(str(value).split())[:limit]


# ------------------------------------------------------------------ one study
@dataclass
class TrialLog:
    """A study's trials as a frame, read incrementally: finished trials are converted once.

    ``frame()`` columns: number, state, feasible, datetime_start, datetime_complete, duration_s,
    elapsed_s (seconds from the study's first trial start to this trial's end), order (1-based
    position in completion order), params (dict), n_steps (intermediate values reported), and
    ``value_0`` ... ``value_{k-1}``. Running and waiting trials are counted in ``n_running``.
    """

    study: Any  # optuna.Study
    _rows: list[dict[str, Any]] = field(default_factory=list)
    _seen: set[int] = field(default_factory=set)
    _frame: pd.DataFrame | None = None
    n_running: int = 0
    n_stale: int | None = None  # running trials whose worker stopped beating (None: the storage cannot tell)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, storage: Any, name: str) -> TrialLog:
        import optuna

        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            raise FrontierError(f"no study '{_text(name, 60)}' in this storage") from None
        return cls(study)

    @property
    def name(self) -> str:
        return self.study.study_name

    @property
    def directions(self) -> list[str]:
        return [d.name.lower() for d in self.study.directions]

    @property
    def n_objectives(self) -> int:
        return len(self.study.directions)

    def refresh(self) -> pd.DataFrame:
        """Read what changed since the last call; the whole frame, sorted by completion."""
        with self._lock:
            trials = self.study.get_trials(deepcopy=False)
            fresh, running = [], 0
            for t in trials:
                if t.state.name not in FINISHED:
                    running += 1
                elif t.number not in self._seen:
                    self._seen.add(t.number)
                    if not t.user_attrs.get(SURPLUS_ATTR):  # never sampled: a worker's bookkeeping
                        fresh.append(t)
            self.n_running = running
            self.n_stale = self._stale() if running else 0
            if fresh or self._frame is None:
                for t in fresh:
                    self._rows.append(_row(t, self.n_objectives))
                self._frame = _frame(self._rows, self.n_objectives)
            return self._frame


    def _stale(self) -> int | None:
        """RUNNING trials with no heartbeat for the grace period (their worker was killed or cancelled);
        None where the storage keeps no heartbeats (the journal file, or one opened without them).
        Reads Optuna's RDB heartbeat table (``_get_stale_trial_ids``, private in Optuna 5.0), never writes."""
        storage = self.study._storage
        try:
            if storage.get_heartbeat_interval() is None:
                return None
            return len(storage._get_stale_trial_ids(self.study._study_id))
        except (AttributeError, NotImplementedError):
            return None


def _row(t: Any, k: int) -> dict[str, Any]:
    values = list(t.values) if t.values is not None and t.state.name == "COMPLETE" else [math.nan] * k
    feasible = t.state.name == "COMPLETE" and is_feasible(t)
    row = {"number": t.number, "state": t.state.name, "feasible": feasible, "datetime_start": t.datetime_start,
           "datetime_complete": t.datetime_complete, "params": dict(t.params),
           "n_steps": len(t.intermediate_values), "stopped": bool(t.user_attrs.get(STOPPED_ATTR)),
           "measured": _measured(t.user_attrs),
           "retry_of": tuple(int(n) for n in (t.system_attrs.get("retry_history") or ()) if isinstance(n, int))}
    for i in range(k):
        row[f"value_{i}"] = float(values[i]) if i < len(values) and values[i] is not None else math.nan
    return row


def _measured(attrs: dict[str, Any]) -> dict[str, float]:
    """Latency and size a trial measured (its user attributes: numbers only, anyone with the storage can
    write them)."""
    out: dict[str, float] = {}
    latency = attrs.get("latency")
    items = list(latency.items())[:20] if isinstance(latency, dict) else []
    items.append(("size_bytes", attrs.get("size_bytes")))
    for key, value in items:
        if isinstance(key, str) and len(key) <= 40 and isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
    return out


def _frame(rows: list[dict[str, Any]], k: int) -> pd.DataFrame:
    cols = [c for c in TRIAL_COLUMNS if c not in ("duration_s", "elapsed_s", "order", "retried")]
    frame = pd.DataFrame(rows, columns=[*cols, "retry_of", *(f"value_{i}" for i in range(k))])
    retried = {n for r in rows for n in r["retry_of"]}  # failed when their worker died, run again
    frame["retried"] = frame["number"].isin(retried)
    start = pd.to_datetime(frame["datetime_start"])
    end = pd.to_datetime(frame["datetime_complete"]).fillna(start)
    frame["duration_s"] = (end - start).dt.total_seconds()
    origin = start.min() if len(frame) else pd.NaT
    frame["elapsed_s"] = (end - origin).dt.total_seconds() if len(frame) else pd.Series(dtype=float)
    frame = frame.sort_values(["elapsed_s", "number"], kind="stable").reset_index(drop=True)
    frame["order"] = np.arange(1, len(frame) + 1)
    return frame[[*TRIAL_COLUMNS, *(f"value_{i}" for i in range(k))]]


# ------------------------------------------------------------------ best so far
def best_so_far(trials: pd.DataFrame, *, maximize: bool, objective: int = 0) -> pd.DataFrame:
    """The best feasible value after each finished trial, in completion order.

    Columns: order (trials finished so far), elapsed_s, best (NaN until a feasible trial
    completes), number (the trial that holds the best)."""
    col = f"value_{objective}"
    values = trials[col].to_numpy(dtype=float) if col in trials.columns else np.full(len(trials), np.nan)
    ok = trials["feasible"].to_numpy(dtype=bool) & np.isfinite(values)
    signed = np.where(ok, values if maximize else -values, -np.inf)
    running = np.maximum.accumulate(signed) if len(signed) else signed
    best = np.where(np.isfinite(running), running if maximize else -running, np.nan)
    holder_idx = _argmax_accumulate(signed)
    numbers = trials["number"].to_numpy()
    holder = np.where(holder_idx >= 0, numbers[np.maximum(holder_idx, 0)], -1)
    return pd.DataFrame({"order": trials["order"].to_numpy(), "elapsed_s": trials["elapsed_s"].to_numpy(dtype=float),
                         "best": best, "number": holder})


def _argmax_accumulate(signed: np.ndarray) -> np.ndarray:
    """Index of the running maximum (first reaching it); -1 while every value is -inf."""
    out = np.full(len(signed), -1, dtype=int)
    best, where = -np.inf, -1
    for i, v in enumerate(signed):
        if v > best:
            best, where = v, i
        out[i] = where
    return out


def time_to_target(curve: pd.DataFrame, target: float, *, maximize: bool) -> tuple[float, float]:
    """(trials, seconds) until the best first reaches ``target``; (nan, nan) if it never does."""
    best = curve["best"].to_numpy(dtype=float)
    hit = (best >= target) if maximize else (best <= target)
    hit &= np.isfinite(best)
    if not hit.any():
        return math.nan, math.nan
    i = int(np.argmax(hit))
    return float(curve["order"].iloc[i]), float(curve["elapsed_s"].iloc[i])


def step_values(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The step function through (x, y) (value holds until the next x) read at ``grid``; NaN before
    the first x and after the last one (a study that stopped early is not extrapolated)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    idx = np.searchsorted(x, grid, side="right") - 1
    out = np.where(idx >= 0, y[np.clip(idx, 0, max(len(y) - 1, 0))] if len(y) else np.nan, np.nan)
    if len(x):
        out = np.where(grid > x[-1], np.nan, out)
    return out


@dataclass(frozen=True)
class Band:
    """Best-so-far of a group of repeats on a common grid: median and the min-max over repeats."""

    group: str
    x: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: int


def band(curves: Sequence[pd.DataFrame], *, group: str, by: str = "order", points: int = 200) -> Band:
    """Median and min-max of several best-so-far curves, read as step functions on one grid of
    ``by`` (``order`` = trials, ``elapsed_s`` = seconds). At a grid point only the repeats that
    have reached it count (the band narrows to the longest repeat at its end)."""
    ends = [c[by].max() for c in curves if len(c)]
    if not ends:
        return Band(group, np.array([]), np.array([]), np.array([]), np.array([]), 0)
    top = float(max(ends))
    grid = np.arange(1, int(top) + 1, dtype=float) if by == "order" and top <= points else np.linspace(
        0.0 if by != "order" else 1.0, top, points)
    stack = np.vstack([step_values(c[by].to_numpy(dtype=float), c["best"].to_numpy(dtype=float), grid)
                       for c in curves if len(c)])
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns before any feasible trial
            med = np.nanmedian(stack, axis=0)
            low = np.nanmin(stack, axis=0)
            high = np.nanmax(stack, axis=0)
    return Band(group, grid, med, low, high, len(stack))


# ------------------------------------------------------------------ hypervolume
def reference_point(frames: Iterable[pd.DataFrame], maximize: Sequence[bool], margin: float = 0.1) -> np.ndarray:
    """A reference point in minimisation space (maximised objectives negated): each objective's
    worst feasible value over all the studies, pushed ``margin`` of its range further, so the
    extreme trials still add volume. The same point must be used for every study compared."""
    pts = [_loss_points(f, maximize) for f in frames]
    pts = [p for p in pts if len(p)]
    if not pts:
        raise FrontierError("no study has a completed feasible trial yet, so there is no hypervolume")
    allp = np.vstack(pts)
    worst, best = allp.max(axis=0), allp.min(axis=0)
    span = np.where(worst > best, worst - best, np.maximum(np.abs(worst), 1.0))
    return worst + margin * span


def _loss_points(trials: pd.DataFrame, maximize: Sequence[bool]) -> np.ndarray:
    cols = [f"value_{i}" for i in range(len(maximize))]
    ok = trials["feasible"].to_numpy(dtype=bool)
    pts = trials.loc[ok, cols].to_numpy(dtype=float)
    pts = pts[np.isfinite(pts).all(axis=1)] if len(pts) else pts.reshape(0, len(maximize))
    return pts * np.where(np.asarray(maximize), -1.0, 1.0)


def hypervolume_history(trials: pd.DataFrame, maximize: Sequence[bool], ref: np.ndarray, *,
                        points: int = HV_POINTS) -> pd.DataFrame:
    """Hypervolume dominated by the feasible completed trials so far (Optuna's exact WFG algorithm),
    against the fixed ``ref``, evaluated after at most ``points`` trials spread over the study
    (always including the last). Columns: order, elapsed_s, hypervolume."""
    from optuna._hypervolume import compute_hypervolume  # exact WFG; public plots use the same

    from engine.compare.pareto import non_dominated

    n = len(trials)
    if n == 0:
        return pd.DataFrame({"order": [], "elapsed_s": [], "hypervolume": []})
    cols = [f"value_{i}" for i in range(len(maximize))]
    sign = np.where(np.asarray(maximize), -1.0, 1.0)
    loss = trials[cols].to_numpy(dtype=float) * sign
    ok = trials["feasible"].to_numpy(dtype=bool) & np.isfinite(loss).all(axis=1) & (loss < ref).all(axis=1)
    at = np.unique(np.linspace(0, n - 1, min(points, n)).round().astype(int))
    out, front = [], np.empty((0, len(maximize)))
    last = 0
    for i in at:
        new = loss[last:i + 1][ok[last:i + 1]]
        last = i + 1
        if len(new):
            pool = np.vstack([front, new])
            front = pool[non_dominated(pool, [False] * len(maximize))]
        hv = float(compute_hypervolume(front, ref, assume_pareto=True)) if len(front) else 0.0
        out.append((int(trials["order"].iloc[i]), float(trials["elapsed_s"].iloc[i]), hv))
    return pd.DataFrame(out, columns=["order", "elapsed_s", "hypervolume"])


# ------------------------------------------------------------------ summaries
def final_best(trials: pd.DataFrame, *, maximize: bool, objective: int = 0) -> float:
    curve = best_so_far(trials, maximize=maximize, objective=objective)
    return float(curve["best"].iloc[-1]) if len(curve) else math.nan


def counts(trials: pd.DataFrame) -> dict[str, int]:
    """Finished trials by state (failed ones that were retried apart: their retry counts instead, as in
    :func:`engine.tune.study.tally`), and how many completed ones were infeasible."""
    states = trials["state"].value_counts()
    complete = int(states.get("COMPLETE", 0))
    failed = trials["state"] == "FAIL"
    retried = int((trials["retried"] & failed).sum())
    stopped = int((trials["stopped"] & failed & ~trials["retried"]).sum())
    return {"complete": complete, "pruned": int(states.get("PRUNED", 0)),
            "failed": int(failed.sum()) - retried - stopped, "retried": retried, "stopped": stopped,
            "infeasible": complete - int(trials["feasible"].sum())}


def page_of(trials: pd.DataFrame, *, page: int, size: int = 50, sort: str = "number",
            ascending: bool = True) -> tuple[pd.DataFrame, int]:
    """One page of the trials table (server-side paging: only ``size`` rows leave the engine) and the
    number of pages."""
    if size < 1:
        raise FrontierError("page size must be at least 1")
    n_pages = max(1, math.ceil(len(trials) / size))
    page = min(max(1, int(page)), n_pages)
    if sort not in trials.columns:
        sort = "number"
    order = trials[sort].to_numpy()
    if sort.startswith("value_") or sort in ("number", "duration_s", "elapsed_s", "order"):
        idx = np.argsort(np.nan_to_num(order.astype(float), nan=np.inf if ascending else -np.inf), kind="stable")
        idx = idx if ascending else idx[::-1]
    else:
        idx = np.argsort(order.astype(str), kind="stable")
        idx = idx if ascending else idx[::-1]
    chosen = idx[(page - 1) * size: page * size]
    return trials.iloc[chosen], n_pages
