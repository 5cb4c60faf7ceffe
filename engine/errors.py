"""The one exception type that reaches users, and how any other error becomes one line.

A :class:`FrontierError` carries a single line that says what is wrong and
what to do about it; the CLI prints it on stderr, the dashboard in
``st.error``. Anything else escaping is a bug.

Errors speak the words of the place the input was made. Engine code names a
user option with :func:`option` (``option("drop", "Name")``); the message
renders as ``--drop Name`` for the CLI (:attr:`FrontierError.message`) and as
``'Drop columns': Name`` for the dashboard (:attr:`FrontierError.ui_message`).
"""

from __future__ import annotations

import re

MAX_LINE = 300

# option -> (CLI words, dashboard words); one place for both vocabularies
OPTIONS: dict[str, tuple[str, str]] = {
    "model": ("--model", "'Models'"),
    "data": ("--data", "'Dataset'"),
    "target": ("--target", "'Target column'"),
    "drop": ("--drop", "'Drop columns'"),
    "cv": ("--cv", "'Folds'"),
    "seed": ("--seed", "'Seed'"),
    "as_is": ("--as-is", "'Evaluate scikit-learn models as-is'"),
    "trust": ("--trust", "'I trust this file'"),
    "name": ("--name", "'Display name'"),
    "batch_sizes": ("--batch-sizes", "'Batch sizes'"),
    "latency_time": ("--latency-time", "'Minimum time per batch size'"),
    "latency_count": ("--latency-count", "'Minimum timed calls'"),
    "threads": ("--threads", "'Threads'"),
    "device": ("--device", "'Device'"),
    "time_limit": ("--time-limit", "'Time limit per model step'"),
    "run": ("--run", "'Runs to compare'"),
    "baseline": ("--baseline", "'Baseline'"),
    "x": ("--x", "'X axis'"),
    "y": ("--y", "'Y axis'"),
    "color": ("--color", "'Colour'"),
    "batch_size": ("--batch-size", "'Latency at batch size'"),
    "metric": ("--metric", "'Decide on'"),
    "rope": ("--rope", "'Equivalence region (ROPE)'"),
    "margin": ("--margin", "'Equivalence margin'"),
    "budget": ("--budget", "'Budget'"),
    "cost": ("--cost", "'Then prefer the lowest'"),
    "family": ("--family", "'Model family'"),
    "trials": ("--trials", "'Trials'"),
    "objective": ("--objective", "'Objective'"),
    "constraint": ("--constraint", "'Constraints'"),
    "sampler": ("--sampler", "'Sampler'"),
    "pruner": ("--pruner", "'Pruner'"),
    "storage": ("--storage", "'Storage'"),
    "study": ("--study", "'Study name'"),
    "space": ("--space", "'Search space'"),
    "save_best": ("--save-best", "'Best trials to save'"),
    "method": ("--method", "'Methods'"),
    "gate": ("--gate", "'Accuracy gate (points)'"),
    "calibration": ("--calibration", "'Calibration'"),
    "calibration_rows": ("--calibration-rows", "'Calibration rows'"),
    "prune_kind": ("--prune-kind", "'Pruning'"),
    "sparsity": ("--sparsity", "'Sparsity'"),
    "fine_tune_epochs": ("--fine-tune-epochs", "'Fine-tuning epochs'"),
    "student_width": ("--student-width", "'Student width'"),
    "student_depth": ("--student-depth", "'Student depth'"),
    "temperature": ("--temperature", "'Temperature'"),
    "alpha": ("--alpha", "'Alpha (teacher weight)'"),
    "distill_epochs": ("--distill-epochs", "'Distillation epochs'"),
}
_STRAY = {0x01: " ", 0x02: None, 0x03: None}  # marker characters left over from user text are dropped
_MARK = re.compile("\x02([a-z_]+)(?:\x01([^\x03]*))?\x03")


def option(name: str, value: object = None) -> str:
    """A reference to a user option (and optionally a value) inside an error message."""
    if name not in OPTIONS:
        raise KeyError(f"unknown option {name!r}; add it to engine.errors.OPTIONS")
    clean = "" if value is None else str(value).replace("\x02", "").replace("\x03", "").replace("\x01", "")
    return f"\x02{name}\x01{clean}\x03" if value is not None else f"\x02{name}\x03"


def render(template: str, *, ui: bool = False) -> str:
    """A message template (with :func:`option` references) in CLI words, or in dashboard words with ``ui``."""
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in OPTIONS:  # marker characters that came in with user text
            return m.group(0)
        cli, words = OPTIONS[m.group(1)]
        value = m.group(2)
        if value is None:
            return words if ui else cli
        return f"{words}: {value}" if ui else f"{cli} {value}"
    return printable(_MARK.sub(sub, template).translate(_STRAY))


def printable(text: str) -> str:
    """``text`` with control characters (ESC sequences, NUL, BEL, C1 codes) shown as escapes, so a name
    or a byte quoted from a hostile file can neither clear a terminal nor split a line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


class FrontierError(Exception):
    """A user-facing error: one line, says what to fix."""

    def __init__(self, message: str) -> None:
        self.template = " ".join(str(message).split())
        super().__init__(render(self.template, ui=False))

    @property
    def message(self) -> str:
        """The message in the CLI's words (flags)."""
        return self.args[0]

    @property
    def ui_message(self) -> str:
        """The message in the dashboard's words (widget labels)."""
        return render(self.template, ui=True)


TORCHSCRIPT_FAILED = "The following operation failed in the TorchScript interpreter."


def first_line(exc: BaseException, limit: int = MAX_LINE) -> str:
    """The first non-empty line of an exception's message (its type name if it has none), printable."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    if lines and lines[0].strip() == TORCHSCRIPT_FAILED:
        lines = lines[-1:]  # TorchScript's two tracebacks end in the cause: "RuntimeError: mat1 and mat2 ..."
    return printable(lines[0].strip())[:limit] if lines else type(exc).__name__


def check_folds_seed_threads(cv: int, seed: int, threads: int | None) -> None:
    """The settings every job that scores on seeded folds shares, each refused in its flag's (or label's) words."""
    if cv < 2:
        raise FrontierError(f"{option('cv')} must be at least 2, got {cv}")
    if not 0 <= seed < 2**32:
        raise FrontierError(f"{option('seed')} must be between 0 and {2**32 - 1}, got {seed}")
    if threads is not None and threads < 1:
        raise FrontierError(f"{option('threads')} must be at least 1")
