"""Terminal output for ``automl run``: a progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from automl.engine import Callbacks


class JobProgress:
    """Shows trials as they complete: budget used, trials done and failed, best score."""

    def __init__(self, budget: float | None, max_trials: int | None):
        self.console = Console(stderr=True)
        self.total = budget if budget is not None else float(max_trials or 1)
        self.by_time = budget is not None
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                                 console=self.console, transient=False)
        self.task = None

    def __enter__(self) -> JobProgress:
        if self.console.is_terminal:
            self.progress.start()
            self.task = self.progress.add_task("search", total=self.total, status="starting")
        return self

    def __exit__(self, *exc) -> None:
        if self.task is not None:
            self.progress.stop()

    def callbacks(self) -> Callbacks:
        return Callbacks(on_trial=self._on_trial, on_stage=self._on_stage)

    def _on_stage(self, stage: str) -> None:
        if self.task is None:
            print(f"[{stage}]", file=sys.stderr, flush=True)

    def _on_trial(self, result, p: dict) -> None:
        best = "-" if p["best_score"] is None else f"{p['best_score']:.5g}"
        status = f"{p['trials_completed']} done, {p['trials_failed']} failed, best {best}"
        if self.task is not None:
            done = p["elapsed_s"] if self.by_time else p["trials_completed"] + p["trials_failed"]
            self.progress.update(self.task, completed=min(done, self.total), status=status)
            return
        score = "" if result.score is None else f"score={result.score:.5g}"
        print(f"{p['elapsed_s']:7.1f}s {result.candidate_id:<28} {result.state.value:<9} {score} "
              f"{result.reason[:100]}| {status}", file=sys.stderr, flush=True)


def print_leaderboard(result, top: int = 15) -> None:
    """The leaderboard as a table on stdout."""
    board = result.leaderboard
    table = Table(title=f"leaderboard ({result.job.metric.name}, "
                        f"{'higher' if result.job.metric.greater_is_better else 'lower'} is better)")
    for col in ("rank", "candidate_id", "family", "score", "± std", "fit_s", "batch ms/row",
                "row p50 ms", "state"):
        table.add_column(col)
    for _, row in board.head(top).iterrows():
        ok = row["state"] == "complete"
        table.add_row("" if not ok else str(int(row["rank"])), row["candidate_id"], row["family"],
                      f"{row['score']:.5g}" if ok else "-", f"{row['score_std']:.3g}" if ok else "-",
                      _fit_s(row), f"{row['predict_ms_per_row']:.3f}",
                      "-" if pd.isna(row["latency_ms"]) else f"{row['latency_ms']:.3f}",
                      _state(row))
    Console(width=140).print(table)
    if len(board) > top:
        print(f"... {len(board) - top} more rows in leaderboard.csv")


def _state(row) -> str:
    """The state, with why a row failed or may not win."""
    if row["state"] != "complete":
        return f"{row['state']}: {row['reason'][:40]}"
    if row["excluded"]:  # the latency is beside it: "over the 5 ms limit" says the rest
        return f"excluded: {row['excluded'].rsplit(', ', 1)[-1]}"
    return row["state"]


def _fit_s(row) -> str:
    """Seconds per fold's fit; for a trial cut short, how long it ran (``>12.3``)."""
    if row["state"] == "timed-out":
        return f">{row['fit_s']:.1f}"
    return f"{row['fit_s']:.2f}"
