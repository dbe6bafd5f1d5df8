"""Compile a fitted model into a single-row function, where its parts allow.

``compile_row_predictor(model, schema, task, n_classes)`` returns ``f(values) -> matrix`` that
takes one row's clean values in schema order and gives what
:func:`automl.model.pipeline.predict_matrix` gives for that row (``f.frame(X)`` does the same
for a whole clean frame), or ``None`` when the model has no fast path (a bundle saved with
scikit-learn's own encoders). Every recipe's encoding is compiled
(:mod:`automl.model.encoders`); the encoded rows go to the family's row predictor where it
declares one (the tree families: a compiled kernel or the booster's C API), else to the
estimator's own methods. An ensemble compiles member by member and encodes a row once for all
members whose fitted preprocessing is the same; members without a fast path share one one-row
frame built for them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.pipeline import Pipeline
from threadpoolctl import ThreadpoolController

from automl.candidates.registry import family_of
from automl.candidates.target_transform import inner_estimator
from automl.data.scalars import SLOW, scalar_coercer
from automl.data.schema import InputSchema
from automl.model.encoders import Encoder, compile_encoder
from automl.model.pipeline import predict_matrix


def compile_row_predictor(model, schema: InputSchema, task: str,
                          n_classes: int) -> Callable[[list], np.ndarray] | None:
    """The compiled predictor of a fitted pipeline or ensemble, or None (see the module)."""
    if isinstance(model, VotingClassifier | VotingRegressor):
        return _compile_ensemble(model, schema, task, n_classes)
    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        return None
    encode = compile_encoder(model.steps[0][1], schema)
    return None if encode is None else _compiled(encode, model.steps[1][1], task, n_classes)


def _compiled(encode: Encoder, estimator, task: str, n_classes: int):
    """The encoder with the family's row predictor, else the estimator's own methods on the
    encoded rows (which a native recipe's category codes are not: the pipeline predicts).
    A model inside a target transform predicts through the transform's inverse."""
    inner, inverse = inner_estimator(estimator)
    if inverse is not None:
        compiled = _compiled(encode, inner, task, n_classes)
        return None if compiled is None else CompiledPredictor(encode, Inverse(compiled.predict, inverse))
    predict = _family_predictor(estimator, task, n_classes)
    if predict is not None and (task == "regression" or len(estimator.classes_) == n_classes):
        return CompiledPredictor(encode, predict)
    if encode.native:
        return None
    return CompiledPredictor(encode, EstimatorPredictor(estimator, task, n_classes))


class CompiledPredictor:
    """``f(values)`` for one row, ``f.frame(X)`` for a clean frame: the prediction matrix."""

    def __init__(self, encode, predict):
        self.encode, self.predict = encode, predict

    def __call__(self, values: list) -> np.ndarray:
        return self.predict(self.encode(values))

    def frame(self, X) -> np.ndarray:
        return self.predict(self.encode.frame(X))


class Inverse:
    """``f(rows)``: a regressor's predictions on the original scale of a transformed target,
    computed as ``TransformedTargetRegressor.predict`` does (the inverse of a column)."""

    def __init__(self, predict, inverse):
        self.predict, self.inverse = predict, inverse

    def __call__(self, rows) -> np.ndarray:
        return np.asarray(self.inverse(self.predict(rows).reshape(-1, 1))).reshape(-1)


class OneThread:
    """``f(fn, *args)``: ``fn(*args)`` with OpenMP limited to one thread in the calling thread.

    One row gains nothing from a pool of threads, and waking the pool costs more than the row
    when the cores are busy: a bank_marketing ensemble with a k-NN member (scikit-learn's OpenMP
    pool) took 170 ms per row with two OpenMP threads on a loaded machine, 0.9 ms with one.
    OpenMP's thread count is a setting of the calling thread, so batches predicted meanwhile by
    other threads keep every core; it is put back after the call (a few microseconds).
    """

    def __init__(self):
        self.libs = ThreadpoolController().select(user_api="openmp").lib_controllers

    def __call__(self, fn, *args):
        saved = [lib.get_num_threads() for lib in self.libs]
        for lib in self.libs:
            lib.set_num_threads(1)
        try:
            return fn(*args)
        finally:
            for lib, n in zip(self.libs, saved, strict=True):
                lib.set_num_threads(n)


class EstimatorPredictor:
    """``f(rows) -> matrix`` with the estimator's own predict methods, for encoded rows.

    The encoded rows are what the pipeline hands the estimator, checked already: scikit-learn's
    parameter validation and finiteness checks are skipped (the same numbers; k-nearest
    neighbours spent most of a one-row call in them). One row runs on one thread
    (:class:`OneThread`).
    """

    def __init__(self, estimator, task: str, n_classes: int):
        self.estimator, self.task, self.n_classes = estimator, task, n_classes
        self.one_thread = OneThread()

    def __call__(self, rows) -> np.ndarray:
        if rows.shape[0] == 1:
            return self.one_thread(self._predict, rows)
        return self._predict(rows)

    def _predict(self, rows) -> np.ndarray:
        with config_context(assume_finite=True, skip_parameter_validation=True):
            return predict_matrix(self.estimator, rows, self.task, self.n_classes)


class EnsemblePredictor:
    """The weighted average of members' predictions; compiled members skip pandas, and members
    with the same fitted preprocessing (same recipe, same rows) share one encoding."""

    def __init__(self, members: list[tuple[float, object, object]], schema: InputSchema,
                 task: str, n_classes: int):
        self.members, self.task, self.n_classes = members, task, n_classes
        self.total = sum(w for w, _, _ in members)
        self.columns = pd.Index(schema.names)
        self.dtypes = [clean_dtype(c.role) for c in schema.columns]
        self.any_general = any(compiled is None for _, compiled, _ in members)
        self.shared = _shared_encoders(members)
        self.one_thread = OneThread() if self.any_general else None

    def __call__(self, values: list) -> np.ndarray:
        frame = one_row_frame(values, self.dtypes, self.columns) if self.any_general else None
        encoded: dict[int, object] = {}

        def fast(compiled):
            key = self.shared.get(id(compiled))
            if key is None:
                return compiled(values)
            if key not in encoded:
                encoded[key] = compiled.encode(values)
            return compiled.predict(encoded[key])

        if self.one_thread is None:
            return self._average(fast, frame)
        return self.one_thread(self._average, fast, frame)

    def frame(self, X) -> np.ndarray:
        encoded: dict[int, object] = {}
        texts: dict[str, object] = {}  # TF-IDF matrices, shared across recipes

        def fast(compiled):
            key = self.shared.get(id(compiled))
            if key is None:
                return compiled.frame(X)
            if key not in encoded:
                encoded[key] = compiled.encode.frame(X, texts)
            return compiled.predict(encoded[key])

        return self._average(fast, X)

    def _average(self, fast, frame) -> np.ndarray:
        total = None
        for weight, compiled, pipeline in self.members:
            if compiled is not None:
                p = fast(compiled)
            else:
                p = predict_matrix(pipeline, frame, self.task, self.n_classes)
            total = weight * p if total is None else total + weight * p
        return total / self.total


def _shared_encoders(members: list[tuple[float, object, object]]) -> dict[int, int]:
    """For each compiled member, the index of the first member whose fitted preprocessor
    (and so its encoding of every row) is the same: equal by content hash."""
    import joblib

    first: dict[str, int] = {}
    shared = {}
    for k, (_, compiled, pipeline) in enumerate(members):
        if not isinstance(compiled, CompiledPredictor):
            continue
        digest = joblib.hash(pipeline.steps[0][1])
        shared[id(compiled)] = first.setdefault(digest, k)
    return shared


def _compile_ensemble(model, schema: InputSchema, task: str, n_classes: int):
    if not hasattr(model, "estimators_"):
        return None
    weights = model.weights if model.weights is not None else [1.0] * len(model.estimators_)
    members = [(float(w), compile_row_predictor(m, schema, task, n_classes), m)
               for w, m in zip(weights, model.estimators_, strict=True)]
    if all(compiled is None for _, compiled, _ in members):
        return None
    return EnsemblePredictor(members, schema, task, n_classes)


def clean_dtype(role: str) -> type:
    """The dtype :meth:`InputSchema.coerce` gives a column of ``role``."""
    return np.float64 if role in ("numeric", "boolean") else object


_ONE_ROW = pd.RangeIndex(1)


def one_row_frame(values: list, dtypes: list, columns: pd.Index) -> pd.DataFrame:
    """A one-row clean frame from values in schema order, without pandas' dtype inference.

    ``DataFrame._from_arrays`` is private but stable since pandas 0.23 and about 6x faster
    than building a Series per column; the public route is the fallback.
    """
    arrays = [np.array([v], dtype=d) for v, d in zip(values, dtypes, strict=True)]
    from_arrays = getattr(pd.DataFrame, "_from_arrays", None)
    if from_arrays is not None:
        return from_arrays(arrays, columns=columns, index=_ONE_ROW, verify_integrity=False)
    return pd.DataFrame({n: pd.Series(a, dtype=a.dtype) for n, a in zip(columns, arrays, strict=True)})


class RecordPredictor:
    """One record of raw scalars (column: value) to its prediction matrix, or None.

    Each value goes through a scalar coercer with the rules of :meth:`InputSchema.coerce`
    (:mod:`automl.data.scalars`), and the clean row goes to the compiled path, else to the
    model as a one-row frame. None (a missing column, a value only pandas can judge) means:
    take the general path.
    """

    def __init__(self, model, schema: InputSchema, task: str, n_classes: int, row_fn):
        self.model, self.task, self.n_classes, self.row_fn = model, task, n_classes, row_fn
        self.names = schema.names
        self.name_set = frozenset(self.names)
        self.coercers = [scalar_coercer(c.role, c.numeric_codes) for c in schema.columns]
        self.dtypes = [clean_dtype(c.role) for c in schema.columns]
        self.columns = pd.Index(self.names)
        self.one_thread = OneThread() if row_fn is None else None

    def __call__(self, record: dict) -> np.ndarray | None:
        if not self.name_set.issubset(record):
            return None
        values = []
        for name, coerce in zip(self.names, self.coercers, strict=True):
            value = coerce(record[name])
            if value is SLOW:
                return None
            values.append(value)
        if self.row_fn is not None:
            return self.row_fn(values)
        return self.one_thread(predict_matrix, self.model,
                               one_row_frame(values, self.dtypes, self.columns), self.task,
                               self.n_classes)


def _family_predictor(estimator, task: str, n_classes: int):
    family = family_of(estimator)
    if family is None or family.row_predictor is None:
        return None
    return family.row_predictor(estimator, task, n_classes)
