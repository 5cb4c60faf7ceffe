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

import copy
import dataclasses
import io
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine import benchmark, datasets, models
from engine.compress import calibration, deltas, parity
from engine.compress.methods import PRECISION, NotApplicable, Recipe, plan_recipes
from engine.compress.summaries import distillation_summary, gate_on_held_out, sweep_rows
from engine.errors import FrontierError, first_line
from engine.jobs import machine
from engine.jobs.progress import Scoped, as_reporter
from engine.jobs.spec import CompressPayload
from engine.measure.latency import LatencySettings
from engine.results import ResultStore
from engine.workspace import Workspace

# progress: the original's run, the recipes, the runtime settings (accelerate), then the variants' runs
ORIGINAL_END, RECIPES_END, BUILD_END = 0.25, 0.45, 0.6
_LINEAGE = re.compile(r"variant of .{1,200} \(([0-9a-f]{16})\) by ([a-z0-9-]+)(?: \([a-z0-9 ]{1,20}\))?: ")


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
    details: dict[str, Any] | None = None  # prune: the real sparsity; distill: held-out accuracy, settings
    trained: bool = False  # trained on fold 1's training part (fine-tuned or distilled): it has seen rows
    n_parameters: int | None = None  # when the recipe changed it (channel pruning, a student)
    pair: tuple[Any, Any] | None = None  # prune: (the unpruned rebuild, the pruned model), eager, to time apart


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

    def scores_of_module(self, module: Any):
        """Scores of an eager torch module on the parity rows."""
        from engine.models.predictors import TorchPredictor

        return parity.scores_on(TorchPredictor(module, threads=self.threads), self.prep, self.rows)

    def scores_of(self, data: bytes, suffix: str, *, rows: np.ndarray | None = None):
        """Scores of a variant's bytes on the parity rows, or on ``rows`` (this also proves it loads and runs)."""
        from engine.models.predictors import OnnxPredictor, TorchPredictor

        if suffix == ".onnx":
            path = self.tmp / f"check-{time.monotonic_ns()}.onnx"
            path.write_bytes(data)
            predictor = OnnxPredictor(path, threads=self.threads)
        else:
            import torch

            predictor = TorchPredictor(torch.jit.load(io.BytesIO(data), map_location="cpu"), threads=self.threads)
        try:
            return parity.scores_on(predictor, self.prep, self.rows if rows is None else rows)
        except FrontierError:
            raise
        except Exception as exc:
            raise FrontierError(f"the variant does not run: {type(exc).__name__}: {first_line(exc, 160)}") from None


def build(recipe: Recipe, src: _Source) -> Built:
    """One recipe's variant of ``src`` (raises :class:`NotApplicable` or :class:`FrontierError`)."""
    from engine.compress import half, quantize

    payload = src.payload
    cal = None
    if recipe.method == "prune":
        return _prune(recipe, src)
    if recipe.method == "distill":
        return _distill(recipe, src)
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


def _train_rows(src: _Source) -> tuple[np.ndarray, np.ndarray]:
    """Fold 1's (training, test) rows: what pruning fine-tunes and distillation trains on, and the unseen rest."""
    train, test = src.splits[0]
    return np.sort(np.asarray(train)), np.sort(np.asarray(test))


def _prune(recipe: Recipe, src: _Source) -> Built:
    from engine.compress import prune, training

    payload = src.payload
    onnx_bytes, export_s, tool, _ = src.export()
    t0 = time.perf_counter()
    X = src.prep.numeric_X()
    example = X[src.rows[:2]]
    model = prune.eager_copy(onnx_bytes)
    rebuilt = parity.compare(src.scores, src.scores_of_module(model))
    if not rebuilt.passed:
        raise FrontierError(f"onnx2torch's rebuild of the model does not match it (max |Δp| "
                            f"{rebuilt.max_abs_diff:.3g}); it cannot be pruned faithfully")
    unpruned = copy.deepcopy(model)  # the same rebuild: what pruning alone changed is timed against it
    if recipe.flavour == "magnitude":
        details = prune.magnitude(model, payload.sparsity)
    else:
        details = prune.channels(model, payload.sparsity, example)
    epochs = payload.fine_tune_epochs
    if epochs:
        train, _ = _train_rows(src)
        import torch

        with torch.no_grad():
            probabilities = training.outputs_are_probabilities(model(torch.from_numpy(np.ascontiguousarray(
                example, dtype=np.float32))).numpy())
        loss = training.hard_label_loss(src.prep.y[train], probabilities=probabilities)
        training.fit(model, X[train], loss, epochs=epochs, seed=payload.seed, threads=src.threads)
    if recipe.flavour == "magnitude":
        prune.make_permanent(model)
        zeros, total = prune.weight_sparsity(model)
        details |= {"zeros": zeros, "weights": total, "sparsity": zeros / total if total else 0.0}
    details |= {"fine_tune_epochs": epochs, "fine_tune_rows": "fold 1 training part" if epochs else None,
                "rebuilt_by": "onnx2torch", "rebuild_max_abs_diff": rebuilt.max_abs_diff}
    data = prune.to_torchscript(model, example)
    seconds = time.perf_counter() - t0
    if recipe.flavour == "magnitude":
        how = (f"torch.nn.utils.prune.global_unstructured L1 at {payload.sparsity:g} over {details['n_layers']} "
               f"Linear/Conv weights (real sparsity {details['sparsity']:.3f}; the zeros are stored densely, so "
               "the file does not shrink)")
    else:
        how = (f"torch-pruning MagnitudePruner (L2) removing {payload.sparsity:g} of each layer's output channels "
               f"but the output layer's ({details['channels_removed']} of {details['channels_before']})")
    how += f", fine-tuned {epochs} epoch(s) on fold 1's training part" if epochs else ", not fine-tuned"
    how += f", from the ONNX export ({tool}) rebuilt by onnx2torch, traced to TorchScript"
    n_params = details.get("parameters_after")
    if n_params is not None and src.info.n_parameters:  # layers other than Linear/Conv keep theirs
        n_params = int(src.info.n_parameters) - int(details["parameters_before"]) + int(n_params)
    if epochs:
        details |= _heldout(src, data)
    agreement = parity.compare(src.scores, src.scores_of(data, ".pt"))
    return Built(recipe, data, ".pt", how, export_s, seconds, agreement, details=details, trained=bool(epochs),
                 n_parameters=n_params, pair=(unpruned, model))


def pruning_alone(src: _Source, pair: tuple[Any, Any]) -> dict[str, Any]:
    """p50 at batch 1 of the unpruned onnx2torch rebuild and of the pruned model, both eager, timed one after
    the other (the caller holds the machine alone): the variant's speedup against the original also holds
    whatever the rebuild and its tracing changed, this is what pruning itself did."""
    from engine.measure.latency import measure
    from engine.models.predictors import TorchPredictor, model_input

    settings = dataclasses.replace(config_of(src.payload).latency, batch_sizes=(1,))
    p50, skewed = [], False
    for module in pair:
        predictor = TorchPredictor(module, threads=src.threads)
        stats, _ = measure(predictor.infer, model_input(predictor, src.prep), settings, threads=src.threads)
        p50.append(stats[0].p50_ms)
        skewed = skewed or stats[0].skewed
    return {"rebuild_p50_ms": p50[0], "pruned_p50_ms": p50[1], "speedup": p50[0] / p50[1] if p50[1] > 0 else None,
            "skewed": skewed}


def _heldout(src: _Source, data: bytes) -> dict[str, Any]:
    """Accuracy of a variant trained on fold 1's training part, and of the original, on fold 1's test part:
    rows the training never saw (the cross-validated figures include rows it did)."""
    _, test = _train_rows(src)
    y = np.asarray(src.prep.y)[test]
    variant = src.scores_of(data, ".pt", rows=test)
    original = parity.scores_on(src.predictor, src.prep, test)
    return {"heldout_rows": len(test), "heldout_accuracy": float(np.mean(variant.labels == y)),
            "original_heldout_accuracy": float(np.mean(original.labels == y))}


def _distill(recipe: Recipe, src: _Source) -> Built:
    from engine.compress import distill

    payload = src.payload
    settings = distill.Settings(width=payload.student_width, depth=payload.student_depth,
                                temperature=payload.temperature, alpha=payload.alpha, epochs=payload.distill_epochs)
    train, _ = _train_rows(src)
    X, y = src.prep.numeric_X(), np.asarray(src.prep.y)
    scores = parity.scores_on(src.predictor, src.prep, train)
    if scores.proba is None:  # the twin only means something next to its student
        raise NotApplicable(f"'{src.info.name}' gives no class probabilities, so it has no soft targets to teach")
    teacher = scores.proba if recipe.flavour == "student" else None
    t0 = time.perf_counter()
    net = distill.train(X[train], y[train], len(src.prep.classes), teacher, settings, seed=payload.seed,
                        threads=src.threads)
    data = distill.to_torchscript(net)
    seconds = time.perf_counter() - t0
    n_params = sum(int(p.numel()) for p in net.body.parameters())
    details = {"role": recipe.flavour, "width": settings.width, "depth": settings.depth, "epochs": settings.epochs,
               "temperature": settings.temperature if teacher is not None else None,
               "alpha": settings.alpha if teacher is not None else 0.0, "train_rows": len(train),
               **_heldout(src, data)}
    hidden = f"{settings.depth}x{settings.width} ReLU MLP" if settings.depth else "linear (softmax) model"
    how = (f"{hidden} student ({n_params:,} parameters) trained {settings.epochs} epochs on fold 1's training "
           f"part ({len(train)} rows)")
    how += (f" from the teacher's soft targets, T={settings.temperature:g}, alpha={settings.alpha:g}"
            if teacher is not None else " on the labels alone (the distilled student's twin, no teacher)")
    agreement = parity.compare(src.scores, src.scores_of(data, ".pt"))
    return Built(recipe, data, ".pt", how, None, seconds, agreement, details=details, trained=True,
                 n_parameters=n_params)


def _accelerate(src: _Source, config: benchmark.BenchmarkConfig, orig_summary: dict[str, Any],
                steps: Any) -> dict[str, Any]:
    """Time the source's runtime settings (:mod:`engine.compress.accelerate`) on its ONNX export and/or as torch."""
    import onnxruntime as ort

    from engine.compress import accelerate

    onnx_path, skipped = None, []
    try:
        onnx_bytes = src.export()[0]
        onnx_path = src.tmp / "accelerate.onnx"
        onnx_path.write_bytes(onnx_bytes)
    except ExportFailed as exc:
        skipped.append(f"ONNX Runtime settings need the ONNX export: {exc.message}")

    def step(i: int, n: int, label: str) -> None:
        steps.step(f"accelerate: {label}", RECIPES_END + (BUILD_END - RECIPES_END) * i / max(n, 1))

    def hold() -> Any:
        return machine.exclusive(on_wait=steps.waiting)

    out = accelerate.sweep(src, onnx_path=onnx_path, available=ort.get_available_providers(),
                           latency=config.latency, original_p50=orig_summary.get("latency_p50_ms"), hold=hold,
                           step=step)
    out["skipped"] = skipped + out["skipped"]
    return out


def _entry(recipe: Recipe, **fields: Any) -> dict[str, Any]:
    """A skipped or failed recipe, as the result lists it."""
    return {"method": recipe.method, "backend": recipe.backend, "flavour": recipe.flavour, **fields}


def _build_all(recipes: tuple[Recipe, ...], src: _Source, built: list[Built], skipped: list[dict[str, Any]],
               errors: list[dict[str, Any]], steps: Any) -> None:
    """Build every recipe's variant in order: a skipped or failed recipe is recorded and the next one runs."""
    for i, recipe in enumerate(recipes):
        steps.unit(i, recipe.label)
        with machine.shared(on_wait=steps.waiting):
            steps.step(f"{recipe.label}: building the variant",
                       ORIGINAL_END + (RECIPES_END - ORIGINAL_END) * i / max(len(recipes), 1))
            try:
                built.append(build(recipe, src))
            except NotApplicable as exc:
                skipped.append(_entry(recipe, reason=exc.message))
            except ExportFailed as exc:  # told once in full; the recipes after it point back to it
                told = any(e.get("export") for e in errors)
                errors.append(_entry(recipe, export=True, error="needs the ONNX export, which failed (see the "
                                      "first error)" if told else exc.message))
            except FrontierError as exc:
                errors.append(_entry(recipe, error=exc.message))
            except Exception as exc:  # a library's own failure: that recipe's, not the job's
                errors.append(_entry(recipe, error=f"{type(exc).__name__}: {first_line(exc, 200)}"))
        if built and built[-1].recipe is recipe and built[-1].pair is not None:
            steps.step(f"{recipe.label}: timing the pruned model against its unpruned rebuild",
                       ORIGINAL_END + (RECIPES_END - ORIGINAL_END) * (i + 0.9) / max(len(recipes), 1))
            try:
                with machine.exclusive(on_wait=steps.waiting):
                    alone = pruning_alone(src, built[-1].pair)
            except Exception as exc:  # the variant stands; only this comparison is missing
                alone = {"error": f"{type(exc).__name__}: {first_line(exc, 200)}"}
            built[-1].details["pruning_alone"] = alone
            built[-1] = dataclasses.replace(built[-1], pair=None)  # the modules are not needed again


def register(ws: Workspace, source: models.ArtifactInfo, built: Built, prep, *, owner: str | None) -> models.ArtifactInfo:
    stem = Path(source.name).stem[:60] or "model"
    label = built.recipe.label
    flavour = f"-{built.recipe.flavour}" if built.recipe.flavour else ""
    info = models.register_bytes(ws, built.data, f"{stem}-{built.recipe.method}{flavour}{built.suffix}",
                                 trusted=built.suffix == ".pt", display_name=f"{source.name} · {label}",
                                 lineage=lineage_of(source, built.recipe, built.how), owner=owner)
    classes = [c.item() if hasattr(c, "item") else c for c in prep.classes]
    extra: dict[str, Any] = {}
    if built.suffix == ".pt":
        extra = {"inputs": [{"name": "x", "shape": [None, *map(int, prep.input_shape)], "dtype": "float32"}],
                 "n_parameters": built.n_parameters if built.n_parameters is not None else source.n_parameters,
                 "n_features": prep.n_features}
    return models.update(ws, info, task="classification", classes=classes, **extra)


def execute(ws: Workspace, payload: CompressPayload, progress: Any = None, *,
            owner: str | None = None) -> dict[str, Any]:
    from engine.benchmark.execute import execute as run_benchmark
    from engine.measure.evaluate import folds

    steps = as_reporter(progress)
    source = models.get(ws, payload.artifact_id)
    name = payload.name or source.name
    recipes, skipped = plan_recipes(payload.methods, source.format, device=payload.device, name=name,
                                    prune_kinds=payload.prune_kinds)
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
        _build_all(recipes, src, built, skipped, errors, steps)
        acceleration = None
        if {"accelerate", "auto"} & set(payload.methods):
            acceleration = _accelerate(src, config, orig_summary, steps)

    # 3. register and benchmark each on the same folds; 4. compare with the original
    variants = []
    for j, b in enumerate(built):
        start = BUILD_END + (1 - BUILD_END) * j / len(built)
        end = BUILD_END + (1 - BUILD_END) * (j + 1) / len(built)
        steps.step(f"{b.recipe.label}: registering", start)
        info = register(ws, source, b, prep, owner=owner)
        p = benchmark.plan(ws, [info], described, config, names=[info.name])
        p = dataclasses.replace(p, runs=[dataclasses.replace(r, rows_seen=orig_run.rows_seen or b.trained)
                                           for r in p.runs])
        run = p.runs[0]
        try:
            if p.pending:
                run_benchmark(ws, p.to_request(), Scoped(steps, start, end, f"{b.recipe.label}: "))
            summary = store.summary(run.run_id)
            compared = deltas.compare(orig_summary, orig_preds, summary, store.table(run.run_id, "predictions"),
                                      gate=payload.gate)
        except FrontierError as exc:
            errors.append(_entry(b.recipe, artifact_id=info.id,
                                 error=f"benchmarking the variant failed: {exc.message}"))
            continue
        lineage = lineage_of(source, b.recipe, b.how)  # this job's: the file may be one registered before
        variants.append({
            "method": b.recipe.method, "backend": b.recipe.backend, "flavour": b.recipe.flavour, "format": info.format,
            "name": f"{name} · {b.recipe.label}", "artifact_id": info.id, "path": str(info.path(ws).resolve()),
            "size_bytes": info.size_bytes, "run_id": run.run_id, "cached": run.cached,
            "rows_seen": summary.get("rows_seen"),
            **compared, **gate_on_held_out(b, compared, payload.gate),
            "latency_skewed": summary.get("latency_skewed"), "precision": PRECISION.get(b.recipe.method),
            "runtime": summary.get("backend"), "device": summary.get("device"), "provider": summary.get("provider"),
            "export_seconds": b.export_seconds, "convert_seconds": b.convert_seconds,
            "parity": b.agreement.to_dict(enforced=b.recipe.method == "onnx"), "calibration": b.calibration,
            "details": b.details, "trained_on_fold1": b.trained, "lineage": lineage,
            **({"same_file_as": info.name, "registered_lineage": info.lineage} if info.lineage != lineage else {}),
        })
        steps.finished(run.run_id)
    steps.step("done", 1.0)
    return {
        "original": {"name": name, "artifact_id": source.id, "format": source.format, "run_id": orig_run.run_id,
                     "cached": orig_run.cached, "size_bytes": source.size_bytes,
                     "accuracy_mean": orig_summary.get("accuracy_mean"),
                     "latency_p50_ms": orig_summary.get("latency_p50_ms"), "rows_seen": orig_summary.get("rows_seen"),
                     "ece": deltas.ece(orig_preds), "runtime": orig_summary.get("backend"),
                     "device": orig_summary.get("device"), "provider": orig_summary.get("provider"),
                     "latency_skewed": orig_summary.get("latency_skewed")},
        "variants": variants, "errors": errors, "skipped": skipped, "gate": payload.gate,
        "dataset": described.name, "n_folds": payload.cv, "seed": payload.seed,
        "parity_tolerance": parity.PROBA_ATOL, "distillation": distillation_summary(variants, store),
        "sweep": sweep_rows(store, orig_run.run_id, orig_summary, variants), "acceleration": acceleration,
    }
