"""Every installed model family passes the conformance suite; the suite catches broken ones."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from automl.candidates.registry import FAMILIES
from automl.testing import FamilyCheckFailed, check_family, check_fast_path, check_space, tiny_case


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_installed_family_passes_check_family(name):
    check_family(FAMILIES[name])


def test_a_fast_path_that_disagrees_with_the_pipeline_fails():
    def wrong(estimator, task, n_classes):
        return lambda rows: np.full((len(rows), n_classes), 1.0 / n_classes)

    family = replace(FAMILIES["lightgbm"], name="wrong_fast_path", row_predictor=wrong)
    with pytest.raises(FamilyCheckFailed, match="wrong_fast_path.*row_predictor gives"):
        check_family(family, tasks=("binary",))


def test_a_space_that_is_not_json_fails():
    family = replace(FAMILIES["knn"], name="set_space",
                     space=lambda shape: {"p": {"type": "categorical", "choices": {1, 2}}})
    with pytest.raises(FamilyCheckFailed, match="set_space.*not JSON"):
        check_family(family, tasks=("regression",))


def test_an_exact_explainer_that_is_not_exact_fails():
    family = replace(FAMILIES["hist_gradient_boosting"], name="hgb_claims_exact",
                     shap_fallback=False)
    with pytest.raises(FamilyCheckFailed, match="hgb_claims_exact.*do not add up"):
        check_family(family, tasks=("regression",))


def test_checks_run_on_one_case_without_registering_twice():
    case = tiny_case("binary")
    check_space(FAMILIES["linear"], case)
    check_fast_path(FAMILIES["linear"], case)
    assert list(FAMILIES) == list(dict.fromkeys(FAMILIES))
