"""scikit-learn HistGradientBoosting with native categorical support."""

from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from automl.candidates.base import DataShape, Family, float_param, int_param
from automl.candidates.trees import hist_gradient_boosting
from automl.metrics import TASKS

MAX_FEATURES = 100


def space(shape: DataShape) -> dict:
    return {
        "max_iter": int_param(50, 1000, log=True),
        "learning_rate": float_param(0.01, 0.3, log=True),
        "max_leaf_nodes": int_param(4, min(256, max(8, shape.n_rows // 10)), log=True),
        "min_samples_leaf": int_param(2, min(200, max(3, shape.n_rows // 20)), log=True),
        "l2_regularization": float_param(1e-4, 10.0, log=True),
        "max_features": float_param(0.3, 1.0),
    }


def defaults(shape: DataShape) -> list[dict]:
    return [
        {"max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20,
         "l2_regularization": 1e-4, "max_features": 1.0},
        {"max_iter": 500, "learning_rate": 0.04, "max_leaf_nodes": 15, "min_samples_leaf": 10,
         "l2_regularization": 1.0, "max_features": 0.6},
    ]


def build(task: str, params: dict, seed: int):
    common = {"random_state": seed, "early_stopping": False, "categorical_features": "from_dtype",
              **params}
    if task == "regression":
        return HistGradientBoostingRegressor(**common)
    return HistGradientBoostingClassifier(**common)


def applies(shape: DataShape) -> bool:
    """Left out above ``MAX_FEATURES`` features: it bins every column densely and is many
    times slower than LightGBM there, whose exclusive feature bundling packs sparse columns."""
    return shape.n_features <= MAX_FEATURES


def row_predictor(model, task: str, n_classes: int):
    """The model's own walk, category remapping and link in one compiled kernel
    (:func:`automl.candidates.trees.hist_gradient_boosting`): a Python call per tree cost
    about 17 ms per row for 200 iterations."""
    if not isinstance(model, HistGradientBoostingClassifier | HistGradientBoostingRegressor):
        return None
    return hist_gradient_boosting(model, task)


FAMILY = Family("hist_gradient_boosting", "tree_native", TASKS, 1.5, space, defaults, build,
                estimators=(HistGradientBoostingClassifier, HistGradientBoostingRegressor),
                row_predictor=row_predictor, applies=applies, explainer="tree", shap_fallback=True, preload=("sklearn.ensemble",),
                libraries=("scikit-learn",))
