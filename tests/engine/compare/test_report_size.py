"""A 100-run report stays under 10 MB: curves and latency samples are thinned, and it says so."""

from __future__ import annotations

import shutil

import pandas as pd
from frontier_support import copy_workspace

from engine.cli import main

MAX_BYTES = 10 * 2**20


def test_a_100_run_report_is_under_10_mb_and_says_what_it_thinned(populated_workspace, tmp_path, capsys):
    ws = copy_workspace(populated_workspace, tmp_path / "ws")
    runs = sorted(p for p in (ws / "results").iterdir() if not p.name.startswith("."))
    for i in range(100 - len(runs)):  # copies of the five real runs under new ids and names
        src = runs[i % len(runs)]
        rid = f"{0xabc0000000000000 + i:016x}"
        shutil.copytree(src, ws / "results" / rid)
        pd.read_parquet(src / "summary.parquet").assign(run_id=rid, model=f"model {i}").to_parquet(
            ws / "results" / rid / "summary.parquet", index=False)
    out = tmp_path / "report.html"
    assert main(["report", "--out", str(out), "--workspace", str(ws), "--json"]) == 0
    size = out.stat().st_size
    assert size < MAX_BYTES, f"{size / 2**20:.1f} MB"
    html = out.read_text()
    assert "100 runs on digits" in html
    assert "thinned to at most 150 points" in html and "at most 300 evenly spaced calls" in html
    assert "Pairwise tests involving" in html  # 4,950 pairs: the table lists the pick's, the matrix all
    assert '"bytes": ' + str(size) in capsys.readouterr().out
