"""The metric registry reaches the dashboard: every metric a run has is offered in the picker, with its
registry label and direction, and the Caution column says why a ranked run needs care."""

from __future__ import annotations

import pytest
from app_support import new_app, run_until
from test_benchmark_page import LOGREG, submit_directly

from engine import jobs, metrics


@pytest.mark.parametrize(("model", "dataset", "task"), [(LOGREG, "digits", "classification"),
                                                        ("Ridge regression (scikit-learn)", "diabetes", "regression")])
def test_every_registry_metric_is_offered_in_the_picker(workspace, model, dataset, task):
    job_id, _ = submit_directly(workspace, model, dataset)
    assert jobs.wait(workspace, job_id, timeout_s=300).state == "done"
    at = new_app()
    at.query_params["job"] = job_id
    run_until(at, lambda a: any(s.label == "Metric" for s in a.selectbox))
    picker = next(s for s in at.selectbox if s.label == "Metric")
    assert list(picker.options) == [f"{m.label} ({m.better_word})" for m in metrics.for_task(task)]
    table = at.dataframe[0].value
    assert f"{metrics.primary(task).name}_mean" in table.columns


def test_a_sample_scored_on_its_training_rows_is_marked_where_runs_are_ranked(workspace):
    from engine import benchmark, datasets, models
    from engine.measure.latency import LatencySettings

    infos = [i for i in models.list_registered(workspace) if i.name == LOGREG]
    config = benchmark.BenchmarkConfig(cv=3, threads=1, as_is=True,
                                       latency=LatencySettings(batch_sizes=(1,), min_time_s=0.01, min_count=3))
    p = benchmark.plan(workspace, infos, datasets.builtin("digits"), config)
    job_id = jobs.submit(workspace, p.to_request(), title="as-is on digits")
    assert jobs.wait(workspace, job_id, timeout_s=300).state == "done"
    at = new_app()
    at.query_params["job"] = job_id
    run_until(at, lambda a: len(a.dataframe) > 0)
    table = at.dataframe[0].value
    assert list(table.columns[:2]) == ["model", "caution"]
    assert table["caution"].iloc[0].startswith("scored on rows it was trained on")
