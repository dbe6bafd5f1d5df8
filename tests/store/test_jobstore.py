"""The storage test case, run against every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import pytest

from automl.exceptions import NotFound
from automl.store import CANCELLED, COMPLETED, FAILED, INTERRUPTED, QUEUED, RUNNING


def add_dataset(store) -> dict:
    return store.add_dataset({"name": "d.csv", "path": "/tmp/d.csv", "size_bytes": 10, "n_rows": 2,
                              "columns": [{"name": "a", "dtype": "int64"}]})


def add_job(store, dataset_id: str) -> dict:
    return store.create_job(dataset_id, "a", {"time_budget": 10.0, "seed": 0})


def test_datasets_round_trip(store):
    ds = add_dataset(store)
    assert store.get_dataset(ds["id"])["columns"] == [{"name": "a", "dtype": "int64"}]
    assert [d["id"] for d in store.list_datasets()] == [ds["id"]]
    with pytest.raises(NotFound, match="dataset 'ds_x' not found"):
        store.get_dataset("ds_x")


def test_job_lifecycle(store):
    ds = add_dataset(store)
    job = add_job(store, ds["id"])
    assert job["status"] == QUEUED and job["progress"]["trials_completed"] == 0
    claimed = store.claim_next()
    assert claimed["id"] == job["id"] and claimed["status"] == RUNNING and claimed["started_at"]
    assert store.claim_next() is None
    progress = {"trials_completed": 2, "trials_failed": 1, "best_score": 0.9,
                "elapsed_s": 3.0, "remaining_s": 7.0}
    assert store.set_running_fields(job["id"], progress=progress, stage="searching")
    assert store.get_job(job["id"])["progress"] == progress
    assert store.finish(job["id"], COMPLETED)
    assert not store.finish(job["id"], FAILED), "a finished job never changes again"
    done = store.get_job(job["id"])
    assert done["status"] == COMPLETED and done["finished_at"] >= done["started_at"]
    assert not store.set_running_fields(job["id"], stage="late")


def test_jobs_are_claimed_once_and_oldest_first(store):
    ds = add_dataset(store)
    ids = [add_job(store, ds["id"])["id"] for _ in range(6)]
    claimed: list[str] = []

    def worker():
        while (job := store.claim_next()) is not None:
            claimed.append(job["id"])

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)
    assert store.count_jobs(RUNNING) == 6


def test_cancel(store):
    ds = add_dataset(store)
    running = add_job(store, ds["id"])
    assert store.claim_next()["id"] == running["id"]
    queued = add_job(store, ds["id"])
    assert store.request_cancel(queued["id"])["status"] == CANCELLED
    assert not store.cancel_requested(running["id"])
    after = store.request_cancel(running["id"])
    assert after["status"] == RUNNING and after["cancel_requested"] is True
    assert store.cancel_requested(running["id"])
    assert store.finish(running["id"], CANCELLED)


def test_interrupted_jobs_are_failed_with_the_reason(store):
    ds = add_dataset(store)
    job = add_job(store, ds["id"])
    other = add_job(store, ds["id"])
    store.claim_next()
    assert store.fail_interrupted() == [job["id"]]
    row = store.get_job(job["id"])
    assert row["status"] == FAILED and row["error"]["message"] == INTERRUPTED
    assert store.get_job(other["id"])["status"] == QUEUED


def test_trials_are_stored_once_with_json_safe_values(store):
    ds = add_dataset(store)
    job = add_job(store, ds["id"])
    result = {"candidate_id": "lgbm_000", "number": 0, "state": "complete", "score": 0.8,
              "fold_scores": [0.7, float("nan")], "params": {"lr": 0.1}}
    store.add_trial(job["id"], result, 1.5)
    store.add_trial(job["id"], result, 2.5)
    store.add_trial(job["id"], {**result, "candidate_id": "rf_001", "number": 1,
                                "state": "failed", "score": None}, 3.0)
    rows = store.list_trials(job["id"])
    assert [r["candidate_id"] for r in rows] == ["lgbm_000", "rf_001"]
    assert rows[0]["result"]["fold_scores"] == [0.7, None]
    assert store.get_trial(job["id"], "rf_001")["state"] == "failed"
    store.delete_job(job["id"])
    assert store.list_trials(job["id"]) == []
    with pytest.raises(NotFound):
        store.get_job(job["id"])


def test_leased_jobs_are_failed_only_when_their_owner_stops(store):
    from automl.store.leases import Owner

    ds = add_dataset(store)
    mine, theirs, legacy = (add_job(store, ds["id"]) for _ in range(3))
    first, second = Owner("a:1:x", "elsewhere", 1), Owner("b:2:y", "elsewhere", 2)
    assert store.claim_next(first)["id"] == mine["id"]
    assert store.claim_next(second)["id"] == theirs["id"]
    assert store.claim_next()["id"] == legacy["id"]  # a runner from before leases
    assert store.fail_orphaned(lambda lease: False) == [legacy["id"]]
    assert store.fail_orphaned(lambda lease: lease["owner"] == second.id) == [theirs["id"]]
    assert store.get_job(mine["id"])["status"] == RUNNING
    assert store.leases.renew(first, ttl=-1) == 1  # it stopped renewing: the lease runs out
    assert store.fail_orphaned(lambda lease: False) == [mine["id"]]
    assert store.get_job(mine["id"])["error"]["message"] == INTERRUPTED


def test_a_job_leased_by_one_runner_is_not_claimed_by_another(store):
    from automl.store.leases import Owner

    ds = add_dataset(store)
    job = add_job(store, ds["id"])
    assert store.leases.take(job["id"], Owner("a:1:x", "h", 1))
    assert store.claim_next(Owner("b:2:y", "h", 2)) is None
    assert store.get_job(job["id"])["status"] == QUEUED


def test_an_interrupted_job_ends_at_its_runners_last_heartbeat(store):
    import time

    from automl.store.leases import Owner

    ds = add_dataset(store)
    job = add_job(store, ds["id"])
    owner = Owner("a:1:x", "elsewhere", 1)
    store.claim_next(owner)
    store.leases.renew(owner, ttl=-100)  # as if it last renewed (15 s lease) 115 s ago
    assert store.fail_orphaned(lambda lease: False) == [job["id"]]
    assert store.get_job(job["id"])["finished_at"] < time.time() - 100


def test_an_orphaned_job_is_resumed_by_one_runner_with_the_time_it_lost(store):
    import time

    from automl.store.leases import Owner

    ds = add_dataset(store)
    job = add_job(store, ds["id"])
    dead = Owner("a:1:x", "elsewhere", 1)
    started = store.claim_next(dead)["started_at"]
    store.leases.renew(dead, ttl=-100)  # its runner last renewed (15 s lease) 115 s ago
    racers = [Owner(f"b:{i}:y", "elsewhere", 2 + i) for i in range(4)]
    taken = []
    threads = [threading.Thread(target=lambda o=o: taken.append(
        store.take_orphans(o, lambda lease: False, limit=1))) for o in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == [([], [])] * 3 + [([job["id"]], [])]
    again = store.get_job(job["id"])
    assert again["status"] == RUNNING and again["stage"] == "resuming"
    (resume,) = store.resumes(job["id"])
    assert resume["lost_s"] > 100
    assert again["started_at"] == pytest.approx(started + resume["lost_s"])
    assert store.take_orphans(racers[0], lambda lease: False, limit=1) == ([], [])
    assert time.time() - again["started_at"] < 20  # the budget clock has the 115 s back


def test_a_job_resumed_too_often_fails_and_a_cancelled_one_is_cancelled(store):
    from automl.store import MAX_RESUMES
    from automl.store.leases import Owner

    ds = add_dataset(store)
    job, cancelled = add_job(store, ds["id"]), add_job(store, ds["id"])
    store.claim_next(), store.claim_next()  # runners from before leases
    store.request_cancel(cancelled["id"])
    gone = lambda lease: True  # noqa: E731 - every owner died
    for i in range(MAX_RESUMES):
        resumed, ended = store.take_orphans(Owner(f"r:{i}:x", "h", i), gone, limit=2)
        assert resumed == [job["id"]] and ended == ([cancelled["id"]] if i == 0 else [])
    assert store.take_orphans(Owner("r:9:x", "h", 9), gone, limit=2) == ([], [job["id"]])
    assert store.get_job(cancelled["id"])["status"] == CANCELLED
    failed = store.get_job(job["id"])
    assert failed["status"] == FAILED and failed["error"]["message"].startswith(INTERRUPTED)
    assert "not resumed again" in failed["error"]["message"]
