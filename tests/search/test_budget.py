"""The end of a job keeps time in proportion to how contended the machine is (issue 18, 6)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

import numpy as np
import pytest

from automl.candidates.base import DataShape
from automl.candidates.generator import generate_candidates
from automl.metrics import get_metric
from automl.search.budget import RESERVE_SHARE, Budget, EndCosts, slowdown
from automl.search.executor_base import TaskTimeout, settle
from automl.search.records import STOPPED_AT_BUDGET, TrialResult, TrialState
from automl.search.study import Search
from tests.search.stubs import StubExecutor

AUC = get_metric("auc", "binary")


def _trial(run_s: float, cpu_s: float, fit_s: float = 0.2) -> TrialResult:
    return TrialResult("lightgbm_000", 0, "lightgbm", "trees", {}, TrialState.COMPLETE,
                       score=0.8, fit_s=fit_s, run_s=run_s, cpu_s=cpu_s)


def test_the_reserve_stretches_with_contention_and_keeps_a_fallback_until_a_trial_completes():
    costs = EndCosts.of(np.zeros(1000), [(np.arange(800), np.arange(200))] * 5, 60.0, 2,
                        baggable=False, artifacts=True)
    idle, busy = [_trial(1.0, 1.0)], [_trial(3.0, 1.0)]
    assert slowdown(idle) == 1.0 and slowdown(busy) == 3.0 and slowdown([]) == 1.0
    assert costs.reserve(busy, AUC) > 2 * costs.reserve(idle, AUC) - 1.0
    assert costs.reserve([], AUC) > costs.reserve(idle, AUC)  # room for the fallback model
    hopeless = [_trial(60.0, 1.0, fit_s=30.0)]
    assert costs.reserve(hopeless, AUC) == RESERVE_SHARE * 60.0  # the search keeps half


class _StuckExecutor(StubExecutor):
    """Workers that never start: no future ever resolves, and stopping does nothing."""

    def submit(self, fn, *args, timeout=None, **kwargs):
        return Future()


def test_a_search_whose_workers_never_start_still_ends_soon_after_its_deadline():
    specs = generate_candidates(DataShape(500, 5, "binary", 2))
    search = Search(specs, "unused", AUC, _StuckExecutor(), Budget(time.time() + 1, None, None),
                    seed=0, n_parallel=2)
    results = search.run()
    assert [r.reason for r in results] == [STOPPED_AT_BUDGET] * 2


class _SlowFirstExecutor(StubExecutor):
    """Every trial completes ``after_s`` seconds after it is submitted, unless stopped first."""

    def __init__(self, after_s: float):
        self.after_s, self.stopped = after_s, []

    def submit(self, fn, spec, *args, timeout=None, **kwargs):
        future = Future()
        result = TrialResult(spec.candidate_id, spec.number, spec.spec.family, spec.spec.recipe,
                             spec.params, TrialState.COMPLETE, score=0.8, run_s=1.0, cpu_s=1.0)
        threading.Timer(self.after_s, settle, (future,), {"result": result}).start()
        return future

    def stop(self, future, reason):
        self.stopped.append(reason)
        settle(future, error=TaskTimeout(reason))


@pytest.mark.parametrize("grace", [0.0, 3.0])
def test_with_nothing_completed_the_running_trials_go_on_for_the_grace(grace):
    """A busy machine: the first trials would complete 1.5 s after the search's deadline."""
    specs = generate_candidates(DataShape(500, 5, "binary", 2))
    executor = _SlowFirstExecutor(after_s=2.5)
    budget = Budget(time.time() + 1.0, None, None, grace=grace)
    results = Search(specs, "unused", AUC, executor, budget, seed=0, n_parallel=2).run()
    if grace:
        assert [r.state for r in results[:2]] == [TrialState.COMPLETE] * 2  # no fallback needed
        assert not executor.stopped
    else:
        assert [r.reason for r in results] == [STOPPED_AT_BUDGET] * 2
    assert budget.trial_deadline(completed=False) == budget.search_deadline() + grace
