"""Executors that run trials: a local pool of worker processes (default) or a Dask cluster.

:class:`LocalExecutor` is a ``concurrent.futures.Executor`` whose workers can be killed one at a
time, which the standard ``ProcessPoolExecutor`` cannot do: a task submitted with ``timeout=``
that runs past it has its worker killed and replaced, and its future raises
:class:`TaskTimeout`; a worker that dies (a crash, the kernel's out-of-memory killer) fails only
its own task with :class:`WorkerDied`. Each worker runs one task at a time, single-threaded.
Workers are forked from a forkserver that has the heavy modules imported already.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from collections import deque
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from automl.candidates.registry import preload_modules
from automl.search.tasks import Task as _Task
from automl.search.tasks import TaskTimeout, WorkerDied

_PRELOAD = ["automl.search._forkserver_boot", "automl.search.evaluate", *preload_modules(),
            "pandas"]
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _describe_main_for_forkserver() -> None:
    """Tell the forkserver (started on first use, inheriting the environment) which module is
    the main one here, so that its workers do not import it again: see ``_forkserver_boot``."""
    import json
    from multiprocessing import spawn

    data = spawn.get_preparation_data("automl-worker")
    os.environ["AUTOML_PARENT_MAIN"] = json.dumps(
        {"pid": os.getpid(), "path": data.get("init_main_from_path"),
         "name": data.get("init_main_from_name")})


@dataclass
class _Worker:
    process: mp.Process
    conn: object
    task: _Task | None = None
    started: float = field(default_factory=time.monotonic)


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
        fn, args, kwargs = message
        try:
            conn.send((True, fn(*args, **kwargs)))
        except BaseException as exc:  # report every failure to the parent, keep serving
            conn.send((False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"))


class LocalExecutor(Executor):
    """A pool of ``n_workers`` killable worker processes (see the module doc)."""

    def __init__(self, n_workers: int):
        _describe_main_for_forkserver()
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(_PRELOAD)
        self._n = n_workers
        self._queue: deque[_Task] = deque()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._wakeup_r, self._wakeup_w = self._ctx.Pipe(duplex=False)
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="automl-executor", daemon=True)
        self._thread.start()

    @property
    def n_workers(self) -> int:
        return self._n

    def prepare_data(self, data_ref: str) -> str:
        """A reference to the job's training data that workers can load: the local path itself."""
        return data_ref

    def submit(self, fn, /, *args, timeout: float | None = None, **kwargs) -> Future:
        """Queue ``fn(*args, **kwargs)``; with ``timeout`` (seconds of running) it is killed past it."""
        if self._closed:
            raise RuntimeError("executor is shut down")
        future: Future = Future()
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
            for worker in self._workers:
                if worker.task is not None and worker.task.future is future:
                    worker.task.stop_reason = reason
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

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child,), daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def _loop(self) -> None:
        # Workers start here, off the caller's thread: the forkserver's imports take seconds.
        for _ in range(self._n):
            if not self._closed:
                self._workers.append(self._spawn())
        while not self._closed:
            self._dispatch()
            busy = [w for w in self._workers if w.task is not None]
            handles = [self._wakeup_r] + [w.conn for w in busy] + [w.process.sentinel for w in busy]
            for ready in wait(handles, timeout=0.1):
                if ready is self._wakeup_r:
                    self._wakeup_r.recv()
            for worker in busy:
                self._collect(worker)
        for worker in self._workers:
            if worker.task is not None and not worker.task.future.done():
                worker.task.future.set_exception(TaskTimeout("executor shut down"))
            _stop(worker)

    def _dispatch(self) -> None:
        with self._lock:
            for worker in self._workers:
                while worker.task is None and self._queue:
                    task = self._queue.popleft()
                    if not task.future.set_running_or_notify_cancel():
                        continue
                    worker.task, worker.started = task, time.monotonic()
                    worker.conn.send((task.fn, task.args, task.kwargs))

    def _collect(self, worker: _Worker) -> None:
        task = worker.task
        if worker.conn.poll():
            try:
                ok, value = worker.conn.recv()
            except (EOFError, OSError):
                return self._replace(worker, WorkerDied(_death(worker.process)))
            worker.task = None
            if ok:
                task.future.set_result(value)
            else:
                task.future.set_exception(RuntimeError(value))
        elif not worker.process.is_alive():
            self._replace(worker, WorkerDied(_death(worker.process)))
        elif task.stop_reason is not None:
            self._replace(worker, TaskTimeout(task.stop_reason))
        elif task.timeout is not None and time.monotonic() - worker.started > task.timeout:
            self._replace(worker, TaskTimeout(f"ran past its {task.timeout:.0f} s limit"))

    def _replace(self, worker: _Worker, error: Exception) -> None:
        task = worker.task
        _stop(worker)
        index = self._workers.index(worker)
        self._workers[index] = self._spawn()
        if task is not None and not task.future.done():
            task.future.set_exception(error)


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


def make_executor(n_workers: int, cluster: str | None = None) -> Executor:
    """A local pool, or (with ``cluster``) a Dask distributed executor at that address."""
    if cluster:
        from automl.search.dask_executor import DaskExecutor

        return DaskExecutor(cluster)
    return LocalExecutor(n_workers)
