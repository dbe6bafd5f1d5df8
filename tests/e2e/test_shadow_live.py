"""The shadow variant in a live ``automl serve`` (gunicorn, two workers): its copies are answered
by a shadow process of their own at the lowest CPU priority, captured and compared with
production; a kill -9 of that process fails no production request and it comes back; a
stopped shadow process makes copies drop, and every drop is counted."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from automl.model.bundle import ModelBundle
from automl.serving.shadows import address

sys.path.insert(0, str(Path(__file__).parent))
from service_process import ServiceProcess  # noqa: E402

pytestmark = pytest.mark.slow
NAME = "shadowed"


@pytest.fixture(scope="module")
def live(tmp_path_factory, finished_titanic):
    data_dir = tmp_path_factory.mktemp("shadow") / "data"
    job = finished_titanic(data_dir)
    service = ServiceProcess(data_dir).start()
    try:
        board = service.get(f"/api/v1/jobs/{job['id']}/leaderboard").json()["rows"]
        other = next(r["candidate_id"] for r in board[1:] if r["state"] == "complete")
        created = service.post("/api/v1/endpoints", json={
            "name": NAME, "job_id": job["id"], "capture_percent": 100})
        assert created.status_code == 201, created.text
        added = service.post(f"/api/v1/endpoints/{NAME}/variants", json={
            "name": "shadow", "role": "shadow", "share": 1.0, "job_id": job["id"],
            "candidate_id": other})
        assert added.status_code == 201, added.text
        yield {"service": service, "data_dir": data_dir,
               "winner": ModelBundle.load(data_dir / "jobs" / job["id"] / "model")}
    finally:
        service.stop()


@pytest.fixture(scope="module")
def rows(sample_data) -> pd.DataFrame:
    return pd.read_csv(sample_data / "titanic.csv").drop(columns="Survived").head(20)


def invoke(service: ServiceProcess, rows: pd.DataFrame, inference_id: str = "") -> dict:
    """One production request; it must succeed whatever the shadow does."""
    headers = {"Content-Type": "text/csv", "Accept": "application/json"}
    if inference_id:
        headers["X-Amzn-SageMaker-Inference-Id"] = inference_id
    answer = requests.post(f"{service.url}/endpoints/{NAME}/invocations", timeout=30,
                           data=rows.to_csv(index=False, header=False), headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"
    return answer.json()


def shadow_stats(service: ServiceProcess) -> dict:
    variants = service.get(f"/api/v1/endpoints/{NAME}/variants").json()["variants"]
    assert [v["name"] for v in variants] == ["AllTraffic", "shadow"]
    return variants[1]


def shadow_pids(service: ServiceProcess) -> list[int]:
    """The service's shadow processes: started by one of its workers (in its process group;
    a shadow process has a session of its own)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if b"web.shadow_process" in cmdline and os.getpgid(parent) == service.proc.pid:
                found.append(int(entry.name))
        except (ValueError, OSError):
            continue
    return found


def the_shadow_pid(service: ServiceProcess, timeout: float = 60.0) -> int:
    """The one shadow process (each worker may start one; all but one exit on finding the
    socket taken)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = shadow_pids(service)
        if len(found) == 1:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"shadow processes: {found}")


def wait_answered(service: ServiceProcess, rows: pd.DataFrame, at_least: int,
                  timeout: float = 90.0) -> dict:
    """Send requests until the shadow has answered ``at_least`` copies in all, one at a time:
    the next only once every copy sent so far is answered or dropped, so no backlog builds up
    for the shadow (it runs at the lowest priority, and on a loaded machine gets little CPU)."""
    deadline = time.time() + timeout
    stats = shadow_stats(service)
    settled, sent = stats["requests"] + stats["dropped"], 0
    while stats["requests"] < at_least:
        if time.time() > deadline:
            raise AssertionError(f"the shadow answered {stats['requests']} copies, not {at_least}")
        if stats["requests"] + stats["dropped"] >= settled + sent:
            invoke(service, rows.head(2))
            sent += 1
        time.sleep(0.1)
        stats = shadow_stats(service)
    return stats


def listening(data_dir: Path) -> bool:
    """Whether the service's shadow process has its socket (abstract: ``@name`` in
    /proc/net/unix)."""
    name = "@" + address(str(data_dir))[1:]
    return name in Path("/proc/net/unix").read_text()


def test_copies_are_answered_in_an_idle_priority_process_captured_and_compared(live, rows):
    service, winner = live["service"], live["winner"]
    deadline = time.time() + 60
    while time.time() < deadline and not listening(live["data_dir"]):
        time.sleep(0.1)
    assert listening(live["data_dir"]), "adding the shadow started its process, before any copy"
    assert wait_answered(service, rows, 1)["dropped"] == 0, "so the first copies are not lost"
    pid = the_shadow_pid(service)
    assert os.sched_getscheduler(pid) == os.SCHED_IDLE
    group = Path(f"/proc/{pid}/autogroup")
    assert not group.exists() or group.read_text().split()[-1] == "19", \
        "its own CPU group at the lowest share, not the workers'"
    before = shadow_stats(service)
    for i in range(5):
        answer = invoke(service, rows, f"copy-{i}")
        assert np.ravel([p["probabilities"] for p in answer["predictions"]]) == pytest.approx(
            np.ravel(winner.predict_proba(rows).to_numpy())), "never the shadow's answer"
    # copies queued before these (sent while the shadow process started) are answered first:
    # wait for these five by their inference ids in the shadow's captures, then for the counts
    wanted, captured = {f"copy-{i}" for i in range(5)}, set()
    deadline = time.time() + 90
    while time.time() < deadline and not wanted <= captured:
        for path in (live["data_dir"] / "capture" / NAME / "shadow").rglob("*.jsonl"):
            captured |= {json.loads(line)["eventMetadata"]["inferenceId"]
                         for line in path.read_text().splitlines()}
        time.sleep(0.3)
    compared = before["compared_rows"] + 5 * len(rows)
    stats = shadow_stats(service)  # counted just after its capture
    while time.time() < deadline and stats["compared_rows"] < compared:
        time.sleep(0.3)
        stats = shadow_stats(service)
    assert stats["compared_rows"] >= compared, (before, stats)
    assert stats["requests"] >= before["requests"] + 5
    assert 0.5 <= stats["agreement"] <= 1
    assert stats["mean_latency_ms"] > 0 and stats["errors"] == 0
    assert wanted <= captured


def test_a_killed_shadow_process_fails_no_request_and_comes_back(live, rows):
    service = live["service"]
    wait_answered(service, rows, 1)
    pid = the_shadow_pid(service)
    dropped = shadow_stats(service)["dropped"]
    os.kill(pid, signal.SIGKILL)
    for _ in range(20):
        invoke(service, rows.head(3))
    deadline = time.time() + 60
    while time.time() < deadline and not [p for p in shadow_pids(service) if p != pid]:
        invoke(service, rows.head(1))
        time.sleep(0.2)
    assert the_shadow_pid(service) != pid
    assert shadow_stats(service)["dropped"] > dropped, "copies sent to nobody are counted"
    answered = shadow_stats(service)["requests"]
    wait_answered(service, rows, answered + 3)


def settled(service: ServiceProcess, timeout: float = 90.0) -> dict:
    """The shadow's stats once every copy sent so far is answered or dropped (on a loaded
    machine the shadow, at the lowest priority, may still have a backlog to answer)."""
    stats, deadline = shadow_stats(service), time.time() + timeout
    while time.time() < deadline:
        time.sleep(1.0)
        now = shadow_stats(service)
        if now["requests"] + now["dropped"] == stats["requests"] + stats["dropped"]:
            return now
        stats = now
    raise AssertionError(f"the shadow's counts kept moving for {timeout} s: {stats}")


def stopped(pid: int, timeout: float = 30.0) -> None:
    """Wait until every thread of ``pid`` is stopped (SIGSTOP is delivered asynchronously: a
    thread still running may take one more copy off the socket)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        states = [(task / "stat").read_text().rsplit(")", 1)[1].split()[0]
                  for task in Path(f"/proc/{pid}/task").iterdir()]
        if all(state == "T" for state in states):
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} did not stop: {states}")


def test_copies_a_stopped_shadow_cannot_take_are_dropped_and_counted(live, rows):
    service = live["service"]
    wait_answered(service, rows, 1)
    pid = the_shadow_pid(service)
    queued = int(Path("/proc/sys/net/unix/max_dgram_qlen").read_text())
    before = settled(service)
    sent = queued + 20
    os.kill(pid, signal.SIGSTOP)
    try:
        stopped(pid)
        for _ in range(sent):
            invoke(service, rows.head(1))
    finally:
        os.kill(pid, signal.SIGCONT)
    deadline = time.time() + 90
    while time.time() < deadline:
        after = shadow_stats(service)
        if after["requests"] + after["dropped"] - before["requests"] - before["dropped"] >= sent:
            break
        time.sleep(0.3)
    # the kernel holds max_dgram_qlen + 1 datagrams for a reader that does not read
    assert after["dropped"] - before["dropped"] >= sent - queued - 1
    assert after["requests"] + after["dropped"] == before["requests"] + before["dropped"] + sent
