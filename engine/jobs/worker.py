"""The worker: ``python -m engine.jobs.worker JOB_DIR [SUPERVISOR_PID]`` runs one job.

``python -m engine.jobs.worker --spare KIND JOBS_DIR [skops]`` is a spare (see
:mod:`engine.jobs.spare`): it imports what a job of ``KIND`` needs, then reads
``JOB_DIR<TAB>SUPERVISOR_PID`` from its stdin and runs that job (a folder of
``JOBS_DIR``, for its parent only) like any worker, its output going to the
job's ``worker.log``; at end-of-file it exits.

It reads and validates the job's spec, runs its handler with a
:class:`~engine.jobs.progress.ProgressFile`, and leaves ``result.json`` or
``error.json`` (one line, in CLI words and dashboard words). It dies with its
supervisor: the supervisor sets ``PR_SET_PDEATHSIG`` before exec on Linux, and
:func:`watch_parent` is the fallback (it checks the parent every half second).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from engine.errors import FrontierError, first_line
from engine.jobs import handlers
from engine.jobs import spec as jobspec
from engine.jobs.processes import open_log
from engine.jobs.progress import ProgressFile
from engine.workspace import Workspace, write_json_atomic

PARENT_CHECK_S = 0.5
WARM_MODULES = {"benchmark": "engine.benchmark.execute"}  # what a spare imports ahead of a job of each kind


def watch_parent(parent_pid: int, *, interval_s: float = PARENT_CHECK_S) -> threading.Thread:
    """Kill this process (and its group, when it leads one) once ``parent_pid`` is no longer its parent."""
    def loop() -> None:
        while True:
            if os.getppid() != parent_pid:
                if os.getpgrp() == os.getpid():
                    os.killpg(os.getpid(), signal.SIGKILL)
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(interval_s)
    thread = threading.Thread(target=loop, name="watch-supervisor", daemon=True)
    thread.start()
    return thread


def work(job_dir: Path) -> int:
    """Run the job in ``job_dir``; 0 when ``result.json`` was written, 1 with ``error.json``."""
    reporter = ProgressFile(job_dir)
    try:
        spec = jobspec.read(job_dir)
        ws = Workspace.at(job_dir.parent.parent)
        result = handlers.run_spec(ws, spec, reporter, job_dir=job_dir)
        json.dumps(result)  # a handler must return JSON: fail here, not in the supervisor
    except FrontierError as exc:
        return _fail(job_dir, exc.message, exc.ui_message)
    except MemoryError:
        return _fail(job_dir, "the model ran out of memory; benchmark a smaller model or batch")
    except Exception as exc:
        traceback.print_exc()
        return _fail(job_dir, f"{type(exc).__name__}: {first_line(exc)} (details in {job_dir / 'worker.log'})")
    write_json_atomic(job_dir / "result.json", result)
    return 0


def _fail(job_dir: Path, message: str, ui_message: str | None = None) -> int:
    write_json_atomic(job_dir / "error.json", {"error": message, "ui_error": ui_message or message})
    return 1


def warm(kind: str, extras: list[str]) -> None:
    """Import what a job of ``kind`` will need (best effort: a failure shows in the job itself)."""
    import importlib

    with contextlib.suppress(Exception):
        handlers.handler_for(kind)
        module = WARM_MODULES.get(kind)
        if module:
            importlib.import_module(module)
        if "skops" in extras:
            from engine.models.formats.skops import import_skops

            import_skops()


def spare(argv: list[str]) -> int:
    """Run as a spare: warm up, then run the job named on stdin (nothing at end-of-file)."""
    if len(argv) < 2:
        print("usage: python -m engine.jobs.worker --spare KIND JOBS_DIR [skops]", file=sys.stderr)
        return 2
    warm(argv[0], argv[2:])
    line = sys.stdin.readline()
    if not line:
        return 0
    job, _, parent = line.rstrip("\n").partition("\t")
    job_dir = Path(job)
    if (not parent.isdigit() or os.getppid() != int(parent)
            or job_dir.resolve().parent != Path(argv[1]).resolve()):
        return 1
    fd = open_log(job_dir / "worker.log")
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    watch_parent(int(parent))
    return work(job_dir)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--spare"]:
        return spare(argv[1:])
    if len(argv) not in (1, 2) or (len(argv) == 2 and not argv[1].isdigit()):
        print("usage: python -m engine.jobs.worker JOB_DIR [SUPERVISOR_PID]", file=sys.stderr)
        return 2
    if len(argv) == 2:
        parent = int(argv[1])
        if os.getppid() != parent:  # the supervisor died before this worker started
            return 1
        watch_parent(parent)
    return work(Path(argv[0]))


if __name__ == "__main__":
    sys.exit(main())
