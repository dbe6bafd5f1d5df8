"""Single-row latency is measured one row per call, through the path an endpoint takes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from automl.data.schema import ColumnSchema, InputSchema
from automl.model.latency import MIN_ROWS, ROWS, row_latency_ms


class OneRowModel:
    """A model without a compiled path that records the rows of every call."""

    classes_ = np.array([0, 1])

    def __init__(self):
        self.calls: list[int] = []

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self.calls.append(len(X))
        return np.tile([0.25, 0.75], (len(X), 1))


def test_each_call_predicts_one_row_and_the_median_is_in_milliseconds():
    schema = InputSchema((ColumnSchema("x", "numeric", False), ColumnSchema("c", "categorical", False)),
                         "y", {})
    X = pd.DataFrame({"x": np.arange(300.0), "c": ["a", "b", "c"] * 100})
    model = OneRowModel()
    latency = row_latency_ms(model, schema, "binary", 2, X, budget_s=0.0)
    assert 0 < latency < 1000
    assert set(model.calls) == {1}
    assert MIN_ROWS + 1 <= len(model.calls) <= ROWS + 1  # one untimed warm-up call
    assert row_latency_ms(model, schema, "binary", 2, X.iloc[:0]) is None
