"""Calibration of a classifier's probabilities for the performance estimate (CBPE).

CBPE reads a model's expected accuracy and AUC from its probabilities, which is right only
when they are calibrated. At baseline time :func:`fit_calibration` fits candidate maps on the
winner's out-of-fold probabilities and their labels and keeps the one with the lowest
cross-validated Brier score (the identity included, so a calibrated model is left alone):

- binary: ``isotonic`` (a monotone step map of the positive class's probability) or
  ``platt`` (a logistic map of its log-odds);
- multiclass: ``temperature`` (one scale of the log-probabilities) or ``isotonic`` (each
  class against the rest, then renormalised).

The calibrator is plain data (JSON: the method and its numbers) kept in ``predictions.json``;
:func:`calibrate` applies it. It is used for the estimate only, never for served predictions.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

FOLDS = 5
EPS = 1e-6
MIN_ROWS = 50


def probability_matrix(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities as an ``(n, K)`` matrix whose rows sum to 1 (a 1-D binary vector is the
    positive class's)."""
    p = np.asarray(probabilities, dtype=float)
    if p.ndim == 1:
        p = np.column_stack([1 - p, p])
    p = np.clip(p, 0.0, 1.0)
    total = p.sum(axis=1, keepdims=True)
    return np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[1]), where=total > 0)


def fit_calibration(probabilities: np.ndarray, y: np.ndarray) -> dict:
    """The calibrator of out-of-fold ``probabilities`` with labels ``y`` (class codes):
    ``{"method", "params", "brier"}``, ``brier`` giving each candidate's cross-validated
    score. ``identity`` when there are too few rows to choose."""
    p, y = probability_matrix(probabilities), np.asarray(y, dtype=int)
    if len(p) < MIN_ROWS or len(np.unique(y)) < 2:
        return {"method": "identity", "params": {}, "brier": {}}
    candidates = ("identity", "isotonic", "platt") if p.shape[1] == 2 else \
        ("identity", "temperature", "isotonic")
    scores = {m: _cross_validated_brier(m, p, y) for m in candidates}
    best = min(candidates, key=lambda m: scores[m])
    return {"method": best, "params": FITTERS[best](p, y),
            "brier": {m: round(s, 6) for m, s in scores.items()}}


def calibrate(probabilities: np.ndarray, calibration: dict | None) -> np.ndarray:
    """``probabilities`` through a calibrator of :func:`fit_calibration` (None: unchanged)."""
    p = probability_matrix(probabilities)
    if not calibration or calibration.get("method", "identity") == "identity":
        return p
    return APPLIERS[calibration["method"]](p, calibration["params"])


def _cross_validated_brier(method: str, p: np.ndarray, y: np.ndarray) -> float:
    fold = np.random.default_rng(0).permutation(len(p)) % FOLDS
    onehot = np.eye(p.shape[1])[y]
    errors = np.empty(len(p))
    for k in range(FOLDS):
        fit, held = fold != k, fold == k
        params = FITTERS[method](p[fit], y[fit])
        q = APPLIERS[method](p[held], params)
        errors[held] = ((q - onehot[held]) ** 2).sum(axis=1)
    return float(errors.mean())


def _fit_isotonic(p: np.ndarray, y: np.ndarray) -> dict:
    columns = [1] if p.shape[1] == 2 else range(p.shape[1])
    maps = []
    for k in columns:
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(p[:, k], (y == k).astype(float))
        maps.append({"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()})
    return {"maps": maps}


def _apply_isotonic(p: np.ndarray, params: dict) -> np.ndarray:
    maps = params["maps"]
    if p.shape[1] == 2:
        q = np.interp(p[:, 1], maps[0]["x"], maps[0]["y"])
        return np.column_stack([1 - q, q])
    q = np.column_stack([np.interp(p[:, k], m["x"], m["y"]) for k, m in enumerate(maps)])
    return probability_matrix(q + EPS)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _fit_platt(p: np.ndarray, y: np.ndarray) -> dict:
    model = LogisticRegression(C=1e6).fit(_logit(p[:, 1]).reshape(-1, 1), y)
    return {"slope": float(model.coef_[0, 0]), "intercept": float(model.intercept_[0])}


def _apply_platt(p: np.ndarray, params: dict) -> np.ndarray:
    q = 1 / (1 + np.exp(-(params["slope"] * _logit(p[:, 1]) + params["intercept"])))
    return np.column_stack([1 - q, q])


def _tempered(p: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(np.clip(p, EPS, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def _fit_temperature(p: np.ndarray, y: np.ndarray) -> dict:
    def nll(log_t: float) -> float:
        q = _tempered(p, float(np.exp(log_t)))
        return float(-np.log(np.clip(q[np.arange(len(y)), y], EPS, 1.0)).mean())

    best = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded")
    return {"temperature": float(np.exp(best.x))}


def _apply_temperature(p: np.ndarray, params: dict) -> np.ndarray:
    return _tempered(p, params["temperature"])


FITTERS = {"identity": lambda p, y: {}, "isotonic": _fit_isotonic, "platt": _fit_platt,
           "temperature": _fit_temperature}
APPLIERS = {"identity": lambda p, params: p, "isotonic": _apply_isotonic,
            "platt": _apply_platt, "temperature": _apply_temperature}
