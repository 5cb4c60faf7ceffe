"""The torch architectures of the bundled samples.

Kept apart from ``build.py`` on purpose: TorchScript and ``.pt2`` files record the
source file and line of each ``forward``, so editing the build script must not move
these lines (the artifacts' bytes, and so their ids, would change).
"""

from __future__ import annotations

import torch
from torch import nn


class DigitsMLP(nn.Module):
    """64-128-64-10 ReLU MLP on raw 0..16 pixels (scaled by 1/16 inside)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(64, 128),
            nn.ReLU(),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x / 16.0)


class DigitsCNN(nn.Module):
    """Small CNN on (N, 1, 8, 8) raw 0..16 images (scaled by 1/16 inside)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x / 16.0))
