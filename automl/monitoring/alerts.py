"""Alerts: a monitoring run's violations POSTed as JSON to a webhook.

Delivery never blocks or fails monitoring: :func:`deliver_async` sends from a thread of its own
and reports a :class:`Delivery` to a callback (the service records it). A timeout, a refused
connection, a 429 or a 5xx answer is retried a bounded number of times with exponential
backoff; any other 4xx is not retried (the receiver refused this payload).

Server-side request forgery: whoever may set a webhook could make the service POST to its own
network. So :func:`check_webhook_url` resolves the host and, unless ``allow_private`` (the
operator's ``AUTOML_WEBHOOK_ALLOW_PRIVATE``), refuses loopback, private, link-local, reserved
and multicast addresses; cloud metadata addresses (169.254.169.254, fd00:ec2::254) are refused
always. The check runs when the URL is set and again before every delivery (a DNS answer may
change), and redirects are never followed (a public receiver cannot bounce the POST inward).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from automl.exceptions import ConfigError
from automl.monitoring.capture import DEFAULT_VARIANT

RETRIES = 3
TIMEOUT_S = 5.0
BACKOFF_S = 1.0


@dataclass(frozen=True)
class Delivery:
    """The outcome of one webhook delivery: attempts made, the last HTTP status (None when no
    answer came) and error, and whether the receiver accepted it (2xx)."""

    url: str
    delivered: bool
    attempts: int
    status: int | None
    error: str | None
    at: str

    def to_dict(self) -> dict:
        return asdict(self)


METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


def check_webhook_url(url: str, allow_private: bool = True) -> str:
    """``url`` if it is an http(s) URL with a host (and, without ``allow_private``, one that
    resolves to public addresses only); :class:`ConfigError` otherwise."""
    parts = _check_form(url)
    for address in _addresses(parts.hostname, url):
        if address in METADATA_ADDRESSES or (not allow_private and not address.is_global):
            raise ConfigError(f"the webhook's host {parts.hostname} is a non-public address "
                              f"({address}); webhooks go to public addresses unless the "
                              "operator sets AUTOML_WEBHOOK_ALLOW_PRIVATE=1",
                              {"webhook": url, "address": str(address)})
    return url


def _check_form(url: str):
    parts = urlsplit(url or "")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1 \
            or parts.username or parts.password:
        raise ConfigError(f"a webhook must be an http:// or https:// URL with a host (and no "
                          f"credentials), not {url!r}", {"webhook": url})
    return parts


def _addresses(host: str, url: str) -> list:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"the webhook's host {host!r} does not resolve ({exc})",
                          {"webhook": url}) from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def alert_payload(endpoint: str, violations: list[dict], report: dict,
                  variant: str = DEFAULT_VARIANT) -> dict:
    """What a webhook receives: the endpoint and variant, the verdict and Model Monitor's
    violations."""
    dataset = report.get("dataset", {})
    return {"endpoint": endpoint, "variant": variant, "verdict": dataset.get("verdict"),
            "item_count": dataset.get("item_count"),
            "drifted_columns": dataset.get("drifted_columns", []),
            "violations": violations,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def deliver(url: str, payload: dict, retries: int = RETRIES, timeout: float = TIMEOUT_S,
            backoff: float = BACKOFF_S, allow_private: bool = True) -> Delivery:
    """POST ``payload`` to ``url``; up to ``retries`` more attempts after a retryable failure.
    A URL that fails :func:`check_webhook_url` is recorded as not delivered, not attempted."""
    _check_form(url)
    body = json.dumps(payload, default=str).encode()
    status, error, attempt = None, None, 0
    for attempt in range(1, retries + 2):
        try:
            check_webhook_url(url, allow_private)
        except ConfigError as exc:
            status, error = None, exc.message
            break
        status, error = _post(url, body, timeout)
        if status is not None and (200 <= status < 300 or _final(status)):
            break
        if attempt <= retries:
            time.sleep(backoff * 2 ** (attempt - 1))
    delivered = status is not None and 200 <= status < 300
    return Delivery(url, delivered, attempt, status, None if delivered else error,
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def _final(status: int) -> bool:
    """A 4xx other than 429: retrying the same payload cannot help."""
    return 400 <= status < 500 and status != 429


def _post(url: str, body: bytes, timeout: float) -> tuple[int | None, str | None]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with _OPENER.open(request, timeout=timeout) as answer:  # noqa: S310 - checked
            return answer.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, "timed out" if isinstance(reason, TimeoutError) else str(reason)


def deliver_async(url: str, payload: dict, on_result: Callable[[Delivery], None],
                  **options) -> threading.Thread:
    """:func:`deliver` on a daemon thread; ``on_result`` gets the :class:`Delivery`."""
    def run() -> None:
        on_result(deliver(url, payload, **options))

    thread = threading.Thread(target=run, name="automl-webhook", daemon=True)
    thread.start()
    return thread
