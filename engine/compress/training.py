"""The one training loop of compress: fine-tuning a pruned model and training a distilled student.

Seeded and reproducible: ``torch.manual_seed`` inside ``torch.random.fork_rng``
(the caller's generator is left as it was), a ``torch.Generator`` for the
shuffle, and ``threads`` torch threads (restored afterwards). Adam, mini-batches
of ``batch_size``, ``epochs`` passes. A loss that stops being finite raises a
:class:`~engine.errors.FrontierError` naming the learning rate.

Both uses train on the rows of fold 1's training part only (the rows static
quantization calibrates on), so fold 1's test part stays unseen; see
:mod:`engine.compress.run` for what that means for the other folds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.errors import FrontierError

LEARNING_RATE, BATCH_SIZE = 1e-3, 64


def fit(module: Any, X: np.ndarray, loss_of: Callable[[Any, Any], Any], *, epochs: int, seed: int,
        threads: int, learning_rate: float = LEARNING_RATE, batch_size: int = BATCH_SIZE) -> None:
    """Train ``module`` in place: ``loss_of(outputs, row_index_tensor)`` is minimised over ``X``'s rows."""
    import torch

    params = [p for p in module.parameters() if p.requires_grad]
    if not params or epochs < 1 or len(X) == 0:
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            xs = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
            optimizer = torch.optim.Adam(params, lr=learning_rate)
            shuffle = torch.Generator().manual_seed(int(seed))
            n = len(xs)
            for epoch in range(int(epochs)):
                module.train()
                order = torch.randperm(n, generator=shuffle)
                for start in range(0, n, batch_size):
                    idx = order[start:start + batch_size]
                    optimizer.zero_grad(set_to_none=True)
                    loss = loss_of(module(xs[idx]), idx)
                    if not torch.isfinite(loss):
                        raise FrontierError(f"training diverged in epoch {epoch + 1}: the loss is not finite "
                                            f"(learning rate {learning_rate:g})")
                    loss.backward()
                    optimizer.step()
    finally:
        module.eval()
        torch.set_num_threads(previous)


def outputs_are_probabilities(out: np.ndarray) -> bool:
    """Whether a model's outputs are class probabilities (rows in [0, 1] summing to 1) rather than logits."""
    out = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
    return bool(out.size and out.min() >= -1e-6 and out.max() <= 1 + 1e-6
                and np.allclose(out.sum(axis=1), 1.0, atol=1e-3))


def hard_label_loss(y: np.ndarray, *, probabilities: bool) -> Callable[[Any, Any], Any]:
    """Cross-entropy against class indices ``y``, on logits or on probabilities (their log, clamped)."""
    import torch
    import torch.nn.functional as F

    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))

    def loss(out: Any, idx: Any) -> Any:
        if probabilities:
            return F.nll_loss(torch.log(out.clamp_min(1e-12)), yt[idx])
        return F.cross_entropy(out, yt[idx])

    return loss
