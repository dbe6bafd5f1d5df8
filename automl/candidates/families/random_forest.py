"""Random forest (bootstrap samples, best splits)."""

from __future__ import annotations

from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from automl.candidates.base import DataShape, Family, choice, float_param, int_param
from automl.candidates.trees import sklearn_forest
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


def row_predictor(model, task: str, n_classes: int):
    """Every tree in flat arrays walked by one compiled kernel (random forest and extra trees
    alike): :func:`automl.candidates.trees.sklearn_forest`.

    The forest's own ``predict_proba`` sends every tree through joblib, which on one row costs
    more than the trees themselves (about 30 ms for 300 trees); a Python call per tree still
    cost 2 to 7 ms.
    """
    forests = (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier,
               ExtraTreesRegressor)
    if not isinstance(model, forests):
        return None
    return sklearn_forest(model, task)


def class_probabilities(model, Z):
    """A forest's classification output: the averaged trees add up in probabilities."""
    return model.predict_proba(Z)


# Exact SHAP in probabilities; fewer rows for global importance, as TreeExplainer's cost grows
# with the forests' unpruned depth (credit_g: an extra-trees member took 6.8 s on 200 rows).
EXPLAINED = {"explainer": "tree", "shap_output": "probability",
             "decision_function": class_probabilities, "shap_rows": 40}

FAMILY = Family("random_forest", "tree_ordinal", TASKS, 3.0, space, defaults, build,
                row_predictor=row_predictor,
                estimators=(RandomForestClassifier, RandomForestRegressor), **EXPLAINED,
                preload=("sklearn.ensemble",), libraries=("scikit-learn",))
