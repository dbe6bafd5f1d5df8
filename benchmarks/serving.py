#!/usr/bin/env python3
"""Serving benchmark: every kind of winner's latency and throughput, against a constant app.

    python benchmarks/serving.py                           # every subject below
    python benchmarks/serving.py --subjects families       # forced winners of each family only
    python benchmarks/serving.py --bundle DIR              # one existing bundle

Subjects (issue 15's "Measured"): a forced winner of every family on titanic (its ``Name`` is a
text column, so every recipe's text path is in it), a voting ensemble with that text column
(linear, k-NN, HistGradientBoosting, random forest), and the winner of a short job
(``--job-budget`` seconds) on each of ``--datasets`` in ../shared/datasets. For each: in-process
single-row p50 (``invoke`` on a one-row CSV body, as the endpoint calls it; beside it the
single-row latency the job's leaderboard reported for the bundle, "board ms"), HTTP single-row
p50/p99 over loopback against ``automl serve-model`` (gunicorn, 2 sync workers), requests/s with
1, 4 and 16 concurrent clients, and batch rows/s (``stream_predictions``: CSV in, CSV out) on
10,000 rows. A Flask app returning a constant runs under the same gunicorn settings for the
whole run; every HTTP figure alternates between it and the model server in ``ROUNDS`` rounds
(medians kept), so the ratio holds on a loaded machine even where absolute figures do not.
Clients are threads in this process, on the same machine. Prints a table and appends one JSON
line per run to benchmarks/results/serving.jsonl (or --results).

``--service`` measures the service's endpoints instead: ``automl serve`` (a temporary data
directory) runs a ``--job-budget`` job on each of ``--datasets`` and deploys its winner; copies of
that data directory are served by two ``automl serve``, one with ``AUTOML_FLASK_INVOCATIONS=1``.
Single-row keep-alive p50/p99 of ``POST /endpoints/<name>/invocations`` on one connection per
server, requests to the fast path and the Flask path interleaved one by one (the service that
ran the jobs is not measured: both measured ones start alike, from copies of its data).
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
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "benchmarks" / "results" / "serving.jsonl"
ROUNDS = 3
TARGETS = {"p50_ms": 3.0, "p99_ms": 15.0, "throughput_ratio": 0.70, "batch_rows_per_s": 100_000}
FAMILIES = ("lightgbm", "hist_gradient_boosting", "random_forest", "extra_trees", "linear", "knn",
            "mlp", "xgboost", "catboost")
ENSEMBLE = {"linear": 0.4, "knn": 0.2, "hist_gradient_boosting": 0.2, "random_forest": 0.2}
JOB_DATASETS = ("credit_g", "bank_marketing", "vehicle", "abalone")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", help="measure this one bundle only")
    parser.add_argument("--rows", help="with --bundle: the CSV its request rows come from "
                                       "(default: adult.csv in --data-dir)")
    parser.add_argument("--subjects", default="families,ensemble,jobs",
                        help="comma-separated: families, ensemble, jobs")
    parser.add_argument("--datasets", default=",".join(JOB_DATASETS))
    parser.add_argument("--job-budget", type=float, default=20.0, help="seconds per job")
    parser.add_argument("--data-dir", default=str(DATASETS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--requests", type=int, default=300, help="latency requests per server")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="per throughput level and server, over all rounds")
    parser.add_argument("--flask-path", action="store_true",
                        help="also measure each model through Flask's full request handling "
                             "(serve-model --flask-invocations), in the same rounds")
    parser.add_argument("--service", action="store_true",
                        help="measure `automl serve` endpoints (a job's winner on each of "
                             "--datasets), fast path against AUTOML_FLASK_INVOCATIONS=1")
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--constant-server", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def target_of(data_dir: Path, name: str) -> str:
    manifest = pd.read_csv(data_dir / "MANIFEST.tsv", sep="\t")
    return str(manifest.set_index("name").loc[name, "target"])


def forced_bundles(data_dir: Path, work: Path) -> dict[str, Path]:
    """A bundle per family (its first default, fit on all of titanic), and the ensemble."""
    from automl.candidates.base import DataShape
    from automl.candidates.generator import build_pipeline, generate_candidates
    from automl.data.profile import profile_dataset
    from automl.data.schema import InputSchema
    from automl.finalize import assemble_ensemble
    from automl.model.bundle import ModelBundle
    from automl.search.evaluate import TrainingData

    profile, kept = profile_dataset(pd.read_csv(data_dir / "titanic.csv"), "Survived")
    schema = InputSchema.from_profile(profile)
    X = schema.coerce(kept, strict=False)
    labels, y = np.unique(kept["Survived"].to_numpy(), return_inverse=True)
    shape = DataShape(len(X), X.shape[1], "binary", 2)
    fitted, out = {}, {}
    for family in FAMILIES:
        try:
            spec = generate_candidates(shape, families=[family])[0]
        except KeyError:
            continue  # an optional family that is not installed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted[family] = build_pipeline(spec, spec.defaults[0], schema, 0).fit(X, y)
        bundle = ModelBundle(fitted[family], schema, "binary", labels.tolist(),
                             {"family": family})
        out[family] = bundle.save(work / family)
    data = TrainingData(X, y, "binary", 2, schema, [])
    ensemble = assemble_ensemble({f: fitted[f] for f in ENSEMBLE}, ENSEMBLE, data)
    bundle = ModelBundle(ensemble, schema, "binary", labels.tolist(),
                         {"family": "ensemble(" + "+".join(ENSEMBLE) + ")"})
    out["ensemble, text"] = bundle.save(work / "ensemble")
    return out


def job_bundle(data_dir: Path, name: str, budget: float, directory: Path) -> Path:
    """The winner of a ``budget``-second job on dataset ``name``."""
    import automl

    result = automl.fit(data_dir / f"{name}.csv", target_of(data_dir, name), time_budget=budget,
                        seed=0)
    result.model.save(directory)
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (gunicorn's master and workers)."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in (root, *root.children(recursive=True)):
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def throughput(port: int, bodies: list[bytes], clients: int, seconds: float,
               pid: int) -> dict:
    """Requests/s with ``clients`` threads, and the CPU each request cost the server (process
    ``pid`` and its workers) and this client process, in microseconds: CPU time, unlike wall
    time, does not depend on what else the machine runs."""
    counts = [0] * clients
    stop_at = time.perf_counter() + seconds

    def client(k: int) -> None:
        i = k
        while time.perf_counter() < stop_at:
            post(port, "POST", "/invocations", bodies[i % len(bodies)])
            counts[k] += 1
            i += clients

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    server, mine, t = cpu_seconds(pid), time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, n = time.perf_counter() - t, max(1, sum(counts))
    return {"rps": sum(counts) / wall, "server_us": (cpu_seconds(pid) - server) / n * 1e6,
            "client_us": (time.process_time() - mine) / n * 1e6}


def measure_http(args: argparse.Namespace, bundle_dir: Path, constant: subprocess.Popen,
                 constant_port: int, bodies: list[bytes]) -> dict:
    """The model server beside the constant one (started once for the run), idle in turn:
    every measurement alternates between them in ``ROUNDS`` rounds and keeps the median, so
    drift in what else the machine does (it has two cores) falls on both alike."""
    ports, procs = {"constant": constant_port}, []
    pids = {"constant": constant.pid}
    servers = (("model", []), ("flask_path", ["--flask-invocations"]))
    try:
        for name, extra in servers[:2 if args.flask_path else 1]:
            ports[name] = free_port()
            procs.append(proc := start([sys.executable, "-m", "automl.cli", "serve-model",
                                str(bundle_dir), "--port", str(ports[name]), "--workers",
                                str(args.workers), "--threads", str(args.threads), *extra],
                               ports[name]))
            pids[name] = proc.pid
        for p in ports.values():
            latency(p, bodies, 50)  # warm-up
        out = {name: {"p50_ms": [], "p99_ms": []} for name in ports}
        for _ in range(ROUNDS):
            for name, p in ports.items():
                for key, value in latency(p, bodies, args.requests // ROUNDS).items():
                    out[name][key].append(value)
        for clients in (1, 4, 16):
            runs = {name: [] for name in ports}
            for _ in range(ROUNDS):
                for name, p in ports.items():
                    runs[name].append(throughput(p, bodies, clients, args.seconds / ROUNDS,
                                                 pids[name]))
            for name in ports:
                for key in ("rps", "server_us", "client_us"):
                    out[name][f"{key}_{clients}"] = float(np.median([r[key] for r in runs[name]]))
        for name in ports:
            for key in ("p50_ms", "p99_ms"):
                out[name][key] = float(np.median(out[name][key]))
        return out
    finally:
        for proc in procs:
            stop(proc)


def timed_post(conn: http.client.HTTPConnection, path: str, body: bytes) -> float:
    """One single-row invocation on a kept-alive connection, in ms."""
    t = time.perf_counter()
    conn.request("POST", path, body, {"Content-Type": "text/csv", "Accept": "application/json"})
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 200, answer.status
    return (time.perf_counter() - t) * 1000


def service_endpoints(service, data_dir: Path, names: list[str], budget: float) -> dict:
    """Run a ``budget``-second job on each dataset through ``service``'s API and deploy its
    winner: ``{endpoint name: {"family", "bodies"}}``."""
    out = {}
    for name in names:
        target = target_of(data_dir, name)
        with open(data_dir / f"{name}.csv", "rb") as fh:
            dataset = service.post("/api/v1/datasets", files={"file": (f"{name}.csv", fh)}).json()
        job = service.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": target,
                                                 "time_budget": budget}).json()
        done = service.wait_for(job["id"], lambda j: j["status"] in ("completed", "failed"),
                                3 * budget + 300)
        if done["status"] != "completed":
            print(f"{name}: the job {done['status']}: {(done.get('error') or {}).get('message')}",
                  file=sys.stderr)
            continue
        winner = service.get(f"/api/v1/jobs/{job['id']}/leaderboard").json()["rows"][0]
        endpoint = name.replace("_", "-")
        service.post("/api/v1/endpoints", json={"name": endpoint, "job_id": job["id"]}
                     ).raise_for_status()
        rows = pd.read_csv(data_dir / f"{name}.csv", dtype=str, keep_default_na=False)
        lines = rows.drop(columns=target).head(200).to_csv(header=False, index=False)
        out[endpoint] = {"family": winner.get("family"),
                         "bodies": [r.encode() for r in lines.splitlines()]}
    return out


def measure_service(args: argparse.Namespace) -> dict:
    """The service's endpoints on the fast path and through Flask (two ``automl serve`` on
    copies of the data directory a third one ran the jobs in), requests interleaved."""
    import shutil
    import tempfile

    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from service_process import ServiceProcess

    work = Path(tempfile.mkdtemp(prefix="automl-serving-service-"))
    (work / "job").mkdir()
    services = {"job": ServiceProcess(work / "job" / "data").start()}
    try:
        endpoints = service_endpoints(services["job"], Path(args.data_dir),
                                      list(filter(None, args.datasets.split(","))),
                                      args.job_budget)
        services.pop("job").stop()  # both measured services start alike, from copies
        for name, env in (("fast", {}), ("flask", {"AUTOML_FLASK_INVOCATIONS": "1"})):
            shutil.copytree(work / "job", work / name)
            services[name] = ServiceProcess(work / name / "data", env=env).start()
        ports = {name: service.port for name, service in services.items()}
        return {endpoint: {"family": found["family"], **alternate(
            ports, f"/endpoints/{endpoint}/invocations", found["bodies"], args.requests)}
            for endpoint, found in endpoints.items()}
    finally:
        for service in services.values():
            service.stop()
        shutil.rmtree(work, ignore_errors=True)


def alternate(ports: dict[str, int], path: str, bodies: list[bytes], n: int) -> dict:
    """Keep-alive p50/p99 of each server (one connection each) after 50 warm-up requests:
    ``n`` requests each, interleaved one by one in turn (the order reversed every other turn),
    so whatever else the machine does falls on every server alike."""
    conns = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=30)
             for name, port in ports.items()}
    times: dict[str, list[float]] = {name: [] for name in ports}
    try:
        for i in range(50 + n):
            for name in (list(conns) if i % 2 else list(conns)[::-1]):
                took = timed_post(conns[name], path, bodies[i % len(bodies)])
                if i >= 50:
                    times[name].append(took)
    finally:
        for conn in conns.values():
            conn.close()
    return {name: {"p50_ms": float(np.percentile(t, 50)), "p99_ms": float(np.percentile(t, 99))}
            for name, t in times.items()}


def service_main(args: argparse.Namespace) -> int:
    """``--service``: print the figures and append them to the results as one JSON line."""
    run = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
           "load_before": [round(x, 2) for x in os.getloadavg()], "service": True,
           "requests": args.requests, "job_budget": args.job_budget}
    run["endpoints"] = measure_service(args)
    run["load_after"] = [round(x, 2) for x in os.getloadavg()]
    for endpoint, figures in run["endpoints"].items():
        print(f"{endpoint} ({figures['family']}): keep-alive single row, " + "; ".join(
            f"{name} p50 {figures[name]['p50_ms']:.2f} ms p99 {figures[name]['p99_ms']:.2f} ms"
            for name in ("fast", "flask")))
    print(f"targets p50 <= {TARGETS['p50_ms']} ms, p99 <= {TARGETS['p99_ms']} ms; load average "
          f"before {run['load_before']}, after {run['load_after']}")
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    with open(args.results, "a") as fh:
        fh.write(json.dumps(run) + "\n")
    return 0


def measure_in_process(bundle, rows: pd.DataFrame, bodies: list[bytes]) -> dict:
    """Single-row ``invoke`` p50 (and the pandas route it replaced: ``predict_proba`` of a
    one-row frame through the pipeline), and batch rows/s streamed CSV to CSV."""
    from automl.model.pipeline import predict_matrix
    from automl.serving.batch import stream_predictions
    from automl.serving.invocation import CSV, JSON, invoke

    n_classes = len(bundle.classes or ())
    prepared = bundle.prepare(rows.head(200))
    pipeline = _per_call(lambda i: predict_matrix(bundle.model, prepared.iloc[[i % 200]],
                                                  bundle.task, n_classes), 100)
    fast = _per_call(lambda i: invoke(bundle, bodies[i % len(bodies)], CSV, JSON), 500)
    batch = rows.sample(10_000, replace=True, random_state=0).to_csv(index=False).encode()
    t = time.perf_counter()
    pieces = sum(1 for _ in stream_predictions(bundle, io.BytesIO(batch)))
    stream_s = time.perf_counter() - t
    assert pieces >= 1
    return {"pipeline_p50_ms": pipeline, "in_process_p50_ms": fast,
            "batch_rows_per_s": 10_000 / stream_s, "compiled": bundle.compiled() is not None}


def _per_call(fn, n: int) -> float:
    """The median wall time of ``fn(i)`` over ``n`` calls, in ms (after one warm-up call)."""
    fn(0)
    times = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


COLUMNS = ("subject", "family", "pipe ms", "board ms", "inproc ms", "http p50", "http p99",
           "rps1 %", "rps4 %", "rps16 %", "batch rows/s")


def table_row(name: str, figures: dict) -> list[str]:
    ip, model, constant = figures["in_process"], figures["http"]["model"], figures["http"]["constant"]
    ratio = [f"{100 * model[f'rps_{c}'] / constant[f'rps_{c}']:.0f}" for c in (1, 4, 16)]
    board = figures.get("leaderboard_ms")
    return [name, str(figures["family"]), f"{ip['pipeline_p50_ms']:.2f}",
            "-" if board is None else f"{board:.3f}", f"{ip['in_process_p50_ms']:.3f}", f"{model['p50_ms']:.2f}", f"{model['p99_ms']:.2f}",
            *ratio, f"{ip['batch_rows_per_s']:,.0f}"]


def _flask_figures(figures: dict) -> dict:
    """A subject's figures with its Flask-path server's HTTP figures as the model's."""
    return {**figures, "http": {**figures["http"], "model": figures["http"]["flask_path"]}}


def _cpu_figures(server: str, http: dict) -> str:
    shown = []
    for c in (4, 16):
        mine, base = http[server], http["constant"]
        cost = mine.get(f"server_us_{c}", 0) + mine.get(f"client_us_{c}", 0)
        ratio = (base.get(f"server_us_{c}", 0) + base.get(f"client_us_{c}", 0)) / cost if cost else 0
        shown.append(f"{mine.get(f'server_us_{c}', 0):.0f}/{mine.get(f'client_us_{c}', 0):.0f} "
                     f"({100 * ratio:.0f}%)")
    return f"{server} " + ", ".join(shown)


def report(run: dict) -> None:
    rows = [list(COLUMNS)] + [table_row(n, f) for n, f in run["subjects"].items()]
    rows += [table_row(f"{n} (flask path)", _flask_figures(f)) for n, f in run["subjects"].items()
             if f["http"].get("flask_path")]
    widths = [max(len(r[k]) for r in rows) for k in range(len(COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(w) if k < 2 else cell.rjust(w)
                        for k, (cell, w) in enumerate(zip(row, widths, strict=True))))
    print("CPU per request (us, user+system) at 4 and 16 clients, server (gunicorn master + "
          "workers) / client (this process), and the CPU ratio: the constant app's server + "
          "client CPU over the model's, what the requests/s ratio is when the cores are the limit")
    for name, figures in run["subjects"].items():
        print(f"  {name}: " + "; ".join(_cpu_figures(server, figures["http"])
                                        for server in figures["http"]))
    constant = run["constant"]
    print(f"constant app: HTTP p50 {constant['p50_ms']:.2f} ms, p99 {constant['p99_ms']:.2f} ms, "
          + ", ".join(f"{constant[f'rps_{c}']:.0f} req/s at {c}" for c in (1, 4, 16)))
    worst = max(run["subjects"].items(), key=lambda kv: kv[1]["http"]["model"]["p50_ms"])
    print(f"worst HTTP p50: {worst[0]} ({worst[1]['family']}), "
          f"{worst[1]['http']['model']['p50_ms']:.2f} ms; targets {TARGETS}")
    print(f"machine: {run['cpus']} CPUs, load average before {run['load_before']}, after "
          f"{run['load_after']} (shared with other work: absolute figures are pessimistic, "
          "the ratios to the constant app hold)")


def subjects(args: argparse.Namespace, work: Path) -> dict[str, tuple[Path, Path]]:
    """``{name: (bundle directory, the CSV its rows come from)}`` for the chosen subjects."""
    data_dir = Path(args.data_dir)
    if args.bundle:
        return {"bundle": (Path(args.bundle), Path(args.rows or data_dir / "adult.csv"))}
    chosen = set(args.subjects.split(","))
    out = {}
    if chosen & {"families", "ensemble"}:
        for name, directory in forced_bundles(data_dir, work).items():
            if ("ensemble" in name) == ("ensemble" in chosen) or "families" in chosen and \
                    "ensemble" not in name:
                out[name] = (directory, data_dir / "titanic.csv")
    if "jobs" in chosen:
        for name in filter(None, args.datasets.split(",")):
            directory = job_bundle(data_dir, name, args.job_budget, work / "jobs" / name)
            out[f"job: {name}"] = (directory, data_dir / f"{name}.csv")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.constant_server:
        run_constant_server(args)
        return 0
    if args.service:
        return service_main(args)
    from automl.model.bundle import ModelBundle

    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"automl-serving-bench-{os.getpid()}"
    chosen = subjects(args, work)
    here = [sys.executable, str(Path(__file__).resolve()), "--workers", str(args.workers),
            "--threads", str(args.threads)]
    constant_port = free_port()
    constant = start([*here, "--constant-server", str(constant_port)], constant_port)
    run = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
           "load_before": [round(x, 2) for x in os.getloadavg()], "workers": args.workers,
           "threads": args.threads, "targets": TARGETS, "subjects": {}}
    try:
        latency(constant_port, [b"x"], 50)
        for name, (directory, source) in chosen.items():
            bundle = ModelBundle.load(directory)
            rows = pd.read_csv(source, dtype=str, keep_default_na=False)
            rows = rows[[c for c in bundle.metadata.get("input_columns") or bundle.schema.names
                         if c in rows.columns]]
            bodies = [r.encode() for r in rows.head(200).to_csv(header=False, index=False)
                      .splitlines()]
            figures = {"family": _family(bundle), "leaderboard_ms": bundle.metadata.get("latency_ms"),
                       "in_process": measure_in_process(bundle, rows, bodies),
                       "http": measure_http(args, directory, constant, constant_port, bodies)}
            run["subjects"][name] = figures
            print(" ".join(table_row(name, figures)), flush=True)
            if figures["http"].get("flask_path"):
                print(" ".join(table_row(f"{name} (flask path)", _flask_figures(figures))),
                      flush=True)
    finally:
        stop(constant)
    run["constant"] = {k: float(np.median([f["http"]["constant"][k] for f in run["subjects"].values()]))
                       for k in ("p50_ms", "p99_ms", "rps_1", "rps_4", "rps_16")}
    run["load_after"] = [round(x, 2) for x in os.getloadavg()]
    report(run)
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    with open(args.results, "a") as fh:
        fh.write(json.dumps(run) + "\n")
    return 0


def _family(bundle) -> str:
    """The winner's family, or its ensemble's members' families."""
    from automl.candidates.registry import family_of

    members = getattr(bundle.model, "estimators_", None)
    if members is None:
        return str(bundle.metadata.get("family"))
    names = [getattr(family_of(m.steps[-1][1]), "name", "?") for m in members]
    return "ensemble(" + "+".join(names) + ")"


if __name__ == "__main__":
    sys.exit(main())
