"""The leaderboard: one row per trial and per ensemble, best first, failures last.

Every leaderboard is made here from the candidates' records (:mod:`automl.search.records`):
the job's final one (``leaderboard.json``/``.csv``, the CLI's table) and the service's live
one, from the trials recorded so far. Rows that may not win (``excluded`` says why: over the
job's latency limit) rank after every row that may, so that rank 1 can always be the winner.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from automl.jsonable import dumps
from automl.metrics import Metric
from automl.search.records import ROW_FIELDS, CandidateResult, EnsembleResult

COLUMNS = ["rank", "candidate_id", "family", "recipe", "params", "score", "score_std", "fit_s",
           "predict_ms_per_row", "latency_ms", "size_bytes", "state", "reason", "excluded"]
_HIDDEN = set(ROW_FIELDS) - set(COLUMNS)  # in the JSON rows, not in the table


def rank_results(results: list[CandidateResult], metric: Metric) -> list[CandidateResult]:
    """Completed results that may win best first (ties: trials by number, then the ensemble),
    then those excluded from winning in the same order, then the others by number."""
    return ranked(results, metric.greater_is_better)


def ranked(results: list[CandidateResult], greater_is_better: bool | None) -> list[CandidateResult]:
    """:func:`rank_results` for a metric known by its direction only (``None``: lower is better)."""
    sign = -1.0 if greater_is_better else 1.0
    done = sorted((r for r in results if r.ok and r.score is not None),
                  key=lambda r: (bool(r.excluded), sign * r.score, isinstance(r, EnsembleResult),
                                 r.number))
    placed = {id(r) for r in done}
    rest = sorted((r for r in results if id(r) not in placed), key=lambda r: r.number)
    return done + rest


def make_leaderboard(results: list[CandidateResult], metric: Metric) -> pd.DataFrame:
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


def leaderboard_rows(results: list[CandidateResult], greater_is_better: bool | None) -> list[dict]:
    """The ranked rows as JSON values, each with its ``rank`` (``None`` when not completed)."""
    rows = [{**r.to_dict(), "rank": i + 1 if r.ok else None}
            for i, r in enumerate(ranked(results, greater_is_better))]
    return json.loads(dumps(rows))


def leaderboard_json(results: list[CandidateResult], metric: Metric) -> dict:
    """The leaderboard document served by the API and written to ``leaderboard.json``."""
    return {"metric": metric.name, "greater_is_better": metric.greater_is_better,
            "rows": leaderboard_rows(results, metric.greater_is_better)}
