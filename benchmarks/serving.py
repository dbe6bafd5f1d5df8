#!/usr/bin/env python3
"""Serving benchmark: latency and throughput of `automl serve-model` against a constant app.

    python benchmarks/serving.py                        # trains a LightGBM model on adult
    python benchmarks/serving.py --bundle DIR           # reuse a bundle (run output or model/)

Trains (unless --bundle) a LightGBM-won job on ../shared/datasets/adult.csv (two candidates,
no time budget), starts the standalone server under gunicorn, and over loopback measures:
p50/p99 latency of single-row CSV requests from one client; requests/s with 1, 4 and 16
concurrent clients; the same for a Flask app that returns a constant, under the identical
gunicorn settings, with the ratio (the two servers measured in alternating rounds, medians
kept); in-process single-row latency (the invocation fast path and,
for comparison, ``bundle.predict_proba`` on a one-row frame); batch rows/s for 10,000 rows.
Clients are threads in this process on the same machine, so they compete with the server for
CPU: the constant app pays the same client cost. Prints a table and appends a JSON line to
benchmarks/results/serving.jsonl (or --results).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT.parent / "shared" / "datasets" / "adult.csv"
TARGET = "class"
RESULTS = ROOT / "benchmarks" / "results" / "serving.jsonl"
ROUNDS = 5
TARGETS = {"p50_ms": 3.0, "p99_ms": 15.0, "throughput_ratio": 0.70, "batch_rows_per_s": 100_000}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", help="an existing bundle; default: train one on adult")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--requests", type=int, default=1000, help="latency requests")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="per throughput level and server, over all rounds")
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--constant-server", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def train(directory: Path) -> Path:
    import automl

    result = automl.fit(DATASET, TARGET, time_budget=None, max_candidates=2, seed=0)
    result.model.save(directory)
    family = result.model.metadata.get("family")
    if family != "lightgbm":
        print(f"note: the winner is {family}, not lightgbm", file=sys.stderr)
    return directory


def run_constant_server(args: argparse.Namespace) -> None:
    """The baseline: a Flask app answering a constant, under the same gunicorn options."""
    from flask import Flask, Response

    from automl.serving.server import _GunicornApp, gunicorn_options

    app = Flask("constant")
    body = b'{"predictions": [{"predicted_label": "x", "probability": 1.0}]}'
    app.add_url_rule("/ping", "ping", lambda: Response(b"", 200))
    app.add_url_rule("/invocations", "invocations",
                     lambda: Response(body, 200, content_type="application/json"),
                     methods=["POST"])
    options = argparse.Namespace(host="127.0.0.1", port=args.constant_server,
                                 workers=args.workers, threads=args.threads)
    _GunicornApp(app, gunicorn_options(options)).run()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd} exited with {proc.returncode}")
        try:
            if post(port, "GET", "/ping", b"")[0] == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise TimeoutError(f"{cmd} did not answer /ping")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def post(port: int, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body, {"Content-Type": "text/csv", "Accept": "application/json"})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def latency(port: int, bodies: list[bytes], n: int) -> dict:
    times = []
    for i in range(n):
        t = time.perf_counter()
        status, _ = post(port, "POST", "/invocations", bodies[i % len(bodies)])
        times.append((time.perf_counter() - t) * 1000)
        assert status == 200, status
    return {"p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99))}


def throughput(port: int, bodies: list[bytes], clients: int, seconds: float) -> float:
    counts = [0] * clients
    stop_at = time.perf_counter() + seconds

    def client(k: int) -> None:
        i = k
        while time.perf_counter() < stop_at:
            post(port, "POST", "/invocations", bodies[i % len(bodies)])
            counts[k] += 1
            i += clients

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - t)


def measure_http(args: argparse.Namespace, bundle_dir: Path, bodies: list[bytes]) -> dict:
    """Both servers run at once, idle in turn: every measurement alternates between them in
    ``ROUNDS`` rounds and keeps the median, so drift in what else the machine does (it has two
    cores) falls on both alike."""
    here = [sys.executable, str(Path(__file__).resolve()), "--workers", str(args.workers),
            "--threads", str(args.threads)]
    servers = {
        "model": lambda p: [sys.executable, "-m", "automl.cli", "serve-model", str(bundle_dir),
                            "--port", str(p), "--workers", str(args.workers),
                            "--threads", str(args.threads)],
        "constant": lambda p: [*here, "--constant-server", str(p)],
    }
    ports = {name: free_port() for name in servers}
    procs = {}
    try:
        for name, cmd in servers.items():
            procs[name] = start(cmd(ports[name]), ports[name])
            latency(ports[name], bodies, 50)  # warm-up
        out = {name: {"p50_ms": [], "p99_ms": []} for name in servers}
        for _ in range(ROUNDS):
            for name in servers:
                figures = latency(ports[name], bodies, args.requests // ROUNDS)
                for key, value in figures.items():
                    out[name][key].append(value)
        for clients in (1, 4, 16):
            runs = {name: [] for name in servers}
            for _ in range(ROUNDS):
                for name in servers:
                    runs[name].append(throughput(ports[name], bodies, clients,
                                                 args.seconds / ROUNDS))
            for name in servers:
                out[name][f"rps_{clients}"] = float(np.median(runs[name]))
        for name in servers:
            for key in ("p50_ms", "p99_ms"):
                out[name][key] = float(np.median(out[name][key]))
        return out
    finally:
        for proc in procs.values():
            stop(proc)


def measure_in_process(bundle, rows: pd.DataFrame, bodies: list[bytes]) -> dict:
    from automl.serving.batch import stream_predictions
    from automl.serving.invocation import CSV, JSON, invoke

    records = rows.head(200).to_dict(orient="records")
    naive = _per_call(lambda i: bundle.predict_proba(pd.DataFrame([records[i % 200]])), 300)
    fast = _per_call(lambda i: invoke(bundle, bodies[i % len(bodies)], CSV, JSON), 1000)
    batch = rows.sample(10_000, replace=True, random_state=0)
    batch_csv = batch.to_csv(index=False).encode()
    headerless = batch.to_csv(index=False, header=False).encode()
    t = time.perf_counter()
    n = sum(1 for _ in stream_predictions(bundle, io.BytesIO(batch_csv)))
    stream_s = time.perf_counter() - t
    t = time.perf_counter()
    answer = invoke(bundle, headerless, CSV, JSON)
    invoke_s = time.perf_counter() - t
    assert answer.status == 200 and n >= 1
    return {"in_process_before_ms": naive[0], "in_process_before_cpu_ms": naive[1],
            "in_process_ms": fast[0], "in_process_cpu_ms": fast[1],
            "batch_rows_per_s": 10_000 / stream_s, "batch_invoke_rows_per_s": 10_000 / invoke_s}


def _per_call(fn, n: int) -> tuple[float, float]:
    fn(0)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        fn(i)
    return ((time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000)


def report(figures: dict) -> None:
    model, constant = figures["http"]["model"], figures["http"]["constant"]
    rows = [("single-row p50 (ms)", model["p50_ms"], constant["p50_ms"], "<= 3"),
            ("single-row p99 (ms)", model["p99_ms"], constant["p99_ms"], "<= 15")]
    rows += [(f"requests/s, {c} client(s)", model[f"rps_{c}"], constant[f"rps_{c}"], ">= 70%")
             for c in (1, 4, 16)]
    print(f"\n{'':28}{'model':>10}{'constant':>10}{'ratio':>8}  target")
    for label, m, c, target in rows:
        print(f"{label:28}{m:10.2f}{c:10.2f}{m / c:8.2f}  {target}")
    ip = figures["in_process"]
    print(f"{'in-process invoke, 1 row':28}{ip['in_process_ms']:10.3f} ms "
          f"(cpu {ip['in_process_cpu_ms']:.3f} ms; before fast path {ip['in_process_before_ms']:.3f} "
          f"ms, cpu {ip['in_process_before_cpu_ms']:.3f})")
    print(f"{'batch 10,000 rows (stream)':28}{ip['batch_rows_per_s']:10.0f} rows/s  (>= 100,000)")
    print(f"{'batch 10,000 rows (invoke)':28}{ip['batch_invoke_rows_per_s']:10.0f} rows/s")
    print(f"machine: {figures['cpus']} CPUs, load average before {figures['load_before']}, "
          f"after {figures['load_after']} (shared with other work)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.constant_server:
        run_constant_server(args)
        return 0
    from automl.model.bundle import ModelBundle

    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"automl-serving-bench-{os.getpid()}"
    bundle_dir = Path(args.bundle) if args.bundle else train(work / "model")
    bundle = ModelBundle.load(bundle_dir)
    rows = pd.read_csv(DATASET, dtype=str, keep_default_na=False).drop(columns=TARGET)
    bodies = [r.encode() for r in rows.head(200).to_csv(header=False, index=False).splitlines()]
    load_before = [round(x, 2) for x in os.getloadavg()]
    figures = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
               "load_before": load_before, "family": bundle.metadata.get("family"),
               "workers": args.workers, "threads": args.threads, "targets": TARGETS,
               "in_process": measure_in_process(bundle, rows, bodies),
               "http": measure_http(args, bundle_dir, bodies)}
    figures["load_after"] = [round(x, 2) for x in os.getloadavg()]
    report(figures)
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    with open(args.results, "a") as fh:
        fh.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
