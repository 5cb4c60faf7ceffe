"""Job specs: typed payloads round-trip through request.json, and a tampered file is refused in one line.

Job folders live in a workspace anyone on the team can write, and job ids come
from URLs: every check below comes with the attack that would get past a weaker one.
"""

from __future__ import annotations

import json
import os

import pytest

from engine import jobs
from engine.errors import FrontierError
from engine.jobs import executor, spec
from engine.jobs.spec import JobSpec, Limits
from engine.jobs.supervisor import supervise
from engine.workspace import Workspace

RUN = {"run_id": "0123456789abcdef", "artifact_id": "fedcba9876543210", "name": "m", "mode": "cv-refit",
       "rows_seen": False}
BENCH = {"kind": "benchmark", "threads": 1, "dataset_id": "00112233445566ff", "dataset_name": "iris",
         "task": "classification", "config": {"cv": 3}, "recompute": False, "runs": [RUN]}
REQUESTS = [
    BENCH,
    {"kind": "describe", "artifact_id": "fedcba9876543210"},
    {"kind": "register_model", "upload": "model.skops", "filename": "my model.skops", "display_name": "Mine",
     "trusted": False},
    {"kind": "register_dataset", "upload": "data.csv", "filename": "data.csv", "display_name": None},
]


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: r["kind"])
def test_every_kind_round_trips_through_request_json(ws, request_):
    s = JobSpec.from_request(request_, owner="ana", limits=Limits(memory_mb=512, time_s=60, step_time_s=30),
                             title="a title")
    job_dir = executor.create_job(ws, s)
    back = spec.read(job_dir)
    assert back == s
    assert back.request() == request_
    assert jobs.request(ws, job_dir.name) == request_
    on_disk = json.loads((job_dir / "request.json").read_text())
    assert on_disk["owner"] == "ana" and on_disk["limits"]["step_time_s"] == 30


def test_the_benchmark_plan_request_is_a_valid_spec(tmp_path):
    from frontier_support import sample
    from jobs_support import plan

    ws = Workspace.open(tmp_path / "ws")
    request = plan(ws, [sample("digits_logreg.skops")], as_is=False).to_request()
    assert JobSpec.from_request(request).request() == request


@pytest.mark.parametrize(("change", "message"), [
    ({"dataset_id": "../../etc"}, "must be a dataset id"),
    ({"runs": [RUN | {"artifact_id": "../../../secret"}]}, "must be a model id"),
    ({"runs": [RUN | {"run_id": "0123456789ABCDEF"}]}, "must be a run id"),  # ids are lower-case hex
    ({"runs": [RUN | {"mode": "rm -rf"}]}, "cv-refit or as-is"),
    ({"runs": [RUN | {"rows_seen": "yes"}]}, "'rows_seen'"),
    ({"runs": [RUN | {"extra": 1}]}, "unknown field"),
    ({"runs": "everything"}, "a list of runs"),
    ({"task": "clustering"}, "classification or regression"),
    ({"threads": True}, "'threads'"),  # a bool is not a thread count
    ({"threads": -3}, "1 to 4096"),
    ({"config": ["cv", 3]}, "an object"),
    ({"surprise": 1}, "unknown field"),
    ({"kind": "mine-bitcoin"}, "unknown job kind"),
    ({"kind": None}, "unknown job kind"),
])
def test_a_tampered_benchmark_request_is_refused(change, message):
    with pytest.raises(FrontierError, match=message) as err:
        JobSpec.from_request(BENCH | change)
    assert "\n" not in err.value.message


@pytest.mark.parametrize("name", ["../x", "a/b", "a\\b", "..", ".", "", "x\x00y", "line\nbreak", "é" * 200, 7])
def test_uploads_name_plain_files_only(name):
    with pytest.raises(FrontierError, match=r"not a plain file name|must be str") as err:
        JobSpec.from_request({"kind": "register_dataset", "upload": name, "filename": "d.csv"})
    assert "\n" not in err.value.message
    with pytest.raises(FrontierError, match=r"not a plain file name|must be str"):
        JobSpec.from_request({"kind": "register_dataset", "upload": "d.csv", "filename": name})


def test_a_tampered_request_json_fails_the_job_in_one_line(ws):
    job_dir = executor.create_job(ws, JobSpec.from_request(REQUESTS[1]))
    data = json.loads((job_dir / "request.json").read_text())
    data["payload"]["artifact_id"] = "../../../../etc/passwd"
    (job_dir / "request.json").write_text(json.dumps(data))
    with pytest.raises(FrontierError, match="must be a model id"):
        jobs.request(ws, job_dir.name)
    st = supervise(job_dir)  # the supervisor refuses it before any worker starts
    assert st.state == "failed" and "must be a model id" in st.error and "\n" not in st.error
    assert not (job_dir / "worker.log").exists()
    (job_dir / "request.json").write_text("{not json")
    with pytest.raises(FrontierError, match="unreadable"):
        jobs.request(ws, job_dir.name)


def test_limits_are_validated_and_capped(monkeypatch):
    monkeypatch.setenv("FRONTIER_STEP_TIME_S", "120")
    monkeypatch.setenv("FRONTIER_MAX_STEP_TIME_S", "600")
    assert Limits().step_time_s == 120
    assert Limits(step_time_s=600).step_time_s == 600
    with pytest.raises(FrontierError, match=r"--time-limit 601 is more than the 600 s") as err:
        Limits(step_time_s=601)
    assert "'Time limit per model step': 601" in err.value.ui_message
    monkeypatch.setenv("FRONTIER_STEP_TIME_S", "5000")  # an operator default above the cap is capped
    assert Limits().step_time_s == 600
    for bad in ({"step_time_s": float("nan")}, {"step_time_s": 0}, {"time_s": -1}, {"memory_mb": 1.5},
                {"memory_mb": True}):
        with pytest.raises(FrontierError):
            Limits(**bad)
    # a request.json edited to lift the cap is refused when it is read back
    with pytest.raises(FrontierError, match="more than the 600 s"):
        Limits.from_dict({"memory_mb": 100, "time_s": 10, "step_time_s": 10_000})


def test_names_cannot_smuggle_option_markers_into_error_messages():
    """Attack: a model named with the control characters that mark options inside FrontierError."""
    s = JobSpec.from_request(BENCH | {"runs": [RUN | {"name": "m\x02bogus\x01x\x03\n"}]})
    name = s.payload.runs[0].name
    assert name == "m bogus x"
    assert FrontierError(f"'{name}' failed").message == "'m bogus x' failed"


def test_titles_are_one_line_and_owners_are_names():
    s = JobSpec.from_request(REQUESTS[1], title="line one\nline two\x1b[31m")
    assert s.title == "line one line two [31m"
    with pytest.raises(FrontierError, match="not a user name"):
        JobSpec.from_request(REQUESTS[1], owner="eve\nadmin")


@pytest.mark.parametrize("job_id", ["../results", "20990101-000000-abcdef", "not-a-job", "",
                                    "20990101-000000-abcdef/../../x", "x" * 5000])
def test_job_ids_from_urls_name_existing_jobs_only(ws, job_id):
    for call in (jobs.status, jobs.request, jobs.cancel, jobs.reconcile):
        with pytest.raises(FrontierError, match="no job with id") as err:
            call(ws, job_id)
        assert len(err.value.message) < 120


def test_a_symlinked_job_folder_is_not_followed(ws, tmp_path):
    """A teammate plants jobs/<valid id> -> elsewhere: cancel must not write a flag there."""
    elsewhere = tmp_path / "elsewhere"
    real = executor.create_job(ws, JobSpec.from_request(REQUESTS[1]))
    os.rename(real, elsewhere)
    os.symlink(elsewhere, real)
    with pytest.raises(FrontierError, match="no job with id"):
        jobs.cancel(ws, real.name)
    assert not (elsewhere / "cancel").exists()
    assert real.name not in {j.job_id for j in jobs.list_jobs(ws)}


def test_files_with_bad_names_write_nothing(ws):
    for files in ({"../escape.csv": b"x"}, {"a/b.csv": b"x"}, {"ok.csv": "not bytes"}):
        with pytest.raises(FrontierError):
            jobs.submit(ws, REQUESTS[3], files=files)
    assert list(ws.jobs.iterdir()) == []
    assert not (ws.root / "escape.csv").exists()


def test_planted_links_in_a_job_folder_are_replaced_not_followed(ws, tmp_path):
    """Attack: links planted as a job's ``cancel`` flag or log point at files the server may write."""
    from engine.jobs import liveness
    from engine.jobs import status_store as store

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    job_dir = executor.create_job(ws, JobSpec.from_request(REQUESTS[1]))
    store.update(job_dir, {"supervisor": liveness.identity()})  # alive: this process
    (job_dir / "cancel").symlink_to(tmp_path / "created-by-server")
    jobs.cancel(ws, job_dir.name)
    assert not (tmp_path / "created-by-server").exists()
    assert (job_dir / "cancel").is_file() and not (job_dir / "cancel").is_symlink()
    # the worker's log: the run does not write through the link (it cannot start, and says so)
    other = executor.create_job(ws, JobSpec.from_request(REQUESTS[1]))
    (other / "worker.log").symlink_to(victim)
    st = supervise(other)
    assert st.state == "failed" and "\n" not in st.error
    assert victim.read_text() == "precious"
