"""A tune request, checked: the one place the CLI (``python -m engine tune``) and the tune page turn
their inputs into a :class:`~engine.jobs.spec.TunePayload`.

Every check runs before anything is written. Errors name the input with
:func:`engine.errors.option`, so the CLI shows flags (``--trials``) and the page shows its labels
(``'Trials'``).
"""

from __future__ import annotations

import re
from typing import Any

from engine.errors import FrontierError, check_folds_seed_threads, option
from engine.jobs.spec import TunePayload

STUDY_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
MAX_TRIALS = 100_000
MAX_SAVE_BEST = 50
MAX_SPACE_BYTES = 20_000


def default_study_name(family: str, dataset_name: str) -> str:
    """``<family>-<dataset>`` with anything outside the study-name alphabet replaced by ``_``."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{family}-{dataset_name}")[:100]
    return name if STUDY_NAME_RE.fullmatch(name) else f"{family}-study"


def space_json(space: Any) -> str:
    """A search space (a family's :class:`~engine.tune.spaces.Param` tuple) as the JSON that
    :func:`engine.tune.spaces.parse_space` reads back."""
    import json

    out: dict[str, Any] = {}
    for p in space:
        if p.kind == "categorical":
            out[p.name] = {"type": "categorical", "choices": list(p.choices)}
        else:
            low, high = (int(p.low), int(p.high)) if p.kind == "int" else (p.low, p.high)
            out[p.name] = {"type": p.kind, "low": low, "high": high} | ({"log": True} if p.log else {})
    return json.dumps(out, indent=2)


def space_from_text(text: str) -> str:
    """A space typed as JSON or YAML, as JSON text (YAML read with ``yaml.safe_load``: plain data
    only, no tags that build objects); checked in full later by ``parse_space``."""
    import json

    import yaml

    if len(text.encode("utf-8", "replace")) > MAX_SPACE_BYTES:
        raise FrontierError(f"{option('space')} is larger than {MAX_SPACE_BYTES // 1000} KB")
    if not text.strip() or text.lstrip().startswith("{"):
        return text.strip()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise FrontierError(f"{option('space')} is neither JSON nor YAML{line}") from None
    if not isinstance(data, dict):
        raise FrontierError(f"{option('space')} must map parameter names to ranges")
    try:
        return json.dumps(data, allow_nan=False)
    except (TypeError, ValueError):
        raise FrontierError(f"{option('space')} must hold only numbers, strings, true/false, lists and "
                            "mappings") from None


def build(dataset: Any, *, family: str, target: str | None, n_trials: int, study: str, storage: str,
          objective: str = "", constraints: tuple[str, ...] = (), sampler: str = "tpe", pruner: str | None = None,
          cv: int = 5, seed: int = 0, batch_size: int = 1, space: str = "", threads: int | None = None,
          save_best: int = 5) -> TunePayload:
    """The checked request for tuning ``family`` on ``dataset`` (a registered or live dataset).

    ``storage`` must already be resolved (:func:`engine.tune.storage.resolve`). ``pruner`` None picks
    the default: median for one objective, none for several (Optuna's pruners handle one)."""
    from engine import datasets
    from engine.datasets.prepare import Live
    from engine.tune import spaces
    from engine.tune.run import spec_of
    from engine.tune.samplers import make_pruner, make_sampler

    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or not 1 <= n_trials <= MAX_TRIALS:
        raise FrontierError(f"{option('trials')} must be between 1 and {MAX_TRIALS:,}, got {n_trials}")
    check_folds_seed_threads(cv, seed, threads)
    if batch_size < 1:
        raise FrontierError(f"{option('batch_size')} must be at least 1, got {batch_size}")
    if not 0 <= save_best <= MAX_SAVE_BEST:
        raise FrontierError(f"{option('save_best')} must be between 0 and {MAX_SAVE_BEST}, got {save_best}")
    if family not in spaces.FAMILIES:
        raise FrontierError(f"{option('family')}: unknown family '{family[:40]}'; choose one of "
                            f"{', '.join(spaces.FAMILIES)}")
    if not STUDY_NAME_RE.fullmatch(study or ""):
        raise FrontierError(f"{option('study')}: '{(study or '')[:40]}' must be letters, digits, '.', '_' or '-' "
                            "(at most 100, starting with a letter or digit)")
    if len(space.encode("utf-8", "replace")) > MAX_SPACE_BYTES:
        raise FrontierError(f"{option('space')} is larger than {MAX_SPACE_BYTES // 1000} KB")
    described = Live(dataset) if isinstance(dataset, datasets.Dataset) else dataset
    fam = spaces.family(family)
    checked = datasets.check(described, target=target, n_splits=cv, numeric=fam.needs_numeric,
                             needed_by=option("family", family) if fam.needs_numeric else None)
    fam.check_input(checked.input_shape, dataset.name)
    payload = TunePayload(family=family, dataset_id=dataset.id, target=checked.target, task=checked.task,
                          n_trials=n_trials, study=study, storage=storage, objective=objective,
                          constraints=tuple(constraints), sampler=sampler, pruner=pruner or "median", cv=cv, seed=seed,
                          batch_size=batch_size, space=space, threads=threads, save_best=save_best)
    spec = spec_of(payload)  # family, objective, constraints and space
    n = len(spec.objective.directions)
    chosen_pruner = pruner or ("median" if n == 1 else "none")
    make_sampler(sampler, seed=seed, n_objectives=n, constrained=bool(spec.objective.constraints))
    make_pruner(chosen_pruner, n_objectives=n)
    return TunePayload(**(payload.to_dict() | {"pruner": chosen_pruner, "constraints": tuple(constraints)}))
