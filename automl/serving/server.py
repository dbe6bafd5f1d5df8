"""The standalone model server: one bundle behind a SageMaker Runtime compatible endpoint.

``create_model_app(bundle_dir)`` is a Flask app with ``POST /invocations``,
``POST /endpoints/<name>/invocations`` (any name, same bundle), ``GET /ping`` and ``GET /``.
``serve_model(args)`` runs it under gunicorn (``automl serve-model BUNDLE``). Views are thin:
the work is :func:`automl.serving.invocation.invoke`.
"""

from __future__ import annotations

import argparse
import gc
import logging
import uuid
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from gunicorn.app.base import BaseApplication
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wsgi import get_content_length, get_input_stream

from automl.exceptions import AutoMLError, NotFound, error_body
from automl.model.bundle import ModelBundle, find_bundle
from automl.serving.fastpath import Handler, InvocationDispatcher
from automl.serving.invocation import (
    INFERENCE_ID,
    MAX_BODY_BYTES,
    MAX_ROWS,
    error_response,
    inference_id,
    invoke,
    read_body,
)

log = logging.getLogger("automl.serving")
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
_CUSTOM_ATTRIBUTES_KEY = "HTTP_" + CUSTOM_ATTRIBUTES.upper().replace("-", "_")  # WSGI environ
_INFERENCE_ID_KEY = "HTTP_" + INFERENCE_ID.upper().replace("-", "_")


def load_bundle(bundle_dir: str | Path) -> ModelBundle:
    """Load a bundle or raise :class:`AutoMLError` with a one-line reason (CLI exits with 2)."""
    directory = find_bundle(bundle_dir)
    try:
        return ModelBundle.load(directory)
    except (OSError, ValueError, KeyError, EOFError, ImportError, AttributeError) as exc:
        raise AutoMLError(f"cannot load the model bundle at {directory}: "
                          f"{type(exc).__name__}: {exc}") from exc


def create_model_app(bundle_dir: str | Path | ModelBundle, max_rows: int = MAX_ROWS,
                     max_body_bytes: int = MAX_BODY_BYTES, capture: Any = None,
                     fast_path: bool = True) -> Flask:
    """A Flask app serving ONE bundle (a directory, a run's output, or a loaded bundle).

    ``capture`` (an :class:`automl.monitoring.capture.CaptureWriter`, passed in by the caller:
    serving does not import monitoring) receives every answered request with its inference id
    (the client's ``X-Amzn-SageMaker-Inference-Id`` or a new one, returned in that header).
    ``fast_path`` puts an :class:`InvocationDispatcher` in front of Flask: invocations are
    answered from the WSGI environ, with the same answers, at a fraction of Flask's cost.
    """
    bundle = bundle_dir if isinstance(bundle_dir, ModelBundle) else load_bundle(bundle_dir)
    app = Flask("automl.serving")
    app.extensions["automl_bundle"] = bundle

    handler = _invocation_handler(bundle, max_rows, max_body_bytes, capture)

    def invocations(name: str | None = None) -> Response:
        status, body, media_type, extra = handler(request.environ)
        return Response(body, status=status, content_type=media_type, headers=extra or None)

    app.add_url_rule("/invocations", "invocations", invocations, methods=["POST"])
    app.add_url_rule("/endpoints/<name>/invocations", "endpoint_invocations", invocations,
                     methods=["POST"])
    app.add_url_rule("/ping", "ping", lambda: Response(b"", 200), methods=["GET"])
    app.add_url_rule("/", "describe", lambda: jsonify(describe(bundle)), methods=["GET"])
    _register_errors(app)
    if fast_path:
        app.wsgi_app = InvocationDispatcher(app.wsgi_app, handler,
                                            lambda exc: _fault_response(app, exc))
    return app


def _invocation_handler(bundle: ModelBundle, max_rows: int, max_body_bytes: int,
                        capture: Any) -> Handler:
    """environ -> (status, body, media type, extra headers) for one invocation: the work of
    both the Flask view and the :class:`InvocationDispatcher` in front of it."""

    def handle(environ: dict[str, Any]) -> tuple[int, bytes, str, list[tuple[str, str]]]:
        try:
            body = read_body(get_input_stream(environ), get_content_length(environ),
                             max_body_bytes, "serve-model --max-body-bytes")
        except AutoMLError as exc:  # unread bytes are not drained: close the connection
            answer = error_response(exc)
            return answer.status, answer.body, answer.content_type, [("Connection", "close")]
        content_type = environ.get("CONTENT_TYPE")
        answer = invoke(bundle, body, content_type, environ.get("HTTP_ACCEPT"),
                        explain=explain_requested(environ), max_rows=max_rows)
        if capture is None or answer.status != 200:
            return answer.status, answer.body, answer.content_type, []
        inference = inference_id(environ.get(_INFERENCE_ID_KEY))
        capture.capture(body, content_type, answer.body, answer.content_type, inference)
        return answer.status, answer.body, answer.content_type, [(INFERENCE_ID, inference)]

    return handle


def describe(bundle: ModelBundle) -> dict[str, Any]:
    """A short description: task, labels, the columns the model reads, metric and candidate."""
    meta = bundle.metadata
    return {
        "task": bundle.task,
        "labels": bundle.classes,
        "target": bundle.schema.target,
        "columns": [{"name": c.name, "role": c.role} for c in bundle.schema.columns],
        "metric": meta.get("metric"), "score": meta.get("score"),
        "candidate_id": meta.get("candidate_id"), "family": meta.get("family"),
        "invocations": {"path": "/invocations", "content_types": ["text/csv", "application/json"],
                        "accept": ["application/json", "text/csv"]},
    }


def explain_requested(environ: dict[str, Any]) -> bool:
    """``?explain=true`` or ``X-Amzn-SageMaker-Custom-Attributes: explain=true`` in a WSGI
    environ (the query parsed only when there is one)."""
    if environ.get("QUERY_STRING") and \
            WerkzeugRequest(environ).args.get("explain", "").lower() in ("1", "true", "yes"):
        return True
    attributes = environ.get(_CUSTOM_ATTRIBUTES_KEY, "")
    for item in attributes.replace(";", ",").split(",") if attributes else ():
        key, _, value = item.partition("=")
        if key.strip().lower() == "explain" and value.strip().lower() in ("1", "true", "yes"):
            return True
    return False


def _register_errors(app: Flask) -> None:
    app.register_error_handler(Exception, _unexpected)


def _unexpected(exc: Exception) -> tuple[Response, int]:
    """Any exception as JSON: werkzeug's HTTP errors with their status, anything else a 500
    naming a request id that the log has with the traceback."""
    if isinstance(exc, HTTPException):
        code = getattr(exc, "code", 500) or 500
        name = getattr(exc, "name", "error").lower().replace(" ", "_")
        return jsonify(error_body(name, getattr(exc, "description", str(exc)))), code
    request_id = uuid.uuid4().hex[:12]
    log.exception("request %s failed", request_id)
    return jsonify(error_body("internal_error", f"internal error; request id {request_id}",
                              {"request_id": request_id})), 500


def _fault_response(app: Flask, exc: Exception) -> Response:
    """The app's answer to an exception raised outside Flask (in the dispatcher)."""
    with app.app_context():
        response, status = _unexpected(exc)
    response.status_code = status
    return response


def gunicorn_options(args: argparse.Namespace) -> dict[str, Any]:
    """Gunicorn settings from ``serve-model`` arguments (sync workers, or gthread with threads)."""
    threads = max(1, int(args.threads or 1))
    return {
        "bind": f"{args.host}:{args.port}",
        "workers": max(1, int(args.workers or 1)),
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "preload_app": True,
        "timeout": 120,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        # No control socket (gunicorn >= 25.1): its default path is one per user, shared by
        # every gunicorn of the machine; a model server's workers are fixed by its arguments.
        "control_socket_disable": True,
    }


def serve_model(args: argparse.Namespace, capture: Any = None) -> int:
    """Run ``automl serve-model``: load the bundle once (exit 2 if invalid), then gunicorn;
    ``capture`` as in :func:`create_model_app` (closed when a worker exits)."""
    if not Path(args.bundle).exists():
        raise NotFound(f"no such file or directory: {args.bundle}")
    app = create_model_app(args.bundle, max_body_bytes=args.max_body_bytes or MAX_BODY_BYTES,
                           capture=capture,
                           fast_path=not getattr(args, "flask_invocations", False))
    options = gunicorn_options(args)
    if capture is not None:
        options["worker_exit"] = lambda server, worker: capture.close()
    bundle = app.extensions["automl_bundle"]
    print(f"serving {bundle.task} model {bundle.metadata.get('candidate_id', '')} from "
          f"{args.bundle} on http://{options['bind']}", flush=True)
    freeze_heap()
    _GunicornApp(app, options).run()
    return 0


def freeze_heap() -> None:
    """Move everything loaded so far (libraries, the model) out of the garbage collector's
    reach before gunicorn forks: full collections no longer walk those objects on every
    worker, and the workers keep sharing their pages with the master."""
    gc.collect()
    gc.freeze()


class _GunicornApp(BaseApplication):
    """The real gunicorn, configured from a dict rather than its command line."""

    def __init__(self, app: Flask, options: dict[str, Any]):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application
