"""kill -9 of the whole service mid-search, then a restart: the job goes on from the trials it
recorded and completes, on SQLite and on PostgreSQL (issue 18, point 5)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
from service_process import ServiceProcess  # noqa: E402

from tests.store.conftest import postgres_schema  # noqa: E402

pytestmark = pytest.mark.slow
N_TRIALS = 10  # on tiny data: each a fraction of a second, so the kill lands mid-search
FAMILIES = ["lightgbm", "linear", "knn"]  # the cheapest: the suite runs this job twice
TINY = b"x,z,label\n" + b"".join(b"%d,%d,%s\n" % (i, (i * 7) % 11, b"ab"[(i % 5 > 1):(i % 5 > 1) + 1])
                                 for i in range(120))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_env(request):
    """The service's environment for the backend: SQLite in its data dir, or a fresh schema."""
    if request.param == "sqlite":
        yield {}
        return
    url, admin, schema = postgres_schema()
    yield {"AUTOML_DATABASE_URL": url}
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_a_job_killed_mid_search_resumes_and_completes(tmp_path, store_env):
    service = ServiceProcess(tmp_path / "data", env=store_env).start()
    try:
        dataset = service.post("/api/v1/datasets", files={"file": ("tiny.csv", TINY)}).json()
        job = service.post("/api/v1/jobs", json={
            "dataset_id": dataset["id"], "target": "label", "time_budget": None,
            "max_candidates": N_TRIALS, "families": FAMILIES}).json()
        service.wait_for(job["id"], lambda j: _recorded(j) >= 2, 90)
        before = {t["candidate_id"] for t in _trials(service, job["id"])}
        service.kill9()

        service = ServiceProcess(tmp_path / "data", port=service.port, env=store_env).start(60)
        done = service.wait_for(job["id"], lambda j: j["status"] not in ("queued", "running"), 180)
        assert done["status"] == "completed", done
        assert done["progress"]["resumed"] == 1
        trials = _trials(service, job["id"])
        board = service.get(f"/api/v1/jobs/{job['id']}/leaderboard").json()
    finally:
        service.stop()
    assert len(trials) == N_TRIALS and len({t["number"] for t in trials}) == N_TRIALS
    rows = {r["candidate_id"]: r for r in board["rows"]}
    after = [cid for cid in rows if cid not in before and cid != "ensemble"]
    assert set(before) <= set(rows) and after  # both halves on the leaderboard
    ran_before = {(rows[c]["family"], repr(sorted(rows[c]["params"].items()))) for c in before}
    assert not any((rows[c]["family"], repr(sorted(rows[c]["params"].items()))) in ran_before
                   for c in after)  # nothing it had done was run again
    assert board["final"] and board["rows"][0]["rank"] == 1


def _recorded(job: dict) -> int:
    return job["progress"]["trials_completed"] + job["progress"]["trials_failed"]


def _trials(service: ServiceProcess, job_id: str) -> list[dict]:
    return service.get(f"/api/v1/jobs/{job_id}/trials").json()["trials"]
