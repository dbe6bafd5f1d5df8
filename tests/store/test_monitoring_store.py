"""The monitoring tables, run against every backend (SQLite and PostgreSQL): settings and the
schedule's compare-and-set claim, runs, traffic snapshots and the figures made from them."""

from __future__ import annotations

import time

import pytest

from automl.store.monitoring import DONE, ENDPOINT_DELETED, MonitoringRunNotFound, MonitoringStore
from web.monitoring_data import traffic


def test_schedule_claim_is_taken_once_and_stops_with_a_reason(store):
    monitoring = MonitoringStore(store.engine)
    started = monitoring.start("churn", 50.0, 3600, None)
    assert started["next_run_at"] > time.time() + 3000 and not monitoring.due()
    monitoring.change("churn", interval_s=10, capture_percent=20.0)
    assert monitoring.settings("churn")["capture_percent"] == 20.0
    (due,) = monitoring.due(time.time() + 11)
    assert monitoring.claim(due) and not monitoring.claim(due), "a second runner finds it taken"
    assert not monitoring.due(time.time() + 5)
    monitoring.stop("churn", ENDPOINT_DELETED)
    row = monitoring.settings("churn")
    assert row["next_run_at"] is None and row["stopped_reason"] == ENDPOINT_DELETED
    assert not monitoring.due(time.time() + 10**6)
    assert monitoring.start("churn", 100.0, 60)["stopped_reason"] is None, "a new endpoint"


def test_runs_round_trip_and_feed_the_drift_gauge(store):
    monitoring = MonitoringStore(store.engine)
    first = monitoring.add_run("churn", "schedule", "2026/12/02/10", "2026/12/02/11")
    monitoring.finish_run(first["id"], DONE, summary={"verdict": "ok", "max_drift_score": 0.05,
                                                     "drift_scores": {"age": 0.05}})
    second = monitoring.add_run("churn", "on_demand", None, None)
    monitoring.finish_run(second["id"], DONE, summary={"verdict": "violations",
                                                      "max_drift_score": 0.7,
                                                      "drift_scores": {"age": 0.7}})
    monitoring.record_webhook(second["id"], {"delivered": True, "attempts": 1})
    assert [r["id"] for r in monitoring.runs("churn")] == [second["id"], first["id"]]
    assert monitoring.run("churn", second["id"])["webhook"]["delivered"] is True
    assert monitoring.last_scores() == {"churn": 0.7}
    with pytest.raises(MonitoringRunNotFound):
        monitoring.run("other", first["id"])


def test_traffic_bins_come_from_snapshot_differences(store):
    monitoring = MonitoringStore(store.engine)
    now = time.time()
    buckets = lambda fast, total: {"0.005": fast, "0.01": total, "+Inf": total}  # noqa: E731
    monitoring.add_traffic([
        {"endpoint": "churn", "at": now - 300, "requests": 10, "errors": 0,
         "latency_buckets": buckets(10, 10)},
        {"endpoint": "churn", "at": now - 200, "requests": 110, "errors": 5,
         "latency_buckets": buckets(60, 110)},
        {"endpoint": "churn", "at": now - 100, "requests": 20, "errors": 0,  # restarted
         "latency_buckets": buckets(20, 20)}])
    data = traffic(monitoring, "churn", hours=1)
    assert sum(b["requests"] for b in data["bins"]) == 120
    assert sum(b["errors"] for b in data["bins"]) == 5
    slow = next(b for b in data["bins"] if b["errors"])
    assert slow["p50_ms"] == pytest.approx(5.0) and 5.0 < slow["p99_ms"] <= 10.0
    monitoring.prune_traffic(now)
    assert traffic(monitoring, "churn", hours=1)["bins"] == []



def test_an_older_store_gets_the_variant_column_and_its_runs_are_the_primary_s(store):
    """A store made before variants were monitored: its runs table lacks ``variant``;
    create_schema adds it, and the old rows read as the primary's runs."""
    from sqlalchemy import Column, MetaData, Table, insert

    from automl.store.tables import monitoring_runs

    old = Table("monitoring_runs", MetaData(),
                *[Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
                  for c in monitoring_runs.columns if c.name != "variant"])
    with store.engine.begin() as conn:
        monitoring_runs.drop(conn)
        old.create(conn)
        conn.execute(insert(old).values(id="mon_old", endpoint="churn", trigger="schedule",
                                        status=DONE, started_at=1.0,
                                        summary={"verdict": "ok", "max_drift_score": 0.2}))
    store.create_schema()
    store.create_schema()  # again: nothing left to add
    monitoring = MonitoringStore(store.engine)
    shadow = monitoring.add_run("churn", "on_demand", None, None, variant="shadow")
    monitoring.finish_run(shadow["id"], DONE, summary={"verdict": "ok", "max_drift_score": 0.9})
    assert monitoring.run("churn", "mon_old")["variant"] == "AllTraffic"
    assert [r["id"] for r in monitoring.runs("churn", variant="AllTraffic")] == ["mon_old"]
    assert [r["id"] for r in monitoring.runs("churn", variant="shadow")] == [shadow["id"]]
    assert {v: r["id"] for v, r in monitoring.latest_by_variant("churn").items()} == {
        "AllTraffic": "mon_old", "shadow": shadow["id"]}
    assert monitoring.last_scores() == {"churn": 0.2}, "the gauge follows the primary"
