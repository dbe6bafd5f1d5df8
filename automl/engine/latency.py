"""The job's latency limit (``Settings.max_latency_ms``, like AutoGluon's ``infer_limit``):
which leaderboard rows may win, and the winner's latency as its final model answers.

Every trial measures its last fold model's single-row latency (:mod:`automl.model.latency`);
an ensemble's, before it is fitted, is its members' sum. A completed row slower than the limit
is *excluded*: it stays on the leaderboard, ranked after every row that may win, with the
reason. When no row is within the limit, the fastest one may win all the same (a job always
ends with a model) and :func:`automl.diagnose.latency_warning` says so. A row whose latency is unknown
(a trial recorded before latencies were measured) is not excluded.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from automl.model.latency import row_latency_ms
from automl.search.evaluate import TrainingData
from automl.search.records import CandidateResult, TrialResult

log = logging.getLogger(__name__)


def over_limit(row: CandidateResult, limit: float | None) -> bool:
    """Whether ``row`` answers one row slower than ``limit`` ms (never when either is unknown)."""
    return limit is not None and row.latency_ms is not None and row.latency_ms > limit


def exclusion_reason(row: CandidateResult, limit: float) -> str:
    """Why ``row`` may not win, in the leaderboard's words."""
    what = ("its members' single-row latencies add up to" if row.members
            else "single-row latency (p50) is")
    return f"{what} {row.latency_ms:.3g} ms, over the {limit:g} ms limit"


def exclude_slow(results: list[TrialResult], limit: float | None) -> list[TrialResult]:
    """``results`` with every completed row over ``limit`` marked excluded, except the fastest
    when none is within it."""
    done = [r for r in results if r.ok]
    slow = [r for r in done if over_limit(r, limit)]
    if not slow:
        return results
    if len(slow) == len(done):
        fastest = min(done, key=lambda r: r.latency_ms)
        slow = [r for r in slow if r is not fastest]
    return [replace(r, excluded=exclusion_reason(r, limit)) if any(r is s for s in slow) else r
            for r in results]


def measured_winner(winner: CandidateResult, rows: list[CandidateResult], model,
                    data: TrainingData) -> tuple[CandidateResult, list[CandidateResult]]:
    """The winner with the single-row latency of its final ``model`` (refit or bagged, as the
    bundle serves it) in place of its fold model's (or, for an ensemble, its members' sum),
    and ``rows`` with it in its place; both unchanged (and the error logged) when measuring
    fails."""
    valid = data.folds[-1][1]
    try:
        latency = row_latency_ms(model, data.schema, data.task, data.n_classes,
                                 data.X.iloc[valid])
    except Exception:  # noqa: BLE001 - a figure must never lose a finished job
        log.exception("the final model's single-row latency could not be measured")
        return winner, rows
    measured = replace(winner, latency_ms=latency)
    return measured, [measured if r is winner else r for r in rows]
