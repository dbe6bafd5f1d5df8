"""Compile a fitted candidate pipeline into a single-row function, where its family allows.

``compile_row_predictor(model, schema, task, n_classes)`` returns ``f(values) -> matrix`` that
takes one row's clean values in schema order and gives what
:func:`automl.search.evaluate.predict_matrix` gives for that row (``f.frame(X)`` does the same
for a whole clean frame), or ``None`` when the model
(an ensemble, a recipe with dates or text, a family without a row predictor) has no fast path.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.pipeline import Pipeline

from automl.candidates.recipes import compile_row_encoder
from automl.candidates.registry import FAMILIES
from automl.data.schema import InputSchema


def compile_row_predictor(model, schema: InputSchema, task: str,
                          n_classes: int) -> Callable[[list], np.ndarray] | None:
    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        return None
    preprocessor, estimator = model.steps[0][1], model.steps[1][1]
    predict = _family_predictor(estimator, task, n_classes)
    if predict is None or (task != "regression" and len(estimator.classes_) != n_classes):
        return None
    encode = compile_row_encoder(preprocessor, schema)
    if encode is None:
        return None
    return CompiledPredictor(encode, predict)


class CompiledPredictor:
    """``f(values)`` for one row, ``f.frame(X)`` for a clean frame: the prediction matrix."""

    def __init__(self, encode, predict):
        self.encode, self.predict = encode, predict

    def __call__(self, values: list) -> np.ndarray:
        return self.predict(self.encode(values))

    def frame(self, X) -> np.ndarray:
        return self.predict(self.encode.frame(X))


def _family_predictor(estimator, task: str, n_classes: int):
    for family in FAMILIES.values():
        if family.row_predictor is not None:
            predict = family.row_predictor(estimator, task, n_classes)
            if predict is not None:
                return predict
    return None
