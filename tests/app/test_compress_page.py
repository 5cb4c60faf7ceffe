"""The Compress page: it says which devices exist, runs a compression as a job and shows the variants (table
against the job's own result, Pareto chart with the original, downloads, a Compare link); bad inputs are
answered in the form's words and start nothing."""

from __future__ import annotations

import re

import pytest
from app_support import HOSTILE, errors, new_app, plain, texts, wait_for_jobs

from engine import jobs, models

COMPRESS_PAGE = "../pages/compress.py"
pytestmark = pytest.mark.slow


def _open():
    at = new_app()
    at.switch_page(COMPRESS_PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def _model_id(ws, name: str) -> str:
    return next(i.id for i in models.list_registered(ws) if i.name == name)


def _table(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _label(v) -> str:
    return f"{v['method']} ({v['flavour'] or v['backend']})" if v["flavour"] or v["backend"] == "torch" \
        else v["method"]


LIVE_MARKUP = re.compile(r"(?<!\\)\]\(|https?://|(?<!\\)<a |(?<!\\)!\[")


def test_a_compression_runs_as_a_job_and_shows_every_variant_against_the_original(workspace):
    mlp = models.get(workspace, _model_id(workspace, "MLP (TorchScript)"))
    models.update(workspace, mlp, name=HOSTILE)  # a teammate's name for it, shown as text throughout
    at = _open()
    assert any(plain(t).startswith("This server: CPU:") and "CUDA" in t and "CPUExecutionProvider" in plain(t)
               for t in texts(at)), texts(at)
    at.selectbox(key="compress:model").set_value(mlp.id).run()
    at.multiselect(key="compress:methods").set_value(["dynamic-int8", "distill"])
    at.number_input(key="compress:folds").set_value(2)
    at.number_input(key="compress:epochs").set_value(5)
    at.button(key="FormSubmitter:compress:form-Compress").click().run()
    assert not at.exception and not errors(at), errors(at)
    (job,) = jobs.list_jobs(workspace)
    assert job.kind == "compress" and at.query_params["job"] == job.job_id
    wait_for_jobs(workspace)
    at.run()
    assert not at.exception and not errors(at), errors(at)
    result = jobs.status(workspace, job.job_id).result
    table = _table(at, "Speedup")
    made = {_label(v) for v in result["variants"]}
    assert table["Model"].tolist()[0].startswith("original: ") and set(table["Model"].tolist()[1:]) == made
    assert made == {"dynamic-int8", "dynamic-int8 (torch)", "distill (student)", "distill (twin)"}
    rows = table.set_index("Model")
    for v in result["variants"]:  # the table shows the job's own numbers
        label = _label(v)
        assert rows.loc[label, "Δ points"] == pytest.approx(v["accuracy_delta"])
        assert rows.loc[label, "Gate"] == ("pass" if v["gate_passed"] else "fail") + (
            " (held-out)" if v["gate_basis"] == "held-out" else "")
        assert rows.loc[label, "Smaller"] == pytest.approx(v["size_ratio"])
    d = next(v for v in result["variants"] if v["flavour"] == "student")["details"]
    assert rows.loc["distill (student)", "Held-out Δ"] == \
        f"{100 * (d['heldout_accuracy'] - d['original_heldout_accuracy']):+.2f}"
    assert rows.loc["dynamic-int8", "Held-out Δ"] == ""  # not trained: nothing to hold out
    assert any("Distillation: the student scored" in t for t in texts(at))
    assert len(at.get("plotly_chart")) == 2  # the Pareto front and the batch-size sweep
    sweep = _table(at, "throughput_per_s")
    assert len(sweep) == 5 * 2 and set(sweep["batch_size"]) == {1, 32}  # five models at the two default sizes
    downloads = [b for b in at.get("download_button")]
    assert len(downloads) == 4
    links = [p.proto.label for p in at.get("page_link")]
    assert "Compare the 5 runs" in links, links
    assert table["Model"].iloc[0] == f"original: {HOSTILE}"  # a table cell: text, whatever it holds
    assert not [t for t in texts(at) if LIVE_MARKUP.search(t)]


def test_every_method_has_words_in_the_form():
    from dashboard.widgets.compress_form import METHOD_HELP
    from engine.compress.methods import METHODS

    assert set(METHOD_HELP) == set(METHODS)


def test_bad_inputs_are_answered_in_the_forms_words_and_start_nothing(workspace):
    at = _open()
    at.multiselect(key="compress:methods").set_value([])
    at.button(key="FormSubmitter:compress:form-Compress").click().run()
    assert any("'Methods'" in e for e in errors(at)) and not any("--method" in e for e in errors(at)), errors(at)
    at.selectbox(key="compress:model").set_value(_model_id(workspace, "MLP (ONNX)")).run()
    at.multiselect(key="compress:methods").set_value(["prune"])
    at.button(key="FormSubmitter:compress:form-Compress").click().run()
    assert any("'Methods': prune does not apply" in e and "an ONNX file is not pruned" in e for e in errors(at)), \
        errors(at)
    at.multiselect(key="compress:methods").set_value(["auto"])
    at.multiselect(key="compress:prune_kinds").set_value([])
    at.button(key="FormSubmitter:compress:form-Compress").click().run()
    assert any("choose at least one 'Pruning' kind" in e for e in errors(at)), errors(at)
    assert jobs.list_jobs(workspace) == []

