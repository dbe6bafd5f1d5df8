"""Candidate generation: which (recipe, family) pairs to try for a dataset, and pipeline building."""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from automl.candidates.base import CandidateSpec, DataShape
from automl.candidates.recipes import build_preprocessor
from automl.candidates.registry import FAMILIES
from automl.data.schema import InputSchema

MIN_COUNT_COLUMNS = 20


def generate_candidates(shape: DataShape, families: list[str] | None = None,
                        counts: list[str] | tuple[str, ...] = ()) -> list[CandidateSpec]:
    """One spec per family that supports the task, cheapest first.

    Without ``families`` (the user named none), a family is offered only if it is
    ``searched_by_default`` and :attr:`~automl.candidates.base.Family.applies` to the data's
    shape. When most features are
    count columns (``counts``, at least ``MIN_COUNT_COLUMNS``: a bag of words), a family's
    ``on_counts`` gives the specs to try instead (the linear family adds one on term
    frequencies; the perceptron reads the counts so).
    """
    specs = []
    for name in families or list(FAMILIES):
        family = FAMILIES[name]
        if shape.task not in family.tasks or (families is None and not _offered(family, shape)):
            continue
        spec = CandidateSpec(
            name=name, recipe=family.recipe, family=name, task=shape.task,
            fixed_params=family.fixed(shape), space=family.space(shape),
            defaults=tuple(family.defaults(shape)), cost=family.cost,
        )
        if family.on_counts is not None and _mostly_counts(shape, counts):
            specs += family.on_counts(spec, list(counts))
        else:
            specs.append(spec)
    return sorted(specs, key=lambda s: s.cost)


def _offered(family, shape: DataShape) -> bool:
    return family.searched_by_default and family.applies(shape)


def _mostly_counts(shape: DataShape, counts) -> bool:
    return len(counts) >= MIN_COUNT_COLUMNS and len(counts) * 2 >= shape.n_features


def build_pipeline(spec: CandidateSpec, params: dict, schema: InputSchema, seed: int) -> Pipeline:
    """The scikit-learn pipeline of ``spec`` with ``params``: preprocessing, then the model."""
    family = FAMILIES[spec.family]
    model = family.build(spec.task, {**spec.fixed_params, **params}, seed)
    preprocessor = build_preprocessor(spec.recipe, schema, seed, **spec.recipe_options)
    return Pipeline([("preprocess", preprocessor), ("model", model)])
