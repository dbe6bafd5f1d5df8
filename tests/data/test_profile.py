"""Column roles, task inference and warnings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.data.profile import column_role, infer_task, numeric_summary, profile_dataset
from automl.exceptions import ConfigError, DatasetError

RNG = np.random.default_rng(0)
N = 200


@pytest.mark.parametrize("values, role", [
    (RNG.normal(size=N), "numeric"),
    (RNG.integers(0, 1000, N), "numeric"),
    (RNG.integers(1, 6, N), "categorical"),
    (np.where(RNG.random(N) < 0.8, 0, RNG.integers(1, 6, N)), "numeric"),
    (RNG.choice(["red", "green", "blue"], N), "categorical"),
    (RNG.choice(["yes", "no"], N), "boolean"),
    (RNG.choice([True, False], N), "boolean"),
    (np.arange(N), "id-like"),
    ([f"user-{i:05d}" for i in range(N)], "id-like"),
    (["same"] * N, "constant"),
    (pd.date_range("2020-01-01", periods=N, freq="D").strftime("%Y-%m-%d"), "datetime"),
    ([f"the quick brown fox number {i} jumps" for i in range(N)], "text"),
])
def test_column_roles(values, role):
    assert column_role(pd.Series(values)) == role


@pytest.mark.parametrize("values, task", [
    ([0, 1] * 50, "binary"),
    (["yes", "no"] * 50, "binary"),
    (list(range(5)) * 20, "multiclass"),
    (["a", "b", "c"] * 30, "multiclass"),
    (RNG.normal(size=100), "regression"),
    (list(range(100)), "regression"),
])
def test_task_inference(values, task):
    assert infer_task(pd.Series(values)) == task


def frame(**extra):
    x = RNG.normal(size=N)
    data = {"x": x, "cat": RNG.choice(["a", "b", "c"], N), "y": (x > 0).astype(int)}
    return pd.DataFrame({**data, **extra})


def test_profile_drops_missing_targets_and_counts_them():
    df = frame()
    df.loc[:9, "y"] = np.nan
    profile, kept = profile_dataset(df, "y")
    assert profile.rows_dropped_missing_target == 10
    assert len(kept) == N - 10
    assert any(w["code"] == "missing_target" for w in profile.warnings)


def test_leakage_suspect_is_flagged():
    df = frame()
    df["leak"] = df["y"].map({0: "no", 1: "yes"}).astype(str) + "!"
    profile, _ = profile_dataset(df, "y")
    flagged = [w["column"] for w in profile.warnings if w["code"] == "leakage_suspect"]
    assert flagged == ["leak"]


def test_duplicates_and_imbalance_warnings():
    df = frame()
    df["y"] = 0
    df.loc[:9, "y"] = 1
    df = pd.concat([df, df.head(5)], ignore_index=True)
    profile, _ = profile_dataset(df, "y")
    codes = {w["code"] for w in profile.warnings}
    assert {"duplicate_rows", "class_imbalance"} <= codes
    assert profile.n_duplicate_rows == 5


def test_too_few_rows_per_class_warning():
    df = frame()
    df["y"] = ["a"] * (N - 3) + ["b", "b", "c"]
    profile, _ = profile_dataset(df, "y", n_folds=2)
    assert any(w["code"] == "too_few_rows_per_class" for w in profile.warnings)


def test_task_override_checked():
    df = frame()
    with pytest.raises(ConfigError, match="numeric target"):
        profile_dataset(df.assign(y=df["cat"]), "y", task="regression")
    profile, _ = profile_dataset(df, "y", task="multiclass")
    assert profile.task == "multiclass"


def test_no_feature_columns():
    df = pd.DataFrame({"id": np.arange(N), "y": RNG.integers(0, 2, N)})
    with pytest.raises(DatasetError, match="no usable feature columns"):
        profile_dataset(df, "y")


def test_profile_round_trips_through_json():
    import json

    from automl.data.profile import DatasetProfile

    profile, _ = profile_dataset(frame(), "y")
    again = DatasetProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again == profile


def test_numeric_summary_gives_describes_figures():
    frame = pd.DataFrame({"a": [1.0, 2.0, np.nan, 10.0], "b": [np.nan] * 4, "c": [3, 1, 2, 5]})
    ours = numeric_summary(frame)
    theirs = frame.describe().drop("count").to_dict()
    for column, figures in theirs.items():
        for name, value in figures.items():
            assert np.isclose(ours[column][name], value, equal_nan=True), (column, name)
