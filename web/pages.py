"""Server-rendered pages (DESIGN 4b). They call the same :mod:`web.core` functions as the API;
the job page then follows the job live by polling the JSON API from ``static/app.js``."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from pydantic import ValidationError

from automl.exceptions import AutoMLError
from automl.metrics import METRICS
from web.auth import token_ok
from web.compare import compare, job_ids
from web.core import Service
from web.errors import Conflict, InvalidRequest, validation_details
from web.schemas import JobCreate
from web.security import LoginLimiter, safe_next, start_session

bp = Blueprint("pages", __name__)
OPTIONAL = ("task", "metric", "time_budget", "max_candidates", "seed", "max_latency_ms")


def service() -> Service:
    return current_app.extensions["automl"]


def _render(template: str, status: int = 200, **context):
    return render_template(template, metrics=list(METRICS), **context), status


@bp.get("/")
def index():
    return _render("index.html", **_home())


def _home() -> dict:
    """The home page's jobs (with their datasets' names) and datasets."""
    svc = service()
    datasets = svc.datasets()
    return {"jobs": svc.jobs(), "datasets": datasets[:20],
            "dataset_names": {d["id"]: d["name"] for d in datasets}}


@bp.post("/upload")
def upload():
    """Upload a CSV from the form, then queue a job when a target was chosen."""
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        return _index_error("choose a CSV file to upload")
    try:
        dataset = service().upload_dataset(upload_file.stream, upload_file.filename)
    except AutoMLError as exc:
        return _index_error(exc.message)
    if not request.form.get("target"):
        return redirect(url_for("pages.dataset", dataset_id=dataset["id"]))
    return _start_job(dataset["id"])


def _index_error(message: str):
    return _render("index.html", 400, error=message, **_home())


@bp.get("/datasets/<dataset_id>")
def dataset(dataset_id: str):
    svc = service()
    return _render("dataset.html", dataset=svc.dataset(dataset_id), jobs=svc.jobs(dataset_id))


@bp.post("/datasets/<dataset_id>/delete")
def delete_dataset(dataset_id: str):
    """The dataset page's Delete button; a refusal shows the page with the jobs named."""
    svc = service()
    try:
        svc.delete_dataset(dataset_id)
    except Conflict as exc:
        return _render("dataset.html", 409, dataset=svc.dataset(dataset_id),
                       jobs=svc.jobs(dataset_id), error=exc.message)
    return redirect(url_for("pages.index"))


@bp.post("/datasets/<dataset_id>/jobs")
def start_job(dataset_id: str):
    return _start_job(dataset_id)


def _start_job(dataset_id: str):
    svc = service()
    try:
        job = svc.create_job(job_from_form(dataset_id, request.form))
    except (AutoMLError, ValidationError) as exc:
        message = exc.message if isinstance(exc, AutoMLError) else _first_error(exc)
        return _render("dataset.html", 400, dataset=svc.dataset(dataset_id),
                       jobs=svc.jobs(dataset_id), error=message, form=request.form)
    return redirect(url_for("pages.job", job_id=job["id"]))


def job_from_form(dataset_id: str, form) -> JobCreate:
    """A :class:`JobCreate` from form fields; empty optional fields take their defaults."""
    values = {"dataset_id": dataset_id, "target": form.get("target", "")}
    values.update({k: form[k] for k in OPTIONAL if form.get(k, "").strip()})
    if values.get("task") == "auto":
        values.pop("task")
    return JobCreate.model_validate(values)


def _first_error(exc: ValidationError) -> str:
    err = validation_details(exc)["errors"][0]
    return f"{'.'.join(err['loc'])}: {err['msg']}"


@bp.get("/jobs/<job_id>")
def job(job_id: str):
    svc = service()
    job_view = svc.job(job_id)
    return _render("job.html", job=job_view, dataset=svc.dataset(job_view["dataset_id"]),
                   board=svc.leaderboard(job_id))


@bp.get("/compare")
def compare_page():
    """Jobs side by side, from the home page's checkboxes (``?jobs=a&jobs=b``)."""
    svc = service()
    doc = compare(svc, job_ids(request.args.getlist("jobs")))
    names = {d["id"]: d["name"] for d in svc.datasets()}
    return _render("compare.html", comparison=doc, dataset_names=names)


@bp.post("/jobs/<job_id>/cancel")
def cancel(job_id: str):
    service().cancel(job_id)
    return redirect(url_for("pages.job", job_id=job_id))


@bp.get("/jobs/<job_id>/candidates/<candidate_id>")
def candidate(job_id: str, candidate_id: str):
    svc = service()
    return _render("candidate.html", job=svc.job(job_id),
                   candidate=svc.candidate(job_id, candidate_id))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with the API token: a session bound to that token; failures are rate-limited."""
    settings = service().settings
    if request.method == "GET":
        return _render("login.html")
    limiter = LoginLimiter(settings.data_dir, settings.login_attempts)
    client = request.remote_addr or "unknown"
    limiter.check(client)
    token = settings.api_token
    if token and not token_ok(token, request.form.get("token", "")):
        limiter.failed(client)
        return _render("login.html", 401, error="wrong token")
    start_session(current_app.secret_key, token)
    return redirect(safe_next(request.args.get("next")))


@bp.post("/logout")
def logout():
    """End the session (the form carries the CSRF token like every other)."""
    session.clear()
    return redirect(url_for("pages.login"))


@bp.errorhandler(InvalidRequest)
def on_invalid(exc: InvalidRequest):
    return _render("error.html", 400, status=400, message=exc.message)
