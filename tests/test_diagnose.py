"""Job-level warnings: each says when a result is weak, with the count, cause and remedy."""

from __future__ import annotations

import numpy as np

from automl.diagnose import diagnose
from automl.metrics import METRICS
from automl.search.records import TrialResult, TrialState

AUC = METRICS["auc"]


def _row(cid: str, family: str, state=TrialState.COMPLETE, score=None, oof=None) -> TrialResult:
    return TrialResult(cid, 0, family, "r", {}, state, score=score, oof=oof,
                       reason="" if state is TrialState.COMPLETE else "trial ran past its 15 s time limit")


def _graded(n: int = 50) -> np.ndarray:
    p = np.linspace(0.05, 0.95, n)
    return np.column_stack([1 - p, p])


def _codes(results, winner, budget=60.0) -> list[str]:
    return [w["code"] for w in diagnose(results, winner, AUC, "binary", budget)]


def test_a_healthy_job_has_no_warnings():
    best = _row("lightgbm_000", "lightgbm", score=0.85, oof=_graded())
    rows = [best, _row("linear_001", "linear", score=0.80, oof=_graded())]
    assert _codes(rows, best) == []


def test_most_trials_cut_by_time_is_said_with_the_count_and_the_remedy():
    winner = _row("knn_002", "knn", score=0.80, oof=_graded())
    rows = [winner] + [_row(f"{f}_00{i}", f, TrialState.TIMED_OUT)
                       for i, f in enumerate(["lightgbm", "linear", "extra_trees", "mlp"])]
    warnings = diagnose(rows, winner, AUC, "binary", 60.0)
    assert [w["code"] for w in warnings] == ["trials_timed_out", "no_gradient_boosting"]
    assert warnings[0]["message"].startswith("4 of 5 trials ran out of time")
    assert "larger time budget" in warnings[0]["message"]
    assert "fewer jobs at once" in warnings[0]["message"]


def test_a_result_resting_on_the_one_trial_that_beat_the_clock_is_said():
    """A busy machine: the first trial completed past the search's deadline, the other did not."""
    winner = _row("lightgbm_000", "lightgbm", score=0.85, oof=_graded())
    warnings = diagnose([winner, _row("linear_001", "linear", TrialState.TIMED_OUT)], winner,
                        AUC, "binary", 20.0)
    assert [w["code"] for w in warnings] == ["trials_timed_out"]
    assert warnings[0]["message"].startswith("1 of 2 trials ran out of time")
    assert _codes([winner, _row("linear_001", "linear", score=0.8, oof=_graded())], winner) == []


def test_probabilities_of_exactly_0_and_1_are_called_degenerate():
    hard = np.tile([[0.0, 1.0], [1.0, 0.0]], (25, 1))
    winner = _row("knn_000", "knn", score=0.80, oof=hard)
    rows = [winner, _row("lightgbm_001", "lightgbm", score=0.79, oof=_graded())]
    assert _codes(rows, winner) == ["degenerate_probabilities"]


def test_a_winner_far_below_the_best_single_trial_is_said():
    best = _row("lightgbm_000", "lightgbm", score=0.90, oof=_graded())
    winner = _row("knn_001", "knn", score=0.80, oof=_graded())
    warnings = diagnose([best, winner], winner, AUC, "binary", 60.0)
    assert [w["code"] for w in warnings] == ["winner_below_best_single"]
    assert "lightgbm_000" in warnings[0]["message"]
