"""Torch MLP and small CNN families: scikit-learn compatible wrappers, trained on CPU, saved as TorchScript.

:class:`TorchMLPClassifier`, :class:`TorchMLPRegressor` and
:class:`TorchCNNClassifier` are ``BaseEstimator`` subclasses with ``fit``,
``predict`` and (classifiers) ``predict_proba``, so a trial fits, scores and
times them exactly as it does a scikit-learn model, and ``clone`` copies them.

Training (``fit``): the features become a float32 array (a DataFrame's
columns in order; images stay ``(N, C, H, W)``); a seeded slice of the rows
(``validation_fraction``, stratified by class when it can be) is held out and
never trained on; the rest are standardised with their own per-feature mean
and standard deviation and trained with Adam for ``epochs`` passes in
shuffled mini-batches of ``batch_size``. After each epoch, when a validation
slice exists and ``fit`` got an ``on_epoch`` callback, it is called as
``on_epoch(epoch, model, X_val, y_val)`` with the model switched to
evaluation (``model.predict``/``predict_proba`` work); the tune objective uses
it to report the validation score to Optuna's pruner, and the callback may
raise (``optuna.TrialPruned``) to stop training. Everything is seeded from
``random_state`` (``torch.manual_seed`` inside ``torch.random.fork_rng``, so
the caller's global generator is left as it was, and a ``torch.Generator``
for the shuffle) and runs on ``threads`` torch threads (restored afterwards):
the same seed and threads give the same network. A loss that stops being
finite raises ``FloatingPointError`` (the trial fails; its parameters diverge).

What is exported (:meth:`to_torchscript`) is the whole model as one
TorchScript module taking the raw float32 features (``(N, F)`` or ``(N, C, H,
W)``): the standardisation (the training rows' mean and scale as buffers),
the network in evaluation mode, then a softmax (classifiers: one column per
class, in the sorted class order of ``classes_``) or the inverse of the
target's standardisation (regressors: ``(N, 1)``). ``predict_proba`` and
``predict`` run that same module (``predict_proba`` renormalises the float32
softmax in float64, a change below 1e-6), so the saved artifact predicts what
the in-memory model did.

The CNN reads a flat feature vector whose length is a square (``F = side *
side``, e.g. 64 pixels as 8x8) as a ``(1, side, side)`` image; it refuses any
other flat input (:func:`engine.tune.spaces.image_shape`).
"""

import io
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import Interval
from torch import nn

from engine.tune.spaces import CAPS, image_shape

MAX_EPOCHS, MAX_WIDTH, MAX_DEPTH, MAX_BATCH = CAPS["epochs"], CAPS["width"], CAPS["depth"], CAPS["batch_size"]

EpochCallback = Callable[[int, Any, np.ndarray, np.ndarray], None]


# ------------------------------------------------------------------ inputs
def as_features(X: Any) -> np.ndarray:
    """``X`` (a DataFrame or an array) as a writable C-contiguous float32 array, rows first."""
    if hasattr(X, "to_numpy"):
        X = X.to_numpy(dtype=np.float32)
    arr = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    if not arr.flags.writeable:  # torch.from_numpy wants memory it may write (it never does here)
        arr = arr.copy()
    if arr.ndim < 2:
        raise ValueError(f"expected rows of features (2 or more dimensions), got shape {arr.shape}")
    return arr


# ----------------------------------------------------------------- modules
class Exported(nn.Module):
    """The saved model: standardise the raw features, run the network, then softmax or un-standardise."""

    in_shape: list[int]
    classify: bool
    y_mean: float
    y_scale: float

    def __init__(self, body: nn.Module, mean: torch.Tensor, scale: torch.Tensor, in_shape: list[int],
                 classify: bool, y_mean: float = 0.0, y_scale: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)
        self.in_shape = in_shape
        self.classify = classify
        self.y_mean = y_mean
        self.y_scale = y_scale
        self.body = body

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        x = (x.reshape(n, -1) - self.mean) / self.scale
        return x.reshape([n] + self.in_shape)  # noqa: RUF005 (TorchScript has no list unpacking)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(self.standardize(x))
        if self.classify:
            return torch.softmax(out, dim=1)
        return out * self.y_scale + self.y_mean


def mlp_body(n_in: int, n_out: int, *, width: int, depth: int, dropout: float) -> nn.Module:
    """``depth`` blocks of Linear(width) + ReLU + Dropout, then a Linear head."""
    layers: list[nn.Module] = [nn.Flatten()]
    size = n_in
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.ReLU(), nn.Dropout(dropout)]
        size = width
    layers.append(nn.Linear(size, n_out))
    return nn.Sequential(*layers)


def cnn_body(shape: tuple[int, int, int], n_out: int, *, width: int, depth: int, dropout: float) -> nn.Module:
    """``depth`` blocks of 3x3 Conv(width, same padding) + ReLU, each followed by 2x2 max-pooling while
    the map is at least 4x4; then Flatten, Dropout and a Linear head."""
    c, h, w = shape
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Conv2d(c, width, kernel_size=3, padding=1), nn.ReLU()]
        c = width
        if h >= 4 and w >= 4:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
    layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(c * h * w, n_out)]
    return nn.Sequential(*layers)


# --------------------------------------------------------------- estimators
class _TorchEstimator(BaseEstimator):
    """Shared training loop; subclasses set ``arch`` and the task mixin."""

    arch: ClassVar[str] = "mlp"
    #: run_trial passes ``on_epoch`` to ``fit`` (pruning per epoch) for estimators that say so
    reports_epochs: ClassVar[bool] = True

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "learning_rate": [Interval(Real, 0, 10, closed="neither")],
        "width": [Interval(Integral, 1, MAX_WIDTH, closed="both")],
        "depth": [Interval(Integral, 0, MAX_DEPTH, closed="both")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_size": [Interval(Integral, 1, MAX_BATCH, closed="both")],
        "epochs": [Interval(Integral, 1, MAX_EPOCHS, closed="both")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 0.5, closed="both")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "threads": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, *, learning_rate: float = 1e-3, width: int = 64, depth: int = 2, dropout: float = 0.1,
                 batch_size: int = 64, epochs: int = 20, weight_decay: float = 0.0,
                 validation_fraction: float = 0.1, random_state: int = 0, threads: int = 1) -> None:
        self.learning_rate = learning_rate
        self.width = width
        self.depth = depth
        self.dropout = dropout
        self.batch_size = batch_size
        self.epochs = epochs
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.threads = threads

    # -- task-specific parts
    _classify: ClassVar[bool] = True

    def _targets(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        """Training targets and the network's output width."""
        raise NotImplementedError

    def _body(self, row_shape: tuple[int, ...], n_out: int) -> tuple[nn.Module, list[int]]:
        if self.arch == "cnn":
            shape = image_shape(row_shape, self.arch)
            return cnn_body(shape, n_out, width=self.width, depth=self.depth, dropout=self.dropout), list(shape)
        n_in = int(np.prod(row_shape))
        return mlp_body(n_in, n_out, width=self.width, depth=self.depth, dropout=self.dropout), [n_in]

    # -- training
    def fit(self, X: Any, y: Any, on_epoch: EpochCallback | None = None) -> "_TorchEstimator":
        self._validate_params()
        X = as_features(X)
        y = np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        targets, n_out = self._targets(y)
        fit_rows, val_rows = self._split(y)
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        self.input_shape_ = tuple(int(d) for d in X.shape[1:])
        self.n_train_rows_ = len(fit_rows)
        self.n_validation_rows_ = len(val_rows)
        previous = torch.get_num_threads()
        torch.set_num_threads(int(self.threads))
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(self.random_state))
                self._train(X, y, targets, n_out, fit_rows, val_rows, on_epoch)
        finally:
            torch.set_num_threads(previous)
        return self

    def _split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Seeded (train, validation) row indices; stratified by class when the classes allow it."""
        n = len(y)
        n_val = round(self.validation_fraction * n)
        rows = np.arange(n)
        if n_val < 1 or n - n_val < 1:
            return rows, rows[:0]
        from sklearn.model_selection import train_test_split

        stratify = y if self._classify else None
        try:
            fit_rows, val_rows = train_test_split(rows, test_size=n_val, random_state=int(self.random_state),
                                                  stratify=stratify)
        except ValueError:  # a class too small to be split: a plain seeded split
            fit_rows, val_rows = train_test_split(rows, test_size=n_val, random_state=int(self.random_state))
        return np.sort(fit_rows), np.sort(val_rows)

    def _train(self, X: np.ndarray, y: np.ndarray, targets: np.ndarray, n_out: int, fit_rows: np.ndarray,
               val_rows: np.ndarray, on_epoch: EpochCallback | None) -> None:
        body, in_shape = self._body(tuple(X.shape[1:]), n_out)
        flat = X[fit_rows].reshape(len(fit_rows), -1).astype(np.float64)
        mean = flat.mean(axis=0) if len(flat) else np.zeros(flat.shape[1])
        scale = flat.std(axis=0) if len(flat) else np.ones(flat.shape[1])
        scale = np.where(scale > 1e-12, scale, 1.0)
        y_mean, y_scale = 0.0, 1.0
        if not self._classify:
            y_mean = float(targets[fit_rows].mean())
            y_scale = float(targets[fit_rows].std()) or 1.0
        self.net_ = Exported(body, torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(scale.astype(np.float32)),
                             in_shape, self._classify, y_mean, y_scale)
        with torch.no_grad():
            xs = self.net_.standardize(torch.from_numpy(X[fit_rows]))
        if self._classify:
            yt = torch.from_numpy(targets[fit_rows].astype(np.int64))
            loss_fn: nn.Module = nn.CrossEntropyLoss()
        else:
            yt = torch.from_numpy(((targets[fit_rows] - y_mean) / y_scale).astype(np.float32)).reshape(-1, 1)
            loss_fn = nn.MSELoss()
        optimizer = torch.optim.Adam(body.parameters(), lr=float(self.learning_rate),
                                     weight_decay=float(self.weight_decay))
        shuffle = torch.Generator().manual_seed(int(self.random_state))
        n, bs = len(fit_rows), int(self.batch_size)
        X_val, y_val = X[val_rows], y[val_rows]
        for epoch in range(int(self.epochs)):
            body.train()
            order = torch.randperm(n, generator=shuffle)
            for start in range(0, n, bs):
                idx = order[start:start + bs]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(body(xs[idx]), yt[idx])
                if not torch.isfinite(loss):
                    body.eval()
                    raise FloatingPointError(f"training diverged: the loss is not finite in epoch {epoch} "
                                             f"(learning rate {self.learning_rate:g})")
                loss.backward()
                optimizer.step()
            body.eval()
            if on_epoch is not None and len(val_rows):
                on_epoch(epoch, self, X_val, y_val)
        body.eval()

    # -- prediction
    def _forward(self, X: Any) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "net_")
        X = as_features(X)
        if tuple(X.shape[1:]) != self.input_shape_ and int(np.prod(X.shape[1:])) != self.n_features_in_:
            raise ValueError(f"the model was fitted on rows of shape {self.input_shape_}, got {tuple(X.shape[1:])}")
        previous = torch.get_num_threads()
        torch.set_num_threads(int(self.threads))
        try:
            with torch.inference_mode():
                out = self.net_(torch.from_numpy(X)).numpy().astype(np.float64)
        finally:
            torch.set_num_threads(previous)
        if not np.isfinite(out).all():
            raise FloatingPointError("the network's outputs are not finite (its training diverged)")
        return out

    # -- export
    def to_torchscript(self) -> bytes:
        """The fitted model as TorchScript bytes (``torch.jit.save``): raw float32 features in."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "net_")
        self.net_.eval()
        buf = io.BytesIO()
        torch.jit.save(torch.jit.script(self.net_), buf)
        return buf.getvalue()


class _TorchClassifier(ClassifierMixin, _TorchEstimator):
    _classify: ClassVar[bool] = True

    def _targets(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        self.classes_, encoded = np.unique(y, return_inverse=True)
        return encoded.astype(np.int64), len(self.classes_)

    def predict_proba(self, X: Any) -> np.ndarray:
        proba = self._forward(X)
        return proba / proba.sum(axis=1, keepdims=True)  # the float32 softmax, summing to 1 in float64

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self._forward(X), axis=1)]


class TorchMLPClassifier(_TorchClassifier):
    """A ReLU MLP classifier (see the module docstring)."""

    arch: ClassVar[str] = "mlp"


class TorchCNNClassifier(_TorchClassifier):
    """A small CNN classifier on images or square feature vectors (see the module docstring)."""

    arch: ClassVar[str] = "cnn"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_TorchEstimator._parameter_constraints, "depth": [Interval(Integral, 1, MAX_DEPTH, closed="both")]}


class TorchMLPRegressor(RegressorMixin, _TorchEstimator):
    """A ReLU MLP regressor on a standardised target (see the module docstring)."""

    arch: ClassVar[str] = "mlp"
    _classify: ClassVar[bool] = False

    def _targets(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        return y.astype(np.float64), 1

    def predict(self, X: Any) -> np.ndarray:
        return self._forward(X)[:, 0]
