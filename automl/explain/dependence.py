"""Dependence plots: how a model's output moves with one column's value.

For a sample of the training rows, each of the most important columns gets its (value, SHAP
contribution) pairs, the data ``shap.dependence_plot`` draws; contributions are on the scale
of :mod:`automl.explain.shapley` (binary: the second class; multiclass: each row's predicted
class; regression: the value). Written once per candidate as ``dependence.json`` and one SVG
per column, next to its ``importance.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from automl.explain import _explained_output, _sample, write_candidate_explanation
from automl.explain.shapley import explain, uses_permutation
from automl.layout import JobLayout

TOP_COLUMNS = 3
EXACT_ROWS = 200
PERMUTATION_ROWS = 60  # each row costs about 2 x columns x 20 model calls


def dependence(bundle, frame: pd.DataFrame, columns: list[str], seed: int = 0) -> dict:
    """Per column of ``columns``: the sampled rows' values and their contributions."""
    rows = PERMUTATION_ROWS if uses_permutation(bundle) else EXACT_ROWS
    sample = _sample(frame, rows, seed)
    e = explain(bundle, sample, seed)
    picked = np.array([_explained_output(e, i, bundle) for i in range(e.values.shape[0])])
    per_row = e.values[np.arange(len(picked)), :, picked]  # (rows, columns)
    result = []
    for column in columns:
        j = e.columns.index(column)
        values = sample[column]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        result.append({"column": column, "kind": "numeric" if numeric else "categorical",
                       "values": [_plain(v, numeric) for v in values],
                       "contributions": [float(c) for c in per_row[:, j]]})
    return {"output": e.output, "rows": len(sample), "columns": result}


def _plain(value, numeric: bool):
    """A JSON value: a float (None when missing) or a string (None when missing)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return float(value) if numeric else str(value)


def write_dependence(bundle_dir, candidate_id: str, data_path, output_dir: str | Path) -> dict:
    """The job's ``explanations/<candidate_id>/dependence.json`` and ``dependence_<n>.svg`` for
    the candidate's most important columns (its importance is computed first when missing);
    returns the document."""
    from automl.data.intake import read_table
    from automl.model.bundle import ModelBundle

    layout = JobLayout(output_dir)
    directory = layout.explanations(candidate_id)
    if layout.importance(candidate_id).is_file():
        importance = json.loads(layout.importance(candidate_id).read_text())
    else:
        importance = write_candidate_explanation(bundle_dir, candidate_id, data_path, output_dir)
    bundle = ModelBundle.load(bundle_dir)
    frame = read_table(data_path)
    frame = frame[frame[bundle.schema.target].notna()]
    top = [c for c in importance["importance"] if c in bundle.schema.names][:TOP_COLUMNS]
    doc = {"candidate_id": candidate_id, **dependence(bundle, frame, top)}
    for n, column in enumerate(doc["columns"]):
        column["figure"] = f"dependence_{n}.svg"
        _plot(column, doc["output"], directory / column["figure"])
    layout.dependence(candidate_id).write_text(json.dumps(doc, indent=2))
    return doc


def _plot(column: dict, output: str, path: Path) -> None:
    """A scatter of contribution against value; categories spread along their own x slot."""
    from automl.explain.quality import figure, save

    fig, ax = figure((5, 3.5))
    pairs = [(v, c) for v, c in zip(column["values"], column["contributions"], strict=True)
             if v is not None]
    if column["kind"] == "numeric":
        ax.scatter([v for v, _ in pairs], [c for _, c in pairs], s=10, alpha=0.6)
    else:
        levels = sorted({v for v, _ in pairs})[:30]
        slot = {level: i for i, level in enumerate(levels)}
        kept = [(slot[v], c) for v, c in pairs if v in slot]
        jitter = np.random.default_rng(0).uniform(-0.2, 0.2, len(kept))
        ax.scatter([s + j for (s, _), j in zip(kept, jitter, strict=True)],
                   [c for _, c in kept], s=10, alpha=0.6)
        ax.set_xticks(range(len(levels)), levels, rotation=45, ha="right")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(column["column"])
    ax.set_ylabel(f"SHAP contribution ({output})")
    save(fig, path)
