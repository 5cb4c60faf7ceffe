"""Distillation: the softened teacher targets against scipy's softmax, seeded training that reproduces, and a
twin that is the same student trained without the teacher."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import softmax
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from engine.compress import distill


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0, 0.5])
def test_soft_targets_are_the_softmax_of_log_probabilities_over_t(temperature):
    p = np.random.default_rng(0).dirichlet(np.ones(10), size=50)
    soft = distill.soft_targets(p, temperature)
    np.testing.assert_allclose(soft, softmax(np.log(p) / temperature, axis=1), atol=1e-12)
    if temperature == 1.0:
        np.testing.assert_allclose(soft, p, atol=1e-12)
    else:  # softening flattens (T > 1) or sharpens (T < 1) and keeps the ranking
        spread = soft.max(axis=1) - soft.min(axis=1)
        assert np.all(spread < p.max(axis=1) - p.min(axis=1)) == (temperature > 1)
        assert np.array_equal(soft.argmax(axis=1), p.argmax(axis=1))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    teacher = LogisticRegression(max_iter=2000).fit(X[:600], y[:600])
    return X[:600], y[:600], teacher.predict_proba(X[:600])


def _weights(net) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in net.parameters()]


def test_training_is_seeded_and_the_twin_is_the_student_without_teacher(digits):
    X, y, proba = digits
    settings = distill.Settings(width=16, depth=1, epochs=3)
    a = distill.train(X, y, 10, proba, settings, seed=3, threads=1)
    b = distill.train(X, y, 10, proba, settings, seed=3, threads=1)
    assert all(np.array_equal(u, v) for u, v in zip(_weights(a), _weights(b), strict=True))
    twin = distill.train(X, y, 10, None, settings, seed=3, threads=1)
    no_weight = distill.train(X, y, 10, proba, distill.Settings(width=16, depth=1, epochs=3, alpha=0.0), seed=3,
                              threads=1)
    assert all(np.array_equal(u, v) for u, v in zip(_weights(twin), _weights(no_weight), strict=True))
    assert not all(np.array_equal(u, v) for u, v in zip(_weights(a), _weights(twin), strict=True))
    torch.manual_seed(123)
    before = torch.rand(1).item()
    distill.train(X, y, 10, proba, settings, seed=3, threads=1)
    torch.manual_seed(123)
    assert torch.rand(1).item() == before  # the caller's generator is left alone


def test_the_student_takes_raw_rows_and_outputs_probabilities(digits):
    X, y, proba = digits
    net = distill.train(X, y, 10, proba, distill.Settings(width=8, depth=0, epochs=2), seed=0, threads=1)
    with torch.no_grad():
        out = net(torch.from_numpy(X[:20])).numpy()
    assert out.shape == (20, 10) and np.allclose(out.sum(axis=1), 1, atol=1e-5)
    assert sum(p.numel() for p in net.body.parameters()) == 64 * 10 + 10  # depth 0: one linear layer


def test_a_teacher_without_probabilities_is_skipped_with_its_reason(tmp_path):
    import skops.io as sio
    from frontier_support import run_cli
    from sklearn.linear_model import RidgeClassifier

    X, y = load_digits(return_X_y=True)
    path = tmp_path / "ridge.skops"
    sio.dump(RidgeClassifier().fit(X, y), path)
    result = run_cli("compress", "--model", path, "--data", "digits", "--method", "distill", "--cv", "2",
                     "--batch-sizes", "1", "--latency-time", "0.01", "--latency-count", "3",
                     "--workspace", tmp_path / "ws", "--json")
    assert result.returncode == 1 and len(result.stderr_lines) == 1, str(result)
    assert result.stderr_lines[0] == ("error: no variant was made: distill: 'ridge.skops' gives no class "
                                      "probabilities, so it has no soft targets to teach")
