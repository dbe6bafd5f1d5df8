"""Invocations answered straight from the WSGI environ, in front of Flask.

An invocation is the whole reason a model server exists, and Flask's request machinery
(request context, routing, ``Request`` and ``Response`` objects) costs about as much CPU per
request as the prediction itself. :class:`InvocationDispatcher` recognises
``POST /invocations`` and ``POST /endpoints/<name>/invocations`` from the environ alone, has
them answered by the same handler the Flask view calls, and writes the response with the
status line and headers werkzeug would have written; every other request goes to Flask
unchanged. Fast and slow paths therefore answer alike byte for byte (up to header order).
The web service puts one in front of its app for ``POST /endpoints/<name>/invocations`` only
(``accepts``: :func:`is_endpoint_invocation` and more of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from werkzeug.http import HTTP_STATUS_CODES

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
Headers = list[tuple[str, str]]
# environ -> (status, body, media type, extra headers); raises only on server faults
Handler = Callable[[dict], tuple[int, bytes, str, Headers]]
INVOCATIONS = "/invocations"
ENDPOINTS = "/endpoints/"


def is_invocation(environ: dict[str, Any]) -> bool:
    """Whether Flask would route this request to an invocation view: a POST to
    ``/invocations`` or to ``/endpoints/<name>/invocations`` (a name without ``/``)."""
    if environ.get("REQUEST_METHOD") != "POST":
        return False
    return environ.get("PATH_INFO", "") == INVOCATIONS or is_endpoint_invocation(environ)


def is_endpoint_invocation(environ: dict[str, Any]) -> bool:
    """Whether this is a POST to ``/endpoints/<name>/invocations`` (a name without ``/``)."""
    if environ.get("REQUEST_METHOD") != "POST":
        return False
    path = environ.get("PATH_INFO", "")
    if not (path.startswith(ENDPOINTS) and path.endswith(INVOCATIONS)):
        return False
    name = path[len(ENDPOINTS):-len(INVOCATIONS)]
    return bool(name) and "/" not in name


def endpoint_name(environ: dict[str, Any]) -> str:
    """The ``<name>`` of an :func:`is_endpoint_invocation` path, decoded as werkzeug's router
    decodes it (the WSGI string's bytes as UTF-8), so it equals the Flask view's argument."""
    name = environ["PATH_INFO"][len(ENDPOINTS):-len(INVOCATIONS)]
    return name if name.isascii() else name.encode("latin-1").decode("utf-8", "replace")


@cache
def status_line(status: int) -> str:
    """The status line werkzeug writes for ``status`` (``"413 REQUEST ENTITY TOO LARGE"``)."""
    return f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"


class InvocationDispatcher:
    """WSGI middleware: invocations go to ``handler``, everything else to ``app``.

    ``on_error(exc)`` turns an unexpected exception of the handler into a WSGI response (the
    app's own 500 answer), so a fault looks the same whichever path met it. ``accepts(environ)``
    says which requests are invocations for ``handler`` (default :func:`is_invocation`).
    """

    def __init__(self, app: WSGIApp, handler: Handler, on_error: Callable[[Exception], WSGIApp],
                 accepts: Callable[[dict], bool] = is_invocation):
        self.app, self.handler, self.on_error, self.accepts = app, handler, on_error, accepts

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if not self.accepts(environ):
            return self.app(environ, start_response)
        try:
            status, body, media_type, extra = self.handler(environ)
        except Exception as exc:  # noqa: BLE001 - answered as the app answers any fault
            return self.on_error(exc)(environ, start_response)
        headers = [("Content-Type", media_type),
                   ("Content-Length", str(len(body)))]
        start_response(status_line(status), headers + extra if extra else headers)
        return [body]
