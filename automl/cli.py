"""The ``automl`` command (DESIGN section 4): run, predict, serve, serve-model, families.

Errors a user can fix print one line to stderr and exit with code 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from automl.exceptions import AutoMLError

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="automl", description="AutoML for tabular data.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="search models for a target column and save the winner")
    run.add_argument("data", help="CSV or Parquet file")
    run.add_argument("--target", required=True, help="column to predict")
    run.add_argument("--task", default="auto", choices=["auto", "binary", "multiclass", "regression"])
    run.add_argument("--metric", default=None, help="auc, logloss, accuracy, rmse, ... (default by task)")
    run.add_argument("--time-budget", type=float, default=None,
                     help="wall-clock seconds for the whole job (default 60, or none with --max-candidates)")
    run.add_argument("--max-candidates", type=int, default=None, help="maximum number of trials")
    run.add_argument("--trial-timeout", type=float, default=None,
                     help="seconds one trial may run (default: a quarter of the time budget)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--n-jobs", type=int, default=None, help="parallel trials (default: cores)")
    run.add_argument("--output", default=None, help="directory for the bundle, leaderboard, notebooks")
    run.add_argument("--cluster", default=None, help="Dask scheduler address, tcp://HOST:PORT")

    predict = sub.add_parser("predict", help="predict rows of a CSV with a saved model")
    predict.add_argument("model", help="a run's output directory or a bundle directory")
    predict.add_argument("data", help="CSV with the training columns")
    predict.add_argument("--output", required=True, help="CSV to write the predictions to")
    predict.add_argument("--include-input", action="store_true",
                         help="write each input row before its predictions (default: the "
                              "prediction columns only, row for row)")

    serve = sub.add_parser("serve", help="start the whole service (web pages, API, job runner)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None)
    serve.add_argument("--data-dir", default=None)

    serve_model = sub.add_parser("serve-model", help="serve one model bundle as an HTTP endpoint")
    serve_model.add_argument("bundle")
    serve_model.add_argument("--host", default="127.0.0.1")
    serve_model.add_argument("--port", type=int, default=8080)
    serve_model.add_argument("--workers", type=int, default=1)
    serve_model.add_argument("--threads", type=int, default=1)

    sub.add_parser("families", help="list the installed model families and where they come from")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args) or 0
    except AutoMLError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def cmd_run(args: argparse.Namespace) -> int:
    from automl.api import fit
    from automl.cli_output import JobProgress, print_leaderboard

    budget = args.time_budget
    if budget is None and args.max_candidates is None:
        budget = 60.0
    output = Path(args.output) if args.output else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    with JobProgress(budget, args.max_candidates) as progress:
        result = fit(args.data, args.target, task=None if args.task == "auto" else args.task,
                     metric=args.metric, time_budget=budget, max_candidates=args.max_candidates,
                     seed=args.seed, n_jobs=args.n_jobs, cluster=args.cluster,
                     trial_timeout=args.trial_timeout, output=output,
                     callbacks=progress.callbacks())
    print_leaderboard(result)
    job = result.job
    print(f"winner: {job.winner.candidate_id}, {job.bundle.metadata['finalized']['method']}")
    print(f"saved to {output}/ (model/, leaderboard.csv, leaderboard.json, profile.json)")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from automl.serving.batch import predict_csv

    n = predict_csv(args.model, args.data, args.output, include_input=args.include_input)
    print(f"wrote {n} predictions to {args.output}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from web.server import serve

    return serve(args)


def cmd_serve_model(args: argparse.Namespace) -> int:
    from automl.serving.server import serve_model

    return serve_model(args)


def cmd_families(args: argparse.Namespace) -> int:
    from automl.candidates.registry import FAMILIES, REJECTED, SOURCES

    rows = [("family", "tasks", "cost", "recipe", "default", "package")]
    rows += [(f.name, ",".join(f.tasks), f"{f.cost:g}", f.recipe,
              "yes" if f.searched_by_default else "no", SOURCES[f.name])
             for f in sorted(FAMILIES.values(), key=lambda f: (f.cost, f.name))]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for name, reason in sorted(REJECTED.items()):
        print(f"not loaded: {name}: {reason}", file=sys.stderr)
    return 0


COMMANDS = {"run": cmd_run, "predict": cmd_predict, "serve": cmd_serve,
            "serve-model": cmd_serve_model, "families": cmd_families}

if __name__ == "__main__":
    sys.exit(main())
