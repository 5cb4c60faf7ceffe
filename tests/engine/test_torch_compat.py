"""The torchvision import shim: models and transforms work on the CPU-only torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import torch
from engine._torch_compat import import_torchvision
tv = import_torchvision()
assert import_torchvision() is tv  # imported once
from torchvision import transforms
model = tv.models.resnet18(num_classes=10).eval()
x = transforms.Normalize([0.5] * 3, [0.25] * 3)(torch.rand(2, 3, 32, 32))
with torch.inference_mode():
    print(tuple(model(x).shape))
"""


def test_torchvision_models_and_transforms_import_and_run():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "(2, 10)"

