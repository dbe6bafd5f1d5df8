"""What NumPy and pandas hand back is written as the JSON a user expects."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from automl.jsonable import dumps, jsonable


def test_numpy_values_are_written_as_plain_numbers_and_lists():
    doc = {"n": np.int64(3), "x": np.float32(0.5), "flag": np.bool_(True),
           "rows": np.array([[1, 2], [3, 4]]), "kept": (1, "a"), "other": {1, 2}}
    assert json.loads(dumps(doc)) == {"n": 3, "x": 0.5, "flag": True, "rows": [[1, 2], [3, 4]],
                                      "kept": [1, "a"], "other": [1, 2]}


def test_anything_else_is_written_as_its_text_not_refused():
    assert json.loads(dumps({"when": pd.Timestamp("2024-01-02")})) == {"when": "2024-01-02 00:00:00"}


def test_jsonable_gives_strict_json_with_nan_and_infinity_as_null():
    doc = jsonable({"score": float("nan"), 2: [np.float64(np.inf), np.int8(1)],
                    "grid": np.array([0.5, np.nan])})
    assert doc == {"score": None, "2": [None, 1], "grid": [0.5, None]}
    json.dumps(doc, allow_nan=False)
