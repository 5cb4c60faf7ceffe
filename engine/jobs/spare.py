"""A spare worker: a worker process started before its job exists, importing while the caller validates.

A worker spends its first seconds importing (scikit-learn, skops, pandas:
about 1.8 s here) before it can run a step, and the CLI spends about as long
validating the request before it may create the job. Started first, a spare
does its imports on the other core meanwhile; the supervisor then hands it the
job folder on its stdin instead of starting a fresh worker. It is started
exactly as :meth:`~engine.jobs.supervisor._Supervision._spawn` starts a worker
— same environment (thread pools), own session, dies with its parent, same
memory backstop — and it is only taken for a job with those same settings.

A spare nobody takes reads end-of-file on its stdin and exits; :meth:`Spare.discard`
also kills it. Only the process that started it can hand it a job (the pipe is
its stdin), and the worker checks that its parent is the supervisor it was
named. The dashboard's detached supervisors start their workers as before.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.jobs import processes
from engine.jobs.spec import Limits

SPARE_FLAG = "--spare"


@dataclass
class Spare:
    """A started spare worker and the settings it was started with."""

    proc: subprocess.Popen[bytes]
    threads: int
    memory_mb: int

    @classmethod
    def start(cls, kind: str, jobs_dir: Path, *, threads: int, limits: Limits | None = None,
              warm: tuple[str, ...] = ()) -> Spare | None:
        """Start a spare for a job of ``kind`` in the workspace folder ``jobs_dir`` (named on its
        command line, so ``ps`` shows which workspace it serves; it runs no job outside it);
        ``warm``: extra imports it may do, e.g. ``"skops"``. None when it cannot be started (the
        job then starts its worker as usual)."""
        from engine.jobs.supervisor import worker_preexec  # the supervisor's own recipe

        limits = limits or Limits()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "engine.jobs.worker", SPARE_FLAG, kind, str(jobs_dir), *warm],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=processes.worker_env(threads=threads), cwd=processes.PROJECT_ROOT, start_new_session=True,
                preexec_fn=worker_preexec(limits))
        except OSError:
            return None
        return cls(proc, threads, limits.memory_mb)

    def fits(self, *, threads: int | None, limits: Limits) -> bool:
        """Whether this spare was started as a worker for a job with these settings would be."""
        from engine import settings

        return (self.proc.poll() is None and self.threads == (threads or settings.default_threads())
                and self.memory_mb == limits.memory_mb)

    def hand(self, job_dir: Path, supervisor_pid: int) -> subprocess.Popen[bytes] | None:
        """Give the spare its job; the running worker, or None if the spare is gone or the job's
        path cannot be said in one line (a workspace path with a tab or newline: a fresh worker
        takes the job instead)."""
        assert self.proc.stdin is not None
        if any(c in str(job_dir) for c in "\t\n\r"):
            self.discard()
            return None
        try:
            self.proc.stdin.write(f"{job_dir}\t{supervisor_pid}\n".encode())
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            self.discard()
            return None
        return self.proc

    def discard(self) -> None:
        """Stop a spare that was not (or could not be) handed a job."""
        with contextlib.suppress(OSError, ValueError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, 9)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


@contextlib.contextmanager
def spare_worker(kind: str, jobs_dir: Path, *, threads: int, limits: Limits | None = None,
                 warm: tuple[str, ...] = ()) -> Iterator[SpareHolder]:
    """``with spare_worker(...) as holder:`` — ``holder.get()`` starts the spare on first call (so a
    request that turns out to need no job never starts one); whatever was not handed a job
    is discarded on exit."""
    holder = SpareHolder(kind, jobs_dir, threads, limits, warm)
    try:
        yield holder
    finally:
        if holder.spare is not None and not holder.taken:
            holder.spare.discard()


@dataclass
class SpareHolder:
    kind: str
    jobs_dir: Path
    threads: int
    limits: Limits | None
    warm: tuple[str, ...]
    spare: Spare | None = None
    taken: bool = False

    def get(self) -> Spare | None:
        if self.spare is None:
            self.spare = Spare.start(self.kind, self.jobs_dir, threads=self.threads, limits=self.limits,
                                     warm=self.warm)
        return self.spare

    def take(self) -> Spare | None:
        """The spare, if one was started, marked as handed over (the supervisor now owns it)."""
        if self.spare is None:
            return None
        self.taken = True
        return self.spare
