"""Job leases: which runner owns a running job, until when (DESIGN 3, job lifecycle).

A runner takes a lease on a job before it moves the job from queued to running, renews its
leases every few seconds, and drops a lease when the job ends. Any runner on the same store
takes over (to resume it) or fails a running job whose lease expired, is missing (a runner from
before leases), or whose owner runs on this host and is gone; taking over is a compare-and-set
on the lease row it saw, so two runners never both resume one job. So several services can share one store: none steals a
job (claiming is a compare-and-set on the queued state) and none fails a job that is alive.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from automl.store.tables import leases

LEASE_S = 15.0
HEARTBEAT_S = 3.0


@dataclass(frozen=True)
class Owner:
    """One runner process: a unique id, its host and pid."""

    id: str
    host: str
    pid: int

    @classmethod
    def here(cls) -> Owner:
        host = socket.gethostname()
        return cls(f"{host}:{os.getpid()}:{secrets.token_hex(4)}", host, os.getpid())


class Leases:
    """The ``leases`` table; rows as plain dicts."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def take(self, job_id: str, owner: Owner, ttl: float = LEASE_S) -> bool:
        """Own ``job_id`` for ``ttl`` seconds; False when another runner holds a live lease."""
        row = {"job_id": job_id, "owner": owner.id, "host": owner.host, "pid": owner.pid,
               "expires_at": time.time() + ttl}
        for _ in range(2):
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(leases).values(**row))
                return True
            except IntegrityError:
                with self.engine.begin() as conn:  # a lease left by a runner that died claiming
                    conn.execute(delete(leases).where(leases.c.job_id == job_id,
                                                      leases.c.expires_at < time.time()))
        return False

    def renew(self, owner: Owner, ttl: float = LEASE_S) -> int:
        """Extend every lease of ``owner``; returns how many."""
        query = update(leases).where(leases.c.owner == owner.id) \
            .values(expires_at=time.time() + ttl)
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount

    def release(self, job_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(leases).where(leases.c.job_id == job_id))

    def orphans(self, job_ids: list[str], is_gone: Callable[[dict], bool]) -> dict[str, dict | None]:
        """Those of ``job_ids`` no live runner owns (no lease, an expired one, or a gone owner),
        each with its lease row (``None`` without one)."""
        if not job_ids:
            return {}
        with self.engine.connect() as conn:
            rows = {r["job_id"]: dict(r) for r in conn.execute(
                select(leases).where(leases.c.job_id.in_(job_ids))).mappings()}
        now = time.time()
        return {j: rows.get(j) for j in job_ids
                if j not in rows or rows[j]["expires_at"] < now or is_gone(rows[j])}

    def steal(self, job_id: str, owner: Owner, seen: dict | None, ttl: float = LEASE_S) -> bool:
        """Take over ``job_id``'s lease if it is still the one ``seen`` (``None``: no lease);
        of several runners racing for one orphan, exactly one gets True."""
        if seen is None:
            return self.take(job_id, owner, ttl)
        query = update(leases).where(leases.c.job_id == job_id, leases.c.owner == seen["owner"],
                                     leases.c.expires_at == seen["expires_at"]) \
            .values(owner=owner.id, host=owner.host, pid=owner.pid, expires_at=time.time() + ttl)
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount == 1


def last_alive(lease: dict | None) -> float | None:
    """When a lease's runner last renewed it (``None`` without a lease)."""
    return None if lease is None else lease["expires_at"] - LEASE_S


def gone_here(lease: dict) -> bool:
    """True when the lease's owner ran on this host and its process no longer exists."""
    if lease["host"] != socket.gethostname():
        return False
    try:
        os.kill(lease["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
