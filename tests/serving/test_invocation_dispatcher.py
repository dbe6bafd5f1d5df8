"""The WSGI fast path for invocations answers exactly as Flask's path does.

Two real ``automl serve-model`` servers (gunicorn) on the same bundle, one with the fast path
(the default) and one with ``--flask-invocations``, get the same requests, good and bad: the
status line, content type, body and the headers a client reads must match.
"""

from __future__ import annotations

import http.client
import json
import sys
from pathlib import Path

import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.test import create_environ

from automl.serving.fastpath import (
    InvocationDispatcher,
    endpoint_name,
    is_endpoint_invocation,
    is_invocation,
)
from automl.serving.server import create_model_app

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from service_process import ModelServer  # noqa: E402

LIMIT = 4096  # --max-body-bytes of both servers
CSV, JSON = "text/csv", "application/json"
READ_HEADERS = ("content-type", "content-length", "connection", "x-amzn-sagemaker-inference-id")


@pytest.fixture(scope="module")
def servers(titanic_dir, tmp_path_factory):
    capture = tmp_path_factory.mktemp("capture")
    started = {}
    try:
        for name, extra in (("fast", ()), ("flask", ("--flask-invocations",))):
            started[name] = ModelServer(titanic_dir, "--workers", "1", "--max-body-bytes",
                                        str(LIMIT), "--capture-dir", str(capture / name), *extra)
        yield {name: server.port for name, server in started.items()}
    finally:
        for server in started.values():
            server.stop()


def _one_row(titanic_rows) -> str:
    return titanic_rows.head(1).to_csv(header=False, index=False)


def _record(titanic_rows, **changes) -> dict:
    record = json.loads(titanic_rows.head(1).to_json(orient="records"))[0]
    record.update(changes)
    return record


def _cases(titanic_rows) -> dict[str, tuple]:
    """name: (method, path, headers, body) -- every way a client can get an invocation wrong,
    and a few right ones to show the answers also agree when they succeed."""
    one = _one_row(titanic_rows)
    header_row = titanic_rows.head(2).to_csv(index=False)
    return {
        "ok csv": ("POST", "/invocations", {"Content-Type": CSV}, one),
        "ok csv out": ("POST", "/invocations", {"Content-Type": CSV, "Accept": CSV}, header_row),
        "ok json, named endpoint": ("POST", "/endpoints/some-name/invocations",
                                    {"Content-Type": JSON},
                                    json.dumps({"instances": [_record(titanic_rows)]})),
        "ok with inference id": ("POST", "/invocations",
                                 {"Content-Type": CSV + "; charset=utf-8",
                                  "X-Amzn-SageMaker-Inference-Id": "client-id-7"}, one),
        "wrong content type": ("POST", "/invocations", {"Content-Type": "text/xml"}, "<a/>"),
        "no content type": ("POST", "/invocations", {}, one),
        "unacceptable accept": ("POST", "/invocations", {"Content-Type": CSV,
                                                         "Accept": "text/html"}, one),
        "explain as csv (query)": ("POST", "/invocations?explain=yes",
                                   {"Content-Type": CSV, "Accept": CSV}, one),
        "explain as csv (attributes)": ("POST", "/invocations",
                                        {"Content-Type": CSV, "Accept": CSV,
                                         "X-Amzn-SageMaker-Custom-Attributes": "a=1;explain=true"},
                                        one),
        "empty body": ("POST", "/invocations", {"Content-Type": CSV}, ""),
        "wrong field count": ("POST", "/invocations", {"Content-Type": CSV}, "1,2,3\n"),
        "ragged rows": ("POST", "/invocations", {"Content-Type": CSV}, one + "1,2\n"),
        "unparseable number": ("POST", "/invocations", {"Content-Type": JSON},
                               json.dumps([_record(titanic_rows, Age="old")])),
        "malformed json": ("POST", "/invocations", {"Content-Type": JSON}, '{"instances": ['),
        "nested json": ("POST", "/invocations", {"Content-Type": JSON}, "[" * 3000 + "]" * 3000),
        "infinite number": ("POST", "/invocations", {"Content-Type": JSON},
                            json.dumps([_record(titanic_rows, Fare=float("inf"))])),
        "not utf-8": ("POST", "/invocations", {"Content-Type": CSV}, b"\xff\xfe1,2\n"),
        "too large (declared)": ("POST", "/invocations", {"Content-Type": CSV}, "1," * LIMIT),
        "too large (chunked)": ("POST", "/invocations", {"Content-Type": CSV},
                                [b"1," * 1024] * 4),
        "wrong method": ("GET", "/invocations", {}, None),
        "name with a slash": ("POST", "/endpoints/a/b/invocations", {"Content-Type": CSV}, one),
        "trailing slash": ("POST", "/invocations/", {"Content-Type": CSV}, one),
    }


CASES = ["ok csv", "ok csv out", "ok json, named endpoint", "ok with inference id",
         "wrong content type", "no content type", "unacceptable accept", "explain as csv (query)",
         "explain as csv (attributes)", "empty body", "wrong field count", "ragged rows",
         "unparseable number", "malformed json", "nested json", "infinite number", "not utf-8",
         "too large (declared)", "too large (chunked)", "wrong method", "name with a slash",
         "trailing slash"]


def _send(port: int, method: str, path: str, headers: dict, body) -> tuple[str, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        chunked = body is not None and not isinstance(body, str | bytes)
        conn.request(method, path, body=iter(body) if chunked else body, headers=headers,
                     encode_chunked=chunked)
        answer = conn.getresponse()
        status = f"{answer.status} {answer.reason}"
        seen = {k.lower(): v for k, v in answer.getheaders() if k.lower() in READ_HEADERS}
        return status, seen, answer.read()
    finally:
        conn.close()


@pytest.mark.parametrize("case", CASES)
def test_fast_and_flask_paths_answer_alike(servers, titanic_rows, case):
    method, path, headers, body = _cases(titanic_rows)[case]
    fast = _send(servers["fast"], method, path, headers, body)
    flask = _send(servers["flask"], method, path, headers, body)
    assert _generated_id_masked(fast, headers) == _generated_id_masked(flask, headers)
    status, seen, answer = fast
    if case.startswith("ok"):
        assert status == "200 OK" and seen["x-amzn-sagemaker-inference-id"]
        if "inference id" in case:
            assert seen["x-amzn-sagemaker-inference-id"] == "client-id-7"
    elif method == "POST" and path.endswith("/invocations") and "a/b" not in path:
        assert status[0] == "4" and json.loads(answer)["error"]["message"]


def _generated_id_masked(answer: tuple, sent: dict) -> tuple:
    """An answer with a server-made inference id (a new uuid each time) shown as present."""
    status, seen, body = answer
    key = "x-amzn-sagemaker-inference-id"
    if key in seen and "X-Amzn-SageMaker-Inference-Id" not in sent:
        seen = {**seen, key: "<generated>"}
    return status, seen, body


def test_generated_inference_ids_differ_between_requests(servers, titanic_rows):
    ids = {_send(servers["fast"], "POST", "/invocations", {"Content-Type": CSV},
                 _one_row(titanic_rows))[1]["x-amzn-sagemaker-inference-id"] for _ in range(3)}
    assert len(ids) == 3


def test_too_large_closes_the_connection(servers):
    status, seen, _ = _send(servers["fast"], "POST", "/invocations", {"Content-Type": CSV},
                            "1," * LIMIT)
    assert status == "413 REQUEST ENTITY TOO LARGE" and seen["connection"] == "close"


@pytest.mark.parametrize("fast_path", [True, False])
def test_fast_path_bypasses_flask_for_invocations_only(titanic, titanic_rows, fast_path):
    app = create_model_app(titanic, fast_path=fast_path)
    through_flask = []
    app.before_request(lambda: through_flask.append(1))
    client = app.test_client()
    answer = client.post("/invocations", data=_one_row(titanic_rows), content_type=CSV)
    assert answer.status_code == 200 and len(answer.json["predictions"]) == 1
    assert isinstance(app.wsgi_app, InvocationDispatcher) == fast_path
    assert len(through_flask) == (0 if fast_path else 1)
    assert client.get("/ping").status_code == 200 and len(through_flask) == (1 if fast_path else 2)


def test_a_fault_in_the_fast_path_is_the_apps_500(titanic, titanic_rows, monkeypatch, caplog):
    app = create_model_app(titanic)
    monkeypatch.setattr(titanic, "predict_one", _explode)  # a model that fails at predict time
    monkeypatch.setattr(titanic, "matrix", _explode)
    answer = app.test_client().post("/invocations", data=_one_row(titanic_rows),
                                    content_type=CSV)
    assert answer.status_code == 500 and answer.content_type == JSON
    error = answer.json["error"]
    assert error["code"] == "internal_error" and error["details"]["request_id"] in error["message"]
    assert "boom" in caplog.text and error["details"]["request_id"] in caplog.text


def _explode(*args, **kwargs):
    raise RuntimeError("boom")


@pytest.mark.parametrize("path,method,expected", [
    ("/invocations", "POST", True), ("/endpoints/x/invocations", "POST", True),
    ("/endpoints/a.b-c_d/invocations", "POST", True), ("/invocations", "GET", False),
    ("/invocations/", "POST", False), ("/endpoints//invocations", "POST", False),
    ("/endpoints/invocations", "POST", False), ("/endpoints/a/b/invocations", "POST", False),
    ("/endpoints/x/invocations/", "POST", False), ("/ping", "POST", False)])
def test_is_invocation_matches_the_flask_routes(titanic, path, method, expected):
    assert is_invocation({"REQUEST_METHOD": method, "PATH_INFO": path}) == expected
    adapter = create_model_app(titanic, fast_path=False).url_map.bind("x")
    try:
        endpoint, _ = adapter.match(path, method)
    except HTTPException:  # 404, 405, or a redirect to another path: not the invocation view
        endpoint = None
    assert (endpoint in ("invocations", "endpoint_invocations")) == expected


@pytest.mark.parametrize("name", ["a.b-c_d", "caf\u00e9", "\u6a21\u578b"])
def test_endpoint_name_is_the_name_flask_routes(titanic, name):
    environ = create_environ(f"/endpoints/{name}/invocations", method="POST")
    adapter = create_model_app(titanic, fast_path=False).url_map.bind_to_environ(environ)
    assert is_endpoint_invocation(environ) and not is_endpoint_invocation(
        {**environ, "PATH_INFO": "/invocations"})
    assert adapter.match() == ("endpoint_invocations", {"name": endpoint_name(environ)})
    assert endpoint_name(environ) == name
