"""The NumPy permutation explainer: exact on additive models, always adds up, wide pipelines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.candidates.base import DataShape
from automl.candidates.generator import build_pipeline, generate_candidates
from automl.data.profile import profile_dataset
from automl.data.schema import InputSchema
from automl.explain import explain_global, explain_rows
from automl.explain.permutation import permutation_shap
from automl.model.bundle import ModelBundle


def test_additive_model_gets_its_exact_shapley_values():
    rng = np.random.default_rng(0)
    w = np.array([1.5, -2.0, 0.0, 4.0])
    X, background = rng.normal(size=(3, 4)), rng.normal(size=(10, 4))
    values, base = permutation_shap(lambda m: m @ w, X, background)
    expected = w * (X - background.mean(axis=0))  # w_j (x_j - E[x_j]), whatever the order
    np.testing.assert_allclose(values[:, :, 0], expected, atol=1e-12)
    assert base[0] == pytest.approx((background @ w).mean())


def test_interactions_share_out_and_add_up_with_many_outputs():
    rng = np.random.default_rng(1)
    X, background = rng.normal(size=(4, 6)), rng.normal(size=(7, 6))

    def f(m):
        a = np.tanh(m[:, 0] * m[:, 1]) + m[:, 2] ** 2
        return np.column_stack([a, -a + m[:, 5]])

    values, base = permutation_shap(f, X, background, seed=3)
    assert values.shape == (4, 6, 2)
    np.testing.assert_allclose(base + values.sum(axis=1), f(X), atol=1e-10)
    np.testing.assert_allclose(values[:, 3:5], 0.0, atol=1e-12)  # unused features get nothing
    assert np.all(np.abs(values[:, :2, 0]).sum(axis=1) > 0)  # both sides of the interaction


def test_batches_do_not_change_the_answer(monkeypatch):
    rng = np.random.default_rng(2)
    X, background = rng.normal(size=(2, 9)), rng.normal(size=(5, 9))
    f = lambda m: np.sin(m).sum(axis=1) * m[:, 0]  # noqa: E731
    whole, _ = permutation_shap(f, X, background)
    monkeypatch.setattr("automl.explain.permutation.MAX_BATCH_CELLS", 50)
    pieces, _ = permutation_shap(f, X, background)
    np.testing.assert_allclose(whole, pieces, atol=1e-12)


def test_a_wide_perceptron_is_explained_per_original_column():
    rng = np.random.default_rng(0)
    n, words = 200, 120
    topic = rng.integers(0, 2, n)
    rates = rng.gamma(0.3, 1.0, size=(2, words))
    frame = pd.DataFrame(rng.poisson(rates[topic] * 3), columns=[f"w{i}" for i in range(words)])
    frame["topic"] = np.array(["a", "b"])[topic]
    profile, kept = profile_dataset(frame, "topic")
    schema = InputSchema.from_profile(profile)
    X = schema.coerce(kept, strict=False)
    y = pd.factorize(kept["topic"], sort=True)[0]
    spec = {s.name: s for s in generate_candidates(DataShape(n, words, "binary", 2),
                                                   families=["mlp"])}["mlp"]
    pipeline = build_pipeline(spec, spec.defaults[0], schema, 0).fit(X, y)
    bundle = ModelBundle(pipeline, schema, "binary", ["a", "b"], {},
                         ModelBundle.background_of(X, 0))
    rows = explain_rows(bundle, kept.head(3))
    proba = bundle.predict_proba(kept.head(3)).to_numpy()[:, 1]
    for row, p in zip(rows, proba, strict=True):
        assert set(row["contributions"]) == set(schema.names) and row["output"] == "probability"
        assert row["base_value"] + sum(row["contributions"].values()) == pytest.approx(p, abs=1e-9)
    importance = explain_global(bundle, kept)
    assert len(importance) == len(schema.names) > 100
    top = list(importance)[:10]
    informative = np.argsort(-np.abs(rates[0] - rates[1]))[:30]
    assert len(set(top) & {f"w{i}" for i in informative}) >= 5
