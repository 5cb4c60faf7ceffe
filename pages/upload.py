"""Models & data: upload models and datasets, see what is registered, delete."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import state, ui, uploads
from engine import datasets, models

ws = state.workspace()

st.title("Models & data")
st.caption("Everything registered here can be benchmarked. Files are identified by their content, "
           "so uploading the same file twice registers it once.")

for level, message in st.session_state.pop("upload:flash", []):
    getattr(st, level)(message)

left, right = st.columns(2, gap="large")

# ------------------------------------------------------------------ uploads
with left, st.form("upload:model_form", clear_on_submit=True, border=True):
    st.subheader("Upload a model")
    model_file = st.file_uploader(
        "Model file", type=list(uploads.MODEL_TYPES), key="upload:model_file",
        help="scikit-learn (.skops), ONNX (.onnx), TorchScript (.pt), torch.export (.pt2), pickle/joblib (.pkl, .joblib)")
    model_name = st.text_input("Display name (optional)", key="upload:model_name",
                               placeholder="defaults to the file name")
    trusted = st.checkbox(
        "I trust this file (it may run code when loaded)", key="upload:model_trusted",
        help="Pickle/joblib and TorchScript files (and some .pt2 archives) can run arbitrary code when "
             "loaded. Tick this only for files from authors you trust; .skops and .onnx never need it.")
    submit_model = st.form_submit_button("Register model", type="primary", icon=":material/add:")

if submit_model:
    with left:
        if model_file is None:
            st.error("Choose a model file first.")
        else:
            with ui.guard("registering the model") as g:
                result = uploads.register_model(ws, model_file.getvalue(), model_file.name,
                                                trusted=trusted, display_name=model_name)
            if g.ok:
                info = result.info
                verb = "was already registered" if result.existed else "registered"
                st.success(f"'{info.name}' ({info.format}, {info.size_bytes:,} bytes) {verb} — id {info.id}.")
                if result.inspect_job:
                    st.session_state.setdefault("upload:inspect_jobs", []).append(result.inspect_job)
                    st.info("Its parameter count is being read by an isolated worker process.")

with right, st.form("upload:dataset_form", clear_on_submit=True, border=True):
    st.subheader("Upload a dataset")
    data_file = st.file_uploader(
        "Dataset file", type=list(uploads.DATASET_TYPES), key="upload:dataset_file",
        help="CSV or Parquet with a header row (features + a target column), or NPZ with arrays "
             "X (N, C, H, W) or (N, F) and y (N,)")
    data_name = st.text_input("Name (optional)", key="upload:dataset_name",
                              placeholder="defaults to the file name")
    submit_data = st.form_submit_button("Register dataset", type="primary", icon=":material/add:")

if submit_data:
    with right:
        if data_file is None:
            st.error("Choose a dataset file first.")
        else:
            with ui.guard("registering the dataset") as g:
                ds = uploads.register_dataset(ws, data_file.getvalue(), data_file.name, name=data_name)
            if g.ok:
                st.success(f"'{ds.name}' registered: {ds.n_rows:,} rows, {len(ds.columns)} column(s) — id {ds.id}.")

# ------------------------------------------------------------- inspections
describing = st.session_state.get("upload:inspect_jobs", [])
if describing:
    ui.inspect_watch(ws, tuple(describing), key="upload:inspect_jobs", flash_key="upload:flash")

# ------------------------------------------------------------------ models
st.subheader("Registered models")
infos = models.list_registered(ws)
if not infos:
    st.info("No models yet: upload one above.")
else:
    table = pd.DataFrame([{
        "name": i.name, "format": i.format, "task": i.task or "—", "size_bytes": i.size_bytes,
        "n_parameters": i.n_parameters, "trusted": i.trusted, "lineage": i.lineage, "id": i.id,
    } for i in infos])
    st.dataframe(table, hide_index=True, key="upload:models_table", column_config={
        "name": "Name", "format": "Format", "task": st.column_config.TextColumn("Task", width="small"),
        "size_bytes": st.column_config.NumberColumn("Size", format="bytes"),
        "n_parameters": st.column_config.NumberColumn("Parameters", format="compact"),
        "trusted": st.column_config.CheckboxColumn("Trusted"), "lineage": "Lineage", "id": "Id",
    })
    ui.delete_control(
        "model", {i.id: f"{i.name} · {i.format}" for i in infos}, key="upload:model_delete",
        note="Stored benchmark results of this model are kept.", flash_key="upload:flash",
        delete=lambda artifact_id: models.delete(ws, artifact_id))

# ---------------------------------------------------------------- datasets
st.subheader("Datasets")
table = datasets.list_registered(ws)
if table.empty:
    st.info("No datasets yet: upload one above.")
else:
    st.dataframe(table[["name", "kind", "source", "n_rows", "n_columns", "id"]], hide_index=True,
                 key="upload:datasets_table", column_config={
                     "name": "Name", "kind": "Kind",
                     "source": "Source", "n_rows": st.column_config.NumberColumn("Rows", format="localized"),
                     "n_columns": st.column_config.NumberColumn("Columns"), "id": "Id"})
    ui.delete_control(
        "dataset", {r.id: f"{r.name} · {r.kind}, {r.n_rows:,} rows" for r in table.itertuples()},
        key="upload:dataset_delete", note="Stored benchmark results on this dataset are kept.",
        flash_key="upload:flash",
        delete=lambda dataset_id: datasets.delete(ws, dataset_id))
