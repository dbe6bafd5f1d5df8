"""Settings resolved once at the edge: the ``families`` setting's forms and its errors."""

from __future__ import annotations

import pytest

from automl.config import JOB_FIELDS, resolve_settings
from automl.exceptions import ConfigError


@pytest.mark.parametrize("given, families", [
    (None, None),
    ("lightgbm,xgboost", ("lightgbm", "xgboost")),
    (" lightgbm , linear ", ("lightgbm", "linear")),
    (["lightgbm"], ("lightgbm",)),
    ("+xgboost,catboost", ("+", "xgboost", "catboost")),
    (["+xgboost", "catboost"], ("+", "xgboost", "catboost")),
])
def test_families_are_read_from_a_comma_list_or_names(given, families):
    assert resolve_settings(families=given).families == families


@pytest.mark.parametrize("given, words", [
    ("", "comma-separated family names"),
    ("+", "comma-separated family names"),
    ("lightgbm;xgboost", "comma-separated family names"),
    ([1, 2], "must be family names"),
    ("lightgbm,lightgbm", "twice"),
])
def test_malformed_families_are_refused_with_an_example(given, words):
    with pytest.raises(ConfigError, match=words):
        resolve_settings(families=given)


def test_a_job_keeps_its_families():
    assert "families" in JOB_FIELDS
