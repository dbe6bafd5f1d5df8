"""Whole searches on small data: reproducibility, budgets, failures recorded, ensemble honesty."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import automl
from automl.engine import Callbacks
from automl.exceptions import AutoMLError


def _board(result):
    cols = ["candidate_id", "family", "params", "score", "score_std", "state"]
    return result.leaderboard[cols].astype(str).to_dict("records")


def test_seed_and_trial_count_reproduce_the_leaderboard(sample_data):
    kwargs = dict(target="Survived", time_budget=None, max_candidates=6, seed=3, n_folds=3)
    a = automl.fit(sample_data / "titanic.csv", **kwargs)
    b = automl.fit(sample_data / "titanic.csv", **kwargs)
    assert _board(a) == _board(b)
    assert len(a.leaderboard) >= 6


def test_a_time_budgeted_job_ends_with_a_model(sample_data):
    """How close to its budget a job ends is a figure, printed by benchmarks/first_trial.py."""
    result = automl.fit(sample_data / "vehicle.csv", target="Class", time_budget=12)
    assert result.leaderboard["state"].eq("complete").any()
    rows = pd.read_csv(sample_data / "vehicle.csv").drop(columns="Class").head(3)
    assert len(result.predict(rows)) == 3


def test_progress_callbacks_report_every_trial(sample_data):
    seen = []
    cb = Callbacks(on_trial=lambda r, p: seen.append((r.candidate_id, dict(p))))
    automl.fit(sample_data / "abalone.csv", target="Rings", time_budget=None, max_candidates=4,
               callbacks=cb, n_folds=3)
    assert len(seen) == 4
    last = seen[-1][1]
    assert last["trials_completed"] + last["trials_failed"] == 4
    assert last["best_score"] is not None and last["elapsed_s"] > 0


def test_progress_names_the_trials_on_the_workers(sample_data):
    events = []
    cb = Callbacks(on_started=lambda p: events.append(("started", dict(p))),
                   on_trial=lambda r, p: events.append((r.candidate_id, dict(p))))
    automl.fit(sample_data / "abalone.csv", target="Rings", time_budget=None, max_candidates=3,
               callbacks=cb, n_folds=3, n_jobs=1)
    running = [[t["candidate_id"] for t in p["running"]] for _, p in events]
    finished = [name for name, _ in events if name != "started"]
    assert running == [[finished[0]], [], [finished[1]], [], [finished[2]], []]
    assert all(t["family"] and t["started_s"] >= 0 for _, p in events for t in p["running"])


def test_all_trials_timing_out_is_a_clear_error(sample_data):
    with pytest.raises(AutoMLError, match="no candidate completed.*time limit"):
        automl.fit(sample_data / "abalone.csv", target="Rings", time_budget=None,
                   max_candidates=2, trial_timeout=0.01)


def test_ensemble_row_wins_only_when_better(sample_data):
    result = automl.fit(sample_data / "vehicle.csv", target="Class", time_budget=None,
                        max_candidates=5, n_folds=3)
    board = result.leaderboard
    assert board.iloc[0]["score"] <= board[board["state"] == "complete"]["score"].min()
    if "ensemble" in set(board["candidate_id"]):
        ens = board[board["candidate_id"] == "ensemble"].iloc[0]
        best_single = board[(board["candidate_id"] != "ensemble") & (board["state"] == "complete")]["score"].min()
        assert (board.iloc[0]["candidate_id"] == "ensemble") == (ens["score"] < best_single)


def test_predictions_follow_the_labels(sample_data):
    df = pd.read_csv(sample_data / "vehicle.csv")
    result = automl.fit(df, target="Class", time_budget=None, max_candidates=3, n_folds=3)
    proba = result.predict_proba(df.drop(columns="Class").head(20))
    assert list(proba.columns) == sorted(df["Class"].unique())
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    labels = result.predict(df.head(20))
    assert list(labels) == list(proba.idxmax(axis=1))
    accuracy = (result.predict(df) == df["Class"].to_numpy()).mean()
    assert accuracy > 0.6


@pytest.mark.parametrize("metric", ["accuracy", "f1", "logloss", "balanced_accuracy"])
def test_other_metrics(sample_data, metric):
    result = automl.fit(sample_data / "titanic.csv", target="Survived", metric=metric,
                        time_budget=None, max_candidates=2, n_folds=3)
    assert result.job.metric.name == metric
    assert np.isfinite(result.leaderboard.iloc[0]["score"])


class _TimingOutExecutor:
    """Every task times out, as the local executor reports a trial killed at its timeout."""

    def submit(self, fn, *args, timeout=None, **kwargs):
        from concurrent.futures import Future

        from automl.search.executors import TaskTimeout

        future = Future()
        future.set_exception(TaskTimeout(f"ran past its {timeout:.0f} s limit"))
        return future


@pytest.mark.parametrize("budget_s, trial_timeout, reason", [
    (30.0, 600.0, "trial stopped at the time budget"),  # the search's deadline came first
    (600.0, 5.0, "trial ran past its"),  # the trial's own limit came first
])
def test_a_timed_out_trial_says_which_limit_stopped_it(budget_s, trial_timeout, reason):
    from automl.candidates.base import DataShape
    from automl.candidates.generator import generate_candidates
    from automl.metrics import get_metric
    from automl.search.study import Budget, Search

    specs = generate_candidates(DataShape(500, 5, "binary", 2))
    budget = Budget(time.time() + budget_s, max_trials=2, trial_timeout=trial_timeout)
    search = Search(specs, "unused", get_metric("auc", "binary"), _TimingOutExecutor(), budget,
                    seed=0, n_parallel=1)
    results = search.run()
    assert [r.state.value for r in results] == ["timed-out"] * 2
    assert all(r.reason.startswith(reason) for r in results), [r.reason for r in results]
