"""Plan a benchmark in the caller's process: validate everything, find stored runs, collect.

:func:`plan` touches nothing: it checks the models against the dataset so bad
input fails before any work starts, and marks the runs already in the store.
It needs only the dataset's description — a loaded :class:`Dataset`, or the
:class:`DatasetInfo` stored at registration — so a request for a registered
dataset is validated (and, when every run is stored, answered) without
reading the data. :func:`collect` reads the stored summaries back.

A stored run counts as cached only when it can be served as clean: a run whose
latency was flagged skewed (measured while the machine was busy) is planned
again for any request that measures latency, and the new measurement replaces
it. Threads default to :func:`engine.settings.default_threads` (one on small
machines), not to every core.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from engine import ENGINE_VERSION, datasets, samples, settings
from engine.datasets import Checked, Dataset, DatasetInfo
from engine.datasets.prepare import Live
from engine.errors import FrontierError, option
from engine.measure import environment
from engine.measure.latency import LatencySettings
from engine.models import SKLEARN_FORMATS, ArtifactInfo
from engine.results import ResultStore, run_key
from engine.workspace import Workspace

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class BenchmarkConfig:
    """What determines a benchmark's result (besides the model and the data)."""

    target: str | None = None
    drop: tuple[str, ...] = ()
    cv: int = 5
    seed: int = 0
    as_is: bool = False
    latency: LatencySettings | None = field(default_factory=LatencySettings)
    threads: int | None = None  # None: settings.default_threads() (1 on machines with up to 4 cores)
    device: str = "cpu"

    @property
    def n_threads(self) -> int:
        return self.threads or settings.default_threads()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["drop"] = list(self.drop)
        d["threads"] = self.n_threads
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchmarkConfig:
        lat = d.get("latency")
        return cls(**(d | {"drop": tuple(d.get("drop", ())),
                           "latency": LatencySettings(**(lat | {"batch_sizes": tuple(lat["batch_sizes"])})) if lat else None}))


@dataclass(frozen=True)
class PlannedRun:
    run_id: str
    artifact: ArtifactInfo
    name: str
    mode: str
    cached: bool
    rows_seen: bool | None = None  # scored on rows the model was trained on (None: unknown)


@dataclass(frozen=True)
class Plan:
    dataset: Dataset | DatasetInfo
    checked: Checked
    config: BenchmarkConfig
    runs: list[PlannedRun]
    recompute: bool = False

    @property
    def pending(self) -> list[PlannedRun]:
        return [r for r in self.runs if not r.cached]

    @property
    def notes(self) -> list[str]:
        """What the plan changed or leaves out, for the user (not errors); render each with
        :func:`engine.errors.render` (CLI words) or ``render(note, ui=True)``."""
        lat = self.config.latency
        n = self.dataset.n_rows
        skipped = [b for b in lat.batch_sizes if b > n] if lat else []
        if not skipped:
            return []
        return [f"batch size(s) {', '.join(map(str, skipped))} exceed the dataset's {n:,} rows, so latency is "
                f"not measured there; pick smaller {option('batch_sizes')}"]

    def to_request(self) -> dict[str, Any]:
        return {
            "kind": "benchmark", "threads": self.config.n_threads, "dataset_id": self.dataset.id,
            "dataset_name": self.dataset.name, "task": self.checked.task, "config": self.config.to_dict(),
            "recompute": self.recompute,
            "runs": [{"run_id": r.run_id, "artifact_id": r.artifact.id, "name": r.name, "mode": r.mode}
                     | ({"rows_seen": r.rows_seen} if r.rows_seen is not None else {}) for r in self.pending],
        }


# ------------------------------------------------------------------ planning
def plan(ws: Workspace, infos: list[ArtifactInfo], dataset: Dataset | DatasetInfo, config: BenchmarkConfig,
         *, names: list[str] | None = None, use_cache: bool = True) -> Plan:
    """Validate the models ``infos`` against ``dataset`` and find which runs are already stored."""
    if not infos:
        raise FrontierError(f"choose at least one model to benchmark ({option('model')})")
    if config.device.startswith("cuda"):
        _require_cuda()
    tasks = {m.task for m in infos if m.task}
    if len(tasks) > 1:
        raise FrontierError("the chosen models mix classifiers and regressors; benchmark them separately")
    need_numbers = [m.name for m in infos if not (m.format in SKLEARN_FORMATS and m.accepts_non_numeric)]
    described = Live(dataset) if isinstance(dataset, Dataset) else dataset
    checked = datasets.check(described, target=config.target, drop=config.drop, task=next(iter(tasks), None),
                             n_splits=config.cv, numeric=bool(need_numbers),
                             needed_by=", ".join(f"'{n}'" for n in need_numbers[:3]) or None)
    if dataset.kind == "tabular" and config.target is None:  # the default and its name are one request
        config = replace(config, target=checked.target)
    store = ResultStore(ws)
    runs = []
    for i, info in enumerate(infos):
        check_compatible(info, checked, is_image=dataset.kind == "images", as_is=config.as_is)
        mode = "cv-refit" if info.format in SKLEARN_FORMATS and not config.as_is else "as-is"
        rid = run_key(artifact=info.id, dataset=dataset.id, config=config.to_dict() | {"mode": mode},
                      task=checked.task, engine=ENGINE_VERSION, hardware=environment.hardware_fingerprint())
        name = (names[i] if names and i < len(names) and names[i] else info.name)
        seen = samples.rows_seen(info, dataset.name, dataset.source) if mode == "as-is" else False
        cached = use_cache and store.has(rid) and not (config.latency is not None and stored_skewed(store, rid))
        runs.append(PlannedRun(rid, info, name, mode, cached=cached, rows_seen=seen))
    return Plan(dataset, checked, config, runs, recompute=not use_cache)


def replan(ws: Workspace, run_ids: list[str]) -> Plan:
    """The plan that produced stored runs, to run them again (e.g. to measure skewed latency again).

    The runs must come from one benchmark (one dataset and configuration); their
    models and dataset must still be registered. Every run is pending.
    """
    import json

    from engine import models

    if not run_ids:
        raise FrontierError("choose at least one run to measure again")
    store = ResultStore(ws)
    summaries = [store.summary(r) for r in run_ids]
    benchmarks = {(s.get("dataset_id"), json.dumps(s.get("config"), sort_keys=True, default=str)) for s in summaries}
    if len(benchmarks) != 1:
        raise FrontierError("these runs come from different benchmarks; measure them again one benchmark at a time")
    first = summaries[0]
    infos = [models.get(ws, s["artifact_id"]) for s in summaries]
    return plan(ws, infos, datasets.info(ws, first["dataset_id"]), BenchmarkConfig.from_dict(first["config"]),
                names=[s["model"] for s in summaries], use_cache=False)


def stored_skewed(store: ResultStore, run_id: str) -> bool:
    """Whether a stored run's latency was flagged skewed: never served from the cache as clean."""
    try:
        return store.summary(run_id).get("latency_skewed") is True
    except FrontierError:
        return False


def check_compatible(info: ArtifactInfo, checked: Checked, *, is_image: bool, as_is: bool) -> None:
    """Raise a clear error when ``info`` cannot take the checked request's inputs (static checks only)."""
    n_features = len(checked.features)
    if info.format in SKLEARN_FORMATS:
        if is_image:
            raise FrontierError(f"'{info.name}' is a scikit-learn model and needs a tabular dataset, not images")
        if info.task == "classification" and checked.task == "regression":
            raise FrontierError(
                f"'{info.name}' is a classifier but the target is continuous; pick a class column as {option('target')}")
        if as_is and info.n_features is not None and info.n_features != n_features:
            raise FrontierError(
                f"'{info.name}' was fitted on {info.n_features} features but the dataset gives {n_features}; "
                f"check {option('target')} and {option('drop')}")
        if as_is and info.feature_names:
            missing = [c for c in info.feature_names if c not in checked.features]
            if missing:
                raise FrontierError(f"'{info.name}' needs column(s) the dataset lacks: {', '.join(missing[:5])}")
        return
    if info.format in ("onnx", "torch_export") and info.inputs:
        shape = info.inputs[0].get("shape")
        if shape:
            expected = tuple(shape[1:])
            got = checked.input_shape
            if len(expected) != len(got) or any(isinstance(e, int) and e > 0 and e != g for e, g in zip(expected, got, strict=False)):
                raise FrontierError(
                    f"'{info.name}' takes inputs of shape {_fmt_shape(shape)} but the dataset gives rows of shape {_fmt_shape(['N', *got])}; pick the matching dataset")


def _fmt_shape(shape) -> str:
    return "(" + ", ".join(str(d if d not in (None, 0) else "N") for d in shape) + ")"


def _require_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        raise FrontierError(f"{option('device', 'cuda')} was asked for but no CUDA GPU is visible; use {option('device', 'cpu')}")


# --------------------------------------------------------------- collecting
def collect(ws: Workspace, p: Plan) -> list[dict[str, Any]]:
    """Stored summaries for every planned run, marked ``cached`` when served from the store."""
    store = ResultStore(ws)
    out = []
    for r in p.runs:
        s = store.summary(r.run_id)
        out.append(s | {"model": r.name, "cached": r.cached})
    return out
