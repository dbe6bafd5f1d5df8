"""A searched target transform for regression: ``log1p`` of a skewed, non-negative target.

When the job's target is skewed (:attr:`automl.candidates.base.DataShape.skewed_target`), the
generator adds the parameter ``target_transform`` (``"none"`` or ``"log1p"``) to every regression
candidate's space, so cross-validation decides; the cheapest tree candidate also gets its first
default again with ``"log1p"``, so the transform is tried early. A model with ``"log1p"`` is the
family's estimator inside scikit-learn's ``TransformedTargetRegressor``: it fits on
``log1p(y)`` and predicts ``expm1`` of the estimator's output, so scores (RMSE and the rest) are
on the original scale.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.compose import TransformedTargetRegressor

from automl.candidates.base import CandidateSpec, DataShape, choice

PARAM = "target_transform"
TRANSFORMS = ("none", "log1p")


def offer_transform(specs: list[CandidateSpec], shape: DataShape) -> list[CandidateSpec]:
    """``specs`` with the target transform searched, when the data's target calls for it."""
    if shape.task != "regression" or not shape.skewed_target:
        return specs
    trees = [s for s in specs if s.recipe.startswith("tree")]
    first = min(trees, key=lambda s: s.cost) if trees else None
    return [_with_transform(s, s is first) for s in specs]


def _with_transform(spec: CandidateSpec, try_early: bool) -> CandidateSpec:
    defaults = [{**d, PARAM: "none"} for d in spec.defaults]
    if try_early and defaults:
        defaults.insert(1, {**defaults[0], PARAM: "log1p"})
    return replace(spec, space={**spec.space, PARAM: choice(*TRANSFORMS)}, defaults=tuple(defaults))


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
    return TransformedTargetRegressor(regressor=model, func=np.log1p, inverse_func=np.expm1,
                                      check_inverse=False)


def inner_estimator(estimator):
    """The fitted estimator inside a target transform, and the function from its predictions
    to the model's (None when ``estimator`` has no transform)."""
    if isinstance(estimator, TransformedTargetRegressor):
        return estimator.regressor_, estimator.inverse_func
    return estimator, None
