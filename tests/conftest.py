"""Shared fixtures: paths to the repository's sample data and the shared benchmark datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def sample_data() -> Path:
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip("../shared/datasets is not beside the checkout")
    return SHARED_DATASETS


TITANIC_JOB = {"target": "Survived", "time_budget": None, "max_candidates": 2}


@pytest.fixture(scope="session")
def finished_titanic(tmp_path_factory):
    """``copy_to(data_dir) -> {"id", "dataset_id"}``: a service data directory at ``data_dir`` (which must not
    exist) holding one completed job, titanic with two candidates (``TITANIC_JOB``), as the job
    runner's own ``execute`` leaves it. The job runs once for the whole session: the first xdist
    worker to ask runs it under a lock; the others wait for it and copy what it left. The copy's
    store is repointed at the copy's files, and nothing in it names the original's directory."""
    import fcntl
    import json
    import shutil
    import sqlite3

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # one directory above every worker's own
    template, done = shared / "titanic-job" / "data", shared / "titanic-job" / "job.json"
    template.parent.mkdir(exist_ok=True)
    with open(shared / "titanic-job.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            done.write_text(json.dumps(_run_titanic_job(template)))
    job = json.loads(done.read_text())

    def copy_to(data_dir: Path) -> dict:
        shutil.copytree(template, data_dir)
        old, new = str(template.resolve()), str(data_dir.resolve())
        db = sqlite3.connect(data_dir / "automl.db")
        try:
            with db:
                db.execute("UPDATE datasets SET path = replace(path, ?, ?)", (old, new))
                db.execute("UPDATE jobs SET artifact_dir = replace(artifact_dir, ?, ?)",
                           (old, new))
            assert not [line for line in db.iterdump() if old in line]
        finally:
            db.close()
        return dict(job)

    return copy_to


def _run_titanic_job(data_dir: Path) -> dict:
    """Upload titanic.csv and run ``TITANIC_JOB`` on it to completion, in this process: the
    job's and its dataset's ids."""
    from automl.jobs.execute import execute
    from automl.service_config import resolve_service_settings
    from web import create_app

    settings = resolve_service_settings(env={}, data_dir=str(data_dir))
    app = create_app({"TESTING": True, "SERVICE_SETTINGS": settings})
    client, store = app.test_client(), app.extensions["automl"].store
    dataset = client.post("/api/v1/datasets", data=(SAMPLE_DATA / "titanic.csv").read_bytes(),
                          content_type="text/csv", query_string={"name": "titanic.csv"}).json
    job = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], **TITANIC_JOB}).json
    assert store.claim_next()["id"] == job["id"]
    assert execute(store, settings, job["id"]) == "completed"
    store.dispose()
    return {"id": job["id"], "dataset_id": dataset["id"]}
