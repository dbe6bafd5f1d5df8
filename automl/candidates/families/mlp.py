"""Multi-layer perceptron (scikit-learn) on standardised, one-hot encoded features.

A different kind of model from the trees and the linear fits: on a bag of words it is often the
best single model, and elsewhere it adds to an ensemble what the others share. Trained with Adam
until the training loss stops improving by 0.1 % for 10 epochs, or ``max_iter`` epochs;
regression targets are standardised for the fit and mapped back.
"""

from __future__ import annotations

from dataclasses import replace

from sklearn.compose import TransformedTargetRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from automl.candidates.base import CandidateSpec, DataShape, Family, float_param, int_param
from automl.metrics import TASKS

MAX_EPOCHS = 200
MIN_EPOCHS = 5
EPOCH_ROWS = 2_000_000  # fewer epochs when rows x epochs would pass this many


def space(shape: DataShape) -> dict:
    return {
        "width": int_param(32, 512, log=True),
        "depth": int_param(1, 2),
        "alpha": float_param(1e-6, 1e-1, log=True),
        "learning_rate_init": float_param(1e-4, 1e-2, log=True),
    }


def defaults(shape: DataShape) -> list[dict]:
    return [{"width": 128, "depth": 1, "alpha": 1e-3, "learning_rate_init": 3e-3}]


def fixed(shape: DataShape) -> dict:
    """Epochs and mini-batch size for the data size (a fold trains on at least half the rows)."""
    return {"max_iter": int(max(MIN_EPOCHS, min(MAX_EPOCHS, EPOCH_ROWS // max(shape.n_rows, 1)))),
            "batch_size": int(max(1, min(128, shape.n_rows // 2)))}


def build(task: str, params: dict, seed: int):
    params = dict(params)
    layers = (params.pop("width"),) * params.pop("depth")
    common = {"hidden_layer_sizes": layers, "random_state": seed, "n_iter_no_change": 10,
              "tol": 1e-3, **params}
    if task == "regression":
        return TransformedTargetRegressor(regressor=MLPRegressor(**common), transformer=StandardScaler())
    return MLPClassifier(**common)


def on_counts(spec: CandidateSpec, counts: list[str]) -> list[CandidateSpec]:
    """On a bag of words the perceptron reads counts as term frequencies, not standardised."""
    return [replace(spec, recipe="linear_counts", recipe_options={"counts": list(counts)})]


FAMILY = Family("mlp", "linear", TASKS, 2.0, space, defaults, build, fixed=fixed,
                estimators=(MLPClassifier, TransformedTargetRegressor), on_counts=on_counts,
                libraries=("scikit-learn",))
