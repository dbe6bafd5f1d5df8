"""XGBoost gradient boosting (optional: ``pip install automl[xgboost]``) on ordinal codes.

Registered through the ``automl.families`` entry point, as a third-party family would be, and
not searched by default (``searched_by_default=False``): see DESIGN and issue 13.
"""

from __future__ import annotations

import importlib.util

from automl.candidates.base import DataShape, Family, constructor_source, float_param, int_param
from automl.metrics import TASKS

if importlib.util.find_spec("xgboost") is None:  # without it the family does not register
    raise ModuleNotFoundError("xgboost is not installed", name="xgboost")


def space(shape: DataShape) -> dict:
    return {
        "n_estimators": int_param(50, 2000 if shape.n_rows < 10_000 else 1000, log=True),
        "learning_rate": float_param(0.01, 0.3, log=True),
        "max_depth": int_param(2, 10),
        "min_child_weight": float_param(0.5, 20.0, log=True),
        "subsample": float_param(0.5, 1.0),
        "colsample_bytree": float_param(0.3, 1.0),
        "reg_lambda": float_param(1e-3, 30.0, log=True),
        "reg_alpha": float_param(1e-3, 10.0, log=True),
    }


def defaults(shape: DataShape) -> list[dict]:
    base = {"subsample": 1.0, "colsample_bytree": 1.0, "reg_lambda": 1.0, "reg_alpha": 1e-3,
            "min_child_weight": 1.0}
    return [
        {**base, "n_estimators": 200, "learning_rate": 0.1, "max_depth": 6},
        {**base, "n_estimators": 500, "learning_rate": 0.03, "max_depth": 4, "subsample": 0.8,
         "colsample_bytree": 0.7},
    ]


def build(task: str, params: dict, seed: int):
    import xgboost as xgb  # imported on first use: it is slow to import

    common = {"random_state": seed, "n_jobs": 1, "tree_method": "hist", "verbosity": 0,
              **params}
    return xgb.XGBRegressor(**common) if task == "regression" else xgb.XGBClassifier(**common)


def margin(model, Z):
    """The boosted sum before the link function (log-odds), the scale TreeExplainer explains."""
    return model.predict(Z, output_margin=True)


def render(model, imports) -> str:
    """``XGBClassifier(...)`` with the parameters that were set (XGBoost leaves the others
    None, its own defaults), for a notebook."""
    params = {k: v for k, v in model.get_params().items() if v is not None and k != "missing"}
    return constructor_source(model, params, imports)


def estimators() -> tuple[type, ...]:
    """The estimator classes, imported only once a model of this family exists."""
    import xgboost as xgb

    return (xgb.XGBClassifier, xgb.XGBRegressor)


FAMILY = Family("xgboost", "tree_ordinal", TASKS, 1.0, space, defaults, build,
                estimators=estimators, explainer="tree",
                decision_function=margin, render=render, searched_by_default=False, preload=("xgboost",),
                libraries=("xgboost",))
