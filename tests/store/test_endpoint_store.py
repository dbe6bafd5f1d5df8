"""The endpoint storage case, run against every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, insert

from automl.exceptions import Conflict
from automl.store import JobStore, tables
from automl.store.endpoints import (
    EndpointExists,
    EndpointNotFound,
    EndpointStore,
    InvalidEndpointName,
    VersionNotFound,
    check_name,
)
from automl.store.tables import endpoint_versions


def test_endpoints_round_trip(store):
    endpoints = EndpointStore(store.engine)
    first = endpoints.add("churn-v1", "job_a", "lgbm_003", "/data/jobs/job_a/model")
    assert first["created_at"] == first["updated_at"]
    endpoints.add("other", "job_b", "rf_001", "/data/jobs/job_b/model")
    assert {e["name"] for e in endpoints.list()} == {"churn-v1", "other"}
    assert [e["name"] for e in endpoints.list(job_id="job_b")] == ["other"]
    moved = endpoints.repoint("churn-v1", "job_b", "rf_001", "/data/jobs/job_b/model")
    assert moved["job_id"] == "job_b" and moved["updated_at"] > first["updated_at"]
    again = endpoints.repoint("churn-v1", "job_b", "rf_001", "/data/jobs/job_b/model")
    assert again["updated_at"] > moved["updated_at"], "every change is visible to other workers"
    endpoints.remove("churn-v1")
    with pytest.raises(EndpointNotFound):
        endpoints.get("churn-v1")
    with pytest.raises(EndpointNotFound):
        endpoints.remove("churn-v1")
    with pytest.raises(EndpointNotFound):
        endpoints.repoint("churn-v1", "job_a", "x", "/p")


def test_a_workers_stamp_follows_changes_made_by_another(store):
    """What a worker checks on every request: the same ``updated_at`` as the row, and each
    change another worker makes is seen at once on the connection it keeps (no old snapshot),
    also after that connection broke."""
    worker, other = EndpointStore(store.engine), EndpointStore(store.engine)
    assert worker.stamp("churn") is None
    made = other.add("churn", "job_a", "lgbm_003", "/data/jobs/job_a/model")
    assert worker.stamp("churn") == made["updated_at"]
    moved = other.repoint("churn", "job_b", "rf_001", "/data/jobs/job_b/model")
    assert worker.stamp("churn") == moved["updated_at"] == worker.get("churn")["updated_at"]
    worker._stamps._local.held.connection.dbapi_connection.close()  # as when the database restarted
    again = other.repoint("churn", "job_a", "lgbm_003", "/data/jobs/job_a/model")
    assert worker.stamp("churn") == again["updated_at"]
    other.remove("churn")
    assert worker.stamp("churn") is None


def test_stamp_readers_of_many_threads_hold_none_of_the_pools_connections(store):
    """Each request thread keeps its stamp connection; the worker's other queries still find
    the whole pool free (they used to wait for a slot: 8 threads held 8 of its 15)."""
    worker = EndpointStore(store.engine)
    worker.add("churn", "job_a", "lgbm_003", "/data/jobs/job_a/model")
    read, done = threading.Barrier(9), threading.Event()

    def request_thread() -> None:  # a gunicorn thread: it lives on after its request
        worker.stamp("churn")
        read.wait()
        done.wait()

    threads = [threading.Thread(target=request_thread) for _ in range(8)]
    for thread in threads:
        thread.start()
    read.wait()
    try:
        assert store.engine.pool.checkedout() == 0
        assert worker.get("churn")["job_id"] == "job_a"
    finally:
        done.set()
        for thread in threads:
            thread.join()


def test_a_stamp_read_that_is_not_a_broken_connection_is_not_retried(store):
    """A mistake of ours (here a bad query) is not a broken connection: the driver's error
    comes out at once, and the connection is kept rather than thrown away and opened again."""
    worker = EndpointStore(store.engine)
    assert worker.stamp("churn") is None
    kept = worker._stamps._local.held
    worker._stamps.sql = "SELECT nothing FROM nowhere"
    with pytest.raises(store.engine.dialect.loaded_dbapi.Error):
        worker.stamp("churn")
    assert worker._stamps._local.held is kept


def test_endpoint_names_are_unique_under_races(store):
    endpoints = EndpointStore(store.engine)
    outcomes: list[str] = []

    def create():
        try:
            endpoints.add("same-name", "job_a", "c", "/p")
            outcomes.append("created")
        except EndpointExists:
            outcomes.append("exists")

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created", "exists", "exists", "exists"]


@pytest.mark.parametrize("name", ["a", "A-1", "x--y", "a" * 63, "0abc"])
def test_sagemaker_names_are_accepted(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "a_b", "a.b", "a" * 64, "a b", "é", "a/b"])
def test_other_names_are_rejected(name):
    with pytest.raises(InvalidEndpointName, match="letters, digits and hyphens"):
        check_name(name)


FACTS = {"metric": "auc", "score": 0.9, "input_schema": {"target": "y", "columns": []}}


def test_every_change_is_a_numbered_version_newest_first(store):
    endpoints = EndpointStore(store.engine)
    endpoints.add("hist", "job_a", "lgbm_003", "/p/a", FACTS)
    endpoints.repoint("hist", "job_b", "rf_001", "/p/b", {**FACTS, "score": 0.8})
    endpoints.repoint("hist", "job_a", "lgbm_003", "/p/a", FACTS, action="rollback",
                      source_version=1)
    versions = endpoints.versions("hist")
    assert [(v["version"], v["action"], v["job_id"]) for v in versions] == [
        (3, "rollback", "job_a"), (2, "repoint", "job_b"), (1, "deploy", "job_a")]
    assert versions[0]["source_version"] == 1 and versions[1]["score"] == 0.8
    assert endpoints.users_of_job("job_b") == {"hist": [2]}
    assert endpoints.users_of_job("job_a") == {"hist": [1, 3]}
    with pytest.raises(VersionNotFound, match="no version 9; its versions are 1, 2, 3"):
        endpoints.version("hist", 9)
    with pytest.raises(Conflict, match="serves"):
        endpoints.remove_version("hist", 3)
    endpoints.remove_version("hist", 2)
    assert endpoints.users_of_job("job_b") == {}
    endpoints.remove("hist")
    assert endpoints.users_of_job("job_a") == {}


def test_an_endpoint_from_before_versions_gets_its_history_on_first_change(store):
    """A store made before versions: the endpoint row exists, its versions table is empty."""
    endpoints = EndpointStore(store.engine)
    endpoints.add("old", "job_a", "c1", "/p/a")
    with store.engine.begin() as conn:
        conn.execute(delete(endpoint_versions))
    assert [(v["version"], v["job_id"]) for v in endpoints.versions("old")] == [(1, "job_a")]
    endpoints.repoint("old", "job_b", "c2", "/p/b", FACTS, current_facts={"metric": "rmse"})
    versions = endpoints.versions("old")
    assert [(v["version"], v["job_id"], v["metric"]) for v in versions] == [
        (2, "job_b", "auc"), (1, "job_a", "rmse")]


def test_the_versions_table_is_added_to_an_existing_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = JobStore(url)
    tables.endpoint_versions.drop(old.engine, checkfirst=True)
    tables.metadata.create_all(old.engine, tables=[tables.endpoints])
    with old.engine.begin() as conn:
        conn.execute(insert(tables.endpoints).values(name="legacy", job_id="job_a", candidate_id="c",
                                                     bundle_path="/p", created_at=1.0,
                                                     updated_at=1.0))
    old.dispose()
    store = JobStore(url)
    store.create_schema()
    endpoints = EndpointStore(store.engine)
    endpoints.repoint("legacy", "job_b", "c", "/q")
    assert [v["version"] for v in endpoints.versions("legacy")] == [2, 1]
    store.dispose()


def test_concurrent_repoints_get_distinct_version_numbers(store):
    endpoints = EndpointStore(store.engine)
    endpoints.add("busy", "job_a", "c", "/p")
    errors: list[Exception] = []

    def repoint(i):
        try:
            endpoints.repoint("busy", f"job_{i}", "c", "/p")
        except Exception as exc:  # noqa: BLE001 - any failure fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=repoint, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = endpoints.versions("busy")
    assert [v["version"] for v in versions] == [5, 4, 3, 2, 1]
    assert endpoints.get("busy")["job_id"] == versions[0]["job_id"], "the newest version is served"
