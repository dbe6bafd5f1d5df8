"""``automl serve``: the whole service as processes: gunicorn for ``web.wsgi:app`` and one job
runner, sharing the database and data dir given by one :class:`ServiceSettings`.

The settings are resolved here, once, and handed to the children as ``AUTOML_*`` variables.
When either child dies, the other is stopped and ``serve`` returns non-zero; when ``serve``
itself dies (even by kill -9), the kernel stops both children (see :func:`die_with_parent`).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from automl.endpoint_metrics import MULTIPROC_ENV
from automl.service_config import ServiceSettings, resolve_service_settings
from automl.store import JobStore

PR_SET_PDEATHSIG = 1


UNIX_PATH_MAX = 107  # bytes of a Unix socket's path (sun_path, less its terminating NUL)


def gunicorn_command(s: ServiceSettings) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "web.wsgi:app", "--bind", f"{s.host}:{s.port}",
            "--workers", str(s.workers), "--worker-class", "gthread", "--threads", "8",
            "--timeout", "120", "--graceful-timeout", "5", "--access-logfile", "-",
            *control_socket_options(s.data_dir)]


def control_socket_options(data_dir: str) -> list[str]:
    """gunicorn's control socket (gunicorn >= 25.1, ``gunicornc -s PATH``) in the service's own
    ``run/`` directory: its default, ``~/.gunicorn/gunicorn.ctl``, is one path for every service
    of the user, so each start took it from the one before and each stop removed it for all.
    None when the path would be too long for a Unix socket."""
    from gunicorn.config import KNOWN_SETTINGS

    if not any(setting.name == "control_socket" for setting in KNOWN_SETTINGS):
        return []
    path = Path(data_dir).resolve() / "run" / "gunicorn.ctl"
    if len(os.fsencode(path)) > UNIX_PATH_MAX:
        return ["--no-control-socket"]
    return ["--control-socket", str(path)]


def runner_command() -> list[str]:
    return [sys.executable, "-m", "automl.jobs.runner"]


def serve(args: argparse.Namespace) -> int:
    """Start the web server and the job runner; wait until a signal or a child ends."""
    settings = resolve_service_settings(host=args.host, port=args.port, workers=args.workers,
                                        data_dir=args.data_dir)
    os.makedirs(settings.data_dir, exist_ok=True)
    store = JobStore(settings.db_url)
    store.create_schema()
    store.dispose()
    env = {**os.environ, **settings.to_env(), "AUTOML_SERVE_PID": str(os.getpid()),
           MULTIPROC_ENV: metrics_dir(settings.data_dir)}
    die_with_me = die_with_parent(os.getpid())
    children = [subprocess.Popen(runner_command(), env=env, preexec_fn=die_with_me),
                subprocess.Popen(gunicorn_command(settings), env=env, preexec_fn=die_with_me)]
    print(f"automl serving on http://{settings.host}:{settings.port} "
          f"(data in {settings.data_dir})", file=sys.stderr, flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    while not stopping and all(c.poll() is None for c in children):
        time.sleep(0.3)
    return _stop(children, bool(stopping))


def metrics_dir(data_dir: str) -> str:
    """An empty directory for the workers' Prometheus files (prometheus_client's multiprocess
    mode): the counters start from zero with every start of the service."""
    path = Path(data_dir) / "run" / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return str(path)


def die_with_parent(parent: int):
    """A ``preexec_fn`` that has the kernel send SIGTERM to the child when ``serve`` dies, even
    by kill -9 (Linux ``PR_SET_PDEATHSIG``): gunicorn then shuts down and frees the port, and
    the runner stops its jobs. Elsewhere the runner still notices on its own; gunicorn does not."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # serve died before the line above ran
            os.kill(os.getpid(), signal.SIGTERM)
    return arm


def _stop(children: list[subprocess.Popen], asked: bool) -> int:
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.time() + 10
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            child.kill()
    return 0 if asked else 1
