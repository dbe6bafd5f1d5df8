#!/usr/bin/env python3
"""Variants benchmark: routing by weight over 10,000 requests, and the production p99 with a
shadow variant at 100 % of traffic against the p99 without one, in the same run.

    python benchmarks/variants.py [--data sample_data/titanic.csv --target Survived]

Starts ``automl serve`` (gunicorn, 2 workers) on a temporary data directory, runs one job (two
candidates, no time budget), deploys its winner four times: ``weighted`` with a second variant
(the other candidate) at weights 0.7 / 0.3, ``solo``, ``control`` (as ``solo``: how much p99
differs with nothing changed) and ``shadowed`` (the same model with the other candidate as a
shadow copied 100 % of requests). ``--busy N`` runs N CPU-bound processes (in this process's
session; the service has a session of its own) from the first measurement to the last.
Routing: ``--requests`` single-row CSV requests to ``weighted`` from 4 client threads, counted
by ``x-Amzn-Invoked-Production-Variant``. Overhead: ``--rounds`` short rounds of sequential
requests to ``solo``, ``control`` and ``shadowed`` in rotating order, ``--per-round`` each back
to back (one endpoint after the other) and then ``--paced-per-round`` each paced at ``--rate``
requests/s in all (the three taking turns request by request); p50 and p99 over all
rounds, the ratios to ``solo`` with 95 % bootstrap intervals over rounds (``control``'s shows
the noise floor), the seconds spent letting the shadow's backlog settle after its rounds, and
the shadow's answered and dropped copies. Under ``automl serve`` the shadow answers in a shadow
process of its own started by the first copy, so ``shadowed`` is invoked until the shadow has
answered a copy before anything is timed (and before the busy processes start). The shadow
answers a copy only while no production request is in flight and a core is free, so the
``requests`` and ``dropped`` it reports say how much of the copied traffic it could answer. Clients run in this process, on the same machine.
Prints the figures and appends a JSON line to benchmarks/results/variants.jsonl.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from contention import busy_processes  # noqa: E402
from service_process import ServiceProcess  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "variants.jsonl"
WEIGHTS = {"AllTraffic": 0.7, "second": 0.3}
TARGETS = {"routing_max_gap_points": 2.0, "shadow_p99_ratio": 1.05}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "sample_data" / "titanic.csv"))
    parser.add_argument("--target", default="Survived")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=80)
    parser.add_argument("--per-round", type=int, default=60,
                        help="requests per endpoint and round, back to back")
    parser.add_argument("--paced-per-round", type=int, default=20,
                        help="requests per endpoint and round, paced at --rate")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="requests/s of the paced overhead measurement (all three endpoints)")
    parser.add_argument("--busy", type=int, default=0,
                        help="CPU-bound processes to run beside the measurements (after setup)")
    parser.add_argument("--results", default=str(RESULTS))
    return parser.parse_args(argv)


def invoke(conn: http.client.HTTPConnection, name: str, body: bytes) -> str:
    conn.request("POST", f"/endpoints/{name}/invocations", body,
                 {"Content-Type": "text/csv", "Accept": "application/json"})
    answer = conn.getresponse()
    answer.read()
    if answer.status != 200:
        raise RuntimeError(f"{name} answered {answer.status}")
    return answer.getheader("x-Amzn-Invoked-Production-Variant")


def routing(service: ServiceProcess, bodies: list[bytes], n: int, clients: int = 4) -> dict:
    counts: Counter = Counter()
    lock = threading.Lock()

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
        mine = Counter(invoke(conn, "weighted", bodies[i % len(bodies)])
                       for i in range(k, n, clients))
        conn.close()
        with lock:
            counts.update(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(counts.values())
    shares = {v: 100 * counts[v] / total for v in WEIGHTS}
    gaps = {v: abs(shares[v] - 100 * w / sum(WEIGHTS.values())) for v, w in WEIGHTS.items()}
    return {"requests": total, "counts": dict(counts), "shares_percent": shares,
            "max_gap_points": max(gaps.values())}


ENDPOINTS = ("solo", "control", "shadowed")


def overhead(service: ServiceProcess, bodies: list[bytes], rounds: int, per_round: int,
             rate: float | None) -> dict:
    """Latencies of ``solo``, ``control`` and ``shadowed`` from one client in ``rounds`` short
    rounds of ``per_round`` requests to each. Back to back (``rate`` None: the worst case, no
    idle time for the shadow) a round sends its requests to one endpoint after the other, in
    rotating order, and after the ``shadowed`` ones lets the shadow's backlog settle, so that
    it runs only beside the requests it copies. Paced at ``rate`` requests per second (an
    endpoint below saturation) the three take turns request by request, so all three meet the
    same moments of the machine. ``control`` serves the same model as ``solo`` without a
    shadow: its ratio to ``solo`` is what the figures vary by with nothing changed (the noise
    floor). Slow drifts of the machine's load fall on the three alike in either way."""
    times = {name: [] for name in ENDPOINTS}
    expected, settle_s = shadow_total(service), 0.0
    for r in range(rounds):
        order = ENDPOINTS[r % 3:] + ENDPOINTS[:r % 3]
        if rate:
            runs = [[order[k % 3] for k in range(3 * per_round)]]
        else:
            runs = [[name] * per_round for name in order]
        for run in runs:
            for name, took in timed_run(service, run, bodies, rate).items():
                times[name].append(took)
            expected += run.count("shadowed")
            if "shadowed" in run:
                settle_s += settle(service, expected)
    return {**summary(times), "settle_s": settle_s}


def timed_run(service: ServiceProcess, names: list[str], bodies: list[bytes],
              rate: float | None) -> dict[str, np.ndarray]:
    """Milliseconds of sequential requests to ``names`` (one each), by endpoint, on a
    connection of their own (the server closes one idle for 2 s) that one untimed request to
    ``solo`` opens. Each endpoint gets the rows of ``bodies`` in the same order."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    invoke(conn, "solo", bodies[-1])
    took, sent = np.empty(len(names)), Counter()
    next_at = time.perf_counter()
    for i, name in enumerate(names):
        if rate:
            time.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += 1.0 / rate
        body = bodies[sent[name] % len(bodies)]  # each endpoint gets the same rows in turn
        sent[name] += 1
        started = time.perf_counter()
        invoke(conn, name, body)
        took[i] = 1000 * (time.perf_counter() - started)
    conn.close()
    return {name: took[[n == name for n in names]] for name in set(names)}


def settle(service: ServiceProcess, expected: int, timeout: float = 1.0) -> float:
    """Seconds until the shadow has answered or dropped ``expected`` copies in all, at most
    ``timeout`` (beside busy processes a starved shadow would hold every round up)."""
    started = time.perf_counter()
    while shadow_total(service) < expected and time.perf_counter() - started < timeout:
        time.sleep(0.02)
    return time.perf_counter() - started


def shadow_total(service: ServiceProcess) -> int:
    counts = shadow_counts(service)
    return counts["requests"] + counts["dropped"]


def summary(times: dict[str, list[np.ndarray]], resamples: int = 2000) -> dict:
    """p50 and p99 of each endpoint over all rounds, and the ratios of ``shadowed`` and
    ``control`` to ``solo`` with 95 % bootstrap intervals: rounds are drawn with replacement
    (one draw picks the same rounds of all three endpoints, which ran side by side)."""
    figures = {"requests_each": int(sum(map(len, times["solo"])))}
    for name, rounds in times.items():
        joined = np.concatenate(rounds)
        figures.update({f"{name}_p50_ms": float(np.percentile(joined, 50)),
                        f"{name}_p99_ms": float(np.percentile(joined, 99))})
    rng = np.random.default_rng(0)
    n = len(times["solo"])
    draws = [rng.integers(0, n, n) for _ in range(resamples)]
    for q in (50, 99):
        base = _quantiles(times["solo"], draws, q)
        for name in ("shadowed", "control"):
            ratio = _quantiles(times[name], draws, q) / base
            key = f"{'shadow' if name == 'shadowed' else name}_p{q}_ratio"
            figures[key] = figures[f"{name}_p{q}_ms"] / figures[f"solo_p{q}_ms"]
            figures[f"{key}_ci95"] = [float(v) for v in np.percentile(ratio, [2.5, 97.5])]
    return figures


def _quantiles(rounds: list[np.ndarray], draws: list[np.ndarray], q: float) -> np.ndarray:
    """The ``q``-th percentile of the rounds each draw picks."""
    return np.array([np.percentile(np.concatenate([rounds[i] for i in d]), q) for d in draws])


def warm_shadow(service: ServiceProcess, bodies: list[bytes], timeout: float = 120.0) -> None:
    """Invoke ``shadowed`` until its shadow answered a copy (its process is up)."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    deadline = time.time() + timeout
    while shadow_counts(service)["requests"] < 1:
        if time.time() > deadline:
            raise RuntimeError(f"the shadow answered no copy in {timeout} s")
        invoke(conn, "shadowed", bodies[0])
        time.sleep(0.2)
    conn.close()


def shadow_counts(service: ServiceProcess, tries: int = 5) -> dict:
    """The shadow's answered and dropped copies and its agreement. Asked again when the
    service answers 500: prometheus_client can fail to read a metrics file that the shadow
    process is growing at that moment."""
    for _ in range(tries - 1):
        answer = service.get("/api/v1/endpoints/shadowed/variants")
        if answer.ok:
            break
        time.sleep(0.2)
    else:
        answer = service.get("/api/v1/endpoints/shadowed/variants")
        answer.raise_for_status()
    shadow = answer.json()["variants"][1]
    return {k: shadow[k] for k in ("requests", "dropped", "agreement")}


def setup(service: ServiceProcess, data: Path, target: str) -> None:
    with open(data, "rb") as fh:
        dataset = service.post("/api/v1/datasets", files={"file": (data.name, fh)}).json()
    job = service.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": target,
                                             "time_budget": None, "max_candidates": 2}).json()
    job = service.wait_for(job["id"], lambda j: j["status"] in ("completed", "failed"), 600)
    board = service.get(f"/api/v1/jobs/{job['id']}/leaderboard").json()["rows"]
    other = next(r["candidate_id"] for r in board[1:] if r["state"] == "complete")
    for name in ("weighted", "solo", "control", "shadowed"):
        service.post("/api/v1/endpoints", json={"name": name, "job_id": job["id"]}).raise_for_status()
    second = {"job_id": job["id"], "candidate_id": other}
    service.post("/api/v1/endpoints/weighted/variants", json={
        "name": "second", "weight": WEIGHTS["second"], **second}).raise_for_status()
    requests.put(f"{service.url}/api/v1/endpoints/weighted/variants", timeout=30,
                 json={"weights": {"AllTraffic": WEIGHTS["AllTraffic"]}}).raise_for_status()
    service.post("/api/v1/endpoints/shadowed/variants", json={
        "name": "shadow", "role": "shadow", "share": 1.0, **second}).raise_for_status()


def measure(service: ServiceProcess, bodies: list[bytes], args: argparse.Namespace) -> dict:
    """Routing, then the shadow's overhead back to back and paced."""
    figures = {"routing": routing(service, bodies, args.requests)}
    for label, rate, per_round in (("back_to_back", None, args.per_round),
                                   (f"paced_{args.rate:g}_per_s", args.rate, args.paced_per_round)):
        before = shadow_counts(service)
        figures[f"shadow_{label}"] = overhead(service, bodies, args.rounds, per_round, rate)
        after = shadow_counts(service)
        figures[f"shadow_{label}"].update({k: after[k] - before[k] for k in ("requests", "dropped")},
                                          agreement=after["agreement"])
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = pd.read_csv(args.data).drop(columns=args.target).head(200)
    bodies = [line.encode() + b"\n" for line in rows.to_csv(index=False, header=False).splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        service = ServiceProcess(Path(tmp) / "data").start(timeout=60)
        try:
            setup(service, Path(args.data), args.target)
            warm_shadow(service, bodies)  # beside busy processes an idle shadow may never load
            with busy_processes(args.busy):
                figures = measure(service, bodies, args)
        finally:
            service.stop()
    figures["busy"] = args.busy
    figures["targets"] = TARGETS
    figures["load_at_end"] = os.getloadavg()
    figures["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(json.dumps(figures, indent=2))
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    with open(args.results, "a") as fh:
        fh.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
