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


class Exploration:
    """The data-exploration notebook, written and executed on a thread of its own.

    It needs a kernel (seconds of CPU), so it starts at the first trial result rather than
    with the search: the first trial is the first sign of progress a user sees.
    """

    def __init__(self, profile: DatasetProfile, output, data_path, data_name: str | None = None):
        self.enabled = output is not None and data_path is not None
        self.thread = threading.Thread(target=self._run,
                                       args=(profile, output, data_path, data_name),
                                       name="automl-exploration", daemon=True)

    def start(self) -> None:
        """Start the notebook, once; later calls do nothing."""
        if self.enabled and self.thread.ident is None:
            self.thread.start()

    def join(self) -> None:
        if self.thread.ident is not None:
            self.thread.join()

    @staticmethod
    def _run(profile: DatasetProfile, output, data_path, data_name) -> None:
        from automl.notebooks import write_exploration

        try:
            write_exploration(profile, output, data_path, data_name=data_name)
        except Exception:  # noqa: BLE001 - a notebook must never fail the job
            log.exception("the data-exploration notebook could not be executed")


class Background:
    """Both threads of a job, driven by the search's events."""

    def __init__(self, data: TrainingData, profile: DatasetProfile, output: Path | None,
                 data_path: Path | None, data_name: str | None):
        self.exploration = Exploration(profile, output, data_path, data_name)
        self.reports = QualityReports(data, output)

    def on_result(self, result: TrialResult) -> None:
        """A trial completed: the exploration starts (once), its report is queued."""
        self.exploration.start()
        self.reports.add(result)

    def search_done(self) -> None:
        """The search ended: the exploration starts if no trial reported; no more reports."""
        self.exploration.start()
        self.reports.close()

    def join(self, deadline: float | None) -> None:
        """Wait for the exploration, then for the reports until ``deadline`` (at least 2 s)."""
        self.exploration.join()
        self.reports.join(timeout=max(2.0, (deadline or time.time()) - time.time()))
