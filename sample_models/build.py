"""Deterministically train the bundled sample models and write them with a manifest.

Run from the repository root::

    .venv/bin/python -m sample_models.build [--out DIR]

Everything is trained on scikit-learn's bundled datasets (no downloads), with fixed
seeds and ``torch.set_num_threads(2)``, and finishes in well under a minute on two
CPU cores. Each artifact is written to a temporary file in the output folder and then
moved into place with ``os.replace``; ``manifest.json`` is written last.

Inputs the models expect (this is how the engine presents the datasets):

* ``digits`` -- scikit-learn models get a DataFrame with float columns ``pixel_0`` ..
  ``pixel_63`` (raw values 0..16); torch/ONNX models get a float32 array ``(N, 64)`` of
  the same raw values (the /16 scaling lives inside the torch models).
* ``digits_images`` -- float32 array ``(N, 1, 8, 8)`` of raw 0..16 values.
* ``diabetes`` -- DataFrame with columns age, sex, bmi, bp, s1..s6 (regression).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import sys
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

SEED = 0
DEFAULT_OUT = Path(__file__).resolve().parent / "artifacts"
ONNX_OPSET = 17
ONNX_ML_OPSET = 3
# Roots of the modules whose types may appear in the bundled skops files.
SKOPS_ALLOWED_MODULE_ROOTS = ("sklearn", "numpy", "scipy")


# --------------------------------------------------------------------------- data


def digits_frame() -> pd.DataFrame:
    """The digits dataset as the engine presents it: pixel_0..pixel_63 + target."""
    from sklearn.datasets import load_digits

    d = load_digits()
    cols = [f"pixel_{i}" for i in range(64)]
    df = pd.DataFrame(np.asarray(d.data, dtype=np.float64), columns=cols)
    df["target"] = np.asarray(d.target, dtype=np.int64)
    return df


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Digits as float32 (N, 64) raw 0..16 values and int64 labels."""
    df = digits_frame()
    x = np.array(df.drop(columns=["target"]).to_numpy(dtype=np.float32), copy=True)
    y = np.array(df["target"].to_numpy(dtype=np.int64), copy=True)
    return x, y


def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """Digits as float32 images (N, 1, 8, 8) of raw 0..16 values and int64 labels."""
    x, y = digits_arrays()
    return x.reshape(-1, 1, 8, 8), y


def diabetes_frame() -> pd.DataFrame:
    """The diabetes dataset as a DataFrame with its feature names + target."""
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    df = pd.DataFrame(np.asarray(d.data, dtype=np.float64), columns=list(d.feature_names))
    df["target"] = np.asarray(d.target, dtype=np.float64)
    return df


# ------------------------------------------------------------------------ writing


@contextlib.contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _write_with(path: Path, writer: Callable[[IO[bytes]], Any]) -> None:
    """Serialise into memory via ``writer(buffer)`` and write the bytes atomically."""
    buf = io.BytesIO()
    writer(buf)
    _write_bytes(path, buf.getvalue())


def _write_bytes(path: Path, data: bytes) -> None:
    with _atomic_target(path) as tmp:
        tmp.write_bytes(data)


# ------------------------------------------------------------------- torch models


def _torch():
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    with contextlib.suppress(Exception):  # not every op has a deterministic variant
        torch.use_deterministic_algorithms(True, warn_only=True)
    return torch


def _define_torch_models():
    torch = _torch()
    nn = torch.nn

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

    return torch, DigitsMLP, DigitsCNN


def _train_torch(model, x: np.ndarray, y: np.ndarray, *, epochs: int, lr: float, batch: int):
    torch = _torch()
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y)
    gen = torch.Generator().manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    return model


def _torch_logits(model, x: np.ndarray) -> np.ndarray:
    torch = _torch()
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def _export_onnx_torch(model, example, path: Path) -> None:
    torch = _torch()

    def writer(buf: IO[bytes]) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                model,
                (example,),
                buf,
                dynamo=False,
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=ONNX_OPSET,
                do_constant_folding=True,
            )

    _write_with(path, writer)


def _save_torchscript(model, path: Path):
    torch = _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(model)
        scripted.eval()
        _write_with(path, lambda buf: torch.jit.save(scripted, buf))
    return scripted


# ------------------------------------------------------------------------- skops


def _skops_trusted_types(path: Path) -> list[str]:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    bad = [t for t in untrusted if t.split(".", 1)[0] not in SKOPS_ALLOWED_MODULE_ROOTS]
    if bad:
        raise RuntimeError(f"{path.name}: unexpected types in skops file: {bad}")
    return untrusted


def _dump_skops(model, path: Path):
    """Dump with skops (atomically), check the type list and reload; return the reload."""
    import skops.io as sio

    with _atomic_target(path) as tmp:
        sio.dump(model, tmp, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    untrusted = _skops_trusted_types(path)
    print(f"  {path.name}: untrusted types: {untrusted or '[]'}")
    return sio.load(path, trusted=untrusted)


# ------------------------------------------------------------------------- build


def build(out: Path) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    random.seed(SEED)
    np.random.seed(SEED)
    torch, DigitsMLP, DigitsCNN = _define_torch_models()

    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    out.mkdir(parents=True, exist_ok=True)
    digits = digits_frame()
    xd_df = digits.drop(columns=["target"])
    yd = digits["target"].to_numpy()
    x32, y64 = digits_arrays()
    ximg, yimg = digits_images()
    diabetes = diabetes_frame()
    xdb_df = diabetes.drop(columns=["target"])
    ydb = diabetes["target"].to_numpy()

    manifest: list[dict[str, Any]] = []
    metrics: dict[str, str] = {}

    def add(file: str, name: str, fmt: str, dataset: str, task: str, description: str) -> None:
        manifest.append(
            {
                "file": file,
                "name": name,
                "format": fmt,
                "dataset": dataset,
                "target": "target",
                "task": task,
                "description": description,
                "trusted": True,
            }
        )

    def ort_session(path: Path):
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    # 1. logistic regression pipeline ----------------------------------------------
    logreg = Pipeline(
        [
            ("scaler", StandardScaler()),
            ("clf", LogisticRegression(max_iter=2000, random_state=SEED)),
        ]
    )
    logreg.fit(xd_df, yd)
    loaded = _dump_skops(logreg, out / "digits_logreg.skops")
    acc = accuracy_score(yd, loaded.predict(xd_df))
    metrics["digits_logreg.skops"] = f"train acc {acc:.4f}"
    add(
        "digits_logreg.skops",
        "Logistic regression (scikit-learn)",
        "skops",
        "digits",
        "classification",
        "Pipeline(StandardScaler, LogisticRegression(max_iter=2000)) fitted on all 1797 "
        "digits rows (DataFrame of pixel_0..pixel_63, raw 0..16 values).",
    )

    # 2. random forest --------------------------------------------------------------
    rf = RandomForestClassifier(
        n_estimators=50, min_samples_leaf=2, max_depth=12, random_state=SEED, n_jobs=1
    )
    rf.fit(xd_df, yd)
    loaded = _dump_skops(rf, out / "digits_random_forest.skops")
    acc = accuracy_score(yd, loaded.predict(xd_df))
    metrics["digits_random_forest.skops"] = f"train acc {acc:.4f}"
    add(
        "digits_random_forest.skops",
        "Random forest (scikit-learn)",
        "skops",
        "digits",
        "classification",
        "RandomForestClassifier(n_estimators=50, max_depth=12, min_samples_leaf=2, "
        "random_state=0) fitted on all 1797 digits rows (DataFrame of pixel_0..pixel_63).",
    )

    # 3. histogram gradient boosting ------------------------------------------------
    hgb = HistGradientBoostingClassifier(max_iter=50, random_state=SEED)
    hgb.fit(xd_df, yd)
    loaded = _dump_skops(hgb, out / "digits_hist_gradient_boosting.skops")
    acc = accuracy_score(yd, loaded.predict(xd_df))
    metrics["digits_hist_gradient_boosting.skops"] = f"train acc {acc:.4f}"
    add(
        "digits_hist_gradient_boosting.skops",
        "Histogram gradient boosting (scikit-learn)",
        "skops",
        "digits",
        "classification",
        "HistGradientBoostingClassifier(max_iter=50, random_state=0) fitted on all 1797 "
        "digits rows (DataFrame of pixel_0..pixel_63); early stopping is off (n < 10000).",
    )

    # 4. logistic regression -> ONNX (skl2onnx) ---------------------------------------
    onx = convert_sklearn(
        logreg,
        name="digits_logreg",
        initial_types=[("input", FloatTensorType([None, 64]))],
        options={id(logreg.named_steps["clf"]): {"zipmap": False}},
        target_opset={"": ONNX_OPSET, "ai.onnx.ml": ONNX_ML_OPSET},
    )
    _write_bytes(out / "digits_logreg.onnx", onx.SerializeToString())
    sess = ort_session(out / "digits_logreg.onnx")
    out_names = [o.name for o in sess.get_outputs()]
    if out_names != ["label", "probabilities"]:
        raise RuntimeError(f"digits_logreg.onnx: unexpected outputs {out_names}")
    label, proba = sess.run(None, {"input": x32})
    np.testing.assert_allclose(proba, logreg.predict_proba(xd_df), rtol=0, atol=1e-4)
    acc = accuracy_score(y64, label)
    metrics["digits_logreg.onnx"] = f"train acc {acc:.4f}"
    add(
        "digits_logreg.onnx",
        "Logistic regression (ONNX)",
        "onnx",
        "digits",
        "classification",
        "skl2onnx export (opset 17, ai.onnx.ml 3, zipmap off) of the scikit-learn "
        "StandardScaler+LogisticRegression pipeline; input 'input' float32 [N, 64] raw "
        "0..16 pixels; outputs 'label' (int64 [N]) and 'probabilities' (float32 [N, 10]).",
    )

    # 5-7. MLP: TorchScript, ONNX, torch.export ----------------------------------------
    torch.manual_seed(SEED)
    mlp = _train_torch(DigitsMLP(), x32, y64, epochs=30, lr=1e-3, batch=64)
    mlp_logits = _torch_logits(mlp, x32)
    mlp_acc = float((mlp_logits.argmax(1) == y64).mean())
    mlp_desc = (
        "MLP 64-128-64-10 with ReLU; divides raw 0..16 pixels by 16 inside forward; "
        "outputs logits [N, 10]. Trained with Adam (lr 1e-3, batch 64, 30 epochs, "
        "cross-entropy, seed 0) on all 1797 digits rows."
    )

    scripted_mlp = _save_torchscript(mlp, out / "digits_mlp.pt")
    metrics["digits_mlp.pt"] = f"train acc {mlp_acc:.4f}"
    add(
        "digits_mlp.pt",
        "MLP (TorchScript)",
        "torchscript",
        "digits",
        "classification",
        mlp_desc + " Saved with torch.jit.script + torch.jit.save; input float32 [N, 64].",
    )

    example = torch.from_numpy(x32[:8].copy())
    _export_onnx_torch(mlp, example, out / "digits_mlp.onnx")
    metrics["digits_mlp.onnx"] = f"train acc {mlp_acc:.4f} (same weights)"
    add(
        "digits_mlp.onnx",
        "MLP (ONNX)",
        "onnx",
        "digits",
        "classification",
        mlp_desc + " Exported with torch.onnx.export(dynamo=False, opset 17); input 'input' "
        "float32 [batch, 64], output 'logits' [batch, 10], dynamic batch axis.",
    )

    batch = torch.export.Dim("batch", min=1, max=65536)
    ep = torch.export.export(mlp, (example,), dynamic_shapes=({0: batch},))
    # Drop the example inputs: torch.export.save would otherwise store them as a
    # torch.save *pickle* (data/sample_inputs/model.pt). Without them that entry is
    # written empty and the archive holds only JSON + raw tensor bytes.
    ep.example_inputs = None
    _write_with(out / "digits_mlp.pt2", lambda buf: torch.export.save(ep, buf))
    metrics["digits_mlp.pt2"] = f"train acc {mlp_acc:.4f} (same weights)"
    add(
        "digits_mlp.pt2",
        "MLP (torch.export)",
        "torch_export",
        "digits",
        "classification",
        mlp_desc + " Exported with torch.export.export (dynamic batch dim 1..65536) and "
        "saved with torch.export.save (example inputs dropped, so the archive holds no "
        "pickle); input float32 [batch, 64]. Load with torch.export.load(path).module().",
    )

    # 8-9. CNN: TorchScript, ONNX ------------------------------------------------------
    torch.manual_seed(SEED)
    cnn = _train_torch(DigitsCNN(), ximg, yimg, epochs=12, lr=2e-3, batch=64)
    cnn_logits = _torch_logits(cnn, ximg)
    cnn_acc = float((cnn_logits.argmax(1) == yimg).mean())
    cnn_desc = (
        "CNN Conv2d(1,16,3,p1)-ReLU-Conv2d(16,32,3,p1)-ReLU-MaxPool2d(2)-Flatten-"
        "Linear(512,64)-ReLU-Linear(64,10); divides raw 0..16 pixels by 16 inside forward; "
        "outputs logits [N, 10]. Trained with Adam (lr 2e-3, batch 64, 12 epochs, "
        "cross-entropy, seed 0) on all 1797 digits images."
    )
    scripted_cnn = _save_torchscript(cnn, out / "digits_cnn.pt")
    metrics["digits_cnn.pt"] = f"train acc {cnn_acc:.4f}"
    add(
        "digits_cnn.pt",
        "CNN (TorchScript)",
        "torchscript",
        "digits_images",
        "classification",
        cnn_desc + " Saved with torch.jit.script + torch.jit.save; input float32 [N, 1, 8, 8].",
    )
    _export_onnx_torch(cnn, torch.from_numpy(ximg[:8].copy()), out / "digits_cnn.onnx")
    metrics["digits_cnn.onnx"] = f"train acc {cnn_acc:.4f} (same weights)"
    add(
        "digits_cnn.onnx",
        "CNN (ONNX)",
        "onnx",
        "digits_images",
        "classification",
        cnn_desc + " Exported with torch.onnx.export(dynamo=False, opset 17); input 'input' "
        "float32 [batch, 1, 8, 8], output 'logits' [batch, 10], dynamic batch axis.",
    )

    # 10. ridge regression ---------------------------------------------------------------
    ridge = Pipeline([("scaler", StandardScaler()), ("ridge", Ridge(alpha=1.0))])
    ridge.fit(xdb_df, ydb)
    loaded = _dump_skops(ridge, out / "diabetes_ridge.skops")
    r2 = r2_score(ydb, loaded.predict(xdb_df))
    metrics["diabetes_ridge.skops"] = f"train R2 {r2:.4f}"
    add(
        "diabetes_ridge.skops",
        "Ridge regression (scikit-learn)",
        "skops",
        "diabetes",
        "regression",
        "Pipeline(StandardScaler, Ridge(alpha=1.0)) fitted on all 442 diabetes rows "
        "(DataFrame of age, sex, bmi, bp, s1..s6).",
    )

    # ---------------------------------------------------------------- verification
    _verify(out, torch, x32, ximg, scripted_mlp, scripted_cnn, mlp_logits, cnn_logits)

    _write_bytes(out / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())

    total = 0
    for entry in manifest:
        size = (out / entry["file"]).stat().st_size
        total += size
        print(f"{entry['file']:<38} {size / 1024:8.1f} KB  {metrics[entry['file']]}")
    print(
        f"total {total / 1024:.1f} KB, {len(manifest)} artifacts, "
        f"built in {time.perf_counter() - t0:.1f} s -> {out}"
    )
    return manifest


def _verify(out, torch, x32, ximg, scripted_mlp, scripted_cnn, mlp_logits, cnn_logits) -> None:
    """Cheap cross-format agreement checks on the files just written."""
    import onnxruntime as ort

    def ort_run(name: str, x: np.ndarray) -> np.ndarray:
        sess = ort.InferenceSession(str(out / name), providers=["CPUExecutionProvider"])
        return sess.run(["logits"], {"input": x})[0]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ts_mlp = torch.jit.load(str(out / "digits_mlp.pt"))
        ts_cnn = torch.jit.load(str(out / "digits_cnn.pt"))
    ep_mlp = torch.export.load(str(out / "digits_mlp.pt2")).module()

    xs, xi = x32[:100], ximg[:100]
    with torch.no_grad():
        ts_mlp_out = ts_mlp(torch.from_numpy(xs)).numpy()
        ts_cnn_out = ts_cnn(torch.from_numpy(xi)).numpy()
        ep_out = ep_mlp(torch.from_numpy(xs)).numpy()
        ep_one = ep_mlp(torch.from_numpy(xs[:1])).numpy()
        np.testing.assert_allclose(scripted_mlp(torch.from_numpy(xs)).numpy(), ts_mlp_out)
        np.testing.assert_allclose(scripted_cnn(torch.from_numpy(xi)).numpy(), ts_cnn_out)
    tol = {"rtol": 1e-4, "atol": 1e-4}
    np.testing.assert_allclose(ts_mlp_out, mlp_logits[:100], **tol)
    np.testing.assert_allclose(ts_cnn_out, cnn_logits[:100], **tol)
    np.testing.assert_allclose(ort_run("digits_mlp.onnx", xs), ts_mlp_out, **tol)
    np.testing.assert_allclose(ort_run("digits_mlp.onnx", xs[:1]), ts_mlp_out[:1], **tol)
    np.testing.assert_allclose(ort_run("digits_cnn.onnx", xi), ts_cnn_out, **tol)
    np.testing.assert_allclose(ort_run("digits_cnn.onnx", xi[:1]), ts_cnn_out[:1], **tol)
    np.testing.assert_allclose(ep_out, ts_mlp_out, **tol)
    np.testing.assert_allclose(ep_one, ts_mlp_out[:1], **tol)
    print("verify: ONNX/TorchScript/torch.export logits agree (rtol=atol=1e-4)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    build(args.out.resolve())
    return 0


def _reexec_with_fixed_hash_seed() -> None:
    """Re-run this module with PYTHONHASHSEED=0 (once).

    TorchScript writes a module's ``Final`` constants in set order, which depends on
    string hash randomisation; a fixed hash seed makes the ``.pt`` files byte-identical
    across builds (the ONNX and ``.pt2`` files are byte-identical regardless).
    """
    if os.environ.get("PYTHONHASHSEED") == "0":
        return
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", "sample_models.build", *sys.argv[1:]], env)


if __name__ == "__main__":
    _reexec_with_fixed_hash_seed()
    raise SystemExit(main())
