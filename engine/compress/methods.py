"""The compression methods, the recipes each runs, and which model formats each applies to.

A *method* is what a user asks for (``--method dynamic-int8``); a *recipe* is one
way of carrying it out on one backend. ``dynamic-int8`` has two: ONNX Runtime's
``quantize_dynamic`` on the ONNX export, and torch's dynamic int8 on the Linear
layers of a TorchScript model (kept TorchScript). ``auto`` runs every recipe that
applies. What can be told from the model's format alone is told here, before
anything is written; what needs the model itself (an ONNX graph with nothing to
quantize) is told by the recipe in the worker, as a :class:`NotApplicable`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import FrontierError, option

METHODS = ("onnx", "dynamic-int8", "static-int8", "fp16", "prune", "distill", "accelerate", "auto")
RUNTIME_ONLY = ("accelerate",)  # methods that time runtime settings of the model and make no artifact
PRUNE_KINDS = ("magnitude", "channels")
#: the numeric precision of each method's weights (what a batch x precision x provider sweep reads)
PRECISION = {"original": "as uploaded", "onnx": "fp32", "dynamic-int8": "int8", "static-int8": "int8",
             "fp16": "fp16", "prune": "fp32", "distill": "fp32"}  # engine.compress.prune.KINDS
CALIBRATIONS = ("minmax", "entropy", "percentile")
#: the ranges of the prune and distill settings: (low, high) inclusive, the one place flags, the job request
#: and the page read them from
LIMITS: dict[str, tuple[float, float]] = {
    "sparsity": (0.01, 0.95), "fine_tune_epochs": (0, 100), "student_width": (1, 4096), "student_depth": (0, 8),
    "temperature": (0.1, 100.0), "alpha": (0.0, 1.0), "distill_epochs": (1, 500)}
DEFAULTS: dict[str, float] = {"sparsity": 0.5, "fine_tune_epochs": 0, "student_width": 32, "student_depth": 1,
                              "temperature": 4.0, "alpha": 0.7, "distill_epochs": 100}


def in_limits(name: str, value: float) -> bool:
    low, high = LIMITS[name]
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
SKLEARN = ("skops", "pickle")
TORCH = ("torchscript", "torch_export")


class NotApplicable(FrontierError):
    """A recipe that does not apply to this model, with the one-line reason."""


@dataclass(frozen=True)
class Recipe:
    method: str
    backend: str  # "onnxruntime" or "torch": what the variant runs on
    flavour: str = ""  # prune: magnitude or channels; distill: student or twin (the same net without teacher)

    @property
    def label(self) -> str:
        if self.flavour:
            return f"{self.method} ({self.flavour})"
        return f"{self.method} ({self.backend})" if self.backend == "torch" else self.method


RECIPES: dict[str, tuple[Recipe, ...]] = {
    "onnx": (Recipe("onnx", "onnxruntime"),),
    "dynamic-int8": (Recipe("dynamic-int8", "onnxruntime"), Recipe("dynamic-int8", "torch")),
    "static-int8": (Recipe("static-int8", "onnxruntime"),),
    "fp16": (Recipe("fp16", "onnxruntime"),),
    "prune": tuple(Recipe("prune", "torch", kind) for kind in PRUNE_KINDS),
    "distill": (Recipe("distill", "torch", "student"), Recipe("distill", "torch", "twin")),
}


def parse_methods(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The asked methods in order, each once; unknown or not-yet-built ones are one-line errors."""
    out: list[str] = []
    for value in values or ():
        name = str(value).strip().lower()
        if name not in METHODS:
            raise FrontierError(f"{option('method')}: unknown method '{str(value)[:40]}'; choose from "
                                f"{', '.join(METHODS)}")
        if name not in out:
            out.append(name)
    if not out:
        raise FrontierError(f"choose at least one {option('method')} ({', '.join(METHODS)})")
    return tuple(out)


def recipes_for(methods: tuple[str, ...], prune_kinds: tuple[str, ...] = PRUNE_KINDS) -> tuple[Recipe, ...]:
    """Every recipe of the methods (``auto``: all of them), in a fixed order, each once; pruning only of
    the asked kinds."""
    wanted = set(RECIPES) if "auto" in methods else set(methods)
    return tuple(r for m in RECIPES if m in wanted for r in RECIPES[m]
                 if r.method != "prune" or r.flavour in prune_kinds)


def reason_not_applicable(recipe: Recipe, fmt: str, *, device: str = "cpu") -> str | None:
    """Why ``recipe`` cannot run on a model of format ``fmt`` (None: it may; the recipe decides the rest)."""
    if fmt not in (*SKLEARN, "onnx", *TORCH):
        return f"{recipe.method} takes scikit-learn, ONNX, TorchScript or .pt2 models, not {fmt}"
    if recipe.method == "prune":
        if fmt == "onnx":
            return ("pruning rewrites and may retrain a torch model's layers; an ONNX file is not pruned: prune "
                    "the torch model it was exported from")
        if fmt in SKLEARN:
            return "pruning applies to torch models (TorchScript or .pt2); a scikit-learn model has no layers to prune"
        return None
    if recipe.method == "distill":
        return None  # any classifier with probabilities can teach; the recipe tells one without them
    if recipe.backend == "torch":
        if fmt == "torch_export":
            return ("torch dynamic int8 rewrites the nn.Linear calls of a TorchScript graph; a .pt2 program has "
                    "none to rewrite (its ONNX Runtime dynamic int8 variant still applies)")
        if fmt != "torchscript":
            return "torch dynamic int8 applies to TorchScript models only"
        if device != "cpu":
            return "torch dynamic int8 kernels run on CPU only; use --device cpu for it"
        return None
    if recipe.method == "onnx" and fmt == "onnx":
        return ("the model is already ONNX; its variants come from dynamic-int8, static-int8 and fp16")
    return None


def plan_recipes(methods: tuple[str, ...], fmt: str, *, device: str = "cpu", name: str = "the model",
                 prune_kinds: tuple[str, ...] = PRUNE_KINDS) -> tuple[tuple[Recipe, ...], list[dict[str, str]]]:
    """The recipes to run and the skipped ones with their reasons.

    A method asked for by name none of whose recipes applies is an error (one
    line naming the flag); under ``auto`` it is only skipped.
    """
    run, skipped = [], []
    for r in recipes_for(methods, prune_kinds):
        reason = reason_not_applicable(r, fmt, device=device)
        if reason is None:
            run.append(r)
        else:
            skipped.append({"method": r.method, "backend": r.backend, "flavour": r.flavour, "reason": reason})
    if "auto" not in methods:
        for m in methods:
            if m not in RUNTIME_ONLY and not any(r.method == m for r in run):
                why = next(s["reason"] for s in skipped if s["method"] == m)
                raise FrontierError(f"{option('method', m)} does not apply to '{name}': {why}")
    return tuple(run), skipped
