"""Webhook alerts against a real local HTTP receiver: retries, timeouts, refusals."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from automl.exceptions import ConfigError
from automl.monitoring.alerts import alert_payload, deliver, deliver_async

VIOLATION = {"feature_name": "age", "constraint_check_type": "baseline_drift_check",
             "description": "PSI of 'age' against the training data is 0.4, above 0.1"}


class Receiver:
    """A local HTTP server answering with the given statuses in turn (then 200), optionally
    slowly; it keeps the JSON bodies it received."""

    def __init__(self, statuses=(), delay: float = 0.0):
        self.statuses, self.delay, self.bodies = list(statuses), delay, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(json.loads(body))
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    made = []

    def make(*args, **kwargs) -> Receiver:
        made.append(Receiver(*args, **kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def test_the_receiver_gets_the_violations(receiver_factory):
    receiver = receiver_factory()
    report = {"dataset": {"verdict": "violations", "item_count": 1000, "drifted_columns": ["age"]}}
    result = deliver(receiver.url, alert_payload("churn", [VIOLATION], report), backoff=0)
    assert result.delivered and result.attempts == 1 and result.status == 200
    (body,) = receiver.bodies
    assert body["endpoint"] == "churn" and body["verdict"] == "violations"
    assert body["violations"] == [VIOLATION]


def test_server_errors_are_retried_a_bounded_number_of_times(receiver_factory):
    flaky = receiver_factory(statuses=[500, 503])
    result = deliver(flaky.url, {"violations": []}, retries=3, backoff=0)
    assert result.delivered and result.attempts == 3
    broken = receiver_factory(statuses=[500] * 10)
    result = deliver(broken.url, {"violations": []}, retries=2, backoff=0)
    assert not result.delivered and result.attempts == 3 and result.status == 500
    assert result.error == "HTTP 500" and len(broken.bodies) == 3


def test_a_refusal_is_not_retried(receiver_factory):
    receiver = receiver_factory(statuses=[400])
    result = deliver(receiver.url, {"violations": []}, retries=3, backoff=0)
    assert not result.delivered and result.attempts == 1 and result.status == 400


def test_a_slow_receiver_times_out_and_monitoring_goes_on(receiver_factory):
    slow = receiver_factory(delay=2.0)
    results = []
    thread = deliver_async(slow.url, {"violations": []}, results.append, retries=1,
                           timeout=0.2, backoff=0)
    assert not results  # the caller is not held up: two 0.2 s timeouts are still to come
    thread.join(30)
    (result,) = results
    assert not result.delivered and result.attempts == 2
    assert result.status is None and result.error == "timed out"


def test_only_http_urls_are_accepted():
    for url in ("file:///etc/passwd", "ftp://example.com/x", "http://", "not a url"):
        with pytest.raises(ConfigError, match="http:// or https://"):
            deliver(url, {})
