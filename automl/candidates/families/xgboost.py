"""XGBoost gradient boosting (optional: ``pip install automl[xgboost]``) on ordinal codes.

Registered through the ``automl.families`` entry point, as a third-party family would be, and
not searched by default (``searched_by_default=False``): see DESIGN and issue 13.
"""

from __future__ import annotations

import importlib.util

import numpy as np

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


def row_predictor(model, task: str, n_classes: int):
    """The booster's ``inplace_predict`` on the encoded rows, as the wrapper calls it, without
    the wrapper's validation of a frame."""
    if not any(isinstance(model, cls) for cls in estimators()):
        return None
    return BoosterPredictor(model, task)


class BoosterPredictor:
    """``f(rows) -> matrix`` with an XGBoost booster: values, or probabilities of every class."""

    def __init__(self, model, task: str):
        self.booster, self.missing, self.task = model.get_booster(), model.missing, task

    def __call__(self, rows):
        out = self.booster.inplace_predict(rows, predict_type="value", missing=self.missing)
        if self.task == "regression":
            return np.asarray(out, dtype=np.float64).reshape(len(rows))
        if self.task == "binary":  # 1 - p in the booster's float32, as the wrapper computes it
            p = out.reshape(len(rows))
            return np.column_stack([1.0 - p, p]).astype(np.float64)
        return np.asarray(out, dtype=np.float64).reshape(len(rows), -1)


def estimators() -> tuple[type, ...]:
    """The estimator classes, imported only once a model of this family exists."""
    import xgboost as xgb

    return (xgb.XGBClassifier, xgb.XGBRegressor)


FAMILY = Family("xgboost", "tree_ordinal", TASKS, 1.0, space, defaults, build,
                estimators=estimators, row_predictor=row_predictor, explainer="tree",
                decision_function=margin, render=render, searched_by_default=False, preload=("xgboost",),
                libraries=("xgboost",))
