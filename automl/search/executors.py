"""Executors that run trials: a local pool of worker processes (default) or a Dask cluster.

:class:`LocalExecutor` is a ``concurrent.futures.Executor`` whose workers can be killed one at a
time, which the standard ``ProcessPoolExecutor`` cannot do: a task submitted with ``timeout=``
that runs past it has its worker killed and replaced, and its future raises
:class:`TaskTimeout`; a worker that dies (a crash, the kernel's out-of-memory killer) fails only
its own task with :class:`WorkerDied`. Each worker runs one task at a time, single-threaded.
Workers are forked from a forkserver that has the heavy modules imported already. A task's
timeout counts from the worker's report that it has loaded the job's data and begun the task
(the contract of :mod:`automl.search.executor_base`); a worker that dies before that (while it
starts) is replaced and its task handed to the next one, and after ``MAX_FAILED_STARTS`` such
deaths in a row the pool is :attr:`~LocalExecutor.broken`.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import wait

from automl.search import forkserver
from automl.search.executor_base import (
    Task,
    TaskTimeout,
    TrialExecutor,
    WorkerDied,
    settle,
    timeout_error,
)

__all__ = ["LocalExecutor", "TaskTimeout", "WorkerDied", "make_executor"]

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class _Task(Task):
    stop_reason: str | None = None  # set by stop(): the worker is killed at the next check


@dataclass
class _Worker:
    process: mp.Process
    conn: object
    task: _Task | None = None
    started: float | None = None  # when the worker, holding the data, began its task
    proven: bool = False  # it has begun a task: it started up fine


def _worker_main(conn) -> None:
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        warm, fn, args, kwargs = message
        try:
            if warm is not None:
                warm()  # load the job's data (cached), before the task's clock starts
            conn.send((_STARTED, None))
            conn.send((True, fn(*args, **kwargs)))
        except BaseException as exc:  # report every failure to the parent, keep serving
            conn.send((False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"))


_STARTED = "started"
MAX_FAILED_STARTS = 5


class LocalExecutor(TrialExecutor):
    """A pool of ``n_workers`` killable worker processes (see the module doc)."""

    def __init__(self, n_workers: int):
        self._ctx = forkserver.context()
        self._n = n_workers
        self._queue: deque[_Task] = deque()
        self._retry: deque[_Task] = deque()  # handed to a worker that died before reading it
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._wakeup_r, self._wakeup_w = self._ctx.Pipe(duplex=False)
        self._closed = False
        self._warm = None
        self._failed_starts = 0
        self._broken: str | None = None
        self._thread = threading.Thread(target=self._loop, name="automl-executor", daemon=True)
        self._thread.start()

    @property
    def n_workers(self) -> int:
        return self._n

    @property
    def broken(self) -> bool:
        """True once worker processes cannot be started (see :data:`MAX_FAILED_STARTS`)."""
        return self._broken is not None

    def prepare_data(self, data_ref: str) -> str:
        """The local path itself; each worker loads it (once) before its first task's clock
        starts."""
        from automl.search.evaluate import load_data

        self._warm = functools.partial(load_data, data_ref)
        return data_ref

    def submit(self, fn, /, *args, timeout: float | None = None, **kwargs) -> Future:
        """Queue ``fn(*args, **kwargs)``; with ``timeout`` (seconds of running) it is killed past it."""
        if self._closed:
            raise RuntimeError("executor is shut down")
        future: Future = Future()
        if self._broken is not None:
            future.set_exception(WorkerDied(self._broken))
            return future
        with self._lock:
            self._queue.append(_Task(future, fn, args, kwargs, timeout))
        self._wakeup_w.send(b"")
        return future

    def stop(self, future: Future, reason: str) -> None:
        """Cancel ``future`` if it is queued; if it is running, kill its worker (within 0.1 s)
        and fail it with :class:`TaskTimeout` (``reason``). Done futures are left alone."""
        if future.cancel():
            return
        with self._lock:
            for task in [w.task for w in self._workers] + list(self._retry):
                if task is not None and task.future is future:
                    task.stop_reason = reason
        self._wakeup_w.send(b"")

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Cancel queued tasks; the executor's thread then fails running ones and stops every
        worker. ``wait`` waits for that: without it a job that ends early (on bad data, say) does
        not wait for a first worker still starting, which takes the forkserver's imports."""
        self._closed = True
        with self._lock:
            while self._queue:
                self._queue.popleft().future.cancel()
        self._wakeup_w.send(b"")
        if wait:
            self._thread.join()

    def worker_pids(self) -> list[int]:
        """The worker processes' ids (for tests and diagnostics)."""
        with self._lock:
            return [w.process.pid for w in self._workers]

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child,), daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def _loop(self) -> None:
        # Workers start here, off the caller's thread: the forkserver's imports take seconds.
        try:
            for _ in range(self._n):
                if not self._closed:
                    self._workers.append(self._spawn())
        except Exception as exc:  # noqa: BLE001 - e.g. the forkserver cannot start
            self._give_up(f"worker processes cannot start: {type(exc).__name__}: {exc}")
        while not self._closed and self._broken is None:
            self._dispatch()
            handles = [self._wakeup_r] + [h for w in self._workers
                                          for h in (w.conn, w.process.sentinel)]
            for ready in wait(handles, timeout=0.1):
                if ready is self._wakeup_r:
                    self._wakeup_r.recv()
            for worker in list(self._workers):
                self._collect(worker)
        for worker in self._workers:
            if worker.task is not None:
                settle(worker.task.future, error=TaskTimeout("executor shut down", _ran(worker)))
            _stop(worker)

    def _give_up(self, reason: str) -> None:
        self._broken = reason
        with self._lock:
            tasks = list(self._queue) + list(self._retry)
            self._queue.clear()
            self._retry.clear()
        for task in tasks:
            settle(task.future, error=WorkerDied(reason))

    def _next_task(self) -> _Task | None:
        if self._retry:
            return self._retry.popleft()
        while self._queue:
            task = self._queue.popleft()
            if task.future.set_running_or_notify_cancel():
                return task
        return None

    def _dispatch(self) -> None:
        with self._lock:
            for worker in self._workers:
                if worker.task is not None or not worker.process.is_alive():
                    continue
                task = self._next_task()
                if task is None:
                    return
                worker.task, worker.started = task, None
                try:
                    worker.conn.send((self._warm, task.fn, task.args, task.kwargs))
                except OSError:  # it died while starting: the task goes to the next worker
                    worker.task = None
                    self._retry.appendleft(task)

    def _collect(self, worker: _Worker) -> None:
        try:
            while worker.task is not None and worker.conn.poll():
                self._receive(worker, *worker.conn.recv())
        except (EOFError, OSError):
            return self._replace(worker, WorkerDied(_death(worker.process)))
        task = worker.task
        if not worker.process.is_alive():
            self._replace(worker, WorkerDied(_death(worker.process)))
        elif task is None:
            return
        elif task.stop_reason is not None:
            self._replace(worker, TaskTimeout(task.stop_reason, _ran(worker)))
        elif task.timeout is not None and _ran(worker) > task.timeout:
            self._replace(worker, timeout_error(task.timeout, _ran(worker)))

    def _receive(self, worker: _Worker, ok, value) -> None:
        if ok == _STARTED:
            worker.started, worker.proven = time.monotonic(), True
            self._failed_starts = 0
            return
        task, worker.task = worker.task, None
        if ok:
            settle(task.future, result=value)
        else:
            settle(task.future, error=RuntimeError(value))

    def _replace(self, worker: _Worker, error: Exception) -> None:
        task = worker.task
        _stop(worker)
        if not worker.proven:
            self._failed_starts += 1
        if self._failed_starts > MAX_FAILED_STARTS:
            self._give_up(f"worker processes keep dying as they start ({_death(worker.process)})")
        if self._broken is None and not self._closed:
            try:
                self._workers[self._workers.index(worker)] = self._spawn()
            except Exception as exc:  # noqa: BLE001 - the forkserver is gone
                self._give_up(f"worker processes cannot start: {type(exc).__name__}: {exc}")
        if task is None:
            return
        if worker.started is None and task.stop_reason is None and self._broken is None:
            with self._lock:
                self._retry.append(task)  # it never began: run it on the next worker
        else:
            settle(task.future, error=error)


def _ran(worker: _Worker) -> float:
    return 0.0 if worker.started is None else time.monotonic() - worker.started


def _stop(worker: _Worker) -> None:
    if worker.process.is_alive():
        worker.process.kill()
    worker.process.join(timeout=5)
    worker.conn.close()


def _death(process) -> str:
    process.join(timeout=1)
    code = process.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"worker killed by {name}{hint}"
    return f"worker exited with code {code}"


def make_executor(n_workers: int, cluster: str | None = None) -> TrialExecutor:
    """A local pool, or (with ``cluster``) a Dask distributed executor at that address."""
    if cluster:
        from automl.search.dask_executor import DaskExecutor

        return DaskExecutor(cluster)
    return LocalExecutor(n_workers)
