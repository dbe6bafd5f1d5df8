"""Single-row latency: what one endpoint request costs a fitted model, measured.

An endpoint answers one row by the model's compiled row path (:mod:`automl.model.fastpath`),
or, where the model has none, by the pipeline on a one-row frame. :func:`row_latency_ms` times
that same path over clean rows, one call per row, and gives the median in milliseconds. The
compilation, done once when an endpoint loads a model, is not counted; one untimed call warms
caches first. It stops after ``budget_s`` seconds of calls (a slow model is still measured over
at least ``MIN_ROWS`` rows), so that it costs a trial little: a trial gives it
``BUDGET_SHARE`` of its own fitting time (measured over 27 default trials of three datasets:
3.3% of their time, compiling included, on a loaded machine).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from automl.data.schema import InputSchema
from automl.model.fastpath import OneThread, clean_dtype, compile_row_predictor, one_row_frame
from automl.model.pipeline import predict_matrix

ROWS = 200
MIN_ROWS = 20
BUDGET_S = 0.2
BUDGET_SHARE = 0.05


def row_latency_ms(model, schema: InputSchema, task: str, n_classes: int, X: pd.DataFrame,
                   rows: int = ROWS, budget_s: float = BUDGET_S) -> float | None:
    """The median milliseconds of one-row predictions of ``model`` over up to ``rows`` rows of
    the clean frame ``X`` (in schema order); ``None`` when ``X`` has no rows."""
    if len(X) == 0:
        return None
    predict = _row_path(model, schema, task, n_classes)
    values = X.iloc[:rows].to_numpy(dtype=object).tolist()
    predict(values[0])
    times: list[float] = []
    stop = time.perf_counter() + budget_s
    for row in values:
        t0 = time.perf_counter()
        predict(row)
        t1 = time.perf_counter()
        times.append(t1 - t0)
        if t1 > stop and len(times) >= MIN_ROWS:
            break
    return float(np.median(times)) * 1000


def _row_path(model, schema: InputSchema, task: str, n_classes: int):
    """What an endpoint calls for one clean row: the compiled path, else a one-row frame."""
    compiled = compile_row_predictor(model, schema, task, n_classes)
    if compiled is not None:
        return compiled
    dtypes = [clean_dtype(c.role) for c in schema.columns]
    columns = pd.Index(schema.names)
    one_thread = OneThread()
    return lambda values: one_thread(predict_matrix, model, one_row_frame(values, dtypes, columns),
                                     task, n_classes)
