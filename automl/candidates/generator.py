"""Candidate generation: which (recipe, family) pairs to try for a dataset, and pipeline building."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sklearn.pipeline import Pipeline

from automl.candidates.base import CandidateSpec, DataShape
from automl.candidates.recipes import build_preprocessor
from automl.candidates.registry import FAMILIES, check_families
from automl.candidates.target_transform import offer_transform, split_transform, with_transform
from automl.data.schema import InputSchema
from automl.exceptions import ConfigError

MIN_COUNT_COLUMNS = 20
TWIN_COST = 0.06  # a feature twin runs right after its plain candidate


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
    frequencies; the perceptron reads the counts so). A skewed regression target adds a
    ``log1p`` twin of the cheapest tree candidate (:mod:`automl.candidates.target_transform`);
    high-cardinality categorical columns (``encoded``), a twin of the cheapest candidate on the
    ``tree_native`` recipe on ``tree_target``, which adds their out-of-fold target encodings. ConfigError if a
    name is not installed.
    """
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
    specs = _target_encoded(sorted(specs, key=lambda s: s.cost), encoded)
    return offer_transform(specs, shape)


def _target_encoded(specs: list[CandidateSpec], encoded) -> list[CandidateSpec]:
    native = [s for s in specs if s.recipe == "tree_native"]
    if not encoded or not native:
        return specs
    twin = replace(native[0], name=f"{native[0].name}_te", recipe="tree_target",
                   cost=native[0].cost + TWIN_COST, recipe_options={"encoded": list(encoded)})
    return sorted([*specs, twin], key=lambda s: s.cost)


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
