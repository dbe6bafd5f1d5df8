"""What every executor shares: a queued task and the two ways a task fails besides its own error."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass


class TaskTimeout(Exception):
    """The task ran past its timeout; its worker was killed."""


class WorkerDied(Exception):
    """The worker process running the task exited unexpectedly."""


@dataclass
class Task:
    """A submitted call, its future and time limit, waiting for or running on a worker."""

    future: Future
    fn: object
    args: tuple
    kwargs: dict
    timeout: float | None
    stop_reason: str | None = None  # set by stop(): the worker is killed at the next check
