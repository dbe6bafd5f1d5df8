"""Model families, candidate specs, and search spaces as data.

A search space is a dict ``{param: {"type": "int"|"float"|"categorical", ...}}`` that round-trips
through JSON and converts to Optuna distributions. A family declares its recipe, the tasks it
supports, a relative cost, a data-dependent space, a portfolio of strong default configurations
(tried first, cheapest first), and how to build its estimator from params. A family may also
offer ``row_predictor(estimator, task, n_classes)``: a fast function from one encoded row
(a 1 x n float array) to the prediction matrix, for serving single rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna.distributions as od


@dataclass(frozen=True)
class DataShape:
    """What a family needs to know about the data to size its space."""

    n_rows: int
    n_features: int
    task: str
    n_classes: int = 0


@dataclass(frozen=True)
class Family:
    """One model family (see the module doc)."""

    name: str
    recipe: str
    tasks: tuple[str, ...]
    cost: float
    space: Callable[[DataShape], dict]
    defaults: Callable[[DataShape], list[dict]]
    build: Callable[[str, dict, int], Any]
    fixed: Callable[[DataShape], dict] = field(default=lambda shape: {})
    row_predictor: Callable | None = None


@dataclass(frozen=True)
class CandidateSpec:
    """A recipe and a family with fixed params and a search space: JSON-serialisable."""

    name: str
    recipe: str
    family: str
    task: str
    fixed_params: dict
    space: dict
    defaults: tuple[dict, ...] = ()
    cost: float = 1.0
    recipe_options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CandidateSpec:
        return cls(**{**d, "defaults": tuple(d.get("defaults", ()))})


def int_param(low: int, high: int, log: bool = False) -> dict:
    return {"type": "int", "low": int(low), "high": int(max(high, low)), "log": log}


def float_param(low: float, high: float, log: bool = False) -> dict:
    return {"type": "float", "low": float(low), "high": float(max(high, low)), "log": log}


def choice(*choices) -> dict:
    return {"type": "categorical", "choices": list(choices)}


def to_distributions(space: dict) -> dict[str, od.BaseDistribution]:
    """Optuna distributions for a space given as data."""
    out = {}
    for name, p in space.items():
        if p["type"] == "int":
            out[name] = od.IntDistribution(p["low"], p["high"], log=p.get("log", False))
        elif p["type"] == "float":
            out[name] = od.FloatDistribution(p["low"], p["high"], log=p.get("log", False))
        elif p["type"] == "categorical":
            out[name] = od.CategoricalDistribution(p["choices"])
        else:
            raise ValueError(f"unknown parameter type {p['type']!r} for {name!r}")
    return out
