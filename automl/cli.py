"""The ``automl`` command (DESIGN section 4): run, predict, serve, serve-model, families,
monitor.

Errors a user can fix print one line to stderr and exit with code 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from automl.exceptions import AutoMLError, NotFound
from automl.layout import JobLayout

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
                     help="seconds one trial may run, counted once its worker holds the data; "
                          "the first trial has no limit of its own (default: adapts to the "
                          "time left and to what the family's trials took)")
    run.add_argument("--max-latency-ms", type=float, default=None,
                     help="single-row latency limit in milliseconds (median of one row alone, "
                          "as an endpoint answers it): slower candidates and ensembles cannot "
                          "win (default: no limit)")
    run.add_argument("--families", default=None,
                     help="model families to search, comma-separated (see `automl families`): "
                          "lightgbm,xgboost searches these two; +xgboost,catboost the default "
                          "set plus these (default: the default set)")
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
    serve_model.add_argument("--max-body-bytes", type=int, default=None,
                             help="largest invocation body (default 6 MB, as SageMaker)")
    serve_model.add_argument("--capture-dir", default=None,
                             help="capture requests and answers here (SageMaker's layout)")
    serve_model.add_argument("--capture-percent", type=float, default=100.0,
                             help="share of requests captured, 0-100 (default 100)")
    serve_model.add_argument("--flask-invocations", action="store_true",
                             help="answer invocations through Flask's full request handling "
                                  "instead of the WSGI fast path in front of it (same answers, "
                                  "about half the requests/s; for comparison and debugging)")

    monitor = sub.add_parser("monitor", help="check captured requests against the training baseline")
    monitor.add_argument("model", help="a run's output directory or a bundle directory")
    monitor.add_argument("capture", help="a capture directory (serve-model --capture-dir)")
    monitor.add_argument("--ground-truth", default=None,
                         help="labels by inference id: JSON lines (SageMaker) or CSV inference_id,label")
    monitor.add_argument("--output", required=True,
                         help="directory for constraint_violations.json and report.json")

    sub.add_parser("families", help="list the installed model families and where they come from")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line (``argv``, default ``sys.argv``); returns the exit code. Run as the
    ``automl`` program (no ``argv``), ``run`` exits the process itself (:func:`exit_now`)."""
    args = build_parser().parse_args(argv)
    code = _dispatch(args)
    if argv is None and args.command == "run":
        exit_now(code)
    return code


def _dispatch(args: argparse.Namespace) -> int:
    try:
        return COMMANDS[args.command](args) or 0
    except AutoMLError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def exit_now(code: int) -> None:
    """End the process once the job's output is written: the exit handlers run (worker pools,
    temporary directories) but not the interpreter's teardown of every module and object, which
    took 5 s of CPU after a 60 s job on a busy machine, past the job's budget (issue 17)."""
    import atexit
    import logging
    import os

    # a library's exit handler that fails (nbclient stopping the kernel of a notebook the job
    # ended without) is logged, not printed as a traceback after the job's results
    sys.unraisablehook = lambda unraisable: logging.getLogger(__name__).debug(
        "at exit: %s", unraisable.err_msg, exc_info=(
            unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback))
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def cmd_run(args: argparse.Namespace) -> int:
    if not args.cluster:  # its imports in a process of its own, beside this one's below
        from automl.search.forkserver import start_early

        start_early()
    from automl.api import fit
    from automl.cli_output import JobProgress, print_leaderboard

    started = process_start()  # the budget counts the interpreter's start and the imports
    budget = args.time_budget
    if budget is None and args.max_candidates is None:
        budget = 60.0
    output = Path(args.output) if args.output else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    with JobProgress(budget, args.max_candidates) as progress:
        result = fit(args.data, args.target, task=None if args.task == "auto" else args.task,
                     metric=args.metric, time_budget=budget, max_candidates=args.max_candidates,
                     seed=args.seed, n_jobs=args.n_jobs, cluster=args.cluster,
                     trial_timeout=args.trial_timeout, max_latency_ms=args.max_latency_ms,
                     families=args.families, output=output,
                     callbacks=progress.callbacks(), started_at=started)
    print_leaderboard(result)
    job = result.job
    latency = "" if job.winner.latency_ms is None else f", {job.winner.latency_ms:.3g} ms per row alone"
    print(f"winner: {job.winner.candidate_id}, {job.bundle.metadata['finalized']['method']}{latency}")
    for warning in job.warnings:
        print(f"warning: {warning['message']}")
    print(f"saved to {output}/ (model/, leaderboard.csv, leaderboard.json, profile.json)")
    return 0


def process_start() -> float:
    """When this process started (epoch seconds): a job's budget counts from the moment the
    user ran the command, before Python and the libraries were loaded."""
    import psutil

    try:
        return psutil.Process().create_time()
    except psutil.Error:  # pragma: no cover - /proc unreadable: count from now
        return time.time()


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

    return serve_model(args, capture=_capture_writer(args))


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


def _capture_writer(args: argparse.Namespace):
    """``--capture-dir``/``--capture-percent``: a writer under ``DIR/standalone/AllTraffic``."""
    if not args.capture_dir:
        return None
    from automl.monitoring.capture import CaptureWriter

    try:
        return CaptureWriter(args.capture_dir, "standalone", sample_percent=args.capture_percent)
    except ValueError as exc:
        raise AutoMLError(str(exc)) from exc


def cmd_monitor(args: argparse.Namespace) -> int:
    import automl
    from automl.endpoint_monitor import global_importance, model_outputs
    from automl.monitoring.baseline import Baseline
    from automl.monitoring.quality import parse_ground_truth
    from automl.monitoring.run import run_monitoring, summary, write_run

    for path in [args.capture] + ([args.ground_truth] if args.ground_truth else []):
        if not Path(path).exists():
            raise NotFound(f"no such file or directory: {path}")
    bundle = automl.load(args.model)
    baseline = Baseline.load(_baseline_dir(Path(args.model)))
    truth = parse_ground_truth(Path(args.ground_truth).read_bytes()) if args.ground_truth else None
    run = run_monitoring(args.capture, baseline, bundle.schema.to_dict(),
                         {**bundle.metadata, "task": bundle.task, "classes": bundle.classes},
                         predict=model_outputs(bundle), ground_truth=truth,
                         importance=global_importance(bundle) if baseline.importance else None)
    write_run(run, args.output)
    for line in summary(run):
        print(line)
    print(f"wrote {args.output}/constraint_violations.json and report.json")
    return 0


def _baseline_dir(model: Path) -> Path:
    """``monitoring/`` of a run's output, given the run or its ``model/`` bundle."""
    for candidate in (JobLayout(model).monitoring, JobLayout(model.parent).monitoring):
        if candidate.is_dir():
            return candidate
    return JobLayout(model).monitoring


COMMANDS = {"run": cmd_run, "predict": cmd_predict, "serve": cmd_serve,
            "serve-model": cmd_serve_model, "families": cmd_families, "monitor": cmd_monitor}

if __name__ == "__main__":
    sys.exit(main())
