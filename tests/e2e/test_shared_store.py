"""Two ``automl serve`` on one PostgreSQL store (issue 19, item 10): starting the second one
neither steals nor fails the job the first one runs; the job completes."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).parent))
from service_process import ServiceProcess  # noqa: E402

from tests.store.conftest import postgres_schema  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_store():
    url, admin, schema = postgres_schema()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_a_second_service_does_not_fail_the_first_ones_job(tmp_path, pg_store, sample_data):
    env = {"AUTOML_DATABASE_URL": pg_store}
    first = ServiceProcess(tmp_path / "data", env=env).start()
    second = None
    try:
        with open(sample_data / "titanic.csv", "rb") as fh:
            dataset = first.post("/api/v1/datasets", files={"file": ("titanic.csv", fh)}).json()
        job = first.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "Survived",
                                               "time_budget": 25}).json()
        first.wait_for(job["id"], lambda j: j["status"] == "running", 30)
        second = ServiceProcess(tmp_path / "data", env=env).start()
        time.sleep(8)  # the second runner's start-up recovery and two rounds of its heartbeat
        # On a fast machine the job may already be over: what matters is that it was not failed
        # or taken over (a takeover would count as a resume).
        assert second.get(f"/api/v1/jobs/{job['id']}").json()["status"] in ("running", "completed")
        done = second.wait_for(job["id"], lambda j: j["status"] not in ("queued", "running"), 90)
        assert done["status"] == "completed", done
        assert _resumes(pg_store, job["id"]) == 0
    finally:
        first.stop()
        if second is not None:
            second.stop()


def _resumes(url: str, job_id: str) -> int:
    """How many times a runner took ``job_id`` over, read from the shared store itself."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = text("SELECT count(*) FROM resumes WHERE job_id = :id")
            return conn.execute(query, {"id": job_id}).scalar_one()
    finally:
        engine.dispose()
