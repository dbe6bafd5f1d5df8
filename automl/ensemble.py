"""Greedy ensemble selection with replacement (Caruana et al., 2004) over out-of-fold predictions."""

from __future__ import annotations

from collections import Counter

import numpy as np

from automl.data.splits import Fold
from automl.metrics import Metric, secondary_scores
from automl.search.records import EnsembleResult, TrialResult


def greedy_ensemble(results: list[TrialResult], y: np.ndarray, folds: list[Fold], metric: Metric,
                    task: str, size: int = 25, per_family: int = 3,
                    max_latency_ms: float | None = None) -> EnsembleResult | None:
    """The weighted average of trials that scores best on the out-of-fold rows, as a result row.

    Members are drawn with replacement from the ``per_family`` best trials of each family (the
    best trials overall are often near-copies of one family's winner, which adds nothing to an
    average); ``None`` when fewer than two distinct trials would be used. With
    ``max_latency_ms``, a step may add a new member only while the members' summed single-row
    latencies (:func:`members_latency_ms`; unknown ones count 0) stay within it; when that
    leaves one member (the first pick was too slow to pair with any), the slowest trial of the
    pool is left out and the selection starts again.
    """
    ranked = candidate_pool(results, metric, per_family)
    rows = np.concatenate([valid for _, valid in folds])
    while len(ranked) >= 2:
        counts = _select([r.oof[rows] for r in ranked], y[rows], metric, size,
                         [r.latency_ms or 0.0 for r in ranked], max_latency_ms)
        if len(counts) >= 2:
            return _weighted(ranked, counts, y, folds, metric, task)
        if max_latency_ms is None:
            return None
        slowest = max(ranked, key=lambda r: r.latency_ms or 0.0)
        ranked = [r for r in ranked if r is not slowest]
    return None


def members_latency_ms(members: list[TrialResult]) -> float | None:
    """An ensemble's single-row latency before it is fitted: its members' summed (each runs
    its own row path in turn; a shared encoding only makes it faster); ``None`` when a
    member's is unknown."""
    latencies = [m.latency_ms for m in members]
    return None if None in latencies else float(sum(latencies))


def _weighted(ranked: list[TrialResult], counts: Counter, y, folds, metric,
              task) -> EnsembleResult:
    weights = {ranked[i].candidate_id: n / sum(counts.values()) for i, n in sorted(counts.items())}
    members = [r for r in ranked if r.candidate_id in weights]
    oof = sum(weights[r.candidate_id] * r.oof for r in members)
    return _result(members, weights, oof, y, folds, metric, task)


def candidate_pool(results: list[TrialResult], metric: Metric, per_family: int) -> list[TrialResult]:
    """The best ``per_family`` completed trials of every family, best first."""
    ranked = sorted((r for r in results if r.ok and r.oof is not None),
                    key=lambda r: metric.loss(r.score))
    taken: Counter = Counter()
    pool = []
    for result in ranked:
        if taken[result.family] < per_family:
            taken[result.family] += 1
            pool.append(result)
    return pool


def _select(preds: list[np.ndarray], y: np.ndarray, metric: Metric, size: int,
            costs: list[float], limit: float | None) -> Counter:
    total = np.zeros_like(preds[0])
    chosen: list[int] = []
    best_loss, best_len = np.inf, 0
    for step in range(1, size + 1):
        spent = sum(costs[i] for i in set(chosen))
        allowed = [i for i in range(len(preds))
                   if limit is None or i in chosen or spent + costs[i] <= limit]
        if not allowed:
            break
        losses = {i: metric.loss(metric.score(y, (total + preds[i]) / step)) for i in allowed}
        pick = min(allowed, key=losses.__getitem__)
        total += preds[pick]
        chosen.append(pick)
        if losses[pick] < best_loss - 1e-12:
            best_loss, best_len = losses[pick], step
    return Counter(chosen[:best_len])


def _result(members, weights, oof, y, folds, metric, task) -> EnsembleResult:
    fold_scores = [metric.score(y[valid], oof[valid]) for _, valid in folds]
    rows = np.concatenate([valid for _, valid in folds])
    return EnsembleResult(
        weights=weights, score=float(np.mean(fold_scores)), score_std=float(np.std(fold_scores)),
        fold_scores=[float(s) for s in fold_scores],
        secondary=secondary_scores(task, y[rows], oof[rows]),
        fit_s=sum(m.fit_s for m in members),
        predict_ms_per_row=sum(m.predict_ms_per_row for m in members),
        size_bytes=sum(m.size_bytes for m in members), oof=oof,
        latency_ms=members_latency_ms(members),
    )
