"""The log1p target transform: offered only for skewed regression targets, scored on the
original scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from automl.candidates.base import DataShape
from automl.candidates.generator import build_pipeline, generate_candidates
from automl.candidates.target_transform import with_transform
from automl.data.schema import InputSchema


def test_only_a_skewed_regression_target_gets_a_log1p_twin():
    for shape in (DataShape(500, 4, "regression"), DataShape(500, 4, "binary", 2)):
        assert not [s for s in generate_candidates(shape) if "target_transform" in s.fixed_params]
    specs = generate_candidates(DataShape(500, 4, "regression", skewed_target=True))
    logged = [s for s in specs if s.fixed_params.get("target_transform") == "log1p"]
    assert [s.name for s in logged] == ["lightgbm_log1p"]
    assert [s.name for s in specs[:2]] == ["lightgbm", "lightgbm_log1p"]  # tried first round
    assert logged[0].space == specs[0].space and logged[0].defaults == specs[0].defaults


def test_log1p_predicts_on_the_original_scale():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.uniform(0, 3, 200)})
    y = np.expm1(2 * X["x"].to_numpy())  # log1p(y) is linear in x
    model = with_transform(LinearRegression(), "log1p").fit(X, y)
    np.testing.assert_allclose(model.predict(X), y, rtol=1e-9, atol=1e-9)
    assert np.mean(np.abs(LinearRegression().fit(X, y).predict(X) - y)) > 10


def test_build_pipeline_keeps_target_transform_out_of_the_estimator():
    schema = InputSchema.from_dict({"target": "y", "columns": [{"name": "x", "role": "numeric"}]})
    specs = generate_candidates(DataShape(100, 1, "regression", skewed_target=True),
                                families=["lightgbm"])
    plain, logged = (build_pipeline(s, s.defaults[0], schema, 0) for s in specs)
    assert type(plain[-1]).__name__ == "LGBMRegressor"
    assert type(logged[-1]).__name__ == "TransformedTargetRegressor"
    assert "target_transform" not in logged[-1].regressor.get_params()
