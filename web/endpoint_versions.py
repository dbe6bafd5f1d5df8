"""Versions of an endpoint as the API shows them. What a version records of its model, and
the input-schema guard on repoints, are in :mod:`automl.serving.compat`."""

from __future__ import annotations

from automl.exceptions import Conflict
from automl.serving.compat import schema_changes
from web.core import iso


class VersionUnavailable(Conflict):
    """A version's model files are gone, so it cannot be served again."""

    code = "version_unavailable"


def version_view(row: dict, current: dict) -> dict:
    """A version as the API shows it (never its bundle's path); ``current`` is the served one."""
    name, number = row["endpoint"], row["version"]
    return {"version": number, "action": row["action"], "source_version": row["source_version"],
            "current": number == current["version"], "job_id": row["job_id"],
            "candidate_id": row["candidate_id"], "metric": row["metric"], "score": row["score"],
            "input_schema": row["input_schema"], "created_at": iso(row["created_at"]),
            "schema_changes": (None if number == current["version"] else
                               schema_changes(current["input_schema"], row["input_schema"])),
            "links": {"rollback": f"/api/v1/endpoints/{name}/rollback",
                      "job": f"/api/v1/jobs/{row['job_id']}"}}
