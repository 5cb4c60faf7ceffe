"""Jobs: work run in a supervised worker process, with progress, cancel and limits."""

from engine.jobs.runner import (
    ACTIVE,
    JobStatus,
    Limits,
    cancel,
    dispatch,
    list_jobs,
    request,
    run,
    status,
    submit,
    wait,
)

__all__ = ["ACTIVE", "JobStatus", "Limits", "cancel", "dispatch", "list_jobs", "request", "run", "status",
           "submit", "wait"]
