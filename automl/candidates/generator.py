"""Candidate generation: which (recipe, family) pairs to try for a dataset, and pipeline building."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.pipeline import Pipeline

from automl.candidates.base import CandidateSpec, DataShape
from automl.candidates.recipes import build_preprocessor
from automl.candidates.registry import FAMILIES, check_families
from automl.candidates.target_transform import split_transform, with_transform
from automl.candidates.twins import add_twins, without_twins
from automl.data.schema import InputSchema
from automl.exceptions import ConfigError

MIN_COUNT_COLUMNS = 20


def generate_candidates(shape: DataShape, families: Sequence[str] | None = None,
                        counts: list[str] | tuple[str, ...] = (),
                        encoded: list[str] | tuple[str, ...] = ()) -> list[CandidateSpec]:
    """One spec per family that supports the task, cheapest first.

    ``families`` are the names the user chose (:attr:`automl.config.Settings.families`); a
    first entry ``"+"`` adds the names after it to the default set. A family that is not named
    is offered only if it is ``searched_by_default`` and
    :attr:`~automl.candidates.base.Family.applies` to the data's shape. When most features are
    count columns (``counts``, at least ``MIN_COUNT_COLUMNS``: a bag of words), a family's
    ``on_counts`` gives the specs to try instead (the linear family adds one on term
    frequencies; the perceptron reads the counts so). Feature twins
    (:mod:`automl.candidates.twins`) come next to their family when on by default or named in
    ``families``: ``lightgbm_log1p`` for a skewed target, ``lightgbm_te`` for high-cardinality
    categorical columns (``encoded``). ConfigError if a name is not installed.
    """
    chosen, families = families, without_twins(families)
    extend = bool(families) and families[0] == "+"
    named = check_families(families) if families is not None else []
    specs = []
    for name in list(FAMILIES) if families is None or extend else named:
        family = FAMILIES[name]
        if shape.task not in family.tasks or (name not in named and not _offered(family, shape)):
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
    if not specs and families is not None:
        raise ConfigError(f"none of the families {', '.join(named)} handles {shape.task} tasks")
    return add_twins(specs, shape, encoded, chosen)


def _offered(family, shape: DataShape) -> bool:
    return family.searched_by_default and family.applies(shape)


def _mostly_counts(shape: DataShape, counts) -> bool:
    return len(counts) >= MIN_COUNT_COLUMNS and len(counts) * 2 >= shape.n_features


def build_pipeline(spec: CandidateSpec, params: dict, schema: InputSchema, seed: int) -> Pipeline:
    """The scikit-learn pipeline of ``spec`` with ``params``: preprocessing, then the model
    (inside its target transform, if ``params`` choose one)."""
    family = FAMILIES[spec.family]
    params, transform = split_transform({**spec.fixed_params, **params})
    model = with_transform(family.build(spec.task, params, seed), transform)
    preprocessor = build_preprocessor(spec.recipe, schema, seed, **spec.recipe_options)
    return Pipeline([("preprocess", preprocessor), ("model", model)])
