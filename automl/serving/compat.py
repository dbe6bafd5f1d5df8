"""Whether a model can take another's place for an endpoint's clients.

A version or variant records what clients depend on: the columns the model reads
(``input_schema``), and what the model is (metric and cross-validated score). Serving a model
that reads other columns is refused, naming them, unless the request accepts the change: old
clients would otherwise get 400s for columns they never sent. Used by the web views and by the
runner when a retrained challenger goes in (:mod:`automl.endpoint_retrain`).
"""

from __future__ import annotations

from automl.exceptions import Conflict
from automl.model.bundle import ModelBundle


class SchemaChange(Conflict):
    """The new model reads other input columns than the one served now."""

    code = "schema_change"


def facts(bundle: ModelBundle) -> dict:
    """What a version records of ``bundle``: metric, CV score, and the input columns."""
    meta = bundle.metadata
    score = meta.get("score")
    return {"metric": meta.get("metric"),
            "score": float(score) if isinstance(score, int | float) else None,
            "input_schema": {"target": bundle.schema.target,
                             "columns": [{"name": c.name, "role": c.role}
                                         for c in bundle.schema.columns]}}


def schema_changes(old: dict | None, new: dict | None) -> dict | None:
    """How ``new`` reads other columns than ``old`` (input schemas as in :func:`facts`):
    ``added`` (clients must now send them), ``removed``, ``changed`` role; ``None`` if the same
    or unknown."""
    if not old or not new:
        return None
    before = {c["name"]: c["role"] for c in old["columns"]}
    after = {c["name"]: c["role"] for c in new["columns"]}
    changes = {"added": [n for n in after if n not in before],
               "removed": [n for n in before if n not in after],
               "changed": [{"name": n, "from": before[n], "to": after[n]}
                           for n in after if n in before and before[n] != after[n]]}
    return changes if any(changes.values()) else None


def check_schema(name: str, old: dict | None, new: dict | None, accept: bool) -> None:
    """:class:`SchemaChange` naming the differing columns, unless they are the same or the
    request accepts the change."""
    changes = schema_changes(old, new)
    if changes is None or accept:
        return
    parts = []
    if changes["added"]:
        parts.append(f"it needs {_names(changes['added'])}, which clients of the current model "
                     "may not send (they would get 400s)")
    if changes["removed"]:
        parts.append(f"it no longer reads {_names(changes['removed'])}")
    if changes["changed"]:
        parts.append("it reads " + ", ".join(f"'{c['name']}' as {c['to']} (was {c['from']})"
                                             for c in changes["changed"]))
    raise SchemaChange(f"the new model of endpoint '{name}' reads other columns than the current "
                       f"one: {'; '.join(parts)}. Send \"accept_schema_change\": true to switch "
                       "anyway", {"name": name, **changes})


def _names(columns: list[str]) -> str:
    shown = ", ".join(f"'{c}'" for c in columns[:10])
    return shown + (f" and {len(columns) - 10} more" if len(columns) > 10 else "")
