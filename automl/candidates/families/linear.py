"""Linear models: logistic regression (classification), elastic net (regression)."""

from __future__ import annotations

from sklearn.linear_model import ElasticNet, LogisticRegression

from automl.candidates.base import DataShape, Family, float_param
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


FAMILY = Family("linear", "linear", TASKS, 0.5, space, defaults, build)
