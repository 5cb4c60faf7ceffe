"""A throwaway PostgreSQL server for the distributed-tuning tests and the ``tune`` benchmarks.

:func:`postgres_server` runs Debian's binaries (``/usr/lib/postgresql/<version>/bin``, the
``postgresql`` package; ``make test`` installs it) on a fresh data directory in a temporary
folder, on a free port of 127.0.0.1 with trust authentication and its unix socket in that
folder, without fsync (a test server: nothing in it has to survive a crash of the machine).
PostgreSQL refuses to run as root, so as root the server runs as ``nobody``. It yields a
``postgresql://frontier@127.0.0.1:PORT/DB`` URL and stops and deletes everything on exit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
USER = "frontier"
START_TIMEOUT_S = 30.0


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` folder holding ``initdb`` and ``postgres``, if any."""
    found = []
    for d in PG_ROOT.glob("*/bin") if PG_ROOT.is_dir() else ():
        if (d / "initdb").is_file() and (d / "postgres").is_file():
            with contextlib.suppress(ValueError):
                found.append((float(d.parent.name), d))
    return max(found)[1] if found else None


def missing_reason() -> str | None:
    """Why no server can be started here (``None`` when one can)."""
    if bin_dir() is None:
        return f"PostgreSQL is not installed (no initdb/postgres under {PG_ROOT}/*/bin; apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("nobody")
        except KeyError:
            return "running as root and there is no 'nobody' user to run PostgreSQL as"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user() -> dict:
    """``subprocess`` arguments running a command as ``nobody`` when we are root (else as ourselves)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "nobody", "group": "nogroup" if _group_exists("nogroup") else "nobody", "extra_groups": []}


def _group_exists(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _connect(port: int, db: str = "postgres"):
    import psycopg2

    return psycopg2.connect(host="127.0.0.1", port=port, user=USER, dbname=db, connect_timeout=2)


@contextlib.contextmanager
def postgres_server(db: str = "frontier") -> Iterator[str]:
    """A running server with an empty database ``db``; yields its URL (see the module's docstring)."""
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    bins = bin_dir()
    assert bins is not None
    root = Path(tempfile.mkdtemp(prefix="frontier-pg-"))
    data = root / "data"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C", "HOME": str(root),
           "TZ": "UTC"}
    as_user = _as_user()
    if as_user:
        shutil.chown(root, as_user["user"], as_user["group"])
    proc: subprocess.Popen | None = None
    try:
        subprocess.run([str(bins / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "--no-sync",
                        "--no-instructions", "-E", "UTF8", "--locale=C"], cwd=root, env=env, check=True,
                       capture_output=True, timeout=120, **as_user)
        for _ in range(5):  # another process may take the free port between probing and binding
            port = _free_port()
            log = open(root / "server.log", "ab")  # noqa: SIM115 - closed with the server
            proc = subprocess.Popen(
                [str(bins / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root),
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=200"],
                cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, **as_user)
            log.close()
            if _wait_ready(proc, port):
                break
            _stop(proc)
            proc = None
        if proc is None:
            raise RuntimeError(f"PostgreSQL did not start: {_tail(root / 'server.log')}")
        conn = _connect(port)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{db}"')
        conn.close()
        yield f"postgresql://{USER}@127.0.0.1:{port}/{db}"
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(proc: subprocess.Popen, port: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            _connect(port).close()
            return True
        except Exception:  # not accepting connections yet
            time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen) -> None:
    """Fast shutdown (SIGINT: roll back open transactions, close connections), then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-600:]
    except OSError:
        return "(no log)"
