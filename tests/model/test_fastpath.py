"""The compiled single-row path gives exactly what the fitted pipeline gives."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from automl.candidates.base import DataShape
from automl.candidates.generator import build_pipeline, generate_candidates
from automl.data.profile import profile_dataset
from automl.data.schema import InputSchema
from automl.model.fastpath import compile_row_predictor
from automl.model.pipeline import predict_matrix
from automl.testing import tiny_frame


def frame(task: str, n: int = 300) -> pd.DataFrame:
    return tiny_frame(task, n, seed=2)


def fitted_pipeline(task: str, family: str = "lightgbm"):
    """A pipeline of ``family`` fitted on 200 rows, its schema, the 100 held-out clean rows."""
    profile, kept = profile_dataset(frame(task), "y", task=task)
    schema = InputSchema.from_profile(profile)
    X = schema.coerce(kept, strict=False)
    y = kept["y"].to_numpy(float) if task == "regression" else pd.factorize(kept["y"], sort=True)[0]
    n_classes = 0 if task == "regression" else int(y.max()) + 1
    spec = generate_candidates(DataShape(len(X), 4, task, n_classes), families=[family])[0]
    with warnings.catch_warnings():  # a perceptron may not converge on 200 rows, as in trials
        warnings.simplefilter("ignore")
        model = build_pipeline(spec, spec.defaults[0], schema, 0).fit(X.iloc[:200], y[:200])
    test = X.iloc[200:].copy()
    test.iloc[:5, test.columns.get_loc("color")] = "purple"
    return model, schema, test, n_classes


COMPILED = ["lightgbm", "random_forest", "extra_trees", "linear", "mlp", "knn"]


@pytest.mark.parametrize("family", COMPILED)
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_row_predictor_matches_pipeline(task, family):
    model, schema, test, n_classes = fitted_pipeline(task, family)
    row = compile_row_predictor(model, schema, task, n_classes)
    assert row is not None
    general = predict_matrix(model, test, task, n_classes)
    values = test.astype(object).where(test.notna(), None).to_numpy().tolist()
    fast = np.concatenate([row(v) for v in values])
    np.testing.assert_allclose(fast, general, rtol=1e-12, atol=1e-12)


def test_no_fast_path_for_other_families():
    profile, kept = profile_dataset(frame("binary"), "y")
    schema = InputSchema.from_profile(profile)
    X = schema.coerce(kept, strict=False)
    y = pd.factorize(kept["y"], sort=True)[0]
    spec = generate_candidates(DataShape(len(X), 4, "binary", 2),
                               families=["hist_gradient_boosting"])[0]
    model = build_pipeline(spec, spec.defaults[0], schema, 0).fit(X, y)
    assert compile_row_predictor(model, schema, "binary", 2) is None


@pytest.mark.parametrize("family", COMPILED)
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_frame_path_matches_pipeline(task, family):
    model, schema, test, n_classes = fitted_pipeline(task, family)
    compiled = compile_row_predictor(model, schema, task, n_classes)
    np.testing.assert_allclose(compiled.frame(test), predict_matrix(model, test, task, n_classes),
                               rtol=1e-12, atol=1e-12)


def test_lightgbm_single_rows_take_the_c_fast_path_in_every_thread():
    """One row goes through LightGBM's single-row C API, with one config per thread."""
    import threading

    model, schema, test, n_classes = fitted_pipeline("multiclass")
    compiled = compile_row_predictor(model, schema, "multiclass", n_classes)
    values = test.astype(object).where(test.notna(), None).to_numpy().tolist()
    expected = predict_matrix(model, test, "multiclass", n_classes)
    results = {}

    def run(k: int) -> None:
        results[k] = np.concatenate([compiled(v) for v in values])

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert compiled.predict._fast_config() is not None
    assert len(compiled.predict._configs) == 3 + 1  # three threads and this one
    for k in range(3):
        np.testing.assert_allclose(results[k], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_ensemble_compiles_member_by_member(task):
    """A voting ensemble of a LightGBM (compiled) and a linear pipeline (general path) gives
    what the ensemble itself gives, row by row and for a frame."""
    from automl.finalize import assemble_ensemble
    from automl.search.evaluate import TrainingData

    model, schema, test, n_classes = fitted_pipeline(task)
    profile, kept = profile_dataset(frame(task), "y", task=task)
    X = schema.coerce(kept, strict=False)
    y = kept["y"].to_numpy(float) if task == "regression" else pd.factorize(kept["y"], sort=True)[0]
    spec = generate_candidates(DataShape(len(X), 4, task, n_classes), families=["linear"])[0]
    linear = build_pipeline(spec, spec.defaults[0], schema, 0).fit(X.iloc[:200], y[:200])
    data = TrainingData(X.iloc[:200], y[:200], task, n_classes, schema, [])
    ensemble = assemble_ensemble({"lgbm": model, "linear": linear}, {"lgbm": 0.7, "linear": 0.3},
                                 data)
    compiled = compile_row_predictor(ensemble, schema, task, n_classes)
    assert compiled is not None
    expected = predict_matrix(ensemble, test, task, n_classes)
    # missing values as serving's scalar coercers give them: NaN
    values = test.astype(object).where(test.notna(), np.nan).to_numpy().tolist()
    rows = np.concatenate([compiled(v) for v in values])
    np.testing.assert_allclose(rows, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(compiled.frame(test), expected, rtol=1e-9, atol=1e-12)


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
    values = test.astype(object).where(test.notna(), np.nan).to_numpy().tolist()
    np.testing.assert_allclose(np.concatenate([compiled(v) for v in values]),
                               predict_matrix(model, test, "binary", 2), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", ["lightgbm", "linear", "random_forest"])
def test_bundle_gives_one_row_what_the_pipeline_gives(family):
    """A one-row frame takes the compiled single-row path inside ModelBundle.matrix."""
    from automl.model.bundle import ModelBundle

    model, schema, test, n_classes = fitted_pipeline("multiclass", family)
    bundle = ModelBundle(model, schema, "multiclass", list(range(n_classes)))
    for k in range(10):
        one = test.iloc[[k]]
        np.testing.assert_allclose(bundle.matrix(one), predict_matrix(model, one, "multiclass", n_classes),
                                   rtol=1e-12, atol=1e-12)
