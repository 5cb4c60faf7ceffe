"""Frontier's entry point: ``streamlit run dashboard/app.py`` (``make run``; ``make serve`` via
:mod:`dashboard.serve`).

A router only: the sign-in gate runs first (nothing else renders until it
lets the session in), then the workspace opens once (registering the bundled
samples) and the page the user picked runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `import engine` and `import dashboard` from any working directory
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import nav, state  # noqa: E402
from dashboard.auth import gate  # noqa: E402
from dashboard.text import md  # noqa: E402
from dashboard.widgets.errors import guard  # noqa: E402

# an emoji icon: a :material/...: page icon makes browsers fetch it from fonts.gstatic.com
st.set_page_config(page_title="Frontier", page_icon="📈", layout="wide")

pages = [nav.upload_page(), nav.benchmark_page(), nav.compare_page(), nav.tune_page(), nav.compress_page()]
actor = gate.gate(pages)

with guard("opening the workspace") as opened:
    state.workspace()
if not opened.ok:
    st.stop()

page = st.navigation(pages)
with st.sidebar:
    st.markdown("## :material/insights: Frontier")
    st.caption("Which model should you ship? Accuracy, latency and size, side by side.")
    role = " (admin)" if actor.admin else ""
    st.caption(f":material/person: {md(actor.name)}{role}")
    gate.sign_out_button()
    if actor.admin:  # a server path is for whoever runs the server
        st.caption(f"Workspace: {md(state.workspace().root)}")
page.run()
