"""Knowledge distillation: a small MLP student trained from the teacher's soft targets, and its twin.

The student is the torch MLP family's network (:func:`engine.tune.torch_families.mlp_body`:
``depth`` hidden ReLU layers of ``width``, no dropout) inside its ``Exported``
wrapper (the training rows' per-feature mean and scale as buffers, softmax
out), scripted to TorchScript, so it takes the same raw float32 rows as every
other model. Any classifier that gives probabilities can teach: scikit-learn,
ONNX or torch (the teacher's probabilities are read through the engine's own
predictor, as the benchmark reads them).

Loss (Hinton et al., 2015): ``alpha * T² * KL(q_T || softmax(z / T)) + (1 - alpha) * CE(z, y)``
where ``q_T = softmax(log p / T)`` is the teacher's distribution softened at
temperature ``T`` (``p ** (1/T)``, renormalised; the same as softening its
logits) and ``z`` the student's logits. The *twin* is the same student — same
seed, same initial weights, same rows, same epochs — trained on the labels alone
(``alpha = 0``): the difference between the two is what the teacher added,
which may be nothing or negative; it is reported as measured.

Both train on fold 1's training part; their accuracy on fold 1's test part
(rows neither has seen) is reported next to the cross-validated figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.compress import training

ROLES = ("student", "twin")


@dataclass(frozen=True)
class Settings:
    width: int = 32
    depth: int = 1
    temperature: float = 4.0
    alpha: float = 0.7
    epochs: int = 100


def soft_targets(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)``: the teacher's probabilities softened at temperature ``T``."""
    logp = np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-12, None)) / float(temperature)
    logp -= logp.max(axis=1, keepdims=True)
    e = np.exp(logp)
    return e / e.sum(axis=1, keepdims=True)


def train(X: np.ndarray, y: np.ndarray, n_classes: int, teacher_proba: np.ndarray | None, settings: Settings,
          *, seed: int, threads: int) -> Any:
    """The trained student (``teacher_proba`` None or ``alpha`` 0: the twin, labels only), in eval mode."""
    import torch
    import torch.nn.functional as F

    from engine.tune.torch_families import Exported, mlp_body

    flat = X.reshape(len(X), -1).astype(np.float64)
    mean, scale = flat.mean(axis=0), flat.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    n_in = flat.shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))  # the student and its twin start from the same weights
        body = mlp_body(n_in, n_classes, width=settings.width, depth=settings.depth, dropout=0.0)
    net = Exported(body, torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(scale.astype(np.float32)),
                   [n_in], classify=True)
    with torch.no_grad():
        xs = net.standardize(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))).numpy()
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    alpha, T = (float(settings.alpha), float(settings.temperature)) if teacher_proba is not None else (0.0, 1.0)
    soft = torch.from_numpy(soft_targets(teacher_proba, T).astype(np.float32)) if alpha > 0 else None

    def loss(z: Any, idx: Any) -> Any:
        hard = F.cross_entropy(z, yt[idx])
        if soft is None:
            return hard
        kd = F.kl_div(F.log_softmax(z / T, dim=1), soft[idx], reduction="batchmean") * T * T
        return alpha * kd + (1 - alpha) * hard

    training.fit(body, xs, loss, epochs=settings.epochs, seed=seed, threads=threads)
    return net.eval()


def to_torchscript(net: Any) -> bytes:
    """The student scripted and saved in a fresh process (:mod:`engine.compress.serialize`): bytes that
    depend on its weights only."""
    from engine.compress import serialize

    return serialize.script(net)
