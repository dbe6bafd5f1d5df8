"""Every metric by name: direction, task fit, and that probability metrics read probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from automl.exceptions import ConfigError
from automl.metrics import DEFAULT_METRIC, METRICS, get_metric

DESIGN_NAMES = ["auc", "logloss", "accuracy", "balanced_accuracy", "f1", "f1_macro", "precision",
                "recall", "rmse", "mse", "mae", "r2"]


def test_every_design_metric_exists():
    assert sorted(METRICS) == sorted(DESIGN_NAMES)
    assert DEFAULT_METRIC == {"binary": "auc", "multiclass": "logloss", "regression": "rmse"}


@pytest.mark.parametrize("name", DESIGN_NAMES)
def test_perfect_predictions_beat_bad_ones(name):
    metric = METRICS[name]
    task = metric.tasks[0]
    if task == "regression":
        y = np.array([1.0, 2.0, 3.0, 4.0])
        good, bad = y.copy(), y[::-1].copy()
    else:
        y = np.array([0, 1, 1, 0])
        good = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
        bad = good[:, ::-1]
    assert metric.is_better(metric.score(y, good), metric.score(y, bad))
    assert metric.loss(metric.score(y, good)) < metric.loss(metric.score(y, bad))


def test_auc_reads_probabilities_not_labels():
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.6, 0.4], [0.55, 0.45], [0.52, 0.48], [0.4, 0.6]])
    assert METRICS["auc"].score(y, p) == 1.0
    assert METRICS["accuracy"].score(y, p) == 0.75


def test_multiclass_logloss_and_auc():
    y = np.array([0, 1, 2, 2])
    p = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.2, 0.2, 0.6]])
    assert METRICS["logloss"].score(y, p) == pytest.approx(-np.mean(np.log([0.8, 0.8, 0.8, 0.6])))
    assert METRICS["auc"].score(y, p) == 1.0


@pytest.mark.parametrize("name, task, message", [
    ("nope", "binary", "unknown metric"),
    ("rmse", "binary", "does not fit a binary task"),
    ("auc", "regression", "does not fit a regression task"),
    ("f1", "multiclass", "use one of: auc, logloss"),
])
def test_bad_metric_names(name, task, message):
    with pytest.raises(ConfigError, match=message):
        get_metric(name, task)
