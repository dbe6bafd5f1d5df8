#!/usr/bin/env python3
"""Contention benchmark: how jobs fare with CPU-bound processes running beside them.

For every dataset (MANIFEST.tsv, or --datasets a,b) and every load level (--loads, default
0,2,4 busy processes, each a busy-loop subprocess this script starts before the job and kills
after it), fits ours on the fixed 75/25 split of run_one.py and scores the 25 % with its
scoring code. Two settings: the --budget (default 60 s) on the whole training split, and
--small-budget (default 20 s) on a --small-rows (default 600) sample of it (the sample is drawn
with the seed; the test part is the same). Prints one line per job:

    trials completed / timed out (of which cut by their own limit rather than the job's
    deadline), whether a gradient-boosting trial completed, the winner's
    family, the test score (AUC for binary, log loss for multiclass, RMSE for regression),
    wall time over budget, seconds to the first completed trial, the job's warnings, the
    trials cut by their own limit (``cut``: seconds each ran) and the completed ones' run times
    (``ran_s``), and ``cut_quick``: the cut trials that completed in under 5 s on the first
    (quiet) load level of the same dataset and setting

and, per dataset and setting, the score's gap to the quiet run's. Figures measured on a shared
machine include whatever else runs there: say so when quoting them.

    python benchmarks/contention.py
    python benchmarks/contention.py --datasets titanic,credit_g --loads 0,4 --no-full
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_one import (  # noqa: E402
    METRIC_NAMES,
    REPO,
    class_keys,
    data_dir,
    load_split,
    read_manifest,
    score,
)

GRADIENT_BOOSTING = {"lightgbm", "hist_gradient_boosting"}
METRIC_KEY = {"binary": "auc", "multiclass": "logloss", "regression": "rmse"}
BUSY_LOOP = "while True: pass"
QUICK_S = 5.0


@contextlib.contextmanager
def busy_processes(n: int):
    """``n`` CPU-bound subprocesses for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(n)]
    try:
        time.sleep(1.0 if n else 0.0)  # let them take their share before the job starts
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


class _Fitted:
    """What run_one.score needs: a fitted model with its target and task."""

    def __init__(self, result, target: str, task: str):
        self.model, self.target, self.task = result, target, task

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    def predict_raw(self, features):
        if self.is_classification:
            return self.model.predict_proba(features)
        return self.model.predict(features)


def run_job(train, test, target: str, task: str, budget: float, seed: int) -> dict[str, Any]:
    """Fit ours on ``train`` within ``budget``; the figures of one line."""
    if str(REPO) not in sys.path:
        sys.path.append(str(REPO))
    import automl
    from automl.engine import Callbacks

    first: list[float] = []
    start = time.time()

    def on_trial(result, progress) -> None:
        if result.ok and not first:
            first.append(time.time() - start)

    line: dict[str, Any] = {}
    try:
        result = automl.fit(train, target=target, task=task, metric=METRIC_NAMES["automl"][task],
                            time_budget=budget, seed=seed, callbacks=Callbacks(on_trial=on_trial))
    except Exception as exc:  # noqa: BLE001 - a job without a model is a figure too
        return {"error": f"{type(exc).__name__}: {exc}"[:200], "wall_over_budget":
                round((time.time() - start) / budget, 2)}
    wall = time.time() - start
    line["wall_over_budget"] = round(wall / budget, 2)
    timings = result.job.timings  # where an overrun comes from: the search or what follows it
    line["search_s"] = round(timings.get("search_s", 0.0), 1)
    line["after_search_s"] = round(wall - timings.get("search_s", 0.0), 1)
    line["refit_s"] = round(timings.get("refit_s", 0.0), 1)
    trials = [r for r in result.job.results if not r.members]
    line["completed"] = sum(r.ok for r in trials)
    line["timed_out"] = sum(r.state.value == "timed-out" for r in trials)
    line["cut_by_limit"] = sum("ran past" in r.reason for r in trials)  # not by the deadline
    line["cut"] = {_key(r): round(r.run_s, 1) for r in trials if "ran past" in r.reason}
    line["ran_s"] = {_key(r): round(r.run_s, 1) for r in trials if r.ok}
    line["gbm"] = any(r.ok and r.family in GRADIENT_BOOSTING for r in trials)
    line["winner"] = result.job.winner.family
    line["first_s"] = round(first[0], 1) if first else None
    line["warnings"] = [w["code"] for w in getattr(result.job, "warnings", [])]
    scores = score(_Fitted(result, target, task), test, train)
    line["score"] = round(scores[METRIC_KEY[task]], 4)
    return line


def _key(result) -> str:
    """A trial as two runs can both name it: its family and parameters (the candidate number
    depends on the order trials came back in)."""
    return f"{result.family} {json.dumps(result.params, sort_keys=True, default=str)}"


def gap(task: str, quiet: float | None, value: float | None) -> str:
    """The score's gap to the quiet run's: AUC points, or relative for losses (+ = worse)."""
    if quiet is None or value is None:
        return "-"
    if task == "binary":
        return f"{quiet - value:+.4f}"
    return f"{(value - quiet) / quiet:+.2%}"


def cut_quick(line: dict, quiet: dict | None) -> list[str]:
    """The trials ``line``'s job cut by their own limit that completed on the quiet run in
    under :data:`QUICK_S` (issue 18's target: none with four busy processes), with how long
    each ran quietly and before it was cut."""
    if not quiet:
        return []
    done = quiet.get("ran_s", {})
    return [f"{key}: {done[key]} s quiet, cut at {ran} s" for key, ran in line.get("cut", {}).items()
            if key in done and done[key] < QUICK_S]


def settings(args: argparse.Namespace) -> list[tuple[str, float, int | None]]:
    out = []
    if args.full:
        out.append(("full", args.budget, None))
    if args.small:
        out.append((f"{args.small_rows} rows", args.small_budget, args.small_rows))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = data_dir(args.data_dir)
    manifest = read_manifest(folder)
    names = args.datasets.split(",") if args.datasets else list(manifest)
    loads = [int(n) for n in args.loads.split(",")]
    for name in names:
        target, task = manifest[name]["target"], manifest[name]["task"]
        train_all, test = load_split(folder, name, target, task)
        for label, budget, rows in settings(args):
            train = train_all if rows is None or rows >= len(train_all) else \
                _sample(train_all, rows, target, task, args.seed)
            quiet: dict | None = None
            for n_busy in loads:
                with busy_processes(n_busy):
                    line = run_job(train, test, target, task, budget, args.seed)
                if n_busy == loads[0]:
                    quiet = line
                line = {"dataset": name, "setting": label, "budget": budget, "busy": n_busy,
                        **line, "gap_to_quiet": gap(task, (quiet or {}).get("score"),
                                                    line.get("score")),
                        "cut_quick": cut_quick(line, quiet)}
                print(json.dumps(line), flush=True)
    return 0


def _sample(train, rows: int, target: str, task: str, seed: int):
    """``rows`` training rows, every class kept (a class sampled away cannot be scored)."""
    sample = train.sample(n=rows, random_state=seed)
    if task != "regression" and class_keys(sample[target]) != class_keys(train[target]):
        sample = train.groupby(target, group_keys=False).apply(
            lambda g: g.sample(n=max(1, round(rows * len(g) / len(train))), random_state=seed))
    return sample


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=None, help="comma-separated (default: all)")
    parser.add_argument("--loads", default="0,2,4", help="busy processes per level")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--small-budget", type=float, default=20.0)
    parser.add_argument("--small-rows", type=int, default=600)
    parser.add_argument("--no-full", dest="full", action="store_false")
    parser.add_argument("--no-small", dest="small", action="store_false")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
