"""LightGBM gradient boosting with native categorical splits."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from automl.candidates.base import DataShape, Family, float_param, int_param
from automl.metrics import TASKS


def space(shape: DataShape) -> dict:
    return {
        "n_estimators": int_param(50, 3000 if shape.n_rows < 100_000 else 1000, log=True),
        "learning_rate": float_param(0.01, 0.3, log=True),
        "num_leaves": int_param(4, min(512, max(8, shape.n_rows // 10)), log=True),
        "min_child_samples": int_param(2, min(200, max(3, shape.n_rows // 20)), log=True),
        "colsample_bytree": float_param(0.3, 1.0),
        "subsample": float_param(0.5, 1.0),
        "reg_lambda": float_param(1e-3, 30.0, log=True),
        "reg_alpha": float_param(1e-3, 10.0, log=True),
        "min_split_gain": float_param(0.0, 0.5),
    }


def defaults(shape: DataShape) -> list[dict]:
    base = {"colsample_bytree": 1.0, "subsample": 1.0, "reg_lambda": 1e-3, "reg_alpha": 1e-3,
            "min_split_gain": 0.0}
    small = shape.n_rows < 5000
    return [
        {**base, "n_estimators": 100, "learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20},
        {**base, "n_estimators": 400 if small else 600, "learning_rate": 0.03,
         "num_leaves": 15 if small else 63, "min_child_samples": 10 if small else 20,
         "colsample_bytree": 0.7, "subsample": 0.8, "reg_lambda": 1.0},
        {**base, "n_estimators": 300, "learning_rate": 0.05, "num_leaves": 8,
         "min_child_samples": 5 if small else 30, "colsample_bytree": 0.5, "subsample": 0.7,
         "reg_lambda": 5.0},
    ]


def build(task: str, params: dict, seed: int):
    p = dict(params)
    if p.get("subsample", 1.0) < 1.0:
        p["subsample_freq"] = 1
    common = {"random_state": seed, "n_jobs": 1, "verbose": -1, "deterministic": True,
              "force_col_wise": True, **p}
    return lgb.LGBMRegressor(**common) if task == "regression" else lgb.LGBMClassifier(**common)


def row_predictor(model, task: str, n_classes: int):
    """Predict one encoded row with the booster directly, skipping the sklearn wrapper.

    Category columns arrive as the ordinal codes the recipe's encoder gives, which are the
    booster's category ids (the training codes are 0..k-1, all present).
    """
    if not isinstance(model, lgb.LGBMModel):
        return None
    booster = model.booster_
    if task == "regression":
        return lambda row: booster.predict(row, num_threads=1)
    if n_classes == 2:
        def binary(row):
            p = booster.predict(row, num_threads=1)
            return np.column_stack([1.0 - p, p])
        return binary
    return lambda row: booster.predict(row, num_threads=1).reshape(len(row), -1)


FAMILY = Family("lightgbm", "tree_native", TASKS, 1.0, space, defaults, build,
                row_predictor=row_predictor)
