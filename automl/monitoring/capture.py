"""Data capture: what an endpoint was asked and answered, in SageMaker's data-capture layout.

One JSON line per captured request::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "5.1,3.5", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "application/json",
                                        "mode": "OUTPUT", "data": "...", "encoding": "JSON"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceId": "<client's or ours>",
                       "inferenceTime": "2026-12-02T15:04:05Z"},
     "eventVersion": "0"}

in hourly files ``<root>/<endpoint>/<variant>/YYYY/MM/DD/HH/<uuid>.jsonl`` (UTC). Each process
writes its own files, so gunicorn workers never share one.

A request of several rows is one record; its rows' inference ids are ``<inferenceId>:<row>``.
A batch request (a CSV streamed in chunks) is one record per chunk, all with the request's
inference id and, in ``eventMetadata``, ``rowOffset`` (our addition to SageMaker's layout,
which its parsers ignore): the chunk's first row in the request, so that every row of the batch
is ``<inferenceId>:<row>`` as in a single request.

:class:`CaptureWriter` never blocks or fails a request: :meth:`CaptureWriter.capture` samples,
puts the raw bodies on a bounded queue and returns; one background thread encodes and appends
them. A full queue or a failing disk drops records and counts them (:meth:`CaptureWriter.stats`).
Thread-safe; fork-safe (a forked worker starts its own thread and files on first use).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import queue
import random
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

EVENT_VERSION = "0"
DEFAULT_VARIANT = "AllTraffic"
QUEUE_SIZE = 10_000
QUEUE_BYTES = 64 * 1024 * 1024
LINGER_S = 0.05  # the writer wakes at most 20 times a second, not once per request
_TEXT_ENCODINGS = {"text/csv": "CSV", "application/json": "JSON"}


@dataclass(frozen=True)
class Retention:
    """How much capture to keep: files older than ``days`` and, oldest first, files beyond
    ``max_bytes`` per variant are deleted (``None``: no limit)."""

    days: float | None = None
    max_bytes: int | None = None


def encode_payload(body: bytes | str, content_type: str | None, mode: str) -> dict:
    """One ``endpointInput``/``endpointOutput`` object: CSV and JSON bodies as text, anything
    else (or text that is not UTF-8) as base64."""
    kind = (content_type or "").split(";")[0].strip().lower()
    raw = body.encode() if isinstance(body, str) else bytes(body)
    encoding = _TEXT_ENCODINGS.get(kind)
    if encoding is not None:
        try:
            return {"observedContentType": content_type, "mode": mode,
                    "data": raw.decode("utf-8"), "encoding": encoding}
        except UnicodeDecodeError:
            pass
    return {"observedContentType": content_type or "", "mode": mode,
            "data": base64.b64encode(raw).decode("ascii"), "encoding": "BASE64"}


def capture_record(input_body, input_type, output_body, output_type, inference_id: str,
                   event_id: str, when: float, row_offset: int | None = None) -> dict:
    """The data-capture record of one request, or of one chunk of a batch request starting at
    its row ``row_offset`` (see the module doc)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1000):03d}Z"
    meta = {"eventId": event_id, "inferenceId": inference_id, "inferenceTime": stamp}
    if row_offset is not None:
        meta["rowOffset"] = row_offset
    return {"captureData": {"endpointInput": encode_payload(input_body, input_type, "INPUT"),
                            "endpointOutput": encode_payload(output_body, output_type, "OUTPUT")},
            "eventMetadata": meta, "eventVersion": EVENT_VERSION}


def new_inference_id() -> str:
    """An inference id for a request that did not bring one."""
    return str(uuid.uuid4())


class CaptureWriter:
    """Captures one endpoint variant's requests under ``root`` (see the module doc).

    ``sample_percent`` (0-100) of the requests are kept; ``retention`` is enforced when the
    writer starts and at every new hour file. The queue holds at most ``queue_size`` requests
    and ``queue_bytes`` bytes of bodies (a few large requests cannot hold the memory).
    ``on_count(outcome, n)``, when given, is told every count as it happens (the service feeds
    its Prometheus counters with it); it must not raise.
    """

    def __init__(self, root: str | Path, endpoint: str, variant: str = DEFAULT_VARIANT,
                 sample_percent: float = 100.0, retention: Retention | None = None,
                 queue_size: int = QUEUE_SIZE, queue_bytes: int = QUEUE_BYTES,
                 on_count: Callable[[str, int], None] | None = None):
        self.directory = Path(root) / endpoint / variant
        self.sample_percent = check_percent(sample_percent)
        self.retention = retention or Retention()
        self.queue_size, self.queue_bytes = queue_size, queue_bytes
        self._queued_bytes = 0
        self._lock = threading.Lock()
        self._counts = {"captured": 0, "sampled_out": 0, "dropped_queue_full": 0,
                        "dropped_write_error": 0}
        self._on_count = on_count
        self._pid: int | None = None
        self._closed = False

    # -- the request path ----------------------------------------------------------------

    def capture(self, input_body: bytes | str, input_type: str | None, output_body: bytes | str,
                output_type: str | None, inference_id: str | None = None,
                row_offset: int | None = None) -> bool:
        """Queue one request for writing; False when it was sampled out, dropped or closed.
        A chunk of a batch request gives its ``row_offset`` and is not sampled again (the
        request was, by :meth:`sampled`). Never raises and never waits."""
        try:
            if row_offset is None and not self.sampled():
                return False
            if self._closed:
                self._count("sampled_out")
                return False
            item = (input_body, input_type, output_body, output_type,
                    inference_id or new_inference_id(), time.time(), row_offset)
            if not self._reserve(len(input_body) + len(output_body)):
                raise queue.Full
            try:
                self._started().put_nowait(item)
            except queue.Full:
                self._release([item])
                raise
            return True
        except queue.Full:
            self._count("dropped_queue_full")
            return False
        except Exception:  # noqa: BLE001 - capture must never fail a request
            log.exception("capture failed")
            self._count("dropped_write_error")
            return False

    def sampled(self) -> bool:
        """Whether to capture the next request (drawn at the sampling percentage; counted as
        sampled out when not)."""
        if self._closed or random.random() * 100.0 >= self.sample_percent:
            self._count("sampled_out")
            return False
        return True

    def set_sample_percent(self, percent: float) -> None:
        """Change the share of requests captured from now on."""
        self.sample_percent = check_percent(percent)

    def stats(self) -> dict[str, int]:
        """Counters: ``captured`` (written), ``sampled_out``, ``dropped_queue_full``,
        ``dropped_write_error``, and ``dropped`` (the two drops summed)."""
        with self._lock:
            counts = dict(self._counts)
        counts["dropped"] = counts["dropped_queue_full"] + counts["dropped_write_error"]
        return counts

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (False on timeout)."""
        if self._pid != os.getpid():
            return True
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, stop the thread and close the file; later captures are
        sampled out."""
        self._closed = True
        if self._pid != os.getpid():
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    # -- the writer thread ----------------------------------------------------------------

    def _reserve(self, size: int) -> bool:
        with self._lock:
            if self._queued_bytes + size > self.queue_bytes:
                return False
            self._queued_bytes += size
            return True

    def _release(self, batch: list[tuple]) -> None:
        with self._lock:
            self._queued_bytes -= sum(len(item[0]) + len(item[2]) for item in batch)

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n
        if self._on_count is not None:
            self._on_count(name, n)

    def _started(self) -> queue.Queue:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.Queue(self.queue_size)
                    self._file = _HourFile(self.directory)
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="automl-capture")
                    self._thread.start()
                    self._pid = os.getpid()
        return self._queue

    def _run(self) -> None:
        enforce_retention(self.directory, self.retention)
        while True:
            batch, markers, stop = self._drain()
            if batch:
                self._write(batch)
            for marker in markers:
                marker.set()
            if stop:
                self._file.close()
                return
            if batch:  # gather the next requests: one wake-up and one write for many of them
                time.sleep(LINGER_S)

    def _drain(self) -> tuple[list, list, bool]:
        """Everything queued now (waiting for the first item): records, flush markers, stop."""
        items = [self._queue.get()]
        while len(items) < 1000:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        batch = [i for i in items if isinstance(i, tuple)]
        markers = [i for i in items if isinstance(i, threading.Event)]
        return batch, markers, any(i is None for i in items)

    def _write(self, batch: list[tuple]) -> None:
        try:
            self._append(batch)
        finally:
            self._release(batch)

    def _append(self, batch: list[tuple]) -> None:
        lines: dict[str, list[str]] = {}
        for input_body, input_type, output_body, output_type, inference_id, when, rows in batch:
            try:
                record = capture_record(input_body, input_type, output_body, output_type,
                                        inference_id, str(uuid.uuid4()), when, rows)
                lines.setdefault(hour_path(when), []).append(json.dumps(record) + "\n")
            except Exception:  # noqa: BLE001 - one odd body must not lose the others
                self._count("dropped_write_error")
        for hour, chunk in lines.items():
            try:
                if self._file.write(hour, "".join(chunk)):
                    enforce_retention(self.directory, self.retention, keep=self._file.path)
                self._count("captured", len(chunk))
            except OSError as exc:
                self._file.close()
                self._count("dropped_write_error", len(chunk))
                log.warning("capture: %d records dropped: %s", len(chunk), exc.strerror or exc)


def check_percent(percent: float) -> float:
    """A sampling percentage in [0, 100], or ValueError."""
    value = float(percent)
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"the capture percentage must be between 0 and 100, not {percent}")
    return value


def hour_path(when: float) -> str:
    """``YYYY/MM/DD/HH`` of an epoch time, in UTC."""
    return time.strftime("%Y/%m/%d/%H", time.gmtime(when))


class _HourFile:
    """The one open capture file of a writer; a new file (new uuid) for every hour."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.hour: str | None = None
        self.handle = None
        self.path: Path | None = None

    def write(self, hour: str, text: str) -> bool:
        """Append ``text`` to the file of ``hour``; True when a new file was opened."""
        opened = False
        if self.handle is None or hour != self.hour:
            self.close()
            self.path = self.directory / hour / f"{uuid.uuid4()}.jsonl"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
            self.hour, opened = hour, True
        self.handle.write(text)
        self.handle.flush()
        return opened

    def close(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.handle.close()
        self.handle, self.hour = None, None


def capture_files(directory: str | Path) -> list[Path]:
    """Every ``.jsonl`` file under ``directory``, oldest hour first."""
    return sorted(Path(directory).rglob("*.jsonl"))


def enforce_retention(directory: Path, retention: Retention, keep: Path | None = None,
                      now: float | None = None) -> int:
    """Delete capture files beyond ``retention`` (never ``keep``); returns how many."""
    if retention.days is None and retention.max_bytes is None:
        return 0
    files = [(p, p.stat().st_size) for p in capture_files(directory) if p != keep]
    doomed = []
    if retention.days is not None:
        cutoff = hour_path((now or time.time()) - retention.days * 86400)
        doomed = [p for p, _ in files if _hour_of(directory, p) < cutoff]
    if retention.max_bytes is not None:
        total = sum(size for _, size in files) + (keep.stat().st_size if keep else 0)
        for path, size in files:
            if total <= retention.max_bytes:
                break
            if path not in doomed:
                doomed.append(path)
            total -= size
    for path in doomed:
        _remove(path, directory)
    return len(doomed)


def _hour_of(directory: Path, path: Path) -> str:
    return "/".join(path.relative_to(directory).parts[:4])


def _remove(path: Path, directory: Path) -> None:
    try:
        path.unlink()
        parent = path.parent
        while parent != directory and not any(parent.iterdir()):
            shutil.rmtree(parent, ignore_errors=True)
            parent = parent.parent
    except OSError:
        pass
