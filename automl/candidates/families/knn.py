"""k-nearest neighbours on standardised, one-hot encoded features."""

from __future__ import annotations

from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from automl.candidates.base import DataShape, Family, choice, int_param
from automl.metrics import TASKS

MAX_ROWS = 50_000


def space(shape: DataShape) -> dict:
    return {
        "n_neighbors": int_param(1, min(100, max(2, shape.n_rows // 20)), log=True),
        "weights": choice("uniform", "distance"),
        "p": choice(1, 2),
    }


def defaults(shape: DataShape) -> list[dict]:
    return [{"n_neighbors": min(15, max(2, shape.n_rows // 50)), "weights": "distance", "p": 2}]


def build(task: str, params: dict, seed: int):
    cls = KNeighborsRegressor if task == "regression" else KNeighborsClassifier
    return cls(n_jobs=1, **params)


def applies(shape: DataShape) -> bool:
    """Left out above ``MAX_ROWS`` rows: its prediction cost grows with the training set."""
    return shape.n_rows <= MAX_ROWS


FAMILY = Family("knn", "linear", TASKS, 1.0, space, defaults, build,
                estimators=(KNeighborsClassifier, KNeighborsRegressor), applies=applies,
                libraries=("scikit-learn",))
