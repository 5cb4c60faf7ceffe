"""Model families that Optuna can tune, their documented search spaces, and user-defined spaces.

A :class:`Family` builds a seeded scikit-learn estimator (for ``mlp`` and ``cnn``, a
scikit-learn compatible torch wrapper) for a task from a dict of parameters; its default space (per task, see :meth:`Family.space`) says
which parameters a search varies and over which ranges. Parameter names are
the estimator's own (``get_params`` keys), so pipelines use ``step__param``.

Default spaces (``log`` = sampled log-uniformly):

``logreg``  standardised features, then
    classification ``LogisticRegression``: ``clf__C`` 1e-4..1e3 log;
    regression ``Ridge``: ``clf__alpha`` 1e-4..1e3 log.
``random_forest``  ``RandomForestClassifier`` / ``RandomForestRegressor``:
    ``n_estimators`` 10..300, ``max_depth`` 2..32, ``min_samples_leaf`` 1..20,
    ``max_features`` sqrt / log2 / 1.0. ``threads`` becomes ``n_jobs``.
``hist_gradient_boosting``  ``HistGradientBoostingClassifier`` / ``...Regressor``:
    ``learning_rate`` 1e-3..0.5 log, ``max_iter`` 20..300, ``max_leaf_nodes``
    8..128, ``l2_regularization`` 1e-8..10 log. Its OpenMP threads are left alone.
``svm``  standardised features, then
    classification ``SVC`` calibrated by ``CalibratedClassifierCV(ensemble=False,
    cv=3)`` (sigmoid, scikit-learn's replacement for the deprecated
    ``SVC(probability=True)``), so that log-loss and ROC-AUC can be scored:
    ``clf__estimator__C`` 1e-3..1e3 log, ``clf__estimator__gamma`` 1e-4..1 log,
    ``clf__estimator__kernel`` rbf / linear. Cost: four SVC fits per build (three
    folds and the final one), and SVC fits grow about quadratically with the rows,
    so keep this family for small data (the fitted calibration types are on the skops
    allow-list, so its best trials are saved like any other);
    regression ``SVR``: ``clf__C``, ``clf__gamma``, ``clf__kernel`` over the same ranges.
``mlp``  a torch ReLU MLP (:mod:`engine.tune.torch_families`), classification and regression,
    on tabular rows or images (flattened): ``learning_rate`` 1e-4..0.1 log (Adam), ``width``
    16..256 log (units per hidden layer), ``depth`` 1..3 (hidden layers), ``dropout`` 0..0.5,
    ``batch_size`` 16 / 32 / 64 / 128, ``epochs`` 5..40.
``cnn``  a small torch CNN, classification only, on images (N, C, H, W) or on a square number
    of features read as one (1, side, side) image (digits' 64 pixels as 8x8; any other count is
    refused): ``learning_rate`` 1e-4..0.1 log, ``width`` 8..32 log (channels per 3x3 conv),
    ``depth`` 1..3 (conv blocks, each 2x2-max-pooled while the map is at least 4x4),
    ``dropout`` 0..0.5, ``batch_size`` 16 / 32 / 64 / 128, ``epochs`` 5..30.
    Both hold out ``validation_fraction`` (0.1, seeded, stratified) of each fit's rows, never
    trained on, where the per-epoch score the pruner sees is measured; ``threads`` becomes torch's
    thread count. Their best trials are saved as TorchScript (standardisation baked in), not skops.

Every estimator gets ``random_state=seed``. :meth:`Family.check_input` refuses data a family cannot
read (images for the scikit-learn families; a non-square flat row for ``cnn``). A user space (``--space``, JSON) may
only name parameters the family's estimator accepts and holds plain numbers,
strings, booleans or null; :func:`parse_space` checks it strictly.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from engine.errors import FrontierError, option

TASKS = ("classification", "regression")

MAX_SPACE_BYTES = 20_000
MAX_PARAMS = 30
MAX_CHOICES = 50
MAX_CHOICE_CHARS = 100
MAX_INT = 10**9
_NAME_SHOWN = 60

#: Parameters a user space may never set (by last ``__`` component): the seed and threads are
#: Frontier's, ``memory`` writes a cache to disk, the rest change what is measured or only add noise.
DENIED = frozenset({
    "random_state", "n_jobs", "memory", "verbose", "transform_input", "copy", "copy_X",
    "cache_size", "cv", "ensemble", "probability", "warm_start", "verbose_feature_names_out", "threads",
})
#: Upper bounds on parameters whose size is run time (by last ``__`` component).
CAPS: Mapping[str, int] = MappingProxyType({"n_estimators": 2000, "max_iter": 10_000, "epochs": 1000,
                                            "width": 4096, "depth": 16, "batch_size": 65536})
MIN_SIDE = 2  # the smallest square (2x2) a flat row may be read as an image


@dataclass(frozen=True)
class Param:
    """One searched parameter."""

    name: str  # estimator parameter name (for pipelines: "clf__C")
    kind: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    help: str = ""


Builder = Callable[[int, int], Any]  # (seed, threads) -> unfitted estimator


@dataclass(frozen=True)
class Family:
    """A tunable model family: how to build it per task and its default spaces."""

    name: str
    label: str
    tasks: tuple[str, ...]
    spaces: Mapping[str, tuple[Param, ...]]  # task -> the default, documented space
    builders: Mapping[str, Builder] = field(repr=False, compare=False, default_factory=dict)
    artifact: Literal["skops", "torchscript"] = "skops"  # how run.py saves a best trial
    inputs: Literal["tabular", "any", "image"] = "tabular"  # rows it reads: features, anything, or images

    def __post_init__(self) -> None:
        object.__setattr__(self, "spaces", MappingProxyType({t: tuple(s) for t, s in self.spaces.items()}))
        object.__setattr__(self, "builders", MappingProxyType(dict(self.builders)))

    def space(self, task: str) -> tuple[Param, ...]:
        """The default search space for ``task``."""
        return self.spaces[self._task(task)]

    def build(self, params: Mapping[str, Any], *, task: str, seed: int, threads: int = 1) -> Any:
        """An unfitted, seeded estimator for ``task`` with ``params`` set on it."""
        est = self.builders[self._task(task)](int(seed), max(1, int(threads)))
        if params:
            allowed = _tunable(est)
            for name in params:
                if name not in allowed:
                    raise FrontierError(f"{self.label} has no tunable parameter {_show(name)}")
            est.set_params(**dict(params))
        return est

    @property
    def needs_numeric(self) -> bool:
        """Whether every feature must be a number (the torch families read a float32 array)."""
        return self.artifact == "torchscript"

    def check_input(self, row_shape: Sequence[int], data: str | None = None) -> None:
        """Refuse, in one line, rows of ``row_shape`` (``(F,)`` or ``(C, H, W)``) this family cannot read."""
        shape = tuple(int(d) for d in row_shape)
        if self.inputs == "tabular" and len(shape) != 1:
            where = f"'{_cut(data)}'" if data else "the dataset"
            raise FrontierError(f"{option('family', self.name)} needs a tabular dataset, but {where} holds images of "
                                f"shape {shape}; use {option('family', 'mlp')} or cnn")
        if self.inputs == "image":
            image_shape(shape, self.name, data)

    def _task(self, task: str) -> str:
        if task not in self.tasks:
            raise FrontierError(f"{self.label} cannot do {_show(task)}; it does {' and '.join(self.tasks)}")
        return task


def image_shape(row_shape: Sequence[int], family: str = "cnn", data: str | None = None) -> tuple[int, int, int]:
    """The ``(C, H, W)`` a CNN reads rows of ``row_shape`` as: images as they are, a flat row of a square
    number of features (at least ``MIN_SIDE`` squared) as ``(1, side, side)``; anything else is refused."""
    shape = tuple(int(d) for d in row_shape)
    if len(shape) == 3:
        return shape  # type: ignore[return-value]
    n = math.prod(shape) if shape else 0
    side = math.isqrt(n)
    if len(shape) == 1 and side * side == n and side >= MIN_SIDE:
        return (1, side, side)
    where = f"'{_cut(data)}' has" if data else "the data have"
    what = f"{n} features" if len(shape) == 1 else f"rows of shape {shape}"
    raise FrontierError(f"{option('family', family)} needs images (N, C, H, W) or a square number of features it "
                        f"can read as one image (e.g. 64 = 8x8); {where} {what}; use {option('family', 'mlp')}")


def _cut(text: str | None) -> str:
    text = str(text)
    return text if len(text) <= _NAME_SHOWN else text[:_NAME_SHOWN] + "…"


# ------------------------------------------------------------------ builders
def _scaled(model: Any) -> Any:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("clf", model)])


def _logreg_clf(seed: int, threads: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return _scaled(LogisticRegression(max_iter=1000, random_state=seed))


def _logreg_reg(seed: int, threads: int) -> Any:
    from sklearn.linear_model import Ridge

    return _scaled(Ridge(random_state=seed))


def _rf_clf(seed: int, threads: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(random_state=seed, n_jobs=threads)


def _rf_reg(seed: int, threads: int) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(random_state=seed, n_jobs=threads)


def _hgb_clf(seed: int, threads: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=seed)


def _hgb_reg(seed: int, threads: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(random_state=seed)


def _svm_clf(seed: int, threads: int) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    return _scaled(CalibratedClassifierCV(SVC(random_state=seed), method="sigmoid", cv=3, ensemble=False))


def _svm_reg(seed: int, threads: int) -> Any:
    from sklearn.svm import SVR

    return _scaled(SVR())


def _mlp_clf(seed: int, threads: int) -> Any:
    from engine.tune.torch_families import TorchMLPClassifier

    return TorchMLPClassifier(random_state=seed, threads=threads)


def _mlp_reg(seed: int, threads: int) -> Any:
    from engine.tune.torch_families import TorchMLPRegressor

    return TorchMLPRegressor(random_state=seed, threads=threads)


def _cnn_clf(seed: int, threads: int) -> Any:
    from engine.tune.torch_families import TorchCNNClassifier

    return TorchCNNClassifier(random_state=seed, threads=threads)


# ------------------------------------------------------------------ families
def _svm_space(prefix: str) -> tuple[Param, ...]:
    return (
        Param(f"{prefix}C", "float", 1e-3, 1e3, log=True, help="inverse regularisation strength"),
        Param(f"{prefix}gamma", "float", 1e-4, 1.0, log=True, help="RBF kernel width (ignored by linear)"),
        Param(f"{prefix}kernel", "categorical", choices=("rbf", "linear"), help="kernel"),
    )


_RF_SPACE = (
    Param("n_estimators", "int", 10, 300, help="number of trees"),
    Param("max_depth", "int", 2, 32, help="deepest a tree may grow"),
    Param("min_samples_leaf", "int", 1, 20, help="fewest rows in a leaf"),
    Param("max_features", "categorical", choices=("sqrt", "log2", 1.0), help="features tried per split"),
)
_HGB_SPACE = (
    Param("learning_rate", "float", 1e-3, 0.5, log=True, help="shrinkage of each tree"),
    Param("max_iter", "int", 20, 300, help="boosting iterations"),
    Param("max_leaf_nodes", "int", 8, 128, help="most leaves per tree"),
    Param("l2_regularization", "float", 1e-8, 10.0, log=True, help="L2 penalty on leaf values"),
)

_BATCHES = (16, 32, 64, 128)
_MLP_SPACE = (
    Param("learning_rate", "float", 1e-4, 0.1, log=True, help="Adam's step size"),
    Param("width", "int", 16, 256, log=True, help="units per hidden layer"),
    Param("depth", "int", 1, 3, help="hidden layers"),
    Param("dropout", "float", 0.0, 0.5, help="dropout after each hidden layer"),
    Param("batch_size", "categorical", choices=_BATCHES, help="rows per gradient step"),
    Param("epochs", "int", 5, 40, help="passes over the training rows"),
)
_CNN_SPACE = (
    Param("learning_rate", "float", 1e-4, 0.1, log=True, help="Adam's step size"),
    Param("width", "int", 8, 32, log=True, help="channels per 3x3 convolution"),
    Param("depth", "int", 1, 3, help="convolution blocks"),
    Param("dropout", "float", 0.0, 0.5, help="dropout before the linear head"),
    Param("batch_size", "categorical", choices=_BATCHES, help="rows per gradient step"),
    Param("epochs", "int", 5, 30, help="passes over the training rows"),
)

FAMILIES: Mapping[str, Family] = MappingProxyType({f.name: f for f in (
    Family("logreg", "Logistic / ridge regression", TASKS,
           {"classification": (Param("clf__C", "float", 1e-4, 1e3, log=True,
                                     help="inverse regularisation strength"),),
            "regression": (Param("clf__alpha", "float", 1e-4, 1e3, log=True,
                                 help="regularisation strength"),)},
           {"classification": _logreg_clf, "regression": _logreg_reg}),
    Family("random_forest", "Random forest", TASKS,
           {"classification": _RF_SPACE, "regression": _RF_SPACE},
           {"classification": _rf_clf, "regression": _rf_reg}),
    Family("hist_gradient_boosting", "Histogram gradient boosting", TASKS,
           {"classification": _HGB_SPACE, "regression": _HGB_SPACE},
           {"classification": _hgb_clf, "regression": _hgb_reg}),
    Family("svm", "Support vector machine", TASKS,
           {"classification": _svm_space("clf__estimator__"), "regression": _svm_space("clf__")},
           {"classification": _svm_clf, "regression": _svm_reg}),
    Family("mlp", "Torch MLP", TASKS,
           {"classification": _MLP_SPACE, "regression": _MLP_SPACE},
           {"classification": _mlp_clf, "regression": _mlp_reg}, artifact="torchscript", inputs="any"),
    Family("cnn", "Torch CNN", ("classification",),
           {"classification": _CNN_SPACE},
           {"classification": _cnn_clf}, artifact="torchscript", inputs="image"),
)})


def family(name: str) -> Family:
    """The family called ``name``."""
    if isinstance(name, str) and name in FAMILIES:
        return FAMILIES[name]
    raise FrontierError(f"unknown model family {_show(name)}; choose one of: {', '.join(FAMILIES)}")


def suggest(trial: Any, space: Sequence[Param]) -> dict[str, Any]:
    """Parameters for one Optuna trial drawn from ``space``."""
    out: dict[str, Any] = {}
    for p in space:
        if p.kind == "float":
            out[p.name] = trial.suggest_float(p.name, float(p.low), float(p.high), log=p.log)  # type: ignore[arg-type]
        elif p.kind == "int":
            out[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)  # type: ignore[arg-type]
        else:
            out[p.name] = trial.suggest_categorical(p.name, list(p.choices))
    return out


# --------------------------------------------------------------- user spaces
def _show(value: object) -> str:
    """``value`` quoted (strings) or written out, cut short: user text never makes a long line."""
    if not isinstance(value, str):
        return repr(value)[:_NAME_SHOWN]
    return repr(value if len(value) <= _NAME_SHOWN else value[:_NAME_SHOWN] + "…")


def _scalar(value: object) -> bool:
    return value is None or type(value) in (str, int, float, bool)


def _tunable(est: Any) -> set[str]:
    """Parameter names of ``est`` a space may set: scalar-valued, not in :data:`DENIED`."""
    return {k for k, v in est.get_params(deep=True).items()
            if _scalar(v) and k.rsplit("__", 1)[-1] not in DENIED}


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise FrontierError(f"{option('space')} names {_show(key)} twice; give each parameter once")
        out[key] = value
    return out


def _load(obj: Mapping[str, Any] | str) -> Any:
    if isinstance(obj, Mapping):
        try:
            obj = json.dumps(obj)
        except (TypeError, ValueError, RecursionError):
            raise FrontierError(
                f"{option('space')} must hold only JSON values (numbers, strings, true/false, null, lists, objects)"
            ) from None
    if not isinstance(obj, str):
        raise FrontierError(f"{option('space')} must be JSON text or a mapping of parameter names to ranges")
    if len(obj.encode("utf-8", "surrogatepass")) > MAX_SPACE_BYTES:
        raise FrontierError(f"{option('space')} is larger than {MAX_SPACE_BYTES // 1000} KB; keep it to the parameters you tune")
    try:
        return json.loads(obj, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
        detail = f": {exc.msg} at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise FrontierError(f"{option('space')} is not valid JSON{detail}") from None


def _number(name: str, key: str, value: Any, kind: str) -> float | int:
    where = f"{option('space')} {_show(name)}: {key!r}"
    if type(value) not in (int, float):
        raise FrontierError(f"{where} must be a number, not {type(value).__name__} {_show(value)}")
    if not math.isfinite(value):
        raise FrontierError(f"{where} must be a finite number, not {value}")
    if kind == "int":
        if value != int(value):
            raise FrontierError(f"{where} must be a whole number for an int parameter, not {value}")
        if abs(value) > MAX_INT:
            raise FrontierError(f"{where} must be between -{MAX_INT} and {MAX_INT}")
        return int(value)
    return float(value)


def _param(name: str, spec: Any) -> Param:
    where = f"{option('space')} {_show(name)}"
    if not isinstance(spec, dict):
        raise FrontierError(f'{where} must be an object such as {{"type": "float", "low": 0.01, "high": 1}}')
    kind = spec.get("type")
    if kind not in ("float", "int", "categorical"):
        raise FrontierError(f'{where} needs "type": "float", "int" or "categorical", not {_show(kind)}')
    keys = {"type", "choices"} if kind == "categorical" else {"type", "low", "high", "log"}
    extra = sorted(set(spec) - keys)
    if extra:
        raise FrontierError(f"{where} has unknown key {_show(extra[0])}; a {kind} range takes {', '.join(sorted(keys))}")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise FrontierError(f'{where} needs "choices": a non-empty list')
        if len(choices) > MAX_CHOICES:
            raise FrontierError(f"{where} has {len(choices)} choices; give at most {MAX_CHOICES}")
        seen: list[Any] = []
        for c in choices:
            if not _scalar(c):
                raise FrontierError(f"{where}: each choice must be a string, number, true/false or null, "
                                    f"not {type(c).__name__}")
            if isinstance(c, float) and not math.isfinite(c):
                raise FrontierError(f"{where}: choices must be finite numbers, not {c}")
            if isinstance(c, int) and not isinstance(c, bool) and abs(c) > MAX_INT:
                raise FrontierError(f"{where}: whole-number choices must be between -{MAX_INT} and {MAX_INT}")
            if isinstance(c, str) and len(c) > MAX_CHOICE_CHARS:
                raise FrontierError(f"{where}: a string choice is longer than {MAX_CHOICE_CHARS} characters")
            if any(type(c) is type(s) and c == s for s in seen):
                raise FrontierError(f"{where} lists the choice {_show(c)} twice")
            seen.append(c)
        return Param(name, "categorical", choices=tuple(choices))
    for key in ("low", "high"):
        if key not in spec:
            raise FrontierError(f'{where} needs "low" and "high"')
    low = _number(name, "low", spec["low"], kind)
    high = _number(name, "high", spec["high"], kind)
    if not low < high:
        raise FrontierError(f"{where}: low ({low}) must be below high ({high})")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise FrontierError(f'{where}: "log" must be true or false, not {_show(log)}')
    if log and low <= 0:
        raise FrontierError(f"{where}: a log range needs low above 0, not {low}")
    cap = CAPS.get(name.rsplit("__", 1)[-1])
    if cap is not None and high > cap:
        raise FrontierError(f"{where}: high ({high}) must be at most {cap}")
    return Param(name, kind, low, high, log=log)  # type: ignore[arg-type]


def _validate_values(est: Any, param: Param, family: Family) -> None:
    """Let scikit-learn's own parameter checks see each end of a range and every choice."""
    from sklearn.base import BaseEstimator

    values = param.choices if param.kind == "categorical" else (param.low, param.high)
    for value in values:
        try:
            est.set_params(**{param.name: value})
            stack = [est]
            while stack:
                e = stack.pop()
                if hasattr(e, "_validate_params"):
                    e._validate_params()
                stack += [v for v in e.get_params(deep=False).values() if isinstance(v, BaseEstimator)]
                stack += [s for _, s in getattr(e, "steps", []) if isinstance(s, BaseEstimator)]
        except (ValueError, TypeError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise FrontierError(f"{option('space')} {_show(param.name)}: {_show(value)} is not accepted by "
                                f"{family.label}: {reason[:200]}") from None


def parse_space(obj: Mapping[str, Any] | str, family: Family, *, task: str | None = None) -> tuple[Param, ...]:
    """A user-defined search space, checked against ``family`` (for ``task``, or for every task the
    family does when ``task`` is None).

    ``obj`` is JSON text or a mapping such as ``{"clf__C": {"type": "float", "low": 0.01, "high": 100,
    "log": true}, "clf__kernel": {"type": "categorical", "choices": ["rbf", "linear"]}}``.
    """
    tasks = family.tasks if task is None else (family._task(task),)
    data = _load(obj)
    if not isinstance(data, dict):
        raise FrontierError(f'{option("space")} must be a JSON object: {{"parameter": {{"type": ..., ...}}, ...}}')
    if not data:
        raise FrontierError(f"{option('space')} is empty; name at least one parameter to tune")
    if len(data) > MAX_PARAMS:
        raise FrontierError(f"{option('space')} has {len(data)} parameters; tune at most {MAX_PARAMS}")
    allowed = set.intersection(*(_tunable(family.build({}, task=t, seed=0)) for t in tasks))
    space = []
    for name, spec in data.items():
        if name not in allowed:
            close = sorted(a for a in allowed if a.rsplit("__", 1)[-1] == name)
            if not close and len(name) <= 100:
                close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
            hint = f"; did you mean {_show(close[0])}?" if close else f"; see {family.label}'s parameters"
            raise FrontierError(f"{option('space')} {_show(name)} is not a tunable parameter of {family.label}"
                                f"{' for ' + task if task else ''}{hint}")
        param = _param(name, spec)
        for t in tasks:
            _validate_values(family.build({}, task=t, seed=0), param, family)
        space.append(param)
    return tuple(space)
