"""The invocation core without HTTP: every input format, every output format, every bad input."""

from __future__ import annotations

import io
import json
import sys
import types

import numpy as np
import pandas as pd
import pytest

from automl.exceptions import NotFound, SchemaError
from automl.model.pipeline import predict_matrix
from automl.serving import invocation
from automl.serving.invocation import CSV, JSON, invoke, predictor_for, status_for


def _csv(frame: pd.DataFrame, header: bool = False) -> bytes:
    return frame.to_csv(header=header, index=False).encode()


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.to_dict(orient="records")


def _ok(response) -> list[dict]:
    assert response.status == 200, response.body
    assert response.content_type == JSON
    return response.json()["predictions"]


def _error(response, status: int, code: str) -> dict:
    assert response.status == status, response.body
    error = response.json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "details"}
    return error


def test_botocore_reads_the_code_and_message_of_an_error(titanic):
    """boto3's sagemaker-runtime client parses error bodies with botocore's REST-JSON parser:
    it must find the same code and message as a reader of ``error``."""
    parsers = pytest.importorskip("botocore.parsers")
    response = invoke(titanic, b"1,0,abc,,", CSV)
    parsed = parsers.create_parser("rest-json").parse(
        {"status_code": response.status, "headers": {}, "body": response.body}, None)
    error = response.json()["error"]
    assert error["message"]
    assert parsed["Error"] == {"Code": error["code"], "Message": error["message"]}


def _expected_labels(bundle, rows: pd.DataFrame) -> list:
    return [v.item() if isinstance(v, np.generic) else v for v in bundle.predict(rows)]


# ---- formats -----------------------------------------------------------------------------------


def test_csv_without_header_matches_bundle_predict(titanic, titanic_rows):
    predictions = _ok(invoke(titanic, _csv(titanic_rows), CSV, JSON))
    assert [p["predicted_label"] for p in predictions] == _expected_labels(titanic, titanic_rows)
    proba = titanic.predict_proba(titanic_rows).to_numpy()
    assert np.allclose([p["probabilities"] for p in predictions], proba)
    assert np.allclose([p["probability"] for p in predictions], proba.max(axis=1))
    assert all(p["labels"] == [0, 1] for p in predictions)


def test_csv_header_row_is_detected_in_any_column_order(titanic, titanic_rows):
    shuffled = titanic_rows[list(reversed(titanic_rows.columns))].assign(extra="ignored")
    predictions = _ok(invoke(titanic, _csv(shuffled, header=True), "text/csv; charset=utf-8", JSON))
    assert [p["predicted_label"] for p in predictions] == _expected_labels(titanic, titanic_rows)


@pytest.mark.parametrize("shape", ["records", "record", "instances", "instance_lists",
                                   "features", "instance_features", "flat_list"])
def test_json_shapes(titanic, titanic_rows, shape):
    rows = titanic_rows.head(1) if shape in ("record", "features", "flat_list") else titanic_rows
    lists = rows.to_numpy().tolist()
    body = {
        "records": _records(rows), "record": _records(rows)[0],
        "instances": {"instances": _records(rows)}, "instance_lists": {"instances": lists},
        "features": {"features": lists[0]},
        "instance_features": {"instances": [{"features": r} for r in lists]},
        "flat_list": lists[0],
    }[shape]
    predictions = _ok(invoke(titanic, json.dumps(body).encode(), JSON, JSON))
    assert [p["predicted_label"] for p in predictions] == _expected_labels(titanic, rows)


def test_json_native_types_and_missing_values(titanic, titanic_rows):
    record = {"Pclass": 3, "Name": "Doe, Mr. John", "Sex": "male", "Age": None, "SibSp": 0,
              "Parch": 0, "Ticket": "A/5", "Fare": 7.25, "Cabin": None, "Embarked": "S"}
    predictions = _ok(invoke(titanic, json.dumps([record]).encode(), JSON, JSON))
    frame = pd.DataFrame([record])
    assert predictions[0]["predicted_label"] == _expected_labels(titanic, frame)[0]
    assert predictions[0]["probability"] == pytest.approx(
        titanic.predict_proba(frame).to_numpy().max())


def test_csv_response(titanic, titanic_rows):
    response = invoke(titanic, _csv(titanic_rows), CSV, CSV)
    assert response.status == 200 and response.content_type == CSV
    out = pd.read_csv(io.BytesIO(response.body), header=None)
    assert out[0].tolist() == _expected_labels(titanic, titanic_rows)
    assert np.allclose(out[1], titanic.predict_proba(titanic_rows).to_numpy().max(axis=1))


def test_regression_json_and_csv(abalone, abalone_rows):
    expected = abalone.predict(abalone_rows)
    predictions = _ok(invoke(abalone, _csv(abalone_rows), CSV, None))
    assert set(predictions[0]) == {"score"}
    assert np.allclose([p["score"] for p in predictions], expected)
    response = invoke(abalone, json.dumps(_records(abalone_rows)).encode(), JSON, "text/csv")
    assert np.allclose(np.loadtxt(io.BytesIO(response.body)), expected)


@pytest.mark.parametrize("accept", [None, "", "*/*", "application/json", "application/*",
                                    "text/html, application/json;q=0.9",
                                    "application/json;q=0.5, text/csv;q=0.1"])
def test_accept_negotiates_json(abalone, abalone_rows, accept):
    assert invoke(abalone, _csv(abalone_rows.head(2)), CSV, accept).content_type == JSON


def test_accept_prefers_higher_quality(abalone, abalone_rows):
    response = invoke(abalone, _csv(abalone_rows.head(2)), CSV, "application/json;q=0.2, text/csv")
    assert response.content_type == CSV


def test_single_row_fast_path_equals_general_path(titanic, titanic_rows):
    predictor = predictor_for(titanic)
    n_classes = len(titanic.classes)
    for record in _records(titanic_rows):
        fast = predictor.predict_one(record)
        assert fast is not None
        general = predict_matrix(titanic.model, titanic.prepare(pd.DataFrame([record])),
                                 titanic.task, n_classes)
        np.testing.assert_allclose(fast, general, rtol=1e-12)
    assert predictor_for(titanic) is predictor


def test_fast_path_defers_odd_values_to_the_general_path(titanic, titanic_rows):
    record = _records(titanic_rows)[0] | {"Pclass": True, "Age": " 22 "}
    assert predictor_for(titanic).predict_one(record) is None
    assert invoke(titanic, json.dumps(record).encode(), JSON, JSON).status == 200


# ---- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/xml", "text/plain", "", None])
def test_unsupported_content_type_is_415(titanic, content_type):
    error = _error(invoke(titanic, b"1,2", content_type, JSON), 415, "unsupported_media_type")
    assert "text/csv" in error["message"]


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/*"])
def test_unsupported_accept_is_406(titanic, titanic_rows, accept):
    _error(invoke(titanic, _csv(titanic_rows.head(1)), CSV, accept), 406, "not_acceptable")


@pytest.mark.parametrize("body", [b"", b"   \n", b"\n\n"])
@pytest.mark.parametrize("content_type", [CSV, JSON])
def test_empty_body_is_400(titanic, body, content_type):
    error = _error(invoke(titanic, body, content_type, JSON), 400, "invalid_request")
    assert "empty" in error["message"] or "no" in error["message"]


@pytest.mark.parametrize("body", [b"{", b"[1, 2", b"{'a': 1}", b"\xff\xfe\x00"])
def test_malformed_json_is_400(titanic, body):
    _error(invoke(titanic, body, JSON, JSON), 400, "invalid_request")


@pytest.mark.parametrize("body", ["42", '"text"', "null", "[]", '{"instances": []}',
                                  '{"instances": 5}', '[{"Pclass": 1}, 7]'])
def test_json_that_is_not_records_is_400(titanic, body):
    _error(invoke(titanic, body.encode(), JSON, JSON), 400, "invalid_request")


def test_nested_value_is_400(titanic, titanic_rows):
    records = _records(titanic_rows.head(2))
    records[1]["Age"] = [1, 2]
    error = _error(invoke(titanic, json.dumps(records).encode(), JSON, JSON), 400,
                   "schema_mismatch")
    assert error["details"] == {"row": 2, "column": "Age"}


def test_wrong_number_of_csv_fields_names_row_and_expected(titanic, titanic_rows):
    body = _csv(titanic_rows.head(3)).decode().splitlines()
    body[2] += ",surplus"
    error = _error(invoke(titanic, "\n".join(body).encode(), CSV, JSON), 400, "schema_mismatch")
    assert "row 3" in error["message"] and "expected 10" in error["message"]
    error = _error(invoke(titanic, b"1,2,3\n", CSV, JSON), 400, "schema_mismatch")
    assert "row 1 has 3 fields; expected 10" in error["message"]
    assert error["details"]["columns"] == titanic.schema.names


def test_json_list_with_wrong_length_is_400(titanic):
    error = _error(invoke(titanic, b'{"instances": [[1, 2]]}', JSON, JSON), 400, "schema_mismatch")
    assert "row 1 has 2 fields" in error["message"]


def test_value_that_cannot_be_coerced_names_row_and_column(titanic, titanic_rows):
    rows = titanic_rows.head(3).copy()
    rows.iloc[1, rows.columns.get_loc("Age")] = "old"
    error = _error(invoke(titanic, _csv(rows), CSV, JSON), 400, "schema_mismatch")
    assert "'Age'" in error["message"] and "row 2" in error["message"]
    assert error["details"]["column"] == "Age" and error["details"]["rows"] == [2]
    single = _records(rows)[1]
    error = _error(invoke(titanic, json.dumps(single).encode(), JSON, JSON), 400, "schema_mismatch")
    assert error["details"] == {"column": "Age", "rows": [1]}


def test_missing_columns_are_named(titanic, titanic_rows):
    rows = _records(titanic_rows.drop(columns=["Age", "Fare"]).head(2))
    error = _error(invoke(titanic, json.dumps(rows).encode(), JSON, JSON), 400, "schema_mismatch")
    assert error["details"]["missing"] == ["Age", "Fare"]
    header = _csv(titanic_rows.drop(columns=["Sex"]).head(2), header=True)
    error = _error(invoke(titanic, header, CSV, JSON), 400, "schema_mismatch")
    assert error["details"]["missing"] == ["Sex"]


def test_batch_over_limit_is_413(titanic, titanic_rows):
    _error(invoke(titanic, _csv(titanic_rows.head(11)), CSV, JSON, max_rows=10), 413,
           "payload_too_large")
    body = json.dumps(_records(titanic_rows.head(11))).encode()
    _error(invoke(titanic, body, JSON, JSON, max_rows=10), 413, "payload_too_large")
    assert invoke(titanic, _csv(titanic_rows.head(10), header=True), CSV, JSON,
                  max_rows=10).status == 200


def test_default_limit_is_ten_thousand_rows(abalone, abalone_rows):
    big = pd.concat([abalone_rows] * 251).head(10_001)
    _error(invoke(abalone, _csv(big), CSV, JSON), 413, "payload_too_large")
    assert len(_ok(invoke(abalone, _csv(big.head(10_000)), CSV, JSON))) == 10_000


def test_error_status_table():
    assert status_for(SchemaError("x")) == 400
    assert status_for(NotFound("x")) == 404
    assert status_for(invocation.PayloadTooLarge("x")) == 413


# ---- explanations ------------------------------------------------------------------------------


def test_explain_without_hook_is_501(titanic, titanic_rows, monkeypatch):
    monkeypatch.setitem(sys.modules, "automl.explain", types.ModuleType("automl.explain"))
    error = _error(invoke(titanic, _csv(titanic_rows.head(1)), CSV, JSON, explain=True), 501,
                   "not_implemented")
    assert "explanations not available" in error["message"]


def test_explain_uses_the_hook(titanic, titanic_rows, monkeypatch):
    def explain_rows(bundle, frame):
        assert bundle is titanic
        return pd.DataFrame({"Age": np.arange(len(frame), dtype=float)})

    monkeypatch.setattr(invocation, "_explain_hook", lambda: explain_rows)
    predictions = _ok(invoke(titanic, _csv(titanic_rows.head(2)), CSV, JSON, explain=True))
    assert [p["explanation"] for p in predictions] == [{"Age": 0.0}, {"Age": 1.0}]
    _error(invoke(titanic, _csv(titanic_rows.head(2)), CSV, CSV, explain=True), 406,
           "not_acceptable")


def test_bundle_predicts_one_raw_row_as_it_predicts_it_among_others(titanic):
    """One row through ModelBundle takes the scalar coercers; typed values as pandas reads
    them give what the same row gives inside a larger frame."""
    from tests.serving.conftest import SAMPLE_DATA

    rows = pd.read_csv(SAMPLE_DATA / "titanic.csv").drop(columns="Survived").head(15)
    together = titanic.predict_proba(rows).to_numpy()
    for k in range(len(rows)):
        alone = titanic.predict_proba(rows.iloc[[k]]).to_numpy()
        np.testing.assert_allclose(alone, together[[k]], rtol=1e-12, atol=1e-12)
    with pytest.raises(SchemaError, match="Age"):
        titanic.predict(rows.iloc[[0]].assign(Age="old"))


def _slow_copy(bundle):
    """The same model without its compiled paths: every request takes the pipeline."""
    from automl.model.bundle import ModelBundle

    slow = ModelBundle(bundle.model, bundle.schema, bundle.task, bundle.classes, bundle.metadata)
    slow._compiled = None
    slow._record_predictor = lambda record: None
    return slow


def test_fast_and_slow_paths_answer_bad_input_alike(titanic, titanic_rows):
    """Each bad request gets the same status and body with and without the compiled paths;
    good ones (an unseen category, a missing value) the same predictions."""
    assert titanic.compiled() is not None
    slow = _slow_copy(titanic)
    record = _records(titanic_rows)[0]
    requests = [
        (json.dumps(record | {"Age": "old"}).encode(), JSON),
        (json.dumps(record | {"Fare": "Infinity"}).encode(), JSON),
        (json.dumps({k: v for k, v in record.items() if k != "Sex"}).encode(), JSON),
        (json.dumps(record | {"Age": [1, 2]}).encode(), JSON),
        (_csv(titanic_rows.head(1)), "application/xml"),
        (_csv(titanic_rows.head(1)).replace(b",", b";"), CSV),
        (json.dumps(record | {"Sex": "unknown", "Embarked": None}).encode(), JSON),
        (json.dumps(record | {"Cabin": "Z99", "Age": ""}).encode(), JSON),
    ]
    for body, content_type in requests:
        fast, general = invoke(titanic, body, content_type, JSON), invoke(slow, body, content_type, JSON)
        assert (fast.status, fast.content_type) == (general.status, general.content_type), body
        if fast.status == 200:
            np.testing.assert_allclose(fast.json()["predictions"][0]["probabilities"],
                                       general.json()["predictions"][0]["probabilities"],
                                       rtol=1e-9)
        else:
            assert fast.json() == general.json()
