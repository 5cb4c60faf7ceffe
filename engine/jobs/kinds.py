"""The built-in job kinds: benchmark, tune, tune_save, compress, describe, register_model, register_dataset.

Each handler runs in the worker, under the job's limits. Uploads are parsed
here, never in the server; a bad upload fails with one line and leaves nothing
in ``artifacts/`` or ``datasets/``.
"""

from __future__ import annotations

import dataclasses
import inspect
import shutil
from collections.abc import Callable
from typing import Any

from engine import settings
from engine.errors import FrontierError, first_line
from engine.ids import content_id
from engine.jobs import inputs, machine
from engine.jobs.handlers import JobContext, register
from engine.jobs.spec import (
    BenchmarkPayload,
    CompressPayload,
    DescribePayload,
    RegisterDatasetPayload,
    RegisterModelPayload,
    TunePayload,
    TuneSavePayload,
)
from engine.workspace import Workspace


@register("benchmark")
def benchmark(ctx: JobContext, payload: BenchmarkPayload) -> dict[str, Any]:
    from engine.benchmark.execute import execute

    return {"run_ids": execute(ctx.ws, {"kind": "benchmark"} | payload.to_dict(), ctx.progress)}


@register("tune")
def tune(ctx: JobContext, payload: TunePayload) -> dict[str, Any]:
    from engine.tune.run import execute

    return execute(ctx.ws, payload, ctx.progress, owner=ctx.owner,
                   job_id=ctx.job_dir.name if ctx.job_dir is not None else None)


@register("tune_save")
def tune_save(ctx: JobContext, payload: TuneSavePayload) -> dict[str, Any]:
    from engine.tune.run import execute_save

    return execute_save(ctx.ws, payload, ctx.progress, owner=ctx.owner)


@register("compress")
def compress(ctx: JobContext, payload: CompressPayload) -> dict[str, Any]:
    from engine.compress.run import execute

    return execute(ctx.ws, payload, ctx.progress, owner=ctx.owner)


@register("describe")
def describe(ctx: JobContext, payload: DescribePayload) -> dict[str, Any]:
    from engine.models.describe import describe_in_worker

    ctx.progress.step("loading the model to describe it")
    return describe_in_worker(ctx.ws, payload.artifact_id)


@register("register_model")
def register_model(ctx: JobContext, payload: RegisterModelPayload) -> dict[str, Any]:
    """Check and register an uploaded model; a code-bearing one is first loaded and described in a
    scratch workspace, so a file that cannot load (or is killed loading) is never registered."""
    from engine import models

    data = ctx.input(payload.upload, max_bytes=int(settings.max_model_mb() * 2**20))
    if not data:
        raise FrontierError(f"'{payload.filename}' is empty; upload the model file itself")
    existed = (ctx.ws.artifacts / content_id(data) / "meta.json").is_file()
    options = {"trusted": payload.trusted, "display_name": payload.display_name}
    owner = owner_keyword(ctx.owner, models.register_bytes, models.info_from_bytes)
    with machine.shared(on_wait=ctx.progress.waiting):
        ctx.progress.step(f"checking {payload.filename}")
        described: dict[str, Any] = {}
        fmt = models.detect_format(payload.filename, data)
        if fmt in models.CODE_BEARING or (fmt == "skops" and payload.trusted):
            described = _describe_in_scratch(ctx, data, payload, options)
        info = models.register_bytes(ctx.ws, data, payload.filename, **options, **owner)
        if described and info.n_parameters is None:
            info = models.update(ctx.ws, info, **described)
    return {"artifact_id": info.id, "existed": existed, "name": info.name, "format": info.format,
            "size_bytes": info.size_bytes, "needs_describe": info.code_bearing and info.n_parameters is None}


def _describe_in_scratch(ctx: JobContext, data: bytes, payload: RegisterModelPayload,
                         options: dict[str, Any]) -> dict[str, Any]:
    """What loading the model tells (parameter count, inputs), learnt in a throw-away workspace."""
    from engine import models
    from engine.models.describe import describe_in_worker

    if ctx.job_dir is None:
        raise FrontierError("describing an upload needs a job folder")
    scratch = Workspace(ctx.job_dir / inputs.SCRATCH)
    try:
        scratch.artifacts.mkdir(parents=True, exist_ok=True)
        info = models.register_bytes(scratch, data, payload.filename, **options)
        if not (info.code_bearing and info.n_parameters is None):
            return {}
        ctx.progress.step(f"loading {payload.filename} to describe it")
        try:
            return describe_in_worker(scratch, info.id)
        except FrontierError:
            raise
        except Exception as exc:  # the uploaded code failed: say so in one line, register nothing
            raise FrontierError(f"'{payload.filename}' could not be loaded: {type(exc).__name__}: "
                                f"{first_line(exc)}") from None
    finally:
        shutil.rmtree(scratch.root, ignore_errors=True)


@register("register_dataset")
def register_dataset(ctx: JobContext, payload: RegisterDatasetPayload) -> dict[str, Any]:
    from engine import datasets

    data = ctx.input(payload.upload, max_bytes=int(settings.max_data_mb() * 2**20))
    with machine.shared(on_wait=ctx.progress.waiting):
        ctx.progress.step(f"reading {payload.filename}")
        ds = datasets.read_bytes(data, name=payload.filename)
        if payload.display_name:
            ds = dataclasses.replace(ds, name=payload.display_name)
        existed = (ctx.ws.datasets / ds.id / "meta.json").is_file()
        ctx.progress.step(f"saving {payload.filename}")
        ds = datasets.register(ctx.ws, ds, **owner_keyword(ctx.owner, datasets.register))
    return {"dataset_id": ds.id, "name": ds.name, "n_rows": int(ds.n_rows), "n_columns": len(ds.columns),
            "existed": existed}


def owner_keyword(owner: str | None, *fns: Callable[..., Any]) -> dict[str, Any]:
    """``{"owner": owner}`` when the function takes an ``owner`` keyword (following ``**options``
    through to the next function given), else ``{}``: registries gain ``owner=`` one at a time."""
    if owner is None:
        return {}
    for fn in fns:
        params = inspect.signature(fn).parameters
        if "owner" in params and params["owner"].kind in (inspect.Parameter.KEYWORD_ONLY,
                                                          inspect.Parameter.POSITIONAL_OR_KEYWORD):
            return {"owner": owner}
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return {}
    return {}
