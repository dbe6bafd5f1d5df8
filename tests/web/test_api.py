"""The JSON API through the Flask test client: happy paths and bad input."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from automl.store import RUNNING

TITANIC_HEAD = b"Survived,Pclass,Sex,Age\n0,3,male,22\n1,1,female,38\n1,3,female,26\n0,1,male,54\n"


def upload(client, body: bytes, name: str = "data.csv"):
    return client.post("/api/v1/datasets", data={"file": (io.BytesIO(body), name)},
                       content_type="multipart/form-data")


def error_code(response) -> str:
    return response.json["error"]["code"]


def test_upload_multipart_lists_columns_and_types(client, sample_data):
    with open(sample_data / "titanic.csv", "rb") as fh:
        body = fh.read()
    response = upload(client, body[:4000].rsplit(b"\n", 1)[0] + b"\n", "titanic.csv")
    assert response.status_code == 201
    data = response.json
    assert data["name"] == "titanic.csv"
    assert [c["name"] for c in data["columns"]][:2] == ["Survived", "Pclass"]
    assert "int64" in {c["dtype"] for c in data["columns"]}
    assert client.get(f"/api/v1/datasets/{data['id']}").json["id"] == data["id"]
    assert [d["id"] for d in client.get("/api/v1/datasets").json["datasets"]] == [data["id"]]


def test_upload_raw_csv_body(client, dataset):
    assert dataset["n_rows"] == 6
    assert dataset["name"] == "small.csv"


@pytest.mark.parametrize("body, message", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (b"PK\x03\x04rest-of-zip", "archive"),
    (b"just one column\nvalue\n", "at least two columns"),
    (b"a,a\n1,2\n", "duplicate column names"),
    (b"a,b\n", "no data rows"),
])
def test_upload_rejects_bad_files(client, body, message):
    response = upload(client, body)
    assert response.status_code == 400
    assert error_code(response) == "invalid_dataset"
    assert message in response.json["error"]["message"]


def test_upload_without_file_field(client):
    response = client.post("/api/v1/datasets", data={"other": "x"}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "'file'" in response.json["error"]["message"]


def test_upload_wrong_content_type(client):
    response = client.post("/api/v1/datasets", json={"file": "a,b"})
    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"


@pytest.mark.parametrize("raw", [False, True])
def test_upload_too_large_is_413(client, raw):
    body = b"a,b\n" + b"1,2\n" * 20_000
    if raw:
        response = client.post("/api/v1/datasets", data=body, content_type="text/csv")
    else:
        response = upload(client, body)
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


def test_upload_name_cannot_escape_the_data_dir(client, settings, tmp_path):
    response = upload(client, TITANIC_HEAD, "../../../etc/passwd.csv")
    assert response.status_code == 201
    assert response.json["name"] == "passwd.csv"
    stored = list((tmp_path / "data" / "datasets").iterdir())
    assert [p.name for p in stored] == [f"{response.json['id']}.csv"]
    assert not (tmp_path / "etc").exists()


def test_create_job_queues_it(client, dataset):
    response = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "label",
                                                  "time_budget": 10, "metric": "accuracy",
                                                  "trial_timeout": 4, "max_latency_ms": 2.5,
                                                  "families": ["+linear"]})
    assert response.status_code == 202
    job = response.json
    assert job["settings"]["families"] == ["+", "linear"]
    assert "families the default set + linear" in client.get(f"/jobs/{job['id']}").get_data(
        as_text=True)
    assert job["status"] == "queued"
    assert job["settings"]["time_budget"] == 10
    assert job["settings"]["trial_timeout"] == 4
    assert job["settings"]["max_latency_ms"] == 2.5
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert client.get(f"/api/v1/jobs/{job['id']}").json["status"] == "queued"
    assert [j["id"] for j in client.get("/api/v1/jobs").json["jobs"]] == [job["id"]]
    board = client.get(f"/api/v1/jobs/{job['id']}/leaderboard").json
    assert board["rows"] == [] and board["final"] is False


@pytest.mark.parametrize("change, status, code, text", [
    ({"target": "nope"}, 400, "invalid_request", "columns are: x, y, label"),
    ({"metric": "bogus"}, 400, "invalid_request", "unknown metric"),
    ({"task": "regression", "metric": "auc"}, 400, "invalid_config", "does not fit"),
    ({"task": "clustering"}, 400, "invalid_request", "schema"),
    ({"time_budget": -5}, 400, "invalid_request", "schema"),
    ({"time_budget": 1e12}, 400, "invalid_request", "schema"),
    ({"max_candidates": 0}, 400, "invalid_request", "schema"),
    ({"trial_timeout": 0}, 400, "invalid_request", "schema"),
    ({"time_budget": None}, 400, "invalid_config", "time budget"),
    ({"dataset_id": "ds_unknown"}, 404, "not_found", "not found"),
    ({"dataset_id": "../../etc"}, 404, "not_found", "not found"),
    ({"surprise": 1}, 400, "invalid_request", "schema"),
    ({"families": ["lightgbm", "xgbost"]}, 400, "invalid_config",
     "unknown model family xgbost; installed: lightgbm,"),
    ({"families": []}, 400, "invalid_request", "schema"),
    ({"families": "lightgbm"}, 400, "invalid_request", "schema"),
])
def test_create_job_rejects_bad_settings(client, dataset, change, status, code, text):
    body = {"dataset_id": dataset["id"], "target": "label", **change}
    response = client.post("/api/v1/jobs", json=body)
    assert response.status_code == status, response.json
    assert error_code(response) == code
    assert text in response.json["error"]["message"]


@pytest.mark.parametrize("limit, why", [(0, "greater than 0"), (-3, "greater than 0"),
                                        ("fast", "valid number")])
def test_a_latency_limit_must_be_a_positive_number_of_milliseconds(client, dataset, limit, why):
    response = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "label",
                                                  "max_latency_ms": limit})
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    [error] = response.json["error"]["details"]["errors"]
    assert error["loc"] == ["max_latency_ms"] and why in error["msg"]


MULTICLASS_CSV = b"a,b,kind\n" + b"".join(b"%d,%d,%s\n" % (i, i % 7, b"xyz"[i % 3:i % 3 + 1])
                                            for i in range(30))


@pytest.mark.parametrize("target, metric, fitting", [
    ("kind", "rmse", "auc, logloss, accuracy, balanced_accuracy, f1_macro"),
    ("a", "auc", "rmse, mse, mae, r2"),
])
def test_a_metric_that_does_not_fit_the_target_is_refused_at_submission(client, target, metric,
                                                                        fitting):
    dataset = upload(client, MULTICLASS_CSV).json
    response = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": target,
                                                 "metric": metric})
    assert response.status_code == 400, response.json
    assert f"use one of: {fitting}" in response.json["error"]["message"]
    assert client.get("/api/v1/jobs").json["jobs"] == []


def test_a_target_with_a_single_value_is_refused_at_submission(client):
    dataset = upload(client, b"x,same\n1,a\n2,a\n3,a\n").json
    response = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "same"})
    assert response.status_code == 400 and error_code(response) == "invalid_dataset"
    assert "'same' has fewer than two distinct values" in response.json["error"]["message"]


def test_upload_profiles_every_row_not_only_the_first(client):
    """A column constant over the first thousand rows, then varied; a yes/no target."""
    rows = [f"{i},{'may' if i < 1500 else ['jun', 'jul'][i % 2]},{'yes' if i % 3 else 'no'}"
            for i in range(2000)]
    body = ("id,month,y\n" + "\n".join(rows) + "\n").encode()
    data = upload(client, body).json
    month, y = data["columns"][1], data["columns"][2]
    assert (month["role"], month["n_unique"]) == ("categorical", 3)
    assert y["as_target"] == "binary" and month["as_target"] == "multiclass"
    assert not any(w["column"] == "month" for w in data["warnings"])


def test_create_job_malformed_json_and_wrong_type(client):
    bad = client.post("/api/v1/jobs", data="{not json", content_type="application/json")
    assert bad.status_code == 400 and "not valid JSON" in bad.json["error"]["message"]
    array = client.post("/api/v1/jobs", json=[1, 2])
    assert array.status_code == 400 and "JSON object" in array.json["error"]["message"]
    form = client.post("/api/v1/jobs", data={"dataset_id": "x"})
    assert form.status_code == 415


@pytest.mark.parametrize("path", [
    "/api/v1/jobs/job_nope", "/api/v1/jobs/job_nope/leaderboard", "/api/v1/jobs/job_nope/model",
    "/api/v1/jobs/job_nope/candidates/c1", "/api/v1/datasets/ds_nope", "/api/v1/nothing-here",
    "/api/v1/jobs/..%2F..%2Fetc/leaderboard",
])
def test_unknown_ids_are_404_json(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert set(response.json["error"]) == {"code", "message", "details"}


def test_results_of_a_queued_job_are_409(client, dataset):
    job = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "label"}).json
    model = client.get(f"/api/v1/jobs/{job['id']}/model")
    assert model.status_code == 409 and "queued" in model.json["error"]["message"]
    notebook = client.get(f"/api/v1/jobs/{job['id']}/notebooks/data-exploration")
    assert notebook.status_code == 409
    guessed = client.get(f"/api/v1/jobs/{job['id']}/notebooks/ensemble")
    assert guessed.status_code == 404
    hint = guessed.json["error"]["message"]
    assert "data-exploration" in hint and f"/api/v1/jobs/{job['id']}/candidates/" in hint


def test_cancel_queued_then_delete(client, dataset):
    job = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "label"}).json
    cancelled = client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 202 and cancelled.json["status"] == "cancelled"
    assert client.delete(f"/api/v1/jobs/{job['id']}").status_code == 204
    assert client.get(f"/api/v1/jobs/{job['id']}").status_code == 404


def test_running_job_cannot_be_deleted(client, service, dataset):
    job = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "label"}).json
    assert service.store.claim_next()["id"] == job["id"]
    response = client.delete(f"/api/v1/jobs/{job['id']}")
    assert response.status_code == 409 and "cancel it first" in response.json["error"]["message"]
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel").json["cancel_requested"] is True


def fake_finished_job(client, service, dataset, settings) -> str:
    """A job taken through the store as the runner would, with artifacts written by hand."""
    job_id = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "label"}).json["id"]
    store = service.store
    store.claim_next()
    store.set_running_fields(job_id, metric="accuracy", greater_is_better=True)
    for number, score in enumerate([0.5, 0.75, float("nan")]):
        state = "failed" if score != score else "complete"
        store.add_trial(job_id, {"candidate_id": f"lgbm_{number:03d}", "number": number,
                                 "family": "lgbm", "recipe": "trees", "params": {"n": number},
                                 "state": state, "score": score, "score_std": 0.1,
                                 "fold_scores": [score, score]}, elapsed_s=number)
    live = client.get(f"/api/v1/jobs/{job_id}/leaderboard").json
    assert [r["candidate_id"] for r in live["rows"]] == ["lgbm_001", "lgbm_000", "lgbm_002"]
    out = settings.data_dir + f"/jobs/{job_id}"
    import pathlib
    root = pathlib.Path(out)
    (root / "model").mkdir(parents=True)
    (root / "model" / "metadata.json").write_text("{}")
    (root / "notebooks").mkdir()
    (root / "notebooks" / "lgbm_001.ipynb").write_text('{"cells": []}')
    (root / "notebooks" / "data-exploration.ipynb").write_text('{"cells": []}')
    (root / "leaderboard.json").write_text(json.dumps({"metric": "accuracy", "greater_is_better": True,
                                                       "rows": live["rows"]}))
    store.finish(job_id, "completed")
    return job_id


def test_finished_job_serves_results(client, service, dataset, settings):
    job_id = fake_finished_job(client, service, dataset, settings)
    job = client.get(f"/api/v1/jobs/{job_id}").json
    assert job["status"] == "completed" and "model" in job["links"]
    assert client.get(f"/api/v1/jobs/{job_id}/leaderboard").json["final"] is True
    candidate = client.get(f"/api/v1/jobs/{job_id}/candidates/lgbm_001").json
    assert candidate["fold_scores"] == [0.75, 0.75] and "notebook" in candidate["links"]
    failed = client.get(f"/api/v1/jobs/{job_id}/candidates/lgbm_002").json
    assert failed["score"] is None
    with client.get(f"/api/v1/jobs/{job_id}/model") as model:
        assert model.status_code == 200 and model.mimetype == "application/zip"
        assert zipfile.ZipFile(io.BytesIO(model.data)).namelist() == ["metadata.json"]
    with client.get(f"/api/v1/jobs/{job_id}/candidates/lgbm_001/notebook") as notebook:
        assert notebook.status_code == 200
    missing = client.get(f"/api/v1/jobs/{job_id}/candidates/lgbm_000/notebook")
    assert missing.status_code == 409 and "not written" in missing.json["error"]["message"]
    assert client.get(f"/api/v1/jobs/{job_id}/candidates/zzz/notebook").status_code == 404
    with client.get(f"/api/v1/jobs/{job_id}/notebooks/data-exploration") as notebook:
        assert notebook.status_code == 200
    assert client.get(f"/api/v1/jobs/{job_id}/notebooks/candidate-definitions").status_code == 409
    assert client.get(f"/api/v1/jobs/{job_id}/trials").json["trials"][1]["score"] == 0.75


def test_unexpected_error_shows_only_a_request_id(app, caplog):
    def boom():
        raise RuntimeError("secret detail")

    app.add_url_rule("/api/v1/boom", view_func=boom)
    response = app.test_client().get("/api/v1/boom")
    assert response.status_code == 500
    rid = response.json["error"]["details"]["request_id"]
    assert "secret" not in response.get_data(as_text=True)
    assert response.headers["X-Request-Id"] == rid
    assert any(rid in r.getMessage() for r in caplog.records)


def test_openapi_document_is_valid_and_complete(client):
    validate = pytest.importorskip("openapi_spec_validator").validate
    doc = client.get("/api/v1/openapi.json").json
    validate(doc)
    assert "JobCreate" in doc["components"]["schemas"]
    post = doc["paths"]["/api/v1/jobs"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("JobCreate")
    assert {"/api/v1/jobs/{job_id}/model", "/api/v1/datasets"} <= set(doc["paths"])


def test_running_status_reports_live_time(client, service, dataset):
    job = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "label",
                                             "time_budget": 100}).json
    service.store.claim_next()
    live = client.get(f"/api/v1/jobs/{job['id']}").json
    assert live["status"] == RUNNING
    assert 0 < live["progress"]["remaining_s"] <= 100


def test_gzip_csv_is_accepted_and_broken_gzip_refused(client):
    import gzip

    body = b"x,y,label\n" + b"".join(b"%d,%d,a\n" % (i, i) for i in range(50))
    response = upload(client, gzip.compress(body), "data.csv.gz")
    assert response.status_code == 201, response.json
    assert response.json["n_rows"] == 50 and response.json["name"] == "data.csv.gz"
    cut = upload(client, gzip.compress(body)[:30], "cut.csv.gz")
    assert cut.status_code == 400 and "gzip" in cut.json["error"]["message"]


def test_upload_errors_name_the_users_file(client):
    response = upload(client, b"a,b\x00\x01\n1,2\n", "mine.csv")
    assert response.status_code == 400
    message = response.json["error"]["message"]
    assert "mine.csv" in message and "ds_" not in message


def test_dataset_list_pages(client):
    ids = [upload(client, b"a,b\n1,2\n3,4\n").json["id"] for _ in range(3)]
    first = client.get("/api/v1/datasets?limit=2").json
    assert [d["id"] for d in first["datasets"]] == ids[::-1][:2] and first["next_offset"] == 2
    rest = client.get("/api/v1/datasets?limit=2&offset=2").json
    assert [d["id"] for d in rest["datasets"]] == ids[:1] and rest["next_offset"] is None
    assert client.get("/api/v1/datasets?limit=0").status_code == 400
    assert client.get("/api/v1/datasets?offset=77386981599175655424").status_code == 400


def test_405_names_the_allowed_methods_and_204_has_no_type(client, dataset):
    response = client.put(f"/api/v1/datasets/{dataset['id']}", json={})
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert response.json["error"]["code"] == "method_not_allowed"
    job = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "label"}).json
    client.post(f"/api/v1/jobs/{job['id']}/cancel")
    deleted = client.delete(f"/api/v1/jobs/{job['id']}")
    assert deleted.status_code == 204 and "Content-Type" not in deleted.headers


def test_upload_form_too_large_is_our_page(client):
    from tests.web.conftest import csrf

    body = b"a,b\n" + b"1,2\n" * 20_000
    response = client.post("/upload", data={"file": (io.BytesIO(body), "big.csv"),
                                             "csrf_token": csrf(client)},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "AUTOML_MAX_UPLOAD_BYTES" in page and 'class="brand"' in page


@pytest.fixture
def limited(tmp_path):
    from automl.service_config import resolve_service_settings
    from web import create_app

    settings = resolve_service_settings(env={}, data_dir=str(tmp_path / "lim"), max_columns=50,
                                        max_field_bytes=1000)
    before = csv.field_size_limit()
    yield create_app({"TESTING": True, "SERVICE_SETTINGS": settings}).test_client()
    csv.field_size_limit(before)  # the limit is per process; give the other tests theirs back


def test_too_many_columns_is_400_at_upload(limited):
    wide = ",".join(f"c{i}" for i in range(60)) + "\n" + ",".join("1" * 60) + "\n"
    response = upload(limited, wide.encode(), "wide.csv")
    assert response.status_code == 400
    assert "60 columns" in response.json["error"]["message"]
    assert "AUTOML_MAX_COLUMNS" in response.json["error"]["message"]


def test_a_header_line_longer_than_the_sniffed_head_is_counted_whole(limited):
    wide = ",".join(f"column_{i:07d}" for i in range(30_000)) + "\n" + "1," * 29_999 + "1\n"
    response = upload(limited, wide.encode(), "long-header.csv")
    assert response.status_code == 400 and "AUTOML_MAX_COLUMNS" in response.text


def test_a_field_over_the_limit_is_400_at_upload(limited):
    body = b"a,b\n1," + b"x" * 5000 + b"\n2,y\n"
    response = upload(limited, body, "long-field.csv")
    assert response.status_code == 400
    message = response.json["error"]["message"]
    assert "line 2" in message and "AUTOML_MAX_FIELD_BYTES" in message


def test_delete_a_dataset_refused_while_a_job_uses_it(client, settings, dataset):
    job = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "label"}).json
    refused = client.delete(f"/api/v1/datasets/{dataset['id']}")
    assert refused.status_code == 409 and error_code(refused) == "conflict"
    assert f"used by job(s) {job['id']}; delete those jobs first" in refused.json["error"]["message"]
    from tests.web.conftest import csrf

    token = {"csrf_token": csrf(client, f"/datasets/{dataset['id']}")}
    page = client.post(f"/datasets/{dataset['id']}/delete", data=token)
    assert page.status_code == 409 and job["id"] in page.get_data(as_text=True)
    assert client.delete(f"/api/v1/jobs/{job['id']}").status_code == 204
    stored = list((Path(settings.data_dir) / "datasets").glob(f"{dataset['id']}*"))
    assert stored
    deleted = client.post(f"/datasets/{dataset['id']}/delete", data=token)
    assert deleted.status_code == 302 and deleted.headers["Location"] == "/"
    assert client.get(f"/api/v1/datasets/{dataset['id']}").status_code == 404
    assert not any(p.exists() for p in stored)
    assert client.delete(f"/api/v1/datasets/{dataset['id']}").status_code == 404


def test_api_docs_are_served_by_the_app_without_a_cdn(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    scripts = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/swagger-ui/swagger-ui-bundle.js" in scripts and "/api/v1/openapi.json" in html
    assert not [s for s in scripts if "//" in s]
    for path in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"):
        response = client.get(f"/static/swagger-ui/{path}")
        assert response.status_code == 200, path
        response.close()
    assert 'href="/api/v1/docs"' in client.get("/").get_data(as_text=True)


def test_a_finished_jobs_warnings_reach_the_api_and_its_page(client, service, dataset, settings):
    import pathlib

    job_id = fake_finished_job(client, service, dataset, settings)
    board = pathlib.Path(settings.data_dir) / "jobs" / job_id / "leaderboard.json"
    warning = {"code": "trials_timed_out", "message": "4 of 5 trials ran out of time; remedy: "
                                                      "give a larger time budget"}
    written = json.loads(board.read_text())
    rows = [{"fit_s": 0.5, "predict_ms_per_row": 0.1, **r} for r in written["rows"]]
    board.write_text(json.dumps({**written, "rows": rows, "warnings": [warning]}))
    assert client.get(f"/api/v1/jobs/{job_id}").json["warnings"] == [warning]
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert "4 of 5 trials ran out of time" in page.get_data(as_text=True)
    fresh = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "label"}).json
    assert fresh["warnings"] == []


def test_latency_and_exclusions_reach_the_leaderboard_api_and_the_job_page(client, service,
                                                                            dataset, settings):
    import pathlib

    job_id = fake_finished_job(client, service, dataset, settings)
    board = pathlib.Path(settings.data_dir) / "jobs" / job_id / "leaderboard.json"
    written = json.loads(board.read_text())
    reason = "single-row latency (p50) is 7.25 ms, over the 5 ms limit"
    rows = [{"fit_s": 0.5, "predict_ms_per_row": 0.1, **r, "latency_ms": 0.042, "excluded": ""}
            for r in written["rows"]]
    rows[1] = {**rows[1], "latency_ms": 7.25, "excluded": reason}
    board.write_text(json.dumps({**written, "rows": rows}))
    served = client.get(f"/api/v1/jobs/{job_id}/leaderboard").json["rows"]
    assert [(r["latency_ms"], r["excluded"]) for r in served[:2]] == [(0.042, ""), (7.25, reason)]
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "Row p50 ms" in page and "<td>7.250</td>" in page and reason in page
