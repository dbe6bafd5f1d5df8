"""Shadow copies answered in a process of their own, at the lowest CPU priority.

A production worker hands each copy to :class:`ShadowClient`: one non-blocking ``sendmsg`` of
one datagram on a UNIX socket (the request bytes, their content type, the inference id, the
production answer and the shadow's bundle path), and nothing else. The socket's name is
abstract (Linux: no file to leave behind) and derived from the data directory, so every worker
of one service reaches the same shadow process. When the socket is full the copy is dropped and
counted; when nobody listens (not started yet, or killed) it is dropped and counted too, and the
client starts a shadow process (at most one every :data:`SPAWN_INTERVAL_S` per worker; a second
one exits at once because the name is taken).

The shadow process (:class:`ShadowServer`) loads the model its first copy names, then runs under
``SCHED_IDLE`` (``nice 19`` where that is refused). A reader thread moves datagrams into a
bounded queue (:data:`SHADOW_QUEUE`; when full the copy is dropped and counted); the main thread
answers them with :func:`~automl.serving.variants.answer_shadow`, each only once no production
request has been in flight for :data:`QUIET_S` (:mod:`automl.serving.inflight`: the workers
mark their answers on a shared board), and while other programs take every core only one a
second, loading each bundle the first time a copy names its path (so a change of the
endpoint's shadow is followed on its next copy). It exits when the worker that started it is
gone or after :data:`IDLE_EXIT_S` without a copy; the next copy starts another.

Chosen by measurement (``benchmarks/shadow_handoff.py``): a datagram costs the sender about the
CPU of a pipe write and half that of a ``multiprocessing.Queue`` (whose feeder thread pickles in
the worker), keeps message boundaries between many writers (a pipe does only up to 4 KiB), and
survives a kill -9 of the reader (a queue's lock held by a killed reader blocks it forever).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import socket
import struct
import subprocess
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from automl.model.bundle import ModelBundle
from automl.serving.inflight import InFlight
from automl.serving.invocation import Response
from automl.serving.variants import SHADOW_QUEUE, ShadowResult, Variant, answer_shadow

log = logging.getLogger(__name__)

SPAWN_INTERVAL_S = 2.0
IDLE_EXIT_S = 600.0
SEND_BUFFER = 8 << 20
"""Bytes of copies a worker may have in flight (the kernel caps it at ``net.core.wmem_max``);
a copy larger than what one datagram can carry is dropped and counted."""
BUNDLES = 8
QUIET_S = 0.003
"""How long no production request must have been in flight before the shadow starts a copy:
between back-to-back requests a client's turnaround leaves gaps of a fraction of a
millisecond, and a copy started in one ran on beside the next request (``variants.py``, quiet:
back-to-back p99 1.16x the solo endpoint's when copies started in any gap)."""
QUIET_POLL_S = 0.001
"""How often a waiting shadow looks again whether production is answering."""
CROWDED_INTERVAL_S = 1.0
"""While other programs take every core, the shadow answers one copy per this many seconds."""
MAX_DATAGRAM = 16 << 20
"""Larger than any datagram the kernel lets a worker send (a 6 MiB body, ``SEND_BUFFER``)."""
_PREFIX = struct.Struct("!I")


def address(data_dir: str) -> str:
    """The abstract socket name of the service whose data directory is ``data_dir``."""
    digest = hashlib.sha256(os.path.realpath(data_dir).encode()).hexdigest()[:24]
    return f"\0automl-shadow-{digest}"


@dataclass(frozen=True)
class Copy:
    """One copied request as the shadow process receives it."""

    endpoint: str
    variant: str
    source: str
    body: bytes
    content_type: str | None
    production: Response
    inference_id: str


def encode(endpoint: str, shadow: Variant, body: bytes, content_type: str | None,
           production: Response, inference_id: str) -> list[bytes]:
    """The pieces of one datagram (sent with scatter-gather: the bodies are not copied)."""
    header = json.dumps([endpoint, shadow.name, shadow.source, content_type, inference_id,
                         production.status, production.content_type, len(body)]).encode()
    return [_PREFIX.pack(len(header)), header, body, production.body]


def decode(datagram: bytes) -> Copy:
    """The copy :func:`encode` sent."""
    (size,) = _PREFIX.unpack_from(datagram)
    start = _PREFIX.size + size
    (endpoint, variant, source, content_type, inference_id, status, answer_type,
     length) = json.loads(datagram[_PREFIX.size:start])
    body = datagram[start:start + length]
    answer = Response(status, datagram[start + length:], answer_type)
    return Copy(endpoint, variant, source, body, content_type, answer, inference_id)


class ShadowClient:
    """What a production worker hands copies to: same interface as
    :class:`~automl.serving.variants.ShadowRunner`. Fork-safe (a socket per process)."""

    def __init__(self, name: str, command: list[str],
                 on_drop: Callable[[str, str], None] = lambda endpoint, variant: None,
                 board: InFlight | None = None):
        self.name, self.command, self.on_drop, self.board = name, command, on_drop, board
        self._sock: socket.socket | None = None
        self._pid: int | None = None
        self._child: subprocess.Popen | None = None
        self._spawned_at = -SPAWN_INTERVAL_S
        self._lock = threading.Lock()

    def serving(self):
        """Mark a production request in flight on the board the shadow process reads."""
        return _NOTHING if self.board is None else self.board.serving()

    def submit(self, endpoint: str, shadow: Variant, body: bytes, content_type: str | None,
               production: Response, inference_id: str = "") -> bool:
        """Send one copy without waiting; ``False`` (and ``on_drop``) when it was dropped."""
        try:
            self._socket().sendmsg(encode(endpoint, shadow, body, content_type, production,
                                          inference_id), [], socket.MSG_DONTWAIT, self.name)
            return True
        except BlockingIOError:  # the shadow process is behind: its socket is full
            pass
        except (ConnectionRefusedError, FileNotFoundError):  # nobody listens: start it
            self.start()
        except OSError as exc:  # EMSGSIZE: larger than one datagram
            log.warning("shadow copy of %s not sent (%d bytes): %s", endpoint, len(body), exc)
        self.on_drop(endpoint, shadow.name)
        return False

    def start(self) -> None:
        """Start a shadow process in the background unless this worker started one lately or
        its last one is still alive (it may still be loading)."""
        with self._lock:
            now = time.monotonic()
            if now - self._spawned_at < SPAWN_INTERVAL_S or \
                    (self._child is not None and self._child.poll() is None):
                return
            self._spawned_at = now
        threading.Thread(target=self._spawn, daemon=True, name="shadow-spawn").start()

    def _spawn(self) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        try:
            child = subprocess.Popen([*self.command, "--parent", str(os.getpid())], env=env,
                                     stdin=subprocess.DEVNULL)
        except OSError:
            log.exception("cannot start the shadow process")
            return
        with self._lock:
            self._child = child

    def drain(self, timeout: float = 10.0) -> bool:
        """Nothing to wait for in this process (the shadow's counts say what it answered)."""
        return True

    def _socket(self) -> socket.socket:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
                    self._sock, self._pid = sock, os.getpid()
                    self._child = None
        return self._sock


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NOTHING = _Nothing()


def lowest_priority() -> str:
    """Run this process (and the threads it starts later) only on otherwise idle cores: in a
    CPU group of its own at the lowest share (:func:`own_cpu_group`), under ``SCHED_IDLE``."""
    group = own_cpu_group()
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        policy = "SCHED_IDLE"
    except (AttributeError, OSError):
        os.nice(19 - os.nice(0))
        policy = "nice 19"
    return f"{policy}, {group}" if group else policy


def own_cpu_group() -> str:
    """Leave the workers' CPU group: a session of its own, whose autogroup gets nice 19.

    With autogroup scheduling (Linux's default for desktops and many servers) CPU is first
    shared between sessions, and only then between a session's processes. In the workers'
    session the shadow, even at ``SCHED_IDLE``, spends the service's share whenever the workers
    wait for a request, so beside other busy programs each woken worker waited longer for a core
    (``benchmarks/variants.py`` beside two CPU-bound processes: p99 1.08-1.13x). Where
    autogroups are off (a service in a cgroup of its own), ``SCHED_IDLE`` is what remains.
    Returns what was done, or ``""``.
    """
    with contextlib.suppress(OSError):  # already a session leader: its group is its own
        os.setsid()
    try:
        with open("/proc/self/autogroup", "w") as group:
            group.write("19")
    except OSError:  # no autogroups (or not Linux)
        return ""
    return "own autogroup, nice 19"


def bind(name: str) -> socket.socket | None:
    """The shadow process's socket, or None when another shadow process holds the name."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(name)
    except OSError:
        sock.close()
        return None
    return sock


class ShadowServer:
    """The shadow process's loop: receive copies, answer them, hand each result on."""

    def __init__(self, sock: socket.socket, loader: Callable[[str], ModelBundle],
                 on_result: Callable[[ShadowResult], None],
                 on_drop: Callable[[str, str], None], parent: int | None = None,
                 size: int = SHADOW_QUEUE, idle_exit: float = IDLE_EXIT_S,
                 busy: Callable[[], bool] = lambda: False,
                 crowded: Callable[[], bool] = lambda: False):
        self.sock, self.loader, self.on_result, self.on_drop = sock, loader, on_result, on_drop
        self.parent, self.idle_exit, self.busy, self.crowded = parent, idle_exit, busy, crowded
        self._crowded_at = -CROWDED_INTERVAL_S
        self.copies: queue.Queue = queue.Queue(size)
        self._bundles: OrderedDict[str, ModelBundle] = OrderedDict()
        self._first: bytes | None = None

    def start_receiving(self) -> None:
        """Start the reader thread."""
        threading.Thread(target=self._receive, daemon=True, name="shadow-receive").start()

    def _receive(self) -> None:
        buffer = memoryview(bytearray(MAX_DATAGRAM))  # recv(n) would allocate n bytes each time
        while True:
            datagram = bytes(buffer[:self.sock.recv_into(buffer)])
            try:
                self.copies.put_nowait(datagram)
            except queue.Full:
                copy = decode(datagram)
                self.on_drop(copy.endpoint, copy.variant)

    def warm(self) -> bool:
        """Load the model the first copy names (wait at most ``idle_exit`` s for it), so that
        it loads at the priority the process started with; False when no copy came."""
        try:
            self._first = self.copies.get(timeout=self.idle_exit)
        except queue.Empty:
            return False
        with contextlib.suppress(Exception):  # answering it says what was wrong
            self.bundle(decode(self._first).source)
        return True

    def run(self) -> None:
        """Answer copies, each after :data:`QUIET_S` without a production request in flight,
        until the parent worker is gone or none came for ``idle_exit`` s."""
        last = time.monotonic()
        while time.monotonic() - last < self.idle_exit and self._parent_alive():
            datagram, self._first = self._first, None
            try:
                datagram = datagram or self.copies.get(timeout=1.0)
            except queue.Empty:
                continue
            if self._wait_quiet():
                self.answer(decode(datagram))
            last = time.monotonic()

    def _room(self) -> bool:
        """Whether the machine has room for a copy: yes unless ``crowded()`` (other programs
        take every core), and then once per :data:`CROWDED_INTERVAL_S`, so that the shadow
        still shows signs of life there."""
        if not self.crowded():
            return True
        now = time.monotonic()
        if now - self._crowded_at < CROWDED_INTERVAL_S:
            return False
        self._crowded_at = now
        return True

    def _wait_quiet(self) -> bool:
        """Wait until ``busy()`` has been false for :data:`QUIET_S` (polled every
        :data:`QUIET_POLL_S`) and the machine has :meth:`_room`; False when the parent worker
        went meanwhile."""
        checked, quiet_since = time.monotonic(), None
        while True:
            now = time.monotonic()
            quiet_since = None if self.busy() else quiet_since or now
            if quiet_since is not None and now - quiet_since >= QUIET_S and self._room():
                return True
            time.sleep(QUIET_POLL_S)
            if now - checked > 1.0:
                if not self._parent_alive():
                    return False
                checked = now

    def _parent_alive(self) -> bool:
        return self.parent is None or os.getppid() == self.parent

    def answer(self, copy: Copy) -> None:
        try:
            shadow = Variant(copy.variant, 1.0, self.bundle(copy.source), copy.source)
            self.on_result(answer_shadow(copy.endpoint, shadow, copy.body, copy.content_type,
                                         copy.production, copy.inference_id))
        except Exception:  # noqa: BLE001 - one bad copy never stops the shadow process
            log.exception("shadow variant %s of %s failed", copy.variant, copy.endpoint)

    def bundle(self, path: str) -> ModelBundle:
        """The bundle at ``path``, kept among the :data:`BUNDLES` used last."""
        found = self._bundles.pop(path, None) or self.loader(path)
        self._bundles[path] = found
        while len(self._bundles) > BUNDLES:
            self._bundles.popitem(last=False)
        return found
