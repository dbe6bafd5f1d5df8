"""The error hierarchy. Each error carries a stable ``code`` and a message a user can act on.

:data:`HTTP_STATUS` is the one table from codes to HTTP statuses, used by the web service and
the standalone model server alike; the CLI prints the message and exits with 2.
"""

from __future__ import annotations

from typing import Any


class AutoMLError(Exception):
    """Base of every error this package raises on purpose."""

    code = "automl_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    def body(self) -> dict[str, Any]:
        """The JSON body of this error as an HTTP answer (see :func:`error_body`)."""
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every JSON error answer: ``{"error": {"code", "message", "details"}}``, with ``code`` and
    ``message`` repeated at the top level, where AWS SDK clients (botocore's REST-JSON parser,
    hence boto3's ``sagemaker-runtime``) read an error's code and message."""
    return {"error": {"code": code, "message": message, "details": details or {}},
            "code": code, "message": message}


class DatasetError(AutoMLError):
    """The data cannot be read or cannot be learned from (empty, malformed, one class...)."""

    code = "invalid_dataset"


class SchemaError(AutoMLError):
    """Rows sent for prediction do not match the training schema."""

    code = "schema_mismatch"


class ConfigError(AutoMLError):
    """A setting is invalid: unknown metric, metric that does not fit the task, bad budget..."""

    code = "invalid_config"


class NotFound(AutoMLError):
    """A job, dataset, candidate, bundle or endpoint does not exist."""

    code = "not_found"


class JobNotFound(NotFound):
    code = "job_not_found"


class NotReady(AutoMLError):
    """The thing asked for exists but is not available yet (job still running, trial failed)."""

    code = "not_ready"


class InvalidRequest(AutoMLError):
    """The request cannot be read: empty or malformed body, missing field, wrong type."""

    code = "invalid_request"


class Unauthorized(AutoMLError):
    code = "unauthorized"


class Forbidden(AutoMLError):
    """The request is understood but refused: a cross-site form post, a missing CSRF token."""

    code = "forbidden"


class TooManyRequests(AutoMLError):
    """Too many attempts (sign-ins) from one client in a short time."""

    code = "too_many_requests"


class ServerFault(AutoMLError):
    """Something the service itself owns is missing or broken (a stored file gone): not the
    client's fault, so a 500-class answer, with a message that names no server path."""

    code = "server_fault"


class Conflict(AutoMLError):
    """The request is valid but the resource's state does not allow it now."""

    code = "conflict"


class UnsupportedMediaType(AutoMLError):
    code = "unsupported_media_type"


class NotAcceptable(AutoMLError):
    code = "not_acceptable"


class PayloadTooLarge(AutoMLError):
    code = "payload_too_large"


class ExplanationsUnavailable(AutoMLError):
    code = "not_implemented"


HTTP_STATUS: dict[str, int] = {
    "automl_error": 400,
    "invalid_request": 400,
    "invalid_dataset": 400,
    "invalid_config": 400,
    "schema_mismatch": 400,
    "invalid_endpoint_name": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "job_not_found": 404,
    "endpoint_not_found": 404,
    "version_not_found": 404,
    "variant_not_found": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "not_ready": 409,
    "conflict": 409,
    "endpoint_exists": 409,
    "schema_change": 409,
    "version_unavailable": 409,
    "variant_exists": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "too_many_requests": 429,
    "server_fault": 500,
    "not_implemented": 501,
    "model_unavailable": 503,
}


def http_status(error: AutoMLError | str) -> int:
    """The HTTP status of an error or error code: a subclass with a code of its own that the
    table lacks takes its nearest ancestor's status; anything unknown is a client error (400)."""
    if isinstance(error, str):
        return HTTP_STATUS.get(error, 400)
    for cls in type(error).__mro__:
        code = cls.__dict__.get("code")
        if code in HTTP_STATUS:
            return HTTP_STATUS[code]
    return 400
