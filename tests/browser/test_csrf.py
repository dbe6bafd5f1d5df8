"""Issue 19 in a real browser (Debian Chromium through Playwright): a page on another port of
the same host auto-submits a form to the service with the user's session, and a login link
carries a hostile ``next``."""

from __future__ import annotations

import http.server
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from service_process import ServiceProcess, free_port  # noqa: E402

pytestmark = pytest.mark.slow
SMALL = b"x,y,label\n" + b"".join(b"%d,%d,%s\n" % (i, i % 3, b"ab"[i % 2:i % 2 + 1])
                                  for i in range(30))
AUTH = {"Authorization": "Bearer T1"}


def attacker_site(html: str) -> tuple[http.server.HTTPServer, str]:
    """Serve ``html`` at / from another port of 127.0.0.1."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server interface
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html.encode())

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", free_port()), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


def sign_in(page, service, next_: str = "/") -> None:
    page.goto(f"{service.url}/login?next={next_}")
    page.fill("input[name=token]", "T1")
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """One service with an API token for the module (each start costs seconds)."""
    service = ServiceProcess(tmp_path_factory.mktemp("csrf") / "data",
                             env={"AUTOML_API_TOKEN": "T1"}).start()
    yield service
    service.stop()


def test_a_form_from_another_port_cannot_start_a_job(browser, service):  # noqa: F811
    page = browser.new_page()
    try:
        dataset = service.post("/api/v1/datasets", headers=AUTH,
                               files={"file": ("d.csv", SMALL)}).json()
        sign_in(page, service)
        server, url = attacker_site(
            f'<form id="f" method="post" action="{service.url}/datasets/{dataset["id"]}/jobs">'
            '<input name="target" value="label"></form><script>f.submit()</script>')
        try:
            with page.expect_navigation(url=f"{service.url}/**") as navigation:
                page.goto(url)
            assert navigation.value.status == 403
        finally:
            server.shutdown()
        assert service.get("/api/v1/jobs", headers=AUTH).json()["jobs"] == []
        page.goto(f"{service.url}/datasets/{dataset['id']}")  # the real form still works
        page.select_option("select[name=target]", "label")
        page.click("form[action$='/jobs'] button[type=submit]")
        page.wait_for_url("**/jobs/job_*")
    finally:
        page.close()


@pytest.mark.parametrize("next_", ["/%09/evil.example", "/%5C/evil.example", "//evil.example"])
def test_login_never_leaves_the_site(browser, service, next_):  # noqa: F811
    page = browser.new_page()
    try:
        sign_in(page, service, next_)
        assert page.url == service.url + "/"
    finally:
        page.close()
