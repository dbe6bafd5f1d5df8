"""Feature twins: a family's candidate again with one stronger feature, offered when the data
calls for it, so that cross-validation decides between the two.

* ``lightgbm_log1p``: LightGBM on ``log1p`` of a skewed, non-negative regression target
  (:mod:`automl.candidates.target_transform`; ``DataShape.skewed_target``).
* ``lightgbm_te``: LightGBM on the ``tree_target`` recipe, which adds the out-of-fold target
  encodings of the high-cardinality categorical columns (:mod:`automl.candidates.recipes`).

A twin is searched when it is on by default (:data:`DEFAULT_TWINS`, for twins measured ahead
of their plain candidate) or when the job's ``families`` setting names it (``+lightgbm_te``: the
default set plus the twin; ``lightgbm_te`` alone: LightGBM and its twin). Its cost is its
family's plus :data:`TWIN_COST`, so it runs right after its family in the portfolio's first
round (where a loaded 60 s job may run every trial it gets).
"""

from __future__ import annotations

from dataclasses import replace

from automl.candidates.base import CandidateSpec, DataShape
from automl.candidates.target_transform import PARAM

TWINS = {"lightgbm_log1p": "lightgbm", "lightgbm_te": "lightgbm"}
"""Twin name -> the family it is a twin of."""
DEFAULT_TWINS: frozenset[str] = frozenset()
TWIN_COST = 0.05


def twin_names(families) -> list[str]:
    """The twins that ``families`` (a job's setting, or None) names."""
    return [n for n in families or () if n in TWINS]


def without_twins(families) -> list[str] | None:
    """``families`` without twin names; twins named alone mean their families."""
    if families is None:
        return None
    rest = [n for n in families if n not in TWINS]
    return rest or list(dict.fromkeys(TWINS[n] for n in families))


def add_twins(specs: list[CandidateSpec], shape: DataShape, encoded,
              families) -> list[CandidateSpec]:
    """``specs`` plus the wanted twins that apply to the data, in cost order."""
    wanted = DEFAULT_TWINS | set(twin_names(families))
    base = {s.name: s for s in specs}
    twins = []
    if "lightgbm_log1p" in wanted and "lightgbm" in base and shape.task == "regression" \
            and shape.skewed_target:
        spec = base["lightgbm"]
        twins.append(replace(spec, name="lightgbm_log1p", cost=spec.cost + TWIN_COST,
                             fixed_params={**spec.fixed_params, PARAM: "log1p"}))
    if "lightgbm_te" in wanted and "lightgbm" in base and encoded:
        spec = base["lightgbm"]
        twins.append(replace(spec, name="lightgbm_te", recipe="tree_target",
                             cost=spec.cost + TWIN_COST, recipe_options={"encoded": list(encoded)}))
    return sorted([*specs, *twins], key=lambda s: s.cost)
