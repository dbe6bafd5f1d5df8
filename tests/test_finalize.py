"""Finalize: bagging over the folds is measured one level down and chosen only when it wins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import VotingClassifier

import automl
from automl.candidates.base import DataShape
from automl.candidates.generator import generate_candidates
from automl.config import Settings, resolve_settings
from automl.engine import JobContext, prepare_data
from automl.finalize import bagged_score, fit_bag, fit_member
from automl.metrics import get_metric
from automl.search.evaluate import evaluate
from automl.search.executors import LocalExecutor
from automl.search.records import TrialResult, TrialSpec, TrialState


@pytest.fixture(scope="module")
def titanic(sample_data, tmp_path_factory):
    data, profile, metric = prepare_data(sample_data / "titanic.csv", "Survived",
                                         resolve_settings(metric="logloss", time_budget=None))
    ref = data.save(tmp_path_factory.mktemp("bag") / "data.pkl")
    executor = LocalExecutor(2)
    yield data, ref, metric, executor
    executor.shutdown()


def _one_neighbour(data) -> TrialSpec:
    shape = DataShape(len(data.y), data.X.shape[1], "binary", 2)
    spec = {s.name: s for s in generate_candidates(shape, families=["knn"])}["knn"]
    return TrialSpec("knn_000", 0, spec, {"n_neighbors": 1, "weights": "uniform", "p": 2}, 0,
                     "logloss")


def test_a_jittery_model_scores_better_bagged_and_the_bag_averages_the_folds(titanic):
    data, ref, metric, executor = titanic
    trial = _one_neighbour(data)
    single = evaluate(trial, data)  # one neighbour: probabilities of 0 or 1, a poor log loss
    bagged = bagged_score({"knn_000": 1.0}, {"knn_000": trial}, data, metric, executor, ref, None)
    assert metric.is_better(bagged, single.score) and bagged < 0.8 * single.score

    bag = fit_bag({"knn_000": 1.0}, {"knn_000": trial}, data, executor, ref)
    assert isinstance(bag, VotingClassifier) and len(bag.estimators_) == len(data.folds)
    rows = data.X.head(20)
    by_hand = np.mean([fit_member(trial, data, k).predict_proba(rows)
                       for k in range(len(data.folds))], axis=0)
    np.testing.assert_allclose(bag.predict_proba(rows), by_hand, atol=1e-12)


def test_the_check_gives_up_at_its_deadline(titanic):
    data, ref, metric, executor = titanic
    trial = _one_neighbour(data)
    assert bagged_score({"knn_000": 1.0}, {"knn_000": trial}, data, metric, executor, ref,
                        deadline=0.0) is None


def _member(fit_s: float) -> TrialResult:
    return TrialResult("m", 0, "lightgbm", "tree_native", {}, TrialState.COMPLETE, score=0.5,
                       fit_s=fit_s)


def test_bagging_is_skipped_for_a_holdout_or_when_it_cannot_fit_the_budget(titanic):
    data = titanic[0]
    settings = Settings(time_budget=60, n_jobs=2)

    def check_end(members, data, settings):  # a search of 50 s, no artifacts
        return JobContext(data, None, settings).costs.bag_check_end(members, search_s=50.0)

    assert check_end([_member(0.1)], data, settings)
    assert check_end([_member(5.0)], data, settings) is False
    holdout = type(data)(data.X, data.y, data.task, data.n_classes, data.schema, data.folds[:1])
    assert check_end([_member(0.1)], holdout, settings) is False
    y = data.y.copy()
    y[data.folds[0][1][0]] = 2  # a third class, on one row: fold 0's training rows lack it
    rare = type(data)(data.X, y, "multiclass", 3, data.schema, data.folds)
    assert check_end([_member(0.1)], rare, settings) is False
    unbounded = Settings(time_budget=None, max_candidates=3)
    assert check_end([_member(5.0)], data, unbounded) is None


def test_the_bundle_says_how_the_winner_was_finalized(sample_data, tmp_path):
    path = tmp_path / "abalone.csv"
    pd.read_csv(sample_data / "abalone.csv").head(400).to_csv(path, index=False)
    result = automl.fit(path, "Rings", time_budget=None, max_candidates=3, n_jobs=2)
    finalized = result.job.bundle.metadata["finalized"]
    assert np.isfinite(finalized["bagged_score"])
    bagged = get_metric("rmse", "regression").is_better(finalized["bagged_score"],
                                                         result.job.winner.score)
    assert finalized["method"] == ("bagged over 5 folds" if bagged else "refit on all rows")
    n_members = len(result.job.winner.members) or 1
    model = result.job.bundle.model
    assert len(getattr(model, "estimators_", [model])) == (5 * n_members if bagged else n_members)
