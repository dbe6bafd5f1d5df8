"""Greedy ensemble selection over out-of-fold predictions."""

from __future__ import annotations

import numpy as np

from automl.ensemble import greedy_ensemble
from automl.metrics import METRICS
from automl.search.records import TrialResult, TrialState


def result(cid, oof, y, folds, metric, state=TrialState.COMPLETE):
    scores = [metric.score(y[v], oof[v]) for _, v in folds]
    return TrialResult(cid, int(cid[-1]), "f", "r", {}, state, score=float(np.mean(scores)),
                       score_std=float(np.std(scores)), fold_scores=scores, oof=oof, fit_s=1.0)


def setup(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    idx = rng.permutation(n)
    folds = [(np.setdiff1d(idx, part), part) for part in np.array_split(idx, 4)]
    return rng, y, folds


def test_two_independent_noisy_models_average_better_than_either():
    rng, y, folds = setup()
    metric = METRICS["rmse"]
    a = result("m0", y + rng.normal(scale=0.5, size=len(y)), y, folds, metric)
    b = result("m1", y + rng.normal(scale=0.5, size=len(y)), y, folds, metric)
    ens = greedy_ensemble([a, b], y, folds, metric, "regression")
    assert ens is not None and set(ens.members) == {"m0", "m1"}
    assert sum(ens.members.values()) == 1.0
    assert ens.score < min(a.score, b.score)
    assert len(ens.fold_scores) == 4


def test_useless_model_gets_no_weight_and_failed_trials_are_ignored():
    rng, y, folds = setup()
    metric = METRICS["rmse"]
    good = result("m0", y + rng.normal(scale=0.3, size=len(y)), y, folds, metric)
    good2 = result("m1", y + rng.normal(scale=0.3, size=len(y)), y, folds, metric)
    noise = result("m2", rng.normal(size=len(y)) * 5, y, folds, metric)
    failed = TrialResult("m3", 3, "f", "r", {}, TrialState.FAILED, reason="boom")
    ens = greedy_ensemble([good, good2, noise, failed], y, folds, metric, "regression")
    assert "m2" not in ens.members and "m3" not in ens.members


def test_single_candidate_gives_no_ensemble():
    rng, y, folds = setup()
    metric = METRICS["rmse"]
    only = result("m0", y + rng.normal(size=len(y)), y, folds, metric)
    assert greedy_ensemble([only], y, folds, metric, "regression") is None


def test_pool_keeps_the_best_few_of_each_family():
    from automl.ensemble import candidate_pool

    rng, y, folds = setup()
    metric = METRICS["rmse"]
    same = [result(f"a{i}", y + rng.normal(scale=0.3 + 0.1 * i, size=len(y)), y, folds, metric)
            for i in range(6)]
    other = result("b0", y + rng.normal(scale=0.8, size=len(y)), y, folds, metric)
    other.family = "g"
    pool = candidate_pool(same + [other], metric, per_family=3)
    best_three = sorted(same, key=lambda r: r.score)[:3]
    assert [r.candidate_id for r in pool if r.family == "f"] == [r.candidate_id for r in best_three]
    assert other in pool
