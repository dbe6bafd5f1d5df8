"""The conformance suite of a model family: ``check_family(family)``.

As scikit-learn's ``check_estimator`` does for an estimator, :func:`check_family` runs every
check of :data:`CHECKS` on tiny data (90 rows with missing numbers, categories and booleans)
for each task the family supports, and raises :class:`FamilyCheckFailed` (an
``AssertionError``) naming the family, the task and what went wrong:

* :func:`check_space`: the space and portfolio round-trip through JSON and become Optuna
  distributions;
* :func:`check_fit`: the default and the space's lowest configuration fit, and predict
  well-formed values or probabilities, also for unseen categories and all-missing rows;
* :func:`check_explainer`: SHAP values add up to each row's prediction; a family that
  declares an exact explainer gets exact values (unless it declares ``shap_fallback``);
* :func:`check_fast_path`: the compiled single-row path gives what the pipeline gives, and a
  declared ``row_predictor`` is taken;
* :func:`check_notebook`: the notebook's code for the model reproduces the cross-validated
  score of the search.

A third-party family runs it in its own tests: ``check_family(my_package.FAMILY)``.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from automl.candidates.base import CandidateSpec, DataShape, Family, to_distributions
from automl.candidates.generator import build_pipeline, generate_candidates
from automl.candidates.registry import registered
from automl.data.profile import profile_dataset
from automl.data.schema import InputSchema
from automl.data.splits import make_folds
from automl.explain.shapley import exact_explanation, explain, is_additive
from automl.metrics import DEFAULT_METRIC
from automl.model.bundle import ModelBundle
from automl.model.encoders import compile_encoder
from automl.model.fastpath import compile_row_predictor
from automl.model.pipeline import predict_matrix
from automl.notebooks.candidate import CV_SOURCE, metric_source, pipeline_source
from automl.notebooks.render import Imports
from automl.search.evaluate import TrainingData, evaluate
from automl.search.records import TrialSpec

TINY_ROWS = 90
N_FOLDS = 3
SEED = 0
RTOL, ATOL = 1e-9, 1e-12


class FamilyCheckFailed(AssertionError):
    """A family failed a conformance check; the message names the family, task and check."""


@dataclass
class Case:
    """Tiny data for one task: raw rows, their clean frame, the encoded target and folds."""

    task: str
    raw: pd.DataFrame
    schema: InputSchema
    X: pd.DataFrame
    y: np.ndarray
    classes: list | None
    folds: list
    fitted: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return 0 if self.classes is None else len(self.classes)

    @property
    def shape(self) -> DataShape:
        return DataShape(len(self.X), len(self.schema.names), self.task, self.n_classes)


def tiny_case(task: str, n: int = TINY_ROWS, seed: int = SEED) -> Case:
    """:func:`tiny_frame` profiled, coerced and split as a job would."""
    raw = tiny_frame(task, n, seed)
    profile, kept = profile_dataset(raw, "y", task=task)
    schema = InputSchema.from_profile(profile)
    if task == "regression":
        y, classes = kept["y"].to_numpy(float), None
    else:
        codes, uniques = pd.factorize(kept["y"], sort=True)
        y, classes = codes, list(uniques)
    return Case(task, kept.drop(columns=["y"]), schema, schema.coerce(kept, strict=False), y,
                classes, make_folds(y, task, N_FOLDS, SEED))


def tiny_frame(task: str, n: int = TINY_ROWS, seed: int = SEED) -> pd.DataFrame:
    """Raw rows with a numeric column (10 % missing), a category (with missing), integer
    codes, a yes/no flag and a target ``y`` of ``task`` that depends on them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    raw = pd.DataFrame({
        "num": np.where(rng.random(n) < 0.1, np.nan, x),
        "color": rng.choice(["red", "green", "blue", None], n),
        "code": rng.integers(1, 6, n),
        "flag": rng.choice(["yes", "no"], n),
    })
    signal = x + (raw["color"] == "red") + rng.normal(scale=0.5, size=n)
    raw["y"] = {"regression": 2 * signal, "binary": np.where(signal > 0.3, "a", "b"),
                "multiclass": np.digitize(signal, [-0.3, 0.8])}[task]
    return raw


def check_family(family: Family, tasks: tuple[str, ...] | None = None) -> None:
    """Run every check of :data:`CHECKS` on ``family`` for each of its tasks (or ``tasks``)."""
    with registered(family):
        for task in tasks or family.tasks:
            case = tiny_case(task)
            for check in CHECKS:
                check(family, case)


def _require(condition: bool, family: Family, case: Case, message: str) -> None:
    if not condition:
        raise FamilyCheckFailed(f"family {family.name!r}, task {case.task!r}: {message}")


def _spec(family: Family, case: Case) -> CandidateSpec:
    specs = generate_candidates(case.shape, families=[family.name])
    _require(len(specs) >= 1, family, case, "generate_candidates offers no spec")
    return specs[0]


def _fit(family: Family, case: Case, params: dict | None = None):
    """The pipeline of the family's spec with ``params`` (default: its first default),
    fitted on every row but the last ten (kept for predictions); cached per params."""
    spec = _spec(family, case)
    params = spec.defaults[0] if params is None else params
    key = json.dumps(params, sort_keys=True, default=str)
    if key not in case.fitted:
        pipeline = build_pipeline(spec, params, case.schema, SEED)
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a perceptron that stops before converging
            case.fitted[key] = pipeline.fit(case.X.iloc[:-10], case.y[:-10])
    return case.fitted[key]


def _low_corner(space: dict) -> dict:
    """Each parameter at its lowest value (first choice): a configuration the tuner may ask."""
    return {name: p["choices"][0] if p["type"] == "categorical" else p["low"]
            for name, p in space.items()}


def check_space(family: Family, case: Case) -> None:
    """The spec (space, portfolio, fixed params) survives JSON and gives Optuna distributions."""
    spec = _spec(family, case)
    try:
        back = CandidateSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    except (TypeError, ValueError) as exc:
        raise FamilyCheckFailed(f"family {family.name!r}: the spec is not JSON: {exc}") from exc
    _require(back == spec, family, case, f"the spec changes through JSON: {spec} -> {back}")
    _require(len(spec.defaults) >= 1, family, case, "the portfolio (defaults) is empty")
    try:
        to_distributions(spec.space)
    except (KeyError, ValueError) as exc:
        raise FamilyCheckFailed(f"family {family.name!r}: bad space {spec.space}: {exc}") from exc


def check_fit(family: Family, case: Case) -> None:
    """Default and lowest configurations fit and predict well-formed matrices, also for rows
    with an unseen category and with every value missing."""
    test = case.X.iloc[-10:].copy()
    test.iloc[0, test.columns.get_loc("color")] = "purple"
    test.iloc[1] = np.nan
    test = case.schema.coerce(test, strict=False)
    for params in (None, _low_corner(_spec(family, case).space)):
        matrix = predict_matrix(_fit(family, case, params), test, case.task, case.n_classes)
        expected = (len(test),) if case.task == "regression" else (len(test), case.n_classes)
        _require(matrix.shape == expected, family, case,
                 f"predictions of shape {matrix.shape}, expected {expected} (params {params})")
        _require(bool(np.isfinite(matrix).all()), family, case, f"non-finite predictions {matrix}")
        if case.task != "regression":
            _require(bool((matrix >= 0).all() and np.allclose(matrix.sum(axis=1), 1.0)),
                     family, case, f"probabilities do not sum to 1: {matrix}")


def _bundle(family: Family, case: Case) -> ModelBundle:
    return ModelBundle(_fit(family, case), case.schema, case.task, case.classes,
                       background=ModelBundle.background_of(case.X.iloc[:-10], SEED))


def check_explainer(family: Family, case: Case) -> None:
    """SHAP values add up to each row's prediction; an exact explainer is exact."""
    bundle = _bundle(family, case)
    rows = case.raw.iloc[-2:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explanation = explain(bundle, rows, seed=SEED)
        exact = exact_explanation(bundle.model, case.X.iloc[-2:], case.task)
    _require(is_additive(explanation), family, case,
             "base value + contributions differ from the prediction")
    if family.explainer != "permutation" and not family.shap_fallback:
        _require(exact is not None, family, case,
                 f"declares the exact {family.explainer!r} explainer, but its SHAP values do "
                 "not add up to the model's output; declare shap_fallback=True or "
                 "explainer='permutation'")


def check_fast_path(family: Family, case: Case) -> None:
    """The compiled row path (where there is one) predicts what the pipeline predicts."""
    bundle = _bundle(family, case)
    test = case.X.iloc[-10:]
    expected = predict_matrix(bundle.model, test, case.task, case.n_classes)
    compiled = compile_row_predictor(bundle.model, case.schema, case.task, case.n_classes)
    if family.row_predictor is not None:
        _check_row_predictor(family, case, bundle.model, expected)
    if compiled is not None:
        _close(compiled.frame(test), expected, family, case, "compiled frame path")
        rows = np.vstack([np.atleast_2d(compiled(test.iloc[i].tolist())) for i in range(3)])
        _close(rows, expected[:3].reshape(len(rows), -1), family, case, "compiled row path")
    record = bundle.predict_one(case.raw.iloc[-1].to_dict())
    if record is not None:
        _close(record, expected[-1:], family, case, "one-record path")


def _check_row_predictor(family: Family, case: Case, pipeline, expected) -> None:
    """The family's own row predictor, on rows encoded as the compiled path encodes them."""
    own = family.row_predictor(pipeline[-1], case.task, case.n_classes)
    _require(own is not None, family, case,
             "declares a row_predictor, but it does not take its own fitted estimator")
    encoder = compile_encoder(pipeline[0], case.schema)
    if encoder is not None:
        _close(own(encoder.frame(case.X.iloc[-10:])), expected, family, case, "row_predictor")


def _close(actual, expected, family: Family, case: Case, what: str) -> None:
    actual = np.asarray(actual, dtype=float).reshape(np.shape(expected))
    _require(bool(np.allclose(actual, expected, rtol=RTOL, atol=ATOL)), family, case,
             f"the {what} gives {actual}, the pipeline {expected}")


def check_notebook(family: Family, case: Case) -> None:
    """The notebook's model code, cross-validated by the notebook's own cells, scores what
    the search scored on the same folds."""
    spec, metric = _spec(family, case), DEFAULT_METRIC[case.task]
    params = spec.defaults[0]
    data = TrainingData(case.X, case.y, case.task, case.n_classes, case.schema, case.folds,
                        case.classes)
    result = evaluate(TrialSpec("check", 0, spec, params, SEED, metric), data)
    _require(result.ok, family, case, f"the search could not score it: {result.reason}")
    imports = Imports()
    model = pipeline_source(spec, params, case.schema, SEED, "make_model", imports)
    code = "\n\n".join([imports.inline_source(), "\n".join(imports.lines()), model,
                        metric_source(metric, case.task), CV_SOURCE])
    namespace = {"np": np, "warnings": warnings, "threadpool_limits": threadpool_limits,
                 "TASK": case.task, "CLASSES": case.classes or [], "METRIC": metric,
                 "LEADERBOARD_SCORE": result.score, "X": case.X, "y": case.y,
                 "folds": [(train, valid) for train, valid in case.folds]}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, f"<notebook of {family.name}>", "exec"), namespace)  # noqa: S102
    _require(bool(np.isclose(namespace["cv_score"], result.score, rtol=1e-9, atol=0)), family,
             case, f"the notebook scores {namespace['cv_score']}, the search {result.score}")


CHECKS = (check_space, check_fit, check_explainer, check_fast_path, check_notebook)
