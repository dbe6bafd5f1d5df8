"""A monitoring run's checks of one window against the baseline.

Data quality (Model Monitor's check types): ``missing_column_check``, ``extra_column_check``,
``data_type_check`` (more than ``datatype_check_threshold`` of a column's values cannot be read
as its type), ``completeness_check``, ``categorical_values_check`` (unseen levels beyond
``domain_content_threshold``) and ours, ``data_range_check`` (numbers outside the training
range). Drift: ``baseline_drift_check`` per column (PSI on the baseline's bins for numbers,
Jensen-Shannon distance for categories and for discrete numbers, whose values never seen in
training are a level of their own, "(unseen)", absent from the baseline), ``prediction_drift_check`` for the predictions and
``feature_attribution_drift_check`` (nDCG of the importance ranking). Thresholds:
:class:`automl.monitoring.settings.Thresholds`.

:func:`check_window` returns the violations (``constraint_violations.json``'s layout) and a
report: per-column scores and a dataset-level verdict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2

from automl.data.schema import ColumnSchema, InputSchema, _blank
from automl.monitoring.baseline import (
    DRIFT_ROLES,
    Baseline,
    baseline_bins,
    baseline_levels,
    is_discrete,
    level_values,
    number_text,
    prediction_values,
)
from automl.monitoring.drift import bin_counts, js_distance, level_counts, ndcg, psi
from automl.monitoring.settings import Thresholds


@dataclass
class CheckResult:
    """Violations in Model Monitor's layout and the run's report."""

    violations: list[dict]
    report: dict

    def violations_doc(self) -> dict:
        """``constraint_violations.json``."""
        return {"violations": self.violations}


def violation(feature: str, check: str, description: str) -> dict:
    return {"feature_name": feature, "constraint_check_type": check, "description": description}


def check_window(frame: pd.DataFrame, baseline: Baseline, schema: dict,
                 predictions: np.ndarray | None = None,
                 importance: dict[str, float] | None = None,
                 thresholds: Thresholds | None = None, input_columns: list[str] | None = None,
                 ) -> CheckResult:
    """Check the raw rows ``frame`` (as the endpoint received them) against ``baseline``.

    ``predictions`` are the model's outputs on those rows (probabilities or values);
    ``importance`` the window's global importance; ``input_columns`` every column the
    training data had (not reported as extra).
    """
    limits = thresholds or Thresholds.from_constraints(baseline.constraints)
    full = InputSchema.from_dict(schema)
    violations = _column_presence(frame, full, schema, input_columns)
    columns = {}
    for col in full.columns:
        if col.name in frame.columns and baseline.feature(col.name) is not None:
            summary = summarise(frame[col.name], col.role, _coercer(col, full.target))
            columns[col.name], found = _check_column(col.name, summary, baseline, limits)
            violations += found
    report = {"dataset": {"item_count": int(len(frame))}, "columns": columns,
              "thresholds": asdict(limits)}
    if predictions is not None and baseline.predictions is not None:
        report["prediction"], found = _check_predictions(predictions, baseline, limits)
        violations += found
    if importance is not None and baseline.importance is not None:
        report["attribution"], found = _check_attribution(importance, baseline, limits)
        violations += found
    report["dataset"].update(_verdict(columns, violations, limits))
    return CheckResult(violations, report)


def _column_presence(frame, full: InputSchema, schema: dict, inputs) -> list[dict]:
    known = set(full.names) | set(inputs or ()) | {full.target} | set(schema.get("dropped", {}))
    found = [violation(n, "missing_column_check",
                       f"column '{n}' is missing from the data; the model reads it")
             for n in full.names if n not in frame.columns]
    found += [violation(str(n), "extra_column_check",
                        f"column '{n}' was not in the training data")
              for n in frame.columns if n not in known]
    return found


@dataclass
class ColumnSummary:
    """One window column read once: its present numbers (numeric) or its counts by level
    (other roles), how many values were missing, and how many given values could not be
    read as the column's type."""

    role: str
    rows: int
    missing: int
    given: int
    mismatched: int
    numbers: np.ndarray | None = None
    levels: pd.Series | None = None


def _coercer(col: ColumnSchema, target: str):
    schema = InputSchema((col,), target, {})
    return lambda values: schema.coerce(values.to_frame(col.name), strict=False)[col.name]


def summarise(raw: pd.Series, role: str, coerce=None) -> ColumnSummary:
    """A :class:`ColumnSummary` of raw values, read with ``coerce`` (the schema's rules for
    the column; None: the values are clean already). Levels are coerced once per distinct
    value, not per row."""
    coerce = coerce or (lambda values: values)
    if role == "numeric":
        numbers = coerce(raw).to_numpy(dtype=float)
        numbers = numbers[~np.isnan(numbers)]
        given = int((~_blank(raw)).sum()) if raw.dtype == object else len(numbers)
        return ColumnSummary(role, len(raw), len(raw) - len(numbers), given,
                             given - len(numbers), numbers=numbers)
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    distinct = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    clean = level_values(coerce(distinct), role)
    readable, given = clean.notna().to_numpy(), (~_blank(distinct)).to_numpy()
    levels = pd.Series(counts[readable], index=clean[readable].astype(str).to_numpy())
    return ColumnSummary(role, len(raw), len(raw) - int(counts[readable].sum()),
                         int(counts[given].sum()), int(counts[given & ~readable].sum()),
                         levels=levels.groupby(level=0).sum())


def _check_column(name: str, column: ColumnSummary, baseline: Baseline,
                  limits: Thresholds) -> tuple[dict, list[dict]]:
    feature, constraint = baseline.feature(name), baseline.constraint(name)
    completeness = 1 - column.missing / column.rows if column.rows else None
    scores = {"role": column.role, "completeness": completeness}
    found = _type_check(name, column, limits, scores)
    found += _completeness_check(name, constraint, scores, limits)
    if column.role == "numeric":
        found += _range_check(name, column.numbers, feature, limits, scores)
    elif column.role in DRIFT_ROLES:
        found += _domain_check(name, column.levels, constraint, limits, scores)
    if column.role in DRIFT_ROLES:
        found += _drift(name, column, feature, limits, scores, "baseline_drift_check")
    return scores, found


def _type_check(name, column: ColumnSummary, limits, scores) -> list[dict]:
    share = column.mismatched / column.given if column.given else 0.0
    scores["type_mismatch_share"] = share
    if column.role not in ("numeric", "boolean"):
        return []
    return _over(share, limits.datatype_check_threshold, name, "data_type_check",
                 f"{share:.1%} of the values of '{name}' are not {_kind(column.role)} "
                 f"(threshold {limits.datatype_check_threshold:.0%})")


def _over(share: float, limit: float, name: str, check: str, description: str) -> list[dict]:
    """One violation when ``share`` passes ``limit``."""
    return [] if share <= limit else [violation(name, check, description)]


def _kind(role: str) -> str:
    return "numbers" if role == "numeric" else "true/false"


def _completeness_check(name, constraint, scores, limits) -> list[dict]:
    expected = (constraint or {}).get("completeness")
    actual = scores["completeness"]
    if expected is None or actual is None or actual >= expected - limits.completeness_tolerance:
        return []
    return [violation(name, "completeness_check",
                      f"'{name}' is {actual:.1%} complete; the training data was "
                      f"{expected:.1%} complete")]


def _range_check(name, values: np.ndarray, feature, limits, scores) -> list[dict]:
    stats = feature["numerical_statistics"]
    if "min" not in stats or not len(values):
        scores["out_of_range_share"] = 0.0
        return []
    outside = int(np.count_nonzero((values < stats["min"]) | (values > stats["max"])))
    share = outside / len(values)
    scores["out_of_range_share"] = share
    return _over(share, limits.range_tolerance, name, "data_range_check",
                 f"{share:.1%} of '{name}' is outside the training range "
                 f"[{stats['min']:.6g}, {stats['max']:.6g}]")


def _domain_check(name, levels: pd.Series, constraint, limits, scores) -> list[dict]:
    domain = ((constraint or {}).get("string_constraints") or {}).get("domains")
    total = levels.sum()
    if domain is None or not total:
        return []
    unseen = levels[~levels.index.isin(domain)]
    share = float(unseen.sum() / total)
    scores["unseen_share"] = share
    examples = ", ".join(repr(v) for v in unseen.sort_values(ascending=False).index[:5])
    return _over(share, limits.domain_content_threshold, name, "categorical_values_check",
                 f"{share:.1%} of '{name}' are values not seen in training ({examples})")


def _drift(name, column: ColumnSummary, feature, limits, scores, check: str) -> list[dict]:
    """Drift score of one column (or the predictions) against the baseline; a violation when
    it passes the threshold, raised on small windows to the no-drift score's percentile."""
    if column.role == "numeric" and is_discrete(feature):
        expected, actual, labels = _discrete_counts(column.numbers, feature, limits)
        method, score_fn, base = "jensen_shannon", js_distance, limits.js_distance
        scores["unseen_share"] = actual[-1] / actual.sum() if actual.sum() else 0.0
    elif column.role == "numeric":
        bins = baseline_bins(feature)
        if bins is None:
            return []
        expected, actual = bins[1], bin_counts(column.numbers, bins[0])
        method, score_fn, base = "psi", psi, limits.psi
        labels = [f"{lo:.4g}..{hi:.4g}" for lo, hi in zip(bins[0][:-1], bins[0][1:], strict=True)]
    else:
        levels = baseline_levels(feature, limits.min_level_share)
        if levels is None:
            return []
        expected, actual = levels[1], level_counts(column.levels, levels[0])
        method, score_fn, base = "jensen_shannon", js_distance, limits.js_distance
        labels = [str(v) for v in levels[0]] + ["(other)"]
    n = actual.sum()
    if n < limits.min_rows:
        scores.update(drift_method=method, drift_score=None, drifted=False)
        return []
    score = score_fn(expected, actual)
    threshold = max(base, _chance_level(method, len(expected), n, expected.sum(),
                                        limits.confidence))
    drifted = bool(score > threshold)
    scores.update(drift_method=method, drift_score=score, drift_threshold=threshold,
                  drifted=drifted, distribution=_shares(labels, expected, actual))
    if not drifted:
        return []
    label = "PSI" if method == "psi" else "Jensen-Shannon distance"
    return [violation(name, check, f"{label} of '{name}' against the training data is "
                                   f"{score:.3f}, above {threshold:.3f}")]


def _discrete_counts(numbers: np.ndarray, feature: dict, limits: Thresholds):
    """Baseline and window counts of a discrete numeric column's common values, then of its
    other training values, then of values never seen in training (none in the baseline)."""
    levels, expected = baseline_levels(feature, limits.min_level_share)
    distinct, counts = np.unique(numbers, return_counts=True)
    window = pd.Series(counts, index=[number_text(v) for v in distinct], dtype=float)
    buckets = feature["numerical_statistics"]["distribution"]["categorical"]["buckets"]
    unseen = float(window[~window.index.isin([b["value"] for b in buckets])].sum())
    actual = level_counts(window, levels)
    actual[-1] -= unseen
    labels = list(levels) + ["(other)", "(unseen)"]
    return np.append(expected, 0.0), np.append(actual, unseen), labels


def _shares(labels: list[str], expected: np.ndarray, actual: np.ndarray) -> dict:
    """The baseline's and the window's shares by bin or level, for the histograms."""
    return {"bins": labels,
            "baseline": (expected / max(expected.sum(), 1.0)).round(6).tolist(),
            "window": (actual / max(actual.sum(), 1.0)).round(6).tolist()}


def _chance_level(method: str, bins: int, n_window: float, n_base: float,
                  confidence: float) -> float:
    """The ``confidence`` percentile of the score between two samples of one distribution:
    PSI x n and 8 ln2 JS^2 x n are about chi-square with bins - 1 degrees of freedom, n the
    two sample sizes' harmonic combination."""
    if bins < 2:
        return 0.0
    n = 1.0 / (1.0 / n_window + 1.0 / max(n_base, 1.0))
    q = chi2.ppf(confidence, bins - 1) / n
    return float(q if method == "psi" else np.sqrt(q / (8 * np.log(2))))


def _check_predictions(predictions, baseline: Baseline, limits) -> tuple[dict, list[dict]]:
    doc = baseline.predictions
    values, role = prediction_values(predictions, doc["task"], doc.get("classes"))
    scores = {"role": role}
    found = _drift("prediction", summarise(values, role), doc["features"][0], limits, scores,
                   "prediction_drift_check")
    return scores, found


def _check_attribution(importance, baseline: Baseline, limits) -> tuple[dict, list[dict]]:
    score = ndcg(baseline.importance["importance"], importance)
    drifted = bool(score < limits.ndcg)
    scores = {"ndcg": score, "threshold": limits.ndcg, "drifted": drifted}
    if not drifted:
        return scores, []
    return scores, [violation("attribution", "feature_attribution_drift_check",
                              f"nDCG of the window's feature importance against the "
                              f"training importance is {score:.3f}, below {limits.ndcg}")]


def _verdict(columns: dict, violations: list[dict], limits: Thresholds) -> dict:
    scored = [c for c in columns.values() if c.get("drift_score") is not None]
    drifted = sorted((n for n, c in columns.items() if c.get("drifted")),
                     key=lambda n: -columns[n]["drift_score"])
    share = len(drifted) / len(scored) if scored else 0.0
    if scored and share >= limits.dataset_drift_share:
        verdict = "dataset_drift"
    elif violations:
        verdict = "violations"
    else:
        verdict = "ok"
    return {"verdict": verdict, "violations": len(violations), "drifted_columns": drifted,
            "drifted_share": share, "columns_scored": len(scored)}
