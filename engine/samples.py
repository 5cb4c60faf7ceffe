"""The bundled samples: built-in datasets, held-out rows and the models in ``sample_models/``.

Every sample model was trained on a seeded split of its dataset (the manifest's
``training_rows``); the other rows are registered as held-out datasets
(``digits_holdout``, ``digits_images_holdout``, ``diabetes_holdout``), rebuilt
here from scikit-learn's data and checked against the manifest's hash of the
training rows. :func:`ensure_registered` puts everything in a workspace once;
:func:`rows_seen` tells whether a model scored as-is on a dataset saw some of its
rows in training. Bundled models are trusted (we built them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import ENGINE_VERSION, datasets, ids, models
from engine.errors import FrontierError
from engine.workspace import Workspace

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "sample_models" / "artifacts"
# Bump when what ensure_registered adds changes, so existing workspaces pick it up.
SAMPLES_VERSION = 2
# Holdouts are built from scikit-learn's data by the engine, like the built-ins (and the
# dataset registry reads any source but "builtin" and "upload" back as "upload").
BUILTIN_SOURCE = "builtin"
HOLDOUT_SOURCE = BUILTIN_SOURCE
# Samples bundled before SAMPLES_VERSION 2 (ids of the files then shipped): trained on
# every row, so they have seen their holdouts too. Workspaces registered then keep them.
ALL_ROWS_IDS = {
    "8004b1e056ca15c0": "digits_logreg.skops",
    "5d018d65e32d6ebd": "digits_random_forest.skops",
    "45d39408dd65d527": "digits_hist_gradient_boosting.skops",
    "05d038dea1a757cf": "digits_logreg.onnx",
    "b52d32d60dd65663": "digits_mlp.pt",
    "85f969b0c6fb2688": "digits_mlp.onnx",
    "d48bce5ae8dc526b": "digits_mlp.pt2",
    "c71c5a954cc393e8": "digits_cnn.pt",
    "015b067b7bdf0c71": "digits_cnn.onnx",
    "9395d63a8828b3c0": "diabetes_ridge.skops",
}


@dataclass(frozen=True)
class TrainingRows:
    """Which rows of ``rows_of`` a sample was fitted on: a seeded ``train_test_split``."""

    rows_of: str
    n_rows: int
    n_train: int
    holdout_fraction: float
    seed: int
    stratified: bool
    train_index_sha256: str
    holdouts: dict[str, str]  # held-out dataset name -> the built-in it is cut from

    @property
    def seen_in(self) -> frozenset[str]:
        """Built-in datasets that hold the training rows."""
        return frozenset(self.holdouts.values())

    def split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sorted (training, held-out) row indices, checked against the manifest's hash."""
        from sklearn.model_selection import train_test_split

        if len(y) != self.n_rows:
            raise FrontierError(f"'{self.rows_of}' has {len(y)} rows, the samples were split from {self.n_rows}")
        train, held = train_test_split(np.arange(len(y)), test_size=self.holdout_fraction,
                                       random_state=self.seed, stratify=y if self.stratified else None)
        train, held = np.sort(train), np.sort(held)
        if index_digest(train) != self.train_index_sha256:
            raise FrontierError(
                f"the '{self.rows_of}' split no longer matches the samples' manifest; rebuild them with `make samples`")
        return train, held


@dataclass(frozen=True)
class SampleModel:
    file: str
    name: str
    format: str
    dataset: str
    target: str
    task: str
    description: str
    sha256: str = ""
    training_rows: TrainingRows | None = None

    @property
    def path(self) -> Path:
        return SAMPLES_DIR / self.file

    @property
    def artifact_id(self) -> str:
        """The id the file gets when registered (a content id of its bytes)."""
        return self.sha256[:ids.CONTENT_ID_LEN]

    @property
    def lineage(self) -> str:
        rows = self.training_rows
        if rows is None:
            return f"bundled sample ({self.dataset})"
        held = next((h for h, base in rows.holdouts.items() if base == self.dataset), None)
        return (f"bundled sample ({self.dataset}; trained on {rows.n_train} of {rows.n_rows} rows, "
                f"split seed {rows.seed}; held out: {held})")


def index_digest(rows: np.ndarray) -> str:
    """SHA-256 of sorted row indices as little-endian int64 (the manifest's ``train_index_sha256``)."""
    return hashlib.sha256(np.sort(np.asarray(rows)).astype("<i8").tobytes()).hexdigest()


def manifest() -> list[SampleModel]:
    path = SAMPLES_DIR / "manifest.json"
    if not path.is_file():
        return []
    fields = SampleModel.__dataclass_fields__
    out = []
    for item in json.loads(path.read_text()):
        entry = {k: v for k, v in item.items() if k in fields}
        if entry.get("training_rows"):
            entry["training_rows"] = TrainingRows(**entry["training_rows"])
        out.append(SampleModel(**entry))
    return out


def holdout_datasets() -> list[datasets.Dataset]:
    """The rows no sample was trained on, one dataset per holdout named in the manifest."""
    built: dict[str, datasets.Dataset] = {}
    for sample in manifest():
        rows = sample.training_rows
        for name, base in (rows.holdouts.items() if rows else ()):
            if name not in built:
                full = datasets.builtin(base)
                labels = full.labels if full.kind == "images" else full.frame[sample.target].to_numpy()
                built[name] = _subset(full, rows.split(labels)[1], name)
    return list(built.values())


def _subset(full: datasets.Dataset, rows: np.ndarray, name: str) -> datasets.Dataset:
    """``full`` restricted to ``rows``, read back as datasets read any file (so its id is a content id)."""
    buf = io.BytesIO()
    if full.kind == "images":
        np.savez(buf, X=full.images[rows], y=full.labels[rows])
        suffix = ".npz"
    else:
        full.frame.iloc[rows].reset_index(drop=True).to_parquet(buf, index=False)
        suffix = ".parquet"
    ds = datasets.read_bytes(buf.getvalue(), name=name + suffix)
    return dataclasses.replace(ds, name=name, source=HOLDOUT_SOURCE)


# Who registered (and trusted) what Frontier ships: only admins delete it on a shared server.
BUNDLED_OWNER = "frontier (bundled)"


def ensure_registered(ws: Workspace) -> bool:
    """Register built-in datasets, holdouts and sample models once per workspace; True if it did."""
    marker = ws.root / f".samples-{ENGINE_VERSION}-v{SAMPLES_VERSION}"
    if marker.exists():
        return False
    for name in datasets.BUILTINS:
        datasets.register(ws, datasets.builtin(name), owner=BUNDLED_OWNER)
    for ds in holdout_datasets():
        datasets.register(ws, ds, owner=BUNDLED_OWNER)
    for sample in manifest():
        if sample.path.is_file():
            models.register_bytes(ws, sample.path.read_bytes(), sample.file, trusted=True,
                                  display_name=sample.name, lineage=sample.lineage, owner=BUNDLED_OWNER)
    marker.write_text("registered\n")
    return True


def _sample_for(info: models.ArtifactInfo) -> tuple[SampleModel, bool] | None:
    """The manifest entry of a bundled model (matched by id) and whether it saw every row."""
    samples = manifest()
    for sample in samples:
        if sample.sha256 and sample.artifact_id == info.id:
            return sample, False
    legacy = ALL_ROWS_IDS.get(info.id)
    return next(((s, True) for s in samples if s.file == legacy), None)


def dataset_for(info: models.ArtifactInfo) -> str | None:
    """The built-in dataset a bundled model was trained on, if it is one."""
    found = _sample_for(info)
    return found[0].dataset if found else None


def rows_seen(info: models.ArtifactInfo, dataset_name: str, dataset_source: str) -> bool | None:
    """Whether the dataset holds rows the model was trained on.

    True: a bundled sample on a built-in it was trained from (e.g. ``digits``);
    False: a sample on its held-out rows (e.g. ``digits_holdout``); None: unknown,
    i.e. any other model or dataset. Samples are matched by artifact id, never by name.
    """
    found = _sample_for(info)
    rows = found[0].training_rows if found else None
    if found is None or rows is None:
        return None
    if dataset_source == BUILTIN_SOURCE and dataset_name in rows.seen_in:
        return True
    if dataset_source == HOLDOUT_SOURCE and dataset_name in rows.holdouts:
        return found[1]  # False, unless an old sample fitted on every row
    return None  # an upload (whatever its name) or another dataset
