"""The local executor: results, exceptions, timeouts and dead workers, each failing only its task."""

from __future__ import annotations

import os
import signal
import time

import pytest

from automl.search.executors import LocalExecutor, TaskTimeout, WorkerDied


def _pid() -> int:
    return os.getpid()


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture(scope="module")
def executor():
    ex = LocalExecutor(2)
    yield ex
    ex.shutdown()


def test_results_come_back(executor):
    assert executor.submit(pow, 2, 10).result(timeout=60) == 1024
    assert executor.submit(sorted, [3, 1, 2]).result(timeout=60) == [1, 2, 3]


def test_exception_fails_only_its_task(executor):
    bad = executor.submit(int, "not a number")
    good = executor.submit(sum, [1, 2])
    with pytest.raises(RuntimeError, match="ValueError"):
        bad.result(timeout=60)
    assert good.result(timeout=60) == 3


def test_hanging_task_is_killed_at_its_timeout(executor):
    hung = executor.submit(time.sleep, 600, timeout=1)
    with pytest.raises(TaskTimeout):  # a 600 s sleep that was not killed would not raise
        hung.result(timeout=120)
    assert executor.submit(sum, [2, 2]).result(timeout=60) == 4


def test_dead_worker_is_reported_and_replaced(executor):
    pids_before = {executor.submit(_pid).result(timeout=60) for _ in range(4)}
    with pytest.raises(WorkerDied, match="SIGKILL"):
        executor.submit(_kill_self).result(timeout=60)
    assert executor.submit(sum, [1, 1]).result(timeout=60) == 2
    assert pids_before


def test_stop_kills_a_running_task_and_cancels_a_queued_one(executor):
    running = [executor.submit(time.sleep, 600) for _ in range(2)]
    queued = executor.submit(time.sleep, 600)
    time.sleep(1.0)  # both workers busy, the third task waits
    for future in running + [queued]:
        executor.stop(future, "stopped at the time budget")
    for future in running:
        with pytest.raises(TaskTimeout, match="stopped at the time budget"):
            future.result(timeout=120)
    assert queued.cancelled()
    assert executor.submit(sum, [3, 3]).result(timeout=60) == 6


def test_shutdown_without_wait_still_stops_its_workers():
    ex = LocalExecutor(2)
    pids = {ex.submit(_pid).result(timeout=60) for _ in range(4)}
    running = ex.submit(time.sleep, 600)
    time.sleep(0.5)
    ex.shutdown(wait=False)  # returns without waiting for the 600 s task (else the test times out)
    with pytest.raises(TaskTimeout, match="shut down"):
        running.result(timeout=120)
    deadline = time.monotonic() + 60
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _sleep_span(seconds: float) -> tuple[float, float]:
    start = time.time()
    time.sleep(seconds)
    return start, time.time()


def test_tasks_run_in_parallel(executor):
    futures = [executor.submit(_sleep_span, 1.5) for _ in range(2)]
    spans = [f.result(timeout=60) for f in futures]
    assert max(s for s, _ in spans) < min(e for _, e in spans), f"did not overlap: {spans}"


@pytest.mark.parametrize("how", ["script", "stdin"])
def test_a_script_without_a_main_guard_runs_its_job_once(tmp_path, how):
    """Workers must not re-run the caller's top-level code (multiprocessing would, by default)."""
    import subprocess
    import sys
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "sample_data" / "titanic.csv"
    script = tmp_path / "no_guard.py"
    script.write_text(
        "import automl\n"
        "print('top-level code ran', flush=True)\n"
        f"result = automl.fit({str(sample)!r}, target='Survived', time_budget=None,\n"
        "                    max_candidates=2, seed=0)\n"
        "print('states', sorted(set(result.leaderboard['state'])))\n")
    if how == "script":
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             timeout=240, cwd=tmp_path)
    else:
        run = subprocess.run([sys.executable, "-"], input=script.read_text(),
                             capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("top-level code ran") == 1
    assert "states ['complete']" in run.stdout
