"""A searched target transform for regression: ``log1p`` of a skewed, non-negative target.

When the job's target is skewed (:attr:`automl.candidates.base.DataShape.skewed_target`), the
generator adds a second candidate of the cheapest tree family, named ``<family>_log1p``, with
``target_transform="log1p"`` among its fixed params; cross-validation decides between the two.
(A separate candidate rather than a choice in the space: its first default then runs in the
portfolio's first round, where a loaded 60 s job may run all the trials it gets.) A model with ``"log1p"`` is the
family's estimator inside scikit-learn's ``TransformedTargetRegressor``: it fits on
``log1p(y)`` and predicts ``expm1`` of the estimator's output (in float64), so scores (RMSE and the rest) are
on the original scale.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.compose import TransformedTargetRegressor

from automl.candidates.base import CandidateSpec, DataShape

PARAM = "target_transform"
TRANSFORMS = ("none", "log1p")
LOG_COST = 0.05  # a little dearer than its twin: tried right after it


def offer_transform(specs: list[CandidateSpec], shape: DataShape) -> list[CandidateSpec]:
    """``specs`` and, when the data's target calls for it, a ``log1p`` twin of the cheapest
    tree candidate, next to it in cost order."""
    trees = [s for s in specs if s.recipe.startswith("tree")]
    if shape.task != "regression" or not shape.skewed_target or not trees:
        return specs
    first = min(trees, key=lambda s: s.cost)
    twin = replace(first, name=f"{first.name}_log1p", cost=first.cost + LOG_COST,
                   fixed_params={**first.fixed_params, PARAM: "log1p"})
    return sorted([*specs, twin], key=lambda s: s.cost)


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
