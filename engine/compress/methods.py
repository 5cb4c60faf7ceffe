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

METHODS = ("onnx", "dynamic-int8", "static-int8", "fp16", "auto")
LATER = {"prune": "step 2", "distill": "step 3"}  # named by the design; not built yet
CALIBRATIONS = ("minmax", "entropy", "percentile")
SKLEARN = ("skops", "pickle")
TORCH = ("torchscript", "torch_export")


class NotApplicable(FrontierError):
    """A recipe that does not apply to this model, with the one-line reason."""


@dataclass(frozen=True)
class Recipe:
    method: str
    backend: str  # "onnxruntime" or "torch": what the variant runs on

    @property
    def label(self) -> str:
        return f"{self.method} ({self.backend})" if self.backend == "torch" else self.method


RECIPES: dict[str, tuple[Recipe, ...]] = {
    "onnx": (Recipe("onnx", "onnxruntime"),),
    "dynamic-int8": (Recipe("dynamic-int8", "onnxruntime"), Recipe("dynamic-int8", "torch")),
    "static-int8": (Recipe("static-int8", "onnxruntime"),),
    "fp16": (Recipe("fp16", "onnxruntime"),),
}


def parse_methods(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The asked methods in order, each once; unknown or not-yet-built ones are one-line errors."""
    out: list[str] = []
    for value in values or ():
        name = str(value).strip().lower()
        if name in LATER:
            raise FrontierError(f"{option('method', name)} is not built yet ({LATER[name]} of compress); choose "
                                f"from {', '.join(METHODS)}")
        if name not in METHODS:
            raise FrontierError(f"{option('method')}: unknown method '{str(value)[:40]}'; choose from "
                                f"{', '.join(METHODS)}")
        if name not in out:
            out.append(name)
    if not out:
        raise FrontierError(f"choose at least one {option('method')} ({', '.join(METHODS)})")
    return tuple(out)


def recipes_for(methods: tuple[str, ...]) -> tuple[Recipe, ...]:
    """Every recipe of the methods (``auto``: all of them), in a fixed order, each once."""
    wanted = set(RECIPES) if "auto" in methods else set(methods)
    return tuple(r for m in RECIPES if m in wanted for r in RECIPES[m])


def reason_not_applicable(recipe: Recipe, fmt: str, *, device: str = "cpu") -> str | None:
    """Why ``recipe`` cannot run on a model of format ``fmt`` (None: it may; the recipe decides the rest)."""
    if fmt not in (*SKLEARN, "onnx", *TORCH):
        return f"{recipe.method} takes scikit-learn, ONNX, TorchScript or .pt2 models, not {fmt}"
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


def plan_recipes(methods: tuple[str, ...], fmt: str, *, device: str = "cpu",
                 name: str = "the model") -> tuple[tuple[Recipe, ...], list[dict[str, str]]]:
    """The recipes to run and the skipped ones with their reasons.

    A method asked for by name none of whose recipes applies is an error (one
    line naming the flag); under ``auto`` it is only skipped.
    """
    run, skipped = [], []
    for r in recipes_for(methods):
        reason = reason_not_applicable(r, fmt, device=device)
        if reason is None:
            run.append(r)
        else:
            skipped.append({"method": r.method, "backend": r.backend, "reason": reason})
    if "auto" not in methods:
        for m in methods:
            if not any(r.method == m for r in run):
                why = next(s["reason"] for s in skipped if s["method"] == m)
                raise FrontierError(f"{option('method', m)} does not apply to '{name}': {why}")
    return tuple(run), skipped
