"""Finalize: refit the winner on all rows, or bag it over the folds when that scores better.

A single winner is its pipeline fitted on every row. An ensemble is a scikit-learn
``VotingClassifier`` (soft voting) or ``VotingRegressor`` with the selection weights, assembled
from members fitted in parallel on the executor (each single-threaded, like the trials).

Bagging instead keeps one model per fold (each fitted on that fold's training rows) and
averages them. Whether that beats one model on all rows cannot be read off the out-of-fold
predictions, so :func:`bagged_score` measures it one level down: for every validation fold
``k`` it averages the models fitted on all folds but ``k`` and one other ``j`` (a bag over
the inner folds of ``k``'s training rows) and compares with the trial's own model fitted on all
of ``k``'s training rows. A model for the pair ``{k, j}`` serves both folds, so the check costs
``folds x (folds - 1) / 2`` fits per member.
"""

from __future__ import annotations

import itertools
import time
import warnings
from concurrent.futures import Future, wait

import numpy as np
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch
from threadpoolctl import threadpool_limits

from automl.candidates.generator import build_pipeline
from automl.metrics import Metric
from automl.model.pipeline import predict_matrix
from automl.search.evaluate import TrainingData, load_data
from automl.search.executor_base import TrialExecutor
from automl.search.records import STOPPED_AT_BUDGET, CandidateResult, TrialSpec


def fit_member(trial: TrialSpec, data, fold: int | None = None) -> object:
    """One trial's pipeline fitted on all rows, or on fold ``fold``'s training rows (runs in a
    worker process)."""
    data = load_data(data)
    rows = None if fold is None else data.folds[fold][0]
    return _fit(trial, data, rows)


def fold_pair_predictions(trial: TrialSpec, data, pair: tuple[int, int]) -> dict[int, np.ndarray]:
    """The trial fitted on every fold but the two of ``pair``; its predictions on those two
    (runs in a worker process)."""
    data = load_data(data)
    rows = np.concatenate([valid for i, (_, valid) in enumerate(data.folds) if i not in pair])
    pipeline = _fit(trial, data, np.sort(rows))
    return {k: predict_matrix(pipeline, data.X.iloc[data.folds[k][1]], data.task, data.n_classes)
            for k in pair}


def _fit(trial: TrialSpec, data: TrainingData, rows: np.ndarray | None):
    X, y = (data.X, data.y) if rows is None else (data.X.iloc[rows], data.y[rows])
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = build_pipeline(trial.spec, trial.params, data.schema, trial.seed)
        return pipeline.fit(X, y)


def baggable(data: TrainingData) -> bool:
    """Whether the winner can be bagged over ``data``'s folds: at least three of them (a
    holdout has nothing to average), each training part holding every class (a fold model
    that never saw a class cannot vote on it)."""
    if len(data.folds) < 3:
        return False
    if data.task == "regression":
        return True
    return all(len(np.unique(data.y[train])) == data.n_classes for train, _ in data.folds)


def bagged_score(weights: dict[str, float], trials: dict[str, TrialSpec], data: TrainingData,
                 metric: Metric, executor, data_ref, deadline: float | None) -> float | None:
    """The winner's score when bagged, measured one level down (see the module doc); ``None``
    when the check could not finish (the executor failed, or ``deadline`` passed)."""
    n = len(data.folds)
    jobs = [(cid, pair) for cid in weights for pair in itertools.combinations(range(n), 2)]
    try:
        futures = [executor.submit(fold_pair_predictions, trials[cid], data_ref, pair)
                   for cid, pair in jobs]
    except Exception:  # noqa: BLE001 - a lost executor means: refit
        return None
    if not _all_done(futures, deadline, executor):
        return None
    oof = np.zeros((len(data.y),) + (() if data.task == "regression" else (data.n_classes,)))
    for (cid, _), future in zip(jobs, futures, strict=True):
        for k, pred in future.result().items():
            oof[data.folds[k][1]] += weights[cid] * pred / (n - 1)
    return float(np.mean([metric.score(data.y[valid], oof[valid]) for _, valid in data.folds]))


def _all_done(futures: list[Future], deadline: float | None, executor: TrialExecutor) -> bool:
    """Wait for ``futures`` until ``deadline``; stop the rest and say False if any is late or
    failed."""
    timeout = None if deadline is None else max(0.0, deadline - time.time())
    done, late = wait(futures, timeout=timeout)
    for future in late:
        executor.stop(future, STOPPED_AT_BUDGET)
    return not late and all(f.exception() is None for f in done)


def fit_bag(weights: dict[str, float], trials: dict[str, TrialSpec], data: TrainingData,
            executor, data_ref):
    """One model per (member, fold) averaged with the member's weight: a voting ensemble;
    ``None`` if the executor failed."""
    names = [(cid, k) for cid in weights for k in range(len(data.folds))]
    fitted = _fit_on_executor([(trials[cid], k) for cid, k in names], executor, data_ref)
    if fitted is None:
        return None
    votes = {f"{cid}_fold{k}": weights[cid] / len(data.folds) for cid, k in names}
    return assemble_ensemble(dict(zip(votes, fitted, strict=True)), votes, data)


def refit(winner: CandidateResult, trials: dict[str, TrialSpec], data: TrainingData, executor,
          data_ref) -> object:
    """The winner fitted on every row: a pipeline, or a voting ensemble of fitted pipelines."""
    ids = list(winner.members) or [winner.candidate_id]
    fitted = _fit_on_executor([(trials[cid], None) for cid in ids], executor, data_ref)
    if fitted is None:  # the executor is gone (a lost cluster): fit here instead
        fitted = [fit_member(trials[cid], data) for cid in ids]
    if not winner.members:
        return fitted[0]
    return assemble_ensemble(dict(zip(ids, fitted, strict=True)), winner.members, data)


def _fit_on_executor(jobs: list[tuple[TrialSpec, int | None]], executor, data_ref):
    """``fit_member`` for each (trial, fold) on the workers, in order; ``None`` if any failed."""
    try:
        futures = [executor.submit(fit_member, trial, data_ref, fold) for trial, fold in jobs]
        return [f.result() for f in futures]
    except Exception:  # noqa: BLE001 - any executor failure means: the caller falls back
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
