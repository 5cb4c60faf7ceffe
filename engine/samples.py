"""The bundled samples: built-in datasets and the models in ``sample_models/``.

:func:`ensure_registered` puts them in a workspace once, so the dashboard
opens ready to benchmark. Bundled models are trusted (we built them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine import ENGINE_VERSION, datasets, models
from engine.workspace import Workspace

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "sample_models" / "artifacts"


@dataclass(frozen=True)
class SampleModel:
    file: str
    name: str
    format: str
    dataset: str
    target: str
    task: str
    description: str

    @property
    def path(self) -> Path:
        return SAMPLES_DIR / self.file


def manifest() -> list[SampleModel]:
    path = SAMPLES_DIR / "manifest.json"
    if not path.is_file():
        return []
    fields = SampleModel.__dataclass_fields__
    return [SampleModel(**{k: v for k, v in item.items() if k in fields}) for item in json.loads(path.read_text())]


def ensure_registered(ws: Workspace) -> bool:
    """Register built-in datasets and sample models once per workspace; True if it did."""
    marker = ws.root / f".samples-{ENGINE_VERSION}"
    if marker.exists():
        return False
    for name in datasets.BUILTINS:
        datasets.register(ws, datasets.builtin(name))
    for sample in manifest():
        if sample.path.is_file():
            models.register_bytes(ws, sample.path.read_bytes(), sample.file, trusted=True,
                                     display_name=sample.name, lineage=f"bundled sample ({sample.dataset})")
    marker.write_text("registered\n")
    return True


def dataset_for(info: models.ArtifactInfo) -> str | None:
    """The built-in dataset a bundled model was trained on, if it is one."""
    for sample in manifest():
        if info.lineage.startswith("bundled") and sample.name == info.name:
            return sample.dataset
    return None
