"""Optional bearer-token protection: with ``AUTOML_API_TOKEN`` set, every API route needs
``Authorization: Bearer <token>`` (or a logged-in session) and every page needs a login.
A session is bound to the token it was made under (a restart with another token ends it) and
expires after ``AUTOML_SESSION_MAX_AGE_S``; ``POST /logout`` ends it.

Model invocations (``POST /endpoints/<name>/invocations``) need the token too, answered 401 in
JSON like the API, unless ``AUTOML_PUBLIC_ENDPOINTS=1`` opens them (SageMaker clients sign with
SigV4, which this service does not check; a boto3 client can add the bearer header with an
event hook, as the endpoint page shows): :func:`invocation_allowed` is that check, made by the
invocation handler itself (:mod:`web.invocations`), which may answer without Flask.
``GET /ping`` is always open, for health checks."""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app, redirect, request, url_for

from automl.service_config import ServiceSettings
from web.errors import error_response
from web.security import (
    HttpsAwareSessions,
    bearer_token,
    check_browser_request,
    csrf_field,
    parse_bearer,
    session_valid,
)

OPEN_ENDPOINTS = {"pages.login", "static", "endpoints.ping"}
INVOCATIONS = "endpoints.invocations"
MACHINE_ENDPOINTS = {INVOCATIONS, "endpoints.ping"}  # SageMaker clients, not browser forms
TOKEN_MESSAGE = "missing or wrong API token; send 'Authorization: Bearer <token>'"


def secret_key(data_dir: str) -> bytes:
    """The session signing key, made once per data dir and shared by every worker."""
    path = Path(data_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"secret_key.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    try:  # a hard link appears whole: no worker ever reads a key still being written
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()


def token_ok(token: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(token.encode(), given.encode())


def invocation_allowed(settings: ServiceSettings, authorization: str | None,
                       session_ok: Callable[[], bool] | None = None) -> bool:
    """Whether an invocation may be answered: always without a token or with
    ``AUTOML_PUBLIC_ENDPOINTS``; else with the token in ``authorization`` (the header's value)
    or, when the request came through Flask with a cookie, a logged-in session (``session_ok``)."""
    if not settings.api_token or settings.public_endpoints:
        return True
    if session_ok is not None and session_ok():
        return True
    return token_ok(settings.api_token, parse_bearer(authorization))


def logged_in() -> bool:
    """Whether the current request (in Flask) has a valid logged-in session."""
    settings = current_app.extensions["automl"].settings
    return session_valid(current_app.secret_key, settings.api_token or "",
                         settings.session_max_age_s)


def init_auth(app: Flask, settings: ServiceSettings) -> None:
    """Install the checks before every request: the browser checks always (CSRF tokens on
    forms, same origin for state changes), the token check when a token is configured
    (invocations check it themselves: :func:`invocation_allowed`)."""
    app.session_interface = HttpsAwareSessions()
    app.config["PERMANENT_SESSION_LIFETIME"] = settings.session_max_age_s
    app.jinja_env.globals["csrf_field"] = csrf_field
    token = settings.api_token
    open_endpoints = OPEN_ENDPOINTS | {INVOCATIONS}

    @app.before_request
    def guard():
        if request.endpoint not in MACHINE_ENDPOINTS:
            check_browser_request(is_api=request.path.startswith("/api/"))
        if not token or request.endpoint in open_endpoints:
            return None
        if logged_in() or token_ok(token, bearer_token()):
            return None
        if request.path.startswith("/api/"):
            return error_response("unauthorized", TOKEN_MESSAGE, status=401)
        return redirect(url_for("pages.login", next=request.full_path))
