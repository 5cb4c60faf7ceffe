"""Jobs: work run in a supervised worker process, with progress, cancel and limits.

``spec`` (typed job specs), ``handlers`` (a handler per kind; built-ins in
``kinds``), ``status_store`` (the status store, one writer at a time), ``liveness``
(host + heartbeat), ``supervisor`` and ``worker`` (the two processes),
``executor`` (where supervisors run: local by default), ``machine`` (the
per-machine lock that keeps latency honest), ``progress``, ``inputs``,
``memory``. Callers use the functions re-exported here.
"""

from engine.jobs.client import (
    cancel,
    default_executor,
    list_jobs,
    reconcile,
    request,
    run,
    status,
    submit,
    wait,
)
from engine.jobs.executor import Executor, LocalExecutor
from engine.jobs.handlers import JobContext, dispatch, register
from engine.jobs.spare import Spare, spare_worker
from engine.jobs.spec import JobSpec, Limits, payload
from engine.jobs.status_store import ACTIVE, TERMINAL, JobStatus

__all__ = ["ACTIVE", "TERMINAL", "Executor", "JobContext", "JobSpec", "JobStatus", "Limits", "LocalExecutor", "Spare",
           "cancel", "default_executor", "dispatch", "list_jobs", "payload", "reconcile", "register", "request",
           "run", "spare_worker", "status", "submit", "wait"]
