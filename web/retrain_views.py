"""Retrain an endpoint's model from its labelled captures, then compare champion and
challenger on the newest held-out requests (issue 16, part 3). The work is in
:mod:`automl.endpoint_retrain`: this starts the challenger's job; the job runner compares the
two once it ended and puts the challenger in as the request asked (``then``)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from werkzeug.datastructures import MultiDict

from automl import endpoint_retrain
from automl.exceptions import NotFound
from automl.store import FINISHED
from web.api import spec
from web.core import iso
from web.endpoint_schemas import Retraining, RetrainingList, RetrainRequest

api = Blueprint("retrain_api", __name__, url_prefix="/api/v1")
AMOUNT_FIELDS = {"shadow": "share", "variant": "weight", "replace": "min_improvement"}


def _services():
    return current_app.extensions["automl"], current_app.extensions["automl_endpoints"]


@spec.route(api, "/endpoints/<name>/retrain", "POST",
            summary="Start a challenger's job on the original data plus the labelled captured "
            "requests, holding out the newest for the comparison; then (optional) put the "
            "challenger in as the shadow, a weighted variant, or the champion's replacement",
            body=RetrainRequest, responses={202: Retraining})
def start(name: str, body: RetrainRequest):
    return jsonify(start_retraining(name, body)), 202


def start_retraining(name: str, body: RetrainRequest) -> dict:
    """Start a retraining (:func:`automl.endpoint_retrain.start`); its view. The page's form
    calls this too."""
    service, endpoints = _services()
    meta = endpoint_retrain.start(service.store, service.settings, name, body.model_dump(),
                                  bundle=endpoints.bundle(name))
    return view(meta)


@spec.route(api, "/endpoints/<name>/retrain", "GET", summary="The endpoint's retrainings, "
            "newest first", responses={200: RetrainingList})
def list_retrainings(name: str):
    return jsonify({"retrainings": retrainings(name)})


@spec.route(api, "/endpoints/<name>/retrain/<retrain_id>", "GET",
            summary="A retraining: its job, and once the runner finished it, champion and "
            "challenger scored on the held-out requests with bootstrap intervals, and what "
            "became of the challenger", responses={200: Retraining})
def status(name: str, retrain_id: str):
    service, endpoints = _services()
    endpoints.get(name)  # 404 for an unknown endpoint
    return jsonify(view(endpoint_retrain.load_meta(service.settings.data_dir, name, retrain_id)))


def retrainings(name: str, limit: int = 20) -> list[dict]:
    """The views of the endpoint's newest retrainings (404 for an unknown endpoint)."""
    service, endpoints = _services()
    endpoints.get(name)
    return [view(m) for m in endpoint_retrain.list_meta(service.settings.data_dir, name, limit)]


def view(meta: dict) -> dict:
    """A retraining as the API shows it; ``state`` from its job until the runner finished it."""
    service, _ = _services()
    name, job_id = meta["endpoint"], meta["job_id"]
    try:
        job_status = service.job(job_id)["status"]
    except NotFound:
        job_status = "deleted"
    state = meta.get("state") or (endpoint_retrain.FINISHING
                                  if job_status in (*FINISHED, "deleted")
                                  else endpoint_retrain.TRAINING)
    done = state == endpoint_retrain.DONE
    links = {"self": f"/api/v1/endpoints/{name}/retrain/{meta['id']}",
             "job": f"/api/v1/jobs/{job_id}", "job_page": f"/jobs/{job_id}",
             "variants": f"/api/v1/endpoints/{name}/variants",
             "versions": f"/api/v1/endpoints/{name}/versions"}
    return {"then": None, "trigger": None, "challenger": None, "outcome": None, "error": None,
            **{k: v for k, v in meta.items() if k not in ("endpoint", "created_at",
                                                          "finished_at")},
            "endpoint": name, "state": state, "job_status": job_status,
            "created_at": iso(meta.get("created_at")), "finished_at": iso(meta.get("finished_at")),
            "comparison": endpoint_retrain.comparison(service.settings.data_dir, name, meta["id"])
            if done else None, "links": links}



def form_fields(form: MultiDict) -> dict:
    """A page form's fields of a retrain request (the Retrain form's, the automatic retraining
    form's): the ones filled in, and of the amounts only the one that goes with ``then``."""
    fields = {k: form.get(k, "").strip() for k in ("then", "holdout_share", "time_budget")}
    amount = AMOUNT_FIELDS.get(fields["then"])
    if amount is not None:
        fields[amount] = form.get(amount, "").strip()
    fields = {k: v for k, v in fields.items() if v != ""}
    fields["accept_schema_change"] = form.get("accept_schema_change") == "true"
    return fields
