"""Baselines in Model Monitor's schema, and the checks of a window against them."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from automl.data.schema import InputSchema
from automl.exceptions import NotFound
from automl.monitoring.baseline import Baseline, build_baseline
from automl.monitoring.checks import check_window
from automl.monitoring.drift import js_distance, ndcg, psi
from automl.monitoring.settings import Thresholds

SCHEMA = {"target": "y", "dropped": {"row_id": "id-like"}, "columns": [
    {"name": "age", "role": "numeric", "numeric_codes": False},
    {"name": "income", "role": "numeric", "numeric_codes": False},
    {"name": "colour", "role": "categorical", "numeric_codes": False},
    {"name": "member", "role": "boolean", "numeric_codes": False},
]}
COLOURS, SHARES = ["red", "green", "blue", "black"], [0.4, 0.3, 0.2, 0.1]


def _raw(n: int, seed: int) -> pd.DataFrame:
    """Rows as an endpoint receives them (raw values)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.normal(40, 10, n).round(),
        "income": np.where(rng.random(n) < 0.05, np.nan, rng.lognormal(10, 0.5, n)),
        "colour": rng.choice(COLOURS, n, p=SHARES),
        "member": rng.choice(["yes", "no"], n),
    })


def _clean(raw: pd.DataFrame) -> pd.DataFrame:
    return InputSchema.from_dict(SCHEMA).coerce(raw, strict=False)


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    train = _raw(20_000, seed=0)
    rng = np.random.default_rng(1)
    p = rng.beta(2, 5, len(train))
    oof = np.column_stack([1 - p, p])
    importance = {"age": 0.5, "income": 0.3, "colour": 0.15, "member": 0.05}
    return build_baseline(_clean(train), SCHEMA, "binary", [0, 1], oof, importance)


def _types(result) -> set[tuple[str, str]]:
    return {(v["feature_name"], v["constraint_check_type"]) for v in result.violations}


def test_statistics_and_constraints_follow_model_monitor(baseline, tmp_path):
    stats = {f["name"]: f for f in baseline.statistics["features"]}
    assert baseline.statistics["dataset"]["item_count"] == 20_000
    age = stats["age"]
    assert age["inferred_type"] == "Integral"
    numerical = age["numerical_statistics"]
    assert {"common", "mean", "sum", "std_dev", "min", "max", "distribution"} <= set(numerical)
    buckets = numerical["distribution"]["kll"]["buckets"]
    assert sum(b["count"] for b in buckets) == numerical["common"]["num_present"] == 20_000
    assert buckets[0]["lower_bound"] == numerical["min"] and buckets[-1]["upper_bound"] == numerical["max"]
    assert stats["income"]["inferred_type"] == "Fractional"
    assert stats["income"]["numerical_statistics"]["common"]["num_missing"] > 0
    colour = stats["colour"]["string_statistics"]
    assert colour["distinct_count"] == 4
    assert {b["value"] for b in colour["distribution"]["categorical"]["buckets"]} == set(COLOURS)

    constraints = {f["name"]: f for f in baseline.constraints["features"]}
    assert constraints["income"]["completeness"] == pytest.approx(0.95, abs=0.01)
    assert constraints["income"]["num_constraints"] == {"is_non_negative": True}
    assert sorted(constraints["colour"]["string_constraints"]["domains"]) == sorted(COLOURS)
    assert sorted(constraints["member"]["string_constraints"]["domains"]) == ["false", "true"]
    config = baseline.constraints["monitoring_config"]
    assert config["distribution_constraints"]["comparison_threshold"] == 0.1
    assert config["datatype_check_threshold"] == 0.1

    baseline.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        "statistics.json", "constraints.json", "predictions.json", "importance.json"}
    assert Baseline.load(tmp_path) == baseline
    (tmp_path / "constraints.json").unlink()
    with pytest.raises(NotFound, match="constraints.json is missing"):
        Baseline.load(tmp_path)


def test_an_unshifted_window_raises_nothing(baseline):
    for seed in range(2, 7):
        result = check_window(_raw(1000, seed), baseline, SCHEMA)
        assert result.violations == []
        assert result.report["dataset"]["verdict"] == "ok"
        assert result.report["dataset"]["columns_scored"] == 4


def test_shifted_columns_are_flagged_and_only_those(baseline):
    raw = _raw(1000, seed=3)
    raw["age"] += 0.5 * 10
    rng = np.random.default_rng(4)
    reds = raw.index[raw["colour"] == "red"]
    raw.loc[rng.choice(reds, 200, replace=False), "colour"] = "black"  # 20 points moved
    result = check_window(raw, baseline, SCHEMA)
    assert _types(result) == {("age", "baseline_drift_check"), ("colour", "baseline_drift_check")}
    columns = result.report["columns"]
    assert columns["age"]["drift_method"] == "psi" and columns["age"]["drifted"]
    assert columns["colour"]["drift_method"] == "jensen_shannon" and columns["colour"]["drifted"]
    assert not columns["income"]["drifted"]
    assert result.report["dataset"]["verdict"] == "dataset_drift"  # 2 of 4 columns
    assert result.report["dataset"]["drifted_columns"][0] in ("age", "colour")


def test_data_quality_violations_name_the_column(baseline):
    raw = _raw(1000, seed=5).drop(columns="member")
    raw["surprise"] = 1
    raw["row_id"] = range(len(raw))  # dropped at training: not an extra column
    raw["age"] = raw["age"].astype(object)
    raw.loc[:199, "age"] = "unknown"
    raw.loc[:299, "income"] = np.nan
    raw.loc[:149, "colour"] = "purple"
    raw.loc[300:349, "income"] = 1e9
    result = check_window(raw, baseline, SCHEMA)
    assert {("member", "missing_column_check"), ("surprise", "extra_column_check"),
            ("age", "data_type_check"), ("income", "completeness_check"),
            ("colour", "categorical_values_check"), ("income", "data_range_check")} <= _types(result)
    assert ("row_id", "extra_column_check") not in _types(result)
    unseen = next(v for v in result.violations if v["constraint_check_type"] == "categorical_values_check")
    assert "'purple'" in unseen["description"]
    json.dumps(result.violations_doc())  # serialisable as constraint_violations.json


def test_thresholds_come_from_the_constraints_file(baseline):
    raw = _raw(1000, seed=6)
    raw["age"] += 5
    constraints = json.loads(json.dumps(baseline.constraints))
    constraints["monitoring_config"]["distribution_constraints"]["comparison_threshold"] = 5.0
    edited = Baseline(baseline.statistics, constraints, baseline.predictions, baseline.importance)
    assert check_window(raw, edited, SCHEMA).violations == []
    assert check_window(raw, baseline, SCHEMA).violations != []
    assert Thresholds.from_constraints(constraints).psi == 5.0


def test_a_small_window_does_not_raise_false_alarms(baseline):
    flagged = 0
    for seed in range(20):
        result = check_window(_raw(60, seed + 100), baseline, SCHEMA)
        flagged += len(result.report["dataset"]["drifted_columns"])
        thresholds = [c["drift_threshold"] for c in result.report["columns"].values()]
        assert min(thresholds) >= 0.1
    assert flagged <= 2  # of 80 column-windows


def test_prediction_and_attribution_drift(baseline):
    raw = _raw(1000, seed=7)
    rng = np.random.default_rng(8)
    same = rng.beta(2, 5, 1000)
    shifted = rng.beta(5, 2, 1000)
    reversed_importance = {"age": 0.05, "income": 0.15, "colour": 0.3, "member": 0.5}
    calm = check_window(raw, baseline, SCHEMA, predictions=np.column_stack([1 - same, same]),
                        importance={"age": 0.4, "income": 0.35, "colour": 0.2, "member": 0.05})
    assert calm.violations == [] and calm.report["attribution"]["ndcg"] > 0.99
    drifted = check_window(raw, baseline, SCHEMA,
                           predictions=np.column_stack([1 - shifted, shifted]),
                           importance=reversed_importance)
    assert _types(drifted) == {("prediction", "prediction_drift_check"),
                               ("attribution", "feature_attribution_drift_check")}
    assert drifted.report["attribution"]["ndcg"] < 0.9


def test_distances():
    assert psi(np.array([10, 20, 30]), np.array([1, 2, 3])) == pytest.approx(0.0)
    assert js_distance(np.array([5, 0]), np.array([0, 5])) == pytest.approx(1.0)
    assert js_distance(np.array([5, 5]), np.array([5, 5])) == pytest.approx(0.0)
    assert np.isnan(psi(np.array([1, 1]), np.array([0, 0])))
    assert ndcg({"a": 3, "b": 2, "c": 1}, {"a": 9, "b": 5, "c": 0}) == pytest.approx(1.0)
    assert ndcg({"a": 3, "b": 2, "c": 1}, {"a": 0, "b": 5, "c": 9}) < 0.9


def test_monitoring_stays_in_its_layer():
    """DESIGN section 2: monitoring imports data, metrics, config and exceptions, never the
    serving, search or engine layers (nor web), and serving does not import monitoring."""
    code = ("import sys, automl.monitoring.run, automl.monitoring.capture; "
            "bad = sorted(m for m in sys.modules if m.startswith(('automl.serving', "
            "'automl.search', 'automl.engine', 'automl.model', 'web')) ); print(bad)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    code = ("import sys, automl.serving.server; "
            "print(sorted(m for m in sys.modules if m.startswith('automl.monitoring')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_multiclass_prediction_drift_compares_predicted_labels():
    rng = np.random.default_rng(9)
    train = _clean(_raw(5000, seed=10))
    oof = rng.dirichlet([4, 2, 1], 5000)
    baseline = build_baseline(train, SCHEMA, "multiclass", ["a", "b", "c"], oof)
    feature = baseline.predictions["features"][0]
    assert feature["string_statistics"]["distinct_count"] == 3
    raw = _raw(1000, seed=11)
    calm = check_window(raw, baseline, SCHEMA, predictions=rng.dirichlet([4, 2, 1], 1000))
    assert calm.report["prediction"]["drift_method"] == "jensen_shannon"
    assert not calm.report["prediction"]["drifted"]
    moved = check_window(raw, baseline, SCHEMA, predictions=rng.dirichlet([1, 2, 4], 1000))
    assert ("prediction", "prediction_drift_check") in _types(moved)


CODES = {"target": "y", "dropped": {}, "columns": [
    {"name": "code", "role": "numeric", "numeric_codes": False},
    {"name": "count", "role": "numeric", "numeric_codes": False}]}


def _codes(n: int, seed: int, shares=(0.5, 0.3, 0.15, 0.05)) -> pd.DataFrame:
    """An integer-coded column (0..3) and a sparse word count (mostly 0)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"code": rng.choice(4, n, p=shares).astype(float),
                         "count": rng.choice(3, n, p=[0.97, 0.02, 0.01]).astype(float)})


@pytest.fixture(scope="module")
def coded() -> Baseline:
    return build_baseline(InputSchema.from_dict(CODES).coerce(_codes(5000, 0), strict=False),
                          CODES)


def test_a_few_valued_numeric_column_keeps_its_value_frequencies(coded, tmp_path):
    feature = coded.feature("code")
    assert feature["inferred_type"] == "Integral"
    distribution = feature["numerical_statistics"]["distribution"]
    assert "kll" in distribution  # Model Monitor's layout stays whole
    buckets = distribution["categorical"]["buckets"]
    assert [b["value"] for b in buckets] == ["0", "1", "2", "3"]
    assert sum(b["count"] for b in buckets) == 5000
    coded.save(tmp_path)
    assert Baseline.load(tmp_path) == coded


def test_a_few_valued_columns_frequency_shift_is_flagged_and_a_calm_window_is_not(coded):
    for seed in range(1, 6):
        calm = check_window(_codes(1000, seed), coded, CODES)
        assert calm.violations == [], seed
    moved = check_window(_codes(1000, 9, shares=(0.3, 0.5, 0.15, 0.05)), coded, CODES)
    assert _types(moved) == {("code", "baseline_drift_check")}
    column = moved.report["columns"]["code"]
    assert column["drift_method"] == "jensen_shannon"
    assert column["distribution"]["bins"] == ["0", "1", "2", "3", "(other)", "(unseen)"]


def test_values_never_seen_in_training_are_drift_of_a_few_valued_column(coded):
    """+0.5 sd moves an integer code less than the gap between codes: its bins cannot see
    it, but every shifted value is one training never had."""
    raw = _codes(1000, 3)
    raw["code"] += 0.5 * raw["code"].std()
    raw.loc[raw.index[:100], "count"] = 7.0  # 10 % of a count never seen in training
    result = check_window(raw, coded, CODES)
    assert ("code", "baseline_drift_check") in _types(result)
    assert ("count", "baseline_drift_check") in _types(result)
    assert result.report["columns"]["code"]["unseen_share"] == 1.0
    assert result.report["columns"]["count"]["unseen_share"] == pytest.approx(0.1)


def test_a_numeric_column_of_few_values_has_a_bin_per_value():
    """A 0/1 column whose share of ones moves from 30 % to 50 % is drift (tied deciles used to
    give it one bin, and PSI 0 whatever happened); its kll buckets have a bin per value."""
    schema = {"target": "y", "dropped": {}, "columns": [
        {"name": "flag", "role": "numeric", "numeric_codes": False}]}
    rng = np.random.default_rng(0)

    def rows(n, share):
        return pd.DataFrame({"flag": (rng.random(n) < share).astype(float)})

    base = build_baseline(InputSchema.from_dict(schema).coerce(rows(5000, 0.3), strict=False),
                          schema)
    buckets = base.feature("flag")["numerical_statistics"]["distribution"]["kll"]["buckets"]
    assert [(b["lower_bound"], b["upper_bound"]) for b in buckets] == [(0, 0.5), (0.5, 1)]
    moved = check_window(rows(1000, 0.5), base, schema).report["columns"]["flag"]
    same = check_window(rows(1000, 0.3), base, schema).report["columns"]["flag"]
    assert moved["drifted"] and not same["drifted"]
