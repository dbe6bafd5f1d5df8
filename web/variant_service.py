"""What the variant views do: add, weigh, remove and promote variants; route invocations.

Each web worker keeps one :class:`~automl.serving.variants.Route` per endpoint, keyed by the
endpoint row's ``updated_at`` (every variant change moves it, as a PUT does), so a change made
through one worker is followed by every other on its next request. Per-variant requests,
errors, latency and shadow agreement are Prometheus metrics (``prometheus_client``; under
gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set, every worker's are added up).
"""

from __future__ import annotations

import sys
import threading

from automl import endpoint_metrics
from automl.serving.compat import check_schema, facts
from automl.serving.inflight import InFlight, board_path
from automl.serving.shadows import ShadowClient, address
from automl.serving.variants import Route, ShadowResult, ShadowRunner, Variant
from automl.store.variants import PRIMARY, PRODUCTION, SHADOW, VariantStore
from web.endpoint_schemas import VariantCreate, VariantWeights
from web.endpoint_service import Endpoints


class Variants:
    """Variant operations over the store, and this worker's routes and shadow runner."""

    def __init__(self, endpoints: Endpoints):
        self.endpoints = endpoints
        self.store = VariantStore(endpoints.store.engine)
        self.shadows = shadow_answerer(endpoints)
        self._routes: dict[str, tuple[float, Route]] = {}
        self._lock = threading.Lock()

    # routing --------------------------------------------------------------------------------
    def route(self, name: str) -> Route:
        """What ``name`` serves now: its production variants and shadow, bundles loaded.
        Each request reads only the endpoint's ``updated_at`` (:meth:`EndpointStore.stamp`);
        the variants are read again when it moved. An endpoint deleted (by any worker) leaves
        nothing behind in this one: route, bundles, capture writers."""
        cached = self._routes.get(name)
        stamp = self.endpoints.store.stamp(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        if cached is not None and stamp is None:
            self._forget(name)
        row = self.endpoints._row(name)
        rows = self.store.list(name)
        load = self.endpoints.cache.load
        production = tuple(Variant(v["variant"], v["weight"], load(v["bundle_path"]))
                           for v in rows if v["role"] == PRODUCTION)
        shadow = next((Variant(v["variant"], v["weight"], self._shadow_bundle(v["bundle_path"]),
                               v["bundle_path"]) for v in rows if v["role"] == SHADOW), None)
        route = Route(production, shadow)
        with self._lock:
            if cached is None or cached[0] < row["updated_at"]:
                self._routes[name] = (row["updated_at"], route)
        return route

    def _forget(self, name: str) -> None:
        with self._lock:
            self._routes.pop(name, None)
        self.endpoints.observer.forget(name)
        self.endpoints.cache.forget(name)

    def _shadow_bundle(self, path: str):
        """The shadow's bundle when this process answers it; a shadow process loads its own
        (None here: a worker does not hold a model it never runs)."""
        return self.endpoints.cache.load(path) if isinstance(self.shadows, ShadowRunner) else None

    def answered(self, name: str, variant: str, status: int, seconds: float) -> None:
        """Count one production answer of ``variant``."""
        answered(name, variant, status, seconds)

    # operations -----------------------------------------------------------------------------
    def list(self, name: str) -> dict:
        """The endpoint's variants with what each has answered so far."""
        stats = variant_stats(name)
        return {"endpoint": name, "variants": [
            _view(v, stats.get(v["variant"], {})) for v in self.store.list(
                self.endpoints._row(name)["name"])]}

    def add(self, name: str, body: VariantCreate) -> dict:
        """Add a production variant or the shadow; a model reading other columns than the
        primary's needs ``accept_schema_change``."""
        self.endpoints._row(name)
        job_id, cid, path = self.endpoints._bundle_path(body.job_id, body.candidate_id)
        bundle = self.endpoints.cache.load(str(path))
        primary = facts(self.endpoints.bundle(name))["input_schema"]
        check_schema(name, primary, facts(bundle)["input_schema"], body.accept_schema_change)
        weight = body.share if body.role == SHADOW else body.weight
        self.store.add(name, body.name, body.role, weight, job_id, cid, str(path))
        if body.role == SHADOW and isinstance(self.shadows, ShadowClient):
            self.shadows.start()  # up before the first copy, which it would otherwise miss
        return self.list(name)

    def set_weights(self, name: str, body: VariantWeights) -> dict:
        self.store.set_weights(self.endpoints._row(name)["name"], body.weights)
        return self.list(name)

    def remove(self, name: str, variant: str) -> dict:
        self.store.remove(self.endpoints._row(name)["name"], variant)
        return self.list(name)

    def promote(self, name: str, variant: str) -> dict:
        """Serve ``variant``'s model alone, as a new version of the endpoint (one transaction)."""
        chosen = {v["variant"]: v for v in self.store.list(self.endpoints._row(name)["name"])}
        path = chosen.get(variant, {}).get("bundle_path")
        new = facts(self.endpoints.cache.load(path)) if path else None
        current = facts(self.endpoints.bundle(name))
        row = self.store.promote(name, variant, new, current)
        self.endpoints.cache.get(row)
        return self.endpoints.view(row)


def shadow_answerer(endpoints: Endpoints) -> ShadowRunner | ShadowClient:
    """Where this worker's shadow copies are answered: in a shadow process of its own at the
    lowest CPU priority when the workers share their metrics (``automl serve``: gunicorn with
    ``PROMETHEUS_MULTIPROC_DIR``), else (one process: tests) in a thread of this process."""
    if endpoint_metrics.multiprocess_dir() is None:
        observer = endpoints.observer
        return ShadowRunner(lambda result: record_shadow(observer, result), shadow_dropped)
    data_dir = endpoints.service.settings.data_dir
    return ShadowClient(address(data_dir), [sys.executable, "-m", "web.shadow_process"],
                        shadow_dropped, InFlight(board_path(data_dir)))


def answered(name: str, variant: str, status: int, seconds: float) -> None:
    """Count one answer of ``variant`` (production or shadow)."""
    endpoint_metrics.VARIANT_REQUESTS.labels(
        name, variant, "ok" if status < 400 else "error").inc()
    endpoint_metrics.VARIANT_LATENCY.labels(name, variant).observe(seconds)


def record_shadow(observer, result: ShadowResult) -> None:
    """Count the shadow's answer and its agreement; capture it under the shadow's name with
    the production request's inference id, so the two can be joined. The answer is counted
    last: whoever sees it counted sees its capture and compared rows too."""
    if result.answer.status == 200:
        observer.capture(result.endpoint, result.body, result.content_type, result.answer.body,
                         result.answer.content_type, result.inference_id, result.variant)
    rows = endpoint_metrics.SHADOW_ROWS
    rows.labels(result.endpoint, result.variant, "agree").inc(result.agreed)
    rows.labels(result.endpoint, result.variant, "disagree").inc(result.rows - result.agreed)
    answered(result.endpoint, result.variant, result.answer.status, result.seconds)


def shadow_dropped(name: str, variant: str) -> None:
    """Count one copy the shadow never answered (its queue was full, or it was not running)."""
    endpoint_metrics.VARIANT_REQUESTS.labels(name, variant, "dropped").inc()


def _view(row: dict, stats: dict) -> dict:
    shadow = row["role"] == SHADOW
    return {"name": row["variant"], "role": row["role"], "primary": row["primary"],
            "weight": None if shadow else row["weight"], "share": row["weight"] if shadow else None,
            "job_id": row["job_id"], "candidate_id": row["candidate_id"],
            "requests": int(stats.get("ok", 0) + stats.get("error", 0)),
            "errors": int(stats.get("error", 0)), "dropped": int(stats.get("dropped", 0)),
            "mean_latency_ms": (1000 * stats["latency_sum"] / stats["latency_count"]
                                if stats.get("latency_count") else None),
            "agreement": (stats.get("agree", 0) / stats["rows"] if stats.get("rows") else None),
            "compared_rows": int(stats.get("rows", 0))}


def variant_stats(name: str) -> dict[str, dict[str, float]]:
    """Per variant of ``name``: answers by outcome, latency sum and count, shadow rows and
    agreeing rows, over every worker of this service."""
    found: dict[str, dict[str, float]] = {}
    for metric in endpoint_metrics.collect():
        for sample in metric.samples:
            labels = sample.labels
            if labels.get("endpoint") != name or "variant" not in labels:
                continue
            into = found.setdefault(labels["variant"], {})
            key = _stat_key(sample.name, labels)
            if key is not None:
                into[key] = into.get(key, 0.0) + sample.value
                if key in ("agree", "disagree"):
                    into["rows"] = into.get("rows", 0.0) + sample.value
    return found


def _stat_key(sample: str, labels: dict) -> str | None:
    if sample == "automl_variant_requests_total":
        return labels["outcome"]
    if sample == "automl_variant_latency_seconds_sum":
        return "latency_sum"
    if sample == "automl_variant_latency_seconds_count":
        return "latency_count"
    if sample == "automl_shadow_rows_total":
        return labels["outcome"]
    return None


__all__ = ["PRIMARY", "Variants", "record_shadow", "shadow_dropped", "variant_stats"]
