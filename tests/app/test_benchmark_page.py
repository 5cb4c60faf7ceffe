"""The Benchmark page: submit through the form, follow the job, show results; bad input stops before any job."""

from __future__ import annotations

import json

import pytest
from app_support import (
    FAST_LATENCY,
    artifact_id,
    captions,
    charts_of,
    errors,
    infos,
    new_app,
    run_until,
    successes,
    warnings,
)

from engine import benchmark, datasets, jobs, models, settings
from engine.jobs import spec as jobspec
from engine.measure.latency import LatencySettings
from engine.results import ResultStore, RunRecord

LOGREG = "Logistic regression (scikit-learn)"
SUBMIT = "FormSubmitter:benchmark:form-Run benchmark"
# fold metrics, accuracy vs latency, confusion, ROC, PR, calibration, latency distribution, batch sweep
CLASSIFICATION_CHARTS = 8


def _fill(at, model_ids: list[str], *, folds: int = 3, **values):
    at.multiselect(key="benchmark:models").set_value(model_ids)
    at.number_input(key="benchmark:folds").set_value(folds)
    for key, value in (FAST_LATENCY | values).items():
        widget = at.multiselect(key=key) if isinstance(value, list) else at.number_input(key=key)
        widget.set_value(value)
    at.button(key=SUBMIT).click()
    return at.run()


def _has_results(at) -> bool:
    return len(charts_of(at)) >= CLASSIFICATION_CHARTS


def _jobs(ws) -> list:
    return jobs.list_jobs(ws)


@pytest.fixture
def app(workspace):
    at = new_app().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Benchmark"
    box = at.selectbox(key="benchmark:dataset")
    assert box.format_func(box.value).startswith("digits (tabular")
    return at


def test_benchmark_through_the_form_then_served_from_the_store(app, workspace):
    _fill(app, [artifact_id(workspace, LOGREG)], **{"benchmark:step_time": 120.0})
    assert not app.exception and not errors(app), errors(app)
    job_id = app.session_state["benchmark:job_id"]
    assert [j.job_id for j in _jobs(workspace)] == [job_id]
    assert app.query_params["job"] == job_id  # the URL links the job
    # the form's time limit per model step travels with the job
    assert jobspec.read(workspace.job_dir(job_id)).limits.step_time_s == 120.0
    assert jobs.status(workspace, job_id).owner == app.session_state["auth:actor"].name

    run_until(app, _has_results)
    assert jobs.status(workspace, job_id).state == "done"
    assert not errors(app)
    table = app.dataframe[0].value
    assert list(table.columns[:3]) == ["model", "accuracy_mean", "accuracy_std"]
    assert table["model"].tolist() == [LOGREG]
    assert 0.9 < table["accuracy_mean"].iloc[0] <= 1.0
    assert table["latency_p50_ms"].iloc[0] > 0
    tabs = [t.label for t in app.tabs]
    assert tabs[:7] == ["Metrics", "Confusion matrices", "ROC", "PR", "Calibration", "Latency", "Per-class report"]
    assert any(e.label == "Environment" for e in app.expander)
    per_class = next(d.value for d in app.dataframe if "support" in d.value.columns)
    assert len(per_class) == 12  # the ten digits and the averages
    assert [d for d in app.dataframe if "model" in d.value.columns and len(d.value) == 1][1:]  # previous runs

    # the same request again: nothing runs, the stored result is shown at once
    app.button(key=SUBMIT).click()
    app.run()
    assert not app.exception and not errors(app)
    assert "benchmark:job_id" not in app.session_state and "job" not in app.query_params
    assert len(_jobs(workspace)) == 1
    assert any("served from the store" in s for s in successes(app))
    assert _has_results(app)


def test_model_dataset_mismatch_is_refused_without_a_job(app, workspace):
    _fill(app, [artifact_id(workspace, "CNN (ONNX)")])
    assert not app.exception
    assert len(errors(app)) == 1 and "shape" in errors(app)[0]
    assert _jobs(workspace) == []
    assert "benchmark:job_id" not in app.session_state


def test_too_many_folds_for_a_tiny_dataset_is_refused_in_ui_words(app, workspace):
    # 12 rows, but class 'a' has only 3 of them: fewer than 5 folds need
    rows = "x1,x2,label\n" + "".join(f"{i},{i % 3},{'a' if i < 3 else 'b'}\n" for i in range(12))
    tiny = datasets.register(workspace, datasets.read_bytes(rows.encode(), name="tiny.csv"))
    app.run()  # the new dataset appears in the list
    app.selectbox(key="benchmark:dataset").set_value(tiny.id).run()
    assert app.selectbox(key=f"benchmark:target:{tiny.id}").value == "label"
    _fill(app, [artifact_id(workspace, LOGREG)], folds=5)
    assert len(errors(app)) == 1, errors(app)
    assert "5 folds" in errors(app)[0] and "--cv" not in errors(app)[0]
    assert _jobs(workspace) == []


def test_image_dataset_hides_the_target_and_refuses_tabular_models(app, workspace):
    images = datasets.list_registered(workspace).set_index("name").loc["digits_images", "id"]
    app.selectbox(key="benchmark:dataset").set_value(images).run()
    target = app.text_input(key=f"benchmark:target:{images}")
    assert target.disabled and target.value.startswith("y")
    _fill(app, [artifact_id(workspace, LOGREG)])
    assert len(errors(app)) == 1 and "needs a tabular dataset" in errors(app)[0]
    assert _jobs(workspace) == []


def test_no_model_chosen_is_an_error(app, workspace):
    _fill(app, [])
    assert len(errors(app)) == 1 and errors(app)[0].startswith("choose at least one model to benchmark")
    assert _jobs(workspace) == []


def test_the_step_time_limit_is_capped_by_the_server_setting(app, monkeypatch):
    monkeypatch.setenv("FRONTIER_MAX_STEP_TIME_S", "600")
    monkeypatch.setenv("FRONTIER_STEP_TIME_S", "900")
    app.run()
    box = app.number_input(key="benchmark:step_time")
    assert box.label == "Time limit per model step (s)"
    assert box.max == settings.max_step_time_s() == 600 and box.value == 600


def test_batch_sizes_larger_than_the_dataset_are_named(app, workspace):
    """iris has 150 rows: the 256 batch size is skipped by the latency sweep, and the page says so."""
    iris = datasets.list_registered(workspace).set_index("name").loc["iris", "id"]
    app.selectbox(key="benchmark:dataset").set_value(iris).run()
    iris_model = models.register_bytes(workspace, _iris_skops(), "iris.skops")
    app.run()
    _fill(app, [iris_model.id], **{"benchmark:lat_batches": [1, 128, 256]})
    assert not errors(app), errors(app)
    assert any("Batch size(s) 256 are larger than the dataset's 150 rows" in i for i in infos(app))


def _iris_skops() -> bytes:
    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = [f"x{i}" for i in range(4)]
    return sio.dumps(LogisticRegression(max_iter=300).fit(X.to_numpy(), y))


def submit_directly(ws, model: str, dataset: str, *, min_time_s: float = 0.02,
                    owner: str | None = None) -> tuple[str, list[str]]:
    infos = [i for i in models.list_registered(ws) if i.name == model]
    config = benchmark.BenchmarkConfig(cv=3, threads=1, latency=LatencySettings(
        batch_sizes=(1, 32), min_time_s=min_time_s, min_count=5))
    p = benchmark.plan(ws, infos, datasets.builtin(dataset), config)
    options = {"owner": owner} if owner else {}
    return jobs.submit(ws, p.to_request(), title=f"test {model}", **options), [r.run_id for r in p.runs]


def test_a_new_session_reattaches_to_a_running_job_and_shows_regression_results(workspace):
    job_id, run_ids = submit_directly(workspace, "Ridge regression (scikit-learn)", "diabetes")
    stranger = new_app().run()  # another session: told about the job, not attached to it
    assert not stranger.exception and "benchmark:job_id" not in stranger.session_state
    assert any(c.startswith("Your other benchmark(s) running: [test Ridge") for c in captions(stranger))

    at = new_app()
    at.query_params["job"] = job_id  # a browser refresh: empty session state, the URL names the job
    at.run()
    assert not at.exception
    assert at.session_state["benchmark:job_id"] == job_id
    assert at.session_state["benchmark:runs"]["run_ids"] == run_ids
    run_until(at, lambda a: len(charts_of(a)) >= 5)  # fold metrics, trade-off, residuals, latency x2
    assert [t.label for t in at.tabs][:3] == ["Metrics", "Residuals", "Latency"]
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["model", "rmse_mean", "rmse_std"]
    assert "accuracy_mean" not in table.columns


def test_cancel_stops_the_job(workspace):
    job_id, _ = submit_directly(workspace, LOGREG, "digits", min_time_s=30.0)
    at = new_app()
    at.query_params["job"] = job_id
    at.run()
    assert at.get("progress"), "an active job shows a progress bar"
    assert " elapsed" in at.get("progress")[0].proto.text
    at.button(key=f"benchmark:cancel:{job_id}").click().run()
    assert not at.exception
    assert jobs.wait(workspace, job_id, timeout_s=30).state == "cancelled"
    at.run()
    assert any("cancelled" in i for i in infos(at))
    assert not at.get("progress")


def test_a_failed_job_shows_one_line_in_ui_words(workspace):
    job_id, _ = submit_directly(workspace, LOGREG, "digits")
    jobs.cancel(workspace, job_id)
    jobs.wait(workspace, job_id, timeout_s=30)
    status_file = workspace.jobs / job_id / "status.json"
    status = json.loads(status_file.read_text()) | {
        "state": "failed", "error": "the model exploded; try --threads 1", "ui_error": "the model exploded; try 'Threads': 1"}
    status_file.write_text(json.dumps(status))
    at = new_app()
    at.query_params["job"] = job_id
    at.run()
    assert not at.exception
    assert errors(at) == ["the model exploded; try 'Threads': 1"]  # the dashboard's words, not the CLI's


def test_previous_runs_can_be_charted_again_and_deleted(workspace):
    job_id, run_ids = submit_directly(workspace, LOGREG, "digits")
    assert jobs.wait(workspace, job_id, timeout_s=150).state == "done"
    at = new_app().run()
    assert not at.exception
    assert not _has_results(at)  # nothing is charted until runs are chosen
    at.multiselect(key="benchmark:previous:runs").set_value(run_ids).run()
    assert not at.exception and not errors(at)
    assert _has_results(at)

    # a shown run can be deleted (after confirming); only its own folder goes
    other = [p.name for p in workspace.results.iterdir() if p.name not in run_ids]
    at.selectbox(key="benchmark:run_delete:choice").set_value(run_ids[0]).run()
    at.button(key="benchmark:run_delete:ask").click().run()
    assert workspace.results.joinpath(run_ids[0]).is_dir()  # not before the confirmation
    at.button(key="benchmark:run_delete:confirm").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert not workspace.results.joinpath(run_ids[0]).exists()
    assert sorted(p.name for p in workspace.results.iterdir()) == sorted(other)
    assert any("Deleted" in s for s in successes(at))


def test_runs_from_different_environments_are_flagged(workspace):
    job_id, run_ids = submit_directly(workspace, LOGREG, "digits")
    other_job, other_ids = submit_directly(workspace, "MLP (ONNX)", "digits")
    assert jobs.wait(workspace, job_id, timeout_s=150).state == "done"
    assert jobs.wait(workspace, other_job, timeout_s=150).state == "done"
    at = new_app().run()
    at.multiselect(key="benchmark:previous:runs").set_value(run_ids + other_ids).run()
    assert not at.exception and not at.warning  # same machine, other backend: nothing to flag

    # the ONNX run "was measured" on another CPU
    store = ResultStore(workspace)
    record = store.summary(other_ids[0])
    record["environment"]["cpu"] = "Another CPU"
    tables = {name: store.table(other_ids[0], name) for name in ("folds", "predictions", "latency")}
    store.save(RunRecord(other_ids[0], record, tables), replace=True)
    at.run()
    assert not at.exception
    assert any("different environments (cpu)" in w for w in warnings(at))


def test_previous_runs_show_the_newest_and_find_runs_reaches_the_rest(workspace):
    import shutil

    import pandas as pd

    job_id, run_ids = submit_directly(workspace, LOGREG, "digits")
    assert jobs.wait(workspace, job_id, timeout_s=150).state == "done"
    src = workspace.results / run_ids[0]
    summary = pd.read_parquet(src / "summary.parquet")
    for i in range(39):  # 40 runs: copies with their own ids, names and times (model 0 oldest)
        rid = f"{i:016x}"
        shutil.copytree(src, workspace.results / rid)
        summary.assign(run_id=rid, model=f"model {i:02d}", created_at=f"2026-01-01T00:{i:02d}:00").to_parquet(
            workspace.results / rid / "summary.parquet", index=False)
    at = new_app().run()
    assert not at.exception and not errors(at), errors(at)
    assert any("Showing the 25 newest of 40 matching runs (40 stored)" in c for c in captions(at)), captions(at)
    options = at.multiselect(key="benchmark:previous:runs").options
    assert len(options) == 25 and not any("model 00 ·" in o for o in options)  # the oldest is not listed

    at.text_input(key="benchmark:previous:filter").set_value("00 MODEL").run()  # every word, any case
    assert not at.exception
    assert any("1 of 40 stored runs match" in c for c in captions(at)), captions(at)
    options = at.multiselect(key="benchmark:previous:runs").options
    assert len(options) == 1 and options[0].startswith("model 00 · digits")
