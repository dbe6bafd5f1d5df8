#!/usr/bin/env python3
"""Trials completed per minute with 1 and 2 local workers and 2 Dask workers, side by side.

    python benchmarks/parallel.py --dataset abalone --budget 60

Each configuration runs one whole job (`automl.fit` with `time_budget=--budget`, seed 0) on the
dataset (target and task from MANIFEST.tsv). The rate is the number of trials that completed
divided by the search stage's wall time (from the "searching" stage to the "finalizing" stage,
so local worker start-up counts, profiling and refit do not), times 60. Parallel efficiency is
rate(2 workers) / rate(1 local worker); the target is at least 1.7. The Dask cluster (a
scheduler and two `--nthreads 1` workers) runs on this machine as subprocesses started before
its timing begins, and is stopped afterwards. The table goes to stdout; one JSON line per run
is appended to benchmarks/results/parallel.jsonl. Only meaningful on an otherwise idle machine
with at least 2 cores: the load average at the start is recorded next to the figures.

Datasets come from --data-dir, else $AUTOML_DATASETS, else ../shared/datasets beside the repo.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "parallel.jsonl"
CONFIGS = (("local-1", 1, False), ("local-2", 2, False), ("dask-2", 2, True))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="abalone")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per configuration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--configs", default=",".join(c[0] for c in CONFIGS),
                        help="comma-separated subset of " + ", ".join(c[0] for c in CONFIGS))
    return parser.parse_args(argv)


def dataset(args: argparse.Namespace) -> tuple[Path, str]:
    """The dataset's CSV path and its target column."""
    folder = Path(args.data_dir or os.environ.get("AUTOML_DATASETS")
                  or REPO.parent / "shared" / "datasets")
    with open(folder / "MANIFEST.tsv", newline="", encoding="utf-8") as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh, delimiter="\t")}
    return folder / f"{args.dataset}.csv", rows[args.dataset]["target"]


def run_config(path: Path, target: str, n_jobs: int, cluster: str | None,
               args: argparse.Namespace) -> dict:
    """One job; its completed and failed trials and the search stage's wall time."""
    import automl
    from automl.engine import Callbacks

    stamps: dict[str, float] = {}
    callbacks = Callbacks(on_stage=lambda stage: stamps.setdefault(stage, time.perf_counter()))
    result = automl.fit(str(path), target, time_budget=args.budget, seed=args.seed,
                        n_jobs=n_jobs, cluster=cluster, callbacks=callbacks)
    trials = [r for r in result.job.results if r.candidate_id != "ensemble"]
    search_s = stamps["finalizing"] - stamps["searching"]
    completed = sum(r.ok for r in trials)
    return {"trials_completed": completed, "trials_failed": len(trials) - completed,
            "search_s": round(search_s, 2), "rate_per_min": round(60 * completed / search_s, 2),
            "best_score": float(result.best["score"])}


@contextmanager
def dask_cluster(n_workers: int):
    """A scheduler and ``n_workers`` single-threaded workers on 127.0.0.1; yields the address."""
    workdir = Path(tempfile.mkdtemp(prefix="automl-bench-dask-"))
    dask = shutil.which("dask") or "dask"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    file = workdir / "scheduler.json"
    procs = [_spawn([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(file)], workdir / "scheduler.log", env)]
    try:
        address = _wait_for_address(file)
        for i in range(n_workers):
            procs.append(_spawn([dask, "worker", address, "--nthreads", "1", "--no-nanny",
                                 "--no-dashboard", "--memory-limit", "0",
                                 "--local-directory", str(workdir / f"w{i}")],
                                workdir / f"w{i}.log", env))
        _wait_for_workers(address, n_workers)
        yield address
    finally:
        for proc in procs:
            _kill(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def _spawn(cmd: list[str], log: Path, env: dict) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def _wait_for_address(file: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return json.loads(file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    raise RuntimeError("dask scheduler did not start")


def _wait_for_workers(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout=30, set_as_default=False) as client:
        client.wait_for_workers(n, timeout=60)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def efficiencies(rows: dict[str, dict]) -> dict[str, float | None]:
    """rate(2 workers) / rate(1 local worker), for each 2-worker configuration that ran."""
    base = rows.get("local-1", {}).get("rate_per_min")
    return {f"efficiency_{name.replace('-2', '')}": (round(row["rate_per_min"] / base, 2)
                                                      if base else None)
            for name, row in rows.items() if name.endswith("-2")}


def print_table(rows: dict[str, dict], meta: dict) -> None:
    print(f"dataset {meta['dataset']}, budget {meta['budget']:.0f} s per configuration, "
          f"{meta['cpu_count']} cores, load average at start {meta['load_avg_1m']:.2f}")
    header = f"{'config':<9} {'workers':>7} {'completed':>9} {'failed':>6} {'search_s':>8} " \
             f"{'trials/min':>10} {'best':>9}"
    print(header)
    print("-" * len(header))
    for name, row in rows.items():
        print(f"{name:<9} {row['workers']:>7} {row['trials_completed']:>9} "
              f"{row['trials_failed']:>6} {row['search_s']:>8.1f} {row['rate_per_min']:>10.1f} "
              f"{row['best_score']:>9.4f}")
    for key, value in efficiencies(rows).items():
        print(f"{key}: {value} (target >= 1.7)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path, target = dataset(args)
    wanted = set(args.configs.split(","))
    meta = {"benchmark": "parallel", "dataset": args.dataset, "budget": args.budget,
            "seed": args.seed, "cpu_count": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    rows: dict[str, dict] = {}
    for name, workers, on_dask in CONFIGS:
        if name not in wanted:
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        if on_dask:
            with dask_cluster(workers) as address:
                rows[name] = {"workers": workers, **run_config(path, target, workers, address, args)}
        else:
            rows[name] = {"workers": workers, **run_config(path, target, workers, None, args)}
    print_table(rows, meta)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({**meta, "rows": rows, **efficiencies(rows)}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
