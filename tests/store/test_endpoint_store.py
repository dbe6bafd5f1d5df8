"""The endpoint storage case, run against every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import pytest

from automl.store.endpoints import (
    EndpointExists,
    EndpointNotFound,
    EndpointStore,
    InvalidEndpointName,
    check_name,
)


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
