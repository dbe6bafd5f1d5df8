"""Candidate generation: which (recipe, family) pairs to try for a dataset, and pipeline building."""

from __future__ import annotations

from dataclasses import replace

from sklearn.pipeline import Pipeline

from automl.candidates.base import CandidateSpec, DataShape, float_param
from automl.candidates.recipes import build_preprocessor
from automl.candidates.registry import FAMILIES
from automl.data.schema import InputSchema

KNN_MAX_ROWS = 50_000
HGB_MAX_FEATURES = 100
MIN_COUNT_COLUMNS = 20


def generate_candidates(shape: DataShape, families: list[str] | None = None,
                        counts: list[str] | tuple[str, ...] = ()) -> list[CandidateSpec]:
    """One spec per family that supports the task, cheapest first.

    k-nearest neighbours is left out above ``KNN_MAX_ROWS`` rows (prediction cost grows with
    the training set), HistGradientBoosting above ``HGB_MAX_FEATURES`` features (it bins every
    column densely and is many times slower than LightGBM there, whose exclusive feature
    bundling packs sparse columns). When most features are count columns (``counts``, at least
    ``MIN_COUNT_COLUMNS``: a bag of words), a second linear candidate reads them as term
    frequencies (the ``linear_counts`` recipe), and the multi-layer perceptron reads them so
    instead of standardised counts.
    """
    names = families or list(FAMILIES)
    specs = []
    for name in names:
        family = FAMILIES[name]
        if shape.task not in family.tasks:
            continue
        if name == "knn" and shape.n_rows > KNN_MAX_ROWS and families is None:
            continue
        if name == "hist_gradient_boosting" and shape.n_features > HGB_MAX_FEATURES \
                and families is None:
            continue
        specs.append(CandidateSpec(
            name=name, recipe=family.recipe, family=name, task=shape.task,
            fixed_params=family.fixed(shape), space=family.space(shape),
            defaults=tuple(family.defaults(shape)), cost=family.cost,
        ))
        if name == "linear" and _mostly_counts(shape, counts):
            specs.append(_linear_counts(specs[-1], counts))
        elif name == "mlp" and _mostly_counts(shape, counts):
            specs[-1] = replace(specs[-1], recipe="linear_counts",
                                recipe_options={"counts": list(counts)})
    return sorted(specs, key=lambda s: s.cost)


def _mostly_counts(shape: DataShape, counts) -> bool:
    return len(counts) >= MIN_COUNT_COLUMNS and len(counts) * 2 >= shape.n_features


def _linear_counts(linear: CandidateSpec, counts) -> CandidateSpec:
    """The linear spec on term frequencies: rows have unit length, so weaker regularisation
    (C up to 300; beyond it the model nears the unregularised fit, whose probabilities are
    overconfident out of sample although the folds can still reward it)."""
    if linear.task == "regression":
        space, defaults = linear.space, linear.defaults
    else:
        space = {"C": float_param(1.0, 300.0, log=True)}
        defaults = ({"C": 100.0},)
    return replace(linear, name="linear_counts", recipe="linear_counts", space=space,
                   defaults=defaults, cost=linear.cost + 0.1,
                   recipe_options={"counts": list(counts)})


def build_pipeline(spec: CandidateSpec, params: dict, schema: InputSchema, seed: int) -> Pipeline:
    """The scikit-learn pipeline of ``spec`` with ``params``: preprocessing, then the model."""
    family = FAMILIES[spec.family]
    model = family.build(spec.task, {**spec.fixed_params, **params}, seed)
    preprocessor = build_preprocessor(spec.recipe, schema, seed, **spec.recipe_options)
    return Pipeline([("preprocess", preprocessor), ("model", model)])
