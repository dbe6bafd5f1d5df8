"""The data behind an endpoint's monitoring figures, from the store and the runs' reports:
traffic and latency over time, the drift heat map, the worst columns, quality over time.
The API answers these dicts as they are and the page draws them (web.monitoring_figures)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from automl.endpoint_monitor import run_dir
from automl.monitoring.run import REPORT_FILE
from automl.store.monitoring import DONE, MonitoringStore
from automl.store.variants import PRIMARY
from web.core import iso

MAX_BINS = 48
WORST = 4


def traffic(store: MonitoringStore, endpoint: str, hours: float) -> dict:
    """Requests, errors and latency p50/p99 per bin over the last ``hours``, from the runner's
    snapshots of the cumulative counters (a counter that went down was reset by a restart)."""
    now = time.time()
    bin_s = max(60, int(math.ceil(hours * 3600 / MAX_BINS / 60.0)) * 60)
    start = now - hours * 3600
    snaps = store.traffic(endpoint, start)
    bins: dict[int, dict] = {}
    for before, after in zip(snaps, snaps[1:], strict=False):
        key = int((after["at"] - start) // bin_s)
        entry = bins.setdefault(key, {"requests": 0.0, "errors": 0.0, "buckets": {}})
        entry["requests"] += _delta(before["requests"], after["requests"])
        entry["errors"] += _delta(before["errors"], after["errors"])
        for bound, count in after["latency_buckets"].items():
            old = before["latency_buckets"].get(bound, 0.0)
            entry["buckets"][bound] = entry["buckets"].get(bound, 0.0) + _delta(old, count)
    out = [{"start": iso(start + k * bin_s), "requests": v["requests"], "errors": v["errors"],
            "p50_ms": _quantile(v["buckets"], 0.5), "p99_ms": _quantile(v["buckets"], 0.99)}
           for k, v in sorted(bins.items()) if k >= 0]
    return {"endpoint": endpoint, "bin_s": bin_s, "bins": out}


def _delta(old: float, new: float) -> float:
    return new - old if new >= old else new


def _quantile(buckets: dict[str, float], q: float) -> float | None:
    """A quantile in ms from cumulative histogram buckets (linear within the bucket)."""
    bounds = sorted(((float(b), c) for b, c in buckets.items()), key=lambda item: item[0])
    if not bounds or bounds[-1][1] <= 0:
        return None
    goal, lower, below = q * bounds[-1][1], 0.0, 0.0
    for bound, count in bounds:
        if count >= goal and count > below:
            if math.isinf(bound):
                return lower * 1000.0
            return (lower + (bound - lower) * (goal - below) / (count - below)) * 1000.0
        lower, below = (bound if not math.isinf(bound) else lower), count
    return lower * 1000.0


def completed_runs(store: MonitoringStore, endpoint: str, limit: int,
                   variant: str = PRIMARY) -> list[dict]:
    """The newest ``limit`` completed runs of ``variant``, oldest first."""
    return [r for r in reversed(store.runs(endpoint, limit * 3, variant))
            if r["status"] == DONE][-limit:]


def drift(store: MonitoringStore, data_dir: str, endpoint: str, limit: int = 24,
          variant: str = PRIMARY) -> dict:
    """Columns x windows drift scores of ``variant``'s runs, and the newest run's worst columns
    with their bins."""
    runs = completed_runs(store, endpoint, limit, variant)
    columns = sorted({c for r in runs for c in r["summary"]["drift_scores"]})
    scores = [[r["summary"]["drift_scores"].get(c) for r in runs] for c in columns]
    windows = [{"run_id": r["id"], "since": r["since"], "until": r["until"],
                "at": iso(r["started_at"])} for r in runs]
    worst = _worst(data_dir, endpoint, runs[-1]["id"]) if runs else []
    return {"endpoint": endpoint, "variant": variant, "windows": windows, "columns": columns,
            "scores": scores, "worst": worst}


def _worst(data_dir: str, endpoint: str, run_id: str) -> list[dict]:
    path = Path(run_dir(data_dir, endpoint, run_id)) / REPORT_FILE
    if not path.is_file():
        return []
    columns = json.loads(path.read_text())["columns"]
    scored = sorted(((n, c) for n, c in columns.items()
                     if c.get("drift_score") is not None and c.get("distribution")),
                    key=lambda item: -item[1]["drift_score"])
    return [{"column": n, "method": c["drift_method"], "score": c["drift_score"],
             "threshold": c.get("drift_threshold"), **c["distribution"]}
            for n, c in scored[:WORST]]


def quality(store: MonitoringStore, endpoint: str, cross_validated: float | None,
            limit: int = 48, variant: str = PRIMARY) -> dict:
    """Measured (with labels) and estimated (CBPE) quality of each completed run of
    ``variant``."""
    points = [{"run_id": r["id"], "at": iso(r["started_at"]),
               "measured": r["summary"].get("quality"),
               "estimated": r["summary"].get("estimated_quality")}
              for r in completed_runs(store, endpoint, limit, variant)]
    return {"endpoint": endpoint, "variant": variant, "cross_validated": cross_validated,
            "points": points}


def run_view(row: dict, data_dir: str, full: bool = False) -> dict:
    """A runs-table row as the API shows it; ``full`` adds the report and the violations."""
    view = {**{k: row[k] for k in ("id", "endpoint", "variant", "trigger", "status", "since",
                                   "until", "summary", "error", "webhook")},
            "started_at": iso(row["started_at"]), "finished_at": iso(row["finished_at"])}
    if full and row["status"] == DONE:
        path = Path(run_dir(data_dir, row["endpoint"], row["id"])) / REPORT_FILE
        report = json.loads(path.read_text()) if path.is_file() else {}
        view["violations"] = report.pop("violations", [])
        view["report"] = report
    return view
