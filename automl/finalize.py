"""Finalize: refit the winner on all rows, in the worker processes, one member per worker.

A single winner is its pipeline fitted on every row. An ensemble is a scikit-learn
``VotingClassifier`` (soft voting) or ``VotingRegressor`` with the selection weights, assembled
from members fitted in parallel on the executor (each single-threaded, like the trials).
"""

from __future__ import annotations

import warnings

from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch
from threadpoolctl import threadpool_limits

from automl.candidates.generator import build_pipeline
from automl.search.evaluate import TrainingData, load_data
from automl.search.records import TrialResult, TrialSpec


def fit_member(trial: TrialSpec, data) -> object:
    """One trial's pipeline fitted on all rows (runs in a worker process)."""
    data = load_data(data)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = build_pipeline(trial.spec, trial.params, data.schema, trial.seed)
        return pipeline.fit(data.X, data.y)


def refit(winner: TrialResult, trials: dict[str, TrialSpec], data: TrainingData, executor,
          data_ref) -> object:
    """The winner fitted on every row: a pipeline, or a voting ensemble of fitted pipelines."""
    ids = list(winner.members) or [winner.candidate_id]
    fitted = _fit_on_executor(ids, trials, executor, data_ref)
    if fitted is None:  # the executor is gone (a lost cluster): fit here instead
        fitted = [fit_member(trials[cid], data) for cid in ids]
    if not winner.members:
        return fitted[0]
    return assemble_ensemble(dict(zip(ids, fitted, strict=True)), winner.members, data)


def _fit_on_executor(ids: list[str], trials: dict[str, TrialSpec], executor, data_ref):
    try:
        futures = [executor.submit(fit_member, trials[cid], data_ref) for cid in ids]
        return [f.result() for f in futures]
    except Exception:  # noqa: BLE001 - any executor failure means: refit locally
        return None


def assemble_ensemble(fitted: dict, weights: dict, data: TrainingData):
    """A fitted VotingClassifier/VotingRegressor from already fitted members."""
    names = list(fitted)
    estimators = [(n, fitted[n]) for n in names]
    w = [weights[n] for n in names]
    if data.task == "regression":
        model = VotingRegressor(estimators, weights=w)
    else:
        model = VotingClassifier(estimators, voting="soft", weights=w)
        model.le_ = LabelEncoder().fit(data.y)
        model.classes_ = model.le_.classes_
    model.estimators_ = [fitted[n] for n in names]
    model.named_estimators_ = Bunch(**fitted)
    return model
