"""What only the local executor does: dead workers, workers dying as they start, shutdown without
waiting, scripts without a main guard. The contract shared with Dask: test_executor_contract.py."""

from __future__ import annotations

import contextlib
import os
import pickle
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


def test_dead_worker_is_reported_and_replaced(executor):
    pids_before = {executor.submit(_pid).result(timeout=60) for _ in range(4)}
    with pytest.raises(WorkerDied, match="SIGKILL"):
        executor.submit(_kill_self).result(timeout=60)
    assert executor.submit(sum, [1, 1]).result(timeout=60) == 2
    assert pids_before


def test_a_worker_killed_while_it_starts_is_replaced_and_its_task_runs(tmp_path):
    """Its data takes seconds to load, so the kill lands while the worker is getting ready."""
    path = tmp_path / "slow.pkl"
    path.write_bytes(pickle.dumps(_SlowToLoad()))
    ex = LocalExecutor(1)
    try:
        ex.prepare_data(str(path))
        future = ex.submit(_pid)
        killed = _first_worker_pid(ex)
        os.kill(killed, signal.SIGKILL)
        assert future.result(timeout=120) != killed
        assert not ex.broken
    finally:
        ex.shutdown()


def _first_worker_pid(ex: LocalExecutor) -> int:
    end = time.monotonic() + 60
    while not ex.worker_pids() and time.monotonic() < end:
        time.sleep(0.01)
    return ex.worker_pids()[0]


class _SlowToLoad:
    def __reduce__(self):
        return time.sleep, (3.0,)


def test_workers_that_keep_dying_as_they_start_break_the_pool_with_a_reason():
    ex = LocalExecutor(1)
    try:
        seen: set[int] = set()
        end = time.monotonic() + 120
        while not ex.broken and time.monotonic() < end:
            for pid in set(ex.worker_pids()) - seen:
                seen.add(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        assert ex.broken
        with pytest.raises(WorkerDied, match="keep dying as they start"):
            ex.submit(sum, [1]).result(timeout=30)
    finally:
        ex.shutdown()


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


def test_the_forkserver_starts_before_the_engine_is_imported():
    """The CLI starts it first thing: its imports then run beside the CLI's own, which they
    could not if starting it imported them here first."""
    import subprocess
    import sys

    code = """
import sys, time
from automl.search.forkserver import start_early
start_early()
heavy = sorted({"pandas", "sklearn", "lightgbm", "automl.engine"} & set(sys.modules))
import psutil
def server():
    return [p for p in psutil.Process().children()
            if "multiprocessing.forkserver" in " ".join(p.cmdline())]
deadline = time.time() + 120
while not server() and time.time() < deadline:
    time.sleep(0.05)
print(heavy, bool(server()))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[] True"
