"""CatBoost gradient boosting (optional: ``pip install automl[catboost]``) on ordinal codes.

Registered through the ``automl.families`` entry point, as a third-party family would be, and
not searched by default (``searched_by_default=False``). CatBoost's estimators are not
scikit-learn ``BaseEstimator`` subclasses, so the family writes its own notebook source.
"""

from __future__ import annotations

import importlib.util

from automl.candidates.base import DataShape, Family, constructor_source, float_param, int_param
from automl.metrics import TASKS

if importlib.util.find_spec("catboost") is None:  # without it the family does not register
    raise ModuleNotFoundError("catboost is not installed", name="catboost")


def space(shape: DataShape) -> dict:
    return {
        "iterations": int_param(50, 1500 if shape.n_rows < 10_000 else 800, log=True),
        "learning_rate": float_param(0.01, 0.3, log=True),
        "depth": int_param(3, 8),
        "l2_leaf_reg": float_param(1.0, 30.0, log=True),
        "random_strength": float_param(0.1, 10.0, log=True),
    }


def defaults(shape: DataShape) -> list[dict]:
    return [{"iterations": 300, "learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0,
             "random_strength": 1.0}]


def build(task: str, params: dict, seed: int):
    import catboost as cb  # imported on first use: it is slow to import

    common = {"random_seed": seed, "thread_count": 1, "verbose": False,
              "allow_writing_files": False, **params}
    return cb.CatBoostRegressor(**common) if task == "regression" else \
        cb.CatBoostClassifier(**common)


def raw_values(model, Z):
    """The model's raw formula value (log-odds), the scale TreeExplainer explains."""
    return model.predict(Z, prediction_type="RawFormulaVal")


def render(model, imports) -> str:
    """``CatBoostClassifier(...)`` with the parameters that were set, for a notebook."""
    return constructor_source(model, model.get_params(), imports)


def estimators() -> tuple[type, ...]:
    """The estimator classes, imported only once a model of this family exists."""
    import catboost as cb

    return (cb.CatBoostClassifier, cb.CatBoostRegressor)


FAMILY = Family("catboost", "tree_ordinal", TASKS, 2.5, space, defaults, build,
                estimators=estimators, explainer="tree",
                decision_function=raw_values, render=render, searched_by_default=False,
                preload=("catboost",), libraries=("catboost",))
