"""Records passed between search, ensemble and finalize: trial specs and results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

import numpy as np

from automl.candidates.base import CandidateSpec


class TrialState(StrEnum):
    COMPLETE = "complete"
    FAILED = "failed"
    PRUNED = "pruned"
    TIMED_OUT = "timed-out"


STOPPED_AT_BUDGET = "trial stopped at the job's time budget"


def over_limit(limit_s: float) -> str:
    """The reason of a trial that ran past its own time limit: one wording everywhere."""
    return f"trial ran past its {limit_s:.0f} s time limit"


@dataclass(frozen=True)
class TrialSpec:
    """What one trial runs: a candidate spec with sampled params."""

    candidate_id: str
    number: int
    spec: CandidateSpec
    params: dict
    seed: int
    metric: str
    deadline: float | None = None  # the search's deadline (epoch seconds), or None
    time_limit: float | None = None  # seconds of its own running, counted in the worker


@dataclass
class TrialResult:
    """The outcome of one trial. ``oof`` (out-of-fold predictions) is kept out of JSON."""

    candidate_id: str
    number: int
    family: str
    recipe: str
    params: dict
    state: TrialState
    reason: str = ""
    score: float | None = None
    score_std: float | None = None
    fold_scores: list[float] = field(default_factory=list)
    secondary: dict = field(default_factory=dict)
    fit_s: float = 0.0
    predict_ms_per_row: float = 0.0
    size_bytes: int = 0
    run_s: float = 0.0  # seconds the trial ran in its worker (a timed-out one: until stopped)
    cpu_s: float = 0.0  # CPU seconds of its worker meanwhile: run_s / cpu_s is the contention
    members: dict = field(default_factory=dict)
    oof: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.state == TrialState.COMPLETE

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("oof")
        d["state"] = self.state.value
        return d

    @classmethod
    def from_dict(cls, d: dict, oof: np.ndarray | None = None) -> TrialResult:
        """The result :meth:`to_dict` gave (JSON's ``None`` for a non-finite number kept as
        ``None``), with its out-of-fold predictions when they were kept."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__ and k != "oof"}
        return cls(**{**known, "state": TrialState(d["state"]), "oof": oof})
