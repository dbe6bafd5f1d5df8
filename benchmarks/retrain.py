#!/usr/bin/env python3
"""Retraining benchmark (issue 16): on a stream whose later rows follow another concept, a
challenger retrained from the endpoint's captured, labelled requests against the champion, on
the newest held-out window, both with 95 % bootstrap intervals.

    python benchmarks/retrain.py [--original 3000 --stream 4000 --time-budget 30]

The data (from ``../shared/datasets/adult.csv``, target ``class``): the rows shuffled with
``--seed``; the first ``--original`` train the champion; the next ``--stream`` are the traffic,
in that order, after the deploy. The injected shift is a concept shift in the stream only: the
label of every row whose ``marital-status`` is ``--flip-value`` (Never-married, about a third
of the rows) is flipped (<=50K <-> >50K); the features are untouched, so drift checks see
nothing and only ground truth shows it. ``--flip-value none`` flips nothing: the control, where
the challenger only has more rows of the same concept.

Starts ``automl serve`` (gunicorn, 2 workers, runner) on a temporary data directory; uploads
the original rows and runs a job (``--time-budget`` seconds); deploys its winner; sends the
stream as CSV invocations of ``--rows-per-request`` rows (inference ids ``s<k>``, so the rows
are ``s<k>:<i>``); sends all of the stream's labels back; then
``POST .../retrain {"holdout_share": H, "then": "shadow"}``: the challenger's job (same
settings) trains on the original rows plus the older 1 - H of the labelled stream, and both
models are scored on the newest H. Prints the comparison and appends a JSON line to
benchmarks/results/retrain.jsonl.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from service_process import ServiceProcess  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "retrain.jsonl"
DATASETS = Path(os.environ.get("AUTOML_DATASETS", ROOT.parent / "shared" / "datasets"))
TARGET, COLUMN, FLIP = "class", "marital-status", {"<=50K": ">50K", ">50K": "<=50K"}
NAME = "adult"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATASETS / "adult.csv"))
    parser.add_argument("--original", type=int, default=3000)
    parser.add_argument("--stream", type=int, default=4000)
    parser.add_argument("--flip-value", default="Never-married")
    parser.add_argument("--holdout-share", type=float, default=0.3)
    parser.add_argument("--time-budget", type=float, default=30.0)
    parser.add_argument("--rows-per-request", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default=str(RESULTS))
    return parser.parse_args(argv)


def split(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(original rows, the stream with its concept shift injected)."""
    rows = pd.read_csv(args.data).sample(frac=1.0, random_state=args.seed).reset_index(drop=True)
    original = rows.iloc[:args.original].reset_index(drop=True)
    stream = rows.iloc[args.original:args.original + args.stream].reset_index(drop=True)
    flipped = stream[COLUMN] == args.flip_value
    stream.loc[flipped, TARGET] = stream.loc[flipped, TARGET].map(FLIP)
    return original, stream


def champion(service: ServiceProcess, original: pd.DataFrame, budget: float) -> dict:
    """Upload, run a job, deploy its winner as ``adult``; the job."""
    csv = original.to_csv(index=False).encode()
    dataset = service.post("/api/v1/datasets", files={"file": ("adult.csv", io.BytesIO(csv))})
    dataset.raise_for_status()
    job = service.post("/api/v1/jobs", json={"dataset_id": dataset.json()["id"],
                                             "target": TARGET, "time_budget": budget})
    job.raise_for_status()
    done = service.wait_for(job.json()["id"], lambda j: j["status"] in
                            ("completed", "failed", "cancelled"), budget * 4 + 120)
    if done["status"] != "completed":
        raise RuntimeError(f"the champion's job ended {done['status']}: {done.get('error')}")
    made = service.post("/api/v1/endpoints", json={"name": NAME, "job_id": done["id"],
                                                   "capture_percent": 100})
    made.raise_for_status()
    return done


def replay(service: ServiceProcess, stream: pd.DataFrame, per_request: int) -> None:
    """The stream through the endpoint, then every label back by inference id."""
    features = stream.drop(columns=TARGET)
    labels = []
    for k, start in enumerate(range(0, len(stream), per_request)):
        part = features.iloc[start:start + per_request]
        answer = service.post(f"/endpoints/{NAME}/invocations",
                              data=part.to_csv(index=False, header=False),
                              headers={"Content-Type": "text/csv",
                                       "X-Amzn-SageMaker-Inference-Id": f"s{k}"})
        answer.raise_for_status()
        labels += [f"s{k}:{i},{v}" for i, v in enumerate(stream[TARGET].iloc[start:start +
                                                                             per_request])]
    time.sleep(1.0)  # the capture writers linger before they write
    sent = service.post(f"/api/v1/endpoints/{NAME}/ground-truth",
                        data="inference_id,label\n" + "\n".join(labels) + "\n",
                        headers={"Content-Type": "text/csv"})
    if sent.status_code != 201:
        raise RuntimeError(f"ground truth refused: {sent.text}")


def retrain(service: ServiceProcess, holdout: float, budget: float) -> dict:
    started = service.post(f"/api/v1/endpoints/{NAME}/retrain",
                           json={"holdout_share": holdout, "then": "shadow"})
    if started.status_code != 202:
        raise RuntimeError(f"retraining refused: {started.text}")
    view = started.json()
    deadline = time.time() + budget * 4 + 180
    while view["state"] not in ("completed", "failed") and time.time() < deadline:
        time.sleep(2)
        view = service.get(view["links"]["self"]).json()
    return view


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    original, stream = split(args)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="retrain-bench-") as tmp:
        service = ServiceProcess(Path(tmp) / "data",
                                 env={"AUTOML_MONITOR_ATTRIBUTION": "0"}).start(timeout=60)
        try:
            job = champion(service, original, args.time_budget)
            replay(service, stream, args.rows_per_request)
            view = retrain(service, args.holdout_share, args.time_budget)
        finally:
            service.stop()
    line = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "dataset": "adult",
            "shift": f"label flipped in the stream where {COLUMN} == {args.flip_value}",
            "flipped_share": float((stream[COLUMN] == args.flip_value).mean()),
            "original_rows": len(original), "stream_rows": len(stream),
            "time_budget": args.time_budget, "seed": args.seed,
            "champion_job": job["id"], "champion_cv_score": job["progress"].get("best_score"),
            **{k: view.get(k) for k in ("state", "training_rows", "added_from_captures",
                                        "held_out", "comparison", "outcome", "error")},
            "wall_s": round(time.time() - started, 1), "load_1m": os.getloadavg()[0]}
    report(line)
    with open(args.results, "a") as out:
        out.write(json.dumps(line) + "\n")
    return 0 if line["state"] == "completed" else 1


def report(line: dict) -> None:
    print(f"adult, {line['original_rows']} original rows, {line['stream_rows']} streamed; "
          f"{line['shift']} ({line['flipped_share']:.0%} of the stream)")
    comparison = line.get("comparison")
    if not comparison:
        print(f"retraining {line['state']}: {line.get('error')}")
        return
    print(f"held out: the newest {comparison['rows']} labelled requests; challenger trained on "
          f"{line['training_rows']} rows ({line['added_from_captures']} from captures)")
    for side in ("champion", "challenger"):
        low, high = comparison[side]["interval"]
        print(f"  {side:10s} {comparison['metric']} {comparison[side]['score']:.4f} "
              f"[{low:.4f}, {high:.4f}]")
    gain = comparison["improvement"]
    print(f"  improvement {gain['value']:+.4f} [{gain['interval'][0]:+.4f}, "
          f"{gain['interval'][1]:+.4f}], better in {gain['share_of_resamples_better']:.1%} of "
          f"paired resamples")
    print(f"  then: {(line.get('outcome') or {}).get('message')}")
    print(f"wall {line['wall_s']} s, load {line['load_1m']:.1f}")


if __name__ == "__main__":
    sys.exit(main())
