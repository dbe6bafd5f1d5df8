#!/usr/bin/env python3
"""Monitoring benchmark: false alarms, power, CBPE accuracy and scale of automl.monitoring.

    python benchmarks/monitoring.py                      # every dataset, over HTTP
    python benchmarks/monitoring.py --datasets adult,titanic --mode inprocess
    python benchmarks/monitoring.py --scale-only

Per dataset (default: every one in MANIFEST.tsv): a short job (``--max-candidates``, default
3) on the fixed 75/25 split of benchmarks/accuracy.py; its baseline (``<output>/monitoring``);
then the first ``--max-rows`` (default 3,000) rows of the 25 % test split in windows of
``--window`` rows (default 1,000; the whole split when smaller).

``--mode http`` (default): the windows are sent as header-less CSV requests of ``--batch``
rows (default 10: single-row requests of every dataset took ~50 ms each on a loaded 2-core
machine, over 20 minutes) to a real ``automl serve-model RUN --capture-dir DIR
--capture-percent 100``, once unshifted and once with 10 % of the monitored columns (at least
one, drawn per window) shifted (numeric: +0.5 standard deviation of the training column;
categorical and boolean: 20 points of frequency moved from the most frequent level to the
next). Each request's inference id names its window and first row; the capture is split by
window (and by the window's first 100/250/500 rows) into directories that
:func:`automl.monitoring.run.run_monitoring` (what ``automl monitor`` runs) checks:
- false alarms: the share of (monitored column, window) pairs flagged as drifted, unshifted;
- power: the share of shifted (column, window) pairs flagged on the window, and on its first
  100/250/500 rows; the median rows it took;
- quality: the unshifted capture with a ground-truth file (``inference_id,label`` built from
  the replay's ids): the reported metric against the one computed offline on the same rows,
  and CBPE's estimated accuracy/AUC against the realised ones (classification).
``--mode inprocess``: the same checks on the windows as frames (one shifted column per copy).
Scale: a monitoring run over 1,000,000 rows x 20 columns (15 numeric, 5 categorical) on a
frame, and read back from a capture directory (1,000 requests of 1,000 CSV rows, written
beforehand by another process), each in a fresh process: wall seconds and peak RSS (which
includes the 100,000-row baseline and, for the frame run, the frame itself).
Overhead: single-row CSV invocations of the standalone app in-process, capture off and at
100 %, alternating: p50/p99 ms. Prints a table and appends JSON lines to
benchmarks/results/monitoring.jsonl.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests.e2e.service_process: the ModelServer
from run_one import data_dir, load_split, read_manifest  # noqa: E402

import automl  # noqa: E402
from automl.endpoint_monitor import model_outputs  # noqa: E402
from automl.jsonable import dumps  # noqa: E402
from automl.monitoring.baseline import DRIFT_ROLES, Baseline, build_baseline  # noqa: E402
from automl.monitoring.checks import check_window  # noqa: E402
from automl.monitoring.quality import (  # noqa: E402
    encode_labels,
    estimate_quality,
    measure_quality,
    parse_ground_truth,
)
from automl.monitoring.run import run_monitoring  # noqa: E402
from automl.serving.server import INFERENCE_ID  # noqa: E402

PREFIXES = (100, 250, 500)


def shift(window: pd.DataFrame, column: str, role: str, sd: float, rng) -> pd.DataFrame:
    """The window with ``column`` shifted as the module doc says."""
    out = window.copy()
    if role == "numeric":
        out[column] = pd.to_numeric(out[column], errors="coerce") + 0.5 * sd
        return out
    values = out[column].astype(object)
    present = values.dropna().astype(str)
    counts = present.value_counts()
    if len(counts) < 2:
        return out
    top, other = counts.index[0], counts.index[1]
    rows = present.index[present == top]
    moved = rng.choice(rows, min(len(rows), int(0.2 * len(out))), replace=False)
    out[column] = values.astype(str).where(values.notna())
    out.loc[moved, column] = other  # the column is text now (a number-coded level too)
    return out


def windows(test: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    n = max(1, len(test) // size)
    return [test.iloc[i * size:(i + 1) * size] for i in range(n)] if len(test) >= size else [test]


def drifted(frame, baseline, schema) -> set[str]:
    return set(check_window(frame, baseline, schema).report["dataset"]["drifted_columns"])


def fitted(name: str, meta: dict, args) -> dict:
    """A short job on the dataset's 75/25 split: the bundle, its baseline and what the
    replays need (monitored columns, training standard deviations)."""
    train, test = load_split(data_dir(), name, meta["target"], meta["task"])
    out = Path(tempfile.mkdtemp(prefix=f"monitor-{name}-"))
    t0 = time.time()
    result = automl.fit(train, meta["target"], time_budget=None, max_candidates=args.max_candidates,
                        seed=0, output=out)
    fit_s = time.time() - t0
    bundle = result.model
    schema = bundle.schema.to_dict()
    monitored = {c["name"]: c["role"] for c in schema["columns"] if c["role"] in DRIFT_ROLES}
    sds = {n: result.job.baseline.feature(n)["numerical_statistics"].get("std_dev", 0.0)
           for n, r in monitored.items() if r == "numeric"}
    if args.max_rows and len(test) > args.max_rows:
        test = test.iloc[:args.max_rows]
    return {"out": out, "target": meta["target"], "bundle": bundle, "baseline": Baseline.load(out / "monitoring"),
            "schema": schema, "monitored": monitored, "sds": sds, "test": test,
            "line": {"dataset": name, "task": meta["task"], "fit_s": round(fit_s, 1),
                     "test_rows": len(test), "monitored_columns": len(monitored)}}


def dataset_run(name: str, meta: dict, args) -> dict:
    """One dataset, in process (``--mode inprocess``) or over HTTP (``--mode http``)."""
    fit = fitted(name, meta, args)
    if args.mode == "http":
        return {**fit["line"], **http_run(fit, meta, args)}
    bundle, baseline, schema, monitored = (fit[k] for k in ("bundle", "baseline", "schema",
                                                            "monitored"))
    test = fit["test"]
    parts = windows(test.drop(columns=[meta["target"]]), args.window)
    false = sum(len(drifted(w, baseline, schema)) for w in parts)
    power = _power(parts, monitored, fit["sds"], baseline, schema)
    line = {**fit["line"], "mode": "inprocess", "windows": len(parts),
            "window_rows": len(parts[0]),
            "false_alarm_share": false / (len(parts) * len(monitored)), **power}
    line.update(_cbpe(bundle, test, meta))
    return line


def _power(parts, monitored, sds, baseline, schema) -> dict:
    rng = np.random.default_rng(0)
    names = sorted(monitored)
    k = max(1, round(0.1 * len(names)))
    hits, trials, first = 0, 0, {n: 0 for n in PREFIXES}
    for window in parts:
        for column in rng.choice(names, k, replace=False):
            shifted = shift(window, column, monitored[column], sds.get(column, 0.0), rng)
            trials += 1
            hits += column in drifted(shifted, baseline, schema)
            for n in PREFIXES:
                first[n] += column in drifted(shifted.iloc[:n], baseline, schema)
    return {"shifted_pairs": trials, "power": hits / trials,
            **{f"power_at_{n}": first[n] / trials for n in PREFIXES}}


def _cbpe(bundle, test: pd.DataFrame, meta: dict) -> dict:
    if bundle.task == "regression":
        return {}
    matrix = bundle.matrix(bundle.schema.coerce(test, strict=False))
    y = encode_labels(test[meta["target"]].astype(str), bundle.task, bundle.classes)
    real = measure_quality(y, matrix, bundle.task, "accuracy")["metrics"]
    est = estimate_quality(matrix, bundle.task, "accuracy")["metrics"]
    return {"accuracy": real["accuracy"], "estimated_accuracy": est["accuracy"],
            "auc": real.get("auc"), "estimated_auc": est["auc"]}


# ---------------------------------------------------------------- over HTTP

def http_run(fit: dict, meta: dict, args) -> dict:
    """Replay the test split through a real ``automl serve-model --capture-dir`` twice
    (unshifted; then with 10 % of the monitored columns shifted in every window), and
    monitor the captured directories with the functions ``automl monitor`` runs."""
    features = fit["test"].drop(columns=[meta["target"]])
    parts = windows(features, args.window)
    shifted, chosen = shift_windows(parts, fit["monitored"], fit["sds"])
    with tempfile.TemporaryDirectory(prefix="monitor-http-") as directory:
        root = Path(directory)
        t0 = time.perf_counter()
        ids, failed = replay(fit["out"], parts, root / "plain", args.batch)
        failed += replay(fit["out"], shifted, root / "shifted", args.batch)[1]
        replay_s = time.perf_counter() - t0
        false = sum(len(window_drift(root / "plain", root / f"plain-{w}", w, None, fit))
                    for w in range(len(parts)))
        detect = _detections(root, parts, chosen, fit)
        labels = fit["test"].loc[[i for p in parts for i in p.index], fit["target"]]
        quality = _http_quality(fit, root, ids, labels)
    line = {"mode": "http", "batch_rows": args.batch, "requests": 2 * sum(-(-len(p) // args.batch) for p in parts),
            "failed": failed, "replay_s": round(replay_s, 1), "windows": len(parts),
            "window_rows": len(parts[0]),
            "false_alarm_share": false / (len(parts) * len(fit["monitored"])), **detect}
    return {**line, **quality}


def shift_windows(parts, monitored: dict, sds: dict) -> tuple[list, list[list[str]]]:
    """Every window with 10 % of the monitored columns (at least one, drawn per window)
    shifted as :func:`shift` does, and the columns drawn."""
    rng = np.random.default_rng(0)
    names = sorted(monitored)
    k = max(1, round(0.1 * len(names)))
    shifted, chosen = [], []
    for window in parts:
        columns = [str(c) for c in rng.choice(names, k, replace=False)]
        out = window
        for column in columns:
            out = shift(out, column, monitored[column], sds.get(column, 0.0), rng)
        shifted.append(out)
        chosen.append(columns)
    return shifted, chosen


def replay(run_dir: Path, parts, capture_dir: Path, batch: int) -> tuple[list[str], int]:
    """POST ``parts`` (windows of raw rows) as header-less CSV requests of ``batch`` rows,
    JSON answers, to a fresh ``automl serve-model --capture-dir capture_dir``; the inference
    id of request ``r`` of window ``w`` is ``w<w>-r<first row>``. Returns every row's id
    (``<id>:<row>`` within a batch, as the capture reader numbers them) and the failures."""
    from tests.e2e.service_process import ModelServer

    server = ModelServer(run_dir, "--capture-dir", str(capture_dir), "--capture-percent", "100")
    ids, failed = [], 0
    try:
        with requests.Session() as session:
            for w, part in enumerate(parts):
                for start in range(0, len(part), batch):
                    rows, rid = part.iloc[start:start + batch], f"w{w}-r{start}"
                    answer = session.post(
                        server.url + "/invocations", data=rows.to_csv(index=False, header=False),
                        headers={"Content-Type": "text/csv", "Accept": "application/json",
                                 INFERENCE_ID: rid}, timeout=60)
                    failed += answer.status_code != 200
                    ids += [rid] if len(rows) == 1 else [f"{rid}:{i}" for i in range(len(rows))]
    finally:
        server.stop()  # SIGTERM: the workers flush their capture before exiting
    return ids, failed


def request_position(inference_id: str) -> tuple[int, int]:
    """(window, first row) of a replayed request's inference id ``w<window>-r<row>``."""
    window, row = inference_id.removeprefix("w").split("-r")
    return int(window), int(row)


def split_capture(source: Path, target: Path, window: int, rows: int | None) -> Path:
    """A copy of the capture under ``source`` holding only window ``window``'s requests (its
    first ``rows`` rows when given), in the same hourly files, for a run over it alone."""
    for path in sorted(source.rglob("*.jsonl")):
        kept = []
        for line in path.read_text().splitlines(keepends=True):
            w, start = request_position(json.loads(line)["eventMetadata"]["inferenceId"])
            if w == window and (rows is None or start < rows):
                kept.append(line)
        if kept:
            out = target / path.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text("".join(kept))
    return target


def window_drift(source: Path, target: Path, window: int, rows: int | None, fit: dict) -> set:
    """The columns a monitoring run flags as drifted over one window's captured requests."""
    bundle = fit["bundle"]
    metadata = {**bundle.metadata, "task": bundle.task, "classes": bundle.classes}
    run = run_monitoring(split_capture(source, target, window, rows), fit["baseline"],
                         fit["schema"], metadata)
    return set(run.report["dataset"]["drifted_columns"])


def _detections(root: Path, parts, chosen: list[list[str]], fit: dict) -> dict:
    """Power on the shifted replay: the share of shifted (column, window) pairs flagged on the
    window and on its first 100/250/500 rows, and the rows it took (median of the smallest
    prefix that flagged each detected pair)."""
    size = len(parts[0])
    prefixes = [n for n in PREFIXES if n < size] + [size]
    first: dict[tuple, int] = {}
    full: set[tuple] = set()
    for w, columns in enumerate(chosen):
        for n in reversed(prefixes):
            found = window_drift(root / "shifted", root / f"shifted-{w}-{n}", w, n, fit)
            first.update({(w, c): n for c in columns if c in found})
            full |= {(w, c) for c in columns if c in found and n == size}
    pairs = sum(len(c) for c in chosen)
    out = {"shifted_pairs": pairs, "power": len(full) / pairs}
    for n in PREFIXES:
        out[f"power_at_{n}"] = sum(v <= n for v in first.values()) / pairs
    out["rows_to_detect_median"] = float(np.median(list(first.values()))) if first else None
    return out


def _http_quality(fit: dict, root: Path, ids: list[str], labels: pd.Series) -> dict:
    """What ``automl monitor RUN CAPTURE --ground-truth FILE`` runs, over the unshifted
    capture, less the attribution check (a permutation SHAP of the whole capture: minutes on
    a loaded machine even for titanic): the reported metric against the one computed offline
    on the same rows, and (classification) CBPE's estimates against the realised accuracy
    and AUC."""
    bundle = fit["bundle"]
    truth = root / "ground_truth.csv"
    pd.DataFrame({"inference_id": ids, "label": labels.astype(str).to_numpy()}).to_csv(
        truth, index=False)
    metadata = {**bundle.metadata, "task": bundle.task, "classes": bundle.classes}
    run = run_monitoring(root / "plain", fit["baseline"], fit["schema"], metadata,
                         predict=model_outputs(bundle),
                         ground_truth=parse_ground_truth(truth.read_bytes()))
    report = json.loads(dumps(run.report))
    frame = fit["test"].loc[labels.index]
    matrix = bundle.matrix(bundle.schema.coerce(frame, strict=False))
    y = encode_labels(labels.astype(str), bundle.task, bundle.classes)
    offline = measure_quality(y, matrix, bundle.task, bundle.metadata.get("metric"))
    real = report["quality"]
    out = {"metric": real["metric"], "reported_metric": real["value"],
           "offline_metric": offline["value"], "labelled_rows": real["rows"]}
    estimated = report.get("estimated_quality")
    if estimated:
        out.update({"accuracy": real["metrics"].get("accuracy"),
                    "estimated_accuracy": estimated["metrics"]["accuracy"],
                    "auc": real["metrics"].get("auc"),
                    "estimated_auc": estimated["metrics"]["auc"]})
    return out


# ---------------------------------------------------------------- scale, in a fresh process

def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    columns = {f"x{i}": rng.normal(i, 1 + i % 3, n) for i in range(15)}
    levels = np.array([f"level{j}" for j in range(12)], dtype=object)
    columns.update({f"c{i}": levels[rng.integers(0, 12, n)] for i in range(5)})
    schema = {"target": "y", "dropped": {}, "columns": [
        {"name": c, "role": "numeric" if c.startswith("x") else "categorical",
         "numeric_codes": False} for c in columns]}
    return pd.DataFrame(columns), schema


def scale_child(mode: str, rows: int, directory: str) -> dict:
    """``write``: capture ``rows`` synthetic rows as 1,000-row CSV requests under
    ``directory``; ``frame`` / ``capture``: one monitoring run on the rows as a frame, or
    read back from ``directory``."""
    from automl.data.schema import InputSchema
    from automl.monitoring.capture import CaptureWriter
    from automl.monitoring.reader import read_window

    train, schema = synthetic(100_000, 0)
    if mode == "write":
        frame, _ = synthetic(rows, 1)
        writer = CaptureWriter(directory, "scale", queue_size=100_000)
        for start in range(0, rows, 1000):
            body = frame.iloc[start:start + 1000].to_csv(index=False, header=False)
            writer.capture(body, "text/csv", "", "text/csv")
        writer.close(timeout=600)
        return writer.stats()
    baseline = build_baseline(InputSchema.from_dict(schema).coerce(train, strict=False), schema)
    del train
    frame = synthetic(rows, 1)[0] if mode == "frame" else None
    rss_before = peak_rss_mib()
    t0 = time.perf_counter()
    if mode == "capture":
        frame = read_window(directory, [c["name"] for c in schema["columns"]]).frame
    read_s = time.perf_counter() - t0
    result = check_window(frame, baseline, schema)
    total_s = time.perf_counter() - t0
    return {"mode": mode, "rows": len(frame), "columns": len(schema["columns"]),
            "read_s": round(read_s, 2), "total_s": round(total_s, 2),
            "peak_rss_mib": peak_rss_mib(), "peak_rss_before_run_mib": rss_before,
            "violations": len(result.violations)}


def peak_rss_mib() -> int:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the
    parent across exec)."""
    with open("/proc/self/status") as fh:
        line = next(line for line in fh if line.startswith("VmHWM:"))
    return round(int(line.split()[1]) / 1024)


def _child(mode: str, rows: int, directory: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--scale-child", mode, "--rows", str(rows),
                           "--capture-dir", directory], capture_output=True, text=True,
                          timeout=3600)
    if done.returncode != 0:
        return {"mode": mode, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def scale(rows: int) -> list[dict]:
    """The scale runs, each in a fresh process (peak RSS is the run's own)."""
    with tempfile.TemporaryDirectory() as directory:
        _child("write", rows, directory)
        return [_child("frame", rows, directory), _child("capture", rows, directory)]


# ---------------------------------------------------------------- capture overhead

def overhead(bundle_dir: str | None, requests: int) -> dict:
    """Single-row CSV invocations through the standalone app (Flask's test client, no
    network), capture off and at 100 % in alternating rounds: p50/p99 ms of each."""
    from automl.monitoring.capture import CaptureWriter
    from automl.serving.server import create_model_app

    if bundle_dir is None:
        bundle_dir = tempfile.mkdtemp(prefix="monitor-overhead-")
        automl.fit(HERE.parent / "sample_data" / "titanic.csv", "Survived", time_budget=None,
                   max_candidates=2, seed=0, output=bundle_dir)
    rows = automl.load(bundle_dir).background  # clean training rows kept with the bundle
    bodies = [rows.iloc[[i % len(rows)]].to_csv(index=False, header=False) for i in range(200)]
    failed = 0
    with tempfile.TemporaryDirectory() as capture_dir:
        writer = CaptureWriter(capture_dir, "overhead")
        clients = {"off": create_model_app(bundle_dir).test_client(),
                   "on": create_model_app(bundle_dir, capture=writer).test_client()}
        times = {"off": [], "on": []}
        for i in range(requests):
            for mode in ("off", "on") if i % 2 else ("on", "off"):
                t0 = time.perf_counter()
                answer = clients[mode].post("/invocations", data=bodies[i % len(bodies)],
                                            content_type="text/csv")
                times[mode].append((time.perf_counter() - t0) * 1000)
                failed += answer.status_code != 200
        calls = []
        for i in range(requests):
            t0 = time.perf_counter()
            writer.capture(bodies[i % len(bodies)], "text/csv", "0.5\n", "text/csv")
            calls.append((time.perf_counter() - t0) * 1e6)
        writer.close()
        stats = writer.stats()
    out = {"mode": "overhead", "capture_call_us_p50": round(float(np.percentile(calls, 50)), 1),
           "capture_call_us_p99": round(float(np.percentile(calls, 99)), 1), "requests": requests, "captured": stats["captured"],
           "dropped": stats["dropped"], "failed": failed}
    for mode, values in times.items():
        out[f"p50_ms_{mode}"] = round(float(np.percentile(values[50:], 50)), 3)
        out[f"p99_ms_{mode}"] = round(float(np.percentile(values[50:], 99)), 3)
    return out


def service_overhead(requests: int) -> dict:
    """Single-row CSV invocations through the whole service app (Flask's test client: the
    endpoint lookup, metrics, InferenceId and capture of the service's invocation path), two
    endpoints of one model, capture at 100 % and at 0 %, in alternating rounds."""
    from automl.jobs.execute import execute
    from automl.service_config import resolve_service_settings
    from web import create_app

    with tempfile.TemporaryDirectory() as data_dir:
        settings = resolve_service_settings(env={}, data_dir=data_dir)
        app = create_app({"TESTING": True, "SERVICE_SETTINGS": settings})
        client = app.test_client()
        sample = HERE.parent / "sample_data" / "titanic.csv"
        dataset = client.post("/api/v1/datasets", data=sample.read_bytes(),
                              content_type="text/csv", query_string={"name": "t.csv"}).json
        job = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "Survived",
                                                "time_budget": None, "max_candidates": 2}).json
        store = app.extensions["automl"].store
        store.claim_next()
        execute(store, settings, job["id"])
        for name, percent in (("on", 100), ("off", 0)):
            client.post("/api/v1/endpoints", json={"name": name, "job_id": job["id"],
                                                   "capture_percent": percent})
        rows = pd.read_csv(sample).drop(columns="Survived")
        bodies = [rows.iloc[[i % len(rows)]].to_csv(index=False, header=False)
                  for i in range(200)]
        times, failed = {"off": [], "on": []}, 0
        for i in range(requests):
            for mode in ("off", "on") if i % 2 else ("on", "off"):
                t0 = time.perf_counter()
                answer = client.post(f"/endpoints/{mode}/invocations", data=bodies[i % 200],
                                     content_type="text/csv")
                times[mode].append((time.perf_counter() - t0) * 1000)
                failed += answer.status_code != 200
        app.extensions["automl_endpoints"].observer.flush()
        counts = client.get("/api/v1/endpoints/on/monitoring").json["capture"]
    out = {"mode": "service_overhead", "requests": requests, "failed": failed,
           "captured": counts["captured"], "dropped": counts["dropped"]}
    for mode, values in times.items():
        out[f"p50_ms_{mode}"] = round(float(np.percentile(values[50:], 50)), 3)
        out[f"p99_ms_{mode}"] = round(float(np.percentile(values[50:], 99)), 3)
    return out


# ---------------------------------------------------------------- report

def fmt(value, digits=3) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def print_table(lines: list[dict], scaled: list[dict]) -> None:
    head = ("dataset", "windows x rows", "false alarms", "power@window", "@500", "@250", "@100",
            "rows to detect (median)", "accuracy est/real", "auc est/real",
            "metric reported/offline")
    print(" | ".join(head))
    for d in lines:
        if "error" in d:
            print(f"{d['dataset']}: {d['error']}")
            continue
        print(" | ".join([
            d["dataset"], f"{d['windows']} x {d['window_rows']}", fmt(d["false_alarm_share"]),
            fmt(d["power"]), fmt(d["power_at_500"]), fmt(d["power_at_250"]),
            fmt(d["power_at_100"]), fmt(d.get("rows_to_detect_median"), 0),
            f"{fmt(d.get('estimated_accuracy'))} / {fmt(d.get('accuracy'))}",
            f"{fmt(d.get('estimated_auc'))} / {fmt(d.get('auc'))}",
            f"{d.get('metric', '-')} {fmt(d.get('reported_metric'), 4)} / "
            f"{fmt(d.get('offline_metric'), 4)}"]))
    for s in scaled:
        if s.get("mode") == "service_overhead":
            print(f"service capture overhead ({s['requests']} single-row requests each): p50 "
                  f"{s['p50_ms_off']} -> {s['p50_ms_on']} ms, p99 {s['p99_ms_off']} -> "
                  f"{s['p99_ms_on']} ms; captured {s['captured']}, dropped {s['dropped']}, "
                  f"failed {s['failed']}")
            continue
        if s.get("mode") == "overhead":
            print(f"capture overhead ({s['requests']} single-row requests each): p50 "
                  f"{s['p50_ms_off']} -> {s['p50_ms_on']} ms, p99 {s['p99_ms_off']} -> "
                  f"{s['p99_ms_on']} ms; captured {s['captured']}, dropped {s['dropped']}, "
                  f"failed {s['failed']}; capture() itself p50 {s['capture_call_us_p50']} us, "
                  f"p99 {s['capture_call_us_p99']} us")
            continue
        print(f"scale ({s['mode']}): {s.get('rows')} rows x {s.get('columns')} columns: "
              f"{s.get('total_s')} s (reading {s.get('read_s')} s), peak RSS "
              f"{s.get('peak_rss_mib')} MiB {s.get('error', '')}")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=None,
                        help="comma-separated (default: every dataset in MANIFEST.tsv)")
    parser.add_argument("--mode", choices=("http", "inprocess"), default="http",
                        help="replay through a real serve-model endpoint, or check in process")
    parser.add_argument("--batch", type=int, default=10, help="rows per HTTP request")
    parser.add_argument("--max-rows", type=int, default=3000,
                        help="test rows replayed per dataset (0: all)")
    parser.add_argument("--max-candidates", type=int, default=3)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scale-only", action="store_true")
    parser.add_argument("--no-scale", action="store_true")
    parser.add_argument("--overhead", type=int, default=2000,
                        help="single-row requests per mode for the capture overhead (0: skip)")
    parser.add_argument("--service-overhead", type=int, default=2000,
                        help="single-row requests per mode through the service app (0: skip)")
    parser.add_argument("--bundle", default=None,
                        help="run output for the overhead (default: a titanic job of 2 trials)")
    parser.add_argument("--scale-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--capture-dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--results", default=str(HERE / "results" / "monitoring.jsonl"))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.scale_child:
        print(json.dumps(scale_child(args.scale_child, args.rows, args.capture_dir)))
        return 0
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def record(line: dict) -> dict:  # appended as it comes: a long run keeps what it did
        with open(args.results, "a") as fh:
            fh.write(json.dumps({"at": stamp, **line}, default=str) + "\n")
        return line

    manifest = read_manifest(data_dir())
    names = args.datasets.split(",") if args.datasets else list(manifest)
    lines = [] if args.scale_only else [record(_guarded(n, manifest[n], args)) for n in names]
    scaled = [] if args.no_scale else [record(s) for s in scale(args.rows)]
    if args.overhead:
        scaled.append(record(overhead(args.bundle, args.overhead)))
    if args.service_overhead:
        scaled.append(record(service_overhead(args.service_overhead)))
    print_table(lines, scaled)
    return 0


def _guarded(name: str, meta: dict, args) -> dict:
    """One dataset's line, or its error (the other datasets still run)."""
    try:
        return dataset_run(name, meta, args)
    except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
        return {"dataset": name, "error": f"{type(exc).__name__}: {exc}"}

if __name__ == "__main__":
    sys.exit(main())
