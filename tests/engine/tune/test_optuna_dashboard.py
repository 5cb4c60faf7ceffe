"""optuna-dashboard started on a study storage answers its HTTP API with the study: a real child
process on 127.0.0.1 only, reused per storage, a tampered record not believed, no password on its
command line, journal storage too, and stop() ends it."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
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
