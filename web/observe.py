"""What every invocation leaves behind in a web worker: data capture and Prometheus counts.

One :class:`Observer` per app (so one per gunicorn worker process): one
:class:`~automl.monitoring.capture.CaptureWriter` per endpoint variant, started lazily in the
process that uses it (fork-safe), writing its own hourly files under
``<data dir>/capture/<endpoint>/<variant>/``. An endpoint's capture percentage is read from the
store at most every :data:`SETTINGS_TTL_S` seconds, so a change made through one worker reaches
the others within that time without a query per request.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable

import pandas as pd

from automl import endpoint_metrics
from automl.endpoint_monitor import capture_root, retention
from automl.monitoring.capture import DEFAULT_VARIANT, CaptureWriter
from automl.service_config import ServiceSettings
from automl.store.monitoring import MonitoringStore

SETTINGS_TTL_S = 2.0


class Observer:
    """Capture writers and the settings they follow, for one worker process."""

    def __init__(self, store: MonitoringStore, settings: ServiceSettings):
        self.store, self.settings = store, settings
        self._writers: dict[tuple[str, str], CaptureWriter] = {}
        self._percent: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        atexit.register(self.close)

    def capture(self, endpoint: str, body: bytes, content_type: str | None, answer_body: bytes,
                answer_type: str | None, inference_id: str,
                variant: str = DEFAULT_VARIANT) -> bool:
        """Hand one answered request to the endpoint variant's writer (never blocks)."""
        writer = self._sampling(endpoint, variant)
        if writer is None:
            return False
        return writer.capture(body, content_type, answer_body, answer_type, inference_id)

    def batch(self, endpoint: str, inference_id: str,
              variant: str = DEFAULT_VARIANT) -> Callable[[pd.DataFrame, bytes, int], None] | None:
        """What captures a batch request's chunks (``on_chunk`` of
        :func:`~automl.serving.batch.stream_predictions`) when the request is sampled in, else
        None. Each chunk is one record: its input rows as CSV with their header, the output
        piece, and its first row's offset, under the request's inference id."""
        writer = self._sampling(endpoint, variant)
        if writer is None or not writer.sampled():
            return None

        def on_chunk(rows: pd.DataFrame, piece: bytes, offset: int) -> None:
            writer.capture(rows.to_csv(index=False).encode(), "text/csv", piece, "text/csv",
                           inference_id, row_offset=offset)
        return on_chunk

    def _sampling(self, endpoint: str, variant: str) -> CaptureWriter | None:
        """The variant's writer at the endpoint's percentage now; None at 0 % (counted as
        sampled out without starting a writer)."""
        percent = self.percent(endpoint)
        if percent <= 0.0:
            endpoint_metrics.count_capture(endpoint, variant, "sampled_out")
            return None
        writer = self.writer(endpoint, variant)
        if writer.sample_percent != percent:
            writer.set_sample_percent(percent)
        return writer

    def percent(self, endpoint: str) -> float:
        """The endpoint's capture percentage, at most :data:`SETTINGS_TTL_S` old."""
        cached = self._percent.get(endpoint)
        if cached is not None and time.monotonic() - cached[1] < SETTINGS_TTL_S:
            return cached[0]
        row = self.store.settings(endpoint)
        value = self.settings.capture_percent if row is None else row["capture_percent"]
        self._percent[endpoint] = (value, time.monotonic())
        return value

    def changed(self, endpoint: str) -> None:
        """Forget what this worker knows of an endpoint's settings (it changed here)."""
        self._percent.pop(endpoint, None)

    def writer(self, endpoint: str, variant: str = DEFAULT_VARIANT) -> CaptureWriter:
        key = (endpoint, variant)
        writer = self._writers.get(key)
        if writer is None:
            with self._lock:
                writer = self._writers.get(key)
                if writer is None:
                    writer = CaptureWriter(
                        capture_root(self.settings.data_dir), endpoint, variant,
                        sample_percent=self.percent(endpoint),
                        retention=retention(self.settings),
                        on_count=lambda outcome, n: endpoint_metrics.count_capture(
                            endpoint, variant, outcome, n))
                    self._writers[key] = writer
        return writer

    def forget(self, endpoint: str) -> None:
        """Close the writers of a deleted endpoint (what they hold is written first)."""
        self.changed(endpoint)
        with self._lock:
            doomed = [k for k in self._writers if k[0] == endpoint]
            writers = [self._writers.pop(k) for k in doomed]
        for writer in writers:
            writer.close()

    def flush(self, timeout: float = 10.0) -> None:
        for writer in list(self._writers.values()):
            writer.flush(timeout)

    def close(self) -> None:
        for writer in list(self._writers.values()):
            writer.close(timeout=2.0)
