"""One store per backend: SQLite in a temp dir, PostgreSQL in a schema of its own per test."""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import create_engine, text

from automl.store import JobStore

PG_URL = os.environ.get("AUTOML_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_schema():
    """A fresh schema in the test PostgreSQL: its URL, the admin engine and the schema name
    (skips the test when no server answers)."""
    admin = create_engine(PG_URL)
    schema = f"t_{secrets.token_hex(4)}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means no server
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}")
    return f"{PG_URL}?options=-csearch_path%3D{schema}", admin, schema


def _postgres_store():
    url, admin, schema = postgres_schema()
    return JobStore(url), admin, schema


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        store = JobStore(f"sqlite:///{tmp_path / 'automl.db'}")
        store.create_schema()
        yield store
        store.dispose()
        return
    store, admin, schema = _postgres_store()
    store.create_schema()
    yield store
    store.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
