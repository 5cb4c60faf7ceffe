"""The Compare page: a link reproduces the view, bad link parameters are dropped with a note, every view
renders, user strings stay text."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
from app_support import HOSTILE, infos, new_app, plain, texts

from engine.compare.selection import group_key
from engine.results import ResultStore

COMPARE_PAGE = "../pages/compare.py"
VIEWS = ("Table", "Pareto", "Significance", "Curves", "Confusion", "Per fold", "Latency", "What differs")


@pytest.fixture
def stored(workspace, populated_workspace) -> list[str]:
    """The five digits runs of the CLI comparison, copied into this test's workspace (newest first)."""
    src = populated_workspace / "results"
    for run in src.iterdir():
        if run.is_dir() and not run.name.startswith("."):
            shutil.copytree(run, workspace.results / run.name)
    return ResultStore(workspace).runs()["run_id"].tolist()


def _open(query: dict[str, str]):
    at = new_app()
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page(COMPARE_PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_link_opens_the_same_selection_baseline_and_view(stored):
    runs = stored[:3]
    at = _open({"runs": ",".join(runs), "baseline": runs[1], "view": "Significance", "x": "size_bytes"})
    assert at.multiselect(key="compare:runs").value == runs
    assert at.selectbox(key="compare:baseline").value == runs[1]
    assert at.selectbox(key="compare:x").value == "size_bytes"
    assert at.session_state["compare:view"] == "Significance"
    # the page writes its state back to the URL; a fresh session opened with that URL sees the same
    again = _open({k: at.query_params[k] for k in at.query_params})
    assert again.multiselect(key="compare:runs").value == runs
    assert again.selectbox(key="compare:baseline").value == runs[1]
    assert again.session_state["compare:view"] == "Significance"
    verdict = [t for t in texts(at) if "Verdict" in t]
    assert verdict and verdict == [t for t in texts(again) if "Verdict" in t]


def test_bad_link_parameters_are_dropped_with_a_note(stored):
    at = _open({"runs": f"zzz,<script>,{'0' * 16},{stored[0]},{stored[1]}", "x": "rm -rf", "batch": "abc",
                "view": "Nope", "baseline": stored[3], "margin": "-1"})
    assert at.multiselect(key="compare:runs").value == stored[:2]
    notes = " ".join(infos(at))
    assert "3 run(s) that are not in this workspace" in notes
    assert "x is not one of the choices" in notes and "batch is not a number" in notes
    assert "baseline is not among its runs" in notes and "margin is not a number of 0 or more" in notes
    assert at.selectbox(key="compare:baseline").value is None
    assert at.selectbox(key="compare:x").value == "latency_p50_ms"
    assert at.session_state["compare:view"] == "Table"


@pytest.mark.parametrize("shown", VIEWS)
def test_every_view_renders(stored, shown):
    at = _open({"runs": ",".join(stored), "baseline": stored[0], "view": shown})
    assert at.session_state["compare:view"] == shown
    assert not at.error, [e.value for e in at.error]
    if shown not in ("Table", "What differs"):
        assert at.get("plotly_chart"), f"{shown} drew no chart"


def test_runs_on_other_rows_are_flagged_not_ranked_together(stored, workspace):
    summary = workspace.results / stored[0] / "summary.parquet"
    frame = pd.read_parquet(summary)
    frame["folds_id"] = "0123456789abcdef"  # as if scored on other folds
    frame.to_parquet(summary, index=False)
    at = _open({"runs": ",".join(stored[:3])})
    assert any("different sets of rows or folds" in plain(w.value) for w in at.warning)


def test_a_hostile_model_name_is_shown_as_text(stored, workspace):
    summary = workspace.results / stored[0] / "summary.parquet"
    frame = pd.read_parquet(summary)
    frame["model"] = HOSTILE
    frame.to_parquet(summary, index=False)
    at = _open({"runs": ",".join(stored[:3])})
    shown = [t for t in texts(at) if "click" in t]
    assert shown, "the name is shown (verdict, warnings)"
    for text in shown:  # every markdown special is escaped: the name renders literally, links never form
        assert not re.search(r"(?<!\\)\[click", text) and not re.search(r"(?<!\\)<a href", text), text
        assert HOSTILE in plain(text)


def test_groups_follow_the_folds(stored, workspace):
    keys = {group_key(r) for r in ResultStore(workspace).runs().to_dict("records")}
    assert len(keys) == 1  # the five runs share rows, labels and folds
