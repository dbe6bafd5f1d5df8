"""Work done beside the search, on threads of the orchestrating process: the quality reports
of trials as they complete, and the data-exploration notebook.

The orchestrating process mostly waits on workers during the search, so this work costs the
job's budget almost nothing there. Neither may ever fail the job: errors are logged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

from automl.data.profile import DatasetProfile
from automl.search.budget import slowdown
from automl.search.evaluate import TrainingData
from automl.search.records import TrialResult

log = logging.getLogger(__name__)


class QualityReports:
    """Model-quality reports of trials, written as they complete on a thread of their own."""

    def __init__(self, data: TrainingData, output):
        self.data, self.output = data, output
        self.queue: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="automl-quality", daemon=True)
        if output is not None:
            self.thread.start()

    def add(self, result: TrialResult) -> None:
        if self.output is not None and result.ok:
            self.queue.put(result)

    def close(self) -> None:
        if self.output is not None:
            self.queue.put(None)

    def join(self, timeout: float) -> None:
        """Wait for the reports still queued, at most ``timeout`` seconds."""
        if self.thread.is_alive():
            self.thread.join(timeout)

    def _run(self) -> None:
        from automl.explain.quality import write_quality

        while (result := self.queue.get()) is not None:
            try:
                write_quality(result, self.data.y, self.data.folds, self.data.task,
                              self.data.classes, self.output)
            except Exception:  # noqa: BLE001 - a report must never fail the job
                log.exception("quality report of %s failed", result.candidate_id)


EXPLORATION_S = 6.0  # an idle machine's seconds to start a kernel and run the exploration


class Exploration:
    """The data-exploration notebook, written and executed on a thread of its own.

    It needs a kernel (seconds of CPU), so it starts at the first trial result rather than
    with the search: the first trial is the first sign of progress a user sees. When the time
    left before ``until`` (the job's budget) would not cover running it on a machine this
    contended, it is written without running; a run still going at ``until`` is left behind.
    Either way the job says so (:meth:`join`'s warnings).
    """

    def __init__(self, profile: DatasetProfile, output, data_path, data_name: str | None = None,
                 until: float | None = None):
        self.enabled = output is not None and data_path is not None
        self.until, self.execute, self.slow = until, True, 1.0
        self.failure = ""
        self.thread = threading.Thread(target=self._run,
                                       args=(profile, output, data_path, data_name),
                                       name="automl-exploration", daemon=True)

    def start(self, slow: float = 1.0) -> None:
        """Start the notebook, once, on a machine ``slow`` times slower than an idle one;
        later calls do nothing."""
        if self.enabled and self.thread.ident is None:
            self.slow = slow
            self.execute = self.until is None or \
                time.time() + EXPLORATION_S * slow < self.until
            self.thread.start()

    def join(self, until: float | None = None) -> list[dict]:
        """Wait for the notebook until ``until`` (``None``: as long as it takes); the job's
        warnings about it."""
        if self.thread.ident is None:
            return []
        self.thread.join(None if until is None else max(0.0, until - time.time()))
        if self.thread.is_alive():
            return [{"code": "exploration_unfinished", "message": (
                "the data-exploration notebook was still running when the time budget ran out, "
                "and the job ended without it; a larger budget leaves it time")}]
        if self.failure:
            return [{"code": "exploration_failed", "message": (
                f"the data-exploration notebook could not be run ({self.failure}); it was "
                "saved as far as it got: run it yourself to see the error")}]
        if not self.execute:
            return [{"code": "exploration_not_run", "message": (
                f"the data-exploration notebook was saved without running it: this machine ran "
                f"the trials {self.slow:.1f}x slower than an idle one, and the time budget would "
                "not have covered it; run it yourself, or give a larger budget")}]
        return []

    def _run(self, profile: DatasetProfile, output, data_path, data_name) -> None:
        from automl.notebooks import write_exploration

        try:
            write_exploration(profile, output, data_path, self.execute, data_name=data_name)
        except Exception as exc:  # noqa: BLE001 - a notebook must never fail the job
            # the job reports it as a warning (join); when the job already ended without it,
            # its kernel was stopped at exit: nothing to report twice
            self.failure = f"{type(exc).__name__}: {exc}"
            log.debug("the data-exploration notebook could not be executed", exc_info=True)


class Background:
    """Both threads of a job, driven by the search's events."""

    def __init__(self, data: TrainingData, profile: DatasetProfile, output: Path | None,
                 data_path: Path | None, data_name: str | None, until: float | None = None):
        self.exploration = Exploration(profile, output, data_path, data_name, until)
        self.reports = QualityReports(data, output)
        self.results: list[TrialResult] = []

    def on_result(self, result: TrialResult) -> None:
        """A trial completed: the exploration starts (once), its report is queued."""
        self.results.append(result)
        self.exploration.start(slowdown(self.results))
        self.reports.add(result)

    def search_done(self) -> None:
        """The search ended: the exploration starts if no trial reported; no more reports."""
        self.exploration.start(slowdown(self.results))
        self.reports.close()

    def join(self, deadline: float | None) -> list[dict]:
        """Wait for the exploration and then the reports until ``deadline`` (the reports at
        least half a second); the job's warnings about what did not finish."""
        late = self.exploration.join(deadline)
        self.reports.join(timeout=max(0.5, (deadline or time.time()) - time.time()))
        return late
