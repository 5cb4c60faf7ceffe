"""The compress form: a model, a dataset, methods or auto, the gate and the device in; a checked request out."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.widgets.errors import guard
from engine.compress import request
from engine.compress.calibration import DEFAULT_ROWS, MAX_ROWS
from engine.compress.devices import Devices
from engine.compress.methods import CALIBRATIONS, DEFAULTS, LIMITS, METHODS, PRUNE_KINDS
from engine.jobs.spec import CompressPayload
from engine.models import ArtifactInfo
from engine.workspace import Workspace

KEY = "compress:"
METHOD_HELP = {
    "auto": "auto: every recipe that applies",
    "onnx": "ONNX export (ONNX Runtime)",
    "dynamic-int8": "dynamic int8 (ONNX Runtime; torch too for TorchScript)",
    "static-int8": "static int8, calibrated (ONNX Runtime)",
    "fp16": "fp16 (ONNX Runtime)",
    "prune": "pruning (torch models)",
    "distill": "distillation into a small MLP",
    "accelerate": "runtime settings (graph optimisation, threads, providers)",
}
BATCH_SIZES = (1, 8, 32, 128, 256)
PRUNE_HELP = {"magnitude": "magnitude (global, unstructured)", "channels": "channels (structured)"}


def _default_dataset(registered: pd.DataFrame, info: ArtifactInfo | None) -> str:
    """The dataset a bundled sample was made for (its holdout when registered), else the first one."""
    ids = registered["id"].tolist()
    if info is not None:
        wanted = ("digits_images_holdout", "digits_images") if info.format in ("torchscript", "torch_export") and \
            "cnn" in info.name.lower() else ("digits_holdout", "digits")
        for name in wanted:
            match = registered.loc[registered["name"] == name, "id"]
            if len(match):
                return str(match.iloc[0])
    return str(ids[0])


def _default_model(infos: Mapping[str, ArtifactInfo]) -> str:
    for i in infos.values():
        if i.name.startswith("MLP (TorchScript)") or i.name == "digits_mlp.pt":
            return i.id
    return next(iter(infos))


def form(ws: Workspace, infos: Mapping[str, ArtifactInfo], registered: pd.DataFrame,
         devices: Devices) -> CompressPayload | None:
    """The inputs; the checked request when "Compress" was pressed (errors shown in the form's words)."""
    ids = list(infos)
    c1, c2 = st.columns(2)
    model_id = c1.selectbox("Model", ids, index=ids.index(_default_model(infos)), key=KEY + "model",
                            format_func=lambda i: f"{infos[i].name} · {infos[i].format}")
    info = infos.get(model_id)
    labels = {r.id: f"{r.name} ({r.kind}, {r.n_rows:,} rows)" for r in registered.itertuples()}
    data_ids = list(labels)
    dataset_id = c2.selectbox("Dataset", data_ids, index=data_ids.index(_default_dataset(registered, info)),
                              format_func=labels.get, key=f"{KEY}dataset:{model_id}",
                              help="the variants and the original are scored on the same seeded folds of it")
    with guard("loading the dataset") as loaded:
        dataset = state.dataset(str(ws.root), dataset_id)
    if not loaded.ok or info is None:
        return None
    with st.form(KEY + "form", border=True, enter_to_submit=False):
        m1, m2, m3, m4 = st.columns([3, 1, 1, 1])
        methods = m1.multiselect("Methods", list(METHODS), default=["auto"], format_func=lambda m: METHOD_HELP.get(m, m),
                                 key=KEY + "methods", help="a recipe that does not apply to this model says why "
                                                           "and the others still run")
        gate = m2.number_input("Accuracy gate (points)", min_value=0.0, max_value=100.0, value=1.0, step=0.5,
                               key=KEY + "gate", help="a variant passes when it loses at most this many points "
                                                      "of accuracy against the original")
        device_options = ["cpu", "cuda"] if devices.has_cuda else ["cpu"]
        device = m3.selectbox("Device", device_options, key=KEY + "device",
                              help="where the variants are measured" + ("" if devices.has_cuda else
                                                                        "; this server has no CUDA GPU"))
        if dataset.kind == "tabular":
            target = m4.selectbox("Target column", dataset.columns,
                                  index=dataset.columns.index(dataset.default_target), key=f"{KEY}target:{dataset.id}")
        else:
            target = None
            m4.text_input("Target column", value="y (image labels)", disabled=True, key=f"{KEY}target:{dataset.id}")
        with st.expander("Recipe settings", icon=":material/tune:"):
            p1, p2, p3, p4 = st.columns(4)
            kinds = p1.multiselect("Pruning", list(PRUNE_KINDS), default=list(PRUNE_KINDS), format_func=PRUNE_HELP.get,
                                   key=KEY + "prune_kinds")
            sparsity = p2.number_input("Sparsity", min_value=LIMITS["sparsity"][0], max_value=LIMITS["sparsity"][1],
                                       value=float(DEFAULTS["sparsity"]), step=0.05, key=KEY + "sparsity",
                                       help="share of weights (magnitude) or of each layer's channels (channels) "
                                            "to remove")
            fine_tune = p3.number_input("Fine-tuning epochs", min_value=0, max_value=int(LIMITS["fine_tune_epochs"][1]),
                                        value=int(DEFAULTS["fine_tune_epochs"]), step=1, key=KEY + "fine_tune",
                                        help="0: no fine-tuning. Fine-tuning trains on fold 1's training part, so "
                                             "the cross-validated score includes rows it saw; the held-out Δ column "
                                             "shows fold 1's unseen rows")
            calibration = p4.selectbox("Calibration", list(CALIBRATIONS), key=KEY + "calibration",
                                       help="static int8: how activation ranges are read from the calibration rows")
            d1, d2, d3, d4, d5 = st.columns(5)
            width = d1.number_input("Student width", min_value=1, max_value=int(LIMITS["student_width"][1]),
                                    value=int(DEFAULTS["student_width"]), step=8, key=KEY + "width")
            depth = d2.number_input("Student depth", min_value=0, max_value=int(LIMITS["student_depth"][1]),
                                    value=int(DEFAULTS["student_depth"]), step=1, key=KEY + "depth",
                                    help="hidden layers; 0: a linear model")
            temperature = d3.number_input("Temperature", min_value=LIMITS["temperature"][0],
                                          max_value=LIMITS["temperature"][1], value=float(DEFAULTS["temperature"]),
                                          step=0.5, key=KEY + "temperature")
            alpha = d4.number_input("Alpha (teacher weight)", min_value=0.0, max_value=1.0,
                                    value=float(DEFAULTS["alpha"]), step=0.1, key=KEY + "alpha")
            epochs = d5.number_input("Distillation epochs", min_value=1, max_value=int(LIMITS["distill_epochs"][1]),
                                     value=int(DEFAULTS["distill_epochs"]), step=10, key=KEY + "epochs")
            f1, f2, f3, f4 = st.columns(4)
            cv = f1.number_input("Folds", min_value=2, max_value=10, value=5, step=1, key=KEY + "folds")
            seed = f2.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key=KEY + "seed")
            cal_rows = f3.number_input("Calibration rows", min_value=1, max_value=MAX_ROWS, value=DEFAULT_ROWS,
                                       step=64, key=KEY + "cal_rows")
            sizes = f4.multiselect("Batch sizes", list(BATCH_SIZES), default=[1, 32], key=KEY + "batch_sizes",
                                   help="latency and throughput of every model at each (batch 1 is always "
                                        "measured: speedups are at batch 1); the sweep draws them")
        submitted = st.form_submit_button("Compress", type="primary", icon=":material/compress:")
    if not submitted:
        return None
    with guard("checking the request") as checked:
        payload = request.build(ws, info, dataset, methods=list(methods), target=target, name=info.name,
                                gate=float(gate), cv=int(cv), seed=int(seed), threads=1, device=device,
                                calibration=calibration, calibration_rows=int(cal_rows),
                                batch_sizes=tuple(sorted({1, *map(int, sizes)})),
                                prune_kinds=tuple(kinds), sparsity=float(sparsity),
                                fine_tune_epochs=int(fine_tune), student_width=int(width), student_depth=int(depth),
                                temperature=float(temperature), alpha=float(alpha), distill_epochs=int(epochs))
    return payload if checked.ok else None
