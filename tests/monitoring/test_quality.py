"""Ground truth (SageMaker's JSON lines and CSV), measured quality, and CBPE estimates."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from automl.exceptions import InvalidRequest
from automl.monitoring.quality import (
    GroundTruthStore,
    estimate_quality,
    match_ground_truth,
    measure_quality,
    parse_ground_truth,
)

IDS = np.array(["a", "b", "c", "batch:0", "batch:1"], dtype=object)


def _jsonl(pairs) -> str:
    return "\n".join(json.dumps({"groundTruthData": {"data": label, "encoding": "CSV"},
                                 "eventMetadata": {"eventId": event_id}, "eventVersion": "0"})
                     for event_id, label in pairs) + "\n"


def test_jsonlines_and_csv_give_the_same_labels():
    pairs = [("a", "1"), ("batch:1", "0")]
    from_json = parse_ground_truth(_jsonl(pairs).encode())
    from_csv = parse_ground_truth("inference_id,label\na,1\nbatch:1,0\n")
    headerless = parse_ground_truth("a,1\nbatch:1,0\n", "text/csv")
    for frame in (from_json, from_csv, headerless):
        assert list(zip(frame["inference_id"], frame["label"], strict=True)) == pairs
    rows, y = match_ground_truth(from_json, IDS, "binary", [0, 1])
    assert rows.tolist() == [0, 4] and y.tolist() == [1, 0]


def test_labels_are_matched_to_the_model_classes_as_text():
    truth = parse_ground_truth("a,yes\nb,no\nc,1.0\n")
    _, y = match_ground_truth(truth.iloc[:2], IDS, "binary", ["no", "yes"])
    assert y.tolist() == [1, 0]
    _, y = match_ground_truth(truth.iloc[2:], IDS, "multiclass", [1, 2, 3])
    assert y.tolist() == [0]


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ('{"groundTruthData": {"data": "1"}}\n', "line 1 is not a ground-truth record"),
    (_jsonl([("a", "1")]) + "{torn", "line 2 is not a ground-truth record"),
    ("a,1\nb\n", "row 2 has 1 fields"),
    ("a,1\nb,0\na,0\n", "appear more than once ('a')"),
])
def test_malformed_ground_truth_is_refused_whole(content, message):
    with pytest.raises(InvalidRequest, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_ground_truth(content)


def test_unknown_ids_and_foreign_labels_are_refused():
    with pytest.raises(InvalidRequest, match=r"2 inference ids have no captured request \('x', 'y'\)"):
        match_ground_truth(parse_ground_truth("a,1\nx,0\ny,1\n"), IDS, "binary", [0, 1])
    with pytest.raises(InvalidRequest, match=r"labels 'maybe' are not classes of this model"):
        match_ground_truth(parse_ground_truth("a,1\nb,maybe\n"), IDS, "binary", [0, 1])
    with pytest.raises(InvalidRequest, match="must be numbers"):
        match_ground_truth(parse_ground_truth("a,1.5\nb,lots\n"), IDS, "regression", None)


def test_measured_quality_is_the_metric_on_the_labelled_rows():
    rng = np.random.default_rng(0)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    proba = np.column_stack([1 - p, p])
    quality = measure_quality(y, proba, "binary", "auc")
    assert quality["value"] == pytest.approx(roc_auc_score(y, p))
    assert quality["metrics"]["accuracy"] == pytest.approx(accuracy_score(y, p >= 0.5))
    assert quality["estimated"] is False and quality["rows"] == 500


@pytest.mark.parametrize("k", [2, 4])
def test_cbpe_estimates_calibrated_models_closely(k):
    rng = np.random.default_rng(k)
    logits = rng.normal(0, 2, (20_000, k))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in proba])  # labels drawn as calibrated
    estimate = estimate_quality(proba, "binary" if k == 2 else "multiclass", "accuracy")
    assert estimate["estimated"] is True
    assert estimate["value"] == pytest.approx(accuracy_score(y, proba.argmax(axis=1)), abs=0.02)
    auc = roc_auc_score(y, proba[:, 1]) if k == 2 else roc_auc_score(y, proba, multi_class="ovr")
    assert estimate["metrics"]["auc"] == pytest.approx(auc, abs=0.02)
    assert estimate_quality(proba[:, 0], "regression", "rmse") is None


def test_the_store_keeps_uploads_whole(tmp_path):
    store = GroundTruthStore(tmp_path / "truth")
    assert store.load().empty
    assert store.add(parse_ground_truth("a,1\nb,0\n")) == 2
    with pytest.raises(InvalidRequest, match=r"1 inference ids already have a label \('b'\)"):
        store.add(parse_ground_truth("c,1\nb,1\n"))
    stored = store.load()
    assert list(zip(stored["inference_id"], stored["label"], strict=True)) == [("a", "1"), ("b", "0")]
    assert store.add(parse_ground_truth(_jsonl([("c", "1")]))) == 1
    assert sorted(store.load()["inference_id"]) == ["a", "b", "c"]
    assert not list((tmp_path / "truth").glob(".*partial"))
