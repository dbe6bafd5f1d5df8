"""The API's rows are the candidates' records: every field they document is a record's field,
and a trial's, a failed trial's and an ensemble's records validate as them unchanged."""

from __future__ import annotations

import pytest

from automl.search.records import ROW_FIELDS, EnsembleResult, TrialResult, TrialState
from web.schemas import Candidate, LeaderboardRow

TRIAL = TrialResult(candidate_id="linear_001", number=1, family="linear", recipe="linear",
                    params={"C": 1.0}, state=TrialState.COMPLETE, score=0.87, score_std=0.02,
                    fold_scores=[0.86, 0.88], secondary={"auc": 0.87}, fit_s=0.1,
                    predict_ms_per_row=0.05, size_bytes=2000, run_s=0.4, cpu_s=0.3)
FAILED = TrialResult(candidate_id="knn_002", number=2, family="knn", recipe="linear",
                     params={}, state=TrialState.TIMED_OUT, reason="trial ran past its 5 s limit")
ENSEMBLE = EnsembleResult(weights={"linear_001": 1.0}, score=0.87, score_std=0.02,
                          fold_scores=[0.86, 0.88], secondary={}, fit_s=0.1,
                          predict_ms_per_row=0.05, size_bytes=2000)
NOT_RECORD = {"rank", "job_id", "spec", "links", "explanation", "quality", "figures"}


@pytest.mark.parametrize("model", [LeaderboardRow, Candidate])
def test_every_field_the_api_documents_is_a_records_field(model):
    assert set(model.model_fields) - NOT_RECORD <= set(ROW_FIELDS)


@pytest.mark.parametrize("record", [TRIAL, FAILED, ENSEMBLE], ids=["trial", "failed", "ensemble"])
def test_every_record_validates_as_the_apis_rows_unchanged(record):
    row = record.to_dict()
    board = LeaderboardRow.model_validate({**row, "rank": 1}).model_dump()
    candidate = Candidate.model_validate({**row, "job_id": "job_1"}).model_dump()
    for shown in (board, candidate):
        assert {k: v for k, v in shown.items() if k in row} == {k: row[k] for k in shown if k in row}
    assert candidate["members"] == ({"linear_001": 1.0} if record is ENSEMBLE else {})
