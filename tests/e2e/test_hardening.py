"""Issue 19 against a real ``automl serve`` (gunicorn with two workers and the runner): login
redirects, sessions bound to the token, the login rate limit, Secure cookies behind HTTPS, CSRF
on forms and same-origin state changes on the API."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).parent))
from service_process import ServiceProcess  # noqa: E402

pytestmark = pytest.mark.slow
SMALL = b"x,y,label\n" + b"".join(b"%d,%d,%s\n" % (i, i % 3, b"ab"[i % 2:i % 2 + 1])
                                  for i in range(30))


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    data = tmp_path_factory.mktemp("locked") / "data"
    service = ServiceProcess(data, env={"AUTOML_API_TOKEN": "T1",
                                        "AUTOML_LOGIN_ATTEMPTS": "3"}).start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def open_service(tmp_path_factory):
    service = ServiceProcess(tmp_path_factory.mktemp("open") / "data").start()
    yield service
    service.stop()


def form_token(browser: requests.Session, url: str) -> str:
    html = browser.get(url, timeout=10).text
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(service, next_: str = "/", token: str = "T1") -> requests.Response:
    browser = requests.Session()
    csrf = form_token(browser, service.url + "/login")
    response = browser.post(f"{service.url}/login?next={next_}", allow_redirects=False,
                            data={"token": token, "csrf_token": csrf}, timeout=10)
    response.browser = browser
    return response


@pytest.mark.parametrize("next_", ["/%09/evil.com", "/%0a/x", "//evil.com", "/%5C%5Cevil.com",
                                   "https:%2F%2Fevil.com", "%2F%2Fevil.com"])
def test_login_never_redirects_off_site(locked, next_):
    response = sign_in(locked, next_)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_login_rate_limit_counts_across_workers(locked):
    browser = requests.Session()
    statuses = []
    for token in ("bad1", "bad2", "bad3", "T1"):
        csrf = form_token(browser, locked.url + "/login")
        statuses.append(browser.post(locked.url + "/login", data={"token": token, "csrf_token": csrf},
                                     allow_redirects=False, timeout=10).status_code)
    assert statuses == [401, 401, 401, 429]


def test_cookie_is_secure_behind_an_https_proxy(locked):
    plain = requests.get(locked.url + "/login", timeout=10)
    proxied = requests.get(locked.url + "/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert "secure" not in plain.headers["Set-Cookie"].lower()
    assert "; Secure" in proxied.headers["Set-Cookie"]


def test_bearer_in_any_case(locked):
    for scheme in ("bearer", "BEARER"):
        assert locked.get("/api/v1/jobs", headers={"Authorization": f"{scheme} T1"}).ok


def test_session_dies_with_the_token_and_at_logout(tmp_path):
    service = ServiceProcess(tmp_path / "data", env={"AUTOML_API_TOKEN": "T1"}).start()
    try:
        browser = sign_in(service).browser
        assert browser.get(service.url + "/api/v1/jobs", timeout=10).status_code == 200
        browser.post(service.url + "/logout", data={"csrf_token": form_token(browser, service.url)},
                     timeout=10)
        assert browser.get(service.url + "/api/v1/jobs", timeout=10).status_code == 401
        browser = sign_in(service).browser
        service.stop()
        service = ServiceProcess(tmp_path / "data", port=service.port,
                                 env={"AUTOML_API_TOKEN": "T2"}).start()
        assert browser.get(service.url + "/api/v1/jobs", timeout=10).status_code == 401
    finally:
        service.stop()


def upload(service, **kw) -> requests.Response:
    return service.post("/api/v1/datasets", files={"file": ("d.csv", SMALL)}, **kw)


def test_forms_need_the_csrf_token(open_service):
    dataset = upload(open_service).json()
    browser = requests.Session()
    url = f"{open_service.url}/datasets/{dataset['id']}/jobs"
    forged = browser.post(url, data={"target": "label"}, allow_redirects=False, timeout=10)
    assert forged.status_code == 403
    csrf = form_token(browser, f"{open_service.url}/datasets/{dataset['id']}")
    other_port = browser.post(url, data={"target": "label", "csrf_token": csrf}, timeout=10,
                              headers={"Origin": "http://127.0.0.1:1"}, allow_redirects=False)
    assert other_port.status_code == 403
    assert open_service.get("/api/v1/jobs").json()["jobs"] == []
    ok = browser.post(url, data={"target": "label", "csrf_token": csrf}, allow_redirects=False,
                      headers={"Origin": open_service.url}, timeout=10)
    assert ok.status_code == 302 and "/jobs/job_" in ok.headers["Location"]


def test_api_refuses_cross_site_browser_requests(open_service):
    assert upload(open_service).status_code == 201  # curl -F: no Origin, not a browser
    cross = upload(open_service, headers={"Origin": "http://localhost:1"})
    assert cross.status_code == 403 and "Bearer" in cross.json()["error"]["message"]
    fetch = upload(open_service, headers={"Sec-Fetch-Site": "same-site"})
    assert fetch.status_code == 403
    form = open_service.post("/api/v1/jobs", data={"dataset_id": "x", "target": "y"})
    assert form.status_code == 415
    same = upload(open_service, headers={"Origin": open_service.url})
    assert same.status_code == 201


def test_each_service_has_its_own_gunicorn_control_socket(locked, open_service):
    """``gunicornc -s DATA_DIR/run/gunicorn.ctl`` reaches that service's gunicorn, not whichever
    service of the user started last (gunicorn's default path is one per user)."""
    client = pytest.importorskip("gunicorn.ctl.client", reason="gunicorn < 25.1: no control socket")
    for service in (locked, open_service):
        with client.ControlClient(str(service.data_dir / "run" / "gunicorn.ctl"), 10) as ctl:
            listeners = ctl.send_command("show listeners")["listeners"]
        assert [entry["address"] for entry in listeners] == [f"http://127.0.0.1:{service.port}"]
