"""Pages (escaping, forms) and the optional API token."""

from __future__ import annotations

import io

import pytest

from automl.service_config import resolve_service_settings
from tests.web.conftest import csrf
from web import create_app

EVIL = b'<script>alert(1)</script>,<b>y</b>\n"<img src=x onerror=alert(2)>",1\n"<i>v</i>",0\n'


def test_index_has_upload_form(client):
    page = client.get("/").get_data(as_text=True)
    assert 'name="file"' in page and 'id="target"' in page and "/static/app.js" in page


def test_html_in_column_names_and_values_is_escaped(client):
    response = client.post("/api/v1/datasets", data=EVIL, content_type="text/csv")
    assert response.status_code == 201
    page = client.get(f"/datasets/{response.json['id']}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_upload_form_starts_a_job(client):
    body = b"x,y,label\n" + b"".join(b"%d,%d,%s\n" % (i, i % 3, b"ab"[i % 2:i % 2 + 1]) for i in range(30))
    response = client.post("/upload", data={"file": (io.BytesIO(body), "d.csv"), "target": "label",
                                            "task": "auto", "time_budget": "12", "metric": "",
                                            "max_latency_ms": "2.5", "csrf_token": csrf(client)},
                           content_type="multipart/form-data")
    assert response.status_code == 302 and "/jobs/job_" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert "queued" in page and "label" in page
    job = client.get("/api/v1" + response.location).json
    assert job["settings"]["max_latency_ms"] == 2.5


def test_upload_form_without_target_goes_to_dataset_page(client):
    response = client.post("/upload", data={"file": (io.BytesIO(b"a,b\n1,2\n3,4\n"), "d.csv"),
                                                  "csrf_token": csrf(client)},
                           content_type="multipart/form-data")
    assert response.status_code == 302 and "/datasets/ds_" in response.location


def test_upload_form_errors_are_shown(client):
    token = csrf(client)
    response = client.post("/upload", data={"file": (io.BytesIO(b""), "e.csv"), "csrf_token": token},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert "the file is empty" in response.get_data(as_text=True)
    missing = client.post("/upload", data={"target": "x", "csrf_token": token},
                          content_type="multipart/form-data")
    assert missing.status_code == 400 and "choose a CSV file" in missing.get_data(as_text=True)


def test_bad_job_form_is_shown_on_the_dataset_page(client, dataset):
    response = client.post(f"/datasets/{dataset['id']}/jobs", data={
        "target": "label", "time_budget": "-1", "csrf_token": csrf(client)})
    assert response.status_code == 400
    assert "time_budget" in response.get_data(as_text=True)
    slow = client.post(f"/datasets/{dataset['id']}/jobs", data={
        "target": "label", "max_latency_ms": "0", "csrf_token": csrf(client)})
    assert slow.status_code == 400
    assert "max_latency_ms: Input should be greater than 0" in slow.get_data(as_text=True)


def test_unknown_pages_are_html_404(client):
    response = client.get("/jobs/job_nope")
    assert response.status_code == 404 and "not found" in response.get_data(as_text=True)


@pytest.fixture
def locked(tmp_path):
    settings = resolve_service_settings(env={"AUTOML_API_TOKEN": "s3cret"},
                                        data_dir=str(tmp_path / "locked"))
    return create_app({"TESTING": True, "SERVICE_SETTINGS": settings}).test_client()


def test_token_protects_api_and_pages(locked):
    assert locked.get("/api/v1/jobs").status_code == 401
    assert locked.get("/api/v1/openapi.json").status_code == 401
    wrong = locked.get("/api/v1/jobs", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json["error"]["code"] == "unauthorized"
    assert locked.get("/api/v1/jobs", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    page = locked.get("/")
    assert page.status_code == 302 and "/login" in page.location


def login(client, token: str = "s3cret", next_: str = "/"):
    return client.post("/login", query_string={"next": next_},
                       data={"token": token, "csrf_token": csrf(client, "/login")})


def test_login_sets_a_session(locked):
    assert login(locked, "bad").status_code == 401
    response = login(locked)
    assert response.status_code == 302
    assert locked.get("/").status_code == 200
    assert locked.get("/api/v1/jobs").status_code == 200


def test_login_without_the_form_token_is_refused(locked):
    response = locked.post("/login", data={"token": "s3cret"})
    assert response.status_code == 403 and "reload the page" in response.get_data(as_text=True)
    assert locked.get("/api/v1/jobs").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/", "/\t/evil.example", "/\\evil.example",
                                    "https://evil.example/", "/\n/x", "javascript:alert(1)"])
def test_login_does_not_redirect_off_site(locked, target):
    response = login(locked, next_=target.replace("\\t", "\t").replace("\\n", "\n"))
    assert response.status_code == 302 and response.location == "/"


def test_login_keeps_a_path_on_this_site(locked):
    assert login(locked, next_="/jobs/job_x?tab=1").location == "/jobs/job_x?tab=1"


def test_session_expires(locked):
    login(locked)
    with locked.session_transaction() as session:
        session["since"] -= 12 * 3600 + 1
    assert locked.get("/api/v1/jobs").status_code == 401


def test_logout_ends_the_session(locked):
    login(locked)
    page = locked.get("/").get_data(as_text=True)
    assert 'id="logout"' in page
    response = locked.post("/logout", data={"csrf_token": csrf(locked)})
    assert response.status_code == 302 and "/login" in response.location
    assert locked.get("/api/v1/jobs").status_code == 401


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
def test_bearer_scheme_in_any_case(locked, scheme):
    response = locked.get("/api/v1/jobs", headers={"Authorization": f"{scheme} s3cret"})
    assert response.status_code == 200


def test_cookie_is_secure_over_https(locked):
    plain = locked.get("/login")
    assert "Secure" not in plain.headers["Set-Cookie"]
    https = locked.application.test_client().get("/login", base_url="https://localhost")
    assert "Secure" in https.headers["Set-Cookie"]
