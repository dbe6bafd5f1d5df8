#!/usr/bin/env python3
"""Batch prediction: rows/s streamed CSV to CSV per family, and the output's bytes kept to compare.

    python benchmarks/batch.py --save /tmp/batch-ref          # figures, and each output saved
    python benchmarks/batch.py --compare /tmp/batch-ref       # figures, and each output compared
    python benchmarks/batch.py --profile lightgbm --rows 100000
    python benchmarks/batch.py --distinct --save /tmp/batch-ref   # every text value distinct

The subjects are ``serving.py``'s forced winners of every family on titanic and its ensemble with
the ``Name`` text column (built once into ``--work`` and reused). The rows are ``--rows`` titanic
rows drawn with replacement (seed 0), the model's input columns only, as a CSV. Drawn so, a text
value repeats about ``rows / 891`` times, which flatters the batch path's once-per-distinct-text
work; ``--distinct`` appends the row's number to every text value (a token no vocabulary has, so
the model reads the same words), making each one distinct as in real data. Each subject's
``stream_predictions`` runs ``--repeat`` times and the best is reported, by the wall clock
and by CPU time (the process's, every thread: steadier than wall time on a loaded machine,
though a library that spreads a batch over threads shows its whole cost there). ``--compare`` fails
(exit 1) when any subject's output differs by a byte from the saved one: a change to the batch
path must give the same text.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import DATASETS, forced_bundles  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--subjects", help="comma-separated names (default: all)")
    parser.add_argument("--distinct", action="store_true",
                        help="make every text value distinct (the row's number appended)")
    parser.add_argument("--work", default=str(Path(os.environ.get("TMPDIR", "/tmp"))
                                              / "automl-batch-bench"))
    parser.add_argument("--data-dir", default=str(DATASETS))
    parser.add_argument("--save", help="write each subject's output CSV to this directory")
    parser.add_argument("--compare", help="compare each output with the one saved here")
    parser.add_argument("--profile", help="cProfile one subject's run; print the top costs")
    return parser.parse_args(argv)


def bundles(data_dir: Path, work: Path) -> dict[str, Path]:
    """The forced bundles, built on the first run and read from ``work`` after."""
    index = work / "index.tsv"
    if not index.is_file():
        built = forced_bundles(data_dir, work)
        index.write_text("".join(f"{k}\t{v}\n" for k, v in built.items()))
    return dict(line.split("\t") for line in index.read_text().splitlines())


def body_of(bundle, data_dir: Path, n: int, distinct: bool = False) -> bytes:
    """``n`` titanic rows drawn with replacement as a CSV; with ``distinct``, each text value
    has `` <row number>`` appended."""
    rows = pd.read_csv(data_dir / "titanic.csv", dtype=str, keep_default_na=False)
    rows = rows[[c for c in bundle.schema.names if c in rows.columns]]
    rows = rows.sample(n, replace=True, random_state=0).reset_index(drop=True)
    if distinct:
        numbers = " " + pd.Series(range(n), dtype=str)
        for name in bundle.schema.names_of("text"):
            rows[name] = rows[name] + numbers
    return rows.to_csv(index=False).encode()


def run_once(bundle, body: bytes) -> tuple[float, float, bytes]:
    """Wall and CPU seconds (all threads of this process) of one run, and its output."""
    from automl.serving.batch import stream_predictions

    t, c = time.perf_counter(), time.process_time()
    out = b"".join(stream_predictions(bundle, io.BytesIO(body)))
    return time.perf_counter() - t, time.process_time() - c, out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from automl.model.bundle import ModelBundle

    data_dir, work = Path(args.data_dir), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    chosen = bundles(data_dir, work)
    if args.subjects:
        wanted = args.subjects.split(",")  # "ensemble" names "ensemble, text"
        chosen = {k: v for k, v in chosen.items() if k in wanted or Path(v).name in wanted}
    print(f"load before {os.getloadavg()}; {args.rows} rows"
          f"{' (distinct text)' if args.distinct else ''}, best of {args.repeat}", flush=True)
    failed = 0
    body = None
    for name, directory in chosen.items():
        bundle = ModelBundle.load(directory)
        body = body or body_of(bundle, data_dir, args.rows, args.distinct)
        run_once(bundle, body[:body.index(b"\n", 2000) + 1])  # compile, warm caches
        if args.profile in (name, Path(directory).name):
            profiler = cProfile.Profile()
            profiler.runcall(run_once, bundle, body)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            continue
        runs = [run_once(bundle, body) for _ in range(args.repeat)]
        best, out = min(r[0] for r in runs), runs[0][2]
        cpu = min(r[1] for r in runs)
        verdict = ""
        file = f"{name.replace(', ', '-')}-{args.rows}{'-distinct' * args.distinct}.csv"
        if args.save:
            Path(args.save).mkdir(parents=True, exist_ok=True)
            (Path(args.save) / file).write_bytes(out)
        if args.compare:
            same = (Path(args.compare) / file).read_bytes() == out
            failed += not same
            verdict = "  same bytes" if same else "  OUTPUT DIFFERS"
        print(f"{name:24s} {args.rows / best:>10,.0f} rows/s  ({best * 1000:.0f} ms wall, "
              f"{cpu * 1000:.0f} ms CPU: {args.rows / cpu:,.0f} rows per CPU s){verdict}",
              flush=True)
    print(f"load after {os.getloadavg()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
