"""The records of a job's candidates: what a trial runs (:class:`TrialSpec`), what it gave
(:class:`TrialResult`) and what an ensemble of them gave (:class:`EnsembleResult`).

A result is written once as its manifest, ``trials/<candidate_id>.json``
(:class:`automl.layout.JobLayout`); the leaderboard, the API, the pages, the bundle's metadata
and deploy read it back with :func:`result_from_dict`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from automl.candidates.base import CandidateSpec
from automl.exceptions import NotReady


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

    @classmethod
    def from_manifest(cls, manifest: dict, seed: int, metric: str) -> TrialSpec:
        """The trial a manifest (``trials/<candidate_id>.json``) records, to run it again with
        the job's ``seed`` and ``metric``; :class:`NotReady` when it has no pipeline spec (an
        ensemble's manifest, or one written before specs were kept)."""
        if not manifest.get("spec"):
            raise NotReady(f"candidate '{manifest['candidate_id']}' has no pipeline spec to "
                           "refit", {"candidate_id": manifest["candidate_id"]})
        return cls(manifest["candidate_id"], int(manifest.get("number", -1)),
                   CandidateSpec.from_dict(manifest["spec"]), dict(manifest["params"]), seed,
                   metric)


# The fields of a leaderboard row and a trial manifest, in the order they are written.
ROW_FIELDS = ("candidate_id", "number", "family", "recipe", "params", "state", "reason", "score",
              "score_std", "fold_scores", "secondary", "fit_s", "predict_ms_per_row",
              "latency_ms", "size_bytes", "run_s", "cpu_s", "members", "excluded")


@dataclass
class TrialResult:
    """The outcome of one trial: its leaderboard row, its manifest (with the trial's spec, see
    :meth:`manifest`) and the row of the job store's ``trials`` table. ``oof`` (the out-of-fold
    predictions) is kept out of JSON."""

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
    predict_ms_per_row: float = 0.0  # a batch's time per row (out-of-fold predictions)
    latency_ms: float | None = None  # one row alone, median (automl.model.latency)
    excluded: str = ""  # why the row may not win (over the job's latency limit); "" if it may
    size_bytes: int = 0
    run_s: float = 0.0  # seconds the trial ran in its worker (a timed-out one: until stopped)
    cpu_s: float = 0.0  # CPU seconds of its worker meanwhile: run_s / cpu_s is the contention
    oof: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def unfinished(cls, trial: TrialSpec, state: TrialState, reason: str) -> TrialResult:
        """The result of a trial that failed, timed out or was stopped: no score."""
        return cls(candidate_id=trial.candidate_id, number=trial.number,
                   family=trial.spec.family, recipe=trial.spec.recipe, params=trial.params,
                   state=state, reason=reason)

    @property
    def ok(self) -> bool:
        return self.state == TrialState.COMPLETE

    @property
    def members(self) -> dict:
        """A trial has no members (an :class:`EnsembleResult` has its weights)."""
        return {}

    def to_dict(self) -> dict:
        """The row as JSON-ready values (``oof`` left out)."""
        return _row(self)

    def manifest(self, trial: TrialSpec | None) -> dict:
        """``trials/<candidate_id>.json``: the row and the spec that makes its pipeline."""
        return {**self.to_dict(), "spec": trial.spec.to_dict() if trial else None}

    @classmethod
    def from_dict(cls, d: dict, oof: np.ndarray | None = None) -> TrialResult:
        """The result :meth:`to_dict` gave (JSON's ``None`` for a non-finite number kept as
        ``None``), with its out-of-fold predictions when they were kept."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__ and k != "oof"}
        return cls(**{**known, "state": TrialState(d["state"]), "oof": oof})


@dataclass
class EnsembleResult:
    """A weighted average of trials (:mod:`automl.ensemble`), scored on their out-of-fold rows.

    It reads as a trial does where a row is shown (the leaderboard, the API, the pages): its
    ``params`` are ``{"weights": ...}``, its ``members`` the same weights, and its ``number`` is
    -1, as rows written before it had a type of its own say; it ranks after any trial it ties.
    """

    weights: dict[str, float]
    score: float
    score_std: float
    fold_scores: list[float]
    secondary: dict
    fit_s: float  # the members' together, as are the two below
    predict_ms_per_row: float
    size_bytes: int
    candidate_id: str = "ensemble"
    oof: np.ndarray | None = field(default=None, repr=False)
    latency_ms: float | None = None  # the members' summed, or the fitted ensemble's measured
    excluded: str = ""  # as a trial's

    family = "ensemble"
    recipe = "weighted average"
    state = TrialState.COMPLETE
    reason = ""
    number = -1
    run_s = cpu_s = 0.0
    ok = True

    @property
    def params(self) -> dict:
        return {"weights": dict(self.weights)}

    @property
    def members(self) -> dict:
        return dict(self.weights)

    def to_dict(self) -> dict:
        return _row(self)

    def manifest(self, trial: TrialSpec | None = None) -> dict:
        """``trials/ensemble.json``: the row (an ensemble has no spec of its own)."""
        return {**self.to_dict(), "spec": None}

    @classmethod
    def from_dict(cls, d: dict, oof: np.ndarray | None = None) -> EnsembleResult:
        return cls(weights=dict(d["members"]), score=d["score"], score_std=d["score_std"],
                   fold_scores=list(d.get("fold_scores") or []),
                   secondary=dict(d.get("secondary") or {}), fit_s=d.get("fit_s", 0.0),
                   predict_ms_per_row=d.get("predict_ms_per_row", 0.0),
                   size_bytes=d.get("size_bytes", 0), candidate_id=d["candidate_id"], oof=oof,
                   latency_ms=d.get("latency_ms"), excluded=d.get("excluded", ""))


CandidateResult = TrialResult | EnsembleResult


def result_from_dict(d: dict, oof: np.ndarray | None = None) -> CandidateResult:
    """The record a row, a stored trial or a manifest (``trials/<cid>.json``) describes: an
    :class:`EnsembleResult` when it has members, else a :class:`TrialResult`."""
    if d.get("members"):
        return EnsembleResult.from_dict(d, oof)
    return TrialResult.from_dict(d, oof)


def bundle_fields(result: CandidateResult) -> dict:
    """What a bundle's ``metadata.json`` says of the candidate it was made from."""
    return {"score": result.score, "score_std": result.score_std,
            "candidate_id": result.candidate_id, "family": result.family, "params": result.params,
            "latency_ms": result.latency_ms}


def _row(result: CandidateResult) -> dict:
    row = {name: copy.deepcopy(getattr(result, name)) for name in ROW_FIELDS}
    row["state"] = result.state.value
    return row
