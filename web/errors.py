"""Errors as HTTP answers: the ONE table from error codes to statuses, and the handlers.

Every error is answered as ``{"error": {"code", "message", "details"}}`` plus the code and
message at the top level for AWS SDK clients (:func:`automl.exceptions.error_body`). Unexpected
exceptions are logged with a request id and answered 500 showing only that id.
"""

from __future__ import annotations

import logging
import secrets

from flask import Flask, Response, jsonify, make_response, render_template, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from automl.exceptions import (  # noqa: F401 - re-exported for the views
    HTTP_STATUS,
    AutoMLError,
    Conflict,
    InvalidRequest,
    Unauthorized,
    UnsupportedMediaType,
    error_body,
    http_status,
)

log = logging.getLogger("automl.web")

STATUS_BY_CODE = HTTP_STATUS  # the one table lives in automl.exceptions
REQUEST_ID = "X-Request-Id"
_REQUEST_ID_KEY = "automl.request_id"


def code_for_http(status: int | None) -> str:
    """The error code for an HTTP error werkzeug raised (unknown route, method, size, type)."""
    return {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
            415: "unsupported_media_type"}.get(status or 400, "invalid_request")


def status_for(code: str) -> int:
    return http_status(code)


def error_response(code: str, message: str, details: dict | None = None, status: int | None = None):
    return jsonify(error_body(code, message, details)), status or status_for(code)


def request_id() -> str:
    """The current request's id (:func:`request_id_of` its environ)."""
    return request_id_of(request.environ)


def request_id_of(environ: dict) -> str:
    """The request's id, kept in its WSGI environ (so a request answered without Flask has one
    too): the client's ``X-Request-Id`` (at most 64 characters) or a new one."""
    found = environ.get(_REQUEST_ID_KEY)
    if found is None:
        found = environ[_REQUEST_ID_KEY] = \
            environ.get("HTTP_X_REQUEST_ID", "")[:64] or secrets.token_hex(8)
    return found


def validation_details(exc: ValidationError) -> dict:
    return {"errors": [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
                       for e in exc.errors(include_url=False, include_input=False)]}


def register_error_handlers(app: Flask, wants_json) -> None:
    """Install the handlers; ``wants_json()`` says whether the current request is an API call."""

    @app.errorhandler(AutoMLError)
    def on_automl_error(exc: AutoMLError):
        if not wants_json():
            return _page(status_for(exc.code), exc.message)
        return error_response(exc.code, exc.message, exc.details)

    @app.errorhandler(ValidationError)
    def on_validation_error(exc: ValidationError):
        return error_response("invalid_request", "the request body does not match the schema",
                              validation_details(exc))

    @app.errorhandler(HTTPException)
    def on_http_error(exc: HTTPException):
        return http_error_response(exc, as_json=wants_json())

    @app.errorhandler(Exception)
    def on_unexpected(exc: Exception):
        rid = request_id()
        log.exception("request %s %s %s failed", rid, request.method, request.path)
        if not wants_json():
            return _page(500, f"internal error; request id {rid}")
        return error_response("internal_error", f"internal error; request id {rid}",
                              {"request_id": rid}, status=500)

    @app.after_request
    def add_request_id(response):
        response.headers[REQUEST_ID] = request_id()
        return response


_HTTP_MESSAGES = {
    404: "no such resource; see /api/v1/openapi.json for the routes",
    405: "method not allowed on this resource; the Allow header lists the methods it takes",
    413: "the upload is larger than the server's limit (AUTOML_MAX_UPLOAD_BYTES)",
}


def http_error_response(exc: HTTPException, as_json: bool):
    """An error werkzeug raised (unknown route, method, size) as our JSON or our page, with
    its headers (``Allow`` on a 405)."""
    status = exc.code or 400
    message = _HTTP_MESSAGES.get(status, exc.description or exc.name)
    if as_json:
        response, _ = error_response(code_for_http(status), message, status=status)
    else:
        response = make_response(_page(status, message))
    for key, value in exc.get_headers():
        if key.lower() != "content-type":
            response.headers[key] = value
    return response, status


def no_content() -> Response:
    """A 204 with no body and no content type."""
    response = Response(status=204)
    response.headers.remove("Content-Type")
    return response


def _page(status: int, message: str):
    return render_template("error.html", status=status, message=message), status
