"""Browser-facing defences: safe redirects after login, CSRF tokens on the HTML forms, an
origin check on state-changing requests, sessions bound to the API token, a login rate limit,
and a session cookie that is ``Secure`` whenever the request came over HTTPS.

Requests that carry ``Authorization: Bearer`` are not browser form posts (a cross-site page
cannot set that header without a CORS preflight this service never grants), so the CSRF and
origin checks apply only to requests without it.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup

from automl.exceptions import Forbidden, TooManyRequests

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_WINDOW_S = 300


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no scheme, host, control chars)."""
    if not target or any(ord(c) < 33 or c in "\\\x7f" for c in target):
        return "/"
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return "/"
    return target


# CSRF -----------------------------------------------------------------------------------------

def csrf_token() -> str:
    """This session's CSRF token, made on first use."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def csrf_field() -> Markup:
    """The hidden form field every state-changing form carries (a Jinja global)."""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{csrf_token()}">')


def check_browser_request(is_api: bool) -> None:
    """Refuse a state-changing request a cross-site page could have sent.

    Forms must echo the session's CSRF token (field or header). API calls without a bearer
    header must come from this origin when a browser says where they come from (``Origin``,
    ``Sec-Fetch-Site``); clients such as curl send neither and are not browsers.
    """
    if request.method in SAFE_METHODS or has_bearer():
        return
    _check_origin()
    if is_api:
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
    expected = session.get(CSRF_FIELD)
    if not expected or not hmac.compare_digest(str(expected), str(sent)):
        raise Forbidden("the form is out of date or came from another site; reload the page "
                           "and submit it again")


def _check_origin() -> None:
    origin = request.headers.get("Origin")
    fetch_site = request.headers.get("Sec-Fetch-Site", "")
    if fetch_site in ("cross-site", "same-site"):
        raise Forbidden(f"a {fetch_site} request cannot change anything here; call the API "
                           "with 'Authorization: Bearer <token>' instead")
    if origin and origin != "null" and _origin_host(origin) != request.host.lower():
        raise Forbidden(f"requests from {origin} cannot change anything here; call the API "
                           "with 'Authorization: Bearer <token>' instead", {"origin": origin})
    if origin == "null":
        raise Forbidden("requests from an opaque origin cannot change anything here")


def _origin_host(origin: str) -> str:
    parts = urlsplit(origin)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def has_bearer() -> bool:
    return bearer_token() is not None


def bearer_token() -> str | None:
    """The token of the request's ``Authorization: Bearer`` header."""
    return parse_bearer(request.headers.get("Authorization"))


def parse_bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header value (scheme in any case, RFC 7235)."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


# Sessions -------------------------------------------------------------------------------------

def token_fingerprint(secret: bytes, token: str) -> str:
    """What a session stores to prove it was made under ``token`` (not the token itself)."""
    return hmac.new(secret, b"session:" + token.encode(), hashlib.sha256).hexdigest()[:32]


def start_session(secret: bytes, token: str | None) -> None:
    """Log in: a fresh session bound to the current token, stamped with its start time."""
    session.clear()
    session.permanent = True
    session["authenticated"] = True
    session["token"] = token_fingerprint(secret, token or "")
    session["since"] = int(time.time())


def session_valid(secret: bytes, token: str, max_age_s: int) -> bool:
    """A logged-in session made under the current token and younger than ``max_age_s``."""
    if not session.get("authenticated"):
        return False
    fresh = time.time() - float(session.get("since", 0)) < max_age_s
    same = hmac.compare_digest(str(session.get("token", "")), token_fingerprint(secret, token))
    return fresh and same


class HttpsAwareSessions(SecureCookieSessionInterface):
    """The session cookie gets ``Secure`` when the request came over HTTPS (directly, or via a
    proxy gunicorn trusts through ``X-Forwarded-Proto``), and always with SESSION_COOKIE_SECURE."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


# Login rate limit -----------------------------------------------------------------------------

class LoginLimiter:
    """Failed logins per client address over :data:`LOGIN_WINDOW_S`, kept in one small file in
    the data directory so that every gunicorn worker counts the same attempts."""

    def __init__(self, data_dir: str, attempts: int, window_s: int = LOGIN_WINDOW_S):
        self.path = Path(data_dir) / "login-failures.json"
        self.attempts, self.window_s = attempts, window_s

    def check(self, client: str) -> None:
        """Raise :class:`TooManyRequests` once ``client`` used up its failed attempts."""
        recent = self._update(client, add=False)
        if len(recent) >= self.attempts:
            wait = int(self.window_s - (time.time() - min(recent))) + 1
            raise TooManyRequests(f"too many failed sign-ins from this address; try again in "
                                f"{wait} s", {"retry_after_s": wait})

    def failed(self, client: str) -> None:
        self._update(client, add=True)

    def _update(self, client: str, add: bool) -> list[float]:
        now = time.time()
        with open(self.path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            try:
                table = json.loads(fh.read() or "{}")
            except ValueError:
                table = {}
            table = {k: [t for t in v if now - t < self.window_s] for k, v in table.items()}
            table = {k: v for k, v in table.items() if v}
            if add:
                table.setdefault(client, []).append(now)
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(table))
        return table.get(client, [])
