"""Permutation SHAP values for any model, in plain NumPy.

For one row ``x`` and a random order of the features, the features are switched one at a time
from the background rows' values to ``x``'s; each feature's contribution is the change in the
model's mean output over the background when it is switched. The order is walked forwards
and backwards (antithetic sampling, which halves the variance of the estimate), so a row costs
``2 x (features + 1) x background`` model evaluations, made in a few large batches.
Contributions add up exactly: ``base + sum(values) == f(x)``, where ``base`` is the mean output
over the background (the changes telescope).

SHAP's own ``PermutationExplainer`` computes the same estimate, but its masking is compiled by
numba on first use in every process, 10 to 20 s, more than a job's budget can spare.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MAX_BATCH_CELLS = 2_000_000  # matrix cells per model call


def permutation_shap(f: Callable[[np.ndarray], np.ndarray], X: np.ndarray, background: np.ndarray,
                     seed: int = 0, n_orders: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """SHAP values of ``f`` (matrix -> outputs) at the rows of ``X``.

    Returns ``(values, base)``: values of shape (rows, features, outputs), base (outputs,).
    ``n_orders`` random orders are walked per row, each forwards and backwards.
    """
    X, background = np.asarray(X, dtype=float), np.asarray(background, dtype=float)
    base = _outputs(f, background).mean(axis=0)
    rng = np.random.default_rng(seed)
    values = np.zeros((len(X), X.shape[1], base.shape[0]))
    for i, x in enumerate(X):
        for _ in range(n_orders):
            order = rng.permutation(X.shape[1])
            for walk in (order, order[::-1]):
                values[i] += _walk(f, x, background, walk)
    return values / (2 * n_orders), base


def _walk(f, x: np.ndarray, background: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Each feature's change in mean output when switched to ``x``'s value, in ``order``."""
    n_features = len(order)
    switched = np.zeros((n_features + 1, n_features), dtype=bool)
    for k in range(1, n_features + 1):
        switched[k] = switched[k - 1]
        switched[k, order[k - 1]] = True
    means = np.concatenate([_mean_outputs(f, x, background, switched[block])
                            for block in _blocks(n_features + 1, background.size)])
    deltas = np.zeros((n_features, means.shape[1]))
    deltas[order] = np.diff(means, axis=0)
    return deltas


def _mean_outputs(f, x, background, switched) -> np.ndarray:
    rows = np.where(switched[:, None, :], x[None, None, :], background[None, :, :])
    out = _outputs(f, rows.reshape(-1, x.shape[0]))
    return out.reshape(len(switched), len(background), -1).mean(axis=1)


def _blocks(n_states: int, cells_per_state: int):
    size = max(1, MAX_BATCH_CELLS // max(cells_per_state, 1))
    return [slice(start, min(start + size, n_states)) for start in range(0, n_states, size)]


def _outputs(f, matrix: np.ndarray) -> np.ndarray:
    out = np.asarray(f(matrix), dtype=float)
    return out.reshape(len(matrix), -1)
