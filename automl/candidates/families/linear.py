"""Linear models: logistic regression (classification), elastic net (regression)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.special import expit
from sklearn.linear_model import ElasticNet, LogisticRegression
from sklearn.utils.extmath import softmax

from automl.candidates.base import CandidateSpec, DataShape, Family, float_param
from automl.metrics import TASKS

WIDE = 200  # above this many features, classification stays L2 (lbfgs): saga is too slow


def space(shape: DataShape) -> dict:
    if shape.task == "regression":
        return {"alpha": float_param(1e-5, 10.0, log=True), "l1_ratio": float_param(0.0, 1.0)}
    if shape.n_features > WIDE:
        return {"C": float_param(1e-3, 100.0, log=True)}
    return {"C": float_param(1e-3, 100.0, log=True), "l1_ratio": float_param(0.0, 1.0)}


def defaults(shape: DataShape) -> list[dict]:
    if shape.task == "regression":
        return [{"alpha": 1e-3, "l1_ratio": 0.0}]
    return [{"C": 1.0}] if shape.n_features > WIDE else [{"C": 1.0, "l1_ratio": 0.0}]


def build(task: str, params: dict, seed: int):
    if task == "regression":
        return ElasticNet(random_state=seed, max_iter=5000, selection="cyclic", **params)
    solver = "lbfgs" if params.get("l1_ratio", 0.0) == 0.0 else "saga"
    return LogisticRegression(random_state=seed, max_iter=2000, solver=solver, **params)


def on_counts(spec: CandidateSpec, counts: list[str]) -> list[CandidateSpec]:
    """Next to ``spec``, one on term frequencies (the ``linear_counts`` recipe): rows have unit
    length, so weaker regularisation (C up to 300; beyond it the model nears the unregularised
    fit, whose probabilities are overconfident out of sample although the folds can still
    reward it)."""
    if spec.task == "regression":
        space, defaults = spec.space, spec.defaults
    else:
        space = {"C": float_param(1.0, 300.0, log=True)}
        defaults = ({"C": 100.0},)
    counted = replace(spec, name="linear_counts", recipe="linear_counts", space=space,
                      defaults=defaults, cost=spec.cost + 0.1,
                      recipe_options={"counts": list(counts)})
    return [spec, counted]


def row_predictor(model, task: str, n_classes: int):
    """The fitted coefficients applied with NumPy, as the estimator's own methods apply them
    (a dense or sparse encoded row), without its per-call validation."""
    if not isinstance(model, LogisticRegression | ElasticNet):
        return None
    return LinearPredictor(model, task)


class LinearPredictor:
    """``f(rows) -> matrix``: values, or probabilities (logistic for two classes, softmax)."""

    def __init__(self, model, task: str):
        self.coef = np.atleast_2d(model.coef_).T
        self.intercept, self.task = np.atleast_1d(model.intercept_), task

    def __call__(self, rows) -> np.ndarray:
        z = np.asarray(rows @ self.coef) + self.intercept
        if self.task == "regression":
            return z[:, 0]
        if z.shape[1] == 1:
            p = expit(z[:, 0])
            return np.stack([1 - p, p], axis=1)
        return softmax(z, copy=False)


FAMILY = Family("linear", "linear", TASKS, 0.5, space, defaults, build,
                estimators=(LogisticRegression, ElasticNet), on_counts=on_counts,
                row_predictor=row_predictor,
                explainer="linear", libraries=("scikit-learn",))
