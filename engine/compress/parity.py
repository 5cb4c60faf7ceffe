"""How closely a variant's outputs follow its source's, on a seeded sample of rows.

An ONNX export is meant to compute the same function: it must match the
source's class probabilities within :data:`PROBA_ATOL` (absolute, on every
row and class of the sample, each as the engine reads it: probabilities, or
softmax of logits) or, for a model without probabilities, predict the same
label on every row. Quantized and fp16 variants are lossy by design: their
agreement is recorded, not enforced (their accuracy is judged on the folds).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engine.datasets import Prepared
from engine.errors import FrontierError
from engine.models.predictors import Predictor, Scores, model_input

PROBA_ATOL = 1e-4
PARITY_ROWS = 512


@dataclass(frozen=True)
class Parity:
    rows: int
    max_abs_diff: float | None  # largest |p_source - p_variant| over the rows and classes (None: no probabilities)
    label_agreement: float      # share of rows with the same predicted class
    tolerance: float = PROBA_ATOL

    @property
    def passed(self) -> bool:
        if self.max_abs_diff is None:
            return self.label_agreement == 1.0
        return self.max_abs_diff <= self.tolerance

    def to_dict(self, *, enforced: bool) -> dict[str, Any]:
        """The record; ``enforced`` (the ONNX export) adds the tolerance and whether it held."""
        out = asdict(self)
        tolerance = out.pop("tolerance")
        return out | ({"tolerance": tolerance, "passed": self.passed} if enforced else {})


def check_rows(prep: Prepared, *, seed: int, n: int = PARITY_ROWS) -> np.ndarray:
    """Up to ``n`` rows (seeded, sorted) the source and a variant are compared on."""
    rows = np.arange(prep.n_rows)
    if len(rows) > n:
        rows = np.sort(np.random.default_rng(seed).choice(rows, n, replace=False))
    return rows


def scores_on(predictor: Predictor, prep: Prepared, rows: np.ndarray) -> Scores:
    X = model_input(predictor, prep)
    batch = X.iloc[rows] if hasattr(X, "iloc") else np.ascontiguousarray(X[rows])
    return predictor.predict_scores(batch, classes=prep.classes)


def compare(source: Scores, variant: Scores) -> Parity:
    if source.labels is None or variant.labels is None:
        raise FrontierError("parity is checked on classifiers only")
    n = len(source.labels)
    agreement = float(np.mean(source.labels == variant.labels)) if n else 1.0
    diff = None
    if source.proba is not None and variant.proba is not None:
        diff = float(np.max(np.abs(source.proba - variant.proba))) if n else 0.0
    return Parity(rows=n, max_abs_diff=diff, label_agreement=agreement)
