"""Explanations (SHAP, global and per row) and model-quality reports.

See :mod:`automl.explain.shapley` for the explainer per model and the output scale.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from automl.candidates.registry import family_of
from automl.explain.shapley import (
    Explanation,
    exact_explanation,
    explain,
    uses_permutation,
)
from automl.layout import JobLayout

# Rows explained for global importance: at most "tree" for an exact explainer (fewer where the
# family's shap_rows says so, e.g. forests) and "permutation" for the permutation explainer.
GLOBAL_ROWS = {"tree": 200, "permutation": 25}
PERMUTATION_EVALS = 5_000


def _sample(frame: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    return frame if len(frame) <= n else frame.sample(n, random_state=seed)


def explain_global(bundle, frame: pd.DataFrame, max_rows: int | None = None) -> dict[str, float]:
    """Mean absolute SHAP value per original column (summed over classes), largest first.

    ``frame`` holds raw rows (schema columns; the target may be present and is ignored); a
    sample of at most ``max_rows`` rows is explained.
    """
    return importance_of(_global_explanation(bundle, frame, max_rows))


def _global_explanation(bundle, frame: pd.DataFrame, max_rows: int | None) -> Explanation:
    if uses_permutation(bundle):
        rows = permutation_rows(len(bundle.schema.names))
    else:
        rows = _exact_rows(bundle.model)
    return explain(bundle, _sample(frame, max_rows or rows))


def permutation_rows(n_columns: int) -> int:
    """Rows for a permuted global importance: 25, fewer on wide data (each row costs about
    2 x columns evaluations of the model), never under 5."""
    return int(np.clip(PERMUTATION_EVALS // (2 * n_columns + 1), 5, GLOBAL_ROWS["permutation"]))


def _exact_rows(model) -> int:
    """Rows an exact explainer reads for global importance: the family's ``shap_rows``."""
    family = family_of(getattr(model, "steps", [[None, None]])[-1][1])
    return min(GLOBAL_ROWS["tree"], family.shap_rows) if family else GLOBAL_ROWS["tree"]


def importance_of(e: Explanation) -> dict[str, float]:
    """Mean |SHAP| per column over rows, summed over outputs; largest first."""
    importance = np.abs(e.values).mean(axis=0).sum(axis=1)
    order = np.argsort(-importance, kind="stable")
    return {e.columns[i]: float(importance[i]) for i in order}


def explain_rows(bundle, frame: pd.DataFrame) -> list[dict]:
    """Per row: ``base_value``, ``contributions`` {column: value}, ``prediction``, ``output``.

    ``base_value + sum(contributions) == prediction`` on the scale named by ``output``
    (binary: the second class; multiclass: the predicted class, named in ``class``).
    """
    e = explain(bundle, frame)
    rows = []
    for i in range(e.values.shape[0]):
        k = _explained_output(e, i, bundle)
        row = {"base_value": float(e.base[k]),
               "contributions": {c: float(v) for c, v in zip(e.columns, e.values[i, :, k],
                                                              strict=True)},
               "prediction": float(e.prediction[i, k]), "output": e.output}
        if bundle.task != "regression":
            row["class"] = bundle.classes[k if e.prediction.shape[1] > 1 else 1]
        rows.append(row)
    return rows


def _explained_output(e: Explanation, i: int, bundle) -> int:
    if e.prediction.shape[1] == 1:
        return 0
    if bundle.task == "binary":
        return 1
    return int(np.argmax(e.prediction[i]))


def write_explanations(job, output_dir: str | Path, frame: pd.DataFrame) -> dict[str, float]:
    """``explanations/<winner_id>/importance.json`` and ``importance.svg``; returns timings."""
    start = time.perf_counter()
    _write_importance(JobLayout(output_dir).importance(job.winner.candidate_id),
                      job.winner.candidate_id, global_importance(job.bundle, frame))
    return {"explanations_s": time.perf_counter() - start}


ENSEMBLE_MEASURE = ("weighted mean over the ensemble's members of each member's mean |SHAP value| "
                    "per original column, normalised to sum to 1 per member")


def global_importance(bundle, frame: pd.DataFrame) -> dict:
    """``{"output", "measure", "importance"}``: the global importance of ``bundle`` on a sample
    of the raw rows ``frame``, the one computation behind the job's ``importance.json`` (the
    training baseline of attribution drift) and every monitoring window, so the two compare.

    A voting ensemble: its members' exact explainers (:func:`_ensemble_importance`, a second
    or two); a single model: :func:`explain_global` with its explainer's own row count.
    """
    members = _members(bundle)
    importance = _ensemble_importance(bundle, members, frame) if members else None
    if importance:
        return {"output": "share", "measure": ENSEMBLE_MEASURE, "importance": importance}
    e = _global_explanation(bundle, frame, None)
    return {"output": e.output, "measure": "mean |SHAP value| per original column",
            "importance": importance_of(e)}


def _write_importance(path: Path, candidate_id: str, found: dict) -> dict:
    """``importance.json`` (and its bar chart beside it) of one candidate; the document."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"candidate_id": candidate_id, **found}
    path.write_text(json.dumps(doc, indent=2))
    _bar_chart(found["importance"], found["output"], path.with_suffix(".svg"))
    return doc


def _members(bundle) -> list[tuple[object, float]]:
    """(fitted member pipeline, weight) of a voting ensemble; empty for a single model."""
    estimators = getattr(bundle.model, "estimators_", None)
    weights = getattr(bundle.model, "weights", None)
    if estimators is None or weights is None:
        return []
    return list(zip(estimators, weights, strict=True))


def _ensemble_importance(bundle, members, frame: pd.DataFrame) -> dict[str, float]:
    """Global importance of an ensemble from its members' own exact (tree, linear) explainers.

    The permutation explainer over the whole vote costs tens of seconds; SHAP values are
    linear in the model, so the members' importances, each normalised and weighted by the vote
    (members without an exact explainer, such as k-NN, are left out), rank the columns at a
    fraction of the cost.
    """
    total: dict[str, float] = {}
    X = bundle.prepare(_sample(frame, GLOBAL_ROWS["tree"]))
    explained = [(m, w, e) for m, w in members
                 if (e := exact_explanation(m, X.iloc[:_exact_rows(m)], bundle.task))]
    weights = sum(w for _, w, _ in explained) or 1.0
    for _, weight, e in explained:
        importance = importance_of(e)
        norm = sum(importance.values()) or 1.0
        for column, value in importance.items():
            total[column] = total.get(column, 0.0) + weight / weights * value / norm
    return dict(sorted(total.items(), key=lambda kv: -kv[1]))


def _bar_chart(importance: dict[str, float], scale: str, path: Path, top: int = 20) -> None:
    from automl.explain.quality import figure, save

    items = list(importance.items())[:top][::-1]
    fig, ax = figure((6, 0.3 * len(items) + 1))
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set_xlabel(f"mean |SHAP| ({scale})")
    save(fig, path)


def write_candidate_explanation(bundle_dir, candidate_id: str, data_path,
                                output_dir: str | Path) -> dict:
    """Global importance of one candidate's bundle on a sample of ``data_path``, written to the
    job's ``explanations/<candidate_id>/importance.json`` and ``.svg``; returns the document
    (explanations on request)."""
    from automl.data.intake import read_table
    from automl.model.bundle import ModelBundle

    bundle = ModelBundle.load(bundle_dir)
    frame = read_table(data_path)
    frame = frame[frame[bundle.schema.target].notna()]
    return _write_importance(JobLayout(output_dir).importance(candidate_id), candidate_id,
                             global_importance(bundle, frame))
