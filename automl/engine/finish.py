"""The end of a job (DESIGN section 1: ensemble, finalize): a fallback model when no trial
completed, the ensemble, the winner and its final model, each within the time left."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from automl.diagnose import diagnose, latency_warning
from automl.engine.artifacts import bundle_metadata
from automl.engine.context import JobContext, JobResult
from automl.engine.latency import exclude_slow, exclusion_reason, measured_winner, over_limit
from automl.ensemble import greedy_ensemble
from automl.exceptions import AutoMLError
from automl.finalize import bagged_score, fit_bag, refit
from automl.leaderboard import make_leaderboard, rank_results
from automl.model.bundle import ModelBundle
from automl.monitoring.baseline import Baseline, build_baseline
from automl.search.fallback import fallback_trial, needs_fallback
from automl.search.records import CandidateResult, EnsembleResult, TrialResult, TrialSpec

log = logging.getLogger(__name__)


def finish(ctx: JobContext, results: list[TrialResult], trials: dict[str, TrialSpec],
           timings: dict) -> JobResult:
    """From the search's results to the job's result: ensemble, winner, bundle, warnings.

    ``timings["search_s"]`` is when the search ended, in job seconds; ``refit_s``,
    ``bag_check_s`` and ``latency_s`` (measuring the final model) are added. Rows over the
    latency limit may not win (:mod:`automl.engine.latency`); the winner's latency is its
    final model's.
    """
    data, metric, settings = ctx.data, ctx.metric, ctx.settings
    results = exclude_slow(with_fallback(results, trials, ctx, timings["search_s"]),
                           settings.max_latency_ms)
    ensemble = affordable_ensemble(results, ctx, timings["search_s"])
    everything = results + ([ensemble] if ensemble is not None else [])
    winner = affordable_winner(rank_results(everything, metric), ctx, timings["search_s"])
    t0 = time.time()
    model, finalized = final_model(winner, everything, trials, ctx, timings)
    timings["refit_s"] = time.time() - t0
    estimated, t0 = winner, time.time()
    winner, everything = measured_winner(winner, everything, model, data)
    timings["latency_s"] = time.time() - t0
    notes = diagnose(everything, winner, metric, data.task, settings.time_budget)
    slow = latency_warning(estimated, winner, settings.max_latency_ms)
    notes += [slow] if slow else []
    bundle = ModelBundle(model, data.schema, data.task, data.classes,
                         bundle_metadata(ctx, winner, finalized, notes),
                         ModelBundle.background_of(data.X, settings.seed))
    return JobResult(ctx.profile, settings, metric, everything, trials,
                     make_leaderboard(everything, metric), bundle, winner, timings,
                     baseline=_baseline(ctx, winner), warnings=notes)


def with_fallback(results: list[TrialResult], trials: dict[str, TrialSpec],
                  ctx: JobContext, search_s: float | None = None) -> list[TrialResult]:
    """``results``, plus the fast model of :mod:`automl.search.fallback` when none completed
    (reported to the callbacks like any trial, so progress and the live leaderboard count it);
    an error when no model can be fitted at all."""
    if needs_fallback(results):
        spec, fast = fallback_trial(ctx.data, ctx.data_ref, ctx.metric, ctx.executor,
                                    ctx.settings.seed, len(results), ctx.settings.time_budget,
                                    None if search_s is None else ctx.costs.time_left(search_s))
        trials[spec.candidate_id] = spec
        results = results + [fast]
        ctx.callbacks.on_trial(fast, ctx.progress.update(fast))
    if not any(r.ok for r in results):
        reasons = sorted({r.reason for r in results if r.reason})[:3]
        raise AutoMLError("no candidate completed" + (f" ({'; '.join(reasons)})" if reasons else "")
                          + "; give a larger time budget or check the data")
    return results


def affordable_ensemble(results: list[TrialResult], ctx: JobContext,
                        search_s: float) -> EnsembleResult | None:
    """The greedy ensemble of the rows that may win, within the latency limit, or, when
    refitting its members would overrun the budget, the best ensemble of cheaper trials: the
    dearest member is left out until the refit fits. When no ensemble is within the latency
    limit, the one there would have been, excluded (the leaderboard shows what was lost)."""
    pool = [r for r in results if r.ok and not r.excluded]
    while True:
        ensemble = _ensemble(pool, ctx, ctx.settings.max_latency_ms)
        if ensemble is None:
            return _excluded_ensemble(results, ctx)
        if ctx.settings.time_budget is None:
            return ensemble
        by_id = {r.candidate_id: r for r in pool}
        members = [by_id[m] for m in ensemble.members]
        if ctx.costs.refit_s(members) <= ctx.costs.time_left(search_s):
            return ensemble
        dearest = max(members, key=lambda m: m.fit_s)
        pool = [r for r in pool if r is not dearest]


def _ensemble(pool: list[TrialResult], ctx: JobContext,
              limit: float | None) -> EnsembleResult | None:
    return greedy_ensemble(pool, ctx.data.y, ctx.data.folds, ctx.metric, ctx.data.task,
                           ctx.settings.ensemble_size, max_latency_ms=limit)


def _excluded_ensemble(results: list[TrialResult], ctx: JobContext) -> EnsembleResult | None:
    limit = ctx.settings.max_latency_ms
    if limit is None:
        return None
    ensemble = _ensemble([r for r in results if r.ok], ctx, None)
    if ensemble is None or not over_limit(ensemble, limit):
        return None
    return replace(ensemble, excluded=exclusion_reason(ensemble, limit))


def affordable_winner(ranked: list[CandidateResult], ctx: JobContext,
                      search_s: float) -> CandidateResult:
    """The best row that may win whose refit fits in the time left (an ensemble refits all its
    members)."""
    if ctx.settings.time_budget is None:
        return ranked[0]
    by_id = {r.candidate_id: r for r in ranked}
    eligible = [r for r in ranked if r.ok and not r.excluded]
    for row in eligible:
        members = [by_id[m] for m in row.members] if row.members else [row]
        if ctx.costs.refit_s(members) <= ctx.costs.time_left(search_s):
            return row
    return next(r for r in eligible if not r.members)


def final_model(winner: CandidateResult, results: list[CandidateResult], trials: dict[str, TrialSpec],
                ctx: JobContext, timings: dict) -> tuple[object, dict]:
    """The winner bagged over the folds when the check of :mod:`automl.finalize` says that
    scores better and the time left allows both; else refit on all rows. Also says which."""
    data, executor, ref = ctx.data, ctx.executor, ctx.data_ref
    weights = dict(winner.members) or {winner.candidate_id: 1.0}
    by_id = {r.candidate_id: r for r in results}
    members = [by_id[cid] for cid in weights]
    how: dict = {"method": "refit on all rows"}
    check_end = ctx.costs.bag_check_end(members, timings["search_s"])
    if check_end is not False and not _bag_too_slow(winner, len(data.folds), ctx):
        t0 = time.time()
        score = bagged_score(weights, trials, data, ctx.metric, executor, ref, check_end)
        timings["bag_check_s"] = time.time() - t0
        how["bagged_score"] = score
        if score is not None and ctx.metric.is_better(score, winner.score):
            model = fit_bag(weights, trials, data, executor, ref)
            if model is not None:
                return model, {**how, "method": f"bagged over {len(data.folds)} folds"}
    return refit(winner, trials, data, executor, ref), how


def _bag_too_slow(winner: CandidateResult, n_folds: int, ctx: JobContext) -> bool:
    """A bag runs every fold's model for one row: over the latency limit when ``n_folds``
    times the winner's latency is."""
    limit = ctx.settings.max_latency_ms
    return limit is not None and winner.latency_ms is not None and \
        winner.latency_ms * n_folds > limit


def _baseline(ctx: JobContext, winner: CandidateResult) -> Baseline | None:
    """The monitoring baseline of the training data and the winner's out-of-fold predictions."""
    data = ctx.data
    try:
        return build_baseline(data.X, data.schema.to_dict(), data.task, data.classes, winner.oof,
                              y=data.y)
    except Exception:  # noqa: BLE001 - monitoring must never lose a finished job
        log.exception("the monitoring baseline could not be computed")
        return None
