"""Web service for automl: the Flask app factory (pages, JSON API, endpoints); DESIGN 4b."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from automl.service_config import ServiceSettings, apply_process_limits, resolve_service_settings
from automl.store import JobStore


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app. ``test_config`` may hold ``SERVICE_SETTINGS`` (a :class:`ServiceSettings`)
    or ``SERVICE_OVERRIDES`` (a dict of its fields) and any Flask config keys."""
    test_config = dict(test_config or {})
    settings: ServiceSettings = test_config.pop("SERVICE_SETTINGS", None) or \
        resolve_service_settings(**test_config.pop("SERVICE_OVERRIDES", {}))
    apply_process_limits(settings)
    app = Flask(__name__)
    from web.auth import init_auth, secret_key

    app.config.update(SECRET_KEY=secret_key(settings.data_dir),
                      MAX_CONTENT_LENGTH=settings.max_upload_bytes,
                      MAX_FORM_MEMORY_SIZE=1 << 20,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    app.json.sort_keys = False  # documents keep their order (importance: largest first)
    app.config.update(test_config)
    _init_service(app, settings)
    _register(app, settings)
    init_auth(app, settings)
    if not settings.flask_invocations:
        from web.invocations import fast_path

        app.wsgi_app = fast_path(app, app.extensions["automl_invocations"])
    logging.getLogger("automl.web").setLevel(logging.INFO)
    return app


def _init_service(app: Flask, settings: ServiceSettings) -> None:
    from web.core import Service

    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    store = JobStore(settings.db_url)
    store.create_schema()
    app.extensions["automl"] = Service(store, settings)


def _register(app: Flask, settings: ServiceSettings) -> None:
    from web import api, endpoints, monitoring_views, pages, retrain_views
    from web.errors import register_error_handlers

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(endpoints.bp)
    app.register_blueprint(monitoring_views.api)
    app.register_blueprint(monitoring_views.bp)
    app.register_blueprint(retrain_views.api)
    register_error_handlers(app, wants_json=endpoints.machine_request)
