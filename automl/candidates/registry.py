"""The one explicit list of model families."""

from __future__ import annotations

from automl.candidates.base import Family
from automl.candidates.families import (
    extra_trees,
    hist_gradient_boosting,
    knn,
    lightgbm,
    linear,
    mlp,
    random_forest,
)

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        lightgbm.FAMILY,
        hist_gradient_boosting.FAMILY,
        random_forest.FAMILY,
        extra_trees.FAMILY,
        linear.FAMILY,
        knn.FAMILY,
        mlp.FAMILY,
    )
}


def get_family(name: str) -> Family:
    return FAMILIES[name]
