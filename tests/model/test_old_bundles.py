"""Bundles written before the model layer existed load and predict the same numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl
from automl.model.bundle import ModelBundle
from automl.serving.invocation import JSON, invoke

HERE = Path(__file__).parent / "bundles_034af38"
SAMPLES = Path(__file__).parents[2] / "sample_data"
EXPECTED = json.loads((HERE / "expected.json").read_text())


def _rows(case: dict) -> pd.DataFrame:
    start, stop = case["rows"]
    return pd.read_csv(SAMPLES / f"{case['data']}.csv").iloc[start:stop]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_old_bundle_predicts_what_it_predicted_when_written(name):
    case = EXPECTED[name]
    bundle = ModelBundle.load(HERE / name)
    frame = _rows(case)
    np.testing.assert_allclose(bundle.matrix(bundle.prepare(frame)), case["matrix"], rtol=1e-9)
    np.testing.assert_allclose(bundle.predict_one(frame.iloc[0].to_dict()), case["one_row"],
                               rtol=1e-9)
    assert list(automl.load(HERE / name).predict(frame)) == case["predict"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_old_bundle_answers_an_invocation(name):
    case = EXPECTED[name]
    frame = _rows(case).drop(columns=[ModelBundle.load(HERE / name).schema.target])
    body = frame.head(3).to_json(orient="records").encode()
    response = invoke(ModelBundle.load(HERE / name), body, JSON, JSON)
    assert response.status == 200, response.body
    assert len(response.json()["predictions"]) == 3
