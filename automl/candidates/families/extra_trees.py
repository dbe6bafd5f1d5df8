"""Extremely randomised trees."""

from __future__ import annotations

from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

from automl.candidates.base import DataShape, Family
from automl.candidates.families import random_forest
from automl.metrics import TASKS


def defaults(shape: DataShape) -> list[dict]:
    return [{"n_estimators": 300 if shape.n_rows < 20_000 else 100, "max_features": 0.5,
             "min_samples_leaf": 1 if shape.n_rows < 20_000 else 3, "bootstrap": False}]


def build(task: str, params: dict, seed: int):
    cls = ExtraTreesRegressor if task == "regression" else ExtraTreesClassifier
    return cls(random_state=seed, n_jobs=1, **params)


FAMILY = Family("extra_trees", "tree_ordinal", TASKS, 2.0, random_forest.space, defaults, build,
                row_predictor=random_forest.row_predictor,
                estimators=(ExtraTreesClassifier, ExtraTreesRegressor),
                **random_forest.EXPLAINED, preload=("sklearn.ensemble",),
                libraries=("scikit-learn",))
