"""Service benchmark: upload → first leaderboard row, GET /jobs/<id> latency under 20 pollers
while a job runs, a 15 s job's elapsed time against its budget, how long a cancel takes, leaving
the queue → first leaderboard row with the runner's warm pool up, the server's peak RSS while
a 200 MB CSV is uploaded, and what a restart costs a running job: kill -9 of the whole service
mid-search, then a start, to the job's first new trial (``--resume-only`` prints just that).

    python benchmarks/service.py [--data sample_data/titanic.csv --target Survived --mb 200]
                                 [--resume-only]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from service_process import ServiceProcess  # noqa: E402


def time_to_first_row(service: ServiceProcess, data: Path, target: str) -> tuple[str, float]:
    start = time.perf_counter()
    with open(data, "rb") as fh:
        ds = service.post("/api/v1/datasets", files={"file": (data.name, fh)}).json()
    job = service.post("/api/v1/jobs", json={"dataset_id": ds["id"], "target": target,
                                              "time_budget": 30}).json()
    while not service.get(f"/api/v1/jobs/{job['id']}/leaderboard").json()["rows"]:
        time.sleep(0.1)
    return job["id"], time.perf_counter() - start


def warm_first_row(service: ServiceProcess, dataset_id: str, target: str,
                   settle_s: float = 15.0) -> float:
    """Seconds from a job leaving the queue to its first trial, once the runner's warm job
    process has had ``settle_s`` to start its workers (the trials' ``elapsed_s`` counts from
    the job's start)."""
    time.sleep(settle_s)
    job = service.post("/api/v1/jobs", json={"dataset_id": dataset_id, "target": target,
                                              "time_budget": 15}).json()
    while True:
        trials = service.get(f"/api/v1/jobs/{job['id']}/trials").json()["trials"]
        if trials:
            return min(t["elapsed_s"] for t in trials)
        time.sleep(0.1)


def poll_latency(service: ServiceProcess, job_id: str, pollers: int = 20, seconds: float = 10):
    samples: list[float] = []
    lock = threading.Lock()
    stop = time.time() + seconds

    def poll() -> None:
        session = requests.Session()
        while time.time() < stop:
            t0 = time.perf_counter()
            session.get(f"{service.url}/api/v1/jobs/{job_id}", timeout=10).raise_for_status()
            with lock:
                samples.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=poll) for _ in range(pollers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    samples.sort()
    return len(samples), samples[len(samples) // 2], samples[int(len(samples) * 0.99) - 1]


def wait_finished(service: ServiceProcess, job_id: str, timeout: float = 600) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = service.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise RuntimeError(f"job {job_id} did not finish in {timeout} s")


def budget_overrun(service: ServiceProcess, dataset_id: str, target: str, budget: float) -> dict:
    """A job's own elapsed time (from leaving the queue) against its budget."""
    job = service.post("/api/v1/jobs", json={"dataset_id": dataset_id, "target": target,
                                              "time_budget": budget}).json()
    return wait_finished(service, job["id"])


def cancel_latency(service: ServiceProcess, dataset_id: str, target: str) -> float:
    """Seconds from POST .../cancel to the job reading 'cancelled', mid-search."""
    job = service.post("/api/v1/jobs", json={"dataset_id": dataset_id, "target": target,
                                              "time_budget": 120}).json()
    while service.get(f"/api/v1/jobs/{job['id']}").json()["stage"] != "searching":
        time.sleep(0.1)
    time.sleep(2)
    asked = time.perf_counter()
    service.post(f"/api/v1/jobs/{job['id']}/cancel").raise_for_status()
    wait_finished(service, job["id"])
    return time.perf_counter() - asked


def _trial_ids(service: ServiceProcess, job_id: str) -> set[str]:
    return {t["candidate_id"] for t in service.get(f"/api/v1/jobs/{job_id}/trials").json()["trials"]}


def restart_cost(service: ServiceProcess, dataset_id: str, target: str
                 ) -> tuple[ServiceProcess, dict]:
    """kill -9 the service once a 60 s job has recorded a trial, start it again: seconds from
    the start command to /ping, to the job running again, and to its first new trial; also
    from the kill. Returns the new service, which the caller stops."""
    job = service.post("/api/v1/jobs", json={"dataset_id": dataset_id, "target": target,
                                              "time_budget": 60}).json()
    while not (before := _trial_ids(service, job["id"])):
        time.sleep(0.1)
    service.kill9()
    killed = time.perf_counter()
    service = ServiceProcess(service.data_dir, port=service.port).start(timeout=60)
    up = time.perf_counter()
    resumed = None
    while not (_trial_ids(service, job["id"]) - before):
        if resumed is None and service.get(f"/api/v1/jobs/{job['id']}").json()["progress"].get(
                "resumed"):
            resumed = time.perf_counter()
        time.sleep(0.1)
    new = time.perf_counter()
    done = wait_finished(service, job["id"])
    return service, {"start_s": up - killed, "resumed_s": (resumed or new) - up,
                     "first_new_trial_s": new - up, "from_kill_s": new - killed,
                     "status": done["status"], "elapsed_s": done["progress"]["elapsed_s"]}


def big_csv(path: Path, mb: int) -> Path:
    row = b"1.2345,foo,2024-01-01,42,0.5,bar,baz,7\n"
    with open(path, "wb") as fh:
        fh.write(b"a,b,c,d,e,f,g,y\n")
        block = row * 10_000
        for _ in range(mb * (1 << 20) // len(block) + 1):
            fh.write(block)
    return path


def server_tree_rss(service: ServiceProcess) -> int:
    """Summed RSS of the gunicorn processes (master and workers)."""
    total = 0
    for proc in psutil.Process(service.proc.pid).children(recursive=True):
        try:
            if "gunicorn" in " ".join(proc.cmdline()):
                total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def upload_peak_rss(service: ServiceProcess, path: Path) -> tuple[int, int, float]:
    base = server_tree_rss(service)
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], server_tree_rss(service))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.perf_counter()
    with open(path, "rb") as fh:
        response = requests.post(service.url + "/api/v1/datasets", files={"file": (path.name, fh)},
                                 timeout=600)
    elapsed = time.perf_counter() - t0
    done.set()
    sampler.join()
    response.raise_for_status()
    return base, peak[0], elapsed


def print_restart_cost(service: ServiceProcess, dataset_id: str, target: str) -> ServiceProcess:
    service, cost = restart_cost(service, dataset_id, target)
    print(f"kill -9 mid-search, restart: service up {cost['start_s']:.2f} s after the kill; "
          f"job resumed {cost['resumed_s']:.2f} s and first new trial {cost['first_new_trial_s']:.2f}"
          f" s after start ({cost['from_kill_s']:.2f} s after the kill); the 60 s job "
          f"{cost['status']} at {cost['elapsed_s']:.1f} s on its budget clock")
    return service


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(ROOT / "sample_data" / "titanic.csv"))
    parser.add_argument("--target", default="Survived")
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--resume-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        service = ServiceProcess(Path(tmp) / "data").start(timeout=60)
        try:
            if args.resume_only:
                with open(args.data, "rb") as fh:
                    ds = service.post("/api/v1/datasets", files={"file": (Path(args.data).name, fh)})
                service = print_restart_cost(service, ds.json()["id"], args.target)
                return 0
            job_id, first = time_to_first_row(service, Path(args.data), args.target)
            print(f"upload -> first leaderboard row: {first:.2f} s ({Path(args.data).name})")
            n, p50, p99 = poll_latency(service, job_id)
            print(f"GET /api/v1/jobs/<id>, 20 pollers, job running: {n} requests, "
                  f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
            dataset_id = service.get(f"/api/v1/jobs/{job_id}").json()["dataset_id"]
            wait_finished(service, job_id)
            job = budget_overrun(service, dataset_id, args.target, 15)
            print(f"15 s job: {job['status']}, elapsed {job['progress']['elapsed_s']:.2f} s "
                  f"({job['progress']['elapsed_s'] / 15:.2f}x its budget, from leaving the queue)")
            print(f"cancel mid-search -> 'cancelled': "
                  f"{cancel_latency(service, dataset_id, args.target):.2f} s")
            warm = warm_first_row(service, dataset_id, args.target)
            print(f"leaving the queue -> first leaderboard row, warm pool: {warm:.2f} s")
            service = print_restart_cost(service, dataset_id, args.target)
            csv = big_csv(Path(tmp) / "big.csv", args.mb)
            base, peak, secs = upload_peak_rss(service, csv)
            print(f"upload {csv.stat().st_size / 1e6:.0f} MB in {secs:.1f} s: server RSS "
                  f"{base / 1e6:.0f} MB before, peak {peak / 1e6:.0f} MB (+{(peak - base) / 1e6:.0f} MB)")
        finally:
            service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
