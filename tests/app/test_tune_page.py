"""The Tune page: launch a study as a job and see its charts and saved best trials; compare studies;
bad inputs answered in the form's words; hostile study names stay text; optuna-dashboard for admins only
on a team server."""

from __future__ import annotations

import datetime as dt

import optuna
import pytest
from app_support import errors, new_app, plain, signed_in_app, texts, wait_for_jobs, warnings

from engine import datasets, jobs
from engine.tune import storage as tune_storage
from engine.tune.study import best_trials

TUNE_PAGE = "../pages/tune.py"
pytestmark = pytest.mark.slow


def _open(at=None):
    at = at or new_app()
    at.switch_page(TUNE_PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def _table(at, column: str):
    """The first table on the page with ``column`` (AppTest does not expose a dataframe's key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _studies_db(ws) -> str:
    return tune_storage.default_url(ws)


def _make_study(ws, name: str, values: list[float], *, objective: str = "accuracy", sampler: str = "tpe",
                directions=("maximize",), constraints: tuple[str, ...] = ()) -> optuna.Study:
    """A study as a tune job leaves it (its Frontier attributes), with hand-made trials."""
    study = optuna.create_study(storage=_studies_db(ws), study_name=name, directions=list(directions))
    study.set_user_attr("frontier", {"family": "logreg", "dataset_id": "0" * 16, "objective": objective.split(","),
                                     "constraints": list(constraints)})
    study.set_user_attr("frontier_request", {"sampler": sampler, "seed": 0, "n_trials": len(values)})
    t0 = dt.datetime(2026, 1, 1)
    for i, v in enumerate(values):
        trial = optuna.trial.create_trial(values=[v] if len(directions) == 1 else [v, 1.0 / (1 + i)],
                                          params={"C": 0.1 * (i + 1)},
                                          distributions={"C": optuna.distributions.FloatDistribution(0.01, 10)})
        trial.datetime_start, trial.datetime_complete = t0 + dt.timedelta(seconds=i), t0 + dt.timedelta(seconds=i + 1)
        study.add_trial(trial)
    return study


def test_launching_a_study_runs_it_as_a_job_and_shows_its_charts_and_best_trial(workspace):
    at = _open()
    assert at.segmented_control(key="tune:view").value == "new"  # no study yet
    at.selectbox(key="tune:family").set_value("logreg").run()
    registered = datasets.list_registered(workspace)
    iris = registered.loc[(registered["name"] == "iris") & (registered["source"] == "builtin"), "id"].iloc[0]
    at.selectbox(key="tune:dataset").set_value(iris).run()
    at.number_input(key="tune:trials").set_value(4)
    at.number_input(key="tune:folds").set_value(2)
    at.number_input(key="tune:save_best").set_value(1)
    at.button(key="FormSubmitter:tune:form-Start study").click().run()
    assert not at.exception and not errors(at), errors(at)
    (job,) = jobs.list_jobs(workspace)
    assert job.kind == "tune" and at.query_params["job"] == job.job_id  # a refresh finds it again
    wait_for_jobs(workspace)
    at.run()
    assert not at.exception, at.exception
    assert any("finished: 4 trials; 1 best trial(s) saved" in t for t in texts(at)), texts(at)
    assert at.segmented_control(key="tune:view").value == "studies"
    name = at.multiselect(key="tune:studies").value[0]
    study = optuna.load_study(study_name=name, storage=_studies_db(workspace))
    assert len(study.trials) == 4
    (best,) = best_trials(study)
    table = _table(at, "stored run")
    assert table["trial"].tolist() == [best.number]
    assert table["stored run"].iloc[0] != "not saved"
    assert at.get("plotly_chart"), "the study's history chart"
    for kind in ("importances", "parallel", "slice", "contour", "timeline", "pareto"):
        at.segmented_control(key="tune:plot").set_value(kind).run()
        assert not at.exception and not errors(at), (kind, errors(at))
        assert at.get("plotly_chart")
    # any complete trial can be saved and benchmarked, and then joins the Compare link
    other = next(t.number for t in study.trials if t.values and t.number != best.number)
    at.multiselect(key="tune:save_trials").set_value([other]).run()
    at.button(key="tune:save").click().run()
    assert not errors(at), errors(at)
    wait_for_jobs(workspace)
    at.run()
    assert any(f"1 trial(s) of {name} saved and benchmarked" in t for t in texts(at)), texts(at)
    links = [p.proto.label for p in at.get("page_link")]
    assert any("Compare the 2 saved trial(s)" in label for label in links), links


def test_bad_inputs_are_answered_in_the_forms_words_and_start_nothing(workspace):
    at = _open()
    at.text_input(key="tune:constraints").set_value("latency_p95_ms<=fast")
    at.button(key="FormSubmitter:tune:form-Start study").click().run()
    assert any("'Constraints'" in e for e in errors(at)), errors(at)
    assert not any("--constraint" in e for e in errors(at))
    at.text_input(key="tune:constraints").set_value("")
    family = at.selectbox(key="tune:family").value
    dataset = at.selectbox(key="tune:dataset").value
    at.text_area(key=f"tune:space:{family}:classification").set_value("clf__C: [1, 2\nbroken: :")
    at.button(key="FormSubmitter:tune:form-Start study").click().run()
    assert any("'Search space'" in e for e in errors(at)), errors(at)
    at.text_area(key=f"tune:space:{family}:classification").set_value("{}")
    at.text_input(key=f"tune:study:{family}:{dataset}").set_value("../../etc/passwd")
    at.button(key="FormSubmitter:tune:form-Start study").click().run()
    assert any("'Study name'" in e for e in errors(at)), errors(at)
    assert jobs.list_jobs(workspace) == []


def test_comparing_studies_groups_repeats_and_leaves_out_other_questions(workspace):
    _make_study(workspace, "tpe-a", [0.5, 0.7, 0.6, 0.9], sampler="tpe")
    _make_study(workspace, "tpe-b", [0.8, 0.6, 0.85, 0.7], sampler="tpe")
    _make_study(workspace, "rnd-a", [0.4, 0.5, 0.6, 0.65], sampler="random")
    hostile = "[x](http://evil)"
    _make_study(workspace, hostile, [0.3, 0.2], objective="log_loss", directions=("minimize",))
    _make_study(workspace, "tpe-constrained", [0.99], constraints=("latency_p95_ms<=1",))  # another question
    at = _open()
    at.multiselect(key="tune:studies").set_value(["tpe-a", "tpe-b", "rnd-a", hostile, "tpe-constrained"]).run()
    assert not at.exception and not errors(at), errors(at)
    left_out = [w for w in warnings(at) if "Left out" in w]
    assert left_out and hostile in left_out[0] and "tpe-constrained" in left_out[0]
    assert all("](http" not in w.value or "\\[" in w.value for w in at.warning)  # escaped, never a link
    groups = _table(at, "repeats").set_index("group")
    assert groups.loc["sampler tpe", "repeats"] == 2
    assert groups.loc["sampler tpe", "median_best"] == pytest.approx((0.9 + 0.85) / 2)
    assert groups.loc["sampler random", "max_best"] == pytest.approx(0.65)
    at.number_input(key="tune:target").set_value(0.8).run()
    summary = _table(at, "final_best").set_index("study")
    assert summary.loc["tpe-a", "trials_to_target"] == 4 and summary.loc["tpe-b", "trials_to_target"] == 1
    assert summary.loc["rnd-a", "trials_to_target"] != summary.loc["rnd-a", "trials_to_target"]  # never: NaN
    groups = _table(at, "repeats").set_index("group")
    assert groups.loc["sampler tpe", "median_trials_to_target"] == 2.5  # (4 + 1) / 2
    assert groups.loc["sampler random", "reached_target"] == 0
    assert [plain(m.value) for m in at.markdown if hostile in plain(m.value)] == []  # no markdown from the name


def test_multi_objective_studies_are_compared_by_hypervolume(workspace):
    _make_study(workspace, "mo-1", [0.5, 0.7, 0.9], objective="accuracy,latency_p50_ms",
                directions=("maximize", "minimize"))
    _make_study(workspace, "mo-2", [0.6, 0.65, 0.8], objective="accuracy,latency_p50_ms",
                directions=("maximize", "minimize"))
    at = _open()
    at.multiselect(key="tune:studies").set_value(["mo-1", "mo-2"]).run()
    assert not at.exception and not errors(at), errors(at)
    keys = [c.proto.id for c in at.get("plotly_chart")]
    assert len(keys) >= 3  # best-so-far, hypervolume, the study's chart
    at.segmented_control(key="tune:plot").set_value("pareto").run()
    assert not errors(at)


def test_optuna_dashboard_is_for_admins_on_a_team_server(workspace, monkeypatch):
    from dashboard.auth import gate

    _make_study(workspace, "s", [0.5])
    monkeypatch.setattr(gate, "serving", lambda: True)
    alice = _open(signed_in_app("alice"))
    assert not any(b.label == "Open in optuna-dashboard" for b in alice.button)
    assert any("only an admin may start it" in t for t in texts(alice))
    carol = _open(signed_in_app("carol"))
    assert any(b.label == "Open in optuna-dashboard" for b in carol.button)


def test_optuna_dashboard_opens_read_only_on_the_study_and_stops(workspace):
    import json
    import urllib.error
    import urllib.request

    _make_study(workspace, "shared", [0.5, 0.6])
    at = _open()
    at.button(key="tune:optuna_dashboard").click().run()
    assert not errors(at), errors(at)
    (link,) = [b for b in at.get("link_button")]
    url = link.proto.url
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{url}api/studies", timeout=10) as resp:
        names = [s["study_name"] for s in json.load(resp)["study_summaries"]]
    assert names == ["shared"]
    delete = urllib.request.Request(f"{url}api/studies/1", method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(delete, timeout=10)
    assert refused.value.code == 405
    at.button(key="tune:optuna_stop").click().run()
    assert not errors(at) and not at.get("link_button")
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}api/studies", timeout=3)
