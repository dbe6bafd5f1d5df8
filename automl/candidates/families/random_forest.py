"""Random forest (bootstrap samples, best splits)."""

from __future__ import annotations

from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from automl.candidates.base import DataShape, Family, choice, float_param, int_param
from automl.metrics import TASKS


def space(shape: DataShape) -> dict:
    return {
        "n_estimators": int_param(100, 500 if shape.n_rows < 50_000 else 200, log=True),
        "max_features": float_param(0.1, 1.0),
        "min_samples_leaf": int_param(1, 20, log=True),
        "bootstrap": choice(True, False),
    }


def defaults(shape: DataShape) -> list[dict]:
    max_features = 0.5 if shape.task == "regression" else 0.3
    return [{"n_estimators": 200 if shape.n_rows < 20_000 else 100, "max_features": max_features,
             "min_samples_leaf": 1 if shape.n_rows < 20_000 else 3, "bootstrap": True}]


def _params(task: str, params: dict, seed: int) -> dict:
    p = {"random_state": seed, "n_jobs": 1, **params}
    if task != "regression":
        p.setdefault("criterion", "gini")
    return p


def build(task: str, params: dict, seed: int):
    cls = RandomForestRegressor if task == "regression" else RandomForestClassifier
    return cls(**_params(task, params, seed))


FAMILY = Family("random_forest", "tree_ordinal", TASKS, 3.0, space, defaults, build)
