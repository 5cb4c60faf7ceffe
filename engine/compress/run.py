"""The ``compress`` job, in the worker: build each recipe's variant, register it, benchmark it, compare.

1. The original is benchmarked as-is (a scikit-learn model too: a compressed
   copy of one fitted model is compared with that model, not with refits) on
   the request's seeded folds, unless that run is stored.
2. Each recipe builds its variant from the loaded model (the ONNX export is
   made once and shared), checks it runs and how closely it follows the source
   on a seeded sample of rows (:mod:`engine.compress.parity`), and registers it
   with its lineage: ``variant of <name> (<id>) by <method>: <how>``. A
   TorchScript variant is registered trusted: this job built it from a model
   its owner trusted. A recipe that does not apply is *skipped* with its
   reason; one that fails is *reported* with its error; the others still run.
3. Each variant is benchmarked like any model (same folds, same latency
   settings; ONNX and TorchScript variants are evaluated as-is). Its run says
   ``rows_seen`` exactly as the original's does: a variant of a model trained
   on rows of these folds has seen them too.
4. Each variant's run is compared with the original's (:mod:`engine.compress.deltas`).

Build costs (export and conversion seconds) are reported apart from latency.
"""

from __future__ import annotations

import dataclasses
import io
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import benchmark, datasets, models
from engine.compress import calibration, deltas, parity
from engine.compress.methods import NotApplicable, Recipe, plan_recipes
from engine.errors import FrontierError, first_line
from engine.jobs import machine
from engine.jobs.progress import Scoped, as_reporter
from engine.jobs.spec import CompressPayload
from engine.measure.latency import LatencySettings
from engine.results import ResultStore
from engine.workspace import Workspace

ORIGINAL_END, BUILD_END = 0.25, 0.5  # progress: the original's run, then the recipes, then the variants' runs
_LINEAGE = re.compile(r"variant of .{1,200} \(([0-9a-f]{16})\) by ([a-z0-9-]+)(?: \(torch\))?: ")


def lineage_of(source: models.ArtifactInfo, recipe: Recipe, how: str) -> str:
    return f"variant of {source.name} ({source.id}) by {recipe.label}: {how}"[:300]


def variant_of(lineage: object) -> tuple[str, str] | None:
    """``(source artifact id, method)`` of a model made by compress, read from its lineage; None otherwise."""
    m = _LINEAGE.match(lineage) if isinstance(lineage, str) else None
    return (m.group(1), m.group(2)) if m else None


def config_of(payload: CompressPayload) -> benchmark.BenchmarkConfig:
    """The benchmark every run of the request uses: as-is, the request's folds and latency settings."""
    latency = LatencySettings(batch_sizes=tuple(payload.batch_sizes), min_time_s=payload.latency_time_s,
                              min_count=payload.latency_count)
    return benchmark.BenchmarkConfig(target=payload.target, drop=tuple(payload.drop), cv=payload.cv,
                                     seed=payload.seed, as_is=True, latency=latency, threads=payload.threads,
                                     device=payload.device)


class ExportFailed(FrontierError):
    """The ONNX export every ONNX Runtime recipe starts from could not be made (or does not match)."""


@dataclass(frozen=True)
class Built:
    recipe: Recipe
    data: bytes
    suffix: str
    how: str
    export_seconds: float | None
    convert_seconds: float
    agreement: parity.Parity
    calibration: dict[str, Any] | None = None


class _Source:
    """The loaded original, its scores on the parity rows, and its ONNX export (made once, on demand)."""

    def __init__(self, ws: Workspace, info: models.ArtifactInfo, prep, splits, payload: CompressPayload,
                 tmp: Path) -> None:
        from engine.models.predictors import make_predictor

        self.ws, self.info, self.prep, self.splits, self.payload, self.tmp = ws, info, prep, splits, payload, tmp
        self.threads = payload.threads or 1
        self.model = models.load_model(ws, info)
        self.predictor = make_predictor(self.model, info.format, threads=self.threads)
        self.rows = parity.check_rows(prep, seed=payload.seed)
        self.scores = parity.scores_on(self.predictor, prep, self.rows)
        self._export: Any = None

    def export(self) -> tuple[bytes, float | None, str, parity.Parity | None]:
        """ONNX bytes, seconds, tool and parity (an exception of the first try is raised again)."""
        from engine.compress.export import timed_export

        if self._export is None:
            try:
                if self.info.format == "onnx":
                    files = models.stored_files(self.ws, self.info)
                    if files.external:
                        raise FrontierError("ONNX models with external data are not compressed yet")
                    self._export = (files.data, None, "the source ONNX model", None)
                else:
                    example = self.prep.numeric_X()[self.rows[:2]]
                    data, tool, seconds = timed_export(self.model, self.info.format, example,
                                                       n_features=self.prep.n_features)
                    check = parity.compare(self.scores, self.scores_of(data, ".onnx"))
                    self._export = (data, seconds, tool, check)
                    if not check.passed:
                        raise FrontierError(
                            f"the ONNX export ({tool}) does not match the source: max |Δp| {check.max_abs_diff:.3g} > "
                            f"{check.tolerance:g} (label agreement {check.label_agreement:.2%} on {check.rows} rows)")
            except Exception as exc:
                self._export = exc
        if isinstance(self._export, Exception):
            exc = self._export
            message = exc.message if isinstance(exc, FrontierError) else \
                f"the ONNX export failed: {type(exc).__name__}: {first_line(exc, 160)}"
            raise ExportFailed(message)
        return self._export

    def scores_of(self, data: bytes, suffix: str):
        """Scores of a variant's bytes on the parity rows (which also proves it loads and runs)."""
        from engine.models.predictors import OnnxPredictor, TorchPredictor

        if suffix == ".onnx":
            path = self.tmp / f"check-{time.monotonic_ns()}.onnx"
            path.write_bytes(data)
            predictor = OnnxPredictor(path, threads=self.threads)
        else:
            import torch

            predictor = TorchPredictor(torch.jit.load(io.BytesIO(data), map_location="cpu"), threads=self.threads)
        try:
            return parity.scores_on(predictor, self.prep, self.rows)
        except FrontierError:
            raise
        except Exception as exc:
            raise FrontierError(f"the variant does not run: {type(exc).__name__}: {first_line(exc, 160)}") from None


def build(recipe: Recipe, src: _Source) -> Built:
    """One recipe's variant of ``src`` (raises :class:`NotApplicable` or :class:`FrontierError`)."""
    from engine.compress import half, quantize

    payload = src.payload
    cal = None
    if recipe.backend == "torch":
        t0 = time.perf_counter()
        data, how = quantize.torch_dynamic(src.model)
        seconds, export_s, suffix = time.perf_counter() - t0, None, ".pt"
    else:
        onnx_bytes, export_s, tool, _ = src.export()
        t0 = time.perf_counter()
        if recipe.method == "onnx":
            data, how = onnx_bytes, f"ONNX export by {tool}"
        elif recipe.method == "dynamic-int8":
            data, how = quantize.ort_dynamic(onnx_bytes, src.tmp)
        elif recipe.method == "static-int8":
            rows = calibration.calibration_rows(src.splits, n=payload.calibration_rows, seed=payload.seed)
            data, how = quantize.ort_static(onnx_bytes, src.tmp, src.prep.numeric_X(), rows,
                                            calibration=payload.calibration)
            cal = {"method": payload.calibration, "n_rows": len(rows), "fold": 0, "part": "train",
                   "rows_sha256": calibration.rows_digest(rows)}
        elif recipe.method == "fp16":
            data, how = half.to_fp16(onnx_bytes)
        else:  # pragma: no cover - the catalogue and this switch move together
            raise FrontierError(f"no recipe for {recipe.label}")
        seconds, suffix = time.perf_counter() - t0, ".onnx"
        if recipe.method != "onnx" and export_s is not None:
            how += f" of the ONNX export ({tool})"
    agreement = parity.compare(src.scores, src.scores_of(data, suffix))
    return Built(recipe, data, suffix, how, export_s, 0.0 if recipe.method == "onnx" else seconds, agreement, cal)


def register(ws: Workspace, source: models.ArtifactInfo, built: Built, prep, *, owner: str | None) -> models.ArtifactInfo:
    stem = Path(source.name).stem[:60] or "model"
    label = built.recipe.label
    info = models.register_bytes(ws, built.data, f"{stem}-{built.recipe.method}{built.suffix}",
                                 trusted=built.suffix == ".pt", display_name=f"{source.name} · {label}",
                                 lineage=lineage_of(source, built.recipe, built.how), owner=owner)
    classes = [c.item() if hasattr(c, "item") else c for c in prep.classes]
    extra: dict[str, Any] = {}
    if built.suffix == ".pt":
        extra = {"inputs": [{"name": "x", "shape": [None, *map(int, prep.input_shape)], "dtype": "float32"}],
                 "n_parameters": source.n_parameters, "n_features": prep.n_features}
    return models.update(ws, info, task="classification", classes=classes, **extra)


def execute(ws: Workspace, payload: CompressPayload, progress: Any = None, *,
            owner: str | None = None) -> dict[str, Any]:
    from engine.benchmark.execute import execute as run_benchmark
    from engine.measure.evaluate import folds

    steps = as_reporter(progress)
    source = models.get(ws, payload.artifact_id)
    name = payload.name or source.name
    recipes, skipped = plan_recipes(payload.methods, source.format, device=payload.device, name=name)
    config = config_of(payload)
    described = datasets.info(ws, payload.dataset_id)
    store = ResultStore(ws)

    # 1. the original, benchmarked as-is on the request's folds (unless stored)
    steps.step("benchmarking the original", 0.0)
    original = benchmark.plan(ws, [source], described, config, names=[name])
    orig_run = original.runs[0]
    if original.pending:
        run_benchmark(ws, original.to_request(), Scoped(steps, 0.0, ORIGINAL_END, "original: "))
    orig_summary = store.summary(orig_run.run_id)
    orig_preds = store.table(orig_run.run_id, "predictions")

    # 2. the variants
    built: list[Built] = []
    errors: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="frontier-compress-") as tmp:
        with machine.shared(on_wait=steps.waiting):
            steps.step("preparing the data and loading the model", ORIGINAL_END)
            dataset = datasets.load(ws, payload.dataset_id)
            prep = datasets.prepare(dataset, target=payload.target, drop=payload.drop, task=payload.task,
                                    n_splits=payload.cv, numeric=False)
            del dataset
            splits = folds(prep, n_splits=payload.cv, seed=payload.seed)
            src = _Source(ws, source, prep, splits, payload, Path(tmp))
        for i, recipe in enumerate(recipes):
            steps.unit(i, recipe.label)
            with machine.shared(on_wait=steps.waiting):
                steps.step(f"{recipe.label}: building the variant",
                           ORIGINAL_END + (BUILD_END - ORIGINAL_END) * i / max(len(recipes), 1))
                try:
                    built.append(build(recipe, src))
                except NotApplicable as exc:
                    skipped.append({"method": recipe.method, "backend": recipe.backend, "reason": exc.message})
                except ExportFailed as exc:  # told once in full; the recipes after it point back to it
                    told = any(e.get("export") for e in errors)
                    errors.append({"method": recipe.method, "backend": recipe.backend, "export": True,
                                   "error": "needs the ONNX export, which failed (see the first error)" if told
                                   else exc.message})
                except FrontierError as exc:
                    errors.append({"method": recipe.method, "backend": recipe.backend, "error": exc.message})
                except Exception as exc:  # a library's own failure: that recipe's, not the job's
                    errors.append({"method": recipe.method, "backend": recipe.backend,
                                   "error": f"{type(exc).__name__}: {first_line(exc, 200)}"})

    # 3. register and benchmark each on the same folds; 4. compare with the original
    variants = []
    for j, b in enumerate(built):
        start = BUILD_END + (1 - BUILD_END) * j / len(built)
        end = BUILD_END + (1 - BUILD_END) * (j + 1) / len(built)
        steps.step(f"{b.recipe.label}: registering", start)
        info = register(ws, source, b, prep, owner=owner)
        p = benchmark.plan(ws, [info], described, config, names=[info.name])
        p = dataclasses.replace(p, runs=[dataclasses.replace(r, rows_seen=orig_run.rows_seen) for r in p.runs])
        run = p.runs[0]
        try:
            if p.pending:
                run_benchmark(ws, p.to_request(), Scoped(steps, start, end, f"{b.recipe.label}: "))
            summary = store.summary(run.run_id)
            compared = deltas.compare(orig_summary, orig_preds, summary, store.table(run.run_id, "predictions"),
                                      gate=payload.gate)
        except FrontierError as exc:
            errors.append({"method": b.recipe.method, "backend": b.recipe.backend, "artifact_id": info.id,
                           "error": f"benchmarking the variant failed: {exc.message}"})
            continue
        variants.append({
            "method": b.recipe.method, "backend": b.recipe.backend, "format": info.format, "name": info.name,
            "artifact_id": info.id, "path": str(info.path(ws).resolve()), "size_bytes": info.size_bytes,
            "run_id": run.run_id, "cached": run.cached, "rows_seen": summary.get("rows_seen"),
            **compared,
            "latency_skewed": summary.get("latency_skewed"),
            "export_seconds": b.export_seconds, "convert_seconds": b.convert_seconds,
            "parity": b.agreement.to_dict(enforced=b.recipe.method == "onnx"), "calibration": b.calibration, "lineage": info.lineage,
        })
        steps.finished(run.run_id)
    steps.step("done", 1.0)
    return {
        "original": {"name": name, "artifact_id": source.id, "format": source.format, "run_id": orig_run.run_id,
                     "cached": orig_run.cached, "size_bytes": source.size_bytes,
                     "accuracy_mean": orig_summary.get("accuracy_mean"),
                     "latency_p50_ms": orig_summary.get("latency_p50_ms"), "rows_seen": orig_summary.get("rows_seen"),
                     "ece": deltas.ece(orig_preds)},
        "variants": variants, "errors": errors, "skipped": skipped, "gate": payload.gate,
        "dataset": described.name, "n_folds": payload.cv, "seed": payload.seed,
        "parity_tolerance": parity.PROBA_ATOL,
    }
