"""The service's Prometheus metrics of endpoints (``prometheus_client``), declared once.

Under gunicorn, ``automl serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` for its children, so every
worker writes its counters to files there and ``/metrics`` (any worker) and the runner's
traffic snapshots (:func:`read_totals`) add them up; without it (tests, one process) the
metrics live in this process's default registry.

| metric | labels | what |
|---|---|---|
| ``automl_endpoint_requests_total`` | endpoint, status | invocations answered, by HTTP status |
| ``automl_endpoint_errors_total`` | endpoint, status | the 4xx and 5xx among them |
| ``automl_endpoint_latency_seconds`` | endpoint | histogram of the time to answer |
| ``automl_capture_records_total`` | endpoint, variant, outcome | captured, sampled_out, dropped_queue_full, dropped_write_error |
| ``automl_variant_requests_total`` | endpoint, variant, outcome | answers of each variant (shadow copies too): ok, error, dropped (shadow queue full) |
| ``automl_variant_latency_seconds`` | endpoint, variant | histogram of each variant's time to answer |
| ``automl_shadow_rows_total`` | endpoint, variant, outcome | rows a shadow answered: agree or disagree with production |
| ``automl_endpoint_drift_score`` | endpoint | the highest column drift score of the newest monitoring run (read from the store at scrape time) |

An invocation of an endpoint that does not exist is counted under ``endpoint="(unknown)"``, so a
client cannot create series by guessing names.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest

from automl.exceptions import ServerFault

UNKNOWN = "(unknown)"
log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("automl_endpoint_requests", "Invocations answered, by HTTP status",
                   ["endpoint", "status"])
ERRORS = Counter("automl_endpoint_errors", "Invocations answered with a 4xx or 5xx status",
                 ["endpoint", "status"])
LATENCY = Histogram("automl_endpoint_latency_seconds", "Time to answer an invocation",
                    ["endpoint"], buckets=LATENCY_BUCKETS)
CAPTURE = Counter("automl_capture_records", "Data capture records by outcome",
                  ["endpoint", "variant", "outcome"])

VARIANT_REQUESTS = Counter("automl_variant_requests", "Answers of each variant (shadow copies "
                           "included), by outcome", ["endpoint", "variant", "outcome"])
VARIANT_LATENCY = Histogram("automl_variant_latency_seconds", "Time a variant took to answer",
                            ["endpoint", "variant"], buckets=LATENCY_BUCKETS)
SHADOW_ROWS = Counter("automl_shadow_rows", "Rows a shadow answered, by agreement with "
                      "production", ["endpoint", "variant", "outcome"])


def observe(endpoint: str, status: int, seconds: float) -> None:
    """Count one answered invocation."""
    REQUESTS.labels(endpoint, str(status)).inc()
    if status >= 400:
        ERRORS.labels(endpoint, str(status)).inc()
    LATENCY.labels(endpoint).observe(seconds)


def count_capture(endpoint: str, variant: str, outcome: str, n: int = 1) -> None:
    CAPTURE.labels(endpoint, variant, outcome).inc(n)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def registry() -> CollectorRegistry:
    """Every process's metrics (multiprocess mode), or this process's."""
    path = multiprocess_dir()
    if path is None:
        return REGISTRY
    from prometheus_client import multiprocess

    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, path)
    return merged


READ_TRIES = 5


def collect() -> list:
    """Every metric family of every process. Another process may be writing its metrics file
    at that moment and a read can come out torn (a new label set being added): read again, up
    to :data:`READ_TRIES` times 0.05 s apart. A file that stays torn because its process was
    killed mid-write is set aside (:func:`set_aside_torn`), losing that process's counts
    rather than every later read."""
    for attempt in range(READ_TRIES):
        try:
            return list(registry().collect())
        except Exception as exc:  # noqa: BLE001 - prometheus_client raises whatever the bytes cause
            if attempt == READ_TRIES - 1 and not set_aside_torn():
                raise ServerFault("the endpoints' request counters could not be read; "
                                  "try again in a moment") from exc
            time.sleep(0.05)
    return list(registry().collect())


def set_aside_torn() -> list[str]:
    """Move the unreadable metrics files of processes that no longer run into ``torn/`` of
    the metrics directory (logged); the names of those moved."""
    directory = multiprocess_dir()
    if directory is None:
        return []
    moved = []
    for path in sorted(Path(directory).glob("*.db")):
        pid = path.stem.rpartition("_")[2]
        if _readable(path) or not pid.isdigit() or _running(int(pid)):
            continue
        (path.parent / "torn").mkdir(exist_ok=True)
        path.replace(path.parent / "torn" / path.name)
        log.warning("metrics file %s of ended process %s was unreadable; set aside", path.name,
                    pid)
        moved.append(path.name)
    return moved


def _readable(path: Path) -> bool:
    from prometheus_client.mmap_dict import MmapedDict

    try:
        list(MmapedDict.read_all_values_from_file(str(path)))  # a generator: read it all
    except Exception:  # noqa: BLE001 - whatever the torn bytes cause
        return False
    return True


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exposition(drift_scores: dict[str, float]) -> bytes:
    """The text format of every metric, the drift gauge made from ``drift_scores``."""
    gauge = GaugeMetricFamily("automl_endpoint_drift_score", "Highest column drift score of "
                              "the newest monitoring run", labels=["endpoint"])
    for name, score in sorted(drift_scores.items()):
        gauge.add_metric([name], score)
    every, extra = CollectorRegistry(), CollectorRegistry()
    every.register(_Fixed(collect()))
    extra.register(_Fixed([gauge]))
    return generate_latest(every) + generate_latest(extra)


class _Fixed:
    def __init__(self, families):
        self.families = families

    def collect(self):
        return self.families


def read_totals() -> dict[str, dict]:
    """Per endpoint: ``requests``, ``errors``, cumulative latency bucket counts by upper bound,
    and capture counts by outcome, summed over every process."""
    totals: dict[str, dict] = defaultdict(lambda: {"requests": 0.0, "errors": 0.0,
                                                   "latency_buckets": {}, "capture": {}})
    for family in collect():
        for sample in family.samples:
            _add_sample(totals, sample)
    return dict(totals)


def _add_sample(totals, sample) -> None:
    endpoint = sample.labels.get("endpoint")
    if endpoint is None or endpoint == UNKNOWN:
        return
    entry = totals[endpoint]
    if sample.name == "automl_endpoint_requests_total":
        entry["requests"] += sample.value
    elif sample.name == "automl_endpoint_errors_total":
        entry["errors"] += sample.value
    elif sample.name == "automl_endpoint_latency_seconds_bucket":
        bound = sample.labels["le"]
        entry["latency_buckets"][bound] = entry["latency_buckets"].get(bound, 0.0) + sample.value
    elif sample.name == "automl_capture_records_total":
        outcome = sample.labels["outcome"]
        entry["capture"][outcome] = entry["capture"].get(outcome, 0.0) + sample.value
