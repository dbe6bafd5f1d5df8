"""The JSON API under ``/api/v1`` (DESIGN section 4b). Views parse, call :mod:`web.core`, answer."""

from __future__ import annotations

from itertools import chain

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    send_file,
    stream_with_context,
)

from automl.serving.batch import stream_predictions
from web.compare import compare, job_ids
from web.core import Service
from web.errors import InvalidRequest, UnsupportedMediaType, no_content
from web.openapi import ApiSpec
from web.schemas import (
    Candidate,
    Comparison,
    Dataset,
    DatasetList,
    Dependence,
    ExplainRowsRequest,
    Explanation,
    Job,
    JobCreate,
    JobList,
    Leaderboard,
    RowExplanations,
    TrialList,
)

PREFIX = "/api/v1"
MAX_PAGE = 500
MAX_OFFSET = 2**62  # SQL integers are 64-bit: a larger OFFSET overflows in the driver (a 500)
bp = Blueprint("api", __name__, url_prefix=PREFIX)
spec = ApiSpec("automl", "1.0.0", PREFIX)
CSV_TYPES = ("text/csv", "application/csv", "text/plain")
CSV_BODY = {"text/csv": {"schema": {"type": "string"}}}
UPLOAD_CONTENT = {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}}}},
    "text/csv": {"schema": {"type": "string"},
                 "example": "size,colour,price\n1.5,red,10\n2.0,blue,14\n0.5,red,6\n"},
}


def service() -> Service:
    return current_app.extensions["automl"]


def csv_predictions(bundle, on_chunk=None) -> Response:
    """The request's CSV body predicted by ``bundle``, streamed in and out (``on_chunk``: see
    :func:`~automl.serving.batch.stream_predictions`)."""
    if request.mimetype not in CSV_TYPES:
        raise UnsupportedMediaType(f"send the CSV as a text/csv body, not "
                                   f"{request.mimetype or 'no content type'}")
    pieces = stream_predictions(bundle, request.stream, on_chunk=on_chunk)
    try:
        first = next(pieces, b"")
    except ValueError as exc:
        raise InvalidRequest(f"cannot read the CSV: {exc}") from exc
    return Response(stream_with_context(chain([first], pieces)), mimetype="text/csv")


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of this API."""
    return jsonify(spec.document())


@bp.get("/docs")
def docs():
    """The OpenAPI document, browsable (vendored Swagger UI; no CDN)."""
    return render_template("api_docs.html")


@spec.route(bp, "/datasets", "POST", summary="Upload a CSV (multipart `file` or a text/csv body)",
            responses={201: Dataset}, request_content=UPLOAD_CONTENT)
def upload_dataset():
    stream, filename = upload_stream()
    return jsonify(service().upload_dataset(stream, filename)), 201


def upload_stream():
    """The uploaded file as a stream and its name, from a multipart form or a raw CSV body."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InvalidRequest("no file in the form; send the CSV in a multipart field named 'file'")
        return upload.stream, upload.filename
    if mimetype in CSV_TYPES:
        return request.stream, request.args.get("name") or request.headers.get("X-Filename")
    raise UnsupportedMediaType(
        f"upload a CSV as multipart/form-data (field 'file') or as a text/csv body, "
        f"not {mimetype or 'no content type'}", {"content_type": mimetype})


PAGE_QUERY = {"limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
              "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}}


@spec.route(bp, "/datasets", "GET", summary="List datasets, newest first, a page at a time "
            "(`limit`, default 100; `offset`; `next_offset` says where the next page starts)",
            responses={200: DatasetList}, query=PAGE_QUERY)
def list_datasets():
    limit, offset = page_args()
    found = service().datasets(limit + 1, offset)
    more = len(found) > limit
    return jsonify({"datasets": found[:limit], "next_offset": offset + limit if more else None})


def page_args() -> tuple[int, int]:
    """``limit`` (1 to MAX_PAGE, default 100) and ``offset`` from the query string."""
    try:
        limit = int(request.args.get("limit", 100))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        raise InvalidRequest("limit and offset must be whole numbers") from None
    if not 1 <= limit <= MAX_PAGE or not 0 <= offset <= MAX_OFFSET:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}, offset between 0 and "
                             f"{MAX_OFFSET}",
                             {"limit": limit, "offset": offset})
    return limit, offset


@spec.route(bp, "/datasets/<dataset_id>", "GET", summary="One dataset with its columns",
            responses={200: Dataset})
def get_dataset(dataset_id: str):
    return jsonify(service().dataset(dataset_id))


@spec.route(bp, "/datasets/<dataset_id>", "DELETE", summary="Delete a dataset and its file "
            "(409 naming the jobs that use it)", responses={204: "text/plain"})
def delete_dataset(dataset_id: str):
    service().delete_dataset(dataset_id)
    return "", 204


@spec.route(bp, "/jobs", "POST", summary="Queue a job", body=JobCreate, responses={202: Job})
def create_job(body: JobCreate):
    job = service().create_job(body)
    return jsonify(job), 202, {"Location": job["links"]["self"]}


@spec.route(bp, "/jobs", "GET", summary="List jobs, newest first", responses={200: JobList},
            query={"dataset_id": {"type": "string"}})
def list_jobs():
    return jsonify({"jobs": service().jobs(request.args.get("dataset_id"))})


@spec.route(bp, "/compare", "GET", summary="Two to ten jobs side by side (`jobs=a,b`): "
            "settings, winners, each family's best score, the top of each leaderboard",
            responses={200: Comparison},
            query={"jobs": {"type": "string", "description": "job ids, comma-separated"}})
def compare_jobs():
    return jsonify(compare(service(), job_ids(request.args.getlist("jobs"))))


@spec.route(bp, "/jobs/<job_id>", "GET", summary="A job's status, progress, settings and error",
            responses={200: Job})
def get_job(job_id: str):
    return jsonify(service().job(job_id))


@spec.route(bp, "/jobs/<job_id>", "DELETE", summary="Delete a finished job with its artifacts",
            responses={204: "text/plain"})
def delete_job(job_id: str):
    service().delete(job_id)
    return no_content()


@spec.route(bp, "/jobs/<job_id>/cancel", "POST", summary="Cancel a queued or running job",
            responses={202: Job})
def cancel_job(job_id: str):
    return jsonify(service().cancel(job_id)), 202


@spec.route(bp, "/jobs/<job_id>/leaderboard", "GET", summary="The leaderboard, best first",
            responses={200: Leaderboard})
def leaderboard(job_id: str):
    return jsonify(service().leaderboard(job_id))


@spec.route(bp, "/jobs/<job_id>/trials", "GET", summary="Trials in the order they finished",
            responses={200: TrialList})
def trials(job_id: str):
    return jsonify({"trials": service().trials(job_id)})


@spec.route(bp, "/jobs/<job_id>/candidates/<candidate_id>", "GET",
            summary="One candidate: params, per-fold scores, spec", responses={200: Candidate})
def candidate(job_id: str, candidate_id: str):
    return jsonify(service().candidate(job_id, candidate_id))


@spec.route(bp, "/jobs/<job_id>/candidates/<candidate_id>/oof.csv", "GET",
            summary="A candidate's out-of-fold predictions (CSV): row, fold, actual, prediction "
            "and probability_<class> columns", responses={200: "text/csv"})
def candidate_oof(job_id: str, candidate_id: str):
    return Response(service().candidate_oof(job_id, candidate_id), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="{candidate_id}-oof.csv"'})


@spec.route(bp, "/jobs/<job_id>/candidates/<candidate_id>/figures/<name>", "GET",
            summary="One model-quality figure of a candidate (SVG)",
            responses={200: "image/svg+xml"})
def candidate_figure(job_id: str, candidate_id: str, name: str):
    return send_file(service().candidate_figure(job_id, candidate_id, name),
                     mimetype="image/svg+xml")


@spec.route(bp, "/jobs/<job_id>/candidates/<candidate_id>/explanation", "POST",
            summary="Compute (once) the SHAP importance of any completed candidate",
            responses={200: Explanation})
def candidate_explanation(job_id: str, candidate_id: str):
    return jsonify(service().explain_candidate(job_id, candidate_id))


@spec.route(bp, "/jobs/<job_id>/candidates/<candidate_id>/explanation/rows", "POST",
            summary="SHAP contributions of single rows (given, or rows of the training file "
            "by number), for a waterfall", body=ExplainRowsRequest,
            responses={200: RowExplanations})
def candidate_row_explanations(job_id: str, candidate_id: str, body: ExplainRowsRequest):
    return jsonify(service().explain_rows(job_id, candidate_id,
                                          body.model_dump(exclude_none=True)))


@spec.route(bp, "/jobs/<job_id>/candidates/<candidate_id>/explanation/dependence", "POST",
            summary="Compute (once) dependence plots of the candidate's top columns: each "
            "sampled row's value and SHAP contribution", responses={200: Dependence})
def candidate_dependence(job_id: str, candidate_id: str):
    return jsonify(service().dependence(job_id, candidate_id))


@spec.route(bp, "/jobs/<job_id>/candidates/<candidate_id>/explanation/figures/<name>", "GET",
            summary="An explanation figure of a candidate (SVG): importance or dependence_<n>",
            responses={200: "image/svg+xml"})
def explanation_figure(job_id: str, candidate_id: str, name: str):
    return send_file(service().explanation_figure(job_id, candidate_id, name),
                     mimetype="image/svg+xml")


@spec.route(bp, "/jobs/<job_id>/predictions", "POST", summary="Predict a CSV with the job's "
            "winner (streamed in and out): prediction and probability_<class> columns",
            responses={200: "text/csv"}, request_content=CSV_BODY)
def job_predictions(job_id: str):
    return csv_predictions(service().predictions_bundle(job_id, None))


@spec.route(bp, "/jobs/<job_id>/candidates/<candidate_id>/predictions", "POST",
            summary="Predict a CSV with one candidate (refitted on all rows once)",
            responses={200: "text/csv"}, request_content=CSV_BODY)
def candidate_predictions(job_id: str, candidate_id: str):
    return csv_predictions(service().predictions_bundle(job_id, candidate_id))


@spec.route(bp, "/jobs/<job_id>/candidates/<candidate_id>/notebook", "GET",
            summary="The candidate's notebook (.ipynb)",
            responses={200: "application/x-ipynb+json"})
def candidate_notebook(job_id: str, candidate_id: str):
    path = service().candidate_notebook(job_id, candidate_id)
    return send_file(path, mimetype="application/x-ipynb+json", as_attachment=True)


@spec.route(bp, "/jobs/<job_id>/notebooks/<name>", "GET",
            summary="A job-level notebook: data-exploration or candidate-definitions",
            responses={200: "application/x-ipynb+json"})
def job_notebook(job_id: str, name: str):
    path = service().job_notebook(job_id, name)
    return send_file(path, mimetype="application/x-ipynb+json", as_attachment=True,
                     download_name=f"{job_id}-{name}.ipynb")


@spec.route(bp, "/jobs/<job_id>/model", "GET", summary="The winner's model bundle as a zip",
            responses={200: "application/zip"})
def model(job_id: str):
    path = service().model_zip(job_id)
    return send_file(path, mimetype="application/zip", as_attachment=True,
                     download_name=f"{job_id}-model.zip")
