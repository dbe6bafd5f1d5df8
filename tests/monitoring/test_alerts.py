"""Webhook alerts against a real local HTTP receiver: retries, timeouts, refusals."""

from __future__ import annotations

import pytest

from automl.exceptions import ConfigError
from automl.monitoring.alerts import alert_payload, check_webhook_url, deliver, deliver_async
from tests.monitoring.receiver import Receiver

VIOLATION = {"feature_name": "age", "constraint_check_type": "baseline_drift_check",
             "description": "PSI of 'age' against the training data is 0.4, above 0.1"}


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


def test_webhooks_to_non_public_addresses_are_refused_unless_allowed(receiver_factory):
    receiver = receiver_factory()
    with pytest.raises(ConfigError, match="AUTOML_WEBHOOK_ALLOW_PRIVATE"):
        check_webhook_url(receiver.url, allow_private=False)
    assert check_webhook_url(receiver.url, allow_private=True) == receiver.url
    with pytest.raises(ConfigError, match="non-public"):
        check_webhook_url("http://169.254.169.254/latest/meta-data/", allow_private=True)
    refused = deliver(receiver.url, {"violations": []}, backoff=0, allow_private=False)
    assert not refused.delivered and refused.attempts == 1 and not receiver.bodies
    assert "non-public" in refused.error


def test_a_redirect_is_not_followed(receiver_factory):
    inner = receiver_factory()
    outer = receiver_factory(statuses=[302], location=inner.url)
    result = deliver(outer.url, {"violations": []}, retries=0, backoff=0)
    assert not result.delivered and result.status == 302 and not inner.bodies
