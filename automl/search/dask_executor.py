"""Trials on a Dask distributed cluster, behind the same interface as :class:`LocalExecutor`.

:class:`DaskExecutor` is a ``concurrent.futures.Executor`` over ``distributed.Client(address)``.
Its futures are plain ``concurrent.futures.Future`` objects that always resolve, whatever
happens to the cluster, so the search loop never waits forever:

- a task submitted with ``timeout=`` that is still unfinished that many seconds after a
  worker began it (the worker reports the start on an event topic of this executor's, once
  the job's data is resolved) fails with :class:`TaskTimeout` and is cancelled on the cluster
  (Dask cannot stop a running Python thread: the worker finishes the call and drops the
  result; trials also check their own limit between folds);
- a worker that dies mid-task: the scheduler runs the task again on another worker (up to
  ``distributed.scheduler.allowed-failures`` times), then the future fails with Dask's
  ``KilledWorker``;
- a scheduler that is lost: the client's futures are cancelled, the client tries to reconnect
  for ``connect_timeout`` seconds, then every queued and running future fails with
  :class:`ClusterLost` and :attr:`DaskExecutor.broken` turns true.

At most ``max_in_flight`` tasks (default: the cluster's worker threads when the executor
started) are on the cluster at once; the rest wait here, so jobs sharing a cluster each keep
their share. The job's training data is sent once to every worker (also to workers that join
later) and stays in its memory until ``shutdown``, which removes it and closes the client; the
executor never stops the scheduler or the workers.
"""

from __future__ import annotations

import pickle
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field

from distributed import Client, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from automl.exceptions import ConfigError
from automl.search.executor_base import Task, TaskTimeout, TrialExecutor, settle, timeout_error

_POLL_S = 0.05
_GATHER_TIMEOUT_S = 60.0


class ClusterUnavailable(ConfigError):
    """The Dask scheduler cannot be reached, or has no workers, when a job starts.

    Keeps :class:`ConfigError`'s code (``invalid_config``): the address is a setting to fix.
    """


class ClusterLost(Exception):
    """The connection to the Dask scheduler was lost while the task was queued or running."""


@dataclass(frozen=True)
class DataRef:
    """A job's training data held in every worker's memory under ``token``."""

    token: str


class _DataPlugin(WorkerPlugin):
    """Unpickles a job's training data into the worker process when the worker sets it up."""

    def __init__(self, token: str, payload: bytes):
        self.token, self.payload = token, payload

    def setup(self, worker) -> None:
        _WORKER_DATA[self.token] = pickle.loads(self.payload)

    def teardown(self, worker) -> None:
        _WORKER_DATA.pop(self.token, None)


_WORKER_DATA: dict[str, object] = {}


def _call(fn, args: tuple, kwargs: dict, topic: str):
    """Run on a worker: ``fn`` with every :class:`DataRef` argument replaced by its data; its
    start is reported on ``topic`` (the task's clock starts then)."""
    args = tuple(_local(a) for a in args)
    kwargs = {k: _local(v) for k, v in kwargs.items()}
    worker = get_worker()
    worker.log_event(topic, str(worker.get_current_task()))
    return fn(*args, **kwargs)


def _local(value):
    if not isinstance(value, DataRef):
        return value
    if value.token not in _WORKER_DATA:
        raise RuntimeError(f"training data {value.token} is not on this worker")
    return _WORKER_DATA[value.token]


def _name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


@dataclass
class _Task(Task):
    """A queued or running task, its Dask future, and when a worker began it."""

    remote: object = None
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float | None = None


class DaskExecutor(TrialExecutor):
    """Run tasks on the Dask cluster whose scheduler listens at ``address`` (see the module doc).

    ``address`` is ``tcp://HOST:PORT``. The constructor connects (raising
    :class:`ClusterUnavailable` naming the address if the scheduler does not answer within
    ``connect_timeout`` seconds or has no worker) and starts a monitor thread. Thread safety:
    ``submit`` may be called from any thread.
    """

    def __init__(self, address: str, max_in_flight: int | None = None,
                 connect_timeout: float = 5.0):
        self.address = address
        self._client = _connect(address, connect_timeout)
        self._threads = _worker_threads(self._client)
        self._cap = max(1, max_in_flight or self._threads)
        self._grace = connect_timeout
        self._queue: deque[_Task] = deque()
        self._running: list[_Task] = []
        self._data: list = []
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._closed = False
        self._lost: str | None = None
        self._down_since: float | None = None
        self._topic = f"automl-started-{uuid.uuid4().hex}"
        self._client.subscribe_topic(self._topic, self._on_started)
        self._thread = threading.Thread(target=self._loop, name="automl-dask", daemon=True)
        self._thread.start()

    @property
    def n_workers(self) -> int:
        """Worker threads on the cluster when the executor started: trials that can run at once."""
        return self._threads

    @property
    def max_in_flight(self) -> int:
        """How many of this executor's tasks may be on the cluster at once."""
        return self._cap

    @property
    def broken(self) -> bool:
        """True once the scheduler is lost: every later ``submit`` fails at once."""
        return self._lost is not None

    def prepare_data(self, data_ref: str) -> DataRef:
        """Copy the pickled training data at ``data_ref`` into every worker's memory, once.

        The bytes travel in a worker plugin, so workers that join later get them too and
        Dask's memory manager never drops or moves them between trials. Returns a
        :class:`DataRef`; a task given it as an argument receives the unpickled object.
        """
        ref = DataRef(f"automl-data-{uuid.uuid4().hex}")
        with open(data_ref, "rb") as fh:
            self._client.register_plugin(_DataPlugin(ref.token, fh.read()), name=ref.token)
        self._data.append(ref)
        return ref

    def submit(self, fn, /, *args, timeout: float | None = None, **kwargs) -> Future:
        """Queue ``fn(*args, **kwargs)`` for the cluster; past ``timeout`` s it fails (module doc)."""
        if self._closed:
            raise RuntimeError("executor is shut down")
        future: Future = Future()
        if self._lost is not None:
            future.set_exception(ClusterLost(self._lost))
            return future
        with self._lock:
            self._queue.append(_Task(future, fn, args, kwargs, timeout))
        self._wakeup.set()
        return future

    def stop(self, future: Future, reason: str) -> None:
        """Cancel ``future`` if queued; if it is on the cluster, fail it with
        :class:`TaskTimeout` (``reason``) and cancel it there."""
        if future.cancel():
            return
        with self._lock:
            task = next((t for t in self._running if t.future is future), None)
            if task is not None:
                self._running.remove(task)
        if task is not None:
            settle(task.future, error=TaskTimeout(reason, _ran(task)))
            self._client.cancel([task.remote], force=True)

    def _on_started(self, event) -> None:
        _, key = event
        now = time.monotonic()
        with self._lock:
            for task in self._running:
                if task.remote is not None and task.remote.key == key:
                    task.started = now

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Fail and cancel what is still queued or running, remove the job's data from the
        workers, and close the client (never the cluster). ``wait`` is not needed: nothing
        of this executor's runs here."""
        if self._closed:
            return
        self._closed = True
        self._wakeup.set()
        self._thread.join(timeout=5)
        remotes = [t.remote for t in self._running if t.remote is not None]
        self._fail_all(RuntimeError("executor shut down"))
        try:
            if self._client.status == "running":
                if remotes:
                    self._client.cancel(remotes, force=True)
                for ref in self._data:
                    self._client.unregister_worker_plugin(ref.token)
        except Exception:  # the scheduler may be gone already; closing is all that is left
            pass
        self._client.close(timeout=self._grace)

    def _loop(self) -> None:
        while not self._closed:
            self._wakeup.wait(_POLL_S)
            self._wakeup.clear()
            try:
                self._check_connection()
                self._collect()
                self._expire()
                self._dispatch()
            except Exception as exc:  # never let the monitor die: fail everything instead
                self._give_up(f"Dask executor error: {type(exc).__name__}: {exc}")

    def _check_connection(self) -> None:
        status = self._client.status
        if status == "running":
            self._down_since = None
            return
        if self._down_since is None:
            self._down_since = time.monotonic()
        if status in ("closing", "closed") or time.monotonic() - self._down_since > 2 * self._grace:
            self._give_up(f"lost the connection to the Dask scheduler at {self.address}")

    def _give_up(self, reason: str) -> None:
        self._lost = self._lost or reason
        self._fail_all(ClusterLost(self._lost))

    def _fail_all(self, error: Exception) -> None:
        with self._lock:
            tasks = list(self._queue) + self._running
            self._queue.clear()
            self._running = []
        for task in tasks:
            settle(task.future, error=error)

    def _dispatch(self) -> None:
        if self._lost is not None or self._client.status != "running":
            return
        while True:
            with self._lock:
                if len(self._running) >= self._cap or not self._queue:
                    return
                task = self._queue.popleft()
            if not task.future.set_running_or_notify_cancel():
                continue
            task.remote = self._client.submit(_call, task.fn, task.args, task.kwargs,
                                              self._topic, key=f"{_name(task.fn)}-{task.key}",
                                              pure=False, retries=1)
            with self._lock:
                self._running.append(task)

    def _collect(self) -> None:
        with self._lock:
            done = [t for t in self._running if t.remote.done()]
            self._running = [t for t in self._running if t not in done]
        for task in done:
            _resolve(task)

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            late = [t for t in self._running if t.timeout is not None
                    and t.started is not None and now - t.started > t.timeout]
            self._running = [t for t in self._running if t not in late]
        for task in late:
            settle(task.future, error=timeout_error(task.timeout, _ran(task)))
            self._client.cancel([task.remote], force=True)


def _ran(task: _Task) -> float:
    return 0.0 if task.started is None else time.monotonic() - task.started


def _connect(address: str, timeout: float) -> Client:
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterUnavailable(
            f"cannot reach the Dask scheduler at {address} within {timeout:.0f} s: {exc}; "
            "check the address (tcp://HOST:PORT) and that `dask scheduler` is running there",
            {"address": address},
        ) from exc
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        client.close()
        raise ClusterUnavailable(
            f"the Dask scheduler at {address} has no workers; start some with "
            f"`dask worker {address} --nthreads 1`", {"address": address},
        ) from exc
    return client


def _worker_threads(client) -> int:
    return max(1, sum(client.nthreads().values()))


def _resolve(task: _Task) -> None:
    remote = task.remote
    status = remote.status
    try:
        if status == "finished":
            return settle(task.future, result=remote.result(timeout=_GATHER_TIMEOUT_S))
        if status == "cancelled":
            return settle(task.future, error=ClusterLost("task cancelled on the Dask cluster "
                                                          "(scheduler connection lost?)"))
        error = remote.exception(timeout=_GATHER_TIMEOUT_S)
    except Exception as exc:  # gathering itself failed: the worker or scheduler went away
        error = exc
    settle(task.future, error=_describe(error))


def _describe(error: BaseException) -> Exception:
    name = type(error).__name__
    if name == "KilledWorker":
        return RuntimeError(f"worker died while running the trial (Dask KilledWorker: {error})")
    if isinstance(error, Exception):
        return error
    return RuntimeError(f"{name}: {error}")
