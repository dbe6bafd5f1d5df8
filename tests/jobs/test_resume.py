"""A resumed job whose data is gone or changed fails with that reason (issue 18)."""

from __future__ import annotations

import pytest

from automl.jobs.execute import execute
from automl.service_config import resolve_service_settings
from automl.store import FAILED, JobStore
from automl.store.leases import Owner


@pytest.fixture
def interrupted(tmp_path):
    """A store with a job that was running when its runner died, and its dataset's file."""
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,x\n2,y\n3,x\n4,y\n")
    store = JobStore(f"sqlite:///{tmp_path / 'automl.db'}")
    store.create_schema()
    ds = store.add_dataset({"name": "d.csv", "path": str(data), "size_bytes": 10, "n_rows": 4,
                            "columns": [{"name": "a"}, {"name": "b"}]})
    job = store.create_job(ds["id"], "b", {"time_budget": 10.0, "seed": 0})
    store.claim_next(Owner("dead:1:x", "elsewhere", 1))
    store.set_running_fields(job["id"], profile={"data_hash": "0" * 64})
    yield store, job["id"], data
    store.dispose()


@pytest.mark.parametrize("damage", ["deleted", "changed"])
def test_a_job_whose_data_is_gone_or_changed_fails_with_that_reason(interrupted, tmp_path, damage):
    store, job_id, data = interrupted
    if damage == "deleted":
        data.unlink()
    assert store.take_orphans(Owner("new:2:y", "h", 2), lambda lease: True, 1)[0] == [job_id]
    service = resolve_service_settings(env={}, data_dir=str(tmp_path / "data"))
    assert execute(store, service, job_id) == FAILED
    error = store.get_job(job_id)["error"]
    assert error["code"] == "invalid_dataset"
    assert "cannot resume" in error["message"]
    assert ("no longer on disk" if damage == "deleted" else "changed since") in error["message"]
