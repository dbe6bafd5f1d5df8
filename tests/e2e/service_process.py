"""Start and kill a real ``automl serve`` (gunicorn + runner) for whole-system tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    """``automl serve`` in its own process group, so that a test can kill -9 all of it."""

    def __init__(self, data_dir: Path, port: int | None = None, env: dict | None = None):
        self.data_dir, self.port = data_dir, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ}
        self.env.pop("AUTOML_DATABASE_URL", None)  # SQLite in the data dir unless env says
        self.env.update(env or {})
        self.proc: subprocess.Popen | None = None
        self.log = data_dir.parent / f"serve-{self.port}.log"

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        cmd = [sys.executable, "-m", "automl.cli", "serve", "--port", str(self.port),
               "--data-dir", str(self.data_dir), "--workers", "2"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"automl serve exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/ping", timeout=3).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"automl serve did not answer in {timeout} s")

    def kill9(self) -> None:
        """SIGKILL the whole process group: server, runner, job processes."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()
        if self.proc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return requests.post(self.url + path, timeout=30, **kw)

    def wait_for(self, job_id: str, predicate, timeout: float) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            job = self.get(f"/api/v1/jobs/{job_id}").json()
            if predicate(job):
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not reach the state in {timeout} s: {job}")


class ModelServer:
    """``automl serve-model BUNDLE`` (real gunicorn) in its own process group, on a free port."""

    def __init__(self, bundle: Path, *args: str, timeout: float = 60.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "automl.cli", "serve-model", str(bundle), "--port",
               str(self.port), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve-model exited with {self.proc.returncode}: "
                                   f"{self.proc.stderr.read()}")
            try:
                if requests.get(f"{self.url}/ping", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise TimeoutError(f"{self.url}/ping did not answer within {timeout} s")

    def stop(self) -> None:
        """SIGTERM the group (workers flush what they hold as they exit), SIGKILL after 20 s."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc.stderr.close()
