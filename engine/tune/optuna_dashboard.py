"""Open a study storage in the real optuna-dashboard: a child process on 127.0.0.1 and a free port.

:func:`start` launches ``optuna-dashboard`` (its programmatic WSGI app, served by the standard
library's threaded server) on the same storage the searches write to, waits until its HTTP API
answers, and returns a :class:`Server` to link to. The routes it serves include ``/api/studies``
(the study list) and ``/api/studies/<id>`` (one study with its trials); the page lives under
``/dashboard``.

Lifetime: the server is a session of its own (it outlives the Streamlit rerun or the CLI call that
started it) and runs until :func:`stop` ends it or the machine restarts; nothing stops it at
interpreter exit. One server per storage: a record ``<workspace>/.optuna-dashboard/<key>.json``
(pid and port, written atomically) lets a later :func:`start` for the same storage return the
running server instead of starting another (and :func:`running` find it without starting one,
for a Stop button). The record is only a hint, since anyone who can write
the workspace can edit it: it is believed only when the pid is a live process of this user whose
command line is this module's child for this storage and which itself listens on that port on
127.0.0.1, and the port answers with a study list. Otherwise a fresh server is started.

Trust model: optuna-dashboard has no sign-in, and its HTTP API can create, rename and delete
studies and change trials (POST, PUT and DELETE routes), which would bypass Frontier's owner and
admin rules. Frontier therefore serves it read-only: a small WSGI middleware in the child answers
``405 Method Not Allowed`` (``Allow: GET, HEAD``, a one-line plain-text reason) to every method
other than GET and HEAD, OPTIONS included (compared upper-cased, as bottle does: a
lower-case ``delete`` is a DELETE to it), before optuna-dashboard sees the request. What that
turns off in optuna-dashboard 0.21.0 (every one of these is a POST, PUT or DELETE route; the page
still shows their buttons; using one gets the 405):

* creating a study (``POST /api/studies``), renaming one (``POST /api/studies/<id>/rename``) and
  deleting one (``DELETE /api/studies/<id>``);
* study and trial notes (``PUT /api/studies/<id>/note``, ``PUT /api/studies/<id>/<trial>/note``);
* human-in-the-loop trials: telling a trial's result or failing it (``POST
  /api/trials/<trial>/tell``) and its form widgets' user attributes (``POST
  /api/trials/<trial>/user-attrs``);
* preferential optimization: choosing the worst (``POST /api/studies/<id>/preference``), undoing
  and redoing a choice (``DELETE``/``POST /api/studies/<id>/preference/<history>``), skipping a
  trial (``POST /api/studies/<id>/<trial>/skip``) and choosing the feedback component (``PUT
  /api/studies/<id>/preference_feedback_component``);
* artifacts: uploading and deleting (``POST /api/artifacts/...``, ``DELETE /api/artifacts/...``;
  no artifact store is configured here anyway, so viewing them is unavailable too);
* the LLM helpers (``POST /api/llm/...``; no LLM provider is configured here anyway);
* migrating an old RDB schema from the page (``POST /incompatible-rdb-schema``).

Its GET routes (``/``, ``/dashboard...``, ``/api/meta``, ``/api/studies``, ``/api/studies/<id>``,
``.../param_importances``, ``.../plot/<kind>``, ``/csv/<id>``, ``/artifacts/...``,
``/incompatible-rdb-schema``, ``/favicon.ico``, ``/static/...``) only read the storage (checked
in 0.21.0's source: they fill an in-memory cache, nothing more), so none is blocked; the SQL
profiler (a GET that resets its counters) is only registered by optuna-dashboard's own CLI in
debug mode, not by the ``wsgi()`` app served here. Reading stays open to anyone who reaches the
port: every study in the storage. The server is therefore bound to 127.0.0.1 only (never
``0.0.0.0``), so only users of this machine can reach it. On a shared team server that still means every local
account; a teammate on another machine must come through an SSH tunnel (``ssh -L
PORT:127.0.0.1:PORT host``). Do not expose the port any other way.

Passwords: the storage URL (which may carry a database password) is handed to the child on its
standard input, never on its command line (``ps`` shows that to every user) and never in a file.
Errors name the URL masked (``user:***@host``) with the child's last stderr line scrubbed of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from engine.errors import FrontierError, printable
from engine.tune.storage import _scrub, mask, resolve
from engine.workspace import Workspace, write_json_atomic

HOST = "127.0.0.1"
FOLDER = ".optuna-dashboard"
MARKER = "frontier-optuna-dashboard"
API = "/api/studies"

# The child: read the storage URL from stdin, open it, bind 127.0.0.1 on a free port (port 0, so
# no other process can take the port between choosing and binding), report the port on stdout and
# serve, read-only (every method but GET and HEAD answered 405 before optuna-dashboard sees it;
# see the module docstring). Self-contained (only optuna and optuna_dashboard), run with
# ``python -I`` (no cwd or PYTHONPATH on sys.path).
_CHILD = r"""
import os, sys
url = sys.stdin.readline().rstrip("\n")
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 0)
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
try:
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage
        storage = JournalStorage(JournalFileBackend(url[len("journal:"):]))
    else:
        kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite:") else {"pool_pre_ping": True}
        storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs, skip_compatibility_check=True,
                                             skip_table_creation=True)
    storage.get_all_studies()
except Exception as exc:
    while exc.__cause__ is not None:  # the driver's own words, not Optuna's wrapper
        exc = exc.__cause__
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    sys.stderr.write(type(exc).__name__ + (": " + lines[0] if lines else "") + "\n")
    sys.exit(1)
del url
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from optuna_dashboard import wsgi
class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass
READ_ONLY = b"Frontier serves optuna-dashboard read-only: only GET and HEAD are allowed.\n"
def read_only(app):
    def guarded(environ, start_response):
        if environ.get("REQUEST_METHOD", "").upper() in ("GET", "HEAD"):
            return app(environ, start_response)
        try:  # read a small body, so closing the socket does not reset the connection
            size = min(int(environ.get("CONTENT_LENGTH") or 0), 1 << 20)
        except ValueError:
            size = 0
        while size > 0:
            chunk = environ["wsgi.input"].read(min(size, 65536))
            if not chunk:
                break
            size -= len(chunk)
        start_response("405 Method Not Allowed", [
            ("Allow", "GET, HEAD"), ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(READ_ONLY)))])
        return [READ_ONLY]
    return guarded
httpd = make_server("127.0.0.1", 0, read_only(wsgi(storage)), server_class=Server, handler_class=Quiet)
print(httpd.server_port, flush=True)
os.dup2(null, 1)
httpd.serve_forever()
"""

_started: dict[str, subprocess.Popen[bytes]] = {}  # key -> child started by this process


@dataclass(frozen=True)
class Server:
    """A running optuna-dashboard: ``url`` is its page; ``storage`` the storage URL, masked."""

    url: str
    port: int
    pid: int
    storage: str

    def study_url(self, study_id: int) -> str:
        """The dashboard page of one study (Optuna's ``study._study_id``)."""
        return f"{self.url}dashboard/studies/{int(study_id)}"


def start(
    storage_url: str | None,
    *,
    workspace: Workspace | str | os.PathLike[str] | None = None,
    timeout_s: float = 20,
) -> Server:
    """The optuna-dashboard serving ``storage_url`` (checked as in :func:`engine.tune.storage.resolve`;
    empty means the workspace's default), reused if one is already running for it, else started.

    Raises :class:`FrontierError` (one line, URL masked) when the storage is refused, its file does
    not exist, or the server exits or does not answer within ``timeout_s`` seconds.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace.at(workspace)
    url = resolve(storage_url, ws)
    path = _file(url)
    if path is not None and not path.is_file():
        raise FrontierError(f"cannot open {mask(url)} in optuna-dashboard: no file {path}")
    key = storage_key(url)
    folder = ws.root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / f"{key}.json"
    with _locked(folder / f"{key}.lock"):
        found = _reuse(record, key, mask(url))
        if found is not None:
            return found
        server = _launch(url, key, timeout_s)
        with contextlib.suppress(OSError):
            write_json_atomic(record, {"pid": server.pid, "port": server.port, "key": key,
                                       "storage": server.storage, "started": time.time()})
        return server


def running(
    workspace: Workspace | str | os.PathLike[str] | None, storage_url: str | None
) -> Server | None:
    """The optuna-dashboard already serving ``storage_url`` (as :func:`start` would find it: its
    record, checked the same way), or ``None``; never starts one. Raises :class:`FrontierError`
    when the storage URL is refused."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace.at(workspace)
    url = resolve(storage_url, ws)
    key = storage_key(url)
    return _reuse(ws.root / FOLDER / f"{key}.json", key, mask(url))


def stop(server: Server, *, timeout_s: float = 5) -> None:
    """End ``server`` (a no-op if it has already ended). Only a process that is really this
    module's child, run by this user, is signalled."""
    proc = next((p for p in _started.values() if p.pid == server.pid), None)
    if proc is None and not _is_our_child(server.pid, None):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(server.pid, proc) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(server.pid, proc):
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGKILL)
        if proc is not None:
            proc.wait(timeout=timeout_s)
    for key, p in list(_started.items()):
        if p.pid == server.pid:
            del _started[key]


def storage_key(url: str) -> str:
    """A short name for a storage (from its masked URL: the password never reaches the record
    name or the child's command line)."""
    return hashlib.sha256(mask(url).encode()).hexdigest()[:16]


def command(key: str) -> list[str]:
    """The child's command line: no storage URL, only this module's marker and the storage key."""
    return [sys.executable, "-I", "-c", _CHILD, MARKER, key]


def _launch(url: str, key: str, timeout_s: float) -> Server:
    shown = mask(url)
    deadline = time.monotonic() + timeout_s
    with tempfile.TemporaryFile() as err:  # unlinked: what the child writes there stays private
        proc = subprocess.Popen(
            command(key), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
            cwd="/", start_new_session=True, close_fds=True,
        )
        try:
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(url.encode() + b"\n")
            except BrokenPipeError:
                pass  # exited already: reported below with its stderr
            finally:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
            port = _read_port(proc, deadline)
            if port is None:
                why = f"did not start within {timeout_s:g} s"
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(0.5, deadline - time.monotonic()))
                    why = "exited"
                raise FrontierError(f"optuna-dashboard on {shown} {why}{_last_line(err, url)}")
            while not _answers(port, timeout=1):
                if proc.poll() is not None:
                    raise FrontierError(f"optuna-dashboard on {shown} exited{_last_line(err, url)}")
                if time.monotonic() > deadline:
                    raise FrontierError(f"optuna-dashboard on {shown} did not answer on port {port} "
                                        f"within {timeout_s:g} s{_last_line(err, url)}")
                time.sleep(0.1)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
            raise
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
    _started[key] = proc
    return Server(url=f"http://{HOST}:{port}/", port=port, pid=proc.pid, storage=shown)


def _read_port(proc: subprocess.Popen[bytes], deadline: float) -> int | None:
    """The port the child reports on its first stdout line; ``None`` if it exits or time runs out."""
    assert proc.stdout is not None
    data = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(timeout=left):
                return None
            chunk = os.read(proc.stdout.fileno(), 64)
            if not chunk:
                return None
            data += chunk
    text = data.split(b"\n", 1)[0].strip()
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def _last_line(err: IO[bytes], url: str) -> str:
    """``: <the child's last stderr line>``, password scrubbed; empty if it wrote nothing."""
    try:
        size = os.fstat(err.fileno()).st_size
        tail = os.pread(err.fileno(), 4096, max(0, size - 4096))
    except OSError:
        return ""
    lines = [ln.strip() for ln in tail.decode(errors="replace").splitlines() if ln.strip()]
    return f": {_scrub(printable(lines[-1])[:300], url)}" if lines else ""


def _answers(port: int, *, timeout: float) -> bool:
    """Whether ``127.0.0.1:port`` answers ``GET /api/studies`` with optuna-dashboard's study list."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{API}", timeout=timeout) as resp:
            body = json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return False
    return isinstance(body, dict) and isinstance(body.get("study_summaries"), list)


def _file(url: str) -> Path | None:
    """The file of a SQLite or journal storage (``None`` for a database server)."""
    if url.startswith("journal:"):
        return Path(url[len("journal:") :])
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :].partition("?")[0])
    return None


def _reuse(record: Path, key: str, shown: str) -> Server | None:
    """The server the record names, if it passes every check (see the module docstring)."""
    proc = _started.get(key)
    if proc is not None and proc.poll() is not None:
        del _started[key]  # ended: reaped here
        proc = None
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid, port = data.get("pid"), data.get("port")
    if not (isinstance(pid, int) and not isinstance(pid, bool) and pid > 1
            and isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536
            and data.get("key") == key):
        return None
    if proc is not None and proc.pid == pid:
        ours = True  # started by this very process
    else:
        ours = _is_our_child(pid, key) and _listens(pid, port)
    if not ours or not _answers(port, timeout=2):
        return None
    return Server(url=f"http://{HOST}:{port}/", port=port, pid=pid, storage=shown)


def _is_our_child(pid: int, key: str | None) -> bool:
    """Whether ``pid`` is a live process of this user running this module's child (for ``key``)."""
    proc_dir = Path(f"/proc/{pid}")
    try:
        if proc_dir.stat().st_uid != os.getuid():
            return False
        argv = (proc_dir / "cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return False
    want = [a.encode() for a in command(key or "")[1:]]
    got = argv[1 : 1 + len(want)]
    if key is None:  # any storage: compare all but the key
        return len(argv) >= 1 + len(want) and got[:-1] == want[:-1]
    return got == want


def _listens(pid: int, port: int) -> bool:
    """Whether ``pid`` itself holds the socket listening on 127.0.0.1:``port`` (Linux /proc)."""
    local = f"0100007F:{port:04X}"
    inodes = set()
    try:
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[1] == local and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
        if not inodes:
            return False
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in inodes:
                    return True
    except OSError:
        return False
    return False


def _alive(pid: int, proc: subprocess.Popen[bytes] | None) -> bool:
    if proc is not None:
        return proc.poll() is None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` so two clicks at once start one server, not two; goes on
    unlocked where the lock file cannot be opened (another user's, read-only workspace)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


__all__ = ["Server", "command", "running", "start", "stop", "storage_key"]
