"""Retraining material from labelled captures, and champion against challenger on the newest
held-out window (issue 16, part 3, the library side)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.candidates.generator import build_pipeline, generate_candidates
from automl.exceptions import InvalidRequest
from automl.model.bundle import ModelBundle
from automl.monitoring.reader import ReadStats, Window
from automl.monitoring.retrain import (
    compare_on_holdout,
    first_copies,
    labelled_captures,
    retraining_data,
)
from automl.testing import tiny_case


@pytest.fixture(scope="module")
def case():
    case = tiny_case("binary", n=400)
    case.raw = case.raw.assign(y=np.asarray(case.classes, dtype=object)[case.y])
    return case


def bundle(case, y) -> ModelBundle:
    spec = generate_candidates(case.shape, families=["linear"])[0]
    model = build_pipeline(spec, spec.defaults[0], case.schema, 0).fit(case.X, y)
    return ModelBundle(model, case.schema, case.task, case.classes)


def captured(case, n: int = 200) -> tuple[Window, pd.DataFrame]:
    """The last ``n`` rows as captured requests, newest last; every other one labelled."""
    rows = case.raw.iloc[-n:].drop(columns="y").reset_index(drop=True)
    ids = np.array([f"req-{i}" for i in range(n)], dtype=object)
    times = np.array([f"2026-12-01T{i // 60:02d}:{i % 60:02d}:00Z" for i in range(n)])
    window = Window(rows, ids, times, None, ReadStats())
    labels = case.raw["y"].iloc[-n:].to_numpy()
    truth = pd.DataFrame({"inference_id": ids[::2], "label": labels[::2].astype(str)})
    return window, truth


def test_labelled_captures_join_the_training_data_and_the_newest_are_held_out(case):
    window, truth = captured(case)
    labelled = labelled_captures(window, truth, "y", case.task, case.classes)
    assert len(labelled) == 100 and list(labelled["_inference_time"]) == sorted(labelled["_inference_time"])
    assert set(labelled["y"]) <= set(case.classes)
    original = case.raw.iloc[:200]
    data = retraining_data(original, labelled, "y")
    assert len(data.holdout) == 30 and data.added == 70
    assert len(data.train) == 270 and list(data.train.columns) == list(original.columns)
    assert data.summary()["holdout_since"] == labelled["_inference_time"].iloc[70]
    held = set(map(tuple, data.holdout.drop(columns="y").astype(str).to_numpy()))
    trained = set(map(tuple, data.train.iloc[200:].drop(columns="y").astype(str).to_numpy()))
    assert not held & trained  # the challenger never sees the rows it is judged on


def test_too_few_labels_to_hold_out_is_a_clear_error(case):
    window, truth = captured(case, n=40)
    labelled = labelled_captures(window, truth, "y", case.task, case.classes)
    with pytest.raises(InvalidRequest, match="send ground truth for more requests"):
        retraining_data(case.raw.iloc[:100], labelled, "y")


def test_a_worse_challenger_is_shown_worse_with_an_interval(case):
    champion = bundle(case, case.y)
    shuffled = np.random.default_rng(1).permutation(case.y)
    challenger = bundle(case, shuffled)
    holdout = case.raw.iloc[-120:].reset_index(drop=True)
    result = compare_on_holdout(champion, challenger, holdout, "auc", rounds=300)
    assert result["metric"] == "auc" and result["rows"] == 120
    assert result["champion"]["score"] > result["challenger"]["score"]
    low, high = result["improvement"]["interval"]
    assert low <= result["improvement"]["value"] <= high < 0
    same = compare_on_holdout(champion, champion, holdout, "logloss", rounds=100)
    assert same["improvement"]["value"] == 0 and same["improvement"]["interval"] == [0.0, 0.0]


def test_a_shadow_s_copies_of_requests_count_once(case):
    """The shadow captures production's requests under their inference ids: one row each."""
    window, truth = captured(case)
    production, shadow = first_copies([window, window])
    assert len(production.frame) == len(window.frame) and len(shadow.frame) == 0
    once = labelled_captures(production, truth, "y", case.task, case.classes)
    assert len(once) == len(labelled_captures(window, truth, "y", case.task, case.classes))
