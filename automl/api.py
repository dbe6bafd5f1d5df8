"""The Python API: ``automl.fit`` and ``automl.load``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from automl.config import resolve_settings
from automl.engine import Callbacks, JobResult, run_job
from automl.model.bundle import ModelBundle


class AutoMLResult:
    """What :func:`fit` returns: the leaderboard, the winner, and its fitted model.

    ``leaderboard`` is a DataFrame (best first); ``best`` is the winner's leaderboard row;
    ``model`` is the winner's :class:`ModelBundle`; ``predict``/``predict_proba`` use it.
    """

    def __init__(self, job: JobResult):
        self.job = job
        self.leaderboard: pd.DataFrame = job.leaderboard
        self.best: pd.Series = job.leaderboard.iloc[0]
        self.model: ModelBundle = job.bundle
        self.profile = job.profile

    @property
    def classes_(self) -> list | None:
        return self.model.classes

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        return self.model.predict(data)

    def predict_proba(self, data: pd.DataFrame) -> pd.DataFrame:
        return self.model.predict_proba(data)

    def save(self, directory: str | Path) -> Path:
        """Write the bundle, leaderboard, profile and trial manifests to ``directory``."""
        from automl.engine import write_artifacts

        write_artifacts(self.job, Path(directory))
        return Path(directory)

    def __repr__(self) -> str:
        return (f"AutoMLResult(task={self.profile.task!r}, metric={self.job.metric.name!r}, "
                f"best={self.best['candidate_id']!r}, score={self.best['score']:.6g}, "
                f"trials={len(self.leaderboard)})")


def fit(data, target: str, *, task: str | None = None, metric: str | None = None,
        time_budget: float | None = 60.0, max_candidates: int | None = None, seed: int = 0,
        n_jobs: int | None = None, output: str | Path | None = None,
        callbacks: Callbacks | None = None, started_at: float | None = None,
        **settings) -> AutoMLResult:
    """Search models for ``target`` in ``data`` (a path to CSV/Parquet or a DataFrame).

    ``time_budget`` is wall-clock seconds for the whole job; pass ``time_budget=None`` with
    ``max_candidates`` for a reproducible run bounded by the number of trials only.
    ``started_at`` (epoch seconds, default now) is when the budget started counting: the CLI
    gives its process's start.
    """
    resolved = resolve_settings(task=task, metric=metric, time_budget=time_budget,
                                max_candidates=max_candidates, seed=seed, n_jobs=n_jobs, **settings)
    return AutoMLResult(run_job(data, target, resolved, output, callbacks, started_at=started_at))


def load(directory: str | Path) -> ModelBundle:
    """Load a model bundle from a bundle directory or a run's output directory."""
    return ModelBundle.load(directory)
