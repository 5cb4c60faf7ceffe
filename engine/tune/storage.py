"""Where tuning studies live: checking a storage URL and opening it as an Optuna storage.

Accepted forms (anything else is refused with one line naming these):

* ``sqlite:///PATH`` - one file, the default (``<workspace>/studies.db``); one worker only.
  SQLite locks the whole file on write, so parallel writers fail with "database is locked"
  (Optuna's FAQ advises against SQLite for parallel optimization).
* ``postgresql://user:pass@host/db`` or ``postgresql+psycopg2://...`` - parallel workers on
  one or many machines. A bare ``postgresql://`` is rewritten to name the installed driver
  (psycopg2 first): SQLAlchemy 2.1 would otherwise pick psycopg 3, which is not installed.
* ``mysql+pymysql://...`` - only where the ``pymysql`` package is installed.
* ``journal:PATH`` - Optuna's append-only journal file (``JournalStorage`` over
  ``JournalFileBackend``), safe for parallel workers on one machine or a shared disk.
  Optuna 5.0's ``JournalStorage`` has no heartbeat: a trial whose worker was killed stays
  RUNNING there; the RDB storages mark it FAIL after ``grace_s`` and retry it.

Heartbeats: a worker on an RDB storage records one every :data:`DEFAULT_HEARTBEAT_S` seconds
(``--heartbeat`` of ``tune``/``worker``, or ``$FRONTIER_TUNE_HEARTBEAT_S``); a RUNNING trial
silent for twice that is stale, marked FAIL and retried. A study keeps the value it was
started with (:mod:`engine.tune.study`), so every worker of it waits the same grace period.

A password in a URL is never shown: :func:`mask` writes ``user:***@host``. A raw '@' in the
user name or password (``alice:s3c@ret@host``), or in a ``?password=`` value, is refused before
any driver sees the URL (the driver would take the password's tail for part of the host name and
quote it in its error); write it as ``%40``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from engine.errors import FrontierError, first_line

if TYPE_CHECKING:
    import optuna

    from engine.workspace import Workspace

DEFAULT_FILE = "studies.db"
ENV_VAR = "FRONTIER_STORAGE"
HEARTBEAT_ENV = "FRONTIER_TUNE_HEARTBEAT_S"
DEFAULT_HEARTBEAT_S = 60
MAX_HEARTBEAT_S = 3600
FROM_ENV = "env"  # open_storage's default: $FRONTIER_TUNE_HEARTBEAT_S, else DEFAULT_HEARTBEAT_S
ACCEPTED = (
    "sqlite:///PATH, postgresql://USER@HOST/DB (or postgresql+psycopg2://), "
    "journal:PATH, or mysql+pymysql:// with pymysql installed"
)
MAX_RETRY = 3

# ``user:password@``: everything from the first ':' after the user name up to the last '@', so a
# password with a raw '@' in it (``s3c@ret``) is hidden whole, not only up to its first '@'.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/?#]*):.*@", re.S)
_QUERY_PASSWORD = re.compile(r"(?i)([?&](?:password|passwd|pwd)=)[^&#]*")
# How SQLAlchemy's make_url reads the start of a database URL (after ``scheme://``): a user name
# up to ':' or '/', a password up to the FIRST '@', then the host and port up to '/' or '?'. A
# second '@' there means a raw '@' in the user name or password, which the driver would take as
# part of the host name (and then quote in its error).
_AUTHORITY = re.compile(r"[^:/]*(?::[^@]*)?@[^/?]*", re.S)


def mask(url: object) -> str:
    """``url`` with any password replaced by ``***`` (``user:***@host``, ``?password=***``)."""
    # query passwords first: an '@' inside one must not become the end of the user:password part
    text = _QUERY_PASSWORD.sub(r"\1***", str(url))
    return _USERINFO.sub(r"\1:***@", text)


def default_url(ws: Workspace) -> str:
    """The SQLite file ``studies.db`` under the workspace root, as an absolute URL."""
    return f"sqlite:///{(Path(ws.root) / DEFAULT_FILE).resolve()}"


def resolve(url: str | None, ws: Workspace, *, workers: int = 1) -> str:
    """The storage URL to use: ``url``, else ``$FRONTIER_STORAGE``, else :func:`default_url`;
    checked, and with file paths made absolute (workers may start in other folders)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise FrontierError(f"workers must be a whole number of at least 1, got {workers!r}")
    chosen = url if url is not None and str(url).strip() else os.environ.get(ENV_VAR, "").strip()
    if not chosen:
        chosen = default_url(ws)
    kind, normal = _check(str(chosen))
    if kind == "sqlite" and workers > 1:
        raise FrontierError(
            f"storage {mask(normal)} is SQLite, which is not safe for {workers} parallel workers "
            "(it locks the whole file on every write and concurrent writers fail with 'database "
            "is locked'); use a PostgreSQL URL (postgresql://USER@HOST/DB) or a journal file "
            "(journal:/shared/disk/studies.log), or run one worker"
        )
    return normal


def heartbeat_seconds(value: object = None, *, what: str = "heartbeat") -> int:
    """A heartbeat interval in whole seconds (1 to :data:`MAX_HEARTBEAT_S`): ``value``, else
    ``$FRONTIER_TUNE_HEARTBEAT_S``, else :data:`DEFAULT_HEARTBEAT_S`; one line naming ``what``
    when it is not one."""
    if value is None:
        raw = os.environ.get(HEARTBEAT_ENV, "").strip()
        if not raw:
            return DEFAULT_HEARTBEAT_S
        what, value = HEARTBEAT_ENV, raw
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_HEARTBEAT_S:
        raise FrontierError(f"{what} must be a whole number of seconds from 1 to {MAX_HEARTBEAT_S}, "
                            f"got {str(value)[:40]!r}")
    return value


def open_storage(
    url: str, *, heartbeat_s: int | str | None = FROM_ENV, grace_s: int | None = None
) -> optuna.storages.BaseStorage:
    """An Optuna storage for a URL accepted by :func:`resolve`.

    RDB storages (SQLite, PostgreSQL, MySQL) get a heartbeat every ``heartbeat_s`` seconds
    (default: :func:`heartbeat_seconds`, 60 unless ``$FRONTIER_TUNE_HEARTBEAT_S`` says
    otherwise); a RUNNING trial silent for ``grace_s`` seconds (default twice the heartbeat)
    is marked FAIL and re-queued, up to :data:`MAX_RETRY` times. ``heartbeat_s=None`` turns
    that off. The journal storage has no heartbeat in Optuna 5.0 (both arguments are ignored
    there).
    """
    import optuna

    kind, normal = _check(url)
    if heartbeat_s == FROM_ENV:
        heartbeat_s = heartbeat_seconds()
    if heartbeat_s is not None and (isinstance(heartbeat_s, bool) or not isinstance(heartbeat_s, int)
                                    or heartbeat_s <= 0):
        raise FrontierError(f"heartbeat must be a positive number of seconds, got {heartbeat_s!r}")
    if heartbeat_s is not None and grace_s is None:
        grace_s = 2 * heartbeat_s
    if heartbeat_s is not None and grace_s is not None and grace_s <= heartbeat_s:
        raise FrontierError(
            f"grace period ({grace_s} s) must be longer than the heartbeat ({heartbeat_s} s)"
        )
    if kind in ("sqlite", "journal"):
        path = Path(_file_path(kind, normal))
        if not path.parent.is_dir():
            raise FrontierError(
                f"cannot open storage {mask(normal)}: folder {path.parent} does not exist"
            )
    try:
        if kind == "journal":
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            return JournalStorage(JournalFileBackend(_file_path(kind, normal)))
        engine_kwargs: dict[str, Any] = (
            {"connect_args": {"timeout": 30}} if kind == "sqlite" else {"pool_pre_ping": True}
        )
        with warnings.catch_warnings():
            # heartbeats and their retry callback are still marked experimental in Optuna 5.0
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            beat: dict[str, Any] = {}
            if heartbeat_s is not None:
                # Optuna 5.0 names; ``failed_trial_callback`` and ``RetryFailedTrialCallback``
                # are deprecated since 4.9.
                retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
                beat = {
                    "heartbeat_interval": heartbeat_s,
                    "grace_period": grace_s,
                    "heartbeat_stale_trial_callback": retry,
                }
            return optuna.storages.RDBStorage(normal, engine_kwargs=engine_kwargs, **beat)
    except FrontierError:
        raise
    except Exception as exc:  # driver, network, permissions, schema version
        raise FrontierError(
            f"cannot open storage {mask(normal)}: {_scrub(first_line(exc), normal)}"
        ) from None


def _check(url: str) -> tuple[str, str]:
    """``(kind, normalised url)`` for an accepted URL; a one-line refusal otherwise."""
    text = url.strip()
    lower = text.lower()
    if lower.startswith("journal:"):
        raw = text[len("journal:") :]
        if not raw.strip():
            raise FrontierError(f"storage {mask(text)} names no file; write journal:PATH")
        return "journal", f"journal:{Path(raw).expanduser().resolve()}"
    if lower.startswith("sqlite:"):
        if not lower.startswith("sqlite:///"):
            raise FrontierError(
                f"storage {mask(text)} is not a SQLite file; write sqlite:///PATH "
                "(sqlite:////abs/path for an absolute path)"
            )
        raw, sep, query = text[len("sqlite:///") :].partition("?")
        if not raw or raw == ":memory:":
            raise FrontierError(
                f"storage {mask(text)} would keep studies in memory only; write sqlite:///PATH"
            )
        return "sqlite", f"sqlite:///{Path(raw).expanduser().resolve()}{sep}{query}"
    scheme = lower.split("://", 1)[0] if "://" in lower else ""
    if scheme == "postgresql":
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg (v3); the pinned driver is psycopg2
        driver = "psycopg" if importlib.util.find_spec("psycopg2") is None else "psycopg2"
        if importlib.util.find_spec(driver) is not None:
            text = f"postgresql+{driver}://{text.split('://', 1)[1]}"
            scheme = f"postgresql+{driver}"
    if scheme in ("postgresql", "postgresql+psycopg2"):
        _one_at(text)
        _need("psycopg2", "psycopg2-binary", text)
        _parse(text)
        return "postgresql", text
    if scheme == "postgresql+psycopg":
        _one_at(text)
        _need("psycopg", "psycopg", text)
        _parse(text)
        return "postgresql", text
    if scheme == "mysql+pymysql":
        _one_at(text)
        _need("pymysql", "pymysql", text)
        _parse(text)
        return "mysql", text
    raise FrontierError(f"storage {mask(text)} is not supported; use {ACCEPTED}")


def _one_at(url: str) -> None:
    """Refuse a raw '@' in the user name or password (``alice:s3c@ret@host``): the driver would
    read the password as ``s3c`` and the host as ``ret@host``, and quote that host (the
    password's tail) in its error. Likewise a raw '@' in a ``?password=`` value. Checked before
    any driver sees the URL; the refusal shows the URL masked."""
    # A raw '@' in a ?password= value: with no user name before it (``host:5432/db?password=
    # s3c@ret``), or with one and a port, make_url reads everything up to that '@' as user and
    # password and its tail as the host.
    for key, value in re.findall(r"(?i)[?&](password|passwd|pwd)=([^&#]*)", url):
        if "@" in value:
            raise FrontierError(
                f"storage {mask(url)} has a raw '@' in its {key.lower()}= value; percent-encode "
                "each '@' there as %40"
            )
    found = _AUTHORITY.match(url.split("://", 1)[1])
    if found is not None and found.group(0).count("@") > 1:
        raise FrontierError(
            f"storage {mask(url)} has more than one '@' before its host; percent-encode each '@' "
            "in the user name or password as %40 (user:pa%40ss@host for the password pa@ss)"
        )


def _need(module: str, package: str, url: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise FrontierError(
            f"storage {mask(url)} needs the {package} package (pip install {package}); "
            f"or use {ACCEPTED}"
        )


def _parse(url: str) -> None:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        raise FrontierError(f"storage {mask(url)} is not a valid database URL") from None
    if not parsed.host and not parsed.query.get("host"):
        raise FrontierError(f"storage {mask(url)} names no host; write SCHEME://USER@HOST/DB")


def _file_path(kind: str, normal: str) -> str:
    if kind == "journal":
        return normal[len("journal:") :]
    return normal[len("sqlite:///") :].partition("?")[0]


def _scrub(message: str, url: str) -> str:
    """``message`` without the password of ``url`` (drivers sometimes quote the connection)."""
    secrets = [m.group(1) for m in re.finditer(r"(?i)[?&](?:password|passwd|pwd)=([^&#]*)", url)]
    # the password as the driver reads it (up to the first '@') and as mask() hides it (up to the
    # last '@', the query passwords already taken out)
    for pattern in (r"^[A-Za-z][A-Za-z0-9+.-]*://[^:/]*:([^@]*)@",
                    r"^[A-Za-z][A-Za-z0-9+.-]*://[^:/?#]*:(.*)@"):
        with_user = re.match(pattern, _QUERY_PASSWORD.sub(r"\1", url), re.S)
        if with_user and with_user.group(1):
            secrets.append(with_user.group(1))
    for secret in sorted({*secrets, *(unquote(s) for s in secrets)}, key=len, reverse=True):
        if secret:
            message = message.replace(secret, "***")
    return mask(message)


def heartbeat_of(storage: object) -> int | None:
    """The heartbeat interval (seconds) of an opened storage, or of a study's storage; ``None``
    when it has none (the journal storage, an RDB storage opened without one, a URL string)."""
    storage = getattr(storage, "_storage", storage)  # an optuna.Study holds its storage there
    get = getattr(storage, "get_heartbeat_interval", None)
    return get() if callable(get) else None
