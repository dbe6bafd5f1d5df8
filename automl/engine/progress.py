"""The job's progress as callers see it (DESIGN section 3, job lifecycle)."""

from __future__ import annotations

import time

from automl.metrics import Metric
from automl.search.records import TrialResult, TrialSpec


class Progress:
    """Counts, best score so far, time, and the trials on the workers now (``running``:
    candidate, family and when it started, in job seconds)."""

    def __init__(self, start: float, deadline: float | None, metric: Metric):
        self.start, self.deadline, self.metric = start, deadline, metric
        self.completed = self.failed = 0
        self.best: float | None = None
        self.running: dict[str, dict] = {}

    def started(self, spec: TrialSpec) -> dict:
        self.running[spec.candidate_id] = {"candidate_id": spec.candidate_id,
                                           "family": spec.spec.family,
                                           "started_s": round(time.time() - self.start, 2)}
        return self.snapshot()

    def update(self, result: TrialResult) -> dict:
        self.running.pop(result.candidate_id, None)
        if result.ok:
            self.completed += 1
            if self.best is None or self.metric.is_better(result.score, self.best):
                self.best = result.score
        else:
            self.failed += 1
        return self.snapshot()

    def snapshot(self) -> dict:
        now = time.time()
        return {"trials_completed": self.completed, "trials_failed": self.failed,
                "best_score": self.best, "elapsed_s": now - self.start,
                "remaining_s": None if self.deadline is None else max(0.0, self.deadline - now),
                "running": list(self.running.values())}
