"""The whole service as real processes: upload, run, cancel, kill -9 and restart."""

from __future__ import annotations

import io
import sys
import time
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from service_process import ServiceProcess  # noqa: E402

pytestmark = pytest.mark.slow
FINISHED = ("completed", "failed", "cancelled")


def upload_titanic(service, sample_data) -> dict:
    with open(sample_data / "titanic.csv", "rb") as fh:
        response = service.post("/api/v1/datasets", files={"file": ("titanic.csv", fh, "text/csv")})
    assert response.status_code == 201, response.text
    return response.json()


def start_job(service, dataset_id: str, budget: float) -> dict:
    response = service.post("/api/v1/jobs", json={"dataset_id": dataset_id, "target": "Survived",
                                                   "time_budget": budget})
    assert response.status_code == 202, response.text
    return response.json()


def test_upload_run_crash_restart_cancel(tmp_path, sample_data):
    service = ServiceProcess(tmp_path / "data").start()
    try:
        dataset = upload_titanic(service, sample_data)
        done = run_to_completion(service, dataset["id"])
        assert_a_warm_job_process_waits(tmp_path / "data")
        interrupted = start_job(service, dataset["id"], 120)
        service.wait_for(interrupted["id"], lambda j: j["status"] == "running", 30)
        time.sleep(2)
        service.kill9()
        assert_no_job_process_left(tmp_path / "data")

        service = ServiceProcess(tmp_path / "data", port=service.port).start()
        check_after_restart(service, dataset, done, interrupted)
        check_cancel(service, interrupted["id"], tmp_path / "data")
    finally:
        service.stop()


def run_to_completion(service, dataset_id: str) -> dict:
    job = start_job(service, dataset_id, 15)
    job = service.wait_for(job["id"], lambda j: j["status"] in FINISHED, 90)
    assert job["status"] == "completed", job
    assert job["progress"]["trials_completed"] >= 1 and job["metric"] == "auc"
    assert job["progress"]["elapsed_s"] > 0  # how far past its budget: benchmarks/service.py
    board = service.get(f"/api/v1/jobs/{job['id']}/leaderboard").json()
    assert board["final"] and board["rows"][0]["rank"] == 1
    model = service.get(f"/api/v1/jobs/{job['id']}/model")
    assert "metadata.json" in zipfile.ZipFile(io.BytesIO(model.content)).namelist()
    cid = board["rows"][0]["candidate_id"]
    assert service.get(f"/api/v1/jobs/{job['id']}/candidates/{cid}").json()["fold_scores"]
    return {"job": job, "board": board}


def assert_no_job_process_left(data_dir: Path, among: list[int] | None = None) -> None:
    """The job processes of the service at ``data_dir`` (``among`` them, if given), the warm
    standby included, and their workers are gone: no orphan keeps writing."""
    deadline = time.time() + 10
    while time.time() < deadline:
        found = [pid for pid in _job_processes(data_dir) if among is None or pid in among]
        if not found:
            return
        time.sleep(0.25)
    raise AssertionError(f"job processes {found} outlived their job or runner")


def assert_a_warm_job_process_waits(data_dir: Path) -> None:
    """Between jobs the runner keeps one job process with its workers started."""
    deadline = time.time() + 10
    while not _job_processes(data_dir, "--standby") and time.time() < deadline:
        time.sleep(0.25)
    assert _job_processes(data_dir, "--standby"), "no warm job process waits for a job"


def _job_processes(data_dir: Path, marker: str = "automl.jobs.launch") -> list[int]:
    """Job processes of the service whose data lives in ``data_dir`` (``--standby``: warm ones)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if "automl.jobs.launch" in cmdline and marker in cmdline and \
                    Path(proc.environ().get("AUTOML_DATA_DIR", "/")).resolve() == data_dir.resolve():
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def check_after_restart(service, dataset: dict, done: dict, interrupted: dict) -> None:
    assert service.get(f"/api/v1/datasets/{dataset['id']}").json()["n_rows"] == dataset["n_rows"]
    job = service.wait_for(interrupted["id"], lambda j: j["progress"].get("resumed"), 30)
    assert job["status"] == "running"  # resumed with the rest of its budget
    again = service.get(f"/api/v1/jobs/{done['job']['id']}").json()
    assert again["status"] == "completed"
    board = service.get(f"/api/v1/jobs/{done['job']['id']}/leaderboard").json()
    assert board == done["board"]


def check_cancel(service, job_id: str, data_dir: Path) -> None:
    job = service.wait_for(job_id, lambda j: j["status"] == "running" and j["stage"] == "searching", 30)
    running = _job_processes(data_dir)  # one job at a time: no standby waits while it runs
    assert running
    assert service.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 202
    # Well before its 120 s budget would end it; how fast: benchmarks/service.py.
    job = service.wait_for(job["id"], lambda j: j["status"] in FINISHED, 60)
    assert job["status"] == "cancelled", job
    assert_no_job_process_left(data_dir, among=running)
