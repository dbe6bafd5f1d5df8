"""The latency limit (max_latency_ms): which rows may win, the ensemble within it, the warning."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from automl.config import Settings
from automl.data.splits import make_folds
from automl.diagnose import latency_warning
from automl.engine.context import JobContext
from automl.engine.finish import affordable_ensemble, affordable_winner
from automl.engine.latency import exclude_slow
from automl.ensemble import greedy_ensemble
from automl.leaderboard import rank_results
from automl.metrics import METRICS
from automl.search.evaluate import TrainingData
from automl.search.records import TrialResult, TrialState

RMSE = METRICS["rmse"]


def _setup(n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    return rng, y, make_folds(y, "regression", 3, seed)


def _trial(cid, latency_ms, y, folds, rng, noise=0.5, state=TrialState.COMPLETE):
    oof = y + rng.normal(scale=noise, size=len(y))
    scores = [RMSE.score(y[v], oof[v]) for _, v in folds]
    return TrialResult(cid, int(cid.split("_")[1]), cid.split("_")[0], "r", {}, state,
                       score=float(np.mean(scores)), score_std=float(np.std(scores)),
                       fold_scores=scores, oof=oof, fit_s=1.0, latency_ms=latency_ms)


def _ctx(y, folds, limit, time_budget=None):
    data = TrainingData(None, y, "regression", 0, None, folds)
    return JobContext(data, RMSE, Settings(time_budget=time_budget, max_candidates=10,
                                           n_jobs=2, max_latency_ms=limit))


def test_rows_over_the_limit_are_excluded_with_the_reason_and_rank_after_the_others():
    rng, y, folds = _setup()
    best_but_slow = _trial("knn_0", 8.0, y, folds, rng, noise=0.1)
    fast = _trial("linear_1", 0.05, y, folds, rng, noise=0.6)
    unknown = _trial("mlp_2", None, y, folds, rng, noise=0.7)
    failed = TrialResult("forest_3", 3, "forest", "r", {}, TrialState.FAILED, reason="boom")
    marked = exclude_slow([best_but_slow, fast, unknown, failed], limit=2.0)
    by_id = {r.candidate_id: r for r in marked}
    assert by_id["knn_0"].excluded == "single-row latency (p50) is 8 ms, over the 2 ms limit"
    assert by_id["linear_1"].excluded == by_id["mlp_2"].excluded == by_id["forest_3"].excluded == ""
    ranked = [r.candidate_id for r in rank_results(marked, RMSE)]
    assert ranked == ["linear_1", "mlp_2", "knn_0", "forest_3"]
    assert exclude_slow(marked, limit=None) is marked


def test_when_no_row_is_within_the_limit_the_fastest_may_win_and_a_warning_says_so():
    rng, y, folds = _setup()
    rows = [_trial("knn_0", 8.0, y, folds, rng, noise=0.1), _trial("lightgbm_1", 3.0, y, folds, rng)]
    marked = exclude_slow(rows, limit=1.0)
    assert [r.candidate_id for r in marked if not r.excluded] == ["lightgbm_1"]
    winner = affordable_winner(rank_results(marked, RMSE), _ctx(y, folds, 1.0), search_s=1.0)
    assert winner.candidate_id == "lightgbm_1"
    warning = latency_warning(winner, winner, 1.0)
    assert warning["code"] == "latency_over_limit"
    assert "no candidate answers one row within the 1 ms" in warning["message"]
    assert "lightgbm_1" in warning["message"]


def test_a_final_model_slower_than_its_fold_model_is_warned_about_only_over_the_limit():
    rng, y, folds = _setup()
    estimated = _trial("knn_0", 0.8, y, folds, rng)
    slower = replace(estimated, latency_ms=1.3)
    assert latency_warning(estimated, estimated, 1.0) is None
    assert latency_warning(estimated, slower, None) is None
    message = latency_warning(estimated, slower, 1.0)["message"]
    assert "1.3 ms, over the 1 ms latency limit that its fold model met (0.8 ms)" in message


def test_the_ensemble_adds_members_only_while_their_latencies_fit_the_limit():
    rng, y, folds = _setup()
    rows = [_trial(f"{f}_{i}", ms, y, folds, rng) for i, (f, ms) in
            enumerate([("a", 0.4), ("b", 0.5), ("c", 0.7)])]
    free = greedy_ensemble(rows, y, folds, RMSE, "regression")
    assert set(free.members) == {"a_0", "b_1", "c_2"} and free.latency_ms == 1.6
    bounded = greedy_ensemble(rows, y, folds, RMSE, "regression", max_latency_ms=1.0)
    assert len(bounded.members) == 2 and bounded.latency_ms <= 1.0
    assert RMSE.loss(bounded.score) > RMSE.loss(free.score)


def test_an_ensemble_that_cannot_fit_the_limit_is_shown_excluded_and_cannot_win():
    rng, y, folds = _setup()
    rows = exclude_slow([_trial(f"{f}_{i}", 0.8, y, folds, rng) for i, f in enumerate("abc")],
                        limit=1.0)
    ctx = _ctx(y, folds, 1.0)
    ensemble = affordable_ensemble(rows, ctx, search_s=1.0)
    assert ensemble.excluded == ("its members' single-row latencies add up to 2.4 ms, "
                                 "over the 1 ms limit")
    ranked = rank_results(rows + [ensemble], RMSE)
    assert ranked[-1] is ensemble
    assert affordable_winner(ranked, ctx, search_s=1.0) is not ensemble


def test_a_final_model_that_cannot_be_measured_keeps_the_winners_estimate(caplog):
    from automl.engine.latency import measured_winner

    rng, y, folds = _setup()
    winner = _trial("knn_0", 0.8, y, folds, rng)
    data = TrainingData(None, y, "regression", 0, None, folds)  # no rows to predict: it raises
    kept, rows = measured_winner(winner, [winner], object(), data)
    assert kept is winner and rows == [winner]
    assert "could not be measured" in caplog.text
