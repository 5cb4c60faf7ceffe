"""Datasets: scikit-learn's built-ins and uploads (CSV, Parquet, NPZ), validated and registered."""

from engine.datasets.core import (
    BUILTINS,
    UPLOAD_SUFFIXES,
    Dataset,
    Prepared,
    builtin,
    delete,
    infer_task,
    list_registered,
    load,
    prepare,
    read_bytes,
    read_file,
    register,
    resolve,
)

__all__ = ["BUILTINS", "UPLOAD_SUFFIXES", "Dataset", "Prepared", "builtin", "delete", "infer_task",
           "list_registered", "load", "prepare", "read_bytes", "read_file", "register", "resolve"]
