"""``automl serve`` as one unit: kill -9 the parent, gunicorn's master or the runner, and the
rest goes down with it (the port is freed), and the service starts again on the same port and
runs jobs (issue 19, item 6)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from service_process import ServiceProcess  # noqa: E402

pytestmark = pytest.mark.slow
SMALL = b"x,y,label\n" + b"".join(b"%d,%d,%s\n" % (i, i % 3, b"ab"[i % 2:i % 2 + 1])
                                  for i in range(30))
ENV = {"AUTOML_MAX_CONCURRENT_JOBS": "2"}


def family(service: ServiceProcess) -> dict[str, psutil.Process]:
    """The parent, the runner and gunicorn's master by role."""
    parent = psutil.Process(service.proc.pid)
    found = {"parent": parent}
    for child in parent.children():
        role = "runner" if "automl.jobs.runner" in " ".join(child.cmdline()) else "gunicorn"
        found[role] = child
    return found


def all_gone(processes: list[psutil.Process], timeout: float) -> bool:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return not alive


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The service the next test kills: each test leaves the one it restarted in its place (a
    start costs seconds). Two jobs at once: a restart resumes the job the kill interrupted and
    still starts the new one at once."""
    data_dir = tmp_path_factory.mktemp("supervision") / "data"
    current = {"service": ServiceProcess(data_dir, env=ENV).start()}
    yield current
    current["service"].stop()


@pytest.mark.parametrize("victim", ["parent", "gunicorn", "runner"])
def test_killing_any_part_takes_the_rest_down_and_restart_works(live, victim):
    service = live["service"]
    if service.proc.poll() is not None:  # a test before this one failed half-way
        service = live["service"] = ServiceProcess(service.data_dir, env=ENV).start()
    parts = family(service)
    everyone = list(parts.values()) + parts["gunicorn"].children(recursive=True)
    assert set(parts) == {"parent", "runner", "gunicorn"}
    os.kill(parts[victim].pid, signal.SIGKILL)
    assert all_gone(everyone, timeout=30), [p for p in everyone if p.is_running()]
    service.proc.wait(timeout=5)
    service.stop()  # nothing left to stop: kills whatever of its process group outlived it
    service = live["service"] = ServiceProcess(service.data_dir, port=service.port,
                                               env=ENV).start()
    dataset = service.post("/api/v1/datasets", files={"file": ("d.csv", SMALL)}).json()
    job = service.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "label",
                                             "time_budget": 5}).json()
    service.wait_for(job["id"], lambda j: j["status"] != "queued", 30)
