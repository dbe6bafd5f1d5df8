"""Every objective by name: its direction, the tasks it fits and how it reads predictions.

Classification predictions are probability matrices of shape (n_rows, n_classes) over the
job's encoded classes 0..K-1; regression predictions are 1-d arrays. Metrics that need labels
take the argmax (binary: probability of class 1 >= 0.5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from automl.exceptions import ConfigError

TASKS = ("binary", "multiclass", "regression")
CLASSIFICATION = ("binary", "multiclass")


@dataclass(frozen=True)
class Metric:
    """A named objective. ``score(y_true, pred)`` returns the metric's natural value."""

    name: str
    greater_is_better: bool
    tasks: tuple[str, ...]
    needs_proba: bool
    fn: Callable[[np.ndarray, np.ndarray], float]

    def score(self, y_true: np.ndarray, pred: np.ndarray) -> float:
        return float(self.fn(np.asarray(y_true), np.asarray(pred)))

    def loss(self, value: float) -> float:
        """The value to minimise: the score itself or its negation."""
        return -value if self.greater_is_better else value

    def is_better(self, a: float, b: float) -> bool:
        """True when score ``a`` is strictly better than score ``b``."""
        return a > b if self.greater_is_better else a < b


def _labels(pred: np.ndarray) -> np.ndarray:
    return pred.argmax(axis=1) if pred.ndim == 2 else pred


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    if p.ndim == 2 and p.shape[1] == 2:
        return skm.roc_auc_score(y, p[:, 1])
    return skm.roc_auc_score(y, p, multi_class="ovr", labels=np.arange(p.shape[1]))


def _logloss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-15, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    return skm.log_loss(y, p, labels=np.arange(p.shape[1]))


def _label_metric(fn: Callable, **kw) -> Callable:
    return lambda y, p: fn(y, _labels(p), **kw)


_CLF, _BIN, _REG = CLASSIFICATION, ("binary",), ("regression",)

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("auc", True, _CLF, True, _auc),
        Metric("logloss", False, _CLF, True, _logloss),
        Metric("accuracy", True, _CLF, False, _label_metric(skm.accuracy_score)),
        Metric("balanced_accuracy", True, _CLF, False, _label_metric(skm.balanced_accuracy_score)),
        Metric("f1", True, _BIN, False, _label_metric(skm.f1_score, zero_division=0)),
        Metric("f1_macro", True, _CLF, False, _label_metric(skm.f1_score, average="macro", zero_division=0)),
        Metric("precision", True, _BIN, False, _label_metric(skm.precision_score, zero_division=0)),
        Metric("recall", True, _BIN, False, _label_metric(skm.recall_score, zero_division=0)),
        Metric("rmse", False, _REG, False, lambda y, p: skm.root_mean_squared_error(y, p)),
        Metric("mse", False, _REG, False, skm.mean_squared_error),
        Metric("mae", False, _REG, False, skm.mean_absolute_error),
        Metric("r2", True, _REG, False, skm.r2_score),
    )
}

DEFAULT_METRIC = {"binary": "auc", "multiclass": "logloss", "regression": "rmse"}

SECONDARY = {
    "binary": ("auc", "logloss", "accuracy", "f1"),
    "multiclass": ("logloss", "accuracy", "balanced_accuracy", "f1_macro"),
    "regression": ("rmse", "mae", "r2"),
}


def get_metric(name: str | None, task: str) -> Metric:
    """The metric called ``name`` (or the task's default), checked against the task."""
    name = (name or DEFAULT_METRIC[task]).lower()
    if name not in METRICS:
        raise ConfigError(
            f"unknown metric '{name}'; choose one of: {', '.join(METRICS)}",
            {"metric": name, "allowed": list(METRICS)},
        )
    metric = METRICS[name]
    if task not in metric.tasks:
        fitting = [m.name for m in METRICS.values() if task in m.tasks]
        raise ConfigError(
            f"metric '{name}' does not fit a {task} task; use one of: {', '.join(fitting)}",
            {"metric": name, "task": task, "allowed": fitting},
        )
    return metric


def secondary_scores(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The task's usual metrics, for the leaderboard; a metric that cannot be computed is skipped."""
    out = {}
    for name in SECONDARY[task]:
        try:
            out[name] = METRICS[name].score(y, pred)
        except ValueError:
            continue
    return out
