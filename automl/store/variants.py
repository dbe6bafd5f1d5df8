"""An endpoint's variants in SQL, as SageMaker's production variants plus at most one shadow.

An endpoint without rows in ``endpoint_variants`` has one variant, :data:`PRIMARY`, serving the
endpoints row's model. Adding a variant writes the primary's row too (model columns NULL: its
model stays the endpoints row's, which PUT, rollback and versions change). Every change moves the
endpoint's ``updated_at`` forward in the same transaction, so every worker reloads the set, and
a promotion (the variant's model becomes the endpoint's, as a new version, and the other variants
go) is one transaction: a crash leaves the old set or the new one.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from automl.exceptions import Conflict, InvalidRequest, NotFound
from automl.store.endpoints import EndpointStore, check_name, lock, touch
from automl.store.tables import endpoint_variants

PRIMARY = "AllTraffic"
PRODUCTION, SHADOW = "production", "shadow"


class VariantNotFound(NotFound):
    code = "variant_not_found"


class VariantExists(Conflict):
    code = "variant_exists"


class VariantStore:
    """Variants of endpoints; rows as plain dicts with ``primary`` set on the primary's."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.endpoints = EndpointStore(engine)

    def list(self, name: str) -> list[dict]:
        """The endpoint's variants, the primary first (its model from the endpoints row)."""
        with self.engine.connect() as conn:
            row = self.endpoints.get(name)
            return _variants(conn, row)

    def add(self, name: str, variant: str, role: str, weight: float, job_id: str,
            candidate_id: str, bundle_path: str, also=None) -> list[dict]:
        """Add a production variant (``weight`` relative to the others) or the shadow
        (``weight``: the share of requests it gets a copy of, 0 to 1). ``also(conn)``, when
        given, runs in the same transaction first and may refuse by raising."""
        check_name(variant)
        values = {"endpoint": name, "variant": variant, "role": role, "weight": float(weight),
                  "job_id": job_id, "candidate_id": candidate_id, "bundle_path": str(bundle_path),
                  "created_at": time.time()}
        try:
            with self.engine.begin() as conn:
                old = touch(conn, name)
                if also is not None:
                    also(conn)
                current = _variants(conn, old)
                _refuse_taken(name, variant, role, current)
                if len(current) == 1:
                    conn.execute(insert(endpoint_variants).values(_primary_row(name, 1.0)))
                conn.execute(insert(endpoint_variants).values(**values))
        except IntegrityError:
            raise VariantExists(f"endpoint '{name}' already has a variant named '{variant}'; "
                                "choose another name", {"name": name, "variant": variant}) from None
        return self.list(name)

    def get(self, name: str, variant: str) -> dict:
        """One variant of the endpoint; :class:`VariantNotFound` naming the variants there are."""
        current = {v["variant"]: v for v in self.list(name)}
        _known(name, variant, current)
        return current[variant]

    def check_free(self, name: str, variant: str, role: str, replacing: str | None = None) -> None:
        """Refuse, as :meth:`add` would, a variant name that is invalid or taken, or a second
        shadow; ``replacing`` names a variant that will be removed first."""
        check_name(variant)
        _refuse_taken(name, variant, role,
                      [v for v in self.list(name) if v["variant"] != replacing])

    def set_weights(self, name: str, weights: dict[str, float]) -> list[dict]:
        """Change production weights at once (names not given keep theirs); the result must
        send traffic somewhere."""
        with self.engine.begin() as conn:
            old = touch(conn, name)
            current = {v["variant"]: v for v in _variants(conn, old)}
            _check_weights(name, weights, current)
            if len(current) == 1:
                conn.execute(insert(endpoint_variants).values(_primary_row(name, 1.0)))
            for variant, weight in weights.items():
                conn.execute(update(endpoint_variants).where(
                    endpoint_variants.c.endpoint == name, endpoint_variants.c.variant == variant)
                    .values(weight=float(weight)))
        return self.list(name)

    def remove(self, name: str, variant: str) -> list[dict]:
        """Remove a variant other than the primary (which ``promote`` replaces)."""
        with self.engine.begin() as conn:
            old = touch(conn, name)
            current = {v["variant"]: v for v in _variants(conn, old)}
            _known(name, variant, current)
            if current[variant]["primary"]:
                raise Conflict(f"'{variant}' is the primary variant of endpoint '{name}'; "
                               "promote another variant to replace it",
                               {"name": name, "variant": variant})
            rest = [v for v in current.values() if v["variant"] != variant and not v["primary"]]
            if not any(v["role"] == PRODUCTION for v in rest) and current[PRIMARY]["weight"] <= 0:
                raise InvalidRequest(f"removing '{variant}' would leave endpoint '{name}' no "
                                     "traffic (its primary's weight is 0); raise that first",
                                     {"name": name, "variant": variant})
            conn.execute(delete(endpoint_variants).where(
                endpoint_variants.c.endpoint == name, endpoint_variants.c.variant == variant))
            if not rest:
                _clear(conn, name)
        return self.list(name)

    def promote(self, name: str, variant: str, facts: dict | None,
                current_facts: dict | None) -> dict:
        """Serve ``variant``'s model as the endpoint's only one: a new version (``promote``)
        and the variants removed, in one transaction. Returns the endpoint row."""
        target = {v["variant"]: v for v in self.list(name)}
        _known(name, variant, target)
        chosen = target[variant]
        if chosen["primary"]:
            raise Conflict(f"'{variant}' is already the primary variant of endpoint '{name}'",
                           {"name": name, "variant": variant})

        def check_and_clear(conn: Connection) -> None:
            now = {v["variant"]: v for v in _variants(conn, lock(conn, name))}
            if now.get(variant, {}).get("bundle_path") != chosen["bundle_path"]:
                raise Conflict(f"the variants of endpoint '{name}' changed meanwhile; try again",
                               {"name": name, "variant": variant})
            _clear(conn, name)

        return self.endpoints.repoint(name, chosen["job_id"], chosen["candidate_id"],
                                      chosen["bundle_path"], facts, action="promote",
                                      current_facts=current_facts, also=check_and_clear)


def _variants(conn: Connection, row: dict) -> list[dict]:
    name = row["name"]
    found = [dict(r) for r in conn.execute(
        select(endpoint_variants).where(endpoint_variants.c.endpoint == name)
        .order_by(endpoint_variants.c.created_at, endpoint_variants.c.variant)).mappings()]
    primary = next((r for r in found if r["job_id"] is None), _primary_row(name, 1.0))
    primary = {**primary, "job_id": row["job_id"], "candidate_id": row["candidate_id"],
               "bundle_path": row["bundle_path"], "primary": True}
    return [primary] + [{**r, "primary": False} for r in found if r["job_id"] is not None]


def _primary_row(name: str, weight: float) -> dict:
    return {"endpoint": name, "variant": PRIMARY, "role": PRODUCTION, "weight": weight,
            "job_id": None, "candidate_id": None, "bundle_path": None, "created_at": 0.0}


def _clear(conn: Connection, name: str) -> None:
    conn.execute(delete(endpoint_variants).where(endpoint_variants.c.endpoint == name))


def _known(name: str, variant: str, current: dict) -> None:
    if variant not in current:
        raise VariantNotFound(f"endpoint '{name}' has no variant '{variant}'; its variants are "
                              f"{', '.join(current)}", {"name": name, "variant": variant,
                                                        "variants": list(current)})


def _refuse_taken(name: str, variant: str, role: str, current: list[dict]) -> None:
    if any(v["variant"] == variant for v in current):
        raise VariantExists(f"endpoint '{name}' already has a variant named '{variant}'; choose "
                            "another name", {"name": name, "variant": variant})
    shadow = next((v["variant"] for v in current if v["role"] == SHADOW), None)
    if role == SHADOW and shadow is not None:
        raise Conflict(f"endpoint '{name}' already has a shadow variant ('{shadow}'); remove it "
                       "or promote it first", {"name": name, "shadow": shadow})


def _check_weights(name: str, weights: dict[str, float], current: dict[str, dict]) -> None:
    for variant in weights:
        _known(name, variant, current)
        if current[variant]["role"] != PRODUCTION:
            raise InvalidRequest(f"'{variant}' is the shadow of endpoint '{name}': it has a "
                                 "share of copied traffic, not a weight",
                                 {"name": name, "variant": variant})
    total = sum(weights.get(n, v["weight"]) for n, v in current.items() if v["role"] == PRODUCTION)
    if total <= 0:
        raise InvalidRequest(f"the weights of endpoint '{name}' would sum to 0, so no variant "
                             "would get traffic; give at least one a positive weight",
                             {"name": name, "weights": weights})
