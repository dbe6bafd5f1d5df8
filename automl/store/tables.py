"""The job store's tables (SQLAlchemy Core), identical on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

datasets = Table(
    "datasets", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("path", Text, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("columns", JSON, nullable=False),
    Column("warnings", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
)

jobs = Table(
    "jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("dataset_id", String(32), ForeignKey("datasets.id"), nullable=False),
    Column("target", String(255), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("stage", String(32), nullable=True),
    Column("settings", JSON, nullable=False),
    Column("progress", JSON, nullable=False),
    Column("metric", String(32), nullable=True),
    Column("greater_is_better", Boolean, nullable=True),
    Column("profile", JSON, nullable=True),
    Column("error", JSON, nullable=True),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("artifact_dir", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
)

trials = Table(
    "trials", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("candidate_id", String(128), nullable=False),
    Column("number", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("score", Float, nullable=True),
    Column("elapsed_s", Float, nullable=False),
    Column("result", JSON, nullable=False),
    Index("ix_trials_job_candidate", "job_id", "candidate_id", unique=True),
)

endpoints = Table(
    "endpoints", metadata,
    Column("name", String(63), primary_key=True),
    Column("job_id", String(32), nullable=False, index=True),
    Column("candidate_id", String(128), nullable=False),
    Column("bundle_path", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Every deploy, repoint and rollback of an endpoint: the history a rollback picks from. A table
# of its own (not columns on ``endpoints``), so stores made before it get it from create_all;
# an endpoint made before it has no rows here until its first change (see EndpointStore).
endpoint_versions = Table(
    "endpoint_versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("endpoint", String(63), nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(16), nullable=False),
    Column("source_version", Integer, nullable=True),
    Column("job_id", String(32), nullable=False, index=True),
    Column("candidate_id", String(128), nullable=False),
    Column("bundle_path", Text, nullable=False),
    Column("metric", String(32), nullable=True),
    Column("score", Float, nullable=True),
    Column("input_schema", JSON, nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_endpoint_versions_endpoint_version", "endpoint", "version", unique=True),
)

# The variants of an endpoint besides its primary one (SageMaker's production variants and one
# shadow). No rows: one variant serves everything, the endpoints row's model. With rows, the
# primary is the row whose model columns are NULL (the endpoints row's model), with its weight.
endpoint_variants = Table(
    "endpoint_variants", metadata,
    Column("endpoint", String(63), primary_key=True),
    Column("variant", String(63), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("weight", Float, nullable=False),
    Column("job_id", String(32), nullable=True, index=True),
    Column("candidate_id", String(128), nullable=True),
    Column("bundle_path", Text, nullable=True),
    Column("created_at", Float, nullable=False),
)

# A runner owns each job it runs by a lease it renews (heartbeat); a job whose lease ran out,
# or whose owner on this host is gone, is failed by any runner on the store. A table of its
# own, so that stores made before leases get it from create_all without a migration.
leases = Table(
    "leases", metadata,
    Column("job_id", String(32), primary_key=True),
    Column("owner", String(128), nullable=False, index=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Monitoring of an endpoint (issue 14), in tables of their own so that the endpoints table (and
# stores made before monitoring) are untouched: create_all adds them.
endpoint_monitoring = Table(
    "endpoint_monitoring", metadata,
    Column("name", String(63), primary_key=True),
    Column("capture_percent", Float, nullable=False),
    Column("interval_s", Integer, nullable=False),
    Column("webhook_url", Text, nullable=True),
    Column("next_run_at", Float, nullable=True, index=True),
    Column("stopped_reason", Text, nullable=True),
    Column("updated_at", Float, nullable=False),
    # added later (upgrade.add_missing_columns): the automatic retraining's request, NULL: none
    Column("retrain", JSON, nullable=True),
)

monitoring_runs = Table(
    "monitoring_runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("endpoint", String(63), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("since", String(16), nullable=True),
    Column("until", String(16), nullable=True),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("summary", JSON, nullable=True),
    Column("error", JSON, nullable=True),
    Column("webhook", JSON, nullable=True),
    # added after the table: stores made before get it from upgrade.add_missing_columns, and
    # their rows keep NULL, which means the primary variant (the only one monitored then)
    Column("variant", String(63), nullable=True),
    Index("ix_monitoring_runs_endpoint", "endpoint", "started_at"),
)

# Cumulative request counters of an endpoint, snapshotted by the runner once a minute from the
# web workers' Prometheus files: traffic, errors and latency over time are their differences.
endpoint_traffic = Table(
    "endpoint_traffic", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("endpoint", String(63), nullable=False),
    Column("at", Float, nullable=False),
    Column("requests", Float, nullable=False),
    Column("errors", Float, nullable=False),
    Column("latency_buckets", JSON, nullable=False),
    Index("ix_endpoint_traffic_endpoint", "endpoint", "at"),
)

# One row per time a runner took over a running job whose runner had died (DESIGN 3, job
# lifecycle): when, and the seconds the job lost, which its budget gets back. A table of its
# own for the same reason as leases.
resumes = Table(
    "resumes", metadata,
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("at", Float, nullable=False),
    Column("lost_s", Float, nullable=False),
)
