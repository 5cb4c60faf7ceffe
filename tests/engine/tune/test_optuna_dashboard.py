"""optuna-dashboard started on a study storage answers its HTTP API with the study: a real child
process on 127.0.0.1 only, read-only (every write route answers 405 and changes nothing), reused
per storage, found by running() without starting one, a tampered record not believed, no password
on its command line, journal storage too, and stop() ends it."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import optuna
import pytest

from engine.errors import FrontierError
from engine.tune import optuna_dashboard as od

REPO = Path(__file__).resolve().parents[3]
STUDY = "frontier-demo"
N_TRIALS = 4


def make_study(storage: object) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=STUDY, storage=storage, direction="maximize")

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("alpha", 0.0, 1.0)
        trial.set_user_attr("latency_ms", 1.5 + trial.number)
        return x

    study.optimize(objective, n_trials=N_TRIALS)


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def ended(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def assert_serves_the_study(server: od.Server) -> None:
    listed = get(f"{server.url}api/studies")["study_summaries"]
    assert [s["study_name"] for s in listed] == [STUDY]
    detail = get(f"{server.url}api/studies/{listed[0]['study_id']}")
    assert detail["name"] == STUDY
    assert len(detail["trials"]) == N_TRIALS
    assert {"key": "latency_ms", "value": "1.5"} in detail["trials"][0]["user_attrs"]


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('study') / 'studies.db'}"
    make_study(url)
    return url


@pytest.fixture(scope="module")
def served(sqlite_url, tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    server = od.start(sqlite_url, workspace=ws)
    yield server, ws
    od.stop(server)


def test_dashboard_answers_its_http_api_with_the_study(served):
    server, _ = served
    assert_serves_the_study(server)
    with urllib.request.urlopen(server.url, timeout=10) as resp:  # the page itself
        assert resp.geturl() == f"{server.url}dashboard" and b"<html" in resp.read().lower()
    assert server.study_url(1) == f"http://127.0.0.1:{server.port}/dashboard/studies/1"


def test_it_listens_on_loopback_only(served):
    server, _ = served
    assert server.url == f"http://127.0.0.1:{server.port}/"
    port = f":{server.port:04X}"
    v4 = [ln.split() for ln in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    assert [f[1] for f in v4 if f[1].endswith(port) and f[3] == "0A"] == [f"0100007F{port}"]
    with open("/proc/net/tcp6") if Path("/proc/net/tcp6").exists() else open(os.devnull) as fh:
        v6 = [ln.split() for ln in fh.read().splitlines()[1:]]
    assert not [f for f in v6 if f[1].endswith(port) and f[3] == "0A"]
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with pytest.raises(OSError), socket.create_connection((address, server.port), timeout=3):
        pass


def non_loopback_address() -> str | None:
    candidates = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, contextlib.suppress(OSError):
        s.connect(("192.0.2.1", 9))  # routing only; sends nothing
        candidates.append(s.getsockname()[0])
    with contextlib.suppress(OSError):
        candidates += socket.gethostbyname_ex(socket.gethostname())[2]
    return next((a for a in candidates if not a.startswith("127.") and a != "0.0.0.0"), None)


def test_a_second_start_for_the_same_storage_returns_the_running_server(served, sqlite_url):
    server, ws = served
    assert od.start(sqlite_url, workspace=ws) == server
    # from another process (another dashboard session): believed through the record and /proc
    code = ("import json, sys; from engine.tune import optuna_dashboard as od; "
            "s = od.start(sys.argv[1], workspace=sys.argv[2]); print(json.dumps([s.pid, s.port]))")
    out = subprocess.run([sys.executable, "-c", code, sqlite_url, str(ws)], cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == [server.pid, server.port]


@pytest.mark.parametrize("tamper", ["own pid", "garbage"])
def test_a_tampered_record_is_not_trusted(sqlite_url, tmp_path, tamper):
    first = od.start(sqlite_url, workspace=tmp_path)
    record = tmp_path / od.FOLDER / f"{od.storage_key(sqlite_url)}.json"
    data = json.loads(record.read_text())
    assert (data["pid"], data["port"]) == (first.pid, first.port)
    # another process cannot tell it from this module's in-memory list
    od._started.pop(od.storage_key(sqlite_url))
    if tamper == "own pid":  # a live process of this user, on the real port: not our child
        record.write_text(json.dumps({**data, "pid": os.getpid()}))
    else:
        record.write_text("{not json")
    try:
        fresh = od.start(sqlite_url, workspace=tmp_path)
        try:
            assert fresh.pid not in (first.pid, os.getpid()) and fresh.port != first.port
            assert_serves_the_study(fresh)
            assert json.loads(record.read_text())["pid"] == fresh.pid
        finally:
            od.stop(fresh)
    finally:
        od.stop(first)
    assert ended(first.pid)


def test_no_password_reaches_the_command_line_or_the_error(served, sqlite_url, tmp_path):
    url = "postgresql+psycopg2://frontier:s3cret-pw@127.0.0.1:1/studies"
    argv = od.command(od.storage_key(url))
    assert not [a for a in argv if "s3cret" in a or "127.0.0.1:1" in a]
    assert od.storage_key(url) == od.storage_key(url.replace("s3cret-pw", "other"))
    # the running child: neither the storage on its command line nor in its environment
    server, _ = served
    path = sqlite_url.removeprefix("sqlite:///").encode()
    assert path not in Path(f"/proc/{server.pid}/cmdline").read_bytes()
    assert path not in Path(f"/proc/{server.pid}/environ").read_bytes()
    # a database that refuses: one line, masked, with the driver's reason
    with pytest.raises(FrontierError) as err:
        od.start(url, workspace=tmp_path, timeout_s=15)
    message = str(err.value)
    assert "s3cret" not in message and "\n" not in message
    assert "frontier:***@127.0.0.1:1" in message and "Connection refused" in message


def test_a_journal_storage_is_served_and_stop_ends_it(tmp_path):
    path = tmp_path / "studies.log"
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    make_study(JournalStorage(JournalFileBackend(str(path))))
    server = od.start(f"journal:{path}", workspace=tmp_path / "ws")
    try:
        assert_serves_the_study(server)
    finally:
        od.stop(server)
    assert ended(server.pid)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=3):
        pass


def test_a_missing_study_file_is_refused_without_starting(tmp_path):
    with pytest.raises(FrontierError, match="no file"):
        od.start(f"sqlite:///{tmp_path / 'absent.db'}", workspace=tmp_path)
    assert not (tmp_path / "absent.db").exists()


def call(url: str, method: str, body: object = None) -> tuple[int, object, bytes]:
    """``(status, headers, body)`` of one request, error statuses included."""
    data = None if body is None else json.dumps(body).encode()
    headers = {} if data is None else {"Content-Type": "application/json"}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers, err.read()


def snapshot(storage_url: str) -> tuple:
    """Everything a write through the dashboard could change, read with Optuna itself."""
    study = optuna.load_study(study_name=STUDY, storage=storage_url)
    trials = [(t._trial_id, t.number, t.state, t.values, t.params, t.user_attrs, t.system_attrs)
              for t in study.trials]
    return (optuna.get_all_study_names(storage_url), study._study_id, study.directions,
            study.user_attrs, study._storage.get_study_system_attrs(study._study_id), trials)


def writes(study_id: int, trial_id: int) -> list[tuple[str, str, object]]:
    """Requests that optuna-dashboard 0.21.0 would act on: delete, create, rename, notes, tell,
    user attrs, preferences, skip, artifacts, schema migration; and methods it has no route for."""
    return [
        ("DELETE", f"/api/studies/{study_id}", None),
        ("delete", f"/api/studies/{study_id}", None),  # lower case: bottle upper-cases the method
        ("POST", "/api/studies", {"study_name": "intruder", "directions": ["minimize"]}),
        ("POST", f"/api/studies/{study_id}/rename", {"study_name": "renamed"}),
        ("PUT", f"/api/studies/{study_id}/note", {"version": 1, "body": "owned"}),
        ("PUT", f"/api/studies/{study_id}/{trial_id}/note", {"version": 1, "body": "owned"}),
        ("POST", f"/api/trials/{trial_id}/tell", {"state": "Fail"}),
        ("POST", f"/api/trials/{trial_id}/user-attrs", {"user_attrs": {"latency_ms": 999}}),
        ("POST", f"/api/studies/{study_id}/preference",
         {"mode": "ChooseWorst", "candidates": [0, 1], "clicked": 1}),
        ("PUT", f"/api/studies/{study_id}/preference_feedback_component", {"output_type": "note"}),
        ("POST", f"/api/studies/{study_id}/{trial_id}/skip", {}),
        ("DELETE", f"/api/artifacts/{study_id}/{trial_id}/0123abcd", None),
        ("POST", "/incompatible-rdb-schema", {}),
        ("PATCH", f"/api/studies/{study_id}", {"study_name": "renamed"}),
        ("PATCH", f"/api/studies/{study_id}/{trial_id}/note", {"version": 1, "body": "x"}),
        ("OPTIONS", "/api/studies", None),
        ("TRACE", "/api/studies", None),
    ]


def test_every_write_is_refused_and_changes_nothing(served, sqlite_url):
    from optuna_dashboard import wsgi

    server, _ = served
    study_id = get(f"{server.url}api/studies")["study_summaries"][0]["study_id"]
    trial_id = get(f"{server.url}api/studies/{study_id}")["trials"][0]["trial_id"]
    before = snapshot(sqlite_url)
    # the POST/PUT/DELETE requests name real routes of the unguarded app (matched, never called)
    bare = wsgi(optuna.storages.RDBStorage(sqlite_url, skip_compatibility_check=True,
                                           skip_table_creation=True))
    for method, path, _ in writes(study_id, trial_id):
        if method.upper() in ("POST", "PUT", "DELETE"):
            route, _args = bare.router.match({"REQUEST_METHOD": method.upper(), "PATH_INFO": path})
            assert route.method == method.upper(), (method, path)
    for method, path, body in writes(study_id, trial_id):
        status, headers, text = call(f"{server.url}{path.lstrip('/')}", method, body)
        assert status == 405, (method, path, status, text)
        assert headers["Allow"] == "GET, HEAD", (method, path)
        assert headers["Content-Type"].startswith("text/plain")
        assert b"read-only" in text and b"Frontier" in text, (method, path)
    assert snapshot(sqlite_url) == before
    # reading still works: the API, HEAD, and the page
    assert_serves_the_study(server)
    status, headers, text = call(f"{server.url}api/studies", "HEAD")
    assert status == 200 and text == b"" and headers["Content-Type"].startswith("application/json")
    status, _, text = call(f"{server.url}dashboard", "GET")
    assert status == 200 and b"<html" in text.lower()


def test_running_finds_the_server_and_never_starts_one(sqlite_url, tmp_path):
    assert od.running(tmp_path, sqlite_url) is None
    assert not (tmp_path / od.FOLDER).exists()  # looking created nothing, started nothing
    server = od.start(sqlite_url, workspace=tmp_path)
    try:
        assert od.running(tmp_path, sqlite_url) == server
        assert od.running(tmp_path / "elsewhere", sqlite_url) is None
        # from another process (a later dashboard session): found through the record and /proc
        code = ("import json, sys; from engine.tune import optuna_dashboard as od; "
                "s = od.running(sys.argv[2], sys.argv[1]); print(json.dumps(s and [s.pid, s.port]))")
        out = subprocess.run([sys.executable, "-c", code, sqlite_url, str(tmp_path)], cwd=REPO,
                             capture_output=True, text=True, timeout=60, check=True)
        assert json.loads(out.stdout) == [server.pid, server.port]
    finally:
        od.stop(server)
    assert ended(server.pid)
    assert od.running(tmp_path, sqlite_url) is None  # the record is left, but its pid has ended
