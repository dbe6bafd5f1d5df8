"""Replay the hostile and careless requests of issue 19 against a live ``automl serve`` and
print, per case, the status it got and the server's peak memory (gunicorn master and workers,
RSS summed, sampled every 50 ms) while the case ran.

    python benchmarks/abuse.py [--big-mb 300] [--clients 100 --seconds 20]

Then a load run: ``--clients`` threads invoke the endpoint for ``--seconds`` while a job
trains, and it reports answers, errors (the target is 0), p50 and p99.

The service runs with a token (``T``); API calls carry it as a bearer header. A small job on a
dataset with formula-like labels is trained and deployed first, so the invocation cases have a
model to hit.
"""

from __future__ import annotations

import argparse
import gzip
import json
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from service_process import ServiceProcess  # noqa: E402

TOKEN = "T"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LABELS = ["=cmd|' /C calc'!A0", "@SUM(1)"]


class PeakMemory:
    """The largest summed RSS of gunicorn's processes while a ``with`` block runs."""

    def __init__(self, service: ServiceProcess):
        self.root = psutil.Process(service.proc.pid)

    def _rss(self) -> int:
        total = 0
        for proc in self.root.children(recursive=True):
            try:
                if "gunicorn" in " ".join(proc.cmdline()):
                    total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def __enter__(self) -> PeakMemory:
        self.peak, self.running = self._rss(), True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self._rss())
            time.sleep(0.05)

    def __exit__(self, *exc) -> None:
        self.running = False
        self.thread.join()


def raw_post(service: ServiceProcess, path: str, headers: dict, declared: int, send: int) -> str:
    """POST declaring ``declared`` bytes, send ``send`` of them, return the status line."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=60) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n"
                     f"{head}\r\n".encode())
        try:
            block = b" " * (1 << 20)
            for _ in range(send >> 20):
                sock.sendall(block)
        except OSError:
            pass  # the server answered and closed early
        return sock.recv(4096).decode(errors="replace").split("\r\n")[0]


def prepare(service: ServiceProcess) -> dict:
    """A deployed endpoint 'abuse' on a model with formula-like labels."""
    rows = "x,y,label\n" + "".join(f"{(i * 7) % 13 * 0.5},{i % 3},{LABELS[i % 2]}\n"
                                    for i in range(60))
    ds = service.post("/api/v1/datasets", headers=AUTH, files={"file": ("f.csv", rows)}).json()
    job = service.post("/api/v1/jobs", headers=AUTH, json={
        "dataset_id": ds["id"], "target": "label", "time_budget": None,
        "max_candidates": 1}).json()
    deadline = time.time() + 300
    while service.get(f"/api/v1/jobs/{job['id']}", headers=AUTH).json()["status"] != "completed":
        if time.time() > deadline:
            raise SystemExit("the preparation job did not complete")
        time.sleep(1)
    made = service.post("/api/v1/endpoints", headers=AUTH, json={"name": "abuse",
                                                                 "job_id": job["id"]})
    made.raise_for_status()
    return {"job": job["id"], "dataset": ds["id"]}


def shown(response: requests.Response, header: str | None = None) -> str:
    """Status and the start of the body (or of one header)."""
    if header:
        return f"{response.status_code} {header}: {response.headers.get(header)}"
    return f"{response.status_code} {response.text[:90]}"


def deploy_and_delete(url: str, job_id: str) -> str:
    requests.post(f"{url}/api/v1/endpoints", headers=AUTH, timeout=60,
                  json={"name": "gone-soon", "job_id": job_id}).raise_for_status()
    response = requests.delete(f"{url}/api/v1/endpoints/gone-soon", headers=AUTH, timeout=10)
    return f"{response.status_code} Content-Type: {response.headers.get('Content-Type')}"


def cases(service: ServiceProcess, ids: dict, big_mb: int) -> dict[str, Callable[[], str]]:
    url, inv = service.url, f"{service.url}/endpoints/abuse/invocations"

    def post(path_or_url: str, **kw) -> requests.Response:
        target = path_or_url if path_or_url.startswith("http") else url + path_or_url
        return requests.post(target, timeout=120, allow_redirects=False, **kw)

    def login(next_: str) -> str:
        browser = requests.Session()
        page = browser.get(url + "/login", timeout=10)
        if 'name="csrf_token"' not in page.text:
            return f"login page {page.status_code}: {page.text[:200]}"
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        r = browser.post(f"{url}/login?next={next_}", data={"token": TOKEN, "csrf_token": csrf},
                         allow_redirects=False, timeout=10)
        return f"{r.status_code} Location: {r.headers.get('Location')}"

    def invoke(body: str, kind: str = "application/json", accept: str = "application/json"):
        return shown(post(inv, data=body, headers={**AUTH, "Content-Type": kind,
                                                   "Accept": accept}))

    def upload(name: str, body: bytes) -> str:
        return shown(post("/api/v1/datasets", headers=AUTH, files={"file": (name, body)}))

    many = "\n".join(f"{i},{i}" for i in range(2000))
    return {
        "1 login next=/%09/evil.com": lambda: login("/%09/evil.com"),
        "1 login next=/%0a/x": lambda: login("/%0a/x"),
        "2 cross-origin deploy form": lambda: str(post(
            f"/jobs/{ids['job']}/deploy", data={"name": "evil"},
            headers={"Origin": "http://127.0.0.1:1"}).status_code),
        "2 cross-site form-encoded API call": lambda: str(post(
            "/api/v1/endpoints", data={"name": "evil", "job_id": ids["job"]},
            headers={"Sec-Fetch-Site": "cross-site"}).status_code),
        "3 lower-case bearer": lambda: str(requests.get(
            url + "/api/v1/jobs", headers={"Authorization": f"bearer {TOKEN}"},
            timeout=10).status_code),
        "4 JSON nested 1,000 deep": lambda: invoke("[" * 1000 + "]" * 1000),
        "4 Infinity": lambda: invoke('{"x": Infinity, "y": 1}'),
        "4 -Infinity": lambda: invoke('{"x": -Infinity, "y": 1}'),
        "4 1e999": lambda: invoke('{"x": 1e999, "y": 1}'),
        "4 10^400": lambda: invoke('{"x": 1' + "0" * 400 + ', "y": 1}'),
        "4 CSV inf": lambda: invoke("x,y\ninf,1\n", "text/csv"),
        f"5 {big_mb} MB invocation body": lambda: raw_post(
            service, "/endpoints/abuse/invocations", {**AUTH, "Content-Type": "application/json"},
            big_mb << 20, big_mb << 20),
        "5 explain=true on 2,000 rows": lambda: shown(post(
            inv + "?explain=true", data=many, headers={**AUTH, "Content-Type": "text/csv"})),
        "7 text/csv answer (formula labels)": lambda: invoke("x,y\n1,1\n2,2\n", "text/csv",
                                                             "text/csv"),
        "7 batch output (formula labels)": lambda: shown(post(
            "/api/v1/endpoints/abuse/batch", data="x,y\n1,1\n2,2\n",
            headers={**AUTH, "Content-Type": "text/csv"})),
        "8 20,001 columns": lambda: upload("wide.csv", (",".join(
            f"c{i}" for i in range(20001)) + "\n" + ",".join("1" * 20001) + "\n").encode()),
        "8 50 MB single-line header": lambda: upload("line.csv", b"a" * 50_000_000 + b"\n1\n"),
        "8 one 50 MB field": lambda: upload("field.csv", b"a,b\n1," + b"x" * 50_000_000 + b"\n"),
        "9 delete the endpoint's job": lambda: shown(requests.delete(
            f"{url}/api/v1/jobs/{ids['job']}", headers=AUTH, timeout=10)),
        "11 gzip CSV": lambda: upload("g.csv.gz", gzip.compress(b"a,b\n1,2\n3,4\n")),
        "11 405 Allow": lambda: shown(requests.put(
            f"{url}/api/v1/datasets/{ids['dataset']}", headers=AUTH, timeout=10), "Allow"),
        "11 204 content type": lambda: deploy_and_delete(url, ids["job"]),
    }


def load_run(service: ServiceProcess, ids: dict, clients: int, seconds: float) -> str:
    """``clients`` threads invoking the endpoint for ``seconds`` while a job trains."""
    job = service.post("/api/v1/jobs", headers=AUTH, json={
        "dataset_id": ids["dataset"], "target": "label", "time_budget": seconds + 30}).json()
    latencies, errors, lock = [], [], threading.Lock()
    stop = time.time() + seconds

    def client() -> None:
        session = requests.Session()
        while time.time() < stop:
            t0 = time.perf_counter()
            try:
                r = session.post(f"{service.url}/endpoints/abuse/invocations", data="x,y\n1,1\n",
                                 headers={**AUTH, "Content-Type": "text/csv"}, timeout=30)
                ok = r.status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                (latencies if ok else errors).append(time.perf_counter() - t0)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status = service.get(f"/api/v1/jobs/{job['id']}", headers=AUTH).json()["status"]
    latencies.sort()
    p50, p99 = (latencies[int(len(latencies) * q)] * 1000 for q in (0.5, 0.99))
    return (f"{clients} clients x {seconds:.0f} s while a job trains (job {status}): "
            f"{len(latencies)} answers, {len(errors)} errors, p50 {p50:.0f} ms, p99 {p99:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mb", type=int, default=300)
    parser.add_argument("--clients", type=int, default=100, help="0 skips the load run")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        service = ServiceProcess(Path(tmp) / "data", env={"AUTOML_API_TOKEN": TOKEN}).start()
        try:
            ids = prepare(service)
            print(f"{'case':38} {'peak MB':>8}  answer")
            for name, case in cases(service, ids, args.big_mb).items():
                with PeakMemory(service) as memory:
                    try:
                        answer = case()
                    except requests.RequestException as exc:
                        answer = f"client error: {type(exc).__name__}"
                print(f"{name:38} {memory.peak / 2**20:8.0f}  {json.dumps(answer)[1:-1][:110]}",
                      flush=True)
            if args.clients:
                with PeakMemory(service) as memory:
                    line = load_run(service, ids, args.clients, args.seconds)
                print(f"load: {line}; peak {memory.peak / 2**20:.0f} MB", flush=True)
        finally:
            service.stop()


if __name__ == "__main__":
    main()
