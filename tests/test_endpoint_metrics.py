"""Reading every process's endpoint counters (prometheus_client's multiprocess files)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
import time

import pytest

from automl import endpoint_metrics
from automl.exceptions import ServerFault

# a metrics file whose header promises more bytes than it holds: what a reader sees while
# another process is writing a new entry, or after that process was killed mid-write
TORN = struct.pack("i", 64) + b"\0" * 4 + struct.pack("i", 40) + b'["x", "y", ' + b"\xff" * 30


@pytest.fixture
def metrics_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(endpoint_metrics.MULTIPROC_ENV, str(tmp_path))
    return tmp_path


def test_a_torn_read_is_read_again(metrics_dir, monkeypatch):
    monkeypatch.setattr(endpoint_metrics, "READ_TRIES", 200)  # 10 s: the writer finishes first
    torn = metrics_dir / "counter_999.db"
    torn.write_bytes(TORN)
    writer = threading.Timer(0.1, torn.unlink)
    writer.start()
    start = time.time()
    assert endpoint_metrics.collect() == []  # no counters once the file is whole (here: gone)
    assert time.time() - start >= 0.05, "the first read failed and was tried again"
    writer.join()


def test_a_file_that_stays_unreadable_is_a_clear_error_not_a_crash(metrics_dir):
    """Its process still runs (this one), so the file may yet be completed: kept."""
    (metrics_dir / f"counter_{os.getpid()}.db").write_bytes(TORN)
    with pytest.raises(ServerFault, match="could not be read; try again"):
        endpoint_metrics.collect()
    with pytest.raises(ServerFault):
        endpoint_metrics.exposition({})


def test_a_torn_file_of_a_process_that_ended_is_set_aside_and_the_rest_still_counts(
        metrics_dir):
    pid = os.fork()
    if pid == 0:  # a worker killed mid-write: its file stays torn
        os._exit(0)
    os.waitpid(pid, 0)
    (metrics_dir / f"counter_{pid}.db").write_bytes(TORN)
    subprocess.run([sys.executable, "-c", "from automl import endpoint_metrics; "  # a worker
                    "endpoint_metrics.observe('churn', 200, 0.01)"], check=True,
                   env={**os.environ, endpoint_metrics.MULTIPROC_ENV: str(metrics_dir)})
    assert endpoint_metrics.read_totals()["churn"]["requests"] == 1
    assert (metrics_dir / "torn" / f"counter_{pid}.db").read_bytes() == TORN, "kept, aside"
    assert not (metrics_dir / f"counter_{pid}.db").exists()
