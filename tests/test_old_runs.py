"""A run directory written before the trial records had types of their own keeps loading: its
manifests read as records, its leaderboard comes out as it was written (with the row fields
added since, ``ADDED``, at their defaults), and a candidate deploys
from it (see tests/old_runs/*/README.md; the service's view of it: tests/web/test_old_run_service.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from automl.deploy import ensure_bundle
from automl.layout import JobLayout
from automl.leaderboard import leaderboard_json, make_leaderboard
from automl.metrics import get_metric
from automl.model.bundle import ModelBundle
from automl.search.records import EnsembleResult, TrialResult, result_from_dict

OLD = JobLayout(Path(__file__).parent / "old_runs" / "titanic_da4dc16")
BOARD = json.loads(OLD.leaderboard_json.read_text())
ADDED = {"latency_ms": None, "excluded": ""}  # row fields added since, at what an old row means


def _without_added(row: dict) -> dict:
    assert {k: row[k] for k in ADDED} == ADDED
    return {k: v for k, v in row.items() if k not in ADDED}


def _records() -> list:
    return [result_from_dict(json.loads(p.read_text())) for p in sorted(OLD.trials.glob("*.json"))]


def test_every_manifest_reads_as_its_record_and_writes_back_the_same():
    for path in sorted(OLD.trials.glob("*.json")):
        written = json.loads(path.read_text())
        record = result_from_dict(written)
        assert type(record) is (EnsembleResult if path.stem == "ensemble" else TrialResult)
        back = _without_added(record.manifest(None) | {"spec": written["spec"]})
        assert json.dumps(back) == json.dumps(written)


def test_the_leaderboard_made_from_the_manifests_is_the_one_written():
    metric = get_metric(BOARD["metric"], "binary")
    made = leaderboard_json(_records(), metric)
    made["rows"] = [_without_added(row) for row in made["rows"]]
    assert made == {k: BOARD[k] for k in ("metric", "greater_is_better", "rows")}
    table = make_leaderboard(_records(), metric).drop(columns=list(ADDED))
    table["params"] = table["params"].map(lambda p: json.dumps(p, default=str))
    assert table.to_csv(index=False) == OLD.leaderboard_csv.read_text()


def test_a_candidate_of_an_old_run_deploys(tmp_path, sample_data):
    job = shutil.copytree(OLD.root, tmp_path / "job")
    settings = json.loads(OLD.settings.read_text())
    path = ensure_bundle(job, "knn_002", sample_data / "titanic.csv", "Survived", settings)
    assert path == JobLayout(job).candidate_model("knn_002")
    bundle = ModelBundle.load(path)
    row = next(r for r in BOARD["rows"] if r["candidate_id"] == "knn_002")
    assert {k: bundle.metadata[k] for k in ("candidate_id", "family", "params", "score")} == {
        k: row[k] for k in ("candidate_id", "family", "params", "score")}
    frame = pd.read_csv(sample_data / "titanic.csv").head(5)
    assert set(bundle.predict(frame)) <= {0, 1}
