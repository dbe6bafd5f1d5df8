"""SHAP values of a model bundle, in terms of the ORIGINAL columns.

Which explainer: the one the model's family declares (:attr:`Family.explainer
<automl.candidates.base.Family>`): ``TreeExplainer`` for LightGBM, HistGradientBoosting and
forests, ``LinearExplainer`` for linear models (both on the preprocessed matrix; the pieces of a
one-hot, ordinal, date or text column are summed back to that column), and a permutation
explainer on the coerced original columns for everything else (k-NN, the perceptron, the
ensemble's weighted vote: :mod:`automl.explain.permutation`); a pipeline over more than
``WIDE`` columns is permuted on its preprocessed matrix instead.

Output scale (``"output"`` in every result): the scale the model adds up in, the same for the
global and per-row explanations of a model: the family's ``shap_output`` for the exact
explainers (``"log-odds"``, the raw margin, for boosted trees and logistic regression,
``"probability"`` for forests), ``"probability"`` for the permutation explainer (k-NN,
perceptrons, ensembles), ``"value"`` for regression. Binary classification explains the second class (``classes[1]``); multiclass
explains each row's predicted class. In every row ``base_value + sum(contributions) ==
prediction`` up to float rounding.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from automl.candidates.registry import family_of
from automl.explain.columns import column_of_features
from automl.explain.permutation import permutation_shap

with warnings.catch_warnings():
    # shap 0.51 calls a matplotlib colormap method that matplotlib marks for deprecation
    warnings.filterwarnings("ignore", message=r"The set_(bad|over|under) function",
                            category=PendingDeprecationWarning)
    import shap

PERMUTATION_BACKGROUND = 20
WIDE = 100  # above this many columns, permute the model's encoded input (see _explain_encoded)
ADDITIVITY_TOL = 1e-6


class Explanation:
    """SHAP values per original column: ``values`` (rows, columns, outputs), ``base`` (outputs,)."""

    def __init__(self, values: np.ndarray, base: np.ndarray, prediction: np.ndarray,
                 columns: list[str], output: str):
        self.values, self.base, self.prediction = values, base, prediction
        self.columns, self.output = columns, output


def explain(bundle, frame: pd.DataFrame, seed: int = 0) -> Explanation:
    """SHAP values of ``bundle.model`` on the raw rows ``frame`` (validated by the schema).

    Single-threaded, like the search: the model is called many times on modest batches, and
    OpenMP's threads wait on each other at every call when the machine is busy (a
    HistGradientBoosting explanation beside other work took 27 s with two threads, 7 s with one).
    """
    with threadpool_limits(1):
        return _explain(bundle, frame, seed)


def _explain(bundle, frame: pd.DataFrame, seed: int) -> Explanation:
    X = bundle.prepare(frame)
    model = bundle.model
    # The reference rows: the training sample kept with the bundle, else the rows themselves
    # (then a single row is its own reference and every contribution is 0).
    background = getattr(bundle, "background", None)
    if background is None:
        background = X
    if isinstance(model, Pipeline) and _kind(model[-1]) != "other":
        result = _explain_pipeline(model, X, bundle.task, background)
        if is_additive(result):
            return result  # else: a split shap cannot follow (HistGradientBoosting categories)
    if isinstance(model, Pipeline) and X.shape[1] > WIDE:
        return _explain_encoded(model, X, bundle.task, seed, background)
    return _explain_permutation(model, X, bundle.task, seed, background)


def exact_explanation(model, X: pd.DataFrame, task: str) -> Explanation | None:
    """A tree or linear pipeline's exact SHAP values on the clean frame ``X``, else None."""
    if not isinstance(model, Pipeline) or _kind(model[-1]) == "other":
        return None
    result = _explain_pipeline(model, X, task)
    return result if is_additive(result) else None


def is_additive(e: Explanation) -> bool:
    """True when every row's base plus contributions gives its prediction (to rounding)."""
    error = np.abs(e.base[None, :] + e.values.sum(axis=1) - e.prediction)
    return bool(np.all(error <= ADDITIVITY_TOL * (1 + np.abs(e.prediction))))


def uses_permutation(bundle) -> bool:
    """True when ``bundle`` is explained by the (slower) permutation explainer."""
    return not isinstance(bundle.model, Pipeline) or _kind(bundle.model[-1]) == "other"


def _kind(estimator) -> str:
    """``"tree"`` or ``"linear"`` (exact explainers), else ``"other"`` (permutation)."""
    family = family_of(estimator)
    if family is None or family.explainer == "permutation":
        return "other"
    return family.explainer


def _explain_pipeline(model: Pipeline, X: pd.DataFrame, task: str,
                      background: pd.DataFrame | None = None) -> Explanation:
    pre, est = model[:-1], model[-1]
    Z = pre.transform(X)
    dense = _dense(Z)
    reference = dense if background is None else _dense(pre.transform(background))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shap's own deprecation and feature-name notices
        if _kind(est) == "tree":
            explainer = shap.TreeExplainer(est)
            values = explainer.shap_values(dense, check_additivity=False)
        else:
            explainer = shap.LinearExplainer(est, shap.maskers.Independent(reference,
                                                                          max_samples=200))
            values = explainer.shap_values(dense)
    raw = _direct_output(est, Z, task)
    output = "value" if task == "regression" else family_of(est).shap_output
    values, base = _as_3d(values, explainer.expected_value, raw.shape[1])
    groups = column_of_features(pre[-1] if isinstance(pre, Pipeline) else pre, values.shape[1])
    return _grouped(values, base, raw, groups, list(X.columns), output)


def _dense(Z):
    return Z.toarray() if hasattr(Z, "toarray") else Z


def _direct_output(est, Z, task: str) -> np.ndarray:
    """The model's own output on the explained scale, (rows, outputs)."""
    out = est.predict(Z) if task == "regression" else family_of(est).margin(est, Z)
    out = np.asarray(out, dtype=float)
    return out.reshape(len(out), -1)


def _as_3d(values, expected, n_outputs: int) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(values, list):
        values = np.stack(values, axis=-1)
    values = np.asarray(values, dtype=float)
    if values.ndim == 2:
        values = values[:, :, None]
    base = np.atleast_1d(np.asarray(expected, dtype=float)).reshape(-1)
    if values.shape[2] != n_outputs or base.shape[0] != n_outputs:
        raise ValueError(f"SHAP gave {values.shape[2]} outputs, the model {n_outputs}")
    return values, base


def _grouped(values, base, raw, groups: list[str], columns: list[str], output: str) -> Explanation:
    index = {c: i for i, c in enumerate(columns)}
    summed = np.zeros((values.shape[0], len(columns), values.shape[2]))
    for j, col in enumerate(groups):
        summed[:, index[col], :] += values[:, j, :]
    return Explanation(summed, base, raw, columns, output)


def _explain_permutation(model, X: pd.DataFrame, task: str, seed: int,
                         reference: pd.DataFrame | None = None) -> Explanation:
    reference = X if reference is None else reference[list(X.columns)]
    both, decode = _encode(pd.concat([X, reference], ignore_index=True))

    def f(matrix: np.ndarray) -> np.ndarray:
        frame = decode(matrix)
        return model.predict(frame) if task == "regression" else model.predict_proba(frame)

    values, base, raw = _permuted(f, both[:len(X)], both[len(X):], seed)
    return Explanation(values, base, raw, list(X.columns), _permutation_output(task))


def _explain_encoded(model: Pipeline, X: pd.DataFrame, task: str, seed: int,
                     reference: pd.DataFrame) -> Explanation:
    """The permutation explainer on the preprocessed matrix, summed back to the columns.

    For wide data (a bag of words): the cost of permuting grows with the columns, and each
    evaluation here is one product of the model, not a trip through the preprocessing.
    """
    pre, est = model[:-1], model[-1]
    f = est.predict if task == "regression" else est.predict_proba
    values, base, raw = _permuted(f, _dense(pre.transform(X)), _dense(pre.transform(reference)),
                                  seed)
    groups = column_of_features(pre[-1] if isinstance(pre, Pipeline) else pre, values.shape[1])
    return _grouped(values, base, raw, groups, list(X.columns), _permutation_output(task))


def _permuted(f, matrix: np.ndarray, pool: np.ndarray, seed: int):
    """Permutation SHAP of ``f`` at ``matrix``'s rows against a sample of ``pool``: values
    (rows, features, outputs), base, and ``f``'s own output (rows, outputs)."""
    rng = np.random.default_rng(seed)
    background = pool[rng.choice(len(pool), min(PERMUTATION_BACKGROUND, len(pool)),
                                 replace=False)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values, base = permutation_shap(f, matrix, background, seed)
        raw = np.asarray(f(matrix), dtype=float).reshape(len(matrix), -1)
    return values, base, raw


def _permutation_output(task: str) -> str:
    return "value" if task == "regression" else "probability"


def _encode(X: pd.DataFrame):
    """A float matrix for the masker, and the way back to the model's clean frame."""
    levels = {}
    cols = []
    for name in X.columns:
        s = X[name]
        if pd.api.types.is_numeric_dtype(s):
            cols.append(s.to_numpy(dtype=float))
        else:
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
            levels[name] = np.asarray([*uniques, None], dtype=object)
            cols.append(codes.astype(float))
    matrix = np.column_stack(cols)

    def decode(m: np.ndarray) -> pd.DataFrame:
        out = {}
        for j, name in enumerate(X.columns):
            if name in levels:
                idx = m[:, j].astype(int)
                values = np.where(idx >= 0, levels[name][np.clip(idx, 0, None)], None)
                out[name] = pd.Series(values, dtype=object).where(idx >= 0, np.nan)
            else:
                out[name] = m[:, j]
        return pd.DataFrame(out, columns=X.columns)

    return matrix, decode
