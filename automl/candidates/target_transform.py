"""A target transform for regression: ``log1p`` of a skewed, non-negative target.

The ``lightgbm_log1p`` twin (:mod:`automl.candidates.twins`) has ``target_transform="log1p"``
among its fixed params. A model with ``"log1p"`` is the family's estimator inside
scikit-learn's ``TransformedTargetRegressor``: it fits on ``log1p(y)`` and predicts ``expm1`` of
the estimator's output (in float64), so scores (RMSE and the rest) are on the original scale.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import TransformedTargetRegressor

PARAM = "target_transform"
TRANSFORMS = ("none", "log1p")


def split_transform(params: dict) -> tuple[dict, str]:
    """The estimator's params without ``target_transform``, and the transform's name."""
    rest = dict(params)
    name = rest.pop(PARAM, "none")
    if name not in TRANSFORMS:
        raise ValueError(f"unknown target transform {name!r}; known: {TRANSFORMS}")
    return rest, name


def with_transform(model, name: str):
    """``model`` fitting and predicting through target transform ``name``."""
    if name == "none":
        return model
    return TransformedTargetRegressor(regressor=model, func=np.log1p, inverse_func=expm1_float64,
                                      check_inverse=False)


def expm1_float64(z):
    """``expm1`` in double precision whatever the model's output type (XGBoost's is float32), so
    a model's predictions do not depend on how its rows were computed."""
    return np.expm1(np.asarray(z, dtype=np.float64))


def inner_estimator(estimator):
    """The fitted estimator inside a target transform, and the function from its predictions
    to the model's (None when ``estimator`` has no transform)."""
    if isinstance(estimator, TransformedTargetRegressor):
        return estimator.regressor_, estimator.inverse_func
    return estimator, None
