"""When a shadow may run: no production answer in flight, and a core no other work wants.

A service's web workers mark each invocation they are answering on an :class:`InFlight` board:
a small file (``<data dir>/run/in-flight``) of :data:`SLOTS` 64-bit words, mapped into every
process that uses it. A worker owns the slot at its pid modulo :data:`SLOTS` and writes its pid
there while any of its threads is answering, 0 otherwise; only its own threads write it, under
a lock of the process, and an aligned word is written whole, so no lock spans processes. The
shadow process reads the board before each copy (:meth:`InFlight.busy`) and waits while any
live worker is answering (a slot left set by a killed worker is cleared): a shadow answer then
never runs beside a production answer, so it can neither take a core production wants nor fill
the caches production uses. While other programs take every core (:func:`cores_taken`) it
answers one copy a second at most. The price: under continuous traffic or on a busy machine
copies wait, and those that no longer fit the shadow's queue are dropped and counted.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import threading
from pathlib import Path

import numpy as np

SLOTS = 4096
WORD = 8


def board_path(data_dir: str | Path) -> Path:
    """The in-flight board of the service whose data directory is ``data_dir``."""
    return Path(data_dir) / "run" / "in-flight"


class InFlight:
    """One process's view of the board at ``path`` (created when missing). Fork-safe: a
    process maps the file the first time it uses it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._pid: int | None = None
        self._words: np.ndarray | None = None
        self._count = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def serving(self):
        """Mark this process as answering a production request for the ``with`` block."""
        words, pid = self._mapped()
        slot = pid % SLOTS
        with self._lock:
            self._count += 1
            words[slot] = pid
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1
                if self._count == 0:
                    words[slot] = 0

    def busy(self) -> bool:
        """Whether a live process is answering a production request now."""
        words, _ = self._mapped()
        for slot in np.flatnonzero(words):
            pid = int(words[slot])
            if _alive(pid):
                return True
            if words[slot] == pid:  # killed while answering: its slot stays set
                words[slot] = 0
        return False

    def _mapped(self) -> tuple[np.ndarray, int]:
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    self._words, self._count, self._pid = _map(self.path), 0, pid
        return self._words, pid


def _map(path: Path) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_size < SLOTS * WORD:
            os.ftruncate(fd, SLOTS * WORD)  # zeros; a file another process made is kept
        shared = mmap.mmap(fd, SLOTS * WORD)
    finally:
        os.close(fd)
    return np.frombuffer(shared, dtype=np.uint64)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process took the pid: not one of ours
        return False
    return True


def cores_taken() -> bool:
    """Whether other runnable threads take every core now (``/proc/loadavg``'s running count,
    less the caller). False where that cannot be read."""
    try:
        with open("/proc/loadavg") as fh:
            running = int(fh.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return False
    return running - 1 >= (os.cpu_count() or 1)
