"""Fixtures in the Flask tutorial's style: ``app``, ``client``, and a few uploads."""

from __future__ import annotations

import re

import pytest

from automl.service_config import resolve_service_settings
from web import create_app


@pytest.fixture
def settings(tmp_path):
    return resolve_service_settings(env={}, data_dir=str(tmp_path / "data"), max_upload_bytes=50_000)


@pytest.fixture
def app(settings):
    return create_app({"TESTING": True, "SERVICE_SETTINGS": settings})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def service(app):
    return app.extensions["automl"]


SMALL_CSV = b"x,y,label\n1,2.5,a\n2,3.5,b\n3,1.0,a\n4,0.5,b\n5,2.0,a\n6,1.5,b\n"


@pytest.fixture
def dataset(client) -> dict:
    response = client.post("/api/v1/datasets", data=SMALL_CSV, content_type="text/csv",
                           query_string={"name": "small.csv"})
    assert response.status_code == 201, response.json
    return response.json


def csrf(client, page: str = "/") -> str:
    """The CSRF token a browser would find in the page's forms (the session keeps it)."""
    html = client.get(page).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
