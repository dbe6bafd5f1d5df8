"""Whole searches on small data: reproducibility, budgets, failures recorded, ensemble honesty."""

from __future__ import annotations

import time
from concurrent.futures import Future

import numpy as np
import pandas as pd
import pytest

import automl
from automl.engine import Callbacks
from automl.exceptions import AutoMLError
from automl.search.executor_base import TaskTimeout, timeout_error
from automl.search.records import STOPPED_AT_BUDGET, over_limit
from tests.search.stubs import StubExecutor


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


def test_a_job_whose_trials_all_time_out_still_ends_with_a_model(sample_data):
    """The first trial has no limit of its own; the others here are cut at 0.01 s."""
    result = automl.fit(sample_data / "abalone.csv", target="Rings", time_budget=None,
                        max_candidates=3, trial_timeout=0.01, n_folds=3)
    states = dict(zip(result.leaderboard["candidate_id"], result.leaderboard["state"],
                      strict=True))
    assert [s for cid, s in states.items() if cid.endswith("_000")] == ["complete"]
    assert sorted(s for cid, s in states.items() if cid.endswith(("_001", "_002"))) == \
        ["timed-out", "timed-out"]
    assert [w["code"] for w in result.job.warnings] == ["trials_timed_out"]


def test_data_no_model_can_fit_is_a_clear_error(tmp_path):
    frame = pd.DataFrame({"x": np.arange(40.0), "y": ["a"] * 39 + ["b"]})
    frame.to_csv(tmp_path / "one_b.csv", index=False)
    with pytest.raises(AutoMLError):
        automl.fit(tmp_path / "one_b.csv", target="y", time_budget=None, max_candidates=2)


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


class _TimingOutExecutor(StubExecutor):
    """Every task times out, as an executor reports a task past its limit (or stopped at the
    budget when it had no limit), after 2 s of running."""

    def submit(self, fn, *args, timeout=None, **kwargs):
        future = Future()
        future.set_exception(TaskTimeout(STOPPED_AT_BUDGET, ran_s=2.0) if timeout is None
                             else timeout_error(timeout, ran_s=2.0))
        return future


def test_a_timed_out_trial_says_which_limit_stopped_it_and_how_long_it_ran():
    from automl.candidates.base import DataShape
    from automl.candidates.generator import generate_candidates
    from automl.metrics import get_metric
    from automl.search.budget import Budget
    from automl.search.study import Search

    specs = generate_candidates(DataShape(500, 5, "binary", 2))
    budget = Budget(time.time() + 600, max_trials=3, trial_timeout=5.0)
    search = Search(specs, "unused", get_metric("auc", "binary"), _TimingOutExecutor(), budget,
                    seed=0, n_parallel=1)
    results = search.run()
    assert [r.state.value for r in results] == ["timed-out"] * 3
    assert [r.reason for r in results] == [STOPPED_AT_BUDGET] + [over_limit(5.0)] * 2
    assert [r.fit_s for r in results] == [2.0] * 3


def test_the_default_trial_limit_follows_similar_trials_and_the_time_left():
    from automl.search.budget import MIN_TRIAL_LIMIT_S, Budget

    budget = Budget(time.time() + 100, max_trials=None, trial_timeout=None)
    assert budget.trial_limit(first=True, similar_run_s=[]) is None
    assert 30 < budget.trial_limit(first=False, similar_run_s=[]) <= 40
    assert budget.trial_limit(first=False, similar_run_s=[1.0]) == MIN_TRIAL_LIMIT_S
    assert budget.trial_limit(first=False, similar_run_s=[3.0, 6.0]) == 24.0
    assert Budget(None, 5, None).trial_limit(first=False, similar_run_s=[1.0]) is None


def test_a_short_job_beside_cpu_hogs_still_ends_with_a_model(sample_data):
    """Two busy-loop processes take the machine's cores while a 10 s job runs."""
    import subprocess
    import sys

    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        result = automl.fit(sample_data / "titanic.csv", target="Survived", time_budget=10)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert result.leaderboard["state"].eq("complete").any()
    frame = pd.read_csv(sample_data / "titanic.csv").head(5)
    assert len(result.predict(frame)) == 5
    timed_out = result.leaderboard[result.leaderboard["state"] == "timed-out"]
    assert (timed_out["fit_s"] > 0).all()  # a cut trial shows how long it ran
