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
next); when some drawn columns are few-valued numbers (the baseline keeps their value
frequencies: integer codes, sparse counts), once more with those given a frequency shift
instead (20 % of the rows moved from the window's most frequent value to the training's most
frequent other value: for a sparse count, more non-zeros). Power is reported overall (the
first shifted replay, as before) and by kind of shift: numeric +0.5 sd, few-valued +0.5 sd,
few-valued frequency, categorical frequency; a shift that changes nothing (a column constant
in training, or with one value in the window) is left out of the kinds and counted. Each request's inference id names its window and first row; the capture is split by
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
from automl.monitoring.baseline import (  # noqa: E402
    DRIFT_ROLES,
    Baseline,
    build_baseline,
    is_discrete,
)
from automl.monitoring.checks import check_window  # noqa: E402
from automl.monitoring.quality import (  # noqa: E402
    encode_labels,
    estimate_quality,
    measure_quality,
    parse_ground_truth,
)
from automl.monitoring.run import calibrated_estimate, run_monitoring  # noqa: E402
from automl.serving.server import INFERENCE_ID  # noqa: E402

PREFIXES = (100, 250, 500)
KINDS = ("numeric_sd", "few_valued_sd", "few_valued_freq", "categorical_freq")


def shift(window: pd.DataFrame, column: str, role: str, sd: float, rng,
          values: list[float] | None = None) -> pd.DataFrame:
    """The window with ``column`` shifted as the module doc says (``values``: a few-valued
    numeric column's training values, most frequent first, for a frequency shift)."""
    out = window.copy()
    if values is not None:
        return _frequency_shift(out, column, values, rng)
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


def _frequency_shift(out: pd.DataFrame, column: str, values: list[float], rng) -> pd.DataFrame:
    """20 % of the window's rows moved from its most frequent value of ``column`` to the
    most frequent other training value."""
    numbers = pd.to_numeric(out[column], errors="coerce")
    counts = numbers.value_counts()
    if counts.empty:
        return out
    top = counts.index[0]
    other = next((v for v in values if v != top), None)
    rows = numbers.index[numbers == top]
    if other is None:
        return out
    moved = rng.choice(rows, min(len(rows), int(0.2 * len(out))), replace=False)
    out[column] = numbers
    out.loc[moved, column] = other
    return out


def kind_of(column: str, fit: dict, frequency: bool = False) -> str:
    """The kind of shift a drawn column gets (one of ``KINDS``)."""
    if fit["monitored"][column] != "numeric":
        return "categorical_freq"
    if column in fit["few_valued"]:
        return "few_valued_freq" if frequency else "few_valued_sd"
    return "numeric_sd"


def windows(test: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    n = max(1, len(test) // size)
    return [test.iloc[i * size:(i + 1) * size] for i in range(n)] if len(test) >= size else [test]


def drifted(frame, baseline, schema) -> set[str]:
    return set(check_window(frame, baseline, schema).report["dataset"]["drifted_columns"])


def fitted(name: str, meta: dict, args, out: Path) -> dict:
    """A short job on the dataset's 75/25 split, saved to ``out``: the bundle, its baseline and
    what the replays need (monitored columns, training standard deviations)."""
    train, test = load_split(data_dir(), name, meta["target"], meta["task"])
    t0 = time.time()
    result = automl.fit(train, meta["target"], time_budget=None, max_candidates=args.max_candidates,
                        seed=0, output=out)
    fit_s = time.time() - t0
    bundle = result.model
    schema = bundle.schema.to_dict()
    monitored = {c["name"]: c["role"] for c in schema["columns"] if c["role"] in DRIFT_ROLES}
    baseline = Baseline.load(out / "monitoring")
    sds = {n: baseline.feature(n)["numerical_statistics"].get("std_dev", 0.0)
           for n, r in monitored.items() if r == "numeric"}
    few_valued = {n: [float(b["value"]) for b in baseline.feature(n)["numerical_statistics"]
                      ["distribution"]["categorical"]["buckets"]]
                  for n, r in monitored.items() if r == "numeric" and
                  is_discrete(baseline.feature(n))}
    if args.max_rows and len(test) > args.max_rows:
        test = test.iloc[:args.max_rows]
    return {"out": out, "target": meta["target"], "bundle": bundle, "baseline": baseline,
            "schema": schema, "monitored": monitored, "sds": sds, "few_valued": few_valued,
            "test": test,
            "line": {"dataset": name, "task": meta["task"], "fit_s": round(fit_s, 1),
                     "test_rows": len(test), "monitored_columns": len(monitored),
                     "few_valued_columns": len(few_valued),
                     "calibration": (baseline.predictions or {}).get("calibration", {})
                     .get("method")}}


def dataset_run(name: str, meta: dict, args) -> dict:
    """One dataset, in process (``--mode inprocess``) or over HTTP (``--mode http``); its job's
    output is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"monitor-{name}-") as out:
        return _dataset_run(fitted(name, meta, args, Path(out)), meta, args)


def _dataset_run(fit: dict, meta: dict, args) -> dict:
    if args.mode == "http":
        return {**fit["line"], **http_run(fit, meta, args)}
    baseline, schema, test = fit["baseline"], fit["schema"], fit["test"]
    parts = windows(test.drop(columns=[meta["target"]]), args.window)
    false = sum(len(drifted(w, baseline, schema)) for w in parts)
    copies, pairs = shifted_replays(parts, fit)
    power = detections(lambda tag, w, n: drifted(copies[tag][w].iloc[:n], baseline, schema),
                       parts, pairs)
    line = {**fit["line"], "mode": "inprocess", "windows": len(parts),
            "window_rows": len(parts[0]),
            "false_alarm_share": false / (len(parts) * len(fit["monitored"])), **power}
    line.update(_cbpe(fit, test))
    return line


def shifted_copy(window: pd.DataFrame, columns: list[str], fit: dict, rng,
                 frequency: bool) -> tuple[pd.DataFrame, set[str]]:
    """The window with ``columns`` shifted (few-valued ones by frequency when ``frequency``)
    and the columns whose shift changed nothing."""
    out, unchanged = window, set()
    for column in columns:
        values = fit["few_valued"].get(column) if frequency else None
        moved = shift(out, column, fit["monitored"][column], fit["sds"].get(column, 0.0), rng,
                      values)
        if moved[column].astype(str).equals(out[column].astype(str)):
            unchanged.add(column)
        out = moved
    return out, unchanged


def shifted_replays(parts, fit: dict) -> tuple[dict[str, list], list[dict]]:
    """The windows with 10 % of the monitored columns (at least one, drawn per window)
    shifted: replay ``shifted`` (numbers +0.5 sd), and ``frequency`` (the drawn few-valued
    numbers by frequency) when a drawn column is few-valued; and the shifted pairs (window,
    column, replay, kind, whether the shift changed nothing)."""
    chooser, mover = np.random.default_rng(0), np.random.default_rng(1)
    names = sorted(fit["monitored"])
    k = max(1, round(0.1 * len(names)))
    copies: dict[str, list] = {"shifted": [], "frequency": []}
    pairs = []
    for w, window in enumerate(parts):
        columns = [str(c) for c in chooser.choice(names, k, replace=False)]
        for tag in copies:
            frequency = tag == "frequency"
            out, unchanged = shifted_copy(window, columns, fit, mover, frequency)
            copies[tag].append(out)
            pairs += [{"window": w, "column": c, "replay": tag, "noop": c in unchanged,
                       "kind": kind_of(c, fit, frequency)}
                      for c in columns if not frequency or c in fit["few_valued"]]
    if not any(p["replay"] == "frequency" for p in pairs):
        del copies["frequency"]
    return copies, pairs


def detections(found, parts, pairs: list[dict]) -> dict:
    """Power: ``found(replay, window, rows)`` gives the columns flagged on a replay's window
    (its first ``rows`` rows). Overall (replay ``shifted``, every pair): the share flagged on
    the window and on its first 100/250/500 rows, and the rows it took (median of the
    smallest prefix that flagged each detected pair); by kind of shift (pairs whose shift
    changed something), on the window."""
    size = len(parts[0])
    prefixes = [n for n in PREFIXES if n < size] + [size]
    first: dict[tuple, int] = {}
    full: set[tuple] = set()
    for tag in dict.fromkeys(p["replay"] for p in pairs):
        for w in range(len(parts)):
            columns = {p["column"] for p in pairs if p["replay"] == tag and p["window"] == w}
            if not columns:
                continue
            for n in list(reversed(prefixes)) if tag == "shifted" else [size]:
                flagged = found(tag, w, n)
                first.update({(tag, w, c): n for c in columns if c in flagged})
                full |= {(tag, w, c) for c in columns if c in flagged and n == size}
    return power_summary(pairs, first, full)


def power_summary(pairs: list[dict], first: dict, full: set) -> dict:
    """The figures of :func:`detections` from the smallest prefix and the full windows that
    flagged each pair."""
    def key(pair):
        return pair["replay"], pair["window"], pair["column"]

    main = [p for p in pairs if p["replay"] == "shifted"]
    took = [first[key(p)] for p in main if key(p) in first]
    out = {"shifted_pairs": len(main), "power": sum(key(p) in full for p in main) / len(main)}
    for n in PREFIXES:
        out[f"power_at_{n}"] = sum(v <= n for v in took) / len(main)
    out["rows_to_detect_median"] = float(np.median(took)) if took else None
    for kind in KINDS:
        real = [p for p in pairs if p["kind"] == kind and not p["noop"]]
        out[f"pairs_{kind}"] = len(real)
        out[f"unchanged_{kind}"] = sum(p["kind"] == kind and p["noop"] for p in pairs)
        out[f"power_{kind}"] = sum(key(p) in full for p in real) / len(real) if real else None
    return out


def _cbpe(fit: dict, frame: pd.DataFrame) -> dict:
    """CBPE on ``frame``'s rows against the realised accuracy/AUC, from the raw and from the
    calibrated probabilities."""
    bundle = fit["bundle"]
    if bundle.task == "regression":
        return {}
    matrix = bundle.matrix(bundle.schema.coerce(frame, strict=False))
    y = encode_labels(frame[fit["target"]].astype(str), bundle.task, bundle.classes)
    real = measure_quality(y, matrix, bundle.task, "accuracy")["metrics"]
    raw = estimate_quality(matrix, bundle.task, "accuracy")["metrics"]
    est = calibrated_estimate(matrix, fit["baseline"], bundle.task, "accuracy")["metrics"]
    return {"accuracy": real["accuracy"], "estimated_accuracy": est["accuracy"],
            "raw_estimated_accuracy": raw["accuracy"], "auc": real.get("auc"),
            "estimated_auc": est["auc"], "raw_estimated_auc": raw["auc"]}


# ---------------------------------------------------------------- over HTTP

def http_run(fit: dict, meta: dict, args) -> dict:
    """Replay the test split through a real ``automl serve-model --capture-dir`` unshifted,
    then shifted (:func:`shifted_replays`), and monitor the captured directories with the
    functions ``automl monitor`` runs."""
    features = fit["test"].drop(columns=[meta["target"]])
    parts = windows(features, args.window)
    copies, pairs = shifted_replays(parts, fit)
    with tempfile.TemporaryDirectory(prefix="monitor-http-") as directory:
        root = Path(directory)
        t0 = time.perf_counter()
        ids, failed = replay(fit["out"], parts, root / "plain", args.batch)
        for tag, shifted in copies.items():
            failed += replay(fit["out"], shifted, root / tag, args.batch)[1]
        replay_s = time.perf_counter() - t0
        false = sum(len(window_drift(root / "plain", root / f"plain-{w}", w, None, fit))
                    for w in range(len(parts)))
        detect = detections(lambda tag, w, n: window_drift(root / tag, root / f"{tag}-{w}-{n}",
                                                           w, n, fit), parts, pairs)
        labels = fit["test"].loc[[i for p in parts for i in p.index], fit["target"]]
        quality = _http_quality(fit, root, ids, labels)
    requests_sent = (1 + len(copies)) * sum(-(-len(p) // args.batch) for p in parts)
    line = {"mode": "http", "batch_rows": args.batch, "requests": requests_sent,
            "failed": failed, "replay_s": round(replay_s, 1), "windows": len(parts),
            "window_rows": len(parts[0]),
            "false_alarm_share": false / (len(parts) * len(fit["monitored"])), **detect}
    return {**line, **quality}


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
        raw = estimate_quality(matrix, bundle.task, "accuracy")["metrics"]
        out.update({"accuracy": real["metrics"].get("accuracy"),
                    "estimated_accuracy": estimated["metrics"]["accuracy"],
                    "raw_estimated_accuracy": raw["accuracy"],
                    "auc": real["metrics"].get("auc"),
                    "estimated_auc": estimated["metrics"]["auc"],
                    "raw_estimated_auc": raw["auc"]})
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
        with tempfile.TemporaryDirectory(prefix="monitor-overhead-") as bundle_dir:
            automl.fit(HERE.parent / "sample_data" / "titanic.csv", "Survived",
                       time_budget=None, max_candidates=2, seed=0, output=bundle_dir)
            return overhead(bundle_dir, requests)
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
            "rows to detect (median)", "power by kind: num sd / few sd / few freq / cat freq "
            "(pairs)", "accuracy est raw/calibrated/real", "auc est raw/calibrated/real",
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
            " / ".join(f"{fmt(d.get(f'power_{k}'), 2)} ({d.get(f'pairs_{k}', 0)})"
                       for k in KINDS),
            f"{fmt(d.get('raw_estimated_accuracy'))} / {fmt(d.get('estimated_accuracy'))} / "
            f"{fmt(d.get('accuracy'))}",
            f"{fmt(d.get('raw_estimated_auc'))} / {fmt(d.get('estimated_auc'))} / "
            f"{fmt(d.get('auc'))}",
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
