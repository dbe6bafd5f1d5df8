"""Distances between a baseline and a window, vectorised in NumPy.

- Numeric columns and predictions: the population stability index (PSI) over the baseline's
  bins, ``sum((a - e) * ln(a / e))`` over bin shares ``e`` (baseline) and ``a`` (window), each
  floored at ``PSI_FLOOR`` so an empty bin costs a finite amount.
- Categorical columns: the Jensen-Shannon distance (base 2, so in [0, 1]) between level shares,
  the baseline's rare levels and unseen values pooled into one "other" level.
- Attribution: nDCG of the window's importance ranking scored with the baseline's importance
  (SageMaker Clarify's feature-attribution drift; 1 means the same ranking).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PSI_FLOOR = 1e-4


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of the non-missing ``values`` in the bins ``(e[i], e[i+1]]`` of ``edges`` (the
    first bin also takes everything at or below ``e[1]``, the last everything above)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    index = np.searchsorted(np.asarray(edges[1:-1], dtype=float), values, side="left")
    return np.bincount(index, minlength=len(edges) - 1).astype(float)


def level_counts(counts: pd.Series, levels: list[str]) -> np.ndarray:
    """``counts`` (by level) of ``levels``, then one count for every other level."""
    kept = counts.reindex(levels, fill_value=0).to_numpy(dtype=float)
    return np.append(kept, float(counts.sum()) - kept.sum())


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two count (or share) vectors over the same bins;
    NaN when either is empty."""
    e, a = _shares(expected), _shares(actual)
    if e is None or a is None:
        return float("nan")
    e, a = np.maximum(e, PSI_FLOOR), np.maximum(a, PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def js_distance(expected: np.ndarray, actual: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2) between two count vectors; NaN when either is empty."""
    p, q = _shares(expected), _shares(actual)
    if p is None or q is None:
        return float("nan")
    m = (p + q) / 2
    divergence = (_kl(p, m) + _kl(q, m)) / 2
    return float(np.sqrt(max(divergence, 0.0)))


def _kl(p: np.ndarray, m: np.ndarray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / m[mask])))


def _shares(counts: np.ndarray) -> np.ndarray | None:
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    return counts / total if total > 0 else None


def ndcg(baseline: dict[str, float], window: dict[str, float], k: int | None = None) -> float:
    """nDCG@k of the window's ranking, with the baseline's importance as the relevance:
    ``DCG = sum(rel(f_i) / log2(i + 1))`` over the window's top ``k`` features, divided by the
    same sum over the baseline's own top ``k``."""
    names = [n for n in baseline if n in window]
    if not names:
        return float("nan")
    k = min(k or len(names), len(names))
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    relevance = {n: abs(float(baseline[n])) for n in names}
    ideal = np.sort(np.array(list(relevance.values())))[::-1][:k]
    ranked = sorted(names, key=lambda n: -abs(float(window[n])))[:k]
    ideal_dcg = float(np.dot(ideal, discount))
    if ideal_dcg == 0:
        return 1.0
    return float(np.dot([relevance[n] for n in ranked], discount)) / ideal_dcg
