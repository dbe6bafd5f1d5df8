"""One contract test over every model family: every task, missing values, categoricals, dates, text."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from automl.candidates.base import DataShape, to_distributions
from automl.candidates.generator import build_pipeline, generate_candidates
from automl.candidates.registry import FAMILIES
from automl.data.profile import profile_dataset
from automl.data.schema import InputSchema
from automl.model.pipeline import predict_matrix

N = 160


def messy_frame(task: str) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = rng.normal(size=N)
    df = pd.DataFrame({
        "num": np.where(rng.random(N) < 0.1, np.nan, x),
        "count": rng.integers(0, 500, N).astype(float),
        "color": rng.choice(["red", "green", "blue", None], N),
        "code": rng.integers(1, 5, N),
        "flag": rng.choice(["yes", "no"], N),
        "when": pd.date_range("2021-01-01", periods=N, freq="37h").strftime("%Y-%m-%d %H:%M"),
        "note": [f"customer {w} wrote about item {i} today" for i, w in
                 enumerate(rng.choice(["alpha", "beta", "gamma"], N))],
    })
    if task == "regression":
        df["y"] = 3 * x + rng.normal(size=N)
    elif task == "binary":
        df["y"] = np.where(x + rng.normal(scale=0.5, size=N) > 0, "pos", "neg")
    else:
        df["y"] = pd.cut(x, [-np.inf, -0.5, 0.5, np.inf], labels=["lo", "mid", "hi"]).astype(str)
    return df


@pytest.fixture(scope="module", params=["binary", "multiclass", "regression"])
def prepared(request):
    task = request.param
    df = messy_frame(task)
    profile, kept = profile_dataset(df, "y", task=task)
    schema = InputSchema.from_profile(profile)
    roles = {c.name: c.role for c in schema.columns}
    assert roles == {"num": "numeric", "count": "numeric", "color": "categorical",
                     "code": "categorical", "flag": "boolean", "when": "datetime", "note": "text"}
    X = schema.coerce(kept, strict=False)
    y = kept["y"].to_numpy(dtype=float) if task == "regression" else pd.factorize(kept["y"], sort=True)[0]
    return task, schema, X, y


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_contract(prepared, family):
    task, schema, X, y = prepared
    shape = DataShape(len(X), X.shape[1], task, len(np.unique(y)) if task != "regression" else 0)
    specs = {s.family: s for s in generate_candidates(shape, families=[family])}
    spec = specs[family]
    assert spec.defaults, "every family has at least one default configuration"
    assert json.loads(json.dumps(spec.to_dict())) == json.loads(json.dumps(spec.to_dict()))
    distributions = to_distributions(spec.space)
    for params in spec.defaults:
        assert set(params) <= set(distributions) | set(spec.fixed_params)
    train, test = slice(0, 120), slice(120, None)
    pipe = build_pipeline(spec, spec.defaults[0], schema, seed=0).fit(X.iloc[train], y[train])
    n_classes = 0 if task == "regression" else int(y.max()) + 1
    pred = predict_matrix(pipe, X.iloc[test], task, n_classes)
    assert np.isfinite(pred).all()
    if task == "regression":
        assert pred.shape == (40,)
    else:
        assert pred.shape == (40, n_classes)
        np.testing.assert_allclose(pred.sum(axis=1), 1.0, atol=1e-6)
    unseen = X.iloc[test].copy()
    unseen["color"] = "purple"
    unseen["code"] = "99"
    assert np.isfinite(predict_matrix(pipe, unseen, task, n_classes)).all()
    assert pickle.loads(pickle.dumps(pipe)) is not None


def test_space_round_trips_through_json():
    shape = DataShape(1000, 10, "binary", 2)
    for spec in generate_candidates(shape):
        again = json.loads(json.dumps(spec.space))
        assert to_distributions(again) == to_distributions(spec.space)


def test_space_depends_on_data_size():
    small = FAMILIES["lightgbm"].space(DataShape(200, 5, "binary", 2))
    large = FAMILIES["lightgbm"].space(DataShape(200_000, 5, "binary", 2))
    assert small["num_leaves"]["high"] < large["num_leaves"]["high"]


def test_candidates_cheapest_first_and_knn_skipped_on_large_data():
    specs = generate_candidates(DataShape(100_000, 10, "regression"))
    assert [s.cost for s in specs] == sorted(s.cost for s in specs)
    assert "knn" not in {s.family for s in specs}
    assert len({s.family for s in generate_candidates(DataShape(1000, 10, "binary", 2))}) >= 6
    assert specs[0].family == "lightgbm"  # the first result comes from the cheap, strong default


def test_wide_data_skips_hist_gradient_boosting_and_elastic_net():
    specs = {s.name: s for s in generate_candidates(DataShape(1000, 500, "multiclass", 9))}
    assert "hist_gradient_boosting" not in specs
    assert "l1_ratio" not in specs["linear"].space


def bag_of_words(n=240, words=40, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    topic = rng.integers(0, 3, n)
    rates = rng.gamma(0.3, 1.0, size=(3, words))
    counts = rng.poisson(rates[topic] * rng.integers(1, 6, n)[:, None])
    frame = pd.DataFrame(counts, columns=[f"w{i}" for i in range(words)])
    frame["length"] = rng.normal(size=n)  # one column that is not a count
    frame["topic"] = np.array(["a", "b", "c"])[topic]
    return frame


def test_count_data_gets_a_term_frequency_linear_candidate():
    from automl.candidates.transformers import bag_of_words_columns as _counts

    profile, kept = profile_dataset(bag_of_words(), "topic")
    schema = InputSchema.from_profile(profile)
    X = schema.coerce(kept, strict=False)
    counts = _counts(X)
    assert "length" not in counts and len(counts) >= 30
    specs = {s.name: s for s in generate_candidates(DataShape(len(X), X.shape[1], "multiclass", 3),
                                                     counts=counts)}
    spec = specs["linear_counts"]
    assert spec.family == "linear" and spec.recipe == "linear_counts"
    assert json.loads(json.dumps(spec.to_dict())) == json.loads(json.dumps(spec.to_dict()))
    y = pd.factorize(kept["topic"], sort=True)[0]
    pipeline = build_pipeline(spec, spec.defaults[0], schema, 0).fit(X, y)
    block = pipeline[0].named_transformers_["counts"].transform(X[counts])
    norms = np.linalg.norm(block, axis=1)
    np.testing.assert_allclose(norms[norms > 0], 1.0)
    assert pipeline.score(X, y) > 0.8
    assert specs["mlp"].recipe == "linear_counts"  # the perceptron reads the same frequencies
    # not offered when counts are a minority of the columns
    plain = {s.name: s for s in generate_candidates(DataShape(len(X), 400, "multiclass", 3),
                                                     counts=counts)}
    assert "linear_counts" not in plain and plain["mlp"].recipe == "linear"


def test_mlp_trains_fewer_epochs_on_large_data():
    small = FAMILIES["mlp"].fixed(DataShape(1_000, 10, "binary", 2))
    large = FAMILIES["mlp"].fixed(DataShape(1_000_000, 10, "binary", 2))
    assert small["max_iter"] > large["max_iter"] >= 5
