"""The calibration of the performance estimate (CBPE) on a baseline's out-of-fold predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from automl.monitoring.baseline import Baseline, build_baseline
from automl.monitoring.calibration import calibrate, fit_calibration
from automl.monitoring.quality import estimate_quality
from automl.monitoring.run import calibrated_estimate

SCHEMA = {"target": "y", "dropped": {}, "columns": [
    {"name": "x", "role": "numeric", "numeric_codes": False}]}


def _underconfident(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A model's probabilities at temperature 2.5 (underconfident: its right answers are far
    surer than it says) and labels drawn from the true probabilities."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.5, (n, k))
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (true.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    soft = np.exp(logits / 2.5)
    return soft / soft.sum(axis=1, keepdims=True), y


@pytest.mark.parametrize("k", [2, 5])
def test_the_calibrated_estimate_is_closer_on_an_underconfident_model(k, tmp_path):
    task = "binary" if k == 2 else "multiclass"
    oof, y = _underconfident(5000, k, seed=k)
    frame = pd.DataFrame({"x": np.arange(5000.0)})
    baseline = build_baseline(frame, SCHEMA, task, list(range(k)), oof, y=y).save(tmp_path)
    baseline = Baseline.load(tmp_path)  # the calibrator is plain data in predictions.json
    assert baseline.predictions["calibration"]["method"] != "identity"

    window, truth = _underconfident(3000, k, seed=10 + k)
    raw = estimate_quality(window, task, "accuracy")["metrics"]
    calibrated = calibrated_estimate(window, baseline, task, "accuracy")
    real_accuracy = accuracy_score(truth, window.argmax(axis=1))
    raw_error = abs(raw["accuracy"] - real_accuracy)
    assert raw_error > 0.05  # the model says it is right far less often than it is
    assert abs(calibrated["value"] - real_accuracy) < raw_error / 3
    assert calibrated["estimated"] is True and calibrated["calibration"] != "identity"
    real_auc = roc_auc_score(truth, window[:, 1]) if k == 2 else \
        roc_auc_score(truth, window, multi_class="ovr")
    assert abs(calibrated["metrics"]["auc"] - real_auc) < abs(raw["auc"] - real_auc)


def test_calibrated_probabilities_are_left_alone():
    rng = np.random.default_rng(0)
    p = rng.random(4000)
    y = (rng.random(4000) < p).astype(int)
    calibration = fit_calibration(p, y)
    assert set(calibration["brier"]) == {"identity", "isotonic", "platt"}
    shifted = calibrate(p, calibration)[:, 1]
    assert np.abs(shifted - p).mean() < 0.03


def test_too_few_rows_or_one_class_keep_the_probabilities():
    p = np.full((20, 3), 1 / 3)
    assert fit_calibration(p, np.zeros(20, dtype=int))["method"] == "identity"
    assert np.allclose(calibrate(p, None), p)
