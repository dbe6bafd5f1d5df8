"""The target column as the models see it: float values, or class codes 0..K-1.

One rule for the search (:func:`automl.engine.prepare_data`) and for the reports that re-read
the data (:mod:`automl.explain.transparency`): a label is its text, integer-valued numbers
without a decimal point (1.0 -> "1"), and the classes are the distinct labels sorted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SKEW_FOR_LOG = 0.75


def skewed_positive(y: np.ndarray) -> bool:
    """True when a regression target is non-negative and right-skewed (sample skewness at least
    ``SKEW_FOR_LOG``): prices, counts, durations, where a ``log1p`` target may fit better."""
    values = np.asarray(y, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 3 or values.min() < 0 or values.std() == 0:
        return False
    centred = values - values.mean()
    return bool(np.mean(centred ** 3) / np.std(values) ** 3 >= SKEW_FOR_LOG)


def class_labels(y: pd.Series) -> list:
    """The sorted distinct labels of a target, as plain Python values."""
    values = [plain_label(v) for v in pd.unique(y.dropna())]
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def encode_target(values: pd.Series, task: str, classes: list | None) -> np.ndarray:
    """Float values (regression), or class codes 0..K-1 in the order of ``classes``."""
    if task == "regression":
        return values.to_numpy(dtype=float)
    codes = pd.Categorical(label_text(values), categories=[str(c) for c in classes]).codes
    return codes.astype(int)


def label_text(y: pd.Series) -> pd.Series:
    """Labels as strings, integer-valued numbers without a decimal point (1.0 -> "1")."""
    if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
        values = y.to_numpy(dtype=float)
        if np.all(np.mod(values, 1) == 0):
            return pd.Series(values.astype(np.int64)).astype(str)
        return pd.Series([str(plain_label(v)) for v in values])
    return y.astype(str)


def plain_label(value):
    """A label as a plain Python value; an integer-valued float as an int."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
