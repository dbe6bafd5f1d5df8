"""The records of one job: what its stages read (:class:`JobContext`), who watches it
(:class:`Callbacks`), what it produced (:class:`JobResult`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from automl.config import Settings
from automl.data.profile import DatasetProfile
from automl.engine.progress import Progress
from automl.finalize import baggable
from automl.metrics import Metric
from automl.model.bundle import ModelBundle
from automl.monitoring.baseline import Baseline
from automl.search.budget import EndCosts
from automl.search.evaluate import TrainingData
from automl.search.executor_base import TrialExecutor
from automl.search.records import CandidateResult, TrialResult, TrialSpec


@dataclass
class Callbacks:
    """Hooks for callers that watch a job: the CLI's progress bar, the service's job store."""

    on_trial: Callable[[TrialResult, dict], None] = lambda result, progress: None
    on_started: Callable[[dict], None] = lambda progress: None  # a trial went to a worker
    on_stage: Callable[[str], None] = lambda stage: None
    on_profile: Callable[[DatasetProfile, Metric], None] = lambda profile, metric: None
    should_stop: Callable[[], bool] = lambda: False


@dataclass(frozen=True)
class JobContext:
    """What every stage after profiling reads, set once when the data is ready.

    ``data_ref`` is the training data as the executor's workers load it; ``start`` and
    ``deadline`` are epoch seconds (``deadline`` ``None``: no time budget); ``output`` is the
    artifact directory (``None``: nothing is written, and no time is kept for it).
    """

    data: TrainingData
    metric: Metric
    settings: Settings
    profile: DatasetProfile | None = None
    executor: TrialExecutor | None = None
    data_ref: object = None
    callbacks: Callbacks = field(default_factory=Callbacks)
    output: Path | None = None
    start: float = 0.0
    deadline: float | None = None

    @cached_property
    def progress(self) -> Progress:
        """The job's counts and best score as callers see them (:mod:`automl.engine.progress`)."""
        return Progress(self.start, self.deadline, self.metric)

    @cached_property
    def costs(self) -> EndCosts:
        """The cost estimates of the end of the job (:mod:`automl.search.budget`)."""
        return EndCosts.of(self.data.y, self.data.folds, self.settings.time_budget,
                           self.settings.n_jobs, baggable(self.data), self.output is not None)


@dataclass
class JobResult:
    """Everything a job produced."""

    profile: DatasetProfile
    settings: Settings
    metric: Metric
    results: list[CandidateResult]  # the trials, then the ensemble when there is one
    trials: dict[str, TrialSpec]
    leaderboard: pd.DataFrame
    bundle: ModelBundle
    winner: CandidateResult
    timings: dict = field(default_factory=dict)
    data_path: Path | None = None
    baseline: Baseline | None = None  # what monitoring compares a deployed winner with
    data_name: str | None = None
    warnings: list[dict] = field(default_factory=list)
