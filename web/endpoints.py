"""Model endpoints (``/api/v1/endpoints``, ``/endpoints/<name>/invocations``): issue 5.

A slot so that ``create_app`` already registers a blueprint for them; the serving work fills it.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("endpoints", __name__)
