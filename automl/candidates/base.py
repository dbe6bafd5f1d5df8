"""Model families, candidate specs, and search spaces as data.

A search space is a dict ``{param: {"type": "int"|"float"|"categorical", ...}}`` that round-trips
through JSON and converts to Optuna distributions. A :class:`Family` declares everything about
one kind of model that the rest of the package needs: its recipe, tasks and relative cost; when
it is offered for the data's shape; a data-dependent space and a portfolio of strong default
configurations (tried first, cheapest first); how to build its estimator; which explainer reads
it and on what scale; its fast single-row path; how a notebook writes it; the modules to preload
in the trial workers and the libraries to record with a bundle. Built-in families live in
:mod:`automl.candidates.families`; other packages add theirs through the ``automl.families``
entry-point group (:mod:`automl.candidates.registry`), and :func:`automl.testing.check_family`
is the conformance suite every family passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna.distributions as od


@dataclass(frozen=True)
class DataShape:
    """What a family needs to know about the data to size its space; ``skewed_target``: a
    non-negative, right-skewed regression target (:func:`automl.data.target.skewed_positive`),
    for which the generator offers a ``log1p`` target transform."""

    n_rows: int
    n_features: int
    task: str
    n_classes: int = 0
    skewed_target: bool = False


def _no_fixed(shape: DataShape) -> dict:
    return {}


def _always(shape: DataShape) -> bool:
    return True


EXPLAINERS = ("tree", "linear", "permutation")


@dataclass(frozen=True)
class Family:
    """One model family. The first seven fields are required; the rest have safe defaults.

    * ``name``, ``recipe`` (see :mod:`automl.candidates.recipes`), ``tasks`` (a subset of
      :data:`automl.metrics.TASKS`), ``cost`` (relative; cheaper families are tried first).
    * ``space(shape)`` and ``defaults(shape)``: the search space as data and the portfolio.
    * ``build(task, params, seed)``: the unfitted estimator (``fit``/``predict``, and
      ``predict_proba`` with ``classes_`` 0..K-1 for classification).
    * ``fixed(shape)``: params held fixed for this data (not searched).
    * ``estimators``: the classes ``build`` returns; how a fitted model is traced back to its
      family (explainer, fast path, notebook rendering). An optional family whose library is
      slow to import gives a function returning them instead: it is called only for an
      estimator from one of its ``preload`` modules (which is then imported already).
    * ``applies(shape)``: whether the family is offered for data of this shape when the user
      did not name the families (e.g. k-NN is left out on many rows);
      ``searched_by_default``: False for a family that is installed but only searched when
      named (the optional XGBoost and CatBoost families).
    * ``on_counts(spec, counts)``: the specs to try instead of ``spec`` when most features
      are count columns (a bag of words), or None to keep ``spec``.
    * ``explainer``: ``"tree"`` (SHAP's TreeExplainer), ``"linear"`` (LinearExplainer), both
      exact on the encoded matrix, or ``"permutation"``, the model-agnostic fallback.
      ``shap_output`` names the classification scale the exact explainers add up in
      (``"log-odds"`` or ``"probability"``) and ``decision_function(estimator, Z)`` gives the
      model's output on that scale (default: ``estimator.decision_function``); ``shap_rows``
      is how many rows a global importance explains (fewer for dear explainers);
      ``shap_fallback`` declares that the exact explainer may not follow every fitted model
      (HistGradientBoosting's native category splits), where the permutation one answers.
    * ``row_predictor(estimator, task, n_classes)``: a fast function from encoded rows (an
      n x features float array) to the prediction matrix, or None (the pipeline predicts).
    * ``render(estimator, imports)``: Python source that rebuilds the unfitted estimator in a
      notebook, for estimators that are not scikit-learn estimators.
    * ``preload``: modules the forkserver imports before forking trial workers;
      ``libraries``: distributions whose versions a bundle's metadata records.
    """

    name: str
    recipe: str
    tasks: tuple[str, ...]
    cost: float
    space: Callable[[DataShape], dict]
    defaults: Callable[[DataShape], list[dict]]
    build: Callable[[str, dict, int], Any]
    fixed: Callable[[DataShape], dict] = _no_fixed
    row_predictor: Callable | None = None
    estimators: tuple[type, ...] | Callable[[], tuple[type, ...]] = ()
    applies: Callable[[DataShape], bool] = _always
    searched_by_default: bool = True
    on_counts: Callable[[CandidateSpec, list[str]], list[CandidateSpec]] | None = None
    explainer: str = "permutation"
    shap_output: str = "log-odds"
    decision_function: Callable[[Any, Any], Any] | None = None
    shap_rows: int = 200
    shap_fallback: bool = False
    render: Callable[[Any, Any], str] | None = None
    preload: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()

    def owns(self, estimator) -> bool:
        """True when ``estimator`` is one this family builds."""
        classes = self.estimators
        if callable(classes):  # declared lazily: resolved once such an estimator exists
            if type(estimator).__module__.split(".")[0] not in self.preload:
                return False
            classes = classes()
        return bool(classes) and isinstance(estimator, classes)

    def margin(self, estimator, Z):
        """The classifier's output on the ``shap_output`` scale, for the exact explainers."""
        if self.decision_function is not None:
            return self.decision_function(estimator, Z)
        return estimator.decision_function(Z)


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


def constructor_source(estimator, params: dict, imports) -> str:
    """``Name(key=value, ...)`` rebuilding ``estimator`` from ``params`` (plain literals), with
    its import recorded in ``imports``: a family's ``render`` for a notebook."""
    name = imports.add(type(estimator))
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in sorted(params.items()))})"


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
