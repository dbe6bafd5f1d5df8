"""Datasets, jobs and trials in SQL: SQLite by default, PostgreSQL by URL.

Every state change is a compare-and-set ``UPDATE ... WHERE status = <expected>``, so the web
workers, the runner and the job processes can share one database without races: a job is
claimed by exactly one runner, and a job marked failed by a restart is never overwritten by a
late finish from an orphaned process.
"""

from __future__ import annotations

import json
import secrets
import time

from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from automl.exceptions import Conflict, NotFound
from automl.jsonable import jsonable
from automl.store.leases import Leases, Owner, last_alive
from automl.store.tables import datasets, jobs, metadata, resumes, trials
from automl.store.upgrade import add_missing_columns

QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED = "queued", "running", "completed", "failed", "cancelled"
FINISHED = (COMPLETED, FAILED, CANCELLED)
EMPTY_PROGRESS = {"trials_completed": 0, "trials_failed": 0, "best_score": None,
                  "elapsed_s": 0.0, "remaining_s": None}
INTERRUPTED = "interrupted by a restart"
MAX_RESUMES = 3  # a job that keeps bringing its service down is not started a fourth time


def new_id(prefix: str) -> str:
    """A short random id such as ``job_3f9a1c0d2b4e``."""
    return f"{prefix}_{secrets.token_hex(6)}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode and a busy timeout for many processes."""
    dumps = lambda o: json.dumps(jsonable(o))  # noqa: E731
    if url.startswith("sqlite"):
        engine = create_engine(url, json_serializer=dumps, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, json_serializer=dumps, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class JobStore:
    """The service's state. Thread- and process-safe; rows come back as plain dicts."""

    def __init__(self, engine: Engine | str):
        self.engine = make_engine(engine) if isinstance(engine, str) else engine
        self.leases = Leases(self.engine)

    def create_schema(self) -> None:
        """Create the tables if they do not exist, and add the columns a store made by an
        older version lacks (safe when several processes race)."""
        try:
            metadata.create_all(self.engine)
        except (OperationalError, ProgrammingError, IntegrityError):
            metadata.create_all(self.engine)
        add_missing_columns(self.engine, metadata)

    def dispose(self) -> None:
        self.engine.dispose()

    # datasets -------------------------------------------------------------------------------
    def add_dataset(self, row: dict) -> dict:
        """Insert a dataset row (``id`` is made when missing); returns the stored row."""
        row = {"id": new_id("ds"), "created_at": time.time(), "warnings": [], **row}
        with self.engine.begin() as conn:
            conn.execute(insert(datasets).values(**row))
        return self.get_dataset(row["id"])

    def get_dataset(self, dataset_id: str) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(select(datasets).where(datasets.c.id == dataset_id)).mappings().first()
        if row is None:
            raise NotFound(f"dataset '{dataset_id}' not found", {"dataset_id": dataset_id})
        return dict(row)

    def list_datasets(self, limit: int = 100, offset: int = 0) -> list[dict]:
        query = select(datasets).order_by(datasets.c.created_at.desc(), datasets.c.id) \
            .limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def delete_dataset(self, dataset_id: str) -> dict:
        """Delete a dataset's row, refused (409, naming them) while jobs use it; returns the
        deleted row (its file is the caller's to remove)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(datasets).where(datasets.c.id == dataset_id)).mappings().first()
            if row is None:
                raise NotFound(f"dataset '{dataset_id}' not found", {"dataset_id": dataset_id})
            users = list(conn.execute(select(jobs.c.id).where(jobs.c.dataset_id == dataset_id)
                                      .order_by(jobs.c.created_at)).scalars())
            if users:
                shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
                raise Conflict(f"dataset '{dataset_id}' is used by job(s) {shown}; delete those "
                               "jobs first (explaining or deploying their candidates reads it)",
                               {"jobs": users})
            conn.execute(delete(datasets).where(datasets.c.id == dataset_id))
        return dict(row)

    # jobs -----------------------------------------------------------------------------------
    def create_job(self, dataset_id: str, target: str, settings: dict) -> dict:
        """Queue a job; returns its row."""
        self.get_dataset(dataset_id)
        row = {"id": new_id("job"), "dataset_id": dataset_id, "target": target,
               "status": QUEUED, "settings": settings, "progress": dict(EMPTY_PROGRESS),
               "cancel_requested": False, "created_at": time.time()}
        with self.engine.begin() as conn:
            conn.execute(insert(jobs).values(**row))
        return self.get_job(row["id"])

    def get_job(self, job_id: str) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise NotFound(f"job '{job_id}' not found", {"job_id": job_id})
        return dict(row)

    def list_jobs(self, limit: int = 100, dataset_id: str | None = None) -> list[dict]:
        query = select(jobs).order_by(jobs.c.created_at.desc()).limit(limit)
        if dataset_id is not None:
            query = query.where(jobs.c.dataset_id == dataset_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def count_jobs(self, status: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).where(jobs.c.status == status)).scalar_one()

    def claim_next(self, owner: Owner | None = None) -> dict | None:
        """Atomically move the oldest queued job to running; ``None`` when the queue is empty.
        With ``owner``, the job is leased to it first (see :mod:`automl.store.leases`)."""
        for _ in range(5):
            with self.engine.connect() as conn:
                job_id = conn.execute(select(jobs.c.id).where(jobs.c.status == QUEUED)
                                      .order_by(jobs.c.created_at).limit(1)).scalar()
            if job_id is None:
                return None
            if owner is not None and not self.leases.take(job_id, owner):
                continue
            if self._transition(job_id, (QUEUED,), RUNNING, started_at=time.time(), stage="starting"):
                return self.get_job(job_id)
            if owner is not None:
                self.leases.release(job_id)
        return None

    def fail_orphaned(self, is_gone, reason: str = INTERRUPTED) -> list[str]:
        """Fail the running jobs no live runner owns (lease missing, expired, or its owner gone
        per ``is_gone(lease_row)``); returns their ids."""
        error = {"code": "interrupted", "message": reason, "details": {}}
        now = time.time()  # an interrupted job ends at its runner's last sign of life
        failed = [i for i, lease in self._orphans(is_gone).items()
                  if self.finish(i, FAILED, error=error, finished_at=min(last_alive(lease) or now, now))]
        for job_id in failed:
            self.leases.release(job_id)
        return failed

    def take_orphans(self, owner: Owner, is_gone, limit: int) -> tuple[list[str], list[str]]:
        """Take over at most ``limit`` running jobs no live runner owns (see
        :meth:`fail_orphaned`) so that ``owner`` resumes them: each gets back, on its budget
        clock (``started_at``), the time it lost since its runner's last heartbeat. A job
        already resumed ``MAX_RESUMES`` times is failed instead, a cancelled one cancelled.
        Returns the ids to resume and those ended; another runner's catch is in neither."""
        resumed, ended = [], []
        for job_id, lease in self._orphans(is_gone).items():
            if len(resumed) >= limit:
                break
            if not self.leases.steal(job_id, owner, lease):
                continue
            if self._resume(job_id, owner, lease):
                resumed.append(job_id)
            else:
                ended.append(job_id)
                self.leases.release(job_id)
        return resumed, ended

    def _orphans(self, is_gone) -> dict[str, dict | None]:
        with self.engine.connect() as conn:
            running = list(conn.execute(select(jobs.c.id).where(jobs.c.status == RUNNING)).scalars())
        return self.leases.orphans(running, is_gone)

    def _resume(self, job_id: str, owner: Owner, lease: dict | None) -> bool:
        """Record the resume of a job whose lease ``owner`` now holds; False when it ended."""
        now = time.time()
        alive = min(last_alive(lease) or now, now)
        count = len(self.resumes(job_id))
        if self.cancel_requested(job_id):
            self.finish(job_id, CANCELLED, finished_at=alive)
            return False
        if count >= MAX_RESUMES:
            message = f"{INTERRUPTED} {count + 1} times; not resumed again"
            self.finish(job_id, FAILED, finished_at=alive, error={
                "code": "interrupted", "message": message, "details": {"resumes": count}})
            return False
        with self.engine.begin() as conn:
            conn.execute(insert(resumes).values(job_id=job_id, number=count + 1, owner=owner.id,
                                                at=now, lost_s=now - alive))
            moved = conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == RUNNING)
                                 .values(started_at=jobs.c.started_at + (now - alive),
                                         stage="resuming"))
        return moved.rowcount == 1

    def resumes(self, job_id: str) -> list[dict]:
        """The times ``job_id`` was resumed after a restart, first first."""
        query = select(resumes).where(resumes.c.job_id == job_id).order_by(resumes.c.number)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def _transition(self, job_id: str, from_states: tuple[str, ...], to_state: str, **values) -> bool:
        query = (update(jobs).where(jobs.c.id == job_id, jobs.c.status.in_(from_states))
                 .values(status=to_state, **values))
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount == 1

    def set_running_fields(self, job_id: str, **values) -> bool:
        """Update fields of a running job (stage, progress, metric, profile); False otherwise."""
        query = update(jobs).where(jobs.c.id == job_id, jobs.c.status == RUNNING).values(**values)
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount == 1

    def finish(self, job_id: str, status: str, error: dict | None = None, **values) -> bool:
        """Move a running job to a final status; False when it was not running any more."""
        return self._transition(job_id, (RUNNING,), status,
                                **{"error": error, "finished_at": time.time(), "stage": None,
                                   **values})

    def request_cancel(self, job_id: str) -> dict:
        """Cancel: a queued job at once, a running one by setting the flag its process reads."""
        self.get_job(job_id)
        if not self._transition(job_id, (QUEUED,), CANCELLED, finished_at=time.time(),
                                cancel_requested=True):
            with self.engine.begin() as conn:
                conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == RUNNING)
                             .values(cancel_requested=True))
        return self.get_job(job_id)

    def cancel_requested(self, job_id: str) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.execute(select(jobs.c.cancel_requested)
                                     .where(jobs.c.id == job_id)).scalar())

    def fail_interrupted(self, reason: str = INTERRUPTED, exclude: tuple[str, ...] = ()) -> list[str]:
        """Mark running jobs (except ``exclude``) failed with ``reason``; returns their ids."""
        with self.engine.connect() as conn:
            ids = [i for i in conn.execute(select(jobs.c.id).where(jobs.c.status == RUNNING)).scalars()
                   if i not in exclude]
        error = {"code": "interrupted", "message": reason, "details": {}}
        return [i for i in ids if self.finish(i, FAILED, error=error)]

    def delete_job(self, job_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(trials).where(trials.c.job_id == job_id))
            conn.execute(delete(resumes).where(resumes.c.job_id == job_id))
            conn.execute(delete(jobs).where(jobs.c.id == job_id))

    # trials ---------------------------------------------------------------------------------
    def add_trial(self, job_id: str, result: dict, elapsed_s: float) -> None:
        """Record one TrialResult.to_dict() (idempotent per candidate id)."""
        result = jsonable(result)
        row = {"job_id": job_id, "candidate_id": result["candidate_id"],
               "number": int(result.get("number", -1)), "state": result["state"],
               "score": result.get("score"), "elapsed_s": elapsed_s, "result": result}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(trials).values(**row))
        except IntegrityError:
            pass

    def list_trials(self, job_id: str) -> list[dict]:
        query = select(trials).where(trials.c.job_id == job_id).order_by(trials.c.id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def get_trial(self, job_id: str, candidate_id: str) -> dict:
        query = select(trials).where(trials.c.job_id == job_id, trials.c.candidate_id == candidate_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"candidate '{candidate_id}' not found in job '{job_id}'",
                           {"job_id": job_id, "candidate_id": candidate_id})
        return dict(row)
