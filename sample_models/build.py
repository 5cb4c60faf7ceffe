"""Deterministically train the bundled sample models and write them with a manifest.

Run from the repository root::

    .venv/bin/python -m sample_models.build [--out DIR]

Everything is trained on scikit-learn's bundled datasets (no downloads), with fixed
seeds and ``torch.set_num_threads(2)``, and finishes in well under a minute on two
CPU cores. Every model sees only a seeded training split of its dataset
(:func:`train_split`: 70 %, stratified by class for classification); each manifest
entry records that split under ``training_rows`` (seed, fraction, a SHA-256 of the
training row indices, and the held-out datasets ``engine.samples`` builds from the
other rows), so a model scored as-is on its holdout is scored on rows it never saw.
Builds are byte-reproducible (skops archives are canonicalised), so each manifest
entry's ``sha256`` -- and the artifact id the engine derives from it -- is stable.
Each artifact is written to a temporary file in the output folder and then
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
import hashlib
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


# ------------------------------------------------------------------------- splits

HOLDOUT_FRACTION = 0.3
SPLIT_SEED = 0
# Held-out datasets (registered by engine.samples) -> the built-in they are cut from.
# digits and digits_images are the same rows, so one digits split serves both.
HOLDOUTS = {
    "digits": {"digits_holdout": "digits", "digits_images_holdout": "digits_images"},
    "diabetes": {"diabetes_holdout": "diabetes"},
}


def train_split(y: np.ndarray, *, stratified: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (training, held-out) row indices: a seeded 70/30 ``train_test_split``."""
    from sklearn.model_selection import train_test_split

    train, held = train_test_split(np.arange(len(y)), test_size=HOLDOUT_FRACTION,
                                   random_state=SPLIT_SEED, stratify=y if stratified else None)
    return np.sort(train), np.sort(held)


def index_digest(rows: np.ndarray) -> str:
    """SHA-256 of the sorted row indices as little-endian int64 (how the manifest names a split)."""
    return hashlib.sha256(np.sort(np.asarray(rows)).astype("<i8").tobytes()).hexdigest()


def training_rows(rows_of: str, n_rows: int, train: np.ndarray, *, stratified: bool) -> dict[str, Any]:
    """The manifest's ``training_rows`` record for a model fitted on ``train``."""
    return {
        "rows_of": rows_of,
        "n_rows": n_rows,
        "n_train": len(train),
        "holdout_fraction": HOLDOUT_FRACTION,
        "seed": SPLIT_SEED,
        "stratified": stratified,
        "train_index_sha256": index_digest(train),
        "holdouts": HOLDOUTS[rows_of],
    }


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
    from sample_models.nets import DigitsCNN, DigitsMLP

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


def _canonical_skops(data: bytes) -> bytes:
    """The same skops archive with reproducible bytes.

    skops names arrays and memo entries by ``id(obj)`` (memory addresses) and stamps
    zip members with the current time; renumber the ids in order of first appearance
    in ``schema.json`` and use a fixed timestamp, so a rebuild gives identical files
    (and so identical artifact ids).
    """
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    schema = json.loads(members.pop("schema.json"))
    ids: dict[int, int] = {}
    renamed: dict[str, bytes] = {}

    def renumber(node: Any) -> Any:
        if isinstance(node, list):
            return [renumber(v) for v in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "__id__" and isinstance(value, int):
                value = ids.setdefault(value, len(ids) + 1)
            elif key == "file" and isinstance(value, str) and value in members:
                stem, _, ext = value.partition(".")
                value = f"{ids.setdefault(int(stem), len(ids) + 1)}.{ext}"
                renamed[value] = members[node[key]]
            out[key] = renumber(value)
        return out

    schema = renumber(schema)
    if len(renamed) != len(members):
        raise RuntimeError(f"skops archive: unreferenced members {sorted(set(members) - set(renamed))}")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, blob in [*sorted(renamed.items()), ("schema.json", json.dumps(schema, indent=2).encode())]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, blob, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def _dump_skops(model, path: Path):
    """Dump with skops (atomically), check the type list and reload; return the reload."""
    import skops.io as sio

    buf = io.BytesIO()
    sio.dump(model, buf, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    _write_bytes(path, _canonical_skops(buf.getvalue()))
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
    # Full datasets (for scoring) and their training splits (for fitting).
    digits = digits_frame()
    xd_all = digits.drop(columns=["target"])
    yd_all = digits["target"].to_numpy()
    d_train, d_held = train_split(yd_all, stratified=True)
    d_rows = training_rows("digits", len(digits), d_train, stratified=True)
    xd_df, yd = xd_all.iloc[d_train].reset_index(drop=True), yd_all[d_train]
    x32_all, y64_all = digits_arrays()
    ximg_all, _ = digits_images()
    x32, y64 = x32_all[d_train], y64_all[d_train]
    ximg = ximg_all[d_train]
    diabetes = diabetes_frame()
    xdb_all = diabetes.drop(columns=["target"])
    ydb_all = diabetes["target"].to_numpy()
    db_train, db_held = train_split(ydb_all, stratified=False)
    db_rows = training_rows("diabetes", len(diabetes), db_train, stratified=False)
    xdb_df, ydb = xdb_all.iloc[db_train].reset_index(drop=True), ydb_all[db_train]
    d_fit = f"the digits training split ({len(d_train)} of {len(digits)} rows; see training_rows)"

    manifest: list[dict[str, Any]] = []
    metrics: dict[str, str] = {}

    def add(file: str, name: str, fmt: str, dataset: str, task: str, description: str,
            rows: dict[str, Any]) -> None:
        manifest.append({
            "file": file, "sha256": None, "name": name, "format": fmt, "dataset": dataset,
            "target": "target", "task": task, "description": description, "trusted": True,
            "training_rows": rows,
        })

    def digits_scores(labels: np.ndarray) -> str:
        """Accuracy on the held-out rows and on all rows, from labels for every digits row."""
        labels = np.asarray(labels).astype(np.int64)
        held = accuracy_score(yd_all[d_held], labels[d_held])
        return f"holdout acc {held:.4f}, all rows {accuracy_score(yd_all, labels):.4f}"

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
    metrics["digits_logreg.skops"] = digits_scores(loaded.predict(xd_all))
    add(
        "digits_logreg.skops",
        "Logistic regression (scikit-learn)",
        "skops",
        "digits",
        "classification",
        f"Pipeline(StandardScaler, LogisticRegression(max_iter=2000)) fitted on {d_fit}; "
        "input: DataFrame of pixel_0..pixel_63, raw 0..16 values.",
        d_rows,
    )

    # 2. random forest --------------------------------------------------------------
    rf = RandomForestClassifier(
        n_estimators=50, min_samples_leaf=2, max_depth=12, random_state=SEED, n_jobs=1
    )
    rf.fit(xd_df, yd)
    loaded = _dump_skops(rf, out / "digits_random_forest.skops")
    metrics["digits_random_forest.skops"] = digits_scores(loaded.predict(xd_all))
    add(
        "digits_random_forest.skops",
        "Random forest (scikit-learn)",
        "skops",
        "digits",
        "classification",
        "RandomForestClassifier(n_estimators=50, max_depth=12, min_samples_leaf=2, "
        f"random_state=0) fitted on {d_fit}; input: DataFrame "
        "of pixel_0..pixel_63.",
        d_rows,
    )

    # 3. histogram gradient boosting ------------------------------------------------
    hgb = HistGradientBoostingClassifier(max_iter=50, random_state=SEED)
    hgb.fit(xd_df, yd)
    loaded = _dump_skops(hgb, out / "digits_hist_gradient_boosting.skops")
    metrics["digits_hist_gradient_boosting.skops"] = digits_scores(loaded.predict(xd_all))
    add(
        "digits_hist_gradient_boosting.skops",
        "Histogram gradient boosting (scikit-learn)",
        "skops",
        "digits",
        "classification",
        f"HistGradientBoostingClassifier(max_iter=50, random_state=0) fitted on {d_fit}; "
        "input: DataFrame of pixel_0..pixel_63; early stopping is off (n < 10000).",
        d_rows,
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
    label, proba = sess.run(None, {"input": x32_all})
    np.testing.assert_allclose(proba, logreg.predict_proba(xd_all), rtol=0, atol=1e-4)
    metrics["digits_logreg.onnx"] = digits_scores(label)
    add(
        "digits_logreg.onnx",
        "Logistic regression (ONNX)",
        "onnx",
        "digits",
        "classification",
        "skl2onnx export (opset 17, ai.onnx.ml 3, zipmap off) of the scikit-learn "
        f"StandardScaler+LogisticRegression pipeline fitted on {d_fit}; input 'input' "
        "float32 [N, 64] raw 0..16 pixels; outputs 'label' (int64 [N]) and 'probabilities' "
        "(float32 [N, 10]).",
        d_rows,
    )

    # 5-7. MLP: TorchScript, ONNX, torch.export ----------------------------------------
    torch.manual_seed(SEED)
    mlp = _train_torch(DigitsMLP(), x32, y64, epochs=30, lr=1e-3, batch=64)
    mlp_logits = _torch_logits(mlp, x32_all)
    mlp_scores = digits_scores(mlp_logits.argmax(1))
    mlp_desc = (
        "MLP 64-128-64-10 with ReLU; divides raw 0..16 pixels by 16 inside forward; "
        "outputs logits [N, 10]. Trained with Adam (lr 1e-3, batch 64, 30 epochs, "
        f"cross-entropy, seed 0) on {d_fit}."
    )

    scripted_mlp = _save_torchscript(mlp, out / "digits_mlp.pt")
    metrics["digits_mlp.pt"] = mlp_scores
    add(
        "digits_mlp.pt",
        "MLP (TorchScript)",
        "torchscript",
        "digits",
        "classification",
        mlp_desc + " Saved with torch.jit.script + torch.jit.save; input float32 [N, 64].",
        d_rows,
    )

    example = torch.from_numpy(x32_all[:8].copy())
    _export_onnx_torch(mlp, example, out / "digits_mlp.onnx")
    metrics["digits_mlp.onnx"] = f"{mlp_scores} (same weights)"
    add(
        "digits_mlp.onnx",
        "MLP (ONNX)",
        "onnx",
        "digits",
        "classification",
        mlp_desc + " Exported with torch.onnx.export(dynamo=False, opset 17); input 'input' "
        "float32 [batch, 64], output 'logits' [batch, 10], dynamic batch axis.",
        d_rows,
    )

    batch = torch.export.Dim("batch", min=1, max=65536)
    ep = torch.export.export(mlp, (example,), dynamic_shapes=({0: batch},))
    # Drop the example inputs: torch.export.save would otherwise store them as a
    # torch.save *pickle* (data/sample_inputs/model.pt). Without them that entry is
    # written empty and the archive holds only JSON + raw tensor bytes.
    ep.example_inputs = None
    _write_with(out / "digits_mlp.pt2", lambda buf: torch.export.save(ep, buf))
    metrics["digits_mlp.pt2"] = f"{mlp_scores} (same weights)"
    add(
        "digits_mlp.pt2",
        "MLP (torch.export)",
        "torch_export",
        "digits",
        "classification",
        mlp_desc + " Exported with torch.export.export (dynamic batch dim 1..65536) and "
        "saved with torch.export.save (example inputs dropped, so the archive holds no "
        "pickle); input float32 [batch, 64]. Load with torch.export.load(path).module().",
        d_rows,
    )

    # 8-9. CNN: TorchScript, ONNX ------------------------------------------------------
    torch.manual_seed(SEED)
    cnn = _train_torch(DigitsCNN(), ximg, y64, epochs=12, lr=2e-3, batch=64)
    cnn_logits = _torch_logits(cnn, ximg_all)
    cnn_scores = digits_scores(cnn_logits.argmax(1))
    cnn_desc = (
        "CNN Conv2d(1,16,3,p1)-ReLU-Conv2d(16,32,3,p1)-ReLU-MaxPool2d(2)-Flatten-"
        "Linear(512,64)-ReLU-Linear(64,10); divides raw 0..16 pixels by 16 inside forward; "
        "outputs logits [N, 10]. Trained with Adam (lr 2e-3, batch 64, 12 epochs, "
        f"cross-entropy, seed 0) on the images of {d_fit}."
    )
    scripted_cnn = _save_torchscript(cnn, out / "digits_cnn.pt")
    metrics["digits_cnn.pt"] = cnn_scores
    add(
        "digits_cnn.pt",
        "CNN (TorchScript)",
        "torchscript",
        "digits_images",
        "classification",
        cnn_desc + " Saved with torch.jit.script + torch.jit.save; input float32 [N, 1, 8, 8].",
        d_rows,
    )
    _export_onnx_torch(cnn, torch.from_numpy(ximg_all[:8].copy()), out / "digits_cnn.onnx")
    metrics["digits_cnn.onnx"] = f"{cnn_scores} (same weights)"
    add(
        "digits_cnn.onnx",
        "CNN (ONNX)",
        "onnx",
        "digits_images",
        "classification",
        cnn_desc + " Exported with torch.onnx.export(dynamo=False, opset 17); input 'input' "
        "float32 [batch, 1, 8, 8], output 'logits' [batch, 10], dynamic batch axis.",
        d_rows,
    )

    # 10. ridge regression ---------------------------------------------------------------
    ridge = Pipeline([("scaler", StandardScaler()), ("ridge", Ridge(alpha=1.0))])
    ridge.fit(xdb_df, ydb)
    loaded = _dump_skops(ridge, out / "diabetes_ridge.skops")
    pred = loaded.predict(xdb_all)
    metrics["diabetes_ridge.skops"] = (f"holdout R2 {r2_score(ydb_all[db_held], pred[db_held]):.4f}, "
                                       f"all rows {r2_score(ydb_all, pred):.4f}")
    add(
        "diabetes_ridge.skops",
        "Ridge regression (scikit-learn)",
        "skops",
        "diabetes",
        "regression",
        f"Pipeline(StandardScaler, Ridge(alpha=1.0)) fitted on the diabetes training split "
        f"({len(db_train)} of {len(diabetes)} rows; see training_rows); input: DataFrame of age, sex, "
        "bmi, bp, s1..s6.",
        db_rows,
    )

    # ---------------------------------------------------------------- verification
    _verify(out, torch, x32_all, ximg_all, scripted_mlp, scripted_cnn, mlp_logits, cnn_logits)

    total = 0
    for entry in manifest:
        data = (out / entry["file"]).read_bytes()
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        total += len(data)
        print(f"{entry['file']:<38} {len(data) / 1024:8.1f} KB  {metrics[entry['file']]}")
    _write_bytes(out / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
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
