"""The result store: one folder of Parquet tables per run, written atomically."""

from engine.results.store import JSON_COLUMNS, TABLES, ResultStore, RunRecord, run_key

__all__ = ["JSON_COLUMNS", "TABLES", "ResultStore", "RunRecord", "run_key"]
