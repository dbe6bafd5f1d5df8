"""Engine decisions at the end of a search: what gets refit within the budget."""

from __future__ import annotations

import logging
import time

import numpy as np

from automl.config import Settings
from automl.engine.context import Callbacks, JobContext
from automl.engine.finish import affordable_ensemble
from automl.metrics import METRICS
from automl.search.evaluate import TrainingData
from automl.search.records import TrialResult, TrialState


def _trial(cid, family, oof, y, folds, fit_s):
    metric = METRICS["rmse"]
    scores = [metric.score(y[v], oof[v]) for _, v in folds]
    return TrialResult(cid, 0, family, "r", {}, TrialState.COMPLETE, score=float(np.mean(scores)),
                       score_std=float(np.std(scores)), fold_scores=scores, oof=oof, fit_s=fit_s)


def test_an_ensemble_too_dear_to_refit_drops_its_dearest_member():
    rng = np.random.default_rng(0)
    y = rng.normal(size=600)
    idx = rng.permutation(600)
    folds = [(np.setdiff1d(idx, part), part) for part in np.array_split(idx, 3)]
    trials = [_trial(f"{family}_0", family, y + rng.normal(scale=0.5, size=600), y, folds, fit_s)
              for family, fit_s in (("slow", 30.0), ("a", 1.0), ("b", 1.0))]
    data = TrainingData(None, y, "regression", 0, None, folds)
    metric = METRICS["rmse"]
    generous = Settings(time_budget=120, n_jobs=2)
    full = affordable_ensemble(trials, JobContext(data, metric, generous), search_s=60.0)
    assert "slow_0" in full.members and len(full.members) == 3
    tight = Settings(time_budget=70, n_jobs=2)
    cheaper = affordable_ensemble(trials, JobContext(data, metric, tight), search_s=60.0)
    assert set(cheaper.members) == {"a_0", "b_0"}
    assert cheaper.score >= full.score  # rmse: a little worse without the third member


def test_nothing_completed_in_time_ends_with_a_fast_model_that_says_so(sample_data, tmp_path):
    from automl.diagnose import diagnose
    from automl.engine import prepare_data
    from automl.engine.finish import with_fallback
    from automl.search.executors import LocalExecutor
    from automl.search.fallback import FALLBACK_ID

    settings = Settings(time_budget=20, n_jobs=1)
    data, _, metric = prepare_data(sample_data / "titanic.csv", "Survived", settings)
    cut = TrialResult("lightgbm_000", 0, "lightgbm", "trees", {}, TrialState.TIMED_OUT,
                      reason="trial stopped at the job's time budget", fit_s=19.0)
    executor, reported = LocalExecutor(1), []
    try:
        ref = executor.prepare_data(data.save(tmp_path / "data.pkl"))
        trials: dict = {}
        watch = Callbacks(on_trial=lambda result, progress: reported.append((result, progress)))
        ctx = JobContext(data, metric, settings, executor=executor, data_ref=ref, callbacks=watch)
        results = with_fallback([cut], trials, ctx)
    finally:
        executor.shutdown()
    fast = results[-1]
    assert fast.candidate_id == FALLBACK_ID and fast.ok and 0.5 < fast.score <= 1.0
    assert FALLBACK_ID in trials  # the refit finds its spec
    [(shown, progress)] = reported  # the job page's chart and counts include it
    assert shown is fast and progress["trials_completed"] == 1
    assert progress["best_score"] == fast.score
    codes = [w["code"] for w in diagnose(results, fast, metric, data.task, 20)]
    assert codes[0] == "fallback_model"


def test_data_every_model_fails_on_is_an_error_without_a_fallback():
    import pytest

    from automl.engine.finish import with_fallback
    from automl.exceptions import AutoMLError

    failed = TrialResult("linear_000", 0, "linear", "r", {}, TrialState.FAILED,
                         reason="ValueError: the target has one class")
    with pytest.raises(AutoMLError, match="no candidate completed.*one class"):
        with_fallback([failed], {}, JobContext(None, METRICS["auc"], Settings()))


def test_an_exploration_that_fails_is_a_warning_of_the_job_not_a_traceback(sample_data, tmp_path,
                                                                          caplog):
    from automl.engine import prepare_data
    from automl.engine.background import Exploration

    _, profile, _ = prepare_data(sample_data / "titanic.csv", "Survived", Settings())
    output = tmp_path / "not-a-directory"
    output.write_text("")
    exploration = Exploration(profile, output, sample_data / "titanic.csv")
    exploration.start()
    [warning] = exploration.join()
    assert warning["code"] == "exploration_failed"
    assert "could not be run" in warning["message"] and "Error" in warning["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], "no traceback shown"


def test_an_exploration_the_budget_cannot_cover_is_saved_without_running(sample_data, tmp_path):
    import json

    from automl.engine import prepare_data
    from automl.engine.background import Exploration

    _, profile, _ = prepare_data(sample_data / "titanic.csv", "Survived", Settings())
    exploration = Exploration(profile, tmp_path, sample_data / "titanic.csv",
                              until=time.time() + 1.0)
    exploration.start(slow=3.0)  # 1 s left would not cover a kernel on this busy a machine
    assert [w["code"] for w in exploration.join()] == ["exploration_not_run"]
    notebook = json.loads((tmp_path / "notebooks" / "data-exploration.ipynb").read_text())
    assert not any(c.get("outputs") for c in notebook["cells"])
