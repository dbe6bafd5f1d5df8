"""The log1p target transform and the feature twins: offered only where the data calls for
them and the job asks (or they are on by default), scored on the original scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from automl.candidates.base import DataShape
from automl.candidates.generator import build_pipeline, generate_candidates
from automl.candidates.target_transform import with_transform
from automl.candidates.twins import DEFAULT_TWINS
from automl.data.schema import InputSchema
from automl.exceptions import ConfigError

SKEWED = DataShape(500, 4, "regression", skewed_target=True)


def names(shape, families=None, encoded=()) -> list[str]:
    return [s.name for s in generate_candidates(shape, families, encoded=encoded)]


def test_a_twin_named_in_families_comes_right_after_its_family():
    assert names(SKEWED, ["+", "lightgbm_log1p"])[:2] == ["lightgbm", "lightgbm_log1p"]
    assert names(SKEWED, ["lightgbm_log1p"]) == ["lightgbm", "lightgbm_log1p"]
    binary = DataShape(500, 4, "binary", 2)
    assert names(binary, ["lightgbm_te"], encoded=["city"]) == ["lightgbm", "lightgbm_te"]


def test_twins_are_offered_only_where_the_data_calls_for_them():
    assert names(DataShape(500, 4, "regression"), ["lightgbm_log1p"]) == ["lightgbm"]
    assert names(DataShape(500, 4, "binary", 2), ["lightgbm_te", "lightgbm_log1p"]) == ["lightgbm"]


@pytest.mark.skipif(bool(DEFAULT_TWINS), reason="a twin is on by default")
def test_twins_are_off_unless_named():
    assert not [n for n in names(SKEWED, encoded=["city"]) if n.endswith(("_log1p", "_te"))]


def test_an_unknown_name_lists_the_twins():
    with pytest.raises(ConfigError, match="feature twins: lightgbm_log1p, lightgbm_te"):
        generate_candidates(SKEWED, ["lightgbm_t"])


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
                                families=["lightgbm_log1p"])
    plain, logged = (build_pipeline(s, s.defaults[0], schema, 0) for s in specs)
    assert type(plain[-1]).__name__ == "LGBMRegressor"
    assert type(logged[-1]).__name__ == "TransformedTargetRegressor"
    assert "target_transform" not in logged[-1].regressor.get_params()
