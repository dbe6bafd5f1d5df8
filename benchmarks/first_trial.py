"""Time from ``automl.fit`` being called to the first completed trial, per dataset.

Target (issue 2): at most 5 s on datasets of up to 50,000 rows. Also prints the job's total
wall time against its budget (the job must end within 10% of it). Each dataset runs in a fresh
Python process, as a CLI run or a service job does, so every figure includes starting the
worker pool (the forkserver's imports), and with an output directory, so the job also writes
its notebooks and reports as it does there; the clock starts when ``automl.fit`` is called.

    python benchmarks/first_trial.py [--budget 15] [--datasets adult,titanic]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import automl
from automl.engine import Callbacks

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "datasets"


def measure(path: Path, target: str, task: str, budget: float) -> dict:
    start = time.time()
    first: list[float] = []

    def on_trial(result, progress) -> None:
        if result.ok and not first:
            first.append(time.time() - start)

    with tempfile.TemporaryDirectory(prefix="first-trial-") as output:
        result = automl.fit(path, target=target, task=task, time_budget=budget, output=output,
                            callbacks=Callbacks(on_trial=on_trial))
        total = time.time() - start
    return {"dataset": path.stem, "rows": result.profile.n_rows, "budget_s": budget,
            "first_trial_s": round(first[0], 2) if first else None, "total_s": round(total, 2),
            "within_budget": total <= budget * 1.1,
            "trials": int((result.leaderboard["state"] == "complete").sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=15.0)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--datasets", default=None, help="comma-separated names")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # a child process's dataset
    args = parser.parse_args()
    with open(args.data_dir / "MANIFEST.tsv") as fh:
        manifest = list(csv.DictReader(fh, delimiter="\t"))
    if args.one:
        row = next(r for r in manifest if r["name"] == args.one)
        path = args.data_dir / f"{row['name']}.csv"
        print(json.dumps(measure(path, row["target"], row["task"], args.budget)))
        return
    wanted = set(args.datasets.split(",")) if args.datasets else None
    print(f"{'dataset':<20}{'rows':>8}{'first trial s':>15}{'total s':>10}{'budget s':>10}  ok")
    for row in manifest:
        if int(row["rows"]) > 50_000 or (wanted and row["name"] not in wanted):
            continue
        m = _in_fresh_process(row["name"], args)
        print(f"{m['dataset']:<20}{m['rows']:>8}{m['first_trial_s']!s:>15}{m['total_s']:>10}"
              f"{m['budget_s']:>10}  {m['within_budget']}", flush=True)
        with open(HERE / "results" / "first_trial.jsonl", "a") as fh:
            fh.write(json.dumps(m) + "\n")


def _in_fresh_process(name: str, args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", name, "--budget", str(args.budget),
                          "--data-dir", str(args.data_dir)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
