"""What differs between selected runs: measurement environments and parameters.

Latency measured on another CPU or GPU, with other thread counts or other
library versions is not comparable at face value: :func:`environment_warnings`
names each differing field (the fields of
:func:`engine.measure.environment.differences`, as on the Benchmark page).
The backend and precision are what a comparison of formats compares, so
they appear in the parameter diff, not as warnings. :func:`param_diff` lists only what differs (model
hyperparameters, benchmark config, environment).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from engine.compare.selection import Selection

# environment fields the parameter diff lists: the machine's and what a comparison of formats compares
MACHINE_FIELDS = ("cpu", "cores", "gpu", "threads", "omp_wait_policy", "python", "platform", "engine_version")
COMPARED_FIELDS = ("backend", "device", "provider", "precision")
MAX_SHOWN_VALUES = 4


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """A nested dict as ``{"a.b": "text"}`` (lists shown whole)."""
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for k, v in value.items():
            out |= flatten(v, f"{prefix}{k}.")
        return out
    return {prefix.rstrip("."): "" if value is None else str(value)}


def environment_warnings(sel: Selection) -> list[str]:
    """One line per environment field that differs across the selected runs that were timed
    (which fields count: :func:`engine.measure.environment.differences`), with the values seen."""
    from engine.measure import environment

    timed = [r for r in sel.runs.to_dict("records") if r.get("latency_p50_ms") is not None
             and r.get("latency_p50_ms") == r.get("latency_p50_ms")]
    if len(timed) < 2:
        return []
    envs = [r.get("environment") if isinstance(r.get("environment"), Mapping) else {} for r in timed]
    out = []
    for name in environment.differences(envs):
        if name in environment.COMPARED_FIELDS:
            values, shown_name = [str(e.get(name)) for e in envs], name
        else:
            values = [str((e.get("libraries") or {}).get(name, "not installed")) for e in envs]
            shown_name = f"{name} version"
        distinct = list(dict.fromkeys(values))
        shown = ", ".join(distinct[:MAX_SHOWN_VALUES]) + (" ..." if len(distinct) > MAX_SHOWN_VALUES else "")
        out.append(f"measured on different environments: {shown_name} differs ({shown})")
    return out


def param_diff(sel: Selection) -> pd.DataFrame:
    """Rows = fields that differ (``param.*``, ``config.*``, ``env.*``, format and mode), columns = run labels."""
    records = sel.runs.to_dict("records")
    flat = []
    for r in records:
        row = {"format": str(r.get("format")), "mode": str(r.get("mode")), "lineage": str(r.get("lineage") or "uploaded")}
        params = r.get("params") if isinstance(r.get("params"), Mapping) else {}
        row |= {f"param.{k}": v for k, v in flatten(params).items()}
        config = r.get("config") if isinstance(r.get("config"), Mapping) else {}
        row |= {f"config.{k}": v for k, v in flatten(config).items()}
        env = r.get("environment") if isinstance(r.get("environment"), Mapping) else {}
        row |= {f"env.{k}": v for k, v in flatten(env).items() if k.split(".")[0] in (*MACHINE_FIELDS, *COMPARED_FIELDS, "libraries")}
        flat.append(row)
    fields = sorted({k for row in flat for k in row}, key=lambda k: (k.split(".")[0] != "param", k))
    labels = [r["label"] for r in records]
    rows = {}
    for name in fields:
        values = [row.get(name, "—") for row in flat]
        if len(set(values)) > 1:
            rows[name] = values
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=labels) if rows else pd.DataFrame(columns=labels)
    frame.index.name = "field"
    return frame
