"""Frozen settings: every default in one place, resolved once at the edge (CLI, API, service)."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, replace

from automl.exceptions import ConfigError
from automl.metrics import TASKS, get_metric

MAX_TIME_BUDGET = 7 * 24 * 3600
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Settings:
    """How one job runs. Build with :func:`resolve_settings`, never mutate.

    ``time_budget`` is wall-clock seconds for the whole job, ensembling and refit included;
    ``None`` means the job is bounded by ``max_candidates`` alone (the reproducible mode:
    trials are asked and told in fixed batches so that the result depends only on the seed).
    ``max_latency_ms`` bounds the winner's single-row latency (median milliseconds of one
    row alone through the compiled path, :mod:`automl.model.latency`): slower candidates and
    ensembles cannot win; ``None`` means no bound.
    ``families`` names the model families to search (``automl families`` lists those
    installed); ``None`` searches the default set, and a first entry ``"+"`` means the default
    set plus the names after it. Which names are installed is checked by
    :func:`automl.candidates.registry.resolve_families` (this layer cannot see the registry).
    """

    task: str | None = None
    metric: str | None = None
    time_budget: float | None = 60.0
    max_candidates: int | None = None
    seed: int = 0
    n_jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    trial_timeout: float | None = None
    n_folds: int | None = None
    holdout_rows: int = 200_000
    ensemble_size: int = 25
    cluster: str | None = None
    max_latency_ms: float | None = None
    families: tuple[str, ...] | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def reproducible(self) -> bool:
        return self.time_budget is None


JOB_FIELDS = ("task", "metric", "time_budget", "max_candidates", "seed", "trial_timeout",
              "max_latency_ms", "families")
"""The settings a service job keeps and runs with; the others belong to the machine that runs
it (``n_jobs``, ``cluster``) or are not offered by the service."""


def job_fields(settings: Settings) -> dict:
    """The :data:`JOB_FIELDS` of ``settings``, as a job stores them."""
    return {name: getattr(settings, name) for name in JOB_FIELDS}


def resolve_settings(**overrides) -> Settings:
    """Defaults, then ``AUTOML_*`` environment variables, then ``overrides``; validated once."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if "time_budget" in overrides and overrides["time_budget"] is None and "max_candidates" in values:
        values["time_budget"] = None
    if "AUTOML_N_JOBS" in os.environ and "n_jobs" not in values:
        values["n_jobs"] = int(os.environ["AUTOML_N_JOBS"])
    if "AUTOML_DASK_SCHEDULER" in os.environ and "cluster" not in values:
        values["cluster"] = os.environ["AUTOML_DASK_SCHEDULER"]
    unknown = set(values) - set(Settings.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    if "families" in values:
        values["families"] = parse_families(values["families"])
    settings = replace(Settings(), **values)
    _validate(settings)
    return settings


def parse_families(value) -> tuple[str, ...]:
    """Family names from ``"lightgbm,xgboost"``, ``"+xgboost,catboost"`` (the default set
    plus these) or a sequence of names; a leading ``+`` becomes a first entry ``"+"``."""
    names = value.split(",") if isinstance(value, str) else list(value)
    if not all(isinstance(n, str) for n in names):
        raise ConfigError("families must be family names, e.g. lightgbm,xgboost or +catboost")
    names = [n.strip() for n in names]
    extend = bool(names) and names[0].startswith("+")
    names = [n.lstrip("+").strip() for n in names] if extend else names
    names = [n for n in names if n]
    if not names or any(not _NAME.fullmatch(n) for n in names):
        raise ConfigError(f"families must be comma-separated family names, e.g. lightgbm,xgboost "
                          f"or +catboost for the defaults plus catboost; not {value!r}")
    if len(set(names)) < len(names):
        raise ConfigError(f"families names a family twice: {value!r}")
    return ("+", *names) if extend else tuple(names)


def _validate(s: Settings) -> None:
    if s.task is not None and s.task not in TASKS:
        raise ConfigError(f"unknown task '{s.task}'; choose one of: auto, {', '.join(TASKS)}")
    if s.task is not None and s.metric is not None:
        get_metric(s.metric, s.task)
    if s.time_budget is not None and not 1 <= s.time_budget <= MAX_TIME_BUDGET:
        raise ConfigError(
            f"time budget {s.time_budget} s is out of range; give between 1 and {MAX_TIME_BUDGET} seconds"
        )
    if s.time_budget is None and s.max_candidates is None:
        raise ConfigError("give a time budget, a maximum number of candidates, or both")
    if s.max_candidates is not None and s.max_candidates < 1:
        raise ConfigError(f"max_candidates must be at least 1, not {s.max_candidates}")
    if s.n_jobs < 1:
        raise ConfigError(f"n_jobs must be at least 1, not {s.n_jobs}")
    if s.n_folds is not None and not 2 <= s.n_folds <= 20:
        raise ConfigError(f"n_folds must be between 2 and 20, not {s.n_folds}")
    if s.trial_timeout is not None and s.trial_timeout <= 0:
        raise ConfigError("trial_timeout must be positive")
    if s.max_latency_ms is not None and not 0 < s.max_latency_ms < float("inf"):
        raise ConfigError(f"max_latency_ms must be a positive number of milliseconds, not "
                          f"{s.max_latency_ms}; e.g. 5 lets only models that answer one row "
                          "within 5 ms win")
