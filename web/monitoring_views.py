"""Monitoring of endpoints over HTTP: settings, ground truth, runs, the figures' data (JSON API,
OpenAPI-described), the page's SVG figures, and ``/metrics`` for Prometheus. Views are thin:
the work is in :mod:`automl.endpoint_monitor` and :mod:`web.monitoring_data`."""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    request,
    url_for,
)
from pydantic import ValidationError

from automl import endpoint_metrics
from automl.endpoint_monitor import EndpointMonitor, add_ground_truth
from automl.exceptions import AutoMLError, NotFound
from automl.serving.invocation import PayloadTooLarge, read_body
from automl.store.variants import PRIMARY, VariantStore
from web import monitoring_data
from web.api import spec
from web.endpoint_schemas import (
    Drift,
    GroundTruthAccepted,
    Monitoring,
    MonitoringRun,
    MonitoringRunCreate,
    MonitoringRunList,
    MonitoringUpdate,
    QualityHistory,
    Traffic,
)
from web.endpoint_service import Endpoints
from web.errors import InvalidRequest, error_response
from web.retrain_views import form_fields

api = Blueprint("monitoring_api", __name__, url_prefix="/api/v1")
bp = Blueprint("monitoring", __name__)
FIGURES = ("traffic", "latency", "drift", "worst", "quality")
GROUND_TRUTH_CONTENT = {
    "application/jsonlines": {"schema": {"type": "string"}, "example":
                              '{"groundTruthData": {"data": "1", "encoding": "CSV"}, '
                              '"eventMetadata": {"eventId": "<inference id>"}, '
                              '"eventVersion": "0"}\n'},
    "text/csv": {"schema": {"type": "string"}, "example": "inference_id,label\nabc,1\n"},
}
HOURS = {"hours": {"type": "number", "minimum": 1, "maximum": 8784}}
VARIANT = {"variant": {"type": "string", "description": "default: the primary, AllTraffic"}}


def endpoints() -> Endpoints:
    return current_app.extensions["automl_endpoints"]


def monitor() -> EndpointMonitor:
    ep = endpoints()
    return EndpointMonitor(ep.monitoring_store, ep.service.settings)


def _data_dir() -> str:
    return endpoints().service.settings.data_dir


@spec.route(api, "/endpoints/<name>/monitoring", "GET", summary="An endpoint's monitoring: "
            "capture percentage and counts (dropped records too), schedule, webhook",
            responses={200: Monitoring})
def get_monitoring(name: str):
    return jsonify(endpoints().monitoring(name))


@spec.route(api, "/endpoints/<name>/monitoring", "PATCH", summary="Change an endpoint's capture "
            "percentage, monitoring interval or webhook", body=MonitoringUpdate,
            responses={200: Monitoring})
def patch_monitoring(name: str, body: MonitoringUpdate):
    return jsonify(endpoints().change_monitoring(name, body))


@spec.route(api, "/endpoints/<name>/ground-truth", "POST", summary="Labels of captured requests "
            "by inference id: JSON lines in SageMaker's ground-truth layout, or CSV "
            "inference_id,label; all stored or none", responses={201: GroundTruthAccepted},
            request_content=GROUND_TRUTH_CONTENT)
def ground_truth(name: str):
    bundle = endpoints().bundle(name)
    settings = endpoints().service.settings
    try:
        body = read_body(request.stream, request.content_length, settings.max_upload_bytes,
                         "AUTOML_MAX_UPLOAD_BYTES")
    except PayloadTooLarge as exc:
        return error_response(exc.code, exc.message, exc.details)
    endpoints().observer.flush(2.0)
    return jsonify(add_ground_truth(_data_dir(), name, bundle, body, request.content_type)), 201


@spec.route(api, "/endpoints/<name>/monitoring-runs", "POST", summary="Queue a monitoring "
            "run over the last hours of captured requests (the runner runs it within seconds; "
            "GET the run until its status is completed or failed)", body=MonitoringRunCreate,
            responses={202: MonitoringRun})
def create_run(name: str, body: MonitoringRunCreate):
    variant_store().get(name, body.variant)  # 404 naming the variants there are
    endpoints().observer.flush(2.0)
    run = monitor().request(name, body.hours, body.variant)
    view = monitoring_data.run_view(run, _data_dir())
    return jsonify(view), 202, {"Location": f"/api/v1/endpoints/{name}/monitoring-runs/"
                                            f"{run['id']}"}


@spec.route(api, "/endpoints/<name>/monitoring-runs", "GET", summary="An endpoint's monitoring "
            "runs (of one variant, if given), newest first", responses={200: MonitoringRunList},
            query={"variant": {"type": "string"}})
def list_runs(name: str):
    endpoints().monitoring(name)
    runs = endpoints().monitoring_store.runs(name, variant=_variant(required=False))
    return jsonify({"runs": [monitoring_data.run_view(r, _data_dir()) for r in runs]})


@spec.route(api, "/endpoints/<name>/monitoring-runs/<run_id>", "GET", summary="One monitoring "
            "run with its report and violations (constraint_violations.json)",
            responses={200: MonitoringRun})
def get_run(name: str, run_id: str):
    row = endpoints().monitoring_store.run(name, run_id)
    return jsonify(monitoring_data.run_view(row, _data_dir(), full=True))


@spec.route(api, "/endpoints/<name>/monitoring/traffic", "GET", summary="Requests, errors and "
            "latency quantiles over time (the page's traffic and latency figures)",
            responses={200: Traffic}, query=HOURS)
def traffic(name: str):
    endpoints().get(name)
    return jsonify(monitoring_data.traffic(endpoints().monitoring_store, name, _hours()))


@spec.route(api, "/endpoints/<name>/monitoring/drift", "GET", summary="Drift scores of columns "
            "x runs (the heat map) and the newest run's worst columns against the baseline, of "
            "one variant (default: the primary)", responses={200: Drift}, query=VARIANT)
def drift(name: str):
    endpoints().get(name)
    return jsonify(monitoring_data.drift(endpoints().monitoring_store, _data_dir(), name,
                                         variant=_variant()))


@spec.route(api, "/endpoints/<name>/monitoring/quality", "GET", summary="Model quality of each "
            "run of one variant (default: the primary): measured with ground truth, estimated "
            "(CBPE) without", responses={200: QualityHistory}, query=VARIANT)
def quality(name: str):
    variant = _variant()
    return jsonify(monitoring_data.quality(endpoints().monitoring_store, name,
                                           _cv_score(name, variant), variant=variant))


def _variant(required: bool = True) -> str | None:
    """The ``variant`` query parameter (the primary when absent and ``required``)."""
    raw = request.args.get("variant")
    if raw is None:
        return PRIMARY if required else None
    if not 1 <= len(raw) <= 63:
        raise InvalidRequest("variant must be a variant's name, 1 to 63 characters")
    return raw


def _cv_score(name: str, variant: str) -> float | None:
    """The cross-validated score of the model ``variant`` serves (404 for a variant that is
    not there now)."""
    if variant == PRIMARY:
        return endpoints().bundle(name).metadata.get("score")
    path = variant_store().get(name, variant)["bundle_path"]
    return endpoints().cache.load(path).metadata.get("score")


def variant_store() -> VariantStore:
    return VariantStore(endpoints().store.engine)


def _hours() -> float:
    raw = request.args.get("hours", "24")
    try:
        hours = float(raw)
    except ValueError:
        hours = float("nan")
    if not 1 <= hours <= 8784:
        raise InvalidRequest(f"hours must be a number from 1 to 8784, not {raw!r}")
    return hours


@bp.get("/endpoints/<name>/figures/<figure>.svg")
def figure(name: str, figure: str):
    """One figure of the endpoint page, drawn from the same data the API answers."""
    from web import monitoring_figures

    if figure not in FIGURES or not re.match(r"^[a-z]+$", figure):
        raise NotFound(f"no figure named '{figure}'; there are: {', '.join(FIGURES)}")
    store, variant = endpoints().monitoring_store, _variant()
    if figure in ("traffic", "latency"):
        endpoints().get(name)
        data = monitoring_data.traffic(store, name, _hours())
    elif figure == "quality":
        data = monitoring_data.quality(store, name, _cv_score(name, variant), variant=variant)
    else:
        endpoints().get(name)
        data = monitoring_data.drift(store, _data_dir(), name, variant=variant)
    svg = getattr(monitoring_figures, figure)(data)
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@bp.get("/metrics")
def metrics():
    """Prometheus text format: requests, errors, latency, capture, last drift score."""
    scores = endpoints().monitoring_store.last_scores()
    return Response(endpoint_metrics.exposition(scores),
                    mimetype="text/plain; version=0.0.4; charset=utf-8")


# The endpoint page's forms -------------------------------------------------------------------

def page_context(name: str, limit: int = 20) -> dict:
    """What the endpoint page shows of its monitoring: the newest runs, the primary's newest
    with its violations, and each variant's newest completed run."""
    store = endpoints().monitoring_store
    rows = store.runs(name, limit)
    runs = [monitoring_data.run_view(r, _data_dir()) for r in rows]
    primary = next((r for r in rows if r["variant"] == PRIMARY), None)
    latest = monitoring_data.run_view(primary, _data_dir(), full=True) if primary else None
    newest = store.latest_by_variant(name)
    by_variant = [{"variant": v["variant"], "role": v["role"],
                   "run": monitoring_data.run_view(newest[v["variant"]], _data_dir())
                   if v["variant"] in newest else None}
                  for v in variant_store().list(name)]
    return {"runs": runs, "latest": latest, "variant_runs": by_variant}


@bp.post("/endpoints/<name>/monitoring")
def settings_form(name: str):
    """The page's way to PATCH the monitoring settings."""
    fields = {k: request.form.get(k, "").strip() for k in ("capture_percent", "interval_s",
                                                           "webhook_url")}
    values = {k: v for k, v in fields.items() if v or k == "webhook_url"}
    try:
        endpoints().change_monitoring(name, MonitoringUpdate.model_validate(values))
    except ValidationError as exc:
        wrong = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]}))
        return _page_with_error(name, f"check these settings: {wrong} (capture 0-100 %, "
                                      "interval at least 10 s)")
    except AutoMLError as exc:
        if isinstance(exc, NotFound):
            raise
        return _page_with_error(name, exc.message)
    return redirect(url_for("endpoints.page", name=name) + "#monitoring")


# what each automatic retraining field takes, for the page's error message
AUTO_RETRAIN_HINTS = {"on": "tick drift, quality or both", "min_interval_s": "at least 600 s",
                      "holdout_share": "between 0 and 1", "time_budget": "a positive number "
                      "of seconds", "share": "more than 0, at most 1", "weight": "0 or more",
                      "min_improvement": "0 or more"}


@bp.post("/endpoints/<name>/monitoring/retrain")
def auto_retrain_form(name: str):
    """The page's automatic retraining form: PATCH .../monitoring {"retrain": {...}} with its
    fields, or {"retrain": null} (Stop)."""
    if request.form.get("action") == "clear":
        settings = {"retrain": None}
    else:
        settings = {"retrain": {**form_fields(request.form), "on": request.form.getlist("on"),
                                "min_interval_s": request.form.get("min_interval_s", "").strip()
                                or 86400}}
    try:
        endpoints().change_monitoring(name, MonitoringUpdate.model_validate(settings))
    except ValidationError as exc:
        return _page_with_error(name, "check the automatic retraining: " + _wrong(exc),
                                "auto-retrain")
    except AutoMLError as exc:
        if isinstance(exc, NotFound):
            raise
        return _page_with_error(name, exc.message, "auto-retrain")
    return redirect(url_for("endpoints.page", name=name) + "#auto-retrain-form")


def _wrong(exc: ValidationError) -> str:
    """Each field of a retrain setting that is wrong, with what it takes."""
    fields = sorted({str(part) for e in exc.errors() for part in e["loc"]
                     if str(part) in AUTO_RETRAIN_HINTS})
    if not fields:
        return "; ".join(e["msg"] for e in exc.errors())
    return "; ".join(f"{f}: {AUTO_RETRAIN_HINTS[f]}" for f in fields)


@bp.post("/endpoints/<name>/monitoring-runs")
def run_form(name: str):
    """The page's Run now button (of the variant the form names, else the primary)."""
    variant = request.form.get("variant") or PRIMARY
    variant_store().get(name, variant)
    endpoints().observer.flush(2.0)
    monitor().request(name, variant=variant)
    return redirect(url_for("endpoints.page", name=name) + "#monitoring")


def _page_with_error(name: str, message: str, form: str = "monitoring"):
    """Back to the page, which shows ``message`` by the form (the flash's category)."""
    flash(message, form)
    return redirect(url_for("endpoints.page", name=name) + "#" + form)
