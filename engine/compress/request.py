"""One checked compress request, for the CLI and the Compress page alike.

:func:`build` checks every setting (ranges from :data:`engine.compress.methods.LIMITS`),
that the target is a class column, that a scikit-learn model's features are
numeric (its ONNX export takes one float32 matrix), and that each method asked
for by name applies to the model's format; it returns the job's
:class:`~engine.jobs.spec.CompressPayload`. Errors name the setting with
:func:`engine.errors.option`, so the CLI shows the flag and the page its label.
Nothing is written.
"""

from __future__ import annotations

import math
from typing import Any

from engine.compress.calibration import DEFAULT_ROWS, MAX_ROWS
from engine.compress.methods import (
    CALIBRATIONS,
    DEFAULTS,
    LIMITS,
    PRUNE_KINDS,
    SKLEARN,
    in_limits,
    parse_methods,
    plan_recipes,
)
from engine.errors import FrontierError, check_folds_seed_threads, option


def build(ws: Any, info: Any, dataset: Any, *, methods: list[str] | tuple[str, ...], target: str | None = None,
          drop: tuple[str, ...] = (), name: str | None = None, gate: float = 1.0, cv: int = 5, seed: int = 0,
          threads: int | None = None, device: str = "cpu", calibration: str = CALIBRATIONS[0],
          calibration_rows: int = DEFAULT_ROWS, batch_sizes: tuple[int, ...] = (1, 32), latency_time_s: float = 0.2,
          latency_count: int = 20, prune_kinds: tuple[str, ...] | None = None,
          **settings: float) -> Any:
    """The checked payload for compressing the model ``info`` on ``dataset`` (registered or live).

    ``settings``: the prune and distill settings by name (``sparsity``, ``fine_tune_epochs``,
    ``student_width``, ``student_depth``, ``temperature``, ``alpha``, ``distill_epochs``); a missing one
    takes its default."""
    from engine import benchmark, datasets
    from engine.datasets.prepare import Live
    from engine.jobs.spec import CompressPayload

    picked = parse_methods(methods)
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown compress settings: {', '.join(sorted(unknown))}")
    values = DEFAULTS | settings
    if not (isinstance(gate, int | float) and math.isfinite(gate) and 0 <= gate <= 100):
        raise FrontierError(f"{option('gate')} must be between 0 and 100 accuracy points, got {gate:g}")
    check_folds_seed_threads(cv, seed, threads)
    if calibration not in CALIBRATIONS:
        raise FrontierError(f"{option('calibration')} must be one of {', '.join(CALIBRATIONS)}")
    if not 1 <= calibration_rows <= MAX_ROWS:
        raise FrontierError(f"{option('calibration_rows')} must be between 1 and {MAX_ROWS:,}, got {calibration_rows}")
    for key, value in values.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and in_limits(key, value)):
            low, high = LIMITS[key]
            raise FrontierError(f"{option(key)} must be between {low:g} and {high:g}, got {value:g}")
        if isinstance(DEFAULTS[key], int) and value != int(value):
            raise FrontierError(f"{option(key)} must be a whole number, got {value:g}")
    if prune_kinds is not None and not prune_kinds and {"prune", "auto"} & set(picked):
        raise FrontierError(f"choose at least one {option('prune_kind')} kind ({', '.join(PRUNE_KINDS)})")
    kinds = tuple(dict.fromkeys(prune_kinds or PRUNE_KINDS))
    if not set(kinds) <= set(PRUNE_KINDS):
        raise FrontierError(f"{option('prune_kind')} must be {' or '.join(PRUNE_KINDS)}")

    config = benchmark.BenchmarkConfig(target=target, drop=tuple(drop), cv=cv, seed=seed, as_is=True,
                                       threads=threads, device=device)
    label = name or info.name
    checked = benchmark.plan(ws, [info], dataset, config, names=[label]).checked  # the model takes these rows
    if checked.task != "classification":
        raise FrontierError(f"{option('target', checked.target)} is continuous (regression); compress gates on "
                            "accuracy and takes classifiers only for now")
    if info.format in SKLEARN:  # the ONNX export takes one float32 matrix
        described = Live(dataset) if isinstance(dataset, datasets.Dataset) else dataset
        datasets.check(described, target=checked.target, drop=tuple(drop), n_splits=cv, numeric=True,
                       needed_by=f"the ONNX export of '{label}'")
    plan_recipes(picked, info.format, device=device, name=label, prune_kinds=kinds)
    ints = {k: int(v) if isinstance(DEFAULTS[k], int) else float(v) for k, v in values.items()}
    payload = CompressPayload(artifact_id=info.id, dataset_id=dataset.id, target=checked.target, methods=picked,
                              drop=tuple(drop), name=label, gate=float(gate), cv=cv, seed=seed,
                              threads=config.n_threads, device=device, calibration=calibration,
                              calibration_rows=calibration_rows, batch_sizes=tuple(batch_sizes),
                              latency_time_s=float(latency_time_s), latency_count=latency_count,
                              dataset_name=dataset.name, prune_kinds=kinds, **ints)
    return CompressPayload.from_dict(payload.to_dict())  # the job reads it back: it must pass its own checks
