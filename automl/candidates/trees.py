"""Compiled prediction for fitted tree ensembles: every tree of a model in flat arrays, walked
by one Numba kernel, so one row costs microseconds instead of a Python call per tree.

:func:`sklearn_forest` reads random forests and extra trees (``tree_`` arrays), and
:func:`hist_gradient_boosting` reads HistGradientBoosting's predictors. Both follow their
library's own walk exactly: scikit-learn trees compare the row cast to float32 with ``<=``
and send NaN where ``missing_go_to_left`` says; HistGradientBoosting compares float64 and sends
categories by its left bitset, known but right-going categories right, unknown or negative
codes the way of missing values. Trees are summed in the library's order.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

KIND_LEAF, KIND_NUMBER, KIND_CATEGORY = 0, 1, 2


@numba.njit(cache=True, nogil=True)
def _walk(X, f32, roots, tree_col, kind, feature, threshold, left, right, missing_left,
          bitset_idx, left_bitsets, known_bitsets, known_idx, values, out):  # pragma: no cover
    """Tree by tree, every row through it (one tree's nodes stay in cache), adding its leaf
    values to ``out``: each row's sum runs in tree order, as the libraries sum."""
    n_rows, width = X.shape[0], values.shape[1]
    for t in range(roots.shape[0]):
        column = tree_col[t]
        for i in range(n_rows):
            node = roots[t]
            while kind[node] != KIND_LEAF:
                x = X[i, feature[node]]
                if f32:
                    x = np.float64(np.float32(x))
                if np.isnan(x):
                    go_left = missing_left[node]
                elif kind[node] == KIND_NUMBER:
                    go_left = x <= threshold[node]
                elif x < 0:
                    go_left = missing_left[node]
                else:
                    code = np.int64(x)
                    if (left_bitsets[bitset_idx[node], code // 32] >> (code % 32)) & 1:
                        go_left = True
                    elif (known_bitsets[known_idx[feature[node]], code // 32] >> (code % 32)) & 1:
                        go_left = False
                    else:
                        go_left = missing_left[node]
                node = left[node] if go_left else right[node]
            if column < 0:
                for k in range(width):
                    out[i, k] += values[node, k]
            else:
                out[i, column] += values[node, 0]


class Forest:
    """Every tree of a model in flat arrays; ``add(X, out)`` adds each tree's leaf value to
    ``out`` (a tree with column -1 adds its whole value row, else its one value to its column)."""

    def __init__(self, trees: list[dict], width: int, f32: bool, left_bitsets=None,
                 known_bitsets=None, known_idx=None):
        offsets = np.cumsum([0] + [len(t["kind"]) for t in trees])
        self.roots = offsets[:-1].astype(np.int64)
        self.tree_col = np.array([t["column"] for t in trees], dtype=np.int64)
        joined = {key: np.concatenate([t[key] for t in trees]) for key in
                  ("kind", "feature", "threshold", "missing_left", "bitset_idx")}
        self.kind = joined["kind"].astype(np.uint8)
        self.feature = joined["feature"].astype(np.int64)
        self.threshold = joined["threshold"].astype(np.float64)
        self.missing_left = joined["missing_left"].astype(np.bool_)
        self.bitset_idx = joined["bitset_idx"].astype(np.int64)
        self.left = np.concatenate([np.where(t["left"] >= 0, t["left"] + o, -1)
                                    for t, o in zip(trees, offsets, strict=False)]).astype(np.int64)
        self.right = np.concatenate([np.where(t["right"] >= 0, t["right"] + o, -1)
                                     for t, o in zip(trees, offsets, strict=False)]).astype(np.int64)
        self.values = np.ascontiguousarray(np.concatenate([t["values"] for t in trees]),
                                           dtype=np.float64).reshape(len(self.kind), -1)
        self.width, self.f32 = width, f32
        empty = np.zeros((1, 8), dtype=np.uint32)
        self.left_bitsets = empty if left_bitsets is None else left_bitsets.astype(np.uint32)
        self.known_bitsets = empty if known_bitsets is None else known_bitsets.astype(np.uint32)
        self.known_idx = (np.zeros(1, dtype=np.int64) if known_idx is None
                          else np.asarray(known_idx, dtype=np.int64))

    def add(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out`` (n x width, float64) plus every tree's leaf values for the rows of ``X``.

        From ``PARALLEL_FROM_ROWS`` rows, the rows are split among the process's cores (the
        kernel releases the GIL; each row's sum is the same whichever thread walks it)."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        parts = _row_parts(len(X))
        if len(parts) == 1:
            return self._add(X, out)
        with ThreadPoolExecutor(len(parts)) as pool:
            list(pool.map(lambda part: self._add(X[part], out[part]), parts))
        return out

    def _add(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        _walk(X, self.f32, self.roots, self.tree_col, self.kind, self.feature, self.threshold,
              self.left, self.right, self.missing_left, self.bitset_idx, self.left_bitsets,
              self.known_bitsets, self.known_idx, self.values, out)
        return out


PARALLEL_FROM_ROWS = 20_000


def _row_parts(n_rows: int) -> list[slice]:
    """``n_rows`` in slices of at least ``PARALLEL_FROM_ROWS // 2`` rows, at most one per core;
    one slice below ``PARALLEL_FROM_ROWS`` rows."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = min(cores or 1, n_rows // (PARALLEL_FROM_ROWS // 2)) if n_rows >= PARALLEL_FROM_ROWS \
        else 1
    bounds = np.linspace(0, n_rows, max(parts, 1) + 1).astype(int)
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _sklearn_tree(tree, classification: bool) -> dict:
    t = tree.tree_
    leaf = t.children_left < 0
    values = t.value[:, 0, :]
    if classification:  # DecisionTreeClassifier.predict_proba normalises each leaf
        totals = values.sum(axis=1, keepdims=True)
        values = values / np.where(totals == 0.0, 1.0, totals)
    n = t.node_count
    return {"kind": np.where(leaf, KIND_LEAF, KIND_NUMBER), "feature": np.maximum(t.feature, 0),
            "threshold": t.threshold, "left": t.children_left, "right": t.children_right,
            "missing_left": np.asarray(t.missing_go_to_left, dtype=bool)[:n],
            "bitset_idx": np.zeros(n, dtype=np.int64), "values": values, "column": -1}


class SklearnForestPredictor:
    """``f(rows) -> matrix`` for a random forest or extra trees: the trees' mean."""

    def __init__(self, model, task: str):
        classification = task != "regression"
        trees = [_sklearn_tree(tree, classification) for tree in model.estimators_]
        width = len(model.classes_) if classification else 1
        self.forest, self.task, self.n_trees = Forest(trees, width, f32=True), task, len(trees)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        out = self.forest.add(rows, np.zeros((len(rows), self.forest.width)))
        out /= self.n_trees
        return out[:, 0] if self.task == "regression" else out


def sklearn_forest(model, task: str) -> SklearnForestPredictor | None:
    """The compiled predictor of a fitted single-output random forest or extra trees."""
    if getattr(model, "n_outputs_", 1) != 1 or not hasattr(model.estimators_[0].tree_,
                                                            "missing_go_to_left"):
        return None
    return SklearnForestPredictor(model, task)


def _hgb_tree(predictor, column: int) -> dict:
    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    kind = np.where(leaf, KIND_LEAF, np.where(nodes["is_categorical"].astype(bool), KIND_CATEGORY,
                                              KIND_NUMBER))
    return {"kind": kind, "feature": nodes["feature_idx"], "threshold": nodes["num_threshold"],
            "left": np.where(leaf, -1, nodes["left"].astype(np.int64)),
            "right": np.where(leaf, -1, nodes["right"].astype(np.int64)),
            "missing_left": nodes["missing_go_to_left"].astype(bool),
            "bitset_idx": nodes["bitset_idx"].astype(np.int64),
            "values": nodes["value"][:, None], "column": column}


class HistGradientBoostingPredictor:
    """``f(rows) -> matrix`` for a fitted HistGradientBoosting model on the columns it was fit
    on (categories as the values it saw): its own category remapping, trees, and link."""

    def __init__(self, model, task: str):
        self.model, self.task = model, task
        self.order, self.remaps = _hgb_inputs(model)
        trees, left_bitsets = [], []
        for iteration in model._predictors:
            for k, predictor in enumerate(iteration):
                tree = _hgb_tree(predictor, k)
                tree["bitset_idx"] = tree["bitset_idx"] + sum(len(b) for b in left_bitsets)
                left_bitsets.append(predictor.raw_left_cat_bitsets)
                trees.append(tree)
        known, f_idx = model._bin_mapper.make_known_categories_bitsets()
        self.forest = Forest(trees, model.n_trees_per_iteration_, f32=False,
                             left_bitsets=np.concatenate(left_bitsets) if left_bitsets else None,
                             known_bitsets=known, known_idx=f_idx)
        self.baseline = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(1, -1)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        X = self._inputs(np.asarray(rows, dtype=np.float64))
        raw = self.forest.add(X, np.repeat(self.baseline, len(X), axis=0))
        if self.task == "regression":
            return self.model._loss.link.inverse(raw.ravel())
        return self.model._loss.predict_proba(raw)

    def _inputs(self, rows: np.ndarray) -> np.ndarray:
        """The rows as the model's own preprocessor gives them: categories first, as ordinals."""
        if self.order is None:
            return rows
        X = rows[:, self.order]
        for j, categories in self.remaps:
            X[:, j] = _ordinals(X[:, j], categories)
        return X


def _hgb_inputs(model):
    """The model's input order (its categorical columns first) and, per categorical input, the
    sorted values its ``OrdinalEncoder`` numbers; ``(None, [])`` when it has no preprocessor."""
    preprocessor = getattr(model, "_preprocessor", None)
    if preprocessor is None:
        return None, []
    indices = preprocessor.output_indices_
    categorical = np.flatnonzero(model.is_categorical_)
    numerical = np.flatnonzero(~np.asarray(model.is_categorical_, dtype=bool))
    order = np.empty(len(categorical) + len(numerical), dtype=np.int64)
    order[indices["encoder"]] = categorical
    order[indices["numerical"]] = numerical
    encoder = preprocessor.named_transformers_["encoder"]
    remaps = []
    for j, categories in zip(range(indices["encoder"].start, indices["encoder"].stop),
                             encoder.categories_, strict=True):
        known = np.asarray([c for c in categories if c == c], dtype=np.float64)
        remaps.append((j, known))
    return order, remaps


def _ordinals(values: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """Each value's position in ``categories`` (sorted), NaN when it is not one of them."""
    positions = np.searchsorted(categories, values)
    found = positions < len(categories)
    found[found] = categories[positions[found]] == values[found]
    return np.where(found, positions, np.nan)


def hist_gradient_boosting(model, task: str) -> HistGradientBoostingPredictor | None:
    """The compiled predictor of a fitted HistGradientBoosting model, or None when its inputs
    are not all numbers and numeric categories (the pipeline predicts then)."""
    preprocessor = getattr(model, "_preprocessor", None)
    if preprocessor is not None:
        encoder = preprocessor.named_transformers_["encoder"]
        if any(np.asarray(c).dtype.kind not in "fiu" for c in encoder.categories_):
            return None
    return HistGradientBoostingPredictor(model, task)
