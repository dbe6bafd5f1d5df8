"""The contract of :class:`automl.search.executor_base.TrialExecutor`, run over every executor:
the local process pool and a real Dask cluster of subprocesses (see conftest.py)."""

from __future__ import annotations

import pickle
import time
from concurrent.futures import CancelledError

import pytest

from automl.search.dask_executor import DaskExecutor
from automl.search.executor_base import TaskTimeout, TrialExecutor
from automl.search.executors import LocalExecutor

LOAD_S = 3.0
HANG_S = 8  # a Dask worker cannot be interrupted: keep the thread a hung task holds short


class _SlowToLoad:
    """Training data that takes ``LOAD_S`` seconds to unpickle (and is ``None`` once loaded)."""

    def __reduce__(self):
        return time.sleep, (LOAD_S,)


@pytest.fixture(params=["local", "dask"])
def make(request):
    """A factory of executors of one kind with two workers, each shut down afterwards."""
    made: list[TrialExecutor] = []

    def new() -> TrialExecutor:
        if request.param == "local":
            executor = LocalExecutor(2)
        else:
            executor = DaskExecutor(request.getfixturevalue("dask_cluster").address)
        made.append(executor)
        return executor

    yield new
    for executor in made:
        executor.shutdown()


def test_it_is_a_trial_executor_with_its_workers(make):
    executor = make()
    assert isinstance(executor, TrialExecutor)
    assert executor.n_workers == 2
    assert not executor.broken


def test_results_and_errors_each_reach_only_their_own_future(make):
    executor = make()
    bad = executor.submit(int, "not a number")
    good = executor.submit(sum, [1, 2])
    assert good.result(timeout=120) == 3
    with pytest.raises(Exception, match="not a number"):
        bad.result(timeout=120)
    assert executor.submit(sorted, [3, 1, 2]).result(timeout=120) == [1, 2, 3]


def test_the_limit_counts_running_time_not_loading_the_data(make, tmp_path):
    """Loading this data takes longer than the task's limit; the task itself is quick."""
    path = tmp_path / "slow.pkl"
    path.write_bytes(pickle.dumps(_SlowToLoad()))
    executor = make()
    executor.prepare_data(str(path))
    futures = [executor.submit(time.sleep, 0.2, timeout=LOAD_S / 3) for _ in range(4)]
    assert [f.result(timeout=120) for f in futures] == [None] * 4


def test_a_task_past_its_limit_fails_alone_and_says_how_long_it_ran(make):
    executor = make()
    hung = executor.submit(time.sleep, HANG_S, timeout=1)
    with pytest.raises(TaskTimeout) as caught:
        hung.result(timeout=120)
    assert caught.value.limit_s == 1 and caught.value.ran_s >= 1
    assert executor.submit(sum, [2, 2]).result(timeout=120) == 4


def test_stop_fails_a_running_task_and_cancels_a_queued_one(make):
    executor = make()
    executor.submit(sum, [0]).result(timeout=120)  # the workers are up
    running = [executor.submit(time.sleep, HANG_S) for _ in range(2)]
    queued = executor.submit(time.sleep, HANG_S)
    _wait_until_running(running)
    for future in [queued] + running:  # the queued first: a freed worker would take it
        executor.stop(future, "stopped at the time budget")
    for future in running:
        with pytest.raises(TaskTimeout, match="stopped at the time budget") as caught:
            future.result(timeout=60)
        assert caught.value.limit_s is None
    with pytest.raises(CancelledError):
        queued.result(timeout=60)
    assert executor.submit(sum, [3, 3]).result(timeout=120) == 6


def _wait_until_running(futures) -> None:
    end = time.monotonic() + 60
    while not all(f.running() for f in futures) and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(0.5)  # they are on the workers


def test_shutdown_resolves_every_future(make):
    executor = make()
    executor.submit(sum, [0]).result(timeout=120)
    futures = [executor.submit(time.sleep, HANG_S) for _ in range(3)]
    _wait_until_running(futures[:2])
    executor.shutdown()
    for future in futures:
        assert future.done()
        assert future.cancelled() or future.exception() is not None
