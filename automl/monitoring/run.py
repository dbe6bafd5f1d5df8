"""One monitoring run: a window of captured data checked against the training baseline.

:func:`run_monitoring` is what ``automl monitor`` calls and what the service's scheduled runs
will call: it reads the capture, predicts (through the callable it is given) or takes the
predictions the endpoint returned, runs :func:`automl.monitoring.checks.check_window`, merges
ground truth when given, and estimates quality without it (from the probabilities calibrated
by the baseline's calibrator, when it has one). :func:`write_run` writes
``constraint_violations.json`` (Model Monitor's layout) and ``report.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from automl.exceptions import InvalidRequest
from automl.jsonable import dumps
from automl.metrics import get_metric
from automl.monitoring.baseline import Baseline
from automl.monitoring.calibration import calibrate
from automl.monitoring.checks import CheckResult, check_window, violation
from automl.monitoring.quality import (
    estimate_quality,
    match_ground_truth,
    measure_quality,
)
from automl.monitoring.reader import read_window
from automl.monitoring.settings import Thresholds

VIOLATIONS_FILE, REPORT_FILE = "constraint_violations.json", "report.json"
Predict = Callable[[pd.DataFrame], np.ndarray | None]


@dataclass
class MonitoringRun:
    """A run's outcome: the checks (violations and report) and what was read."""

    checks: CheckResult

    @property
    def violations(self) -> list[dict]:
        return self.checks.violations

    @property
    def report(self) -> dict:
        return self.checks.report


def run_monitoring(capture_dir: str | Path, baseline: Baseline, schema: dict, metadata: dict,
                   predict: Predict | None = None, ground_truth: pd.DataFrame | None = None,
                   importance: Callable[[pd.DataFrame], dict] | None = None,
                   thresholds: Thresholds | None = None, since: str | None = None,
                   until: str | None = None) -> MonitoringRun:
    """Check the capture under ``capture_dir`` (hours ``since``..``until``, ``YYYY/MM/DD/HH``).

    ``schema``/``metadata`` are the bundle's ``schema.json``/``metadata.json`` dicts;
    ``predict`` maps raw rows to the model's probabilities or values; ``ground_truth`` is
    :func:`automl.monitoring.quality.parse_ground_truth`'s frame; ``importance`` maps raw rows
    to a global importance by column. Raises :class:`InvalidRequest` when there is nothing
    to check or the ground truth does not match the capture.
    """
    names = [c["name"] for c in schema["columns"]]
    window = read_window(capture_dir, names, metadata.get("input_columns"), since, until)
    if not len(window.frame):
        raise InvalidRequest(f"no captured requests to check under {Path(capture_dir).name}/ "
                             f"({window.stats.malformed} malformed lines skipped)",
                             window.stats.to_dict())
    predictions = _predictions(window, predict)
    limits = thresholds or Thresholds.from_constraints(baseline.constraints)
    checks = check_window(window.frame, baseline, schema, predictions,
                           importance(window.frame) if importance else None, limits,
                           metadata.get("input_columns"))
    checks.report["capture"] = window.stats.to_dict()
    task, metric = metadata.get("task"), metadata.get("metric")
    if ground_truth is not None and predictions is not None:
        quality = labelled_quality(ground_truth, window.inference_ids, predictions, metadata)
        checks.report["quality"] = quality
        checks.violations.extend(_quality_violation(quality, metadata, limits))
    if predictions is not None and task in ("binary", "multiclass"):
        checks.report["estimated_quality"] = calibrated_estimate(predictions, baseline,
                                                                 task, metric)
    return MonitoringRun(checks)


def calibrated_estimate(probabilities: np.ndarray, baseline: Baseline, task: str,
                        metric: str) -> dict | None:
    """CBPE's estimate from ``probabilities`` passed through the baseline's calibrator (as
    given when the baseline has none); ``calibration`` names the map used."""
    calibration = (baseline.predictions or {}).get("calibration")
    estimate = estimate_quality(calibrate(probabilities, calibration), task, metric)
    if estimate is not None:
        estimate["calibration"] = (calibration or {}).get("method", "none")
    return estimate


def _predictions(window, predict: Predict | None) -> np.ndarray | None:
    if predict is not None:
        return predict(window.frame)
    return window.predictions


def labelled_quality(truth: pd.DataFrame, inference_ids: np.ndarray, predictions: np.ndarray,
                     metadata: dict) -> dict:
    """The job's metric and secondary metrics over the captured rows that have labels."""
    task = metadata["task"]
    rows, y = match_ground_truth(truth, inference_ids, task, metadata.get("classes"))
    quality = measure_quality(y, np.asarray(predictions)[rows], task, metadata.get("metric"))
    quality["cross_validated"] = metadata.get("score")
    return quality


def _quality_violation(quality: dict, metadata: dict, limits: Thresholds) -> list[dict]:
    """``model_quality_check`` when the metric is worse than the cross-validated score by
    more than ``quality_tolerance`` of it."""
    value, reference = quality.get("value"), metadata.get("score")
    if value is None or reference is None:
        return []
    metric = get_metric(quality["metric"], metadata["task"])
    margin = limits.quality_tolerance * max(abs(reference), 1e-12)
    bound = reference - margin if metric.greater_is_better else reference + margin
    if not metric.is_better(bound, value):
        return []
    return [violation(metric.name, "model_quality_check",
                      f"{metric.name} on {quality['rows']} labelled rows is {value:.4g}; the "
                      f"cross-validated score was {reference:.4g}")]


def write_run(run: MonitoringRun, output: str | Path) -> Path:
    """``constraint_violations.json`` and ``report.json`` in ``output`` (created)."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    _write_json(output / VIOLATIONS_FILE, run.checks.violations_doc())
    _write_json(output / REPORT_FILE, {**run.report, "violations": run.violations})
    return output


def _write_json(path: Path, doc: dict) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(dumps(doc, indent=2))
    partial.replace(path)


def summary(run: MonitoringRun) -> list[str]:
    """A few lines for a terminal: rows, verdict, worst columns, quality."""
    report, dataset = run.report, run.report["dataset"]
    capture = report.get("capture", {})
    lines = [f"{dataset['item_count']} rows from {capture.get('records', 0)} requests "
             f"({capture.get('malformed_lines', 0)} malformed lines skipped); verdict: "
             f"{dataset['verdict']}, {dataset['violations']} violations"]
    scored = [(n, c) for n, c in report["columns"].items() if c.get("drift_score") is not None]
    worst = sorted(scored, key=lambda item: -item[1]["drift_score"])[:5]
    if worst:
        lines.append("highest drift: " + ", ".join(
            f"{n} {c['drift_method']} {c['drift_score']:.3f}{' DRIFT' if c['drifted'] else ''}"
            for n, c in worst))
    for key, label in (("quality", "measured"), ("estimated_quality", "estimated")):
        quality = report.get(key)
        if quality and quality.get("value") is not None:
            lines.append(f"{label} {quality['metric']}: {quality['value']:.4f} "
                         f"over {quality['rows']} rows")
    lines += [f"  {v['constraint_check_type']}: {v['description']}" for v in run.violations[:20]]
    return lines
