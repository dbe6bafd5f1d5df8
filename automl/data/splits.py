"""Folds, fixed per job: every trial is scored on the same rows.

Rule: fewer than 20,000 rows: 5-fold cross-validation; up to ``holdout_rows`` (200,000 by
default): 3-fold; more: a single holdout of 20% of the rows (at most 100,000). Classification
folds are stratified (when every class has enough rows), all folds are shuffled with the seed.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

Fold = tuple[np.ndarray, np.ndarray]
MAX_HOLDOUT = 100_000


def default_n_folds(n_rows: int, holdout_rows: int = 200_000) -> int:
    """5, 3 or 1 (a holdout) by the rule in the module doc."""
    if n_rows < 20_000:
        return 5
    return 3 if n_rows <= holdout_rows else 1


def make_folds(y: np.ndarray, task: str, n_folds: int, seed: int) -> list[Fold]:
    """(train rows, validation rows) pairs; ``n_folds == 1`` means a single holdout split."""
    n = len(y)
    stratify = task != "regression" and np.bincount(y).min() >= max(n_folds, 2)
    if n_folds == 1:
        test_size = min(0.2, MAX_HOLDOUT / n)
        idx = np.arange(n)
        train, valid = train_test_split(idx, test_size=test_size, random_state=seed,
                                        stratify=y if stratify else None)
        return [(np.sort(train), np.sort(valid))]
    if task != "regression" and np.bincount(y).min() >= 2:
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return [(tr, va) for tr, va in splitter.split(np.zeros(n), y)]


def validated_rows(folds: list[Fold], n_rows: int) -> np.ndarray:
    """Boolean mask of the rows that have an out-of-fold prediction."""
    mask = np.zeros(n_rows, dtype=bool)
    for _, valid in folds:
        mask[valid] = True
    return mask
