"""The error hierarchy. Each error carries a stable ``code`` and a message a user can act on.

``web/`` maps codes to HTTP statuses in one table; the CLI prints the message and exits with 2.
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
