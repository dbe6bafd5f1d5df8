"""Settings of the whole service (web app, job runner), resolved once at the edge.

Order: embedded defaults, then ``AUTOML_*`` environment variables, then explicit overrides
(the ``automl serve`` flags). The result is a frozen :class:`ServiceSettings`; nothing else in
the service reads the environment.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from automl.exceptions import ConfigError

DEFAULT_MAX_UPLOAD_BYTES = 1 << 30
DEFAULT_MAX_INVOCATION_BYTES = 6 * 1024 * 1024  # SageMaker real-time invocations allow 6 MB

_ENV = {
    "database_url": "AUTOML_DATABASE_URL",
    "data_dir": "AUTOML_DATA_DIR",
    "api_token": "AUTOML_API_TOKEN",
    "max_upload_bytes": "AUTOML_MAX_UPLOAD_BYTES",
    "max_concurrent_jobs": "AUTOML_MAX_CONCURRENT_JOBS",
    "host": "AUTOML_HOST",
    "port": "AUTOML_PORT",
    "workers": "AUTOML_WORKERS",
    "public_endpoints": "AUTOML_PUBLIC_ENDPOINTS",
    "max_invocation_bytes": "AUTOML_MAX_INVOCATION_BYTES",
    "max_explain_rows": "AUTOML_MAX_EXPLAIN_ROWS",
    "session_max_age_s": "AUTOML_SESSION_MAX_AGE_S",
    "login_attempts": "AUTOML_LOGIN_ATTEMPTS",
    "max_columns": "AUTOML_MAX_COLUMNS",
    "max_field_bytes": "AUTOML_MAX_FIELD_BYTES",
    "capture_percent": "AUTOML_CAPTURE_PERCENT",
    "capture_retention_days": "AUTOML_CAPTURE_RETENTION_DAYS",
    "capture_retention_bytes": "AUTOML_CAPTURE_RETENTION_BYTES",
    "monitor_interval_s": "AUTOML_MONITOR_INTERVAL_S",
    "webhook_allow_private": "AUTOML_WEBHOOK_ALLOW_PRIVATE",
    "monitor_attribution": "AUTOML_MONITOR_ATTRIBUTION",
    "flask_invocations": "AUTOML_FLASK_INVOCATIONS",
}
_INTS = {"max_upload_bytes", "max_concurrent_jobs", "port", "workers", "max_invocation_bytes",
         "max_explain_rows", "session_max_age_s", "login_attempts", "max_columns",
         "max_field_bytes", "capture_retention_bytes", "monitor_interval_s"}
_FLOATS = {"capture_percent", "capture_retention_days"}
_BOOLS = {"public_endpoints", "webhook_allow_private", "monitor_attribution", "flask_invocations"}
MIN_MONITOR_INTERVAL_S = 10


@dataclass(frozen=True)
class ServiceSettings:
    """Where the service keeps its state and how it listens. Build with :func:`resolve_service_settings`."""

    data_dir: str = "automl-data"
    database_url: str = ""
    api_token: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_concurrent_jobs: int = 1
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    public_endpoints: bool = False
    max_invocation_bytes: int = DEFAULT_MAX_INVOCATION_BYTES
    max_explain_rows: int = 100
    session_max_age_s: int = 12 * 3600
    login_attempts: int = 10
    max_columns: int = 2_000
    max_field_bytes: int = 128 * 1024  # Python's csv default, which the jobs' reader applies
    capture_percent: float = 100.0  # data capture of a new endpoint (settable per endpoint)
    capture_retention_days: float = 30.0  # 0: keep captured data however old
    capture_retention_bytes: int = 0  # per endpoint variant; 0: no limit
    monitor_interval_s: int = 3600  # scheduled monitoring of a new endpoint: hourly
    webhook_allow_private: bool = False  # webhooks to loopback/private addresses (see alerts)
    monitor_attribution: bool = True  # attribution drift in runs: SHAP of the window, seconds
    flask_invocations: bool = False  # invocations through Flask, not the fast path (to compare)

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL: the configured one, else SQLite in the data directory."""
        return self.database_url or f"sqlite:///{Path(self.data_dir).resolve() / 'automl.db'}"

    def to_env(self) -> dict[str, str]:
        """These settings as ``AUTOML_*`` variables, to hand to child processes."""
        values = {**asdict(self), "database_url": self.db_url}
        return {_ENV[k]: str(v) for k, v in values.items() if v is not None and k in _ENV}


def resolve_service_settings(env: Mapping[str, str] | None = None, **overrides) -> ServiceSettings:
    """Defaults, then environment variables, then ``overrides`` (``None`` values ignored)."""
    env = os.environ if env is None else env
    values: dict = {}
    for field_name, var in _ENV.items():
        if env.get(var):
            values[field_name] = _parse(field_name, env[var])
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = set(values) - set(ServiceSettings.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"unknown service settings: {', '.join(sorted(unknown))}")
    settings = replace(ServiceSettings(), **values)
    settings = replace(settings, data_dir=str(Path(settings.data_dir).resolve()))
    _validate(settings)
    return settings


def apply_process_limits(settings: ServiceSettings) -> None:
    """Set what Python keeps per process from the settings, once at each process's start: the
    csv reader's field limit, so that uploads are checked with the limit jobs then read with."""
    csv.field_size_limit(settings.max_field_bytes)


def _parse(name: str, raw: str):
    if name in _BOOLS:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if name in _FLOATS:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{_ENV[name]} must be a number, not {raw!r}") from None
    if name not in _INTS:
        return raw
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{_ENV[name]} must be an integer, not {raw!r}") from None


def _validate(s: ServiceSettings) -> None:
    if s.max_upload_bytes < 1:
        raise ConfigError("AUTOML_MAX_UPLOAD_BYTES must be positive")
    if s.max_concurrent_jobs < 1:
        raise ConfigError("AUTOML_MAX_CONCURRENT_JOBS must be at least 1")
    if not 0 < s.port < 65536:
        raise ConfigError(f"port {s.port} is out of range")
    if s.workers < 1:
        raise ConfigError("workers must be at least 1")
    for name in ("max_invocation_bytes", "max_explain_rows", "session_max_age_s",
                 "login_attempts", "max_columns", "max_field_bytes"):
        if getattr(s, name) < 1:
            raise ConfigError(f"{_ENV[name]} must be at least 1")
    if not 0 <= s.capture_percent <= 100:
        raise ConfigError("AUTOML_CAPTURE_PERCENT must be between 0 and 100")
    if s.capture_retention_days < 0 or s.capture_retention_bytes < 0:
        raise ConfigError("capture retention (days, bytes) cannot be negative")
    if s.monitor_interval_s < MIN_MONITOR_INTERVAL_S:
        raise ConfigError(f"AUTOML_MONITOR_INTERVAL_S must be at least {MIN_MONITOR_INTERVAL_S}")
