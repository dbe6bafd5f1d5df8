"""The contract every trial executor keeps: :class:`TrialExecutor`.

The search, the bagging check and the refit submit work to an executor and rely on this:

- ``submit(fn, *args, timeout=None, **kwargs)`` returns a ``concurrent.futures.Future`` that
  always resolves: with ``fn``'s result, with the exception it raised (a worker-side error may
  arrive as a ``RuntimeError`` naming it), with :class:`TaskTimeout`, or with an error saying
  the worker or the cluster was lost. No future is left pending once ``shutdown`` returns.
- ``timeout`` counts the task's own running time: the clock starts when a worker that holds
  the job's data begins the task, never while the task waits in a queue or its worker starts
  (a fresh process, a forkserver's imports, loading the data). Past it the future fails with
  :class:`TaskTimeout` and the worker's effort is abandoned.
- ``stop(future, reason)`` cancels a queued task or fails a running one with
  :class:`TaskTimeout` (``reason``); done futures are left alone.
- ``prepare_data(path)`` makes the pickled training data at ``path`` available to workers and
  returns the reference that tasks take in its place.
- ``n_workers`` is how many tasks run at once; ``broken`` turns true when no later task can run
  (a lost cluster), and stays so.
- One task failing, hanging or killing its worker fails only that task.

Thread safety: ``submit`` and ``stop`` may be called from any thread.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import Executor, Future
from dataclasses import dataclass


class TaskTimeout(Exception):
    """The task ran past its timeout, or was stopped; its worker's effort was abandoned.

    ``ran_s`` is how long the task had been running (0 if it never started); ``limit_s`` is the
    timeout it ran past, or ``None`` when :meth:`TrialExecutor.stop` ended it.
    """

    def __init__(self, message: str, ran_s: float = 0.0, limit_s: float | None = None):
        super().__init__(message)
        self.ran_s, self.limit_s = ran_s, limit_s


class WorkerDied(Exception):
    """The worker process running the task exited unexpectedly."""


def timeout_error(limit_s: float, ran_s: float) -> TaskTimeout:
    """The error of a task that ran past its ``limit_s``, in the executors' one wording."""
    return TaskTimeout(f"ran past its {limit_s:.0f} s limit", ran_s=ran_s, limit_s=limit_s)


@dataclass
class Task:
    """A submitted call and its future, as executors keep it while queued or running."""

    future: Future
    fn: object
    args: tuple
    kwargs: dict
    timeout: float | None


def settle(future: Future, result=None, error: Exception | None = None) -> None:
    """Resolve ``future`` with ``result`` or ``error`` unless it is done already (a cancel or
    a stop may win the race)."""
    if future.done():
        return
    try:
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
    except Exception:  # noqa: BLE001 - the race was lost after the check: nothing to report
        pass


class TrialExecutor(Executor, ABC):
    """A ``concurrent.futures.Executor`` with the contract of the module doc."""

    @property
    @abstractmethod
    def n_workers(self) -> int:
        """How many tasks can run at once."""

    @property
    def broken(self) -> bool:
        """True once no later task can run; the search then stops asking for trials."""
        return False

    @abstractmethod
    def prepare_data(self, data_ref: str) -> object:
        """Make the pickled training data at ``data_ref`` available to the workers; return the
        reference that tasks receive as an argument in its place."""

    @abstractmethod
    def submit(self, fn, /, *args, timeout: float | None = None, **kwargs) -> Future:
        """Queue ``fn(*args, **kwargs)``; ``timeout`` seconds of its own running at most."""

    @abstractmethod
    def stop(self, future: Future, reason: str) -> None:
        """Cancel ``future`` if queued; fail it with :class:`TaskTimeout` (``reason``) if running."""

    @abstractmethod
    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Fail or cancel what is queued or running and release the workers (or the client)."""
