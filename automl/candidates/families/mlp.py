"""Multi-layer perceptron (scikit-learn) on standardised, one-hot encoded features.

A different kind of model from the trees and the linear fits: on a bag of words it is often the
best single model, and elsewhere it adds to an ensemble what the others share. Trained with Adam
until the training loss stops improving by 0.1 % for 10 epochs, or ``max_iter`` epochs;
regression targets are standardised for the fit and mapped back.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.neural_network._base import ACTIVATIONS  # the forward pass's own functions
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


def row_predictor(model, task: str, n_classes: int):
    """The fitted layers applied with NumPy, as the estimator's forward pass applies them,
    without its per-call validation."""
    net = model.regressor_ if isinstance(model, TransformedTargetRegressor) else model
    if not isinstance(net, MLPClassifier | MLPRegressor) or net.activation not in ACTIVATIONS:
        return None
    return PerceptronPredictor(model, net, task)


class PerceptronPredictor:
    """``f(rows) -> matrix``: the forward pass, then the output activation (logistic for two
    classes, softmax) or the target scaler's inverse (regression)."""

    def __init__(self, model, net, task: str):
        self.coefs, self.intercepts = net.coefs_, net.intercepts_
        self.hidden, self.output = ACTIVATIONS[net.activation], ACTIVATIONS[net.out_activation_]
        self.scaler = model.transformer_ if task == "regression" else None
        self.task = task

    def __call__(self, rows) -> np.ndarray:
        z = rows
        last = len(self.coefs) - 1
        for i, (coef, intercept) in enumerate(zip(self.coefs, self.intercepts, strict=True)):
            z = np.asarray(z @ coef)
            z += intercept
            if i != last:
                self.hidden(z)
        self.output(z)
        if self.task == "regression":
            return self.scaler.inverse_transform(z.reshape(-1, 1))[:, 0]
        if z.shape[1] == 1:
            return np.stack([1 - z[:, 0], z[:, 0]], axis=1)
        return z


FAMILY = Family("mlp", "linear", TASKS, 2.0, space, defaults, build, fixed=fixed,
                estimators=(MLPClassifier, TransformedTargetRegressor), on_counts=on_counts,
                row_predictor=row_predictor,
                libraries=("scikit-learn",))
