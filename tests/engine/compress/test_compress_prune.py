"""Pruning: the onnx2torch rebuild matches ONNX Runtime, magnitude pruning zeroes exactly the requested share
(the smallest weights, by a brute-force sort), channel pruning removes the requested share of each hidden
layer and keeps the output, fine-tuning keeps the zeros, and the TorchScript made in a fresh process has the
same bytes whatever the process did before."""

from __future__ import annotations

import io

import numpy as np
import onnxruntime as ort
import pytest
import torch
from frontier_support import sample
from sklearn.datasets import load_digits

from engine.compress import prune, serialize, training


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


def _rebuilt(name: str):
    return prune.eager_copy(sample(name).read_bytes())


def _logits(model, X):
    with torch.no_grad():
        return model(torch.from_numpy(X)).numpy()


@pytest.mark.parametrize(("name", "image"), [("digits_mlp.onnx", False), ("digits_cnn.onnx", True)])
def test_the_onnx2torch_rebuild_matches_onnx_runtime(name, image, digits):
    X = digits[0][:200].reshape(-1, 1, 8, 8) if image else digits[0][:200]
    session = ort.InferenceSession(str(sample(name)), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: X})[0]
    np.testing.assert_allclose(_logits(_rebuilt(name), X), expected, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("sparsity", [0.3, 0.5, 0.9])
def test_magnitude_pruning_zeroes_exactly_the_smallest_share_of_all_weights(sparsity):
    model = _rebuilt("digits_mlp.onnx")
    before = np.concatenate([m.weight.detach().numpy().ravel() for _, m in prune.layers(model)])
    prune.magnitude(model, sparsity)
    prune.make_permanent(model)
    after = np.concatenate([m.weight.detach().numpy().ravel() for _, m in prune.layers(model)])
    zeros, total = prune.weight_sparsity(model)
    assert total == before.size and zeros == round(sparsity * total) == int(np.sum(after == 0))
    cut = np.sort(np.abs(before))[zeros - 1]  # brute force: the zeroed weights are the smallest |w| overall
    assert np.all(np.abs(before[after == 0]) <= cut) and np.all(np.abs(before[after != 0]) >= cut)
    assert np.array_equal(after[after != 0], before[after != 0])  # the others are untouched


def test_fine_tuning_keeps_the_pruned_weights_at_zero(digits):
    X, y = digits
    model = _rebuilt("digits_mlp.onnx")
    prune.magnitude(model, 0.6)
    loss = training.hard_label_loss(y[:300], probabilities=False)
    layer = prune.layers(model)[0][1]
    first = layer.weight.detach().clone()
    training.fit(model, X[:300], loss, epochs=2, seed=0, threads=1)
    prune.make_permanent(model)
    zeros, total = prune.weight_sparsity(model)
    assert zeros == round(0.6 * total)
    assert not torch.equal(first, layer.weight.detach())  # it did train


@pytest.mark.parametrize(("name", "image"), [("digits_mlp.onnx", False), ("digits_cnn.onnx", True)])
def test_channel_pruning_removes_the_share_of_every_hidden_layer_and_keeps_the_classes(name, image, digits):
    X = digits[0][:64].reshape(-1, 1, 8, 8) if image else digits[0][:64]
    model = _rebuilt(name)
    widths = [prune._width(m) for _, m in prune.layers(model)]
    details = prune.channels(model, 0.5, X[:2])
    after = [prune._width(m) for _, m in prune.layers(model)]
    assert after[-1] == widths[-1] == 10  # the output layer is whole
    assert after[:-1] == [w - int(w * 0.5) for w in widths[:-1]]  # half of each hidden layer's channels
    assert details["channels_removed"] == sum(widths[:-1]) - sum(after[:-1])
    assert details["channel_sparsity"] == pytest.approx(0.5)
    n_params = sum(p.numel() for p in model.parameters())
    assert details["parameters_after"] == n_params < details["parameters_before"]
    data = prune.to_torchscript(model, X[:2])
    traced = torch.jit.load(io.BytesIO(data))
    for rows in (1, 37):  # any batch, not only the traced one
        np.testing.assert_allclose(_logits(traced, X[:rows]), _logits(model, X[:rows]), atol=1e-5)


def test_fresh_serialisation_gives_the_same_bytes_whatever_ran_before():
    from engine.tune.torch_families import Exported, mlp_body

    def student():
        torch.manual_seed(0)
        return Exported(mlp_body(64, 10, width=16, depth=1, dropout=0.0), torch.zeros(64), torch.ones(64), [64],
                        classify=True)

    first = serialize.script(student())
    torch.jit.script(Exported(mlp_body(64, 3, width=5, depth=2, dropout=0.0), torch.zeros(64), torch.ones(64),
                              [64], classify=True))  # this process now has types a plain script would reuse
    assert serialize.script(student()) == first
