"""Routing an invocation among an endpoint's variants, and answering its shadow off the path.

:class:`Route` is what one endpoint serves at one moment: production variants with weights (a
request goes to one of them at random in proportion to its weight, or to the one the client
names with ``X-Amzn-SageMaker-Target-Variant``) and at most one shadow, which gets a copy of a
share of the requests. :class:`ShadowRunner` answers those copies in a background thread of
the serving process, for a service of one process (tests); under gunicorn they go to a process
of their own (:mod:`automl.serving.shadows`). The request thread only puts the copy on a bounded
queue (never waits; a full queue drops the copy and counts it); the shadow thread starts a copy
only when no production request is in flight in its process, and the process's GIL switch
interval is 1 ms, so a production request waits at most about 1 ms for a shadow answer.
Its answers are never returned to the client.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import io
import itertools
import json
import logging
import os
import queue
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from automl.exceptions import InvalidRequest
from automl.model.bundle import ModelBundle
from automl.serving.invocation import Response, invoke

log = logging.getLogger(__name__)

TARGET_VARIANT = "X-Amzn-SageMaker-Target-Variant"
INVOKED_VARIANT = "x-Amzn-Invoked-Production-Variant"
SHADOW_QUEUE = 256
SWITCH_INTERVAL_S = 0.001
REGRESSION_TOLERANCE = 0.05
"""Shadow and production scores agree when they differ by at most 5% of the larger one."""


@dataclass(frozen=True)
class Variant:
    """One variant as routed: ``source`` is its bundle's path (how a shadow process finds it)."""

    name: str
    weight: float
    bundle: ModelBundle
    source: str = ""


@dataclass(frozen=True)
class Route:
    """Production variants (weights relative, summing above 0) and an optional shadow (its
    ``weight`` is the share of requests copied to it, 0 to 1)."""

    production: tuple[Variant, ...]
    shadow: Variant | None = None
    _cumulative: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "_cumulative",
                           tuple(itertools.accumulate(v.weight for v in self.production)))

    def pick(self, target: str | None = None, draw: Callable[[], float] = random.random) -> Variant:
        """The variant ``target`` names, else one drawn by weight."""
        if target:
            for variant in self.production:
                if variant.name == target:
                    return variant
            names = ", ".join(v.name for v in self.production)
            raise InvalidRequest(f"no production variant named '{target}' (in {TARGET_VARIANT}); "
                                 f"this endpoint's are {names}", {"variant": target})
        if len(self.production) == 1:
            return self.production[0]
        point = draw() * self._cumulative[-1]
        return self.production[min(bisect.bisect_right(self._cumulative, point),
                                   len(self.production) - 1)]

    def copies(self, draw: Callable[[], float] = random.random) -> bool:
        """Whether this request is copied to the shadow."""
        return self.shadow is not None and draw() < self.shadow.weight


@dataclass(frozen=True)
class ShadowResult:
    """One shadow answer, compared row by row with the production answer."""

    endpoint: str
    variant: str
    body: bytes
    content_type: str | None
    answer: Response
    seconds: float
    rows: int
    agreed: int
    inference_id: str = ""


class ShadowRunner:
    """Answers shadow copies in a background thread and hands each result to ``on_result``
    (called in that thread). Thread-safe and fork-safe (a forked process starts its own thread)."""

    def __init__(self, on_result: Callable[[ShadowResult], None],
                 on_drop: Callable[[str, str], None] = lambda endpoint, variant: None,
                 size: int = SHADOW_QUEUE):
        self.on_result, self.on_drop, self.size = on_result, on_drop, size
        self._queue: queue.Queue | None = None
        self._pid = None
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._serving = 0

    @contextlib.contextmanager
    def serving(self):
        """Mark a production request in flight: shadow copies wait until none is."""
        with self._idle:
            self._serving += 1
        try:
            yield
        finally:
            with self._idle:
                self._serving -= 1
                if self._serving == 0:
                    self._idle.notify_all()

    def submit(self, endpoint: str, shadow: Variant, body: bytes, content_type: str | None,
               production: Response, inference_id: str = "") -> bool:
        """Queue one copy without waiting; ``False`` (and ``on_drop``) when the queue is full."""
        try:
            self._started().put_nowait((endpoint, shadow, body, content_type, production,
                                        inference_id))
            return True
        except queue.Full:
            self.on_drop(endpoint, shadow.name)
            return False

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued copy is answered (tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while self._queue is not None and self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _started(self) -> queue.Queue:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.Queue(self.size)
                    # hand the GIL back to a request thread within 1 ms, not Python's 5 ms,
                    # when a shadow answer is computing (only in processes serving a shadow)
                    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
                    threading.Thread(target=self._run, args=(self._queue,), daemon=True,
                                     name="shadow").start()
                    self._pid = os.getpid()
        return self._queue

    def _run(self, jobs: queue.Queue) -> None:
        while True:
            endpoint, shadow, body, content_type, production, inference_id = jobs.get()
            with self._idle:
                self._idle.wait_for(lambda: self._serving == 0)
            try:
                self.on_result(answer_shadow(endpoint, shadow, body, content_type, production,
                                             inference_id))
            except Exception:  # noqa: BLE001 - a shadow never takes the service down
                log.exception("shadow variant %s of %s failed", shadow.name, endpoint)
            finally:
                jobs.task_done()


def answer_shadow(endpoint: str, shadow: Variant, body: bytes, content_type: str | None,
                  production: Response, inference_id: str = "") -> ShadowResult:
    """The shadow's answer to a copied request, compared with the production answer."""
    started = time.perf_counter()
    answer = invoke(shadow.bundle, body, content_type, "application/json")
    seconds = time.perf_counter() - started
    rows, agreed = 0, 0
    if answer.status == 200:
        ours = first_values(answer.body, answer.content_type)
        theirs = first_values(production.body, production.content_type)
        rows = min(len(ours), len(theirs))
        regression = shadow.bundle.task == "regression"
        agreed = sum(_agree(a, b, regression) for a, b in zip(ours, theirs, strict=False))
    return ShadowResult(endpoint, shadow.name, body, content_type, answer, seconds, rows, agreed,
                        inference_id)


def first_values(body: bytes, content_type: str | None) -> list:
    """Each row's label (classification) or score (regression) from a 200 answer."""
    if (content_type or "").startswith("text/csv"):
        return [row[0] for row in csv.reader(io.StringIO(body.decode())) if row]
    predictions = json.loads(body).get("predictions", [])
    return [p.get("predicted_label", p.get("score")) for p in predictions]


def _agree(a, b, regression: bool) -> bool:
    """Same label (``1``, ``1.0`` and ``"1"`` are one), or scores within the tolerance."""
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)
    if not regression:
        return x == y
    return x == y or abs(x - y) <= REGRESSION_TOLERANCE * max(abs(x), abs(y))
