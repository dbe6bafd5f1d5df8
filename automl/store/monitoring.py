"""Monitoring state of endpoints in SQL: settings and schedule, runs, traffic snapshots.

A settings row per endpoint name (capture percentage, schedule interval, webhook, the next
scheduled run, and why the schedule stopped) outlives its endpoint, so that a deleted
endpoint's schedule says why it stopped. Claiming a due run is a compare-and-set on
``next_run_at``, so two runners on one store never run the same schedule twice.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from automl.exceptions import NotFound
from automl.store.jobstore import new_id
from automl.store.tables import endpoint_monitoring, endpoint_traffic, monitoring_runs
from automl.store.variants import PRIMARY

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "completed", "failed"
ENDPOINT_DELETED = "the endpoint was deleted"
NULLABLE = ("webhook_url", "retrain")  # settings that None removes (others: None leaves as is)


def _variant_is(name: str):
    """The runs of variant ``name``: rows from before variants were monitored have NULL, the
    primary's."""
    return func.coalesce(monitoring_runs.c.variant, PRIMARY) == name


class MonitoringRunNotFound(NotFound):
    code = "monitoring_run_not_found"


class MonitoringStore:
    """The three monitoring tables; thread- and process-safe, rows as plain dicts."""

    def __init__(self, engine: Engine):
        self.engine = engine

    # settings and schedule ------------------------------------------------------------------
    def settings(self, name: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(endpoint_monitoring)
                               .where(endpoint_monitoring.c.name == name)).mappings().first()
        return None if row is None else dict(row)

    def start(self, name: str, capture_percent: float, interval_s: int,
              webhook_url: str | None = None) -> dict:
        """Settings of a new endpoint (replacing those of a deleted one of the same name);
        the first scheduled run is one interval from now."""
        now = time.time()
        row = {"name": name, "capture_percent": capture_percent, "interval_s": interval_s,
               "webhook_url": webhook_url, "next_run_at": now + interval_s,
               "stopped_reason": None, "updated_at": now}
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(endpoint_monitoring).where(endpoint_monitoring.c.name == name))
                conn.execute(insert(endpoint_monitoring).values(**row))
        except IntegrityError:  # another worker started it at the same moment
            return self.settings(name)
        return row

    def change(self, name: str, **values) -> dict:
        """Change some settings; a new interval moves the next run to one interval from now."""
        values = {k: v for k, v in values.items() if v is not None or k in NULLABLE}
        if "interval_s" in values:
            values["next_run_at"] = time.time() + values["interval_s"]
        values["updated_at"] = time.time()
        with self.engine.begin() as conn:
            conn.execute(update(endpoint_monitoring)
                         .where(endpoint_monitoring.c.name == name).values(**values))
        return self.settings(name)

    def stop(self, name: str, reason: str) -> None:
        """No more scheduled runs for ``name``, and why."""
        with self.engine.begin() as conn:
            conn.execute(update(endpoint_monitoring).where(endpoint_monitoring.c.name == name)
                         .values(next_run_at=None, stopped_reason=reason, updated_at=time.time()))

    def due(self, now: float | None = None) -> list[dict]:
        """Settings rows whose next run is due."""
        now = time.time() if now is None else now
        query = select(endpoint_monitoring).where(endpoint_monitoring.c.next_run_at <= now)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def claim(self, row: dict, now: float | None = None) -> bool:
        """Move a due schedule to its next run; False if another runner did first."""
        now = time.time() if now is None else now
        query = (update(endpoint_monitoring)
                 .where(endpoint_monitoring.c.name == row["name"],
                        endpoint_monitoring.c.next_run_at == row["next_run_at"])
                 .values(next_run_at=now + row["interval_s"]))
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount == 1

    # runs ---------------------------------------------------------------------------------
    def add_run(self, endpoint: str, trigger: str, since: str | None, until: str | None,
                status: str = RUNNING, variant: str = PRIMARY) -> dict:
        """A new run of one variant's capture, ``running`` (the runner's own) or ``queued``
        (asked for; the runner claims it); ``started_at`` is when it was asked for."""
        row = {"id": new_id("mon"), "endpoint": endpoint, "trigger": trigger, "status": status,
               "since": since, "until": until, "started_at": time.time(), "variant": variant}
        with self.engine.begin() as conn:
            conn.execute(insert(monitoring_runs).values(**row))
        return self.run(endpoint, row["id"])

    def queued(self) -> list[dict]:
        query = (select(monitoring_runs).where(monitoring_runs.c.status == QUEUED)
                 .order_by(monitoring_runs.c.started_at))
        with self.engine.connect() as conn:
            return [{**r, "variant": r["variant"] or PRIMARY}
                    for r in conn.execute(query).mappings()]

    def claim_run(self, run_id: str) -> bool:
        """Move a queued run to running; False if another runner took it."""
        query = (update(monitoring_runs).where(monitoring_runs.c.id == run_id,
                                               monitoring_runs.c.status == QUEUED)
                 .values(status=RUNNING))
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount == 1

    def fail_running(self, reason: str) -> int:
        """Fail the runs a stopped runner left running (the runner calls it as it starts)."""
        query = (update(monitoring_runs).where(monitoring_runs.c.status == RUNNING)
                 .values(status=FAILED, finished_at=time.time(),
                         error={"code": "interrupted", "message": reason}))
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount

    def finish_run(self, run_id: str, status: str, summary: dict | None = None,
                   error: dict | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(monitoring_runs).where(monitoring_runs.c.id == run_id)
                         .values(status=status, summary=summary, error=error,
                                 finished_at=time.time()))

    def annotate_run(self, run_id: str, **notes) -> None:
        """Add ``notes`` to a finished run's summary (what followed it: an automatic
        retraining); only the runner that ran it writes it."""
        with self.engine.begin() as conn:
            summary = conn.execute(select(monitoring_runs.c.summary)
                                   .where(monitoring_runs.c.id == run_id)).scalar()
            conn.execute(update(monitoring_runs).where(monitoring_runs.c.id == run_id)
                         .values(summary={**(summary or {}), **notes}))

    def record_webhook(self, run_id: str, delivery: dict) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(monitoring_runs).where(monitoring_runs.c.id == run_id)
                         .values(webhook=delivery))

    def run(self, endpoint: str, run_id: str) -> dict:
        query = select(monitoring_runs).where(monitoring_runs.c.id == run_id,
                                              monitoring_runs.c.endpoint == endpoint)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise MonitoringRunNotFound(f"endpoint '{endpoint}' has no monitoring run "
                                        f"'{run_id}'", {"endpoint": endpoint, "run_id": run_id})
        return {**row, "variant": row["variant"] or PRIMARY}

    def runs(self, endpoint: str, limit: int = 100, variant: str | None = None) -> list[dict]:
        """The newest ``limit`` runs of an endpoint (of one ``variant``, if given), newest
        first; ``variant`` is the primary's name in rows from before variants were monitored."""
        query = (select(monitoring_runs).where(monitoring_runs.c.endpoint == endpoint)
                 .order_by(monitoring_runs.c.started_at.desc()).limit(limit))
        if variant is not None:
            query = query.where(_variant_is(variant))
        with self.engine.connect() as conn:
            return [{**r, "variant": r["variant"] or PRIMARY}
                    for r in conn.execute(query).mappings()]

    def latest_by_variant(self, endpoint: str, scan: int = 500) -> dict[str, dict]:
        """The newest completed run of each variant, among the endpoint's newest ``scan``."""
        latest: dict[str, dict] = {}
        for run in self.runs(endpoint, scan):
            if run["status"] == DONE:
                latest.setdefault(run["variant"], run)
        return latest

    def last_scores(self) -> dict[str, float]:
        """The highest column drift score of every endpoint's newest completed run of its
        primary variant."""
        query = (select(monitoring_runs.c.endpoint, monitoring_runs.c.summary)
                 .where(monitoring_runs.c.status == DONE, _variant_is(PRIMARY))
                 .order_by(monitoring_runs.c.started_at))
        with self.engine.connect() as conn:
            latest = {r.endpoint: r.summary for r in conn.execute(query)}
        return {name: s["max_drift_score"] for name, s in latest.items()
                if s and s.get("max_drift_score") is not None}

    # traffic snapshots --------------------------------------------------------------------
    def add_traffic(self, rows: list[dict]) -> None:
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(endpoint_traffic), rows)

    def traffic(self, endpoint: str, since: float) -> list[dict]:
        """Snapshots of ``endpoint`` since an epoch time (one before it too), oldest first."""
        table = endpoint_traffic
        before = (select(table).where(table.c.endpoint == endpoint, table.c.at < since)
                  .order_by(table.c.at.desc()).limit(1))
        after = (select(table).where(table.c.endpoint == endpoint, table.c.at >= since)
                 .order_by(table.c.at))
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(before).mappings()]
            rows += [dict(r) for r in conn.execute(after).mappings()]
        return rows

    def prune_traffic(self, before: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(endpoint_traffic).where(endpoint_traffic.c.at < before))
