"""One entry point for everything that makes a job transparent: notebooks, SHAP, quality."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from automl.data.intake import read_table
from automl.data.splits import make_folds
from automl.data.target import encode_target
from automl.explain import write_explanations
from automl.explain.quality import write_quality
from automl.notebooks import write_notebooks

QUALITY_TOP_N = 3


def write_transparency(job, output_dir: str | Path, data_path: str | Path,
                       top_n: int = QUALITY_TOP_N, exploration: bool = True,
                       quality_for: list[str] | None = None,
                       data_name: str | None = None, explain: bool = True) -> dict[str, float]:
    """Notebooks for every completed row, SHAP for the winner, quality for the ``top_n`` rows.

    ``quality_for`` names the rows to report on instead (the engine reports on each trial as
    it completes, during the search, and leaves only the ensemble for here). ``data_name`` is
    the data file's name the notebooks show (see :func:`automl.notebooks.write_notebooks`).
    ``explain=False`` (a job out of time) leaves out the explanations and quality reports.
    Returns timings in seconds (``total_s`` and one entry per part).
    """
    start = time.perf_counter()
    timings = write_notebooks(job, output_dir, data_path, exploration=exploration,
                              data_name=data_name)
    if not explain:
        timings["total_s"] = time.perf_counter() - start
        return timings
    t0 = time.perf_counter()
    frame, y, folds = training_rows(job, data_path)
    timings["read_s"] = time.perf_counter() - t0
    timings.update(write_explanations(job, output_dir, frame))
    t0 = time.perf_counter()
    ranked = job.leaderboard[job.leaderboard["state"].astype(str) == "complete"]
    results = {r.candidate_id: r for r in job.results}
    for cid in ranked["candidate_id"].head(top_n) if quality_for is None else quality_for:
        write_quality(results[cid], y, folds, job.profile.task, job.bundle.classes, output_dir)
    timings["quality_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - start
    return timings


def training_rows(job, data_path) -> tuple[pd.DataFrame, np.ndarray, list]:
    """The raw rows with a target, the encoded target and the job's folds (as in the search)."""
    frame = read_table(data_path)
    target = job.profile.target
    frame = frame[frame[target].notna()].reset_index(drop=True)
    y = encode_target(frame[target], job.profile.task, job.bundle.classes)
    n_folds = len(job.winner.fold_scores)
    return frame, y, make_folds(y, job.profile.task, n_folds, job.settings.seed)
