"""The training baseline a deployed model is monitored against, in Model Monitor's schema.

``statistics.json`` (per feature: ``inferred_type``, completeness counts, and either
``numerical_statistics`` with mean/std/min/max and ``distribution.kll.buckets`` or
``string_statistics`` with ``distinct_count`` and ``distribution.categorical.buckets``) and
``constraints.json`` (per feature: ``completeness``, ``num_constraints.is_non_negative``,
``string_constraints.domains`` for small cardinalities, ``monitoringConfigOverrides``; and the
``monitoring_config`` thresholds) follow SageMaker Model Monitor's layouts. Our additions, which
readers of those layouts ignore: each feature's ``role`` (the schema's), numeric buckets at the
training deciles rather than a KLL sketch's (the drift checks' bins), the drift methods
``psi`` / ``jensen_shannon`` in ``distribution_constraints``, and, for a discrete numeric
column (at most ``MAX_DISCRETE`` distinct values in training: integer codes, counts, flags),
its value frequencies as ``numerical_statistics.distribution.categorical.buckets`` beside the
``kll`` buckets (the drift check compares those frequencies, values never seen in training
counting as a level of their own).

Beside them: ``predictions.json`` (the winner's out-of-fold predictions as one feature,
``prediction``: the positive class's probability for binary tasks, the value for regression,
the predicted label for multiclass; for classification also ``calibration``, the map
:mod:`automl.monitoring.calibration` fitted on those predictions and their labels for the
performance estimate) and ``importance.json`` (global SHAP importance).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from automl.exceptions import NotFound
from automl.monitoring.calibration import fit_calibration
from automl.monitoring.drift import bin_counts
from automl.monitoring.settings import Thresholds

VERSION = 0.0
N_BINS = 10
MAX_BUCKETS = 100
MAX_DOMAIN = 100
MAX_DISCRETE = 20
STRING_ROLES = ("categorical", "boolean", "text", "datetime")
DRIFT_ROLES = ("numeric", "categorical", "boolean")
FILES = {"statistics": "statistics.json", "constraints": "constraints.json",
         "predictions": "predictions.json", "importance": "importance.json"}


@dataclass(frozen=True)
class Baseline:
    """The four baseline documents (``predictions`` and ``importance`` may be None)."""

    statistics: dict
    constraints: dict
    predictions: dict | None = None
    importance: dict | None = None

    def feature(self, name: str) -> dict | None:
        return next((f for f in self.statistics["features"] if f["name"] == name), None)

    def constraint(self, name: str) -> dict | None:
        return next((f for f in self.constraints["features"] if f["name"] == name), None)

    def with_importance_file(self, path: str | Path) -> Baseline:
        """This baseline with the importance of an ``importance.json`` of
        :mod:`automl.explain` (``{"importance": {column: value}}``), when that file exists."""
        path = Path(path)
        if not path.is_file():
            return self
        importance = json.loads(path.read_text()).get("importance")
        doc = {"version": VERSION, "importance": importance} if importance else None
        return replace(self, importance=doc)

    def save(self, directory: str | Path) -> Path:
        """Write the documents to ``directory`` (created)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for key, name in FILES.items():
            doc = getattr(self, key)
            if doc is not None:
                (directory / name).write_text(json.dumps(doc, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Baseline:
        """Read a baseline directory; :class:`NotFound` when its statistics or constraints are
        missing."""
        directory = Path(directory)
        docs = {}
        for key, name in FILES.items():
            path = directory / name
            if path.is_file():
                docs[key] = json.loads(path.read_text())
            elif key in ("statistics", "constraints"):
                raise NotFound(f"no monitoring baseline at {directory}: {name} is missing; "
                               "jobs write it to <output>/monitoring/")
        return cls(**docs)


def build_baseline(X: pd.DataFrame, schema: dict, task: str | None = None,
                   classes: list | None = None, oof: np.ndarray | None = None,
                   importance: dict[str, float] | None = None,
                   thresholds: Thresholds | None = None,
                   y: np.ndarray | None = None) -> Baseline:
    """The baseline of a model trained on ``X`` (the clean frame of :meth:`InputSchema.coerce`).

    ``schema`` is the bundle's ``schema.json`` dict; ``oof`` the winner's out-of-fold
    predictions (values, or probabilities over ``classes``) and ``y`` their labels (class
    codes; for the calibration of the performance estimate); ``importance`` its global
    importance by column.
    """
    roles = {c["name"]: c["role"] for c in schema["columns"]}
    features = [feature_statistics(name, X[name], role) for name, role in roles.items()]
    statistics = {"version": VERSION, "dataset": {"item_count": int(len(X))}, "features": features}
    constraints = {"version": VERSION,
                   "features": [feature_constraints(f) for f in features],
                   "monitoring_config": (thresholds or Thresholds()).monitoring_config()}
    predictions = None
    if oof is not None and task is not None:
        predictions = prediction_statistics(oof, task, classes, y)
    doc = None if importance is None else {"version": VERSION, "importance": dict(importance)}
    return Baseline(statistics, constraints, predictions, doc)


def prediction_statistics(matrix: np.ndarray, task: str, classes: list | None,
                          y: np.ndarray | None = None) -> dict:
    """``predictions.json``: the predictions as one feature, ``prediction`` (binned as a
    continuous value whatever its distinct values: a refitted model's outputs are not its
    out-of-fold ones), and a classifier's calibration when its labels ``y`` are given."""
    values, role = prediction_values(matrix, task, classes)
    doc = {"version": VERSION, "task": task, "classes": classes,
           "dataset": {"item_count": int(len(values))},
           "features": [feature_statistics("prediction", values, role, discrete=False)]}
    if y is not None and task in ("binary", "multiclass"):
        doc["calibration"] = fit_calibration(matrix, y)
    return doc


def prediction_values(matrix: np.ndarray, task: str, classes: list | None) -> tuple[pd.Series, str]:
    """What prediction drift compares, and its role: the positive class's probability
    (binary), the value (regression) or the predicted label (multiclass)."""
    matrix = np.asarray(matrix, dtype=float)
    if task == "regression":
        return pd.Series(matrix.reshape(-1)), "numeric"
    if task == "binary":
        return pd.Series(matrix[:, 1] if matrix.ndim == 2 else matrix), "numeric"
    labels = np.array([str(c) for c in classes], dtype=object)
    return pd.Series(labels[matrix.argmax(axis=1)]), "categorical"


def level_values(values: pd.Series, role: str) -> pd.Series:
    """A string-like column's values as level names (booleans as "false"/"true")."""
    if role == "boolean":
        numbers = pd.to_numeric(values, errors="coerce")
        return pd.Series(np.where(numbers == 1, "true", "false"), index=values.index,
                         dtype=object).where(numbers.notna())
    return values


def feature_statistics(name: str, values: pd.Series, role: str, discrete: bool = True) -> dict:
    """One feature of ``statistics.json`` (``discrete``: a numeric column of few distinct
    values also gets its value frequencies)."""
    present = values.notna()
    common = {"num_present": int(present.sum()), "num_missing": int((~present).sum())}
    if role not in STRING_ROLES:
        numbers = values[present].to_numpy(float)
        return {"name": name, "role": role, **_numerical(numbers, common, discrete)}
    counts = level_values(values, role)[present].astype(str).value_counts()
    buckets = [{"value": str(v), "count": int(c)} for v, c in counts.iloc[:MAX_BUCKETS].items()]
    stats = {"common": common, "distinct_count": float(len(counts))}
    if role in DRIFT_ROLES:
        stats["distribution"] = {"categorical": {"buckets": buckets}}
    return {"name": name, "role": role, "inferred_type": "String", "string_statistics": stats}


def _numerical(values: np.ndarray, common: dict, discrete: bool) -> dict:
    integral = bool(len(values)) and bool(np.all(np.mod(values, 1) == 0))
    stats = {"common": common}
    if len(values):
        edges = _edges(values)
        counts = bin_counts(values, edges)
        stats.update(mean=float(values.mean()), sum=float(values.sum()),
                     std_dev=float(values.std()), min=float(values.min()),
                     max=float(values.max()),
                     distribution={"kll": {"buckets": [
                         {"lower_bound": float(lo), "upper_bound": float(hi), "count": float(c)}
                         for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)]}})
        distinct, counts = np.unique(values, return_counts=True)
        if discrete and len(distinct) <= MAX_DISCRETE:
            order = np.argsort(-counts, kind="stable")
            stats["distribution"]["categorical"] = {"buckets": [
                {"value": number_text(distinct[i]), "count": int(counts[i])} for i in order]}
    return {"inferred_type": "Integral" if integral else "Fractional",
            "numerical_statistics": stats}


def number_text(value: float) -> str:
    """A number as the text a discrete column's level is named by (exact: 3.0 -> "3")."""
    return f"{float(value):.17g}"


def _edges(values: np.ndarray) -> np.ndarray:
    """Bin edges of a numeric column: its deciles, or, with at most ``N_BINS`` distinct
    values, the midpoints between them (tied deciles would put several values, all of a 0/1
    column, in one bin, where PSI cannot see their shares move)."""
    edges = np.unique(np.quantile(values, np.linspace(0, 1, N_BINS + 1)))
    if len(edges) <= N_BINS:
        distinct = np.unique(values)
        if 1 < len(distinct) <= N_BINS:
            edges = np.concatenate([distinct[:1], (distinct[:-1] + distinct[1:]) / 2,
                                    distinct[-1:]])
    return np.repeat(edges, 2) if len(edges) == 1 else edges


def feature_constraints(feature: dict) -> dict:
    """One feature of ``constraints.json``, from its statistics."""
    kind = "numerical_statistics" if "numerical_statistics" in feature else "string_statistics"
    stats = feature[kind]
    n = stats["common"]["num_present"] + stats["common"]["num_missing"]
    out = {"name": feature["name"], "inferred_type": feature["inferred_type"],
           "completeness": stats["common"]["num_present"] / n if n else 1.0}
    if kind == "numerical_statistics":
        out["num_constraints"] = {"is_non_negative": bool(stats.get("min", 0.0) >= 0)}
    elif feature["role"] in DRIFT_ROLES and stats["distinct_count"] <= MAX_DOMAIN:
        buckets = stats["distribution"]["categorical"]["buckets"]
        out["string_constraints"] = {"domains": [b["value"] for b in buckets]}
    out["monitoringConfigOverrides"] = {}
    return out


def baseline_bins(feature: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """A numeric feature's bin edges and baseline counts (None without a distribution)."""
    buckets = feature.get("numerical_statistics", {}).get("distribution", {}) \
        .get("kll", {}).get("buckets")
    if not buckets:
        return None
    edges = np.array([buckets[0]["lower_bound"]] + [b["upper_bound"] for b in buckets])
    return edges, np.array([b["count"] for b in buckets], dtype=float)


def is_discrete(feature: dict) -> bool:
    """Whether a numeric feature has value frequencies (few distinct values in training)."""
    return "categorical" in feature.get("numerical_statistics", {}).get("distribution", {})


def baseline_levels(feature: dict, min_share: float) -> tuple[list[str], np.ndarray] | None:
    """A categorical (or discrete numeric) feature's levels with at least ``min_share`` of
    the rows, and the baseline counts of those levels plus one count for all others."""
    stats = feature.get("string_statistics") or feature.get("numerical_statistics", {})
    buckets = stats.get("distribution", {}).get("categorical", {}).get("buckets")
    if not buckets:
        return None
    present = stats["common"]["num_present"]
    kept = [b for b in buckets if b["count"] >= min_share * present]
    counts = [b["count"] for b in kept]
    return [b["value"] for b in kept], np.array(counts + [present - sum(counts)], dtype=float)
