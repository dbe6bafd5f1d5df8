"""The leaderboard: one row per trial and per ensemble, best first, failures last."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from automl.jsonable import dumps
from automl.metrics import Metric
from automl.search.records import TrialResult

COLUMNS = ["rank", "candidate_id", "family", "recipe", "params", "score", "score_std", "fit_s",
           "predict_ms_per_row", "size_bytes", "state", "reason"]


def rank_results(results: list[TrialResult], metric: Metric) -> list[TrialResult]:
    """Completed results best first (ties: earlier trial first), then the others by number."""
    done = sorted((r for r in results if r.ok),
                  key=lambda r: (metric.loss(r.score), r.number if r.number >= 0 else 10**9))
    rest = sorted((r for r in results if not r.ok), key=lambda r: r.number)
    return done + rest


def make_leaderboard(results: list[TrialResult], metric: Metric) -> pd.DataFrame:
    """The leaderboard as a DataFrame with the columns of DESIGN section 4b plus secondary metrics."""
    rows = []
    for i, r in enumerate(rank_results(results, metric)):
        row = {**r.to_dict(), "rank": i + 1 if r.ok else np.nan}
        for name, value in r.secondary.items():
            row[f"{name}"] = value
        rows.append(row)
    frame = pd.DataFrame(rows)
    extra = [c for c in frame.columns if c not in COLUMNS and c not in _HIDDEN]
    return frame[COLUMNS + extra].reset_index(drop=True)


_HIDDEN = {"number", "fold_scores", "secondary", "members", "run_s", "cpu_s"}


def leaderboard_json(results: list[TrialResult], metric: Metric) -> dict:
    """The leaderboard document served by the API and written to ``leaderboard.json``."""
    rows = []
    for i, r in enumerate(rank_results(results, metric)):
        d = r.to_dict()
        d["rank"] = i + 1 if r.ok else None
        rows.append(d)
    return {"metric": metric.name, "greater_is_better": metric.greater_is_better,
            "rows": json.loads(dumps(rows))}

