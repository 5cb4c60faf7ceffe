"""Compress: turn one model into quantized, pruned, distilled and exported variants, each measured against it."""

from __future__ import annotations

import streamlit as st

from dashboard import nav, state
from dashboard.auth import gate
from dashboard.text import md
from dashboard.widgets import compress_form, compress_view, jobs
from dashboard.widgets.errors import guard, show_error
from engine import datasets, models

ws = state.workspace()
actor = gate.actor()
SLOT = jobs.Slot("compress", kinds=("compress",))

st.title("Compress")
st.caption("Make smaller and faster variants of a model — ONNX export, int8 and fp16 quantization, pruning, "
           "distillation — and measure each one against it on the same folds with the same latency harness: "
           "what it gains in size and speed, and what it loses in accuracy.")

with guard("looking at this server's devices") as probed:
    devices = state.devices()
if probed.ok:
    st.caption("This server: " + " · ".join(md(line) for line in devices.lines()))
else:
    st.stop()

infos = {i.id: i for i in models.list_registered(ws)}
registered = datasets.list_registered(ws)
if not infos or registered.empty:
    st.info("Register a model and a dataset first.")
    st.page_link(nav.upload_page(), label="Go to Models & data", icon=":material/upload_file:")
    st.stop()

job = jobs.followed(ws, SLOT, actor=actor)
if job is not None:
    jobs.header(job)
    if job.status.active:
        jobs.follow(ws, job, slot=SLOT, actor=actor)
    elif job.status.state == "failed":
        show_error(job.error)
    elif job.status.state == "cancelled":
        st.info("The compression was stopped; variants already measured are kept on the Benchmark page.")
    elif job.status.state == "done":
        with guard("showing the variants"):
            compress_view.show(ws, job.status.result or {}, key=f"compress:{job.job_id}:")

with st.expander("Compress a model", expanded=job is None or not job.status.active, icon=":material/compress:"):
    asked = compress_form.form(ws, infos, registered, state.devices())
if asked is not None:
    title = f"Compress {asked.name} on {asked.dataset_name} ({', '.join(asked.methods)})"
    if jobs.start(ws, SLOT, {"kind": "compress", **asked.to_dict()}, actor=actor, title=title) is not None:
        st.rerun()
jobs.others(ws, SLOT, actor=actor, current_id=job.job_id if job else None)
