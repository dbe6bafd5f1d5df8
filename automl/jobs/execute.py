"""Run one claimed job in this process (started by :mod:`automl.jobs.launch`).

The job's progress, trials, stage and final status go to the job store as they happen; the
artifacts (``write_artifacts`` output) go to ``<data_dir>/jobs/<id>/``. A job resumed after a
restart (see :mod:`automl.jobs.runner`) starts from the trials it recorded
(:mod:`automl.jobs.resume`), on its budget clock, which the store moved on by the time lost.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from automl.config import JOB_FIELDS, resolve_settings
from automl.engine import Callbacks, JobResult, run_job
from automl.exceptions import AutoMLError
from automl.jobs.resume import recorded_trials
from automl.service_config import ServiceSettings, apply_process_limits, resolve_service_settings
from automl.store import CANCELLED, COMPLETED, FAILED, JobStore
from automl.store.files import job_dir

log = logging.getLogger("automl.jobs")
CANCEL_GRACE_S = 4.0


class JobCallbacks:
    """Engine callbacks that write to the store; ``should_stop`` reads the cancel flag."""

    def __init__(self, store: JobStore, job_id: str, started_at: float | None = None,
                 resumed: int = 0):
        self.store, self.job_id = store, job_id
        self.start = started_at or time.time()
        self.resumed = resumed
        self.cancelled_at: float | None = None
        self._checked = 0.0
        self._flag = False

    def on_trial(self, result, progress: dict) -> None:
        self.store.add_trial(self.job_id, result.to_dict(), time.time() - self.start)
        self.on_started(progress)

    def on_started(self, progress: dict) -> None:
        self.store.set_running_fields(self.job_id, progress={**progress, "resumed": self.resumed})

    def on_stage(self, stage: str) -> None:
        self.store.set_running_fields(self.job_id, stage=stage)

    def on_profile(self, profile, metric) -> None:
        self.store.set_running_fields(self.job_id, profile=profile.to_dict(), metric=metric.name,
                                      greater_is_better=metric.greater_is_better)

    def should_stop(self) -> bool:
        now = time.time()
        if not self._flag and now - self._checked > 0.5:
            self._checked = now
            self._flag = self.store.cancel_requested(self.job_id)
            if self._flag:
                self.cancelled_at = now
        return self._flag

    def callbacks(self) -> Callbacks:
        return Callbacks(on_trial=self.on_trial, on_started=self.on_started, on_stage=self.on_stage,
                         on_profile=self.on_profile, should_stop=self.should_stop)


def execute(store: JobStore, service: ServiceSettings, job_id: str, executor=None) -> str:
    """Run the job ``job_id`` (already claimed: status running); returns its final status.
    ``executor``: a warm pool started before the job was claimed (see :mod:`.launch`)."""
    job = store.get_job(job_id)
    dataset = store.get_dataset(job["dataset_id"])
    out = job_dir(service.data_dir, job_id)
    resumed = len(store.resumes(job_id))
    cb = JobCallbacks(store, job_id, job["started_at"], resumed)
    _watch_cancel(store, job_id, cb)
    try:
        settings = resolve_settings(**_engine_settings(job["settings"], service))
        store.set_running_fields(job_id, artifact_dir=str(out))
        prior = recorded_trials(store, job, dataset, out) if resumed else []
        result = run_job(dataset["path"], job["target"], settings, out, cb.callbacks(),
                         data_path=dataset["path"], started_at=job["started_at"],
                         data_name=dataset["name"], executor=executor, prior=prior)
    except AutoMLError as exc:
        status = CANCELLED if cb.cancelled_at else FAILED
        store.finish(job_id, status, error=None if status == CANCELLED else exc.to_dict())
        return status
    except Exception as exc:
        log.exception("job %s failed", job_id)
        error = {"code": "internal_error", "message": f"the job failed: {type(exc).__name__}: {exc}",
                 "details": {}}
        store.finish(job_id, FAILED, error=error)
        return FAILED
    status = CANCELLED if cb.cancelled_at else COMPLETED
    store.finish(job_id, status, progress=final_progress(store.get_job(job_id)["progress"], result))
    return status


def final_progress(progress: dict | None, result: JobResult) -> dict:
    """A finished job's progress: ``best_score`` is the winner's score (an ensemble's when it
    won, as the model serves), ``best_trial_score`` the best single trial's."""
    progress = dict(progress or {})
    return {**progress, "running": [], "best_trial_score": progress.get("best_score"),
            "best_score": result.winner.score, "winner": result.winner.candidate_id}


def _engine_settings(job_settings: dict, service: ServiceSettings) -> dict:
    values = {k: job_settings.get(k) for k in JOB_FIELDS if k in job_settings}
    values["n_jobs"] = job_workers(service)
    return values


def job_workers(service: ServiceSettings) -> int:
    """Trial workers of one job: the cores shared between the jobs that may run at once."""
    return max(1, (os.cpu_count() or 1) // service.max_concurrent_jobs)


def _watch_cancel(store: JobStore, job_id: str, cb: JobCallbacks) -> None:
    """Stop a cancelled job that has not wound down within the grace time; keep its trials."""
    def watch() -> None:
        while not (cb.cancelled_at and time.time() - cb.cancelled_at > CANCEL_GRACE_S):
            time.sleep(0.5)
        store.finish(job_id, CANCELLED)
        kill_group()

    threading.Thread(target=watch, daemon=True, name="cancel-watch").start()


def kill_group() -> None:
    """SIGKILL this process's group: the job and its trial workers."""
    os.killpg(os.getpgrp(), signal.SIGKILL)


def main(argv: list[str] | None = None, executor=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s job %(message)s")
    service = resolve_service_settings()
    apply_process_limits(service)
    store = JobStore(service.db_url)
    status = execute(store, service, argv[0], executor)
    log.info("%s %s", argv[0], status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
