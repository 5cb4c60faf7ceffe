"""The app's pages, defined once for the router and for links between pages."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"


def upload_page() -> st.Page:
    return st.Page(PAGES_DIR / "upload.py", title="Models & data", icon=":material/upload_file:", url_path="models")


def benchmark_page() -> st.Page:
    return st.Page(PAGES_DIR / "benchmark.py", title="Benchmark", icon=":material/speed:", default=True)


def compare_page() -> st.Page:
    return st.Page(PAGES_DIR / "compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare")


def tune_page() -> st.Page:
    return st.Page(PAGES_DIR / "tune.py", title="Tune", icon=":material/tune:", url_path="tune")


def compress_page() -> st.Page:
    return st.Page(PAGES_DIR / "compress.py", title="Compress", icon=":material/compress:", url_path="compress")
