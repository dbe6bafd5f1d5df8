"""Optional bearer-token protection: with ``AUTOML_API_TOKEN`` set, every API route needs
``Authorization: Bearer <token>`` (or a logged-in session) and every page needs a login.

Model invocations (``POST /endpoints/<name>/invocations``) need the token too, answered 401 in
JSON like the API, unless ``AUTOML_PUBLIC_ENDPOINTS=1`` opens them (SageMaker clients sign with
SigV4, which this service does not check; a boto3 client can add the bearer header with an
event hook, as the endpoint page shows). ``GET /ping`` is always open, for health checks."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from flask import Flask, redirect, request, session, url_for

from web.errors import error_response

OPEN_ENDPOINTS = {"pages.login", "static", "endpoints.ping"}
INVOCATIONS = "endpoints.invocations"


def secret_key(data_dir: str) -> bytes:
    """The session signing key, made once per data dir and shared by every worker."""
    path = Path(data_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    except FileExistsError:
        pass
    return path.read_bytes()


def token_ok(token: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(token.encode(), given.encode())


def init_auth(app: Flask, token: str | None, public_endpoints: bool = False) -> None:
    """Install the check before every request when a token is configured."""
    if not token:
        return
    open_endpoints = OPEN_ENDPOINTS | ({INVOCATIONS} if public_endpoints else set())

    @app.before_request
    def require_token():
        if request.endpoint in open_endpoints or session.get("authenticated"):
            return None
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and token_ok(token, header[7:].strip()):
            return None
        if request.path.startswith("/api/") or request.endpoint == INVOCATIONS:
            return error_response("unauthorized", "missing or wrong API token; send "
                                  "'Authorization: Bearer <token>'", status=401)
        return redirect(url_for("pages.login", next=request.full_path))
