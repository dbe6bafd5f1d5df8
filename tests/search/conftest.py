"""Fixtures for the search tests: a real Dask cluster made of subprocesses on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

START_TIMEOUT_S = 60.0


@dataclass
class DaskCluster:
    """A scheduler and its workers, each a subprocess; ``address`` is ``tcp://127.0.0.1:PORT``."""

    directory: Path
    scheduler: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)
    address: str = ""

    def start(self, n_workers: int) -> DaskCluster:
        file = self.directory / "scheduler.json"
        self.scheduler = self._spawn(
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(file), log="scheduler")
        self.address = _wait_for_file(file, self.scheduler)
        for i in range(n_workers):
            self.add_worker(f"w{i}")
        self.wait_for_workers(n_workers)
        return self

    def add_worker(self, name: str) -> subprocess.Popen:
        worker = self._spawn(
            "worker", self.address, "--nthreads", "1", "--nworkers", "1", "--no-nanny",
            "--no-dashboard", "--name", name, "--memory-limit", "0",
            "--local-directory", str(self.directory / name), log=name)
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, n: int, timeout: float = START_TIMEOUT_S) -> None:
        from distributed import Client

        with Client(self.address, timeout=timeout, set_as_default=False) as client:
            client.wait_for_workers(n, timeout=timeout)

    def kill_scheduler(self) -> None:
        _kill(self.scheduler)

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            _kill(process)

    def log(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text(errors="replace")

    def _spawn(self, *args: str, log: str) -> subprocess.Popen:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        with open(self.directory / f"{log}.log", "wb") as out:
            return subprocess.Popen([_dask(), *args], stdout=out, stderr=subprocess.STDOUT,
                                    env=env, start_new_session=True)


def _dask() -> str:
    local = Path(sys.executable).with_name("dask")
    return str(local) if local.exists() else shutil.which("dask") or "dask"


def _wait_for_file(file: Path, process: subprocess.Popen) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dask scheduler exited with code {process.returncode}")
        if file.exists():
            try:
                return json.loads(file.read_text())["address"]
            except (ValueError, KeyError):
                pass
        time.sleep(0.1)
    raise RuntimeError("dask scheduler did not start in time")


def _kill(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A scheduler and two single-threaded workers (``--no-nanny``), shared by a module's tests
    that leave it intact; killed afterwards."""
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"))
    try:
        yield cluster.start(n_workers=2)
    finally:
        cluster.stop()


@pytest.fixture
def make_dask_cluster(tmp_path):
    """A factory ``make(n_workers)`` for tests that need their own cluster to break."""
    clusters: list[DaskCluster] = []

    def make(n_workers: int) -> DaskCluster:
        cluster = DaskCluster(tmp_path / f"cluster{len(clusters)}")
        cluster.directory.mkdir()
        clusters.append(cluster)
        return cluster.start(n_workers)

    try:
        yield make
    finally:
        for cluster in clusters:
            cluster.stop()
