"""Predicting with a fitted pipeline: the one shape every caller reads predictions in."""

from __future__ import annotations

import numpy as np
import pandas as pd


def predict_matrix(model, X: pd.DataFrame, task: str, n_classes: int) -> np.ndarray:
    """Regression values, or probabilities over all ``n_classes`` encoded classes."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=np.float64)
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    classes = np.asarray(model.classes_, dtype=int)
    if len(classes) == n_classes:
        return proba
    full = np.zeros((len(X), n_classes))
    full[:, classes] = proba
    return full
