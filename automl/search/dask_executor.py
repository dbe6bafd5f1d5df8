"""Trials on a Dask distributed cluster, behind the same interface as :class:`LocalExecutor`.

:class:`DaskExecutor` is a ``concurrent.futures.Executor`` over ``distributed.Client(address)``.
Its futures are plain ``concurrent.futures.Future`` objects that always resolve, whatever
happens to the cluster, so the search loop never waits forever:

- a task submitted with ``timeout=`` that is still unfinished that many seconds after it was
  sent to the cluster fails with :class:`TaskTimeout` and is cancelled on the cluster (Dask
  cannot stop a running Python thread: the worker finishes the call and drops the result;
  trials also check their own deadline between folds);
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
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field

from distributed import Client
from distributed.diagnostics.plugin import WorkerPlugin

from automl.exceptions import ConfigError
from automl.search.tasks import Task as _LocalTask
from automl.search.tasks import TaskTimeout

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


def _call(fn, args: tuple, kwargs: dict):
    """Run on a worker: ``fn`` with every :class:`DataRef` argument replaced by its data."""
    args = tuple(_local(a) for a in args)
    kwargs = {k: _local(v) for k, v in kwargs.items()}
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
class _Task(_LocalTask):
    """A local task plus its Dask future and when it was sent to the cluster."""

    remote: object = None
    sent: float = field(default_factory=time.monotonic)


class DaskExecutor(Executor):
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
            _settle(task.future, error=error)

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
                                              key=f"{_name(task.fn)}-{uuid.uuid4().hex}",
                                              pure=False, retries=1)
            task.sent = time.monotonic()
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
            late = [t for t in self._running
                    if t.timeout is not None and now - t.sent > t.timeout]
            self._running = [t for t in self._running if t not in late]
        for task in late:
            _settle(task.future, error=TaskTimeout(f"ran past its {task.timeout:.0f} s limit"))
            self._client.cancel([task.remote], force=True)


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
            return _settle(task.future, result=remote.result(timeout=_GATHER_TIMEOUT_S))
        if status == "cancelled":
            return _settle(task.future, error=ClusterLost("task cancelled on the Dask cluster "
                                                          "(scheduler connection lost?)"))
        error = remote.exception(timeout=_GATHER_TIMEOUT_S)
    except Exception as exc:  # gathering itself failed: the worker or scheduler went away
        error = exc
    _settle(task.future, error=_describe(error))


def _describe(error: BaseException) -> Exception:
    name = type(error).__name__
    if name == "KilledWorker":
        return RuntimeError(f"worker died while running the trial (Dask KilledWorker: {error})")
    if isinstance(error, Exception):
        return error
    return RuntimeError(f"{name}: {error}")


def _settle(future: Future, result=None, error: Exception | None = None) -> None:
    if future.done():
        return
    try:
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
    except Exception:  # a concurrent cancel won the race; nothing left to report
        pass
