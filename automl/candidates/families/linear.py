"""Linear models: logistic regression (classification), elastic net (regression)."""

from __future__ import annotations

from dataclasses import replace

from sklearn.linear_model import ElasticNet, LogisticRegression

from automl.candidates.base import CandidateSpec, DataShape, Family, float_param
from automl.metrics import TASKS

WIDE = 200  # above this many features, classification stays L2 (lbfgs): saga is too slow


def space(shape: DataShape) -> dict:
    if shape.task == "regression":
        return {"alpha": float_param(1e-5, 10.0, log=True), "l1_ratio": float_param(0.0, 1.0)}
    if shape.n_features > WIDE:
        return {"C": float_param(1e-3, 100.0, log=True)}
    return {"C": float_param(1e-3, 100.0, log=True), "l1_ratio": float_param(0.0, 1.0)}


def defaults(shape: DataShape) -> list[dict]:
    if shape.task == "regression":
        return [{"alpha": 1e-3, "l1_ratio": 0.0}]
    return [{"C": 1.0}] if shape.n_features > WIDE else [{"C": 1.0, "l1_ratio": 0.0}]


def build(task: str, params: dict, seed: int):
    if task == "regression":
        return ElasticNet(random_state=seed, max_iter=5000, selection="cyclic", **params)
    solver = "lbfgs" if params.get("l1_ratio", 0.0) == 0.0 else "saga"
    return LogisticRegression(random_state=seed, max_iter=2000, solver=solver, **params)


def on_counts(spec: CandidateSpec, counts: list[str]) -> list[CandidateSpec]:
    """Next to ``spec``, one on term frequencies (the ``linear_counts`` recipe): rows have unit
    length, so weaker regularisation (C up to 300; beyond it the model nears the unregularised
    fit, whose probabilities are overconfident out of sample although the folds can still
    reward it)."""
    if spec.task == "regression":
        space, defaults = spec.space, spec.defaults
    else:
        space = {"C": float_param(1.0, 300.0, log=True)}
        defaults = ({"C": 100.0},)
    counted = replace(spec, name="linear_counts", recipe="linear_counts", space=space,
                      defaults=defaults, cost=spec.cost + 0.1,
                      recipe_options={"counts": list(counts)})
    return [spec, counted]


FAMILY = Family("linear", "linear", TASKS, 0.5, space, defaults, build,
                estimators=(LogisticRegression, ElasticNet), on_counts=on_counts,
                explainer="linear", libraries=("scikit-learn",))
