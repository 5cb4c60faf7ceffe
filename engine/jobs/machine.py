"""This machine: its identity, and the lock that keeps latency measurements honest.

:func:`host_id` names the machine a process runs on (hostname, boot id and PID
namespace), so a pid is only ever checked on the machine that recorded it.

:class:`MachineLock` is a fair readers-writer lock over ``fcntl.flock`` on one
file per machine (not per workspace): heavy phases (fits, evaluation) hold it
*shared*, latency phases *exclusive*, so no two timings overlap and nothing
heavy from another job runs beside one. Requests queue in arrival order: each
takes a numbered ticket (a file it keeps ``flock``-ed while it lives, so a dead
holder's ticket is recognised and removed); an exclusive request waits for
every older ticket, a shared one only for older exclusive tickets, so a stream
of shared holders never starves a latency phase.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from engine.errors import FrontierError

Mode = Literal["shared", "exclusive"]
LETTER = {"shared": "s", "exclusive": "x"}  # in ticket names
POLL_S = 0.05
_held = threading.local()


@functools.cache
def host_id() -> str:
    """``hostname/boot-id/pid-namespace``: pids are comparable only between equal host ids."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = "no-boot-id"
    try:
        pidns = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        pidns = "0"
    return f"{socket.gethostname()}/{boot}/{pidns}"


def default_root() -> Path:
    """The per-machine lock folder, the same for every workspace this user opens here."""
    base = Path("/tmp") if Path("/tmp").is_dir() else Path(os.environ.get("TMPDIR", "."))
    return base / f"frontier-{os.getuid()}-machine"


class MachineLock:
    """A fair, process-safe readers-writer lock for one machine (see the module docstring)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    # ------------------------------------------------------------- public
    @contextlib.contextmanager
    def hold(self, mode: Mode, *, on_wait: Callable[[int], None] | None = None) -> Iterator[None]:
        """Hold the lock in ``mode``; ``on_wait(n_ahead)`` is called while it has to wait."""
        if mode not in ("shared", "exclusive"):
            raise ValueError(f"unknown lock mode {mode!r}")
        if getattr(_held, "mode", None):
            raise RuntimeError(f"the machine lock is already held ({_held.mode}); release it first")
        tickets = self._folder()
        ticket_fd, ticket = self._take_ticket(tickets, mode)
        lock_fd = None
        try:
            lock_fd = self._wait_turn(tickets, ticket, mode, on_wait)
            _held.mode = mode
            yield
        finally:
            _held.mode = None
            if lock_fd is not None:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
                os.close(lock_fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tickets / ticket)
            os.close(ticket_fd)

    def queue(self) -> list[str]:
        """Names of the live tickets, oldest first (``<number>-<s|x>-<pid>``)."""
        tickets = self._folder()
        return [t for t in sorted(_ticket_names(tickets)) if _alive(tickets / t)]

    # ------------------------------------------------------------ helpers
    def _folder(self) -> Path:
        """``root/tickets``, created private to this user; refused if anyone else controls it."""
        for path in (self.root, self.root / "tickets"):
            with contextlib.suppress(FileExistsError):
                path.mkdir(mode=0o700)
            st = path.lstat()
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
                raise FrontierError(
                    f"the machine lock folder {path} is not a private folder of this user; remove it and retry")
        return self.root / "tickets"

    def _next_number(self) -> int:
        fd = os.open(self.root / "seq", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 32, 0).strip()
            number = int(raw) + 1 if raw.isdigit() else 1
            data = str(number).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            return number
        finally:
            os.close(fd)  # closing releases the flock

    def _take_ticket(self, tickets: Path, mode: Mode) -> tuple[int, str]:
        """A ticket file that is already locked when it appears under its name."""
        tmp = tickets / f".new-{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            name = f"{self._next_number():012d}-{LETTER[mode]}-{os.getpid()}"
            os.rename(tmp, tickets / name)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return fd, name

    def _wait_turn(self, tickets: Path, ticket: str, mode: Mode,
                   on_wait: Callable[[int], None] | None) -> int:
        lock_fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        flag = fcntl.LOCK_EX if mode == "exclusive" else fcntl.LOCK_SH
        reported = None
        try:
            while True:
                older = [t for t in sorted(_ticket_names(tickets)) if t < ticket and _alive(tickets / t)]
                blocked = bool(older) if mode == "exclusive" else any(t.split("-")[1] == LETTER["exclusive"] for t in older)
                if not blocked:
                    try:
                        fcntl.flock(lock_fd, flag | fcntl.LOCK_NB)
                        return lock_fd
                    except BlockingIOError:  # a holder outside the queue (an older release)
                        pass
                ahead = max(len(older), 1)
                if on_wait is not None and ahead != reported:
                    on_wait(ahead)
                    reported = ahead
                time.sleep(POLL_S)
        except BaseException:
            os.close(lock_fd)
            raise


def _ticket_names(tickets: Path) -> list[str]:
    return [n for n in os.listdir(tickets) if not n.startswith(".")]


def _alive(ticket: Path) -> bool:
    """A ticket lives while its owner keeps it locked; a dead owner's ticket is removed."""
    try:
        fd = os.open(ticket, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # unreadable: never assume a holder is gone
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(ticket)
    return False


def shared(*, on_wait: Callable[[int], None] | None = None) -> contextlib.AbstractContextManager[None]:
    """Hold this machine's lock shared (fits, evaluation: heavy work that may run side by side)."""
    return MachineLock(default_root()).hold("shared", on_wait=on_wait)


def exclusive(*, on_wait: Callable[[int], None] | None = None) -> contextlib.AbstractContextManager[None]:
    """Hold this machine's lock alone (timed latency phases)."""
    return MachineLock(default_root()).hold("exclusive", on_wait=on_wait)
