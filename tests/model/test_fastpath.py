"""The compiled paths give exactly what the fitted pipeline gives: every family on every kind
of column (numbers with missing values, categories with missing and unseen values, integer
codes, flags, dates, text, counts) for every task, one row at a time and as a frame."""

from __future__ import annotations

import os
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from automl.candidates.base import DataShape
from automl.candidates.generator import build_pipeline, generate_candidates
from automl.candidates.registry import FAMILIES
from automl.data.profile import profile_dataset
from automl.data.schema import InputSchema
from automl.model.bundle import ModelBundle
from automl.model.fastpath import EnsemblePredictor, compile_row_predictor
from automl.model.pipeline import predict_matrix
from automl.testing import tiny_frame

TASKS = ("binary", "multiclass", "regression")
TRAIN = 160
WORDS = ["red", "green", "blue", "fast", "slow", "big", "small", "cat", "dog", "house", "car", "tree"]
SMALL = {"n_estimators": 20, "max_iter": 20, "iterations": 20}  # small models: a cheap test
# every family, and the two that read a bag of counts on the linear_counts recipe
CASES = [(name, None) for name in FAMILIES] + [("linear", "counts"), ("mlp", "counts")]


def rows(task: str, counts: bool = False) -> pd.DataFrame:
    """Raw rows with every column role: numbers, categories, codes, flags, dates and text (or
    a bag of counts), with missing values, and a target of ``task``."""
    df = tiny_frame(task, TRAIN + 40, seed=2)
    rng = np.random.default_rng(3)
    n = len(df)
    when = pd.Series(pd.date_range("2019-03-01", periods=n, freq="37h").astype(str), dtype=object)
    df["when"] = when.where(rng.random(n) > 0.1, None)
    df["note"] = [" ".join(rng.choice(WORDS, rng.integers(3, 12))) for _ in range(n)]
    if counts:
        df = df[["y"]].assign(**{f"w{k}": rng.poisson(0.4, n) for k in range(24)})
    return df


def fitted(task: str, family: str, counts: bool = False, log_target: bool = False,
           encoded: tuple[str, ...] = ()):
    """A small pipeline of ``family`` fitted on the first rows, its schema and the held-out
    clean rows (five of them with a category never seen in fit, one with unseen words); with
    ``log_target``, on a non-negative regression target through the ``log1p`` transform; with
    ``encoded`` columns, on the family's target-encoding twin (``tree_target``)."""
    profile, kept = profile_dataset(rows(task, counts), "y", task=task)
    schema = InputSchema.from_profile(profile)
    X = schema.coerce(kept, strict=False)
    y = kept["y"].to_numpy(float) if task == "regression" else pd.factorize(kept["y"], sort=True)[0]
    n_classes = 0 if task == "regression" else int(y.max()) + 1
    shape = DataShape(len(X), X.shape[1], task, n_classes, skewed_target=log_target)
    if encoded:
        specs = generate_candidates(shape, families=[family, f"{family}_te"], encoded=encoded)
        spec = next(s for s in specs if s.recipe == "tree_target")
    else:
        spec = generate_candidates(shape, families=[family])[0]
    if counts:
        spec = replace(spec, recipe="linear_counts", recipe_options={"counts": list(X.columns)})
    params = {k: min(v, SMALL[k]) if k in SMALL else v for k, v in spec.defaults[0].items()}
    if log_target:
        y, params["target_transform"] = np.exp(y / y.std()), "log1p"
    with warnings.catch_warnings():  # a perceptron may not converge on a few rows, as in trials
        warnings.simplefilter("ignore")
        model = build_pipeline(spec, params, schema, 0).fit(X.iloc[:TRAIN], y[:TRAIN])
    test = X.iloc[TRAIN:].copy()
    if "color" in test:
        test.iloc[:5, test.columns.get_loc("color")] = "purple"
        test.iloc[5, test.columns.get_loc("note")] = "zebra unicorn"
    return model, schema, test, n_classes


def values_of(test: pd.DataFrame) -> list[list]:
    """Clean rows as serving's scalar coercers give them (missing values as NaN)."""
    return test.astype(object).where(test.notna(), np.nan).to_numpy().tolist()


def one_by_one(compiled, test: pd.DataFrame, expected: np.ndarray) -> np.ndarray:
    return np.concatenate([compiled(v) for v in values_of(test)]).reshape(expected.shape)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize(("family", "counts"), CASES)
def test_every_family_and_recipe_compiles_to_the_pipelines_numbers(task, family, counts):
    if task not in FAMILIES[family].tasks:
        pytest.skip(f"{family} does not do {task}")
    model, schema, test, n_classes = fitted(task, family, counts == "counts")
    compiled = compile_row_predictor(model, schema, task, n_classes)
    assert compiled is not None, f"{family} has no fast path"
    expected = predict_matrix(model, test, task, n_classes)
    np.testing.assert_allclose(one_by_one(compiled, test, expected), expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(compiled.frame(test), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("family", [n for n, f in FAMILIES.items() if "regression" in f.tasks])
def test_a_log_target_model_compiles_to_the_pipelines_numbers(family):
    model, schema, test, _ = fitted("regression", family, log_target=True)
    assert type(model[-1]).__name__ == "TransformedTargetRegressor"
    compiled = compile_row_predictor(model, schema, "regression", 0)
    assert compiled is not None, f"{family} with a log target has no fast path"
    expected = predict_matrix(model, test, "regression", 0)
    np.testing.assert_allclose(one_by_one(compiled, test, expected), expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(compiled.frame(test), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("task", TASKS)
def test_target_encoded_categories_compile_to_the_pipelines_numbers(task):
    model, schema, test, n_classes = fitted(task, "lightgbm", encoded=("color", "code"))
    assert "target" in model[0].named_transformers_
    compiled = compile_row_predictor(model, schema, task, n_classes)
    assert compiled is not None, "the tree_target recipe has no fast path"
    expected = predict_matrix(model, test, task, n_classes)
    np.testing.assert_allclose(one_by_one(compiled, test, expected), expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(compiled.frame(test), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("task", TASKS)
def test_ensemble_encodes_shared_preprocessing_once(task, monkeypatch):
    """A voting ensemble of members on two recipes (two on the same one, with a text column)
    gives what the ensemble gives; the members on one recipe share one encoding, and a frame's
    text is vectorized once for both recipes (the TF-IDF before the trees' SVD is the same)."""
    from automl.finalize import assemble_ensemble
    from automl.search.evaluate import TrainingData

    members = {f: fitted(task, f) for f in ("linear", "knn", "hist_gradient_boosting")}
    _, schema, test, n_classes = members["linear"]
    profile, kept = profile_dataset(rows(task), "y", task=task)
    X = schema.coerce(kept, strict=False)
    y = kept["y"].to_numpy(float) if task == "regression" else pd.factorize(kept["y"], sort=True)[0]
    data = TrainingData(X.iloc[:TRAIN], y[:TRAIN], task, n_classes, schema, [])
    ensemble = assemble_ensemble({f: m[0] for f, m in members.items()},
                                 {"linear": 0.5, "knn": 0.2, "hist_gradient_boosting": 0.3}, data)
    compiled = compile_row_predictor(ensemble, schema, task, n_classes)
    assert isinstance(compiled, EnsemblePredictor)
    assert sorted(compiled.shared.values()) == [0, 0, 2]  # linear and knn: one encoding
    expected = predict_matrix(ensemble, test, task, n_classes)
    np.testing.assert_allclose(one_by_one(compiled, test, expected), expected, rtol=1e-9, atol=1e-9)
    from automl.model import encoders

    calls = []
    tfidf = encoders.tfidf
    monkeypatch.setattr(encoders, "tfidf",
                        lambda vectorizer, docs: calls.append(len(docs)) or tfidf(vectorizer, docs))
    np.testing.assert_allclose(compiled.frame(test), expected, rtol=1e-9, atol=1e-9)
    assert calls == [len(test)]


def test_lightgbm_single_rows_take_the_c_fast_path_in_every_thread():
    """One row goes through LightGBM's single-row C API, with one config per thread."""
    import threading

    model, schema, test, n_classes = fitted("multiclass", "lightgbm")
    compiled = compile_row_predictor(model, schema, "multiclass", n_classes)
    expected = predict_matrix(model, test, "multiclass", n_classes)
    results = {}

    def run(k: int) -> None:
        results[k] = one_by_one(compiled, test, expected)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert compiled.predict._fast_config() is not None
    assert len(compiled.predict._configs) == 3 + 1  # three threads and this one
    for k in range(3):
        np.testing.assert_allclose(results[k], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", ["linear", "knn"])
def test_linear_recipe_row_matches_a_sparse_pipeline(family):
    """Many one-hot columns make the linear recipe's output sparse; the compiled row is too."""
    rng = np.random.default_rng(5)
    n = 300
    df = pd.DataFrame({f"c{k}": rng.choice([f"v{i}" for i in range(8)], n) for k in range(6)})
    df["x"] = np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n))
    df["y"] = np.where(rng.random(n) < 0.5, "a", "b")
    profile, kept = profile_dataset(df, "y", task="binary")
    schema = InputSchema.from_profile(profile)
    X = schema.coerce(kept, strict=False)
    y = pd.factorize(kept["y"], sort=True)[0]
    spec = generate_candidates(DataShape(len(X), 7, "binary", 2), families=[family])[0]
    model = build_pipeline(spec, spec.defaults[0], schema, 0).fit(X.iloc[:200], y[:200])
    assert model.steps[0][1].sparse_output_
    compiled = compile_row_predictor(model, schema, "binary", 2)
    test = X.iloc[200:]
    expected = predict_matrix(model, test, "binary", 2)
    np.testing.assert_allclose(one_by_one(compiled, test, expected), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", ["lightgbm", "hist_gradient_boosting", "random_forest"])
def test_bundle_gives_one_row_what_the_pipeline_gives(family):
    """A one-row frame takes the compiled single-row path inside ModelBundle.matrix."""
    model, schema, test, n_classes = fitted("multiclass", family)
    bundle = ModelBundle(model, schema, "multiclass", list(range(n_classes)))
    assert bundle.compiled() is not None
    for k in range(10):
        one = test.iloc[[k]]
        np.testing.assert_allclose(bundle.matrix(one), predict_matrix(model, one, "multiclass", n_classes),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", ["hist_gradient_boosting", "random_forest"])
def test_a_large_frame_is_walked_on_every_core_with_the_same_numbers(family, monkeypatch):
    """From ``PARALLEL_FROM_ROWS`` rows the tree kernel splits the rows among the cores; every
    row gets the numbers one thread gives it (lowered here so a small frame is large)."""
    from automl.candidates import trees

    model, schema, test, n_classes = fitted("multiclass", family)
    compiled = compile_row_predictor(model, schema, "multiclass", n_classes)
    one_thread = compiled.frame(test)
    monkeypatch.setattr(trees, "PARALLEL_FROM_ROWS", 8)
    cores = len(os.sched_getaffinity(0))
    assert len(trees._row_parts(len(test))) == min(cores, len(test) // 4)
    np.testing.assert_array_equal(compiled.frame(test), one_thread)
    np.testing.assert_allclose(one_thread, predict_matrix(model, test, "multiclass", n_classes),
                               rtol=1e-9, atol=1e-9)


def test_one_row_runs_on_one_openmp_thread_and_the_threads_are_given_back():
    from automl.model.fastpath import OneThread

    one = OneThread()
    before = [lib.get_num_threads() for lib in one.libs]
    assert one.libs, "scikit-learn's OpenMP runtime is loaded"
    during = one(lambda: [lib.get_num_threads() for lib in one.libs])
    assert during == [1] * len(one.libs)
    assert [lib.get_num_threads() for lib in one.libs] == before
