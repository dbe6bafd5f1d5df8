"""Which regression targets count as skewed (and get the log1p choice)."""

from __future__ import annotations

import numpy as np

from automl.data.target import skewed_positive


def test_prices_are_skewed_and_symmetric_or_negative_targets_are_not():
    rng = np.random.default_rng(0)
    prices = np.exp(rng.normal(8, 0.8, 2000))
    assert skewed_positive(prices)
    assert not skewed_positive(rng.normal(100, 5, 2000))  # symmetric
    assert not skewed_positive(prices - prices.mean())  # skewed, but negative values
    assert not skewed_positive(np.full(50, 3.0))
    assert skewed_positive(np.append(prices, np.nan))  # missing values are left out
