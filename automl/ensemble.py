"""Greedy ensemble selection with replacement (Caruana et al., 2004) over out-of-fold predictions."""

from __future__ import annotations

from collections import Counter

import numpy as np

from automl.data.splits import Fold
from automl.metrics import Metric, secondary_scores
from automl.search.records import EnsembleResult, TrialResult


def greedy_ensemble(results: list[TrialResult], y: np.ndarray, folds: list[Fold], metric: Metric,
                    task: str, size: int = 25, per_family: int = 3) -> EnsembleResult | None:
    """The weighted average of trials that scores best on the out-of-fold rows, as a result row.

    Members are drawn with replacement from the ``per_family`` best trials of each family (the
    best trials overall are often near-copies of one family's winner, which adds nothing to an
    average); ``None`` when fewer than two distinct trials would be used.
    """
    ranked = candidate_pool(results, metric, per_family)
    if len(ranked) < 2:
        return None
    rows = np.concatenate([valid for _, valid in folds])
    preds = [r.oof[rows] for r in ranked]
    counts = _select(preds, y[rows], metric, size)
    if len(counts) < 2:
        return None
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


def _select(preds: list[np.ndarray], y: np.ndarray, metric: Metric, size: int) -> Counter:
    total = np.zeros_like(preds[0])
    chosen: list[int] = []
    best_loss, best_len = np.inf, 0
    for step in range(1, size + 1):
        losses = [metric.loss(metric.score(y, (total + p) / step)) for p in preds]
        pick = int(np.argmin(losses))
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
    )
