"""Frontier's entry point: ``streamlit run dashboard/app.py`` (what ``make run`` does).

A router only: it opens the workspace once (registering the bundled samples)
and hands over to the page the user picked.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `import engine` and `import dashboard` from any working directory
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import nav, state, ui  # noqa: E402

st.set_page_config(page_title="Frontier", page_icon=":material/insights:", layout="wide")

with ui.guard("opening the workspace") as opened:
    state.workspace()
if not opened.ok:
    st.stop()

page = st.navigation([nav.upload_page(), nav.benchmark_page()])
with st.sidebar:
    st.markdown("## :material/insights: Frontier")
    st.caption("Which model should you ship? Accuracy, latency and size, side by side.")
    st.caption(f"Workspace: `{state.workspace().root}`")
page.run()
