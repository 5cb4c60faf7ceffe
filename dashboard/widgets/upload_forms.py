"""The two upload forms of Models & data: a model (with the trust box) and a dataset.

The forms keep their file after a refusal (so ticking "I trust this file" and
pressing Register again works), and are emptied once the upload registered:
each form's widgets carry a generation number that :func:`clear` advances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import streamlit as st

from dashboard import uploads

Kind = Literal["model", "dataset"]


@dataclass(frozen=True)
class Submitted:
    """One press of a Register button (or of "Trust and register")."""

    kind: Kind
    data: bytes | None
    filename: str | None
    display_name: str
    trusted: bool = False


def generation(kind: Kind) -> int:
    return int(st.session_state.get(f"upload:{kind}_form_gen", 0))


def key(kind: Kind, name: str) -> str:
    """A form widget's key (stable within one generation of the form)."""
    return f"upload:{kind}_{name}:{generation(kind)}"


def clear(kind: Kind) -> None:
    """Empty the form: its widgets get new keys on the next run."""
    st.session_state[f"upload:{kind}_form_gen"] = generation(kind) + 1


def _trust_now() -> None:
    st.session_state["upload:trust_now"] = True
    st.session_state[key("model", "trusted")] = True


def trust_button() -> None:
    """One click to tick the trust box and register the file still in the form."""
    st.button("Trust and register", key="upload:trust_and_register", on_click=_trust_now,
              icon=":material/verified_user:",
              help="Registers the file above as trusted: it may run code when loaded, in an isolated worker.")


def model_form() -> Submitted | None:
    with st.form("upload:model_form", clear_on_submit=False, border=True):
        st.subheader("Upload a model")
        file = st.file_uploader(
            "Model file", type=list(uploads.MODEL_TYPES), key=key("model", "file"),
            max_upload_size=uploads.model_limit_mb(),
            help="scikit-learn (.skops), ONNX (.onnx), TorchScript (.pt), torch.export (.pt2), pickle/joblib "
                 f"(.pkl, .joblib); at most {uploads.model_limit_mb()} MB")
        name = st.text_input("Display name (optional)", key=key("model", "name"),
                             placeholder="defaults to the file name without its extension")
        trusted = st.checkbox(
            "I trust this file (it may run code when loaded)", key=key("model", "trusted"),
            help="Pickle/joblib and TorchScript files (and some .pt2 archives) can run arbitrary code when "
                 "loaded. Tick this only for files from authors you trust; .skops and .onnx never need it.")
        pressed = st.form_submit_button("Register model", type="primary", icon=":material/add:")
    trust_now = st.session_state.pop("upload:trust_now", False)
    if not (pressed or trust_now):
        return None
    return Submitted("model", file.getvalue() if file else None, file.name if file else None, name,
                     bool(trusted or trust_now))


def dataset_form() -> Submitted | None:
    with st.form("upload:dataset_form", clear_on_submit=False, border=True):
        st.subheader("Upload a dataset")
        file = st.file_uploader(
            "Dataset file", type=list(uploads.DATASET_TYPES), key=key("dataset", "file"),
            max_upload_size=uploads.dataset_limit_mb(),
            help="CSV or Parquet with a header row (features + a target column), or NPZ with arrays "
                 f"X (N, C, H, W) or (N, F) and y (N,); at most {uploads.dataset_limit_mb()} MB")
        name = st.text_input("Name (optional)", key=key("dataset", "name"),
                             placeholder="defaults to the file name without its extension")
        pressed = st.form_submit_button("Register dataset", type="primary", icon=":material/add:")
    if not pressed:
        return None
    return Submitted("dataset", file.getvalue() if file else None, file.name if file else None, name)
