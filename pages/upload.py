"""Models & data: upload models and datasets, see what is registered (and whose), delete your own."""

from __future__ import annotations

import streamlit as st

from dashboard import actions, state
from dashboard.auth import gate
from dashboard.widgets import jobs, registry, upload_forms, upload_job
from engine import datasets, models

ws = state.workspace()
actor = gate.actor()
SLOT = upload_job.SLOT

st.title("Models & data")
st.caption("Everything registered here can be benchmarked. Files are identified by their content, "
           "so uploading the same file twice registers it once. Uploads are checked in an isolated worker.")
registry.show_flashes("upload:flash")

job = jobs.followed(ws, SLOT, actor=actor)
upload_job.clear_finished_form(job)

left, right = st.columns(2, gap="large")
with left:
    asked_model = upload_forms.model_form()
with right:
    asked_data = upload_forms.dataset_form()
for asked, column in ((asked_model, left), (asked_data, right)):
    if asked is not None:
        with column:
            upload_job.submit(ws, asked, actor=actor)
        job = jobs.followed(ws, SLOT, actor=actor)
if job is not None:
    upload_job.show(ws, job, actor=actor)
jobs.others(ws, SLOT, actor=actor, current_id=job.job_id if job else None)

# ------------------------------------------------------------------ models
st.subheader("Registered models")
infos = models.list_registered(ws)
if not infos:
    st.info("No models yet: upload one above.")
else:
    registry.models_table([{
        "name": i.name, "owner": actions.owner_of(i), "format": i.format, "task": i.task or "—",
        "size_bytes": i.size_bytes, "n_parameters": i.n_parameters, "trusted": i.trusted, "lineage": i.lineage,
        "id": i.id,
    } for i in infos], key="upload:models_table")
    registry.delete_control(
        "model", [registry.Item(i.id, f"{i.name} · {i.format}", actions.owner_of(i)) for i in infos],
        may_delete=actor.may_modify, key="upload:model_delete", flash_key="upload:flash",
        note="Stored benchmark results of this model are kept.",
        delete=lambda artifact_id: actions.delete_model(ws, artifact_id, actor=actor))

# ---------------------------------------------------------------- datasets
st.subheader("Datasets")
table = datasets.list_registered(ws)
if table.empty:
    st.info("No datasets yet: upload one above.")
else:
    registry.datasets_table(table, key="upload:datasets_table")
    records = table.to_dict("records")
    registry.delete_control(
        "dataset", [registry.Item(r["id"], f"{r['name']} · {r['kind']}, {r['n_rows']:,} rows", actions.owner_of(r))
                    for r in records],
        may_delete=actor.may_modify, key="upload:dataset_delete", flash_key="upload:flash",
        note="Stored benchmark results on this dataset are kept.",
        delete=lambda dataset_id: actions.delete_dataset(ws, dataset_id, actor=actor))
