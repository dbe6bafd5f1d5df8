"""Finalize: refit the winner on all rows and wrap it with its schema into a model bundle."""

from __future__ import annotations

from sklearn.ensemble import VotingClassifier, VotingRegressor

from automl.candidates.generator import build_pipeline
from automl.search.evaluate import TrainingData
from automl.search.records import TrialResult, TrialSpec


def build_winner(winner: TrialResult, trials: dict[str, TrialSpec], data: TrainingData, seed: int):
    """An unfitted estimator for the winning row: its pipeline, or a weighted soft vote."""
    if not winner.members:
        spec = trials[winner.candidate_id]
        return build_pipeline(spec.spec, spec.params, data.schema, seed)
    estimators = [(cid, build_pipeline(trials[cid].spec, trials[cid].params, data.schema, seed))
                  for cid in winner.members]
    weights = list(winner.members.values())
    if data.task == "regression":
        return VotingRegressor(estimators, weights=weights)
    return VotingClassifier(estimators, voting="soft", weights=weights)


def refit(winner: TrialResult, trials: dict[str, TrialSpec], data: TrainingData, seed: int):
    """The winner fitted on every row."""
    model = build_winner(winner, trials, data, seed)
    return model.fit(data.X, data.y)
