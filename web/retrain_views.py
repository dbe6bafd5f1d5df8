"""Retrain an endpoint's model from its labelled captures, then compare champion and
challenger on the newest held-out requests (issue 16, part 3). The work is in
:mod:`automl.endpoint_retrain`; promoting the challenger is a repoint, a rollback away."""

from __future__ import annotations

import io

from flask import Blueprint, current_app, jsonify

from automl import endpoint_retrain
from automl.exceptions import NotReady
from automl.store import COMPLETED, FINISHED
from web.api import spec
from web.endpoint_schemas import Retraining, RetrainRequest
from web.schemas import JobCreate

api = Blueprint("retrain_api", __name__, url_prefix="/api/v1")
JOB_SETTINGS = ("task", "metric", "time_budget", "max_candidates", "seed", "trial_timeout")


def _services():
    return current_app.extensions["automl"], current_app.extensions["automl_endpoints"]


@spec.route(api, "/endpoints/<name>/retrain", "POST",
            summary="Start a challenger's job on the original data plus the labelled captured "
            "requests, holding out the newest for the comparison", body=RetrainRequest,
            responses={202: Retraining})
def start(name: str, body: RetrainRequest):
    service, endpoints = _services()
    endpoint = endpoints.get(name)
    champion = service.job(endpoint["job_id"])
    bundle = endpoints.bundle(name)
    data_dir = service.settings.data_dir
    retrain_id, data, train = endpoint_retrain.prepare(
        data_dir, name, bundle, service.dataset_file(champion["dataset_id"]), body.holdout_share)
    with open(train, "rb") as handle:
        dataset = service.upload_dataset(io.BytesIO(handle.read()), f"{name}-{retrain_id}.csv")
    settings = {k: champion["settings"].get(k) for k in JOB_SETTINGS}
    if body.time_budget is not None:
        settings["time_budget"] = body.time_budget
    job = service.create_job(JobCreate.model_validate(
        {"dataset_id": dataset["id"], "target": champion["target"],
         **{k: v for k, v in settings.items() if v is not None}}))
    meta = {"id": retrain_id, "endpoint": name, "job_id": job["id"],
            "champion": {"job_id": endpoint["job_id"], "candidate_id": endpoint["candidate_id"]},
            "metric": champion["metric"], **data.summary()}
    endpoint_retrain.save_meta(data_dir, name, retrain_id, meta)
    return jsonify(_view(meta, job["status"], None)), 202


@spec.route(api, "/endpoints/<name>/retrain/<retrain_id>", "GET",
            summary="A retraining: its job, and once that job completed, champion and "
            "challenger scored on the held-out requests with bootstrap intervals",
            responses={200: Retraining})
def status(name: str, retrain_id: str):
    service, endpoints = _services()
    endpoints.get(name)  # 404 for an unknown endpoint
    meta = endpoint_retrain.load_meta(service.settings.data_dir, name, retrain_id)
    job = service.job(meta["job_id"])
    if job["status"] != COMPLETED:
        if job["status"] in FINISHED:
            raise NotReady(f"the challenger's job '{job['id']}' ended {job['status']}: nothing to "
                           "compare; start another retraining", {"job_id": job["id"]})
        return jsonify(_view(meta, job["status"], None))
    champion = service.predictions_bundle(meta["champion"]["job_id"],
                                          meta["champion"]["candidate_id"])
    challenger = service.predictions_bundle(job["id"], None)
    result = endpoint_retrain.compare(service.settings.data_dir, name, retrain_id, champion,
                                      challenger, meta["metric"])
    return jsonify(_view(meta, job["status"], result))


def _view(meta: dict, job_status: str, comparison: dict | None) -> dict:
    name, job_id = meta["endpoint"], meta["job_id"]
    return {**{k: v for k, v in meta.items() if k != "endpoint"}, "endpoint": name,
            "job_status": job_status, "comparison": comparison,
            "links": {"self": f"/api/v1/endpoints/{name}/retrain/{meta['id']}",
                      "job": f"/api/v1/jobs/{job_id}", "job_page": f"/jobs/{job_id}",
                      "deploy_challenger": f"/api/v1/endpoints/{name}"}}
