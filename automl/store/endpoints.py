"""Model endpoints in SQL: a name pointing at one job's candidate and its bundle directory,
with the history of every model it served.

An endpoint row is the only state an endpoint serves from; every web worker reads it and caches
the loaded bundle by ``(name, updated_at)``, so a change made by one worker is seen by the
others. ``updated_at`` strictly increases on every change, even within one clock tick.

Each deploy, repoint and rollback also writes a row of ``endpoint_versions`` (numbered 1, 2, ...
per endpoint) in the same transaction as the endpoint row, so the newest version is always the
model served. An endpoint made before versions existed gets its version 1 (its model then) on
its first change; until then its history shows that model without its facts.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import weakref
from collections.abc import Callable

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from automl.exceptions import AutoMLError, Conflict, NotFound
from automl.store.tables import endpoint_variants, endpoint_versions, endpoints

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class InvalidEndpointName(AutoMLError):
    """The name does not follow SageMaker's rule for endpoint names."""

    code = "invalid_endpoint_name"


class EndpointExists(AutoMLError):
    """An endpoint with this name already exists."""

    code = "endpoint_exists"


class EndpointNotFound(NotFound):
    code = "endpoint_not_found"


class VersionNotFound(NotFound):
    code = "version_not_found"


FACTS = ("metric", "score", "input_schema")
"""What a version records of its model besides job and candidate (see :meth:`EndpointStore.add`)."""


def check_name(name: str) -> str:
    """``name`` if SageMaker would accept it as an endpoint name, else :class:`InvalidEndpointName`."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidEndpointName(
            f"invalid endpoint name {name!r}: use 1 to 63 letters, digits and hyphens, starting "
            "and ending with a letter or digit (as SageMaker does)",
            {"name": name, "pattern": NAME_PATTERN.pattern})
    return name


class EndpointStore:
    """CRUD over the ``endpoints`` table and its versions; thread- and process-safe, rows as
    plain dicts. ``facts`` passed in are a dict with the keys of :data:`FACTS`."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._stamps = _StampReader(engine)

    def add(self, name: str, job_id: str, candidate_id: str, bundle_path: str,
            facts: dict | None = None) -> dict:
        """Insert an endpoint and its version 1; :class:`EndpointExists` when the name is taken."""
        now = time.time()
        row = {"name": check_name(name), "job_id": job_id, "candidate_id": candidate_id,
               "bundle_path": str(bundle_path), "created_at": now, "updated_at": now}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(endpoints).values(**row))
                _insert_version(conn, row, 1, "deploy", facts)
        except IntegrityError:
            raise EndpointExists(f"an endpoint named '{name}' already exists; choose another "
                                 "name, or PUT to point it at another model", {"name": name}) from None
        return self.get(name)

    def get(self, name: str) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(select(endpoints).where(endpoints.c.name == name)).mappings().first()
        if row is None:
            raise EndpointNotFound(f"endpoint '{name}' not found", {"name": name})
        return dict(row)

    def stamp(self, name: str) -> float | None:
        """The endpoint's ``updated_at``, or None when there is none: what a worker compares
        with the row it cached, on every request. Read on a DBAPI connection this process and
        thread keep (:class:`_StampReader`): 18 us against 230 us through a pooled Core
        connection and 850 us for :meth:`get`'s whole row (SQLite, load 7)."""
        return self._stamps.read(name)

    def list(self, job_id: str | None = None) -> list[dict]:
        query = select(endpoints).order_by(endpoints.c.created_at.desc(), endpoints.c.name)
        if job_id is not None:
            query = query.where(endpoints.c.job_id == job_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def repoint(self, name: str, job_id: str, candidate_id: str, bundle_path: str,
                facts: dict | None = None, *, action: str = "repoint",
                source_version: int | None = None, current_facts: dict | None = None,
                also: Callable[[Connection], None] | None = None) -> dict:
        """Point ``name`` at another model and record it as a new version, in one transaction
        (with ``also(conn)`` if given); ``updated_at`` moves forward. ``current_facts`` describe
        the model served until now, recorded as version 1 if the endpoint predates versions."""
        new = {"job_id": job_id, "candidate_id": candidate_id, "bundle_path": str(bundle_path)}
        with self.engine.begin() as conn:
            old = lock(conn, name)
            if also is not None:
                also(conn)
            latest = _latest(conn, name)
            if latest is None:
                _insert_version(conn, old, 1, "deploy", current_facts, at=old["updated_at"])
                latest = 1
            stamp = max(time.time(), old["updated_at"] + 1e-3)
            conn.execute(update(endpoints).where(endpoints.c.name == name)
                         .values(**new, updated_at=stamp))
            _insert_version(conn, {**old, **new}, latest + 1, action, facts, source_version,
                            at=stamp)
        return self.get(name)

    def remove(self, name: str) -> None:
        """Delete an endpoint with its history."""
        with self.engine.begin() as conn:
            conn.execute(delete(endpoint_versions).where(endpoint_versions.c.endpoint == name))
            conn.execute(delete(endpoint_variants).where(endpoint_variants.c.endpoint == name))
            if conn.execute(delete(endpoints).where(endpoints.c.name == name)).rowcount != 1:
                raise EndpointNotFound(f"endpoint '{name}' not found", {"name": name})

    # versions -------------------------------------------------------------------------------
    def versions(self, name: str) -> list[dict]:
        """The endpoint's versions, newest (the one served) first."""
        row = self.get(name)
        query = (select(endpoint_versions).where(endpoint_versions.c.endpoint == name)
                 .order_by(endpoint_versions.c.version.desc()))
        with self.engine.connect() as conn:
            found = [dict(r) for r in conn.execute(query).mappings()]
        return found or [_version_row(row, 1, "deploy", None, at=row["updated_at"])]

    def version(self, name: str, number: int) -> dict:
        """Version ``number`` of ``name``; :class:`VersionNotFound` naming the ones there are."""
        found = self.versions(name)
        for row in found:
            if row["version"] == number:
                return row
        raise VersionNotFound(f"endpoint '{name}' has no version {number}; its versions are "
                              f"{', '.join(str(r['version']) for r in reversed(found))}",
                              {"name": name, "version": number,
                               "versions": [r["version"] for r in found]})

    def remove_version(self, name: str, number: int) -> None:
        """Forget an old version (so that its job can be deleted); the served one stays."""
        with self.engine.begin() as conn:
            lock(conn, name)
            latest = _latest(conn, name)
            if number == (latest or 1):
                raise Conflict(f"version {number} is the model endpoint '{name}' serves; roll "
                               "back or point the endpoint at another model first",
                               {"name": name, "version": number})
            gone = conn.execute(delete(endpoint_versions).where(
                endpoint_versions.c.endpoint == name, endpoint_versions.c.version == number))
        if gone.rowcount != 1:
            self.version(name, number)

    def users_of_job(self, job_id: str) -> dict[str, list[int]]:
        """Endpoints whose served model or any version comes from ``job_id``, each with those
        versions (empty for an endpoint serving it from before versions existed)."""
        users: dict[str, list[int]] = {r["name"]: [] for r in self.list(job_id)}
        query = (select(endpoint_versions.c.endpoint, endpoint_versions.c.version)
                 .where(endpoint_versions.c.job_id == job_id)
                 .order_by(endpoint_versions.c.endpoint, endpoint_versions.c.version))
        variants = select(endpoint_variants.c.endpoint).where(endpoint_variants.c.job_id == job_id)
        with self.engine.connect() as conn:
            for endpoint, version in conn.execute(query):
                users.setdefault(endpoint, []).append(version)
            for endpoint in conn.execute(variants).scalars():
                users.setdefault(endpoint, [])
        return users


def lock(conn: Connection, name: str) -> dict:
    """The endpoint row, write-locked for the rest of the transaction (a no-op UPDATE first:
    SQLite then holds its write lock, PostgreSQL the row's, so changes of one endpoint queue)."""
    touched = conn.execute(update(endpoints).where(endpoints.c.name == name)
                           .values(updated_at=endpoints.c.updated_at))
    if touched.rowcount != 1:
        raise EndpointNotFound(f"endpoint '{name}' not found", {"name": name})
    return dict(conn.execute(select(endpoints).where(endpoints.c.name == name)).mappings().one())


def touch(conn: Connection, name: str) -> dict:
    """Lock the endpoint row (see :func:`lock`) and move its ``updated_at`` forward, so every
    worker reloads what it serves; returns the row as it was."""
    old = lock(conn, name)
    conn.execute(update(endpoints).where(endpoints.c.name == name)
                 .values(updated_at=max(time.time(), old["updated_at"] + 1e-3)))
    return old


def _latest(conn: Connection, name: str) -> int | None:
    return conn.execute(select(func.max(endpoint_versions.c.version))
                        .where(endpoint_versions.c.endpoint == name)).scalar()


def _version_row(row: dict, number: int, action: str, facts: dict | None,
                 source: int | None = None, at: float | None = None) -> dict:
    facts = facts or {}
    return {"endpoint": row["name"], "version": number, "action": action,
            "source_version": source, "job_id": row["job_id"],
            "candidate_id": row["candidate_id"], "bundle_path": str(row["bundle_path"]),
            **{k: facts.get(k) for k in FACTS}, "created_at": at or row["created_at"]}


def _insert_version(conn: Connection, row: dict, number: int, action: str, facts: dict | None,
                    source: int | None = None, at: float | None = None) -> None:
    conn.execute(insert(endpoint_versions).values(**_version_row(row, number, action, facts,
                                                                 source, at)))


class _StampReader:
    """``SELECT updated_at FROM endpoints WHERE name = ?`` on a DBAPI connection kept per
    process and thread, compiled once for the engine's dialect. Each read ends its transaction
    (a kept snapshot would hide other workers' changes); a connection the dialect finds broken
    (``is_disconnect``) is dropped and the read retried once on a new one. The connections are detached from the
    engine's pool, so a worker's request threads do not hold the pool's slots that its other
    queries need."""

    def __init__(self, engine: Engine):
        self.engine = engine
        query = select(endpoints.c.updated_at).where(endpoints.c.name == bindparam("name"))
        compiled = query.compile(dialect=engine.dialect)
        self.sql, self.positional = str(compiled), engine.dialect.positional
        self.driver_error = engine.dialect.loaded_dbapi.Error
        self._local = threading.local()

    def read(self, name: str) -> float | None:
        try:
            return self._read(name)
        except self.driver_error as exc:
            held = getattr(self._local, "held", None)
            if held is None or not self.engine.dialect.is_disconnect(exc, held.connection, None):
                raise
            self._drop()  # a broken connection (a database restart): one new one
            return self._read(name)

    def _read(self, name: str) -> float | None:
        conn = self._connection()
        cursor = conn.cursor()
        try:
            cursor.execute(self.sql, (name,) if self.positional else {"name": name})
            row = cursor.fetchone()
        finally:
            cursor.close()
            conn.rollback()
        return None if row is None else float(row[0])

    def _connection(self):
        held = getattr(self._local, "held", None)
        if held is None or held.pid != os.getpid():  # none yet, or inherited through a fork
            held = self._local.held = _Held(self.engine.raw_connection())
        return held.connection

    def _drop(self) -> None:
        held, self._local.held = getattr(self._local, "held", None), None
        if held is not None:
            held.close()


class _Held:
    """A DBAPI connection detached from its pool, closed when this object goes (its thread
    ended) or on :meth:`close`, and only by the process that opened it (a forked child closing
    a PostgreSQL connection would end its parent's session)."""

    def __init__(self, connection):
        connection.detach()
        self.pid, self.connection = os.getpid(), connection
        self.close = weakref.finalize(self, _close, connection, self.pid)


def _close(connection, pid: int) -> None:
    if os.getpid() == pid:
        with contextlib.suppress(Exception):  # already broken: nothing left to close
            connection.close()
