"""``POST /endpoints/<name>/invocations``: one handler for the Flask view and the fast path.

:class:`InvocationHandler` does everything an invocation does, from the WSGI environ alone: the
token check (:func:`web.auth.invocation_allowed`), routing among the endpoint's variants (or to
the one ``X-Amzn-SageMaker-Target-Variant`` names), the body limit (413 and
``Connection: close``), :func:`~automl.serving.invocation.invoke`, data capture, the shadow copy,
per-variant counts, the endpoint's Prometheus counts (names that are not endpoints counted as
one) and the answer's headers (inference id, invoked variant, request id). The Flask view calls
it; :func:`fast_path` puts an :class:`~automl.serving.fastpath.InvocationDispatcher` in front of
the app that calls it without Flask's request machinery (unless ``AUTOML_FLASK_INVOCATIONS=1``).
A request with a session cookie goes through Flask, where a browser session lives (checked, and
its cookie refreshed); a fault is answered by the app's own 500 handler on either path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_cookie
from werkzeug.wsgi import get_content_length, get_input_stream

from automl import endpoint_metrics
from automl.exceptions import AutoMLError, Unauthorized
from automl.service_config import ServiceSettings
from automl.serving.fastpath import (
    Headers,
    InvocationDispatcher,
    WSGIApp,
    endpoint_name,
    is_endpoint_invocation,
)
from automl.serving.invocation import (
    INFERENCE_ID,
    PayloadTooLarge,
    error_response,
    inference_id,
    invoke,
    read_body,
)
from automl.serving.server import explain_requested
from automl.serving.variants import INVOKED_VARIANT, Route
from web.auth import TOKEN_MESSAGE, invocation_allowed
from web.errors import REQUEST_ID, request_id_of
from web.variant_service import Variants

Answer = tuple[int, bytes, str, Headers]
_TARGET_VARIANT_KEY = "HTTP_X_AMZN_SAGEMAKER_TARGET_VARIANT"  # X-Amzn-SageMaker-Target-Variant


class InvocationHandler:
    """``handler(environ, session_ok=None)`` -> (status, body, media type, extra headers) of one
    invocation; raises only on server faults, counted first (500, or an HTTPException's own
    status). ``session_ok`` (Flask only) says whether the request's browser session (cookie
    ``session_cookie``) is logged in."""

    def __init__(self, variants: Variants, settings: ServiceSettings, session_cookie: str):
        self.variants, self.settings, self.session_cookie = variants, settings, session_cookie
        self.observer = variants.endpoints.observer

    def has_session(self, environ: dict[str, Any]) -> bool:
        """Whether the request carries a browser session's cookie."""
        cookie = environ.get("HTTP_COOKIE")
        return bool(cookie) and self.session_cookie in parse_cookie(cookie)

    def takes_fast_path(self, environ: dict[str, Any]) -> bool:
        """An endpoint invocation without a session (a browser session is Flask's to read)."""
        return is_endpoint_invocation(environ) and not self.has_session(environ)

    def __call__(self, environ: dict[str, Any],
                 session_ok: Callable[[], bool] | None = None) -> Answer:
        request_id = [(REQUEST_ID, request_id_of(environ))]
        if not invocation_allowed(self.settings, environ.get("HTTP_AUTHORIZATION"),
                                  session_ok if self.has_session(environ) else None):
            return _error(Unauthorized(TOKEN_MESSAGE), request_id)  # not counted, as before
        started, known = time.perf_counter(), endpoint_metrics.UNKNOWN
        try:
            name = endpoint_name(environ)
            route = self.variants.route(name)
            known = name
            status, body, media_type, extra = self._answer(environ, name, route, started)
        except AutoMLError as exc:
            status, body, media_type, extra = _error(exc)
        except Exception as exc:
            status = exc.code if isinstance(exc, HTTPException) and exc.code else 500
            endpoint_metrics.observe(known, status, time.perf_counter() - started)
            raise
        endpoint_metrics.observe(known, status, time.perf_counter() - started)
        return status, body, media_type, extra + request_id

    def _answer(self, environ: dict[str, Any], name: str, route: Route, started: float) -> Answer:
        """Predict with the variant the request goes to; capture, copy to the shadow, count."""
        variant = route.pick(environ.get(_TARGET_VARIANT_KEY))
        try:
            body = read_body(get_input_stream(environ), get_content_length(environ),
                             self.settings.max_invocation_bytes, "AUTOML_MAX_INVOCATION_BYTES")
        except PayloadTooLarge as exc:  # unread bytes are not drained: close the connection
            return _error(exc, [("Connection", "close")])
        content_type = environ.get("CONTENT_TYPE")
        with self.variants.shadows.serving():
            answer = invoke(variant.bundle, body, content_type, environ.get("HTTP_ACCEPT"),
                            explain=explain_requested(environ),
                            max_explain_rows=self.settings.max_explain_rows)
        inference = inference_id(EnvironHeaders(environ).get(INFERENCE_ID))
        if answer.status == 200:
            self.observer.capture(name, body, content_type, answer.body, answer.content_type,
                                  inference, variant.name)
            if route.copies():
                self.variants.shadows.submit(name, route.shadow, body, content_type, answer,
                                             inference)
        self.variants.answered(name, variant.name, answer.status, time.perf_counter() - started)
        return answer.status, answer.body, answer.content_type, [
            (INFERENCE_ID, inference), (INVOKED_VARIANT, variant.name)]


def _error(exc: AutoMLError, headers: Headers | None = None) -> Answer:
    """An error as every invocation error is answered (:func:`invocation.error_response`)."""
    answer = error_response(exc)
    return answer.status, answer.body, answer.content_type, list(headers or ())


def fast_path(app: Flask, handler: InvocationHandler) -> InvocationDispatcher:
    """``app.wsgi_app`` with ``handler`` answering invocations in front of it."""
    return InvocationDispatcher(app.wsgi_app, handler, lambda exc: _fault(app, exc),
                                accepts=handler.takes_fast_path)


def _fault(app: Flask, exc: Exception) -> WSGIApp:
    """The answer Flask gives when the invocation view raises ``exc``: its error handlers
    (the 500 with a request id, logged with the traceback) and its after-request hooks."""

    def answer(environ: dict, start_response: Callable):
        with app.request_context(environ):
            response = app.finalize_request(app.handle_user_exception(exc))
        return response(environ, start_response)
    return answer
