"""Job-level warnings: when a job's result is weaker than it should be, and why.

Each warning is ``{"code": ..., "message": ...}``; the message names the count, the likely
cause and the remedy. They are written to ``leaderboard.json`` and the bundle's
``metadata.json``, printed by the CLI, and served with the job by the API and the job page.
"""

from __future__ import annotations

import os

import numpy as np

from automl.metrics import Metric
from automl.search.fallback import FALLBACK_ID, FALLBACK_TREES
from automl.search.records import CandidateResult, TrialResult, TrialState

GRADIENT_BOOSTING = ("lightgbm", "hist_gradient_boosting")
DEGENERATE_SHARE = 0.9  # rows whose predicted probability is exactly 0 or 1 for every class
FAR_BELOW = 0.01  # relative loss gap between the winner and the best single trial


def diagnose(results: list[CandidateResult], winner: CandidateResult, metric: Metric, task: str,
             time_budget: float | None) -> list[dict]:
    """The warnings that apply to a finished job's ``results`` and its ``winner``."""
    trials = [r for r in results if not r.members]
    found = [_fallback(trials, time_budget), _most_cut(trials, time_budget),
             _degenerate(winner, task), _no_boosting(trials, winner, time_budget),
             _below_best_single(trials, winner, metric)]
    return [w for w in found if w is not None]


def _warning(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def _load_hint() -> str:
    try:
        load = os.getloadavg()[0]
    except OSError:
        return ""
    return f" (load {load:.1f} on {os.cpu_count() or 1} cores)"


def _fallback(trials: list[TrialResult], time_budget: float | None) -> dict | None:
    if not any(r.candidate_id == FALLBACK_ID and r.ok for r in trials):
        return None
    return _warning("fallback_model", (
        f"no trial completed within the time budget, so a fast LightGBM of {FALLBACK_TREES} "
        f"trees was fitted after it{_budget_remedy(time_budget)}"))


def _most_cut(trials: list[TrialResult], time_budget: float | None) -> dict | None:
    searched = [r for r in trials if r.candidate_id != FALLBACK_ID]
    timed_out = sum(r.state is TrialState.TIMED_OUT for r in searched)
    failed = sum(r.state is TrialState.FAILED for r in searched)
    completed = sum(r.ok for r in searched)
    if not timed_out + failed or (2 * (timed_out + failed) <= len(searched) and completed > 1):
        return None  # a result resting on one trial is weak even when only one other was cut
    if timed_out >= failed:
        return _warning("trials_timed_out", (
            f"{timed_out} of {len(searched)} trials ran out of time"
            + (f" and {failed} failed" if failed else "")
            + f"; likely cause: a busy machine{_load_hint()} or a budget short for this data"
            + _budget_remedy(time_budget)))
    return _warning("trials_failed", (
        f"{failed} of {len(searched)} trials failed" + (
            f" and {timed_out} ran out of time" if timed_out else "")
        + "; the leaderboard's reasons say why (often memory, or a column type the models "
          "cannot use); check the data or free memory"))


def _budget_remedy(time_budget: float | None) -> str:
    more = "" if time_budget is None else f" (more than {time_budget:.0f} s)"
    return (f"; remedy: give a larger time budget{more}, or run fewer jobs at once "
            "(AUTOML_MAX_CONCURRENT_JOBS=1) on a machine with spare cores")


def _degenerate(winner: CandidateResult, task: str) -> dict | None:
    if task == "regression" or winner.oof is None:
        return None
    oof = winner.oof[~np.isnan(winner.oof[:, 0])]
    if not len(oof):
        return None
    share = float(np.mean(np.all((oof == 0) | (oof == 1), axis=1)))
    if share < DEGENERATE_SHARE:
        return None
    return _warning("degenerate_probabilities", (
        f"the winner ({winner.family}) gives probabilities of exactly 0 or 1 on {share:.0%} of "
        "the validation rows: its probabilities cannot rank or be thresholded; a larger budget "
        "usually lets a model with graded probabilities win"))


def _no_boosting(trials: list[TrialResult], winner: CandidateResult,
                 time_budget: float | None) -> dict | None:
    if any(r.ok and r.family in GRADIENT_BOOSTING for r in trials):
        return None
    tried = [r for r in trials if r.family in GRADIENT_BOOSTING]
    if not tried:
        return None
    return _warning("no_gradient_boosting", (
        f"no gradient-boosting trial completed ({len(tried)} tried), and on tables like this "
        f"one they usually score best: the winner ({winner.family}) may be far below what "
        f"this data allows{_budget_remedy(time_budget)}"))


def _below_best_single(trials: list[TrialResult], winner: CandidateResult,
                       metric: Metric) -> dict | None:
    done = [r for r in trials if r.ok and r.score is not None and not r.excluded]
    if not done or winner.score is None:
        return None
    best = min(done, key=lambda r: metric.loss(r.score))
    gap = metric.loss(winner.score) - metric.loss(best.score)
    if gap <= FAR_BELOW * max(abs(metric.loss(best.score)), 1e-12):
        return None
    return _warning("winner_below_best_single", (
        f"the winner scores {metric.name} {winner.score:.5g}, below {best.score:.5g} of "
        f"{best.candidate_id}, which could not be refit in the time left; give a larger "
        "time budget"))


def latency_warning(estimated: CandidateResult, measured: CandidateResult,
                    limit: float | None) -> dict | None:
    """The warning when the winner's final model (``measured``) answers one row slower than the
    job's latency limit: no candidate was within it (``estimated``, the winner as the search
    measured it, was over it too), or the refit on all rows made it slower."""
    if limit is None or measured.latency_ms is None or measured.latency_ms <= limit:
        return None
    remedy = ("remedy: raise the limit (--max-latency-ms, max_latency_ms), or give the search "
              "more time to try faster models")
    if estimated.latency_ms is not None and estimated.latency_ms > limit:
        return _warning("latency_over_limit", (
            f"no candidate answers one row within the {limit:g} ms latency limit, so the "
            f"fastest, {measured.candidate_id} ({measured.family}), won at "
            f"{measured.latency_ms:.3g} ms; {remedy}"))
    return _warning("latency_over_limit", (
        f"the winner's final model answers one row in {measured.latency_ms:.3g} ms, over the "
        f"{limit:g} ms latency limit that its fold model met"
        + ("" if estimated.latency_ms is None else f" ({estimated.latency_ms:.3g} ms)")
        + ": fitted on all rows it is slower; remedy: set the limit a little lower to leave "
          "room, or deploy a faster candidate from the leaderboard"))
