"""The Dask executor against a real cluster of subprocesses (see conftest.py).

The same job gives the same leaderboard locally and on the cluster; a worker killed mid-trial,
a lost scheduler and an unreachable address never hang a job or lose finished trials.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import sys
import threading
import time

import cloudpickle
import pytest
from distributed import Client

import automl
from automl.engine import Callbacks
from automl.exceptions import ConfigError
from automl.search.dask_executor import ClusterLost, ClusterUnavailable, DaskExecutor
from automl.search.executors import TaskTimeout

# Workers cannot import this test module: ship its functions (``_data_count``) by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

TITANIC = "sample_data/titanic.csv"
JOB = {"target": "Survived", "time_budget": None, "seed": 0, "n_jobs": 2}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _data_count() -> int:
    from automl.search import dask_executor

    return len(dask_executor._WORKER_DATA)


def _rows(result) -> list[tuple]:
    board = result.leaderboard
    return list(zip(board["candidate_id"], board["params"].map(repr), board["score"],
                    strict=True))


def test_unreachable_scheduler_fails_fast_naming_the_address():
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(ConfigError, match=address) as caught:
        DaskExecutor(address, connect_timeout=2)
    assert isinstance(caught.value, ClusterUnavailable)


def test_unreachable_scheduler_fails_the_job_with_a_config_error():
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        automl.fit(TITANIC, max_candidates=1, cluster=address, **JOB)


def test_data_is_shipped_once_to_every_worker(dask_cluster, tmp_path):
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps({"rows": list(range(1000))}))
    executor = DaskExecutor(dask_cluster.address)
    try:
        assert executor.n_workers == executor.max_in_flight == 2
        ref = executor.prepare_data(str(path))
        assert list(executor._client.run(_data_count).values()) == [1, 1]
        assert executor.submit(sorted, ref).result(timeout=30) == ["rows"]
    finally:
        executor.shutdown()
    with Client(dask_cluster.address, set_as_default=False) as client:
        assert list(client.run(_data_count).values()) == [0, 0]


def test_timeout_fails_the_future_and_in_flight_tasks_are_capped(make_dask_cluster):
    # Its own cluster: Dask cannot interrupt the 600 s sleep, whose worker stays busy after the
    # test; on the module's shared cluster the next job's trials would queue behind it.
    executor = DaskExecutor(make_dask_cluster(2).address, max_in_flight=1)
    try:
        slow = executor.submit(time.sleep, 30, timeout=1)
        quick = executor.submit(sum, [1, 2, 3])
        with pytest.raises(TaskTimeout):  # not killed, a 30 s sleep would return None
            slow.result(timeout=120)
        assert quick.result(timeout=120) == 6
    finally:
        executor.shutdown()


@pytest.mark.slow
def test_cluster_gives_the_same_leaderboard_as_local(dask_cluster):
    local = automl.fit(TITANIC, max_candidates=6, n_folds=3, **JOB)
    remote = automl.fit(TITANIC, max_candidates=6, n_folds=3,
                         cluster=dask_cluster.address, **JOB)
    assert _rows(remote) == _rows(local)


@pytest.mark.slow
def test_worker_killed_mid_trial_and_the_job_goes_on(make_dask_cluster):
    cluster = make_dask_cluster(2)
    killer = _WorkerKiller(cluster)
    killer.start()
    try:
        result = automl.fit(TITANIC, max_candidates=3, n_folds=3, cluster=cluster.address, **JOB)
    finally:
        killer.join(timeout=30)
    assert killer.killed is not None, "no trial was seen running"
    assert killer.killed.poll() == -signal.SIGKILL
    trials = [r for r in result.job.results if r.candidate_id != "ensemble"]
    assert len(trials) == 3
    assert all(r.ok or r.reason for r in trials)
    assert any(r.ok for r in trials)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_scheduler_lost_mid_job_ends_with_what_finished(make_dask_cluster):
    cluster = make_dask_cluster(1)
    seen: list[str] = []

    def on_trial(result, progress):
        seen.append(result.state.value)
        if len(seen) == 1:
            cluster.kill_scheduler()

    result = automl.fit(TITANIC, max_candidates=3, n_folds=3, cluster=cluster.address,
                        callbacks=Callbacks(on_trial=on_trial), **{**JOB, "n_jobs": 1})
    trials = [r for r in result.job.results if r.candidate_id != "ensemble"]
    assert trials[0].ok
    assert 2 <= len(trials) <= 3  # the search may stop asking once the executor is broken
    assert all(not r.ok and "scheduler" in r.reason for r in trials[1:])


def test_futures_fail_when_the_scheduler_is_lost(make_dask_cluster):
    cluster = make_dask_cluster(1)
    executor = DaskExecutor(cluster.address, connect_timeout=2)
    try:
        running = executor.submit(time.sleep, 60)
        queued = executor.submit(time.sleep, 60)
        time.sleep(0.5)
        cluster.kill_scheduler()
        for future in (running, queued):
            with pytest.raises(ClusterLost):
                future.result(timeout=30)
        assert executor.broken
        with pytest.raises(ClusterLost):
            executor.submit(sum, [1]).result(timeout=1)
    finally:
        executor.shutdown()


class _WorkerKiller(threading.Thread):
    """SIGKILLs the worker process running the first trial, once one is seen running."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster, self.killed = cluster, None

    def run(self) -> None:
        with Client(self.cluster.address, timeout=10, set_as_default=False) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.killed is None:
                for address, keys in client.processing().items():
                    if any(str(k).startswith("evaluate") for k in keys):
                        self._kill(client, address)
                        return
                time.sleep(0.05)

    def _kill(self, client, address: str) -> None:
        # Ask the worker itself for its pid: the scheduler's worker table may lag behind.
        pid = client.run(os.getpid, workers=[address])[address]
        process = next(w for w in self.cluster.workers if w.pid == pid)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        self.killed = process
