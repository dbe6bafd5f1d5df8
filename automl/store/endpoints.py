"""Model endpoints in SQL: a name pointing at one job's candidate and its bundle directory.

An endpoint row is the only state an endpoint has; every web worker reads it and caches the
loaded bundle by ``(name, updated_at)``, so a change made by one worker is seen by the others.
``updated_at`` strictly increases on every change, even within one clock tick.
"""

from __future__ import annotations

import re
import time

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from automl.exceptions import AutoMLError, NotFound
from automl.store.tables import endpoints

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class InvalidEndpointName(AutoMLError):
    """The name does not follow SageMaker's rule for endpoint names."""

    code = "invalid_endpoint_name"


class EndpointExists(AutoMLError):
    """An endpoint with this name already exists."""

    code = "endpoint_exists"


class EndpointNotFound(NotFound):
    code = "endpoint_not_found"


def check_name(name: str) -> str:
    """``name`` if SageMaker would accept it as an endpoint name, else :class:`InvalidEndpointName`."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidEndpointName(
            f"invalid endpoint name {name!r}: use 1 to 63 letters, digits and hyphens, starting "
            "and ending with a letter or digit (as SageMaker does)",
            {"name": name, "pattern": NAME_PATTERN.pattern})
    return name


class EndpointStore:
    """CRUD over the ``endpoints`` table; thread- and process-safe, rows as plain dicts."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, name: str, job_id: str, candidate_id: str, bundle_path: str) -> dict:
        """Insert an endpoint; :class:`EndpointExists` when the name is taken."""
        now = time.time()
        row = {"name": check_name(name), "job_id": job_id, "candidate_id": candidate_id,
               "bundle_path": str(bundle_path), "created_at": now, "updated_at": now}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(endpoints).values(**row))
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

    def list(self, job_id: str | None = None) -> list[dict]:
        query = select(endpoints).order_by(endpoints.c.created_at.desc(), endpoints.c.name)
        if job_id is not None:
            query = query.where(endpoints.c.job_id == job_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def repoint(self, name: str, job_id: str, candidate_id: str, bundle_path: str) -> dict:
        """Point ``name`` at another model in one UPDATE; ``updated_at`` moves forward."""
        old = self.get(name)
        stamp = max(time.time(), old["updated_at"] + 1e-3)
        query = (update(endpoints).where(endpoints.c.name == name)
                 .values(job_id=job_id, candidate_id=candidate_id,
                         bundle_path=str(bundle_path), updated_at=stamp))
        with self.engine.begin() as conn:
            if conn.execute(query).rowcount != 1:
                raise EndpointNotFound(f"endpoint '{name}' not found", {"name": name})
        return self.get(name)

    def remove(self, name: str) -> None:
        with self.engine.begin() as conn:
            if conn.execute(delete(endpoints).where(endpoints.c.name == name)).rowcount != 1:
                raise EndpointNotFound(f"endpoint '{name}' not found", {"name": name})
