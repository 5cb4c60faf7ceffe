"""Datasets: scikit-learn's built-ins and uploads (CSV, Parquet, NPZ), validated, capped and registered.

Modules: :mod:`~engine.datasets.dataset` (the records), ``builtins``,
``readers`` (with ``csv_reader``, ``parquet_reader``, ``npz_reader``),
``limits`` (the ``FRONTIER_MAX_DATA_MB`` cap), ``hashing`` (content ids),
``summary`` (what ``meta.json`` describes), ``prepare`` (every validation
rule), ``registry`` (the workspace's ``datasets/``) and ``sources`` (which
registered dataset a file already is).
"""

from engine.datasets.builtins import BUILTINS, BUNDLED_IDS, builtin
from engine.datasets.dataset import Dataset, Prepared
from engine.datasets.prepare import Checked, check, infer_task, prepare
from engine.datasets.readers import UPLOAD_SUFFIXES, read_bytes, read_file
from engine.datasets.registry import (
    delete,
    describe,
    info,
    list_registered,
    load,
    register,
    registered_id,
    registered_id_for,
    resolve,
)
from engine.datasets.summary import MAX_CLASSES, ColumnInfo, DatasetInfo

__all__ = ["BUILTINS", "BUNDLED_IDS", "MAX_CLASSES", "UPLOAD_SUFFIXES", "Checked", "ColumnInfo", "Dataset", "DatasetInfo",
           "Prepared", "builtin", "check", "delete", "describe", "infer_task", "info", "list_registered", "load", "prepare",
           "read_bytes", "read_file", "register", "registered_id", "registered_id_for", "resolve"]
