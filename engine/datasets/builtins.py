"""scikit-learn's bundled datasets, as Frontier presents them (no downloads)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.datasets.dataset import Dataset
from engine.datasets.hashing import frame_id, images_id
from engine.errors import FrontierError, option

BUILTINS = ("digits", "digits_images", "breast_cancer", "wine", "iris", "diabetes")
# The content ids of every dataset Frontier ships (built-ins and the samples' holdouts), so a
# request naming one finds its registered copy without loading scikit-learn; a name never
# selects a dataset whose id is not this (a planted "digits" upload is not the built-in).
# tests/engine/datasets/test_bundled_ids.py recomputes them.
BUNDLED_IDS = {
    "digits": "68620f2325db13f3",
    "digits_images": "a405ebae82f4e6c2",
    "breast_cancer": "712235790e132f47",
    "wine": "6dd507678b6bcb8c",
    "iris": "50eb7cedd75c4e87",
    "diabetes": "724f5506542541c0",
    "digits_holdout": "aa36239e2c6afa69",
    "digits_images_holdout": "a4cfd7ef43499f27",
    "diabetes_holdout": "4115e7c45de0ad69",
}


def builtin(name: str) -> Dataset:
    """One of scikit-learn's bundled datasets; ``digits_images`` is digits as ``(N, 1, 8, 8)``."""
    from sklearn import datasets as skd

    if name == "digits_images":
        d = skd.load_digits()
        images = d.images.astype(np.float32)[:, None, :, :]
        labels = d.target.astype(np.int64)
        return Dataset(images_id(images, labels), name, "images", images=images, labels=labels, source="builtin")
    loaders = {
        "digits": skd.load_digits,
        "breast_cancer": skd.load_breast_cancer,
        "wine": skd.load_wine,
        "iris": skd.load_iris,
        "diabetes": skd.load_diabetes,
    }
    if name not in loaders:
        raise FrontierError(f"unknown built-in dataset '{name}' for {option('data')}; "
                            f"choose one of {', '.join(BUILTINS)}")
    d = loaders[name](as_frame=name != "digits")
    if name == "digits":
        frame = pd.DataFrame(d.data, columns=[f"pixel_{i}" for i in range(d.data.shape[1])])
        frame["target"] = d.target
    else:
        frame = d.frame.copy()
        frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    return Dataset(frame_id(frame), name, "tabular", frame=frame, source="builtin")
