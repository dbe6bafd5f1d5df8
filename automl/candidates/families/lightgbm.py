"""LightGBM gradient boosting with native categorical splits."""

from __future__ import annotations

import ctypes
import threading
import weakref

import lightgbm as lgb
import numpy as np

from automl.candidates.base import DataShape, Family, float_param, int_param
from automl.metrics import TASKS

try:  # LightGBM's own handle on its C library: the single-row fast path calls it directly
    from lightgbm.basic import _LIB
except ImportError:  # pragma: no cover - then every prediction takes Booster.predict
    _LIB = None
_PREDICT_NORMAL, _DTYPE_FLOAT64 = 0, 1  # C_API_PREDICT_NORMAL, C_API_DTYPE_FLOAT64 (c_api.h)


def space(shape: DataShape) -> dict:
    return {
        "n_estimators": int_param(50, _max_trees(shape.n_rows), log=True),
        "learning_rate": float_param(0.01, 0.3, log=True),
        "num_leaves": int_param(4, min(512, max(8, shape.n_rows // 10)), log=True),
        "min_child_samples": int_param(2, min(200, max(3, shape.n_rows // 20)), log=True),
        "colsample_bytree": float_param(0.3, 1.0),
        "subsample": float_param(0.5, 1.0),
        "reg_lambda": float_param(1e-3, 30.0, log=True),
        "reg_alpha": float_param(1e-3, 10.0, log=True),
        "min_split_gain": float_param(0.0, 0.5),
        # finer histograms pay off on smooth numeric features (diamonds: RMSE -0.5 to -0.8 %)
        "max_bin": int_param(31, 1023, log=True),
    }


def _max_trees(n_rows: int) -> int:
    """More rows make each tree dearer: a trial of 3000 trees on 30,000 rows takes a whole
    slice of a minute-long budget on one thread, and the tuner's first random draws would."""
    return 3000 if n_rows < 10_000 else 1500 if n_rows < 100_000 else 1000


def defaults(shape: DataShape) -> list[dict]:
    base = {"colsample_bytree": 1.0, "subsample": 1.0, "reg_lambda": 1e-3, "reg_alpha": 1e-3,
            "min_split_gain": 0.0, "max_bin": 255}
    small = shape.n_rows < 5000
    return [
        {**base, "n_estimators": 100, "learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20},
        {**base, "n_estimators": 400 if small else 600, "learning_rate": 0.03,
         "num_leaves": 15 if small else 63, "min_child_samples": 10 if small else 20,
         "colsample_bytree": 0.7, "subsample": 0.8, "reg_lambda": 1.0, "max_bin": 1023},
        {**base, "n_estimators": 300, "learning_rate": 0.05, "num_leaves": 8,
         "min_child_samples": 5 if small else 30, "colsample_bytree": 0.5, "subsample": 0.7,
         "reg_lambda": 5.0},
    ]


def build(task: str, params: dict, seed: int):
    p = dict(params)
    if p.get("subsample", 1.0) < 1.0:
        p["subsample_freq"] = 1
    common = {"random_state": seed, "n_jobs": 1, "verbose": -1, "deterministic": True,
              "force_col_wise": True, **p}
    return lgb.LGBMRegressor(**common) if task == "regression" else lgb.LGBMClassifier(**common)


def row_predictor(model, task: str, n_classes: int):
    """Predict encoded rows with the booster directly, skipping the sklearn wrapper.

    Category columns arrive as the ordinal codes the recipe's encoder gives, which are the
    booster's category ids (the training codes are 0..k-1, all present).
    """
    if not isinstance(model, lgb.LGBMModel):
        return None
    return BoosterPredictor(model.booster_, task, n_classes)


class BoosterPredictor:
    """``f(rows) -> matrix`` for a fitted booster: values, or probabilities over the classes.

    One row goes through LightGBM's single-row fast C API (its prediction config is built once
    per thread instead of on every call, which is most of the cost of ``Booster.predict`` for
    one row); a few rows use one thread, and large batches every core.
    """

    THREADED_FROM_ROWS = 2000

    def __init__(self, booster: lgb.Booster, task: str, n_classes: int):
        self.booster, self.task = booster, task
        self.width = n_classes if task == "multiclass" else 1
        self.n_features = booster.num_feature()
        self._local = threading.local()
        self._configs: list[ctypes.c_void_p] = []
        weakref.finalize(self, _free_configs, self._configs)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 1:
            raw = self._one(rows[0])[None, :]
        else:
            threads = 0 if len(rows) >= self.THREADED_FROM_ROWS else 1
            raw = self.booster.predict(rows, num_threads=threads).reshape(len(rows), -1)
        if self.task == "regression":
            return raw[:, 0]
        if self.width == 1:
            return np.concatenate([1.0 - raw, raw], axis=1)
        return raw

    def _one(self, row: np.ndarray) -> np.ndarray:
        config = self._fast_config()
        if config is not None:
            row = np.ascontiguousarray(row, dtype=np.float64)
            out = np.empty(self.width, dtype=np.float64)
            out_len = ctypes.c_int64(0)
            status = _LIB.LGBM_BoosterPredictForMatSingleRowFast(
                config, ctypes.c_void_p(row.ctypes.data), ctypes.byref(out_len),
                ctypes.c_void_p(out.ctypes.data))
            if status == 0 and out_len.value == self.width:
                return out
        return self.booster.predict(row[None, :], num_threads=1).reshape(-1)

    def _fast_config(self) -> ctypes.c_void_p | None:
        config = getattr(self._local, "config", False)
        if config is False:
            config = self._local.config = self._init_config()
        return config

    def _init_config(self) -> ctypes.c_void_p | None:
        if _LIB is None:
            return None
        config = ctypes.c_void_p()
        status = _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
            self.booster._handle, ctypes.c_int(_PREDICT_NORMAL), ctypes.c_int(0),
            ctypes.c_int(max(0, self.booster.best_iteration)), ctypes.c_int(_DTYPE_FLOAT64),
            ctypes.c_int32(self.n_features), ctypes.c_char_p(b"num_threads=1"),
            ctypes.byref(config))
        if status != 0:
            return None
        self._configs.append(config)
        return config


def _free_configs(configs: list) -> None:
    for config in configs:
        _LIB.LGBM_FastConfigFree(config)
    configs.clear()


# Cost 0.4: its default is both cheap and strong, so it runs first and the first result comes soonest.
def raw_score(model, Z):
    """The booster's raw margin (log-odds), the scale TreeExplainer explains it in."""
    return model.predict(Z, raw_score=True)


FAMILY = Family("lightgbm", "tree_native", TASKS, 0.4, space, defaults, build,
                row_predictor=row_predictor, estimators=(lgb.LGBMClassifier, lgb.LGBMRegressor),
                explainer="tree", decision_function=raw_score, preload=("lightgbm",),
                libraries=("lightgbm",))
