"""Candidate generation: which (recipe, family) pairs to try for a dataset, and pipeline building."""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from automl.candidates.base import CandidateSpec, DataShape
from automl.candidates.recipes import build_preprocessor
from automl.candidates.registry import FAMILIES
from automl.data.schema import InputSchema

KNN_MAX_ROWS = 50_000


def generate_candidates(shape: DataShape, families: list[str] | None = None) -> list[CandidateSpec]:
    """One spec per family that supports the task, cheapest first.

    k-nearest neighbours is left out above ``KNN_MAX_ROWS`` rows (prediction cost grows with
    the training set).
    """
    names = families or list(FAMILIES)
    specs = []
    for name in names:
        family = FAMILIES[name]
        if shape.task not in family.tasks:
            continue
        if name == "knn" and shape.n_rows > KNN_MAX_ROWS and families is None:
            continue
        specs.append(CandidateSpec(
            name=name, recipe=family.recipe, family=name, task=shape.task,
            fixed_params=family.fixed(shape), space=family.space(shape),
            defaults=tuple(family.defaults(shape)), cost=family.cost,
        ))
    return sorted(specs, key=lambda s: s.cost)


def build_pipeline(spec: CandidateSpec, params: dict, schema: InputSchema, seed: int) -> Pipeline:
    """The scikit-learn pipeline of ``spec`` with ``params``: preprocessing, then the model."""
    family = FAMILIES[spec.family]
    model = family.build(spec.task, {**spec.fixed_params, **params}, seed)
    return Pipeline([("preprocess", build_preprocessor(spec.recipe, schema, seed)), ("model", model)])
