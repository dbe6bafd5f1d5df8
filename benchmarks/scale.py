#!/usr/bin/env python3
"""Scale benchmark: one `automl run` on a 1,000,000-row, 20-column CSV within its time budget.

    python benchmarks/scale.py                         # 1M rows, 300 s budget (CPU-heavy)
    python benchmarks/scale.py --rows 20000 --budget 30 --results /tmp/scale.jsonl   # dry run

Generates, in a temporary directory (never the repo), a CSV of `--rows` rows: 15 numeric
columns (different distributions, some with missing values), 4 categorical columns (5 to 1,000
levels) and a binary target `y` drawn from a logistic model with linear, non-linear, interaction
and categorical effects, so there is real signal to find (about 30 % positives). Then runs

    automl run FILE --target y --time-budget BUDGET --output TMPDIR/out

as a subprocess, polls the memory of its process tree with psutil every 0.2 s, and prints the
wall time, whether it finished within the budget plus 10 %, and the peak memory in MiB: summed
RSS (as `top` would add it up) and summed PSS (pages shared by forked workers counted once). The
result is appended as a JSON line to benchmarks/results/scale.jsonl (or --results). The run is
killed after --timeout seconds (default budget*3+300). The `automl` command is the one beside this
interpreter, else the one on PATH, else `python -c "from automl.cli import main; main()"`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

HERE = Path(__file__).resolve().parent
MIB = 2**20
CHUNK_ROWS = 100_000
N_NUMERIC = 15
CATEGORICAL_LEVELS = {"region": 5, "channel": 12, "product": 50, "store": 1000}


# ---------------------------------------------------------------- data


def level_effects(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A fixed log-odds effect per level of each categorical column."""
    return {name: rng.normal(0, 0.6, size=n) for name, n in CATEGORICAL_LEVELS.items()}


def numeric_block(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """15 numeric columns: normal, skewed, bounded, integer-valued; x13 and x14 are noise."""
    cols = {f"x{i}": rng.normal(0, 1, n) for i in range(6)}
    cols |= {f"x{i}": rng.lognormal(0, 1, n) for i in range(6, 9)}
    cols |= {f"x{i}": rng.uniform(-2, 2, n) for i in range(9, 11)}
    cols |= {f"x{i}": rng.poisson(3, n).astype(float) for i in range(11, 13)}
    cols |= {f"x{i}": rng.normal(0, 1, n) for i in range(13, N_NUMERIC)}
    return pd.DataFrame(cols)


def logit(num: pd.DataFrame, codes: dict[str, np.ndarray], effects: dict) -> np.ndarray:
    z = 0.8 * num["x0"] - 0.6 * num["x1"] + 0.4 * num["x2"] * num["x3"]
    z += np.sin(2 * num["x4"]) + 0.5 * np.log1p(num["x6"]) - 0.3 * (num["x9"] ** 2)
    z += 0.2 * (num["x11"] - 3)
    for name, code in codes.items():
        z += effects[name][code]
    return z.to_numpy() - 1.0


def make_chunk(rng: np.random.Generator, n: int, effects: dict) -> pd.DataFrame:
    """One chunk of rows: features, target, then missing values punched into a few columns."""
    num = numeric_block(rng, n)
    codes = {name: rng.integers(0, k, n) for name, k in CATEGORICAL_LEVELS.items()}
    prob = 1 / (1 + np.exp(-logit(num, codes, effects)))
    frame = num.copy()
    for name, code in codes.items():
        frame[name] = np.char.add(f"{name[:3]}_", code.astype(str))
    for col, share in (("x2", 0.05), ("x7", 0.10), ("x10", 0.02)):
        frame.loc[rng.random(n) < share, col] = np.nan
    frame["y"] = (rng.random(n) < prob).astype(int)
    return frame


def write_csv(path: Path, rows: int, seed: int) -> float:
    """Write the synthetic CSV in chunks; returns seconds taken."""
    start = time.monotonic()
    rng = np.random.default_rng(seed)
    effects = level_effects(rng)
    for first in range(0, rows, CHUNK_ROWS):
        chunk = make_chunk(rng, min(CHUNK_ROWS, rows - first), effects)
        chunk.to_csv(path, mode="a", header=first == 0, index=False, float_format="%.6g")
    return time.monotonic() - start


# ---------------------------------------------------------------- running


def automl_command() -> list[str]:
    """The automl CLI of this environment."""
    beside = Path(sys.executable).parent / "automl"
    found = str(beside) if beside.exists() else shutil.which("automl")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from automl.cli import main; sys.exit(main())"]


def tree_memory(proc: psutil.Process) -> tuple[int, int]:
    """Summed (RSS, PSS) of a process and its descendants, in bytes ((0, 0) once it is gone).

    Summed RSS counts pages shared by forked workers once per worker; PSS splits them."""
    rss = pss = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    for p in procs:
        try:
            info = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
    return rss, pss


def kill_tree(pid: int) -> None:
    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    for p in descendants:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def run_watched(cmd: list[str], timeout: float, log: Path) -> dict[str, Any]:
    """Run cmd, polling its tree's RSS; returns wall time, peak, exit code, timeout flag."""
    with open(log, "w") as fh:
        start = time.monotonic()
        popen = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        proc, peak, peak_pss, timed_out = psutil.Process(popen.pid), 0, 0, False
        while popen.poll() is None:
            rss, pss = tree_memory(proc)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            if time.monotonic() - start > timeout:
                timed_out = True
                kill_tree(popen.pid)
                break
            time.sleep(0.2)
        code = popen.wait()
        wall = time.monotonic() - start
    kill_tree(popen.pid)  # anything the run left behind
    return {
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak / MIB),
        "peak_pss_mb": round(peak_pss / MIB),
        "returncode": code,
        "timed_out": timed_out,
    }


# ---------------------------------------------------------------- reporting


def git_commit() -> str:
    proc = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or "unknown"


def report(record: dict[str, Any]) -> None:
    verdict = "yes" if record["within_budget"] else "NO"
    print(f"rows {record['rows']:,}, csv {record['csv_mb']} MiB, budget {record['budget']} s")
    print(
        f"wall time      {record['wall_s']} s (exit code {record['returncode']}"
        f"{', killed at timeout' if record['timed_out'] else ''})"
    )
    print(f"within budget  {verdict} (limit {record['budget'] * 1.1:.0f} s = budget + 10 %)")
    print(
        f"peak memory    {record['peak_rss_mb']} MiB (process tree RSS; PSS "
        f"{record['peak_pss_mb']} MiB counts shared pages once)"
    )
    print(f"output files   {record['output_files']}")
    if record.get("log_tail"):
        print("log tail:\n" + record["log_tail"])


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Time and memory of `automl run` on a big CSV.")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--budget", type=int, default=300, help="--time-budget for automl, seconds")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    p.add_argument("--timeout", type=float, help="hard kill after (default budget*3+300 s)")
    p.add_argument("--results", default=str(HERE / "results" / "scale.jsonl"))
    p.add_argument("--keep", action="store_true", help="keep the temp dir (CSV, output, log)")
    return p.parse_args(argv)


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    csv_path, out_dir, log = tmp / "scale.csv", tmp / "out", tmp / "automl-run.log"
    print(f"generating {args.rows:,} rows in {csv_path} ...", file=sys.stderr, flush=True)
    gen_s = write_csv(csv_path, args.rows, args.seed)
    cmd = automl_command() + ["run", str(csv_path), "--target", "y"]
    cmd += ["--time-budget", str(args.budget), "--output", str(out_dir)]
    print(f"running {' '.join(cmd)}", file=sys.stderr, flush=True)
    timeout = args.timeout or args.budget * 3 + 300
    result = run_watched(cmd, timeout, log)
    record = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "rows": args.rows,
        "cols": 20,
        "budget": args.budget,
        "csv_mb": round(csv_path.stat().st_size / MIB, 1),
        "gen_s": round(gen_s, 1),
    }
    record |= result
    record["within_budget"] = result["returncode"] == 0 and result["wall_s"] <= args.budget * 1.1
    record["output_files"] = sum(1 for p in out_dir.rglob("*") if p.is_file())
    if result["returncode"] != 0:
        record["log_tail"] = log.read_text(errors="replace")[-2000:]
    return record


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="automl-scale-"))
    try:
        record = measure(args, tmp)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report(record)
    append_jsonl(Path(args.results), record)
    return 0 if record["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
