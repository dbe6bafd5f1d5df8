"""The service shows the leaderboard and candidates of a job directory written before the trial
records had types of their own (tests/old_runs/*/README.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from automl.layout import JobLayout
from automl.store import COMPLETED

OLD = JobLayout(Path(__file__).parents[1] / "old_runs" / "titanic_da4dc16")
BOARD = json.loads(OLD.leaderboard_json.read_text())


@pytest.fixture
def old_job(service, tmp_path, sample_data) -> dict:
    """A completed job of the service whose directory is the old run's."""
    store = service.store
    dataset = store.add_dataset({"id": "ds_old", "name": "titanic.csv",
                                 "path": str(sample_data / "titanic.csv"), "size_bytes": 1,
                                 "n_rows": 891, "columns": [], "warnings": []})
    job = store.create_job(dataset["id"], "Survived", json.loads(OLD.settings.read_text()))
    assert store.claim_next()["id"] == job["id"]
    store.finish(job["id"], COMPLETED)
    shutil.copytree(OLD.root, Path(service.settings.data_dir) / "jobs" / job["id"])
    return job


def test_the_service_shows_an_old_runs_leaderboard_and_candidates(client, old_job):
    board = client.get(f"/api/v1/jobs/{old_job['id']}/leaderboard").json
    assert [r["candidate_id"] for r in board["rows"]] == [r["candidate_id"] for r in BOARD["rows"]]
    ensemble = client.get(f"/api/v1/jobs/{old_job['id']}/candidates/ensemble").json
    assert ensemble["members"] == BOARD["rows"][0]["members"] and ensemble["spec"] is None
    knn = client.get(f"/api/v1/jobs/{old_job['id']}/candidates/knn_002").json
    assert knn["score"] == next(r["score"] for r in BOARD["rows"] if r["candidate_id"] == "knn_002")
    assert knn["spec"]["family"] == "knn"
