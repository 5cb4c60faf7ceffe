"""Typed job specs: what a job does (kind and payload), for whom (owner), under which limits.

A :class:`JobSpec` is written to ``jobs/<id>/request.json`` and validated again
when read back: job folders live in a workspace anyone on the team can write,
so nothing read from one is trusted. Each kind has a frozen payload dataclass,
registered with :func:`payload`; a new kind adds one here and a handler in
:mod:`engine.jobs.handlers`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from engine import settings
from engine.compress.methods import DEFAULTS, LIMITS, METHODS, PRUNE_KINDS, in_limits
from engine.errors import FrontierError, option
from engine.ids import is_content_id
from engine.workspace import read_json, write_json_atomic

SPEC_VERSION = 1
REQUEST_FILE = "request.json"
MAX_TEXT = 300
MAX_FILE_NAME_BYTES = 255


# -------------------------------------------------------------------- limits
def _default_step_s() -> float:
    return min(settings.step_time_s(), settings.max_step_time_s())


@dataclass(frozen=True)
class Limits:
    """Resource limits of one job.

    ``memory_mb`` caps the worker's process tree (``FRONTIER_WORKER_MEMORY_MB``);
    ``step_time_s`` caps each step (loading, a probe, one fold's fit, a latency
    sweep; ``FRONTIER_STEP_TIME_S``, at most ``FRONTIER_MAX_STEP_TIME_S``);
    ``time_s`` caps each model's steps together (``FRONTIER_WORKER_TIMEOUT_S``).
    Time spent waiting for the machine counts towards neither.
    """

    memory_mb: int = field(default_factory=settings.worker_memory_mb)
    time_s: float = field(default_factory=settings.worker_timeout_s)
    step_time_s: float = field(default_factory=_default_step_s)

    def __post_init__(self) -> None:
        if isinstance(self.memory_mb, bool) or not isinstance(self.memory_mb, int) or self.memory_mb < 1:
            raise FrontierError(f"the memory limit must be a whole number of MB above 0, got {self.memory_mb!r}")
        if not _positive(self.time_s):
            raise FrontierError(f"the time limit per model must be a number of seconds above 0, got {self.time_s!r}")
        if not _positive(self.step_time_s):
            raise FrontierError(f"{option('time_limit', repr(self.step_time_s))} must be a number of seconds above 0")
        cap = settings.max_step_time_s()
        if self.step_time_s > cap:
            raise FrontierError(f"{option('time_limit', f'{self.step_time_s:g}')} is more than the {cap:g} s a step "
                                f"may take here (FRONTIER_MAX_STEP_TIME_S); ask for at most {cap:g}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> Limits:
        with Fields(data, "job limits") as f:
            return cls(memory_mb=f.get("memory_mb", int), time_s=f.get("time_s", float),
                       step_time_s=f.get("step_time_s", float))


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


# ------------------------------------------------------------ field reading
_REQUIRED = object()


class Fields:
    """Typed reads from an untrusted JSON object; every problem is one line naming the field."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise FrontierError(f"the {where} is not a JSON object")
        self.data, self.where, self.seen = data, where, set()

    def get(self, key: str, kind: type | tuple[type, ...], *, default: Any = _REQUIRED,
            check: Callable[[Any], bool] | None = None, expect: str = "") -> Any:
        self.seen.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                raise FrontierError(f"the {self.where} has no '{key}'")
            return default
        value = self.data[key]
        if value is None and default is None:
            return None
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds:
            kinds = (*kinds, int)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok or (check is not None and not check(value)):
            want = expect or "/".join(k.__name__ for k in kinds)
            raise FrontierError(f"'{key}' in the {self.where} must be {want}, got {_short(value)}")
        return float(value) if float in kinds and not isinstance(value, bool) else value

    def __enter__(self) -> Fields:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:  # read without a problem: now refuse what was not read
            self.done()

    def done(self) -> None:
        extra = sorted(str(k) for k in self.data if k not in self.seen)
        if extra:
            raise FrontierError(f"the {self.where} has unknown field(s): {', '.join(map(_short, extra[:5]))}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(value: str) -> bool:
    return len(value) <= MAX_TEXT and "\x00" not in value


def plain(text: object) -> str:
    """``text`` as one line without control characters (which also mark options inside error
    messages): for names and messages read from files others can write."""
    return " ".join("".join(c if ord(c) >= 32 and ord(c) != 127 else " " for c in str(text)).split())


def check_file_name(name: object, what: str = "file name") -> str:
    """``name`` if it is a plain file name (no folders, separators, NUL or control characters)."""
    if (not isinstance(name, str) or not name or name in (".", "..")
            or len(name.encode("utf-8", "surrogatepass")) > MAX_FILE_NAME_BYTES
            or any(c in "/\\" or ord(c) < 32 or ord(c) == 127 for c in name)):
        raise FrontierError(f"{what} {_short(name)} is not a plain file name; give a name without folders")
    return name


# ------------------------------------------------------------------ payloads
class Payload(Protocol):
    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]: ...


P = TypeVar("P")
PAYLOADS: dict[str, Callable[[Mapping[str, Any]], Any]] = {}


def payload(kind: str) -> Callable[[type[P]], type[P]]:
    """Class decorator: register a payload dataclass (with ``from_dict``) for ``kind``."""
    def wrap(cls: type[P]) -> type[P]:
        cls.kind = kind  # type: ignore[attr-defined]
        PAYLOADS[kind] = cls.from_dict  # type: ignore[attr-defined]
        return cls
    return wrap


@dataclass(frozen=True)
class BenchmarkRun:
    """One model of a benchmark: the run it produces and the artifact it evaluates."""

    run_id: str
    artifact_id: str
    name: str
    mode: str
    rows_seen: bool | None = None  # the model was trained on some of these rows (None: unknown)

    @classmethod
    def from_dict(cls, data: object) -> BenchmarkRun:
        with Fields(data, "benchmark run") as f:
            return cls(run_id=f.get("run_id", str, check=is_content_id, expect="a run id"),
                       artifact_id=f.get("artifact_id", str, check=is_content_id, expect="a model id"),
                       name=plain(f.get("name", str, check=_text, expect="a name")),
                       mode=f.get("mode", str, check=lambda m: m in ("cv-refit", "as-is"), expect="cv-refit or as-is"),
                       rows_seen=f.get("rows_seen", bool, default=None))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.rows_seen is None:  # optional: absent unless the plan knows
            del data["rows_seen"]
        return data


@payload("benchmark")
@dataclass(frozen=True)
class BenchmarkPayload:
    """Evaluate and time models on one dataset (built by ``engine.benchmark.Plan.to_request``)."""

    dataset_id: str
    task: str
    config: Mapping[str, Any]
    runs: tuple[BenchmarkRun, ...]
    threads: int | None = None
    dataset_name: str = ""
    recompute: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"threads": self.threads, "dataset_id": self.dataset_id, "dataset_name": self.dataset_name,
                "task": self.task, "config": dict(self.config), "recompute": self.recompute,
                "runs": [r.to_dict() for r in self.runs]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchmarkPayload:
        with Fields(data, "benchmark request") as f:
            runs = f.get("runs", list, expect="a list of runs")
            return cls(dataset_id=f.get("dataset_id", str, check=is_content_id, expect="a dataset id"),
                       task=f.get("task", str, check=lambda t: t in ("classification", "regression"),
                                  expect="classification or regression"),
                       config=f.get("config", dict, expect="an object of settings"),
                       runs=tuple(BenchmarkRun.from_dict(r) for r in runs),
                       threads=f.get("threads", int, default=None, check=lambda n: 1 <= n <= 4096,
                                     expect="1 to 4096"),
                       dataset_name=f.get("dataset_name", str, default="", check=_text, expect="a name"),
                       recompute=f.get("recompute", bool, default=False))


MAX_SAVED_TRIALS = 20  # trials one "save and benchmark" job takes


@payload("tune")
@dataclass(frozen=True)
class TunePayload:
    """An Optuna search of one family on one registered dataset (built by ``engine.tune.commands``)."""

    family: str
    dataset_id: str
    target: str
    task: str
    n_trials: int
    study: str
    storage: str
    objective: str = ""
    constraints: tuple[str, ...] = ()
    sampler: str = "tpe"
    pruner: str = "median"
    cv: int = 5
    seed: int = 0
    batch_size: int = 1
    space: str = ""
    threads: int | None = None
    save_best: int = 5

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["constraints"] = list(self.constraints)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TunePayload:
        with Fields(data, "tune request") as f:
            return cls(
                family=f.get("family", str, check=_text, expect="a family name"),
                dataset_id=f.get("dataset_id", str, check=is_content_id, expect="a dataset id"),
                target=f.get("target", str, check=_text, expect="a column name"),
                task=f.get("task", str, check=lambda t: t in ("classification", "regression"),
                           expect="classification or regression"),
                n_trials=f.get("n_trials", int, check=lambda n: 1 <= n <= 100_000, expect="1 to 100,000"),
                study=f.get("study", str, check=_text, expect="a study name"),
                storage=f.get("storage", str, check=_text, expect="a storage URL"),
                objective=f.get("objective", str, default="", check=_text, expect="an objective"),
                constraints=tuple(f.get("constraints", list, default=[], check=lambda c: all(
                    isinstance(x, str) and _text(x) for x in c), expect="a list of constraints")),
                sampler=f.get("sampler", str, default="tpe", check=_text, expect="a sampler name"),
                pruner=f.get("pruner", str, default="median", check=_text, expect="a pruner name"),
                cv=f.get("cv", int, default=5, check=lambda n: 2 <= n <= 100, expect="2 to 100"),
                seed=f.get("seed", int, default=0, check=lambda n: 0 <= n < 2**32, expect="0 to 2**32-1"),
                batch_size=f.get("batch_size", int, default=1, check=lambda n: 1 <= n <= 65536, expect="1 to 65536"),
                space=f.get("space", str, default="", check=lambda t: len(t) <= 20_000, expect="a JSON space"),
                threads=f.get("threads", int, default=None, check=lambda n: 1 <= n <= 4096, expect="1 to 4096"),
                save_best=f.get("save_best", int, default=5, check=lambda n: 0 <= n <= 50, expect="0 to 50"))


@payload("tune_save")
@dataclass(frozen=True)
class TuneSavePayload:
    """Save chosen trials of a study as models and benchmark them (the study's own request says how)."""

    study: str
    storage: str
    trials: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "storage": self.storage, "trials": list(self.trials)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TuneSavePayload:
        with Fields(data, "tune save request") as f:
            return cls(study=f.get("study", str, check=_text, expect="a study name"),
                       storage=f.get("storage", str, check=_text, expect="a storage URL"),
                       trials=tuple(f.get("trials", list, check=lambda t: 1 <= len(t) <= MAX_SAVED_TRIALS and all(
                           isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 10**7 for n in t),
                           expect=f"1 to {MAX_SAVED_TRIALS} trial numbers")))


COMPRESS_METHODS = METHODS


@payload("compress")
@dataclass(frozen=True)
class CompressPayload:
    """Compress one registered classifier and benchmark its variants on one registered dataset's folds
    (built by ``engine.compress.commands``)."""

    artifact_id: str
    dataset_id: str
    target: str
    methods: tuple[str, ...]
    task: str = "classification"
    drop: tuple[str, ...] = ()
    name: str = ""
    gate: float = 1.0
    cv: int = 5
    seed: int = 0
    threads: int | None = None
    device: str = "cpu"
    calibration: str = "minmax"
    calibration_rows: int = 256
    batch_sizes: tuple[int, ...] = (1, 32)
    latency_time_s: float = 0.2
    latency_count: int = 20
    dataset_name: str = ""
    prune_kinds: tuple[str, ...] = PRUNE_KINDS
    sparsity: float = DEFAULTS["sparsity"]
    fine_tune_epochs: int = int(DEFAULTS["fine_tune_epochs"])
    student_width: int = int(DEFAULTS["student_width"])
    student_depth: int = int(DEFAULTS["student_depth"])
    temperature: float = DEFAULTS["temperature"]
    alpha: float = DEFAULTS["alpha"]
    distill_epochs: int = int(DEFAULTS["distill_epochs"])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("methods", "drop", "batch_sizes", "prune_kinds"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompressPayload:
        def texts(c: object) -> bool:
            return isinstance(c, list) and len(c) <= 1000 and all(isinstance(x, str) and _text(x) for x in c)

        with Fields(data, "compress request") as f:
            return cls(
                artifact_id=f.get("artifact_id", str, check=is_content_id, expect="a model id"),
                dataset_id=f.get("dataset_id", str, check=is_content_id, expect="a dataset id"),
                target=f.get("target", str, check=_text, expect="a column name"),
                methods=tuple(f.get("methods", list, check=lambda m: 1 <= len(m) <= len(COMPRESS_METHODS) and all(
                    x in COMPRESS_METHODS for x in m), expect=f"a list of {', '.join(COMPRESS_METHODS)}")),
                task=f.get("task", str, default="classification", check=lambda t: t == "classification",
                           expect="classification"),
                drop=tuple(f.get("drop", list, default=[], check=texts, expect="a list of column names")),
                name=plain(f.get("name", str, default="", check=_text, expect="a name")),
                gate=f.get("gate", float, default=1.0, check=lambda g: math.isfinite(g) and 0 <= g <= 100,
                           expect="0 to 100 points"),
                cv=f.get("cv", int, default=5, check=lambda n: 2 <= n <= 100, expect="2 to 100"),
                seed=f.get("seed", int, default=0, check=lambda n: 0 <= n < 2**32, expect="0 to 2**32-1"),
                threads=f.get("threads", int, default=None, check=lambda n: 1 <= n <= 4096, expect="1 to 4096"),
                device=f.get("device", str, default="cpu", check=lambda d: d in ("cpu", "cuda"), expect="cpu or cuda"),
                calibration=f.get("calibration", str, default="minmax",
                                  check=lambda c: c in ("minmax", "entropy", "percentile"),
                                  expect="minmax, entropy or percentile"),
                calibration_rows=f.get("calibration_rows", int, default=256, check=lambda n: 1 <= n <= 10_000,
                                       expect="1 to 10,000"),
                batch_sizes=tuple(f.get("batch_sizes", list, default=[1, 32], check=lambda b: 1 <= len(b) <= 32 and all(
                    isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 65536 for x in b),
                    expect="a list of batch sizes")),
                latency_time_s=f.get("latency_time_s", float, default=0.2,
                                     check=lambda t: math.isfinite(t) and 0 < t <= 60, expect="0 to 60 seconds"),
                latency_count=f.get("latency_count", int, default=20, check=lambda n: 1 <= n <= 100_000,
                                    expect="1 to 100,000"),
                dataset_name=f.get("dataset_name", str, default="", check=_text, expect="a name"),
                prune_kinds=tuple(f.get("prune_kinds", list, default=list(PRUNE_KINDS), check=lambda k: 1 <= len(
                    k) <= len(PRUNE_KINDS) and all(x in PRUNE_KINDS for x in k), expect=" or ".join(PRUNE_KINDS))),
                **{name: f.get(name, float if isinstance(DEFAULTS[name], float) else int, default=DEFAULTS[name],
                               check=lambda v, n=name: in_limits(n, v), expect=f"{LIMITS[name][0]:g} to {LIMITS[name][1]:g}")
                   for name in DEFAULTS})


@payload("describe")
@dataclass(frozen=True)
class DescribePayload:
    """Load a code-bearing model in the worker and record what only loading tells."""

    artifact_id: str

    def to_dict(self) -> dict[str, Any]:
        return {"artifact_id": self.artifact_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DescribePayload:
        with Fields(data, "describe request") as f:
            return cls(f.get("artifact_id", str, check=is_content_id, expect="a model id"))


@dataclass(frozen=True)
class _Upload:
    """An uploaded file waiting in the job's ``inputs/<upload>``, with its original name."""

    upload: str
    filename: str
    display_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def _read(cls, f: Fields, **extra: Any) -> Any:
        display = f.get("display_name", str, default=None, check=_text, expect="a name")
        return cls(upload=check_file_name(f.get("upload", str), "the uploaded file"),
                   filename=check_file_name(f.get("filename", str), "the file name"),
                   display_name=display.strip() or None if display is not None else None, **extra)


@payload("register_model")
@dataclass(frozen=True)
class RegisterModelPayload(_Upload):
    """Check and register an uploaded model file (``inputs/<upload>``) in the worker."""

    trusted: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegisterModelPayload:
        with Fields(data, "model upload request") as f:
            return cls._read(f, trusted=f.get("trusted", bool, default=False))


@payload("register_dataset")
@dataclass(frozen=True)
class RegisterDatasetPayload(_Upload):
    """Parse and register an uploaded dataset file (``inputs/<upload>``) in the worker."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegisterDatasetPayload:
        with Fields(data, "dataset upload request") as f:
            return cls._read(f)


# ---------------------------------------------------------------------- spec
@dataclass(frozen=True)
class JobSpec:
    """A job: its kind, typed payload, owner, limits and display title."""

    kind: str
    payload: Any
    owner: str | None = None
    limits: Limits = field(default_factory=Limits)
    title: str = ""

    def __post_init__(self) -> None:
        if getattr(self.payload, "kind", None) != self.kind:
            raise ValueError(f"a {type(self.payload).__name__} is not a '{self.kind}' payload")
        if self.owner is not None and not (isinstance(self.owner, str) and 0 < len(self.owner) <= 200
                                           and all(ord(c) >= 32 for c in self.owner)):
            raise FrontierError(f"the job owner {_short(self.owner)} is not a user name")
        if not isinstance(self.title, str):
            raise FrontierError("a job title must be text")
        object.__setattr__(self, "title", plain(self.title)[:MAX_TEXT])

    @classmethod
    def from_request(cls, request: object, *, owner: str | None = None, limits: Limits | None = None,
                     title: str = "") -> JobSpec:
        """Validate a request dict (``{"kind": ..., **payload}``) into a spec."""
        if not isinstance(request, Mapping):
            raise FrontierError("a job request must be a JSON object with a 'kind'")
        kind = request.get("kind")
        parse = PAYLOADS.get(kind) if isinstance(kind, str) else None
        if parse is None:
            raise FrontierError(f"unknown job kind {_short(kind)}; known kinds: {', '.join(sorted(PAYLOADS))}")
        body = parse({k: v for k, v in request.items() if k != "kind"})
        return cls(kind, body, owner, limits if limits is not None else Limits(), title)

    def request(self) -> dict[str, Any]:
        """The request as submitted: ``{"kind": ..., **payload}``."""
        return {"kind": self.kind} | self.payload.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return {"version": SPEC_VERSION, "kind": self.kind, "payload": self.payload.to_dict(),
                "owner": self.owner, "title": self.title, "limits": self.limits.to_dict()}

    @classmethod
    def from_dict(cls, data: object) -> JobSpec:
        if isinstance(data, Mapping) and "payload" not in data:  # written before specs had a version
            return cls.from_request(data)
        with Fields(data, "job file request.json") as f:
            f.get("version", int, check=lambda v: v == SPEC_VERSION, expect=f"version {SPEC_VERSION}")
            kind = f.get("kind", str)
            body = f.get("payload", dict, expect="an object")
            return cls.from_request({**body, "kind": kind}, owner=f.get("owner", str, default=None),
                                    limits=Limits.from_dict(f.get("limits", dict)),
                                    title=f.get("title", str, default=""))


def write(job_dir: Path, spec: JobSpec) -> None:
    write_json_atomic(job_dir / REQUEST_FILE, spec.to_dict())


def read(job_dir: Path) -> JobSpec:
    """The job's spec, validated; a damaged file is a one-line error."""
    try:
        data = read_json(job_dir / REQUEST_FILE)
    except FileNotFoundError:
        raise FrontierError(f"job {job_dir.name} has no request.json") from None
    except (ValueError, OSError) as exc:
        raise FrontierError(f"job {job_dir.name}'s request.json is unreadable: {exc.__class__.__name__}") from None
    return JobSpec.from_dict(data)
