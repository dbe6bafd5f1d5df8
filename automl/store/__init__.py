"""The job store: datasets, jobs and trials in SQL; uploads and artifacts on disk."""

from automl.store.jobstore import (
    CANCELLED,
    COMPLETED,
    FAILED,
    FINISHED,
    INTERRUPTED,
    MAX_RESUMES,
    QUEUED,
    RUNNING,
    JobStore,
    make_engine,
    new_id,
)

__all__ = ["CANCELLED", "COMPLETED", "FAILED", "FINISHED", "INTERRUPTED", "MAX_RESUMES", "QUEUED",
           "RUNNING", "JobStore", "make_engine", "new_id"]
