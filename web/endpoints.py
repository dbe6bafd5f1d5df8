"""Model endpoints (DESIGN 3 and 4b): the JSON API under ``/api/v1/endpoints``, the SageMaker
Runtime compatible ``POST /endpoints/<name>/invocations`` and ``GET /ping``, and the pages.

Views are thin: they parse, call :class:`web.endpoint_service.Endpoints` or (invocations)
:class:`web.invocations.InvocationHandler`, and answer. Invocations, ``/ping`` and the API always
answer errors as JSON; the pages answer them as HTML.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from automl.exceptions import AutoMLError
from automl.serving.invocation import INFERENCE_ID, inference_id
from automl.store.endpoints import EndpointExists
from web.api import CSV_BODY, csv_predictions, spec
from web.auth import MACHINE_ENDPOINTS, logged_in
from web.endpoint_schemas import (
    Endpoint,
    EndpointCreate,
    EndpointList,
    EndpointRollback,
    EndpointUpdate,
    EndpointVersionList,
    RetrainRequest,
    VariantCreate,
    VariantList,
    VariantWeights,
)
from web.endpoint_service import Endpoints, examples
from web.errors import (
    InvalidRequest,
    error_response,
    http_error_response,
    no_content,
    status_for,
)
from web.invocations import InvocationHandler
from web.monitoring_views import page_context
from web.retrain_views import form_fields, retrainings, start_retraining
from web.variant_service import Variants

bp = Blueprint("endpoints", __name__)
api = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.record_once
def _attach(state) -> None:
    extensions = state.app.extensions
    extensions["automl_endpoints"] = Endpoints(extensions["automl"])
    extensions["automl_variants"] = Variants(extensions["automl_endpoints"])
    extensions["automl_invocations"] = InvocationHandler(
        extensions["automl_variants"], extensions["automl"].settings,
        state.app.config["SESSION_COOKIE_NAME"])


def endpoints() -> Endpoints:
    return current_app.extensions["automl_endpoints"]


def variants() -> Variants:
    return current_app.extensions["automl_variants"]


# JSON API -------------------------------------------------------------------------------------

@spec.route(api, "/endpoints", "POST", summary="Deploy a job's winner, or one of its candidates",
            body=EndpointCreate, responses={201: Endpoint})
def create_endpoint(body: EndpointCreate):
    view = endpoints().create(body)
    return jsonify(view), 201, {"Location": view["links"]["self"]}


@spec.route(api, "/endpoints", "GET", summary="List endpoints, newest first",
            responses={200: EndpointList}, query={"job_id": {"type": "string"}})
def list_endpoints():
    return jsonify({"endpoints": endpoints().list(request.args.get("job_id"))})


@spec.route(api, "/endpoints/<name>", "GET", summary="One endpoint", responses={200: Endpoint})
def get_endpoint(name: str):
    return jsonify(endpoints().get(name))


@spec.route(api, "/endpoints/<name>", "PUT", summary="Point an endpoint at another model "
            "(atomically: requests see the old model or the new one)", body=EndpointUpdate,
            responses={200: Endpoint})
def update_endpoint(name: str, body: EndpointUpdate):
    return jsonify(endpoints().update(name, body))


@spec.route(api, "/endpoints/<name>", "DELETE", summary="Remove an endpoint",
            responses={204: "text/plain"})
def delete_endpoint(name: str):
    endpoints().delete(name)
    return no_content()


@spec.route(api, "/endpoints/<name>/versions", "GET", summary="Every model the endpoint served "
            "(deploy, repoint, rollback), newest first", responses={200: EndpointVersionList})
def list_versions(name: str):
    return jsonify({"versions": endpoints().versions(name)})


@spec.route(api, "/endpoints/<name>/versions/<int:version>", "DELETE", summary="Forget an old "
            "version (so that its job can be deleted); the served one cannot be",
            responses={204: "text/plain"})
def delete_version(name: str, version: int):
    endpoints().remove_version(name, version)
    return no_content()


@spec.route(api, "/endpoints/<name>/rollback", "POST", summary="Serve an earlier version's model "
            "again, atomically like PUT (recorded as a new version)", body=EndpointRollback,
            responses={200: Endpoint})
def rollback(name: str, body: EndpointRollback):
    return jsonify(endpoints().rollback(name, body))


@spec.route(api, "/endpoints/<name>/variants", "GET", summary="The endpoint's variants (the "
            "primary first) with requests, errors, latency and shadow agreement",
            responses={200: VariantList})
def list_variants(name: str):
    return jsonify(variants().list(name))


@spec.route(api, "/endpoints/<name>/variants", "POST", summary="Add a weighted production "
            "variant, or the shadow", body=VariantCreate, responses={201: VariantList})
def add_variant(name: str, body: VariantCreate):
    return jsonify(variants().add(name, body)), 201


@spec.route(api, "/endpoints/<name>/variants", "PUT", summary="Change production weights at "
            "once", body=VariantWeights, responses={200: VariantList})
def set_variant_weights(name: str, body: VariantWeights):
    return jsonify(variants().set_weights(name, body))


@spec.route(api, "/endpoints/<name>/variants/<variant>", "DELETE", summary="Remove a variant "
            "(not the primary)", responses={200: VariantList})
def remove_variant(name: str, variant: str):
    return jsonify(variants().remove(name, variant))


@spec.route(api, "/endpoints/<name>/variants/<variant>/promote", "POST", summary="Serve the "
            "variant's model alone, as a new version; the other variants go (one transaction)",
            responses={200: Endpoint})
def promote_variant(name: str, variant: str):
    return jsonify(variants().promote(name, variant))


@spec.route(api, "/endpoints/<name>/batch", "POST", summary="Predict a CSV with a header row "
            "(streamed in and out): prediction and probability_<class> columns; captured as the "
            "endpoint's requests are (rows' inference ids: <X-Amzn-SageMaker-Inference-Id>:<row>)",
            responses={200: "text/csv"}, request_content=CSV_BODY)
def batch(name: str):
    bundle = endpoints().bundle(name)
    inference = inference_id(request.headers.get(INFERENCE_ID))
    response = csv_predictions(bundle, endpoints().observer.batch(name, inference))
    response.headers[INFERENCE_ID] = inference
    return response


bp.register_blueprint(api)


# SageMaker Runtime ----------------------------------------------------------------------------

@bp.post("/endpoints/<name>/invocations")
def invocations(name: str):
    """InvokeEndpoint through Flask (the fast path in front of the app answers the same):
    :class:`web.invocations.InvocationHandler` reads the name from the path itself."""
    handler = current_app.extensions["automl_invocations"]
    status, body, media_type, extra = handler(request.environ, session_ok=logged_in)
    return Response(body, status=status, content_type=media_type, headers=extra)


@bp.get("/ping")
def ping():
    return Response(b"", 200)


# Pages ----------------------------------------------------------------------------------------

@bp.get("/endpoints")
def list_page():
    return render_template("endpoints.html", endpoints=endpoints().list())


@bp.get("/endpoints/<name>")
def page(name: str):
    view = endpoints().get(name)
    bundle = endpoints().bundle(name)
    job = current_app.extensions["automl"].job(view["job_id"])
    record = example_record(bundle, job["dataset_id"])
    settings = current_app.extensions["automl"].settings
    auth = "public" if settings.public_endpoints else "token"
    auth = auth if settings.api_token else "open"
    return render_template("endpoint.html", endpoint=view, bundle=bundle, record=record,
                           auth=auth, examples=examples(request.url_root, name, record,
                                                        auth == "token"),
                           versions=endpoints().versions(name), retrainings=retrainings(name, 5),
                           **page_context(name), **variants_context(name))


def variants_context(name: str) -> dict:
    found = variants().list(name)["variants"]
    return {"variants": found,
            "total_weight": sum(v["weight"] for v in found if v["role"] == "production")}


@bp.post("/jobs/<job_id>/deploy")
def deploy_form(job_id: str):
    """The Deploy button of the job and candidate pages."""
    form = {"name": request.form.get("name", "").strip(), "job_id": job_id,
            "candidate_id": request.form.get("candidate_id") or None}
    if request.form.get("capture_percent", "").strip():
        form["capture_percent"] = request.form["capture_percent"].strip()
    try:
        view = endpoints().create(EndpointCreate.model_validate(form))
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        message = ("the capture percentage must be a number from 0 to 100"
                   if "capture_percent" in fields else "give the endpoint a name")
        return _list_with_error(form, message, 400)
    except EndpointExists as exc:
        taken = exc.details
        message = (f"an endpoint named '{form['name']}' already exists (it serves "
                   f"{taken['candidate_id']} of job {taken['job_id']}); replace its model with "
                   "this one, or go back and choose another name")
        return _list_with_error(form, message, status_for(exc.code), replace=True)
    except AutoMLError as exc:
        return _list_with_error(form, exc.message, status_for(exc.code))
    return redirect(url_for("endpoints.page", name=view["name"]))


@bp.post("/endpoints/<name>/replace")
def replace_form(name: str):
    """The page's way to PUT: point the endpoint ``name`` at the model the form names."""
    form = {"job_id": request.form.get("job_id", ""),
            "candidate_id": request.form.get("candidate_id") or None}
    try:
        endpoints().update(name, EndpointUpdate.model_validate(form))
    except ValidationError:
        return _list_with_error({}, "the form does not name a job to deploy", 400)
    return redirect(url_for("endpoints.page", name=name))


@bp.post("/endpoints/<name>/rollback")
def rollback_form(name: str):
    """The history's Roll back buttons: POST .../rollback with the version the form names."""
    try:
        body = EndpointRollback.model_validate(
            {"version": request.form.get("version", ""),
             "accept_schema_change": request.form.get("accept_schema_change") == "true"})
    except ValidationError:
        raise InvalidRequest("the form does not name a version to roll back to") from None
    endpoints().rollback(name, body)
    return redirect(url_for("endpoints.page", name=name))


@bp.post("/endpoints/<name>/retrain")
def retrain_form(name: str):
    """The page's Retrain form: POST .../retrain with what follows the challenger's job
    (only the amount field that goes with the chosen ``then``)."""
    try:
        body = RetrainRequest.model_validate(form_fields(request.form))
    except ValidationError as exc:
        fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]}))
        raise InvalidRequest(f"the retraining form's {fields or 'fields'} are not valid: "
                             "the held-out share is between 0 and 1, the time budget a "
                             "number of seconds, the share from 0 to 1") from None
    start_retraining(name, body)
    return redirect(url_for("endpoints.page", name=name) + "#retraining")


@bp.post("/endpoints/<name>/variants/<variant>/promote")
def promote_form(name: str, variant: str):
    """The variants table's Promote buttons."""
    variants().promote(name, variant)
    return redirect(url_for("endpoints.page", name=name))


def _list_with_error(form: dict, message: str, status: int, replace: bool = False):
    return render_template("endpoints.html", endpoints=endpoints().list(), error=message,
                           form=form, replace=replace), status


@bp.post("/endpoints/<name>/delete")
def delete_form(name: str):
    endpoints().delete(name)
    return redirect(url_for("endpoints.list_page"))


def example_record(bundle, dataset_id: str) -> dict:
    """One row of the model's input columns with example values from the job's dataset."""
    try:
        columns = current_app.extensions["automl"].dataset(dataset_id)["columns"]
    except AutoMLError:
        columns = []
    found = {c["name"]: c.get("example") for c in columns}
    return {c.name: _example_value(found.get(c.name), c.role) for c in bundle.schema.columns}


def _example_value(value, role: str):
    if value in (None, ""):
        return None
    if role == "numeric":
        try:
            return float(value) if "." in str(value) else int(value)
        except ValueError:
            return value
    return value


# Errors: JSON for machines, HTML for people ---------------------------------------------------

def machine_request() -> bool:
    """Whether the current request is a machine's (the API, invocations, ``/ping``): its errors
    are answered in JSON."""
    return request.path.startswith("/api/") or request.endpoint in MACHINE_ENDPOINTS


@bp.errorhandler(AutoMLError)
def on_error(exc: AutoMLError):
    if machine_request():
        return error_response(exc.code, exc.message, exc.details)
    status = status_for(exc.code)
    return render_template("error.html", status=status, message=exc.message), status


@bp.errorhandler(HTTPException)
def on_http_error(exc: HTTPException):
    return http_error_response(exc, as_json=machine_request())
