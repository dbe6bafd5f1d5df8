"""Endpoints through the Flask test client: deploy, CRUD, invocations, batch, pages, auth, and
an atomic repoint under concurrent invocations. The module's data directory is a copy of the
session's one real job (titanic, two candidates, run by the job runner's own ``execute``)."""

from __future__ import annotations

import io
import json
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flask import request

from automl.model.bundle import ModelBundle
from automl.service_config import resolve_service_settings
from automl.serving.batch import prediction_frame
from automl.store import FAILED
from automl.store.endpoints import EndpointStore
from automl.store.files import dataset_path
from tests.web.conftest import csrf
from web import create_app

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "titanic.csv"
ROW_CSV = '3,"Braund, Mr. Owen Harris",male,22,1,0,A/5 21171,7.25,,S\n'


@pytest.fixture(scope="module")
def settings(tmp_path_factory, finished_titanic):
    data = tmp_path_factory.mktemp("endpoints") / "data"
    finished_titanic(data)
    return resolve_service_settings(env={}, data_dir=str(data))


@pytest.fixture(scope="module")
def app(settings):
    return create_app({"TESTING": True, "SERVICE_SETTINGS": settings})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def job(client, settings) -> dict:
    """A completed job with a winner and at least one other completed candidate."""
    [job] = client.get("/api/v1/jobs").json["jobs"]
    assert job["status"] == "completed", job
    rows = client.get(f"/api/v1/jobs/{job['id']}/leaderboard").json["rows"]
    others = [r["candidate_id"] for r in rows[1:] if r["state"] == "complete"]
    assert others, rows
    return {"id": job["id"], "dataset_id": job["dataset_id"], "winner": rows[0]["candidate_id"],
            "other": others[-1], "dir": Path(settings.data_dir) / "jobs" / job["id"]}


@pytest.fixture(scope="module")
def job_without_fare(app, job, settings) -> dict:
    """A completed job whose model reads other columns than ``job``'s winner: a copy of that
    winner with 'Fare' dropped from its schema and 'Deck' added (a second real job costs ~15 s;
    no test invokes this model, they only compare schemas)."""
    store = app.extensions["automl"].store
    row = store.create_job(job["dataset_id"], "Survived", {})
    assert store.claim_next()["id"] == row["id"]
    assert store.finish(row["id"], "completed")
    model = Path(settings.data_dir) / "jobs" / row["id"] / "model"
    shutil.copytree(job["dir"] / "model", model)
    schema = json.loads((model / "schema.json").read_text())
    schema["columns"] = [c for c in schema["columns"] if c["name"] != "Fare"] + [
        {"name": "Deck", "role": "categorical", "numeric_codes": False}]
    (model / "schema.json").write_text(json.dumps(schema))
    return store.get_job(row["id"])


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return pd.read_csv(SAMPLE, dtype=str, keep_default_na=False).drop(columns="Survived").head(30)


def deploy(client, name: str, job_id: str, candidate_id: str | None = None):
    body = {"name": name, "job_id": job_id}
    if candidate_id is not None:
        body["candidate_id"] = candidate_id
    return client.post("/api/v1/endpoints", json=body)


def invoke_csv(client, name: str, body: str, accept: str = "application/json"):
    return client.post(f"/endpoints/{name}/invocations", data=body, content_type="text/csv",
                       headers={"Accept": accept})


def labels_of(client, name: str, rows: pd.DataFrame) -> list[float]:
    response = invoke_csv(client, name, rows.to_csv(index=False))
    assert response.status_code == 200, response.json
    return [p["probability"] for p in response.json["predictions"]]


def test_deploy_winner_and_invoke(client, job, rows):
    response = deploy(client, "titanic-winner", job["id"])
    assert response.status_code == 201, response.json
    assert response.json["candidate_id"] == job["winner"]
    assert response.headers["Location"] == "/api/v1/endpoints/titanic-winner"
    bundle = ModelBundle.load(job["dir"] / "model")
    expected = bundle.predict_proba(rows)
    got = invoke_csv(client, "titanic-winner", rows.to_csv(index=False)).json["predictions"]
    assert np.array([p["probabilities"] for p in got]) == pytest.approx(expected.to_numpy())
    as_csv = invoke_csv(client, "titanic-winner", ROW_CSV, accept="text/csv")
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert as_csv.data.decode().split(",")[0] == str(bundle.predict(rows.head(1))[0])
    record = rows.head(1).to_dict(orient="records")
    as_json = client.post("/endpoints/titanic-winner/invocations", json={"instances": record})
    assert as_json.json["predictions"][0]["labels"] == [0, 1]
    assert client.get("/ping").status_code == 200


def test_deploy_non_winner_refits_that_candidate(client, job, rows):
    response = deploy(client, "titanic-other", job["id"], job["other"])
    assert response.status_code == 201, response.json
    directory = job["dir"] / "candidates" / job["other"] / "model"
    bundle = ModelBundle.load(directory)
    assert bundle.metadata["candidate_id"] == job["other"]
    assert bundle.metadata["target"] == "Survived"
    expected = bundle.predict_proba(rows)[1].tolist()
    assert labels_of(client, "titanic-other", rows) == pytest.approx(
        [max(p, 1 - p) for p in expected])
    again = deploy(client, "titanic-other-2", job["id"], job["other"])
    assert again.status_code == 201
    assert ModelBundle.load(directory).metadata["created_at"] == bundle.metadata["created_at"]


def test_list_read_put_delete(client, job):
    assert deploy(client, "crud", job["id"]).status_code == 201
    listed = client.get("/api/v1/endpoints").json["endpoints"]
    assert "crud" in {e["name"] for e in listed}
    assert client.get("/api/v1/endpoints", query_string={"job_id": "job_none"}).json == {
        "endpoints": []}
    assert client.get("/api/v1/endpoints/crud").json["candidate_id"] == job["winner"]
    moved = client.put("/api/v1/endpoints/crud", json={"job_id": job["id"],
                                                       "candidate_id": job["other"]})
    assert moved.status_code == 200 and moved.json["candidate_id"] == job["other"]
    assert client.delete("/api/v1/endpoints/crud").status_code == 204
    gone = client.get("/api/v1/endpoints/crud")
    assert gone.status_code == 404 and gone.json["error"]["code"] == "endpoint_not_found"
    assert invoke_csv(client, "crud", ROW_CSV).status_code == 404
    assert client.put("/api/v1/endpoints/crud", json={"job_id": job["id"]}).status_code == 404
    assert client.delete("/api/v1/endpoints/crud").status_code == 404


def test_an_endpoint_another_worker_deleted_leaves_nothing_in_this_one(app, client, job):
    """Another gunicorn worker deletes the endpoint (straight in the store here): this worker
    answers 404 and no longer holds its route, model or capture writer."""
    assert deploy(client, "elsewhere", job["id"]).status_code == 201
    assert invoke_csv(client, "elsewhere", ROW_CSV).status_code == 200
    variants = app.extensions["automl_variants"]
    assert "elsewhere" in variants._routes
    EndpointStore(variants.endpoints.store.engine).remove("elsewhere")
    answer = invoke_csv(client, "elsewhere", ROW_CSV)
    assert answer.status_code == 404 and answer.json["error"]["code"] == "endpoint_not_found"
    assert "elsewhere" not in variants._routes
    assert "elsewhere" not in variants.endpoints.cache._entries
    assert not [key for key in variants.endpoints.observer._writers if key[0] == "elsewhere"]


@pytest.mark.parametrize("name", ["-bad", "bad-", "under_score", "dot.name", "x" * 64, "spa ce"])
def test_bad_names_are_400(client, job, name):
    response = deploy(client, name, job["id"])
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_endpoint_name"
    assert "letters, digits and hyphens" in response.json["error"]["message"]


def test_duplicate_name_is_409(client, job):
    assert deploy(client, "twice", job["id"]).status_code == 201
    response = deploy(client, "twice", job["id"], job["other"])
    assert response.status_code == 409 and response.json["error"]["code"] == "endpoint_exists"


def test_unknown_job_or_candidate_is_404_and_unfinished_job_409(app, client, job):
    assert deploy(client, "nojob", "job_missing").status_code == 404
    unknown = deploy(client, "nocand", job["id"], "lightgbm_999")
    assert unknown.status_code == 404 and "lightgbm_999" in unknown.json["error"]["message"]
    assert deploy(client, "traversal", job["id"], "../model").status_code == 404
    queued = client.post("/api/v1/jobs", json={"dataset_id": job["dataset_id"],
                                               "target": "Survived"}).json
    response = deploy(client, "queued", queued["id"])
    assert response.status_code == 409 and "queued" in response.json["error"]["message"]
    store = app.extensions["automl"].store
    store.claim_next()
    store.finish(queued["id"], FAILED, error={"code": "x", "message": "boom", "details": {}})
    response = deploy(client, "failed", queued["id"])
    assert response.status_code == 409 and response.json["error"]["code"] == "not_ready"
    missing_field = client.post("/api/v1/endpoints", json={"name": "x"})
    assert missing_field.status_code == 400


def test_invocation_errors(client, job):
    assert deploy(client, "errors", job["id"]).status_code == 201
    xml = client.post("/endpoints/errors/invocations", data="<a/>", content_type="application/xml")
    assert xml.status_code == 415 and xml.json["error"]["code"] == "unsupported_media_type"
    bad = client.post("/endpoints/errors/invocations", data="{not json",
                      content_type="application/json")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_request"
    short = invoke_csv(client, "errors", "3,male\n")
    assert short.status_code == 400 and short.json["error"]["code"] == "schema_mismatch"
    unknown = invoke_csv(client, "no-such-endpoint", ROW_CSV)
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "endpoint_not_found"
    invalid = invoke_csv(client, "not_even_valid", ROW_CSV)
    assert invalid.status_code == 404 and invalid.mimetype == "application/json"
    assert invoke_csv(client, "errors", ROW_CSV).status_code == 200


def test_repoint_is_atomic_under_concurrent_invocations(app, settings, client, job, rows):
    """Every request during repeated PUTs and rollbacks answers 200 with one model or the
    other, never a mix; a second app on the same store (another worker) follows each change."""
    assert deploy(client, "swap", job["id"]).status_code == 201
    body = rows.to_csv(index=False)
    winner = labels_of(client, "swap", rows)
    if deploy(client, "swap-other", job["id"], job["other"]).status_code != 201:
        pytest.fail("could not deploy the other candidate")  # its bundle is refitted here
    other = [max(p, 1 - p) for p in ModelBundle.load(
        job["dir"] / "candidates" / job["other"] / "model").predict_proba(rows)[1]]
    assert winner != pytest.approx(other)
    worker2 = create_app({"TESTING": True, "SERVICE_SETTINGS": settings}).test_client()
    outcomes: list[str] = []
    stop = threading.Event()

    def hammer(c):
        while not stop.is_set():
            response = invoke_csv(c, "swap", body)
            if response.status_code != 200:
                outcomes.append(f"status {response.status_code}")
                continue
            got = [p["probability"] for p in response.json["predictions"]]
            outcomes.append("winner" if got == pytest.approx(winner) else
                            "other" if got == pytest.approx(other) else "mixed")

    threads = [threading.Thread(target=hammer, args=(c,))
               for c in (app.test_client(), app.test_client(), worker2)]
    for t in threads:
        t.start()
    try:
        for how, target in [("put", job["other"]), ("rollback", 1), ("rollback", 2),
                            ("put", job["winner"]), ("rollback", 2), ("rollback", 1)]:
            if how == "put":
                done = client.put("/api/v1/endpoints/swap", json={"job_id": job["id"],
                                                                  "candidate_id": target})
            else:  # version 1 is the winner (the deploy), version 2 the other (the first PUT)
                done = client.post("/api/v1/endpoints/swap/rollback", json={"version": target})
                target = job["winner"] if target == 1 else job["other"]
            assert done.status_code == 200, done.json
            expected = winner if target == job["winner"] else other
            assert labels_of(worker2, "swap", rows) == pytest.approx(expected)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert set(outcomes) <= {"winner", "other"}, {o for o in outcomes if o not in ("winner", "other")}
    assert {"winner", "other"} <= set(outcomes) and len(outcomes) > 10


def test_endpoints_survive_a_restart(settings, client, job, rows):
    assert deploy(client, "lasting", job["id"]).status_code == 201
    expected = labels_of(client, "lasting", rows)
    restarted = create_app({"TESTING": True, "SERVICE_SETTINGS": settings}).test_client()
    assert labels_of(restarted, "lasting", rows) == expected


def test_batch_streams_predictions(client, job, rows):
    assert deploy(client, "batch", job["id"]).status_code == 201
    response = client.post("/api/v1/endpoints/batch/batch", data=rows.to_csv(index=False),
                           content_type="text/csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    got = pd.read_csv(io.BytesIO(response.data))
    expected = prediction_frame(ModelBundle.load(job["dir"] / "model"), rows)
    assert list(got.columns) == ["prediction", "probability_0", "probability_1"]
    assert got["prediction"].tolist() == expected["prediction"].tolist()
    assert got["probability_1"].to_numpy() == pytest.approx(expected["probability_1"].to_numpy())
    wrong = client.post("/api/v1/endpoints/batch/batch", json={"a": 1})
    assert wrong.status_code == 415
    empty = client.post("/api/v1/endpoints/batch/batch", data=b"", content_type="text/csv")
    assert empty.status_code == 400
    assert client.post("/api/v1/endpoints/nope/batch", data="a\n1\n",
                       content_type="text/csv").status_code == 404


def test_batch_requests_are_captured_and_their_rows_take_ground_truth(client, job, settings):
    assert deploy(client, "batch-seen", job["id"]).status_code == 201
    labelled = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False).head(12)
    response = client.post("/api/v1/endpoints/batch-seen/batch", content_type="text/csv",
                           data=labelled.drop(columns="Survived").to_csv(index=False),
                           headers={"X-Amzn-SageMaker-Inference-Id": "nightly"})
    assert response.status_code == 200 and len(response.data.splitlines()) == 13
    assert response.headers["X-Amzn-SageMaker-Inference-Id"] == "nightly"
    client.application.extensions["automl_endpoints"].observer.flush()

    def captured() -> list[dict]:
        root = Path(settings.data_dir) / "capture" / "batch-seen"
        return [json.loads(line) for path in root.rglob("*.jsonl")
                for line in path.read_text().splitlines()]
    (record,) = captured()
    assert record["eventMetadata"]["inferenceId"] == "nightly"
    assert record["eventMetadata"]["rowOffset"] == 0
    labels = "".join(f"nightly:{i},{v}\n" for i, v in enumerate(labelled["Survived"]))
    sent = client.post("/api/v1/endpoints/batch-seen/ground-truth", content_type="text/csv",
                       data="inference_id,label\n" + labels)
    assert sent.status_code == 201 and sent.json["labels"] == 12, sent.json
    assert client.patch("/api/v1/endpoints/batch-seen/monitoring",
                        json={"capture_percent": 0}).status_code == 200
    client.post("/api/v1/endpoints/batch-seen/batch", content_type="text/csv",
                data=labelled.drop(columns="Survived").to_csv(index=False))
    client.application.extensions["automl_endpoints"].observer.flush()
    assert captured() == [record], "at 0 % a batch is not captured"


def test_pages_deploy_and_show_examples(client, job):
    job_page = client.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert 'id="deploy-form"' in job_page and "Deploy the winner" in job_page
    candidate_page = client.get(f"/jobs/{job['id']}/candidates/{job['other']}").get_data(as_text=True)
    assert f'name="candidate_id" value="{job["other"]}"' in candidate_page
    token = csrf(client, f"/jobs/{job['id']}")
    response = client.post(f"/jobs/{job['id']}/deploy", data={
        "name": "from-page", "candidate_id": job["other"], "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/endpoints/from-page"
    page = client.get("/endpoints/from-page").get_data(as_text=True)
    assert "http://localhost/endpoints/from-page/invocations" in page
    assert "sagemaker-runtime" in page and "endpoint_url=&#34;http://localhost&#34;" in page
    assert 'name="Sex"' in page and "curl -sS -X POST" in page
    listing = client.get("/endpoints").get_data(as_text=True)
    assert "from-page" in listing and 'href="/endpoints"' in listing
    bad = client.post(f"/jobs/{job['id']}/deploy", data={"name": "no good", "csrf_token": token})
    assert bad.status_code == 400 and "letters, digits and hyphens" in bad.get_data(as_text=True)
    assert client.get("/endpoints/unknown-page").status_code == 404
    assert client.post("/endpoints/from-page/delete", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/endpoints/from-page").status_code == 404


def test_deploying_under_a_taken_name_offers_to_replace_its_model(client, job):
    token = csrf(client, f"/jobs/{job['id']}")
    first = client.post(f"/jobs/{job['id']}/deploy", data={"name": "taken", "csrf_token": token})
    assert first.status_code == 302
    again = client.post(f"/jobs/{job['id']}/deploy",
                        data={"name": "taken", "candidate_id": job["other"], "csrf_token": token})
    page = again.get_data(as_text=True)
    assert again.status_code == 409 and "PUT" not in page
    assert f"it serves {job['winner']} of job {job['id']}" in page
    assert 'action="/endpoints/taken/replace"' in page and "Replace the model of" in page
    assert f'name="candidate_id" value="{job["other"]}"' in page
    replaced = client.post("/endpoints/taken/replace",
                           data={"job_id": job["id"], "candidate_id": job["other"],
                                 "csrf_token": token})
    assert replaced.status_code == 302 and replaced.headers["Location"] == "/endpoints/taken"
    assert client.get("/api/v1/endpoints/taken").json["candidate_id"] == job["other"]
    assert client.delete("/api/v1/endpoints/taken").status_code == 204


def test_a_finished_job_shows_its_winners_score(client, job):
    """The job's 'Best' score and the home list show the model that serves, which may be an
    ensemble scoring above every single trial, not the best single trial."""
    meta = ModelBundle.load(job["dir"] / "model").metadata
    progress = client.get(f"/api/v1/jobs/{job['id']}").json["progress"]
    assert progress["winner"] == meta["candidate_id"] and progress["running"] == []
    assert progress["best_score"] == pytest.approx(meta["score"])
    singles = [r["score"] for r in client.get(f"/api/v1/jobs/{job['id']}/leaderboard").json["rows"]
               if r["state"] == "complete" and not r["candidate_id"].startswith("ensemble")]
    assert progress["best_trial_score"] == pytest.approx(max(singles))
    assert f'<span id="best">{meta["score"]:.5g}</span>' in client.get(
        f"/jobs/{job['id']}").get_data(as_text=True)
    assert f">{meta['score']:.4g}</td>" in client.get("/").get_data(as_text=True)


def test_openapi_describes_the_endpoint_api(client):
    validate = pytest.importorskip("openapi_spec_validator").validate
    doc = client.get("/api/v1/openapi.json").json
    validate(doc)
    assert {"/api/v1/endpoints", "/api/v1/endpoints/{name}",
            "/api/v1/endpoints/{name}/batch"} <= set(doc["paths"])
    assert set(doc["paths"]["/api/v1/endpoints/{name}"]) == {"get", "put", "delete"}


@pytest.mark.parametrize("public", [False, True])
def test_token_protects_invocations_unless_public(settings, job, public):
    secured = resolve_service_settings(env={}, data_dir=settings.data_dir, api_token="s3cret",
                                       public_endpoints=public)
    client = create_app({"TESTING": True, "SERVICE_SETTINGS": secured}).test_client()
    bearer = {"Authorization": "Bearer s3cret"}
    name = f"secured-{int(public)}"
    assert client.post("/api/v1/endpoints", json={"name": name, "job_id": job["id"]},
                       headers=bearer).status_code == 201
    anonymous = invoke_csv(client, name, ROW_CSV)
    assert anonymous.status_code == (200 if public else 401)
    if not public:
        assert anonymous.json["error"]["code"] == "unauthorized"
    with_token = client.post(f"/endpoints/{name}/invocations", data=ROW_CSV,
                             content_type="text/csv", headers=bearer)
    assert with_token.status_code == 200
    assert client.get("/ping").status_code == 200
    assert client.get("/api/v1/endpoints").status_code == 401


def test_hostile_invocations_are_400_not_500(client, job):
    assert deploy(client, "hostile", job["id"]).status_code == 201
    nested = client.post("/endpoints/hostile/invocations", data="[" * 100_000 + "]" * 100_000,
                         content_type="application/json")
    assert nested.status_code == 400 and "nested" in nested.json["error"]["message"]
    record = '{"Pclass": 3, "Sex": "male", "Age": Infinity, "Fare": 7.25}'
    infinite = client.post("/endpoints/hostile/invocations", data=record,
                           content_type="application/json")
    assert infinite.status_code == 400
    assert "row 1, column 'Age'" in infinite.json["error"]["message"]
    huge = invoke_csv(client, "hostile", ROW_CSV.replace("7.25", "1" + "0" * 400))
    assert huge.status_code == 400 and "'Fare'" in huge.json["error"]["message"]


def test_invocation_body_and_explain_limits(settings, job, rows):
    small = replace(settings, max_invocation_bytes=2_000, max_explain_rows=2)
    client = create_app({"TESTING": True, "SERVICE_SETTINGS": small}).test_client()
    assert deploy(client, "limited", job["id"]).status_code == 201
    big = invoke_csv(client, "limited", rows.to_csv(index=False))
    assert big.status_code == 413 and big.headers["Connection"] == "close"
    assert "AUTOML_MAX_INVOCATION_BYTES" in big.json["error"]["message"]
    explain = client.post("/endpoints/limited/invocations?explain=true", content_type="text/csv",
                          data=rows.head(3).to_csv(index=False))
    assert explain.status_code == 413 and "at most 2 rows" in explain.json["error"]["message"]


def test_a_job_an_endpoint_serves_cannot_be_deleted(client, job):
    assert deploy(client, "keeper", job["id"]).status_code == 201
    refused = client.delete(f"/api/v1/jobs/{job['id']}")
    assert refused.status_code == 409 and "'keeper'" in refused.json["error"]["message"]
    assert client.get(f"/api/v1/jobs/{job['id']}").json["status"] == "completed"


def test_unloadable_model_is_503_without_a_server_path(app, client, job, tmp_path):
    EndpointStore(app.extensions["automl"].store.engine).add(
        "ghost", job["id"], job["winner"], str(tmp_path / "gone" / "model"))
    response = invoke_csv(client, "ghost", ROW_CSV)
    assert response.status_code == 503
    assert str(tmp_path) not in response.get_data(as_text=True) and "/" not in \
        response.json["error"]["message"].replace("(PUT)", "")


def test_a_missing_dataset_file_is_a_server_fault(client, job, settings):
    path = dataset_path(settings.data_dir, job["dataset_id"])
    moved = path.rename(path.with_suffix(".away"))
    try:
        response = client.post(f"/api/v1/jobs/{job['id']}/candidates/{job['other']}/explanation")
    finally:
        moved.rename(path)
    assert response.status_code == 500 and response.json["error"]["code"] == "server_fault"
    assert settings.data_dir not in response.get_data(as_text=True)


def _json_body(client, path: str):
    with client.get(path) as response:
        assert response.status_code == 200, path
        return json.loads(response.get_data(as_text=True))


def test_notebooks_read_the_file_under_the_name_it_was_uploaded_with(client, job):
    explore = _json_body(client, f"/api/v1/jobs/{job['id']}/notebooks/data-exploration")
    assert "".join(explore["cells"][0]["source"]).startswith("# Data exploration: `titanic.csv`")
    assert "DATA_PATH = 'titanic.csv'" in "".join(explore["cells"][1]["source"])
    assert any(c.get("outputs") for c in explore["cells"])  # executed on the stored copy
    winner = _json_body(client, f"/api/v1/jobs/{job['id']}/candidates/{job['winner']}/notebook")
    assert "DATA_PATH = 'titanic.csv'" in "".join(winner["cells"][1]["source"])
    assert "ds_" not in json.dumps(winner) and "ds_" not in json.dumps(explore)


def test_out_of_fold_predictions_download_and_give_the_leaderboard_score(client, job):
    from sklearn.metrics import roc_auc_score

    board = {r["candidate_id"]: r for r in
             client.get(f"/api/v1/jobs/{job['id']}/leaderboard").json["rows"]}
    for cid in (job["winner"], job["other"]):
        response = client.get(f"/api/v1/jobs/{job['id']}/candidates/{cid}/oof.csv")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        oof = pd.read_csv(io.BytesIO(response.data))
        assert list(oof.columns) == ["row", "fold", "actual", "prediction", "probability_0",
                                     "probability_1"]
        assert sorted(oof["row"]) == list(range(len(pd.read_csv(SAMPLE))))
        per_fold = [roc_auc_score(f["actual"] == 1, f["probability_1"])
                    for _, f in oof.groupby("fold")]
        assert np.mean(per_fold) == pytest.approx(board[cid]["score"], abs=1e-9)
        page = client.get(f"/jobs/{job['id']}/candidates/{cid}").get_data(as_text=True)
        assert f'href="/api/v1/jobs/{job["id"]}/candidates/{cid}/oof.csv"' in page
    missing = client.get(f"/api/v1/jobs/{job['id']}/candidates/nope_001/oof.csv")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


# Versions and rollback ------------------------------------------------------------------------

def test_every_deploy_and_repoint_is_a_version_and_rollback_serves_one_again(client, job, rows,
                                                                            settings):
    assert deploy(client, "hist", job["id"]).json["version"] == 1
    winner = labels_of(client, "hist", rows)
    moved = client.put("/api/v1/endpoints/hist", json={"job_id": job["id"],
                                                       "candidate_id": job["other"]})
    assert moved.status_code == 200 and moved.json["version"] == 2
    listed = client.get("/api/v1/endpoints/hist/versions")
    assert listed.status_code == 200
    versions = listed.json["versions"]
    assert [(v["version"], v["action"], v["candidate_id"], v["current"]) for v in versions] == [
        (2, "repoint", job["other"], True), (1, "deploy", job["winner"], False)]
    first = versions[1]
    assert first["job_id"] == job["id"] and first["metric"] == "auc" and 0.5 < first["score"] <= 1
    assert "Sex" in [c["name"] for c in first["input_schema"]["columns"]]
    assert first["schema_changes"] is None and first["created_at"] <= versions[0]["created_at"]
    assert settings.data_dir not in listed.get_data(as_text=True), "no server path"

    back = client.post("/api/v1/endpoints/hist/rollback", json={"version": 1})
    assert back.status_code == 200, back.json
    assert back.json["candidate_id"] == job["winner"] and back.json["version"] == 3
    assert labels_of(client, "hist", rows) == pytest.approx(winner)
    newest = client.get("/api/v1/endpoints/hist/versions").json["versions"][0]
    assert (newest["action"], newest["source_version"], newest["current"]) == ("rollback", 1, True)
    assert settings.data_dir not in back.get_data(as_text=True)


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"version": 99}, 404, "version_not_found"), ({"version": 0}, 400, "invalid_request"),
    ({"version": "one"}, 400, "invalid_request"), ({}, 400, "invalid_request"),
    ({"version": 1, "extra": True}, 400, "invalid_request")])
def test_bad_rollbacks_are_clear_4xx(client, job, body, status, code):
    if client.get("/api/v1/endpoints/rb-bad").status_code == 404:
        assert deploy(client, "rb-bad", job["id"]).status_code == 201
    response = client.post("/api/v1/endpoints/rb-bad/rollback", json=body)
    assert (response.status_code, response.json["error"]["code"]) == (status, code), response.json
    if code == "version_not_found":
        assert "its versions are 1" in response.json["error"]["message"]
    assert client.post("/api/v1/endpoints/nope/rollback",
                       json={"version": 1}).status_code == 404


def test_rollback_to_a_version_whose_model_is_gone_is_409(client, job, settings):
    assert deploy(client, "rb-gone", job["id"], job["other"]).status_code == 201
    assert client.put("/api/v1/endpoints/rb-gone", json={"job_id": job["id"]}).status_code == 200
    bundle = job["dir"] / "candidates" / job["other"] / "model"
    aside = bundle.with_name("model-aside")
    bundle.rename(aside)
    try:
        response = client.post("/api/v1/endpoints/rb-gone/rollback", json={"version": 1})
    finally:
        aside.rename(bundle)
    assert response.status_code == 409, response.json
    error = response.json["error"]
    assert error["code"] == "version_unavailable" and "another version" in error["message"]
    assert settings.data_dir not in response.get_data(as_text=True)
    assert client.get("/api/v1/endpoints/rb-gone").json["version"] == 2, "nothing changed"


def test_a_change_of_input_columns_needs_consent(client, job, job_without_fare):
    assert deploy(client, "schema", job_without_fare["id"]).status_code == 201
    refused = client.put("/api/v1/endpoints/schema", json={"job_id": job["id"]})
    assert refused.status_code == 409
    error = refused.json["error"]
    assert error["code"] == "schema_change"
    assert (error["details"]["added"], error["details"]["removed"]) == (["Fare"], ["Deck"])
    assert "'Fare'" in error["message"] and "accept_schema_change" in error["message"]
    assert client.get("/api/v1/endpoints/schema").json["version"] == 1, "nothing changed"
    accepted = client.put("/api/v1/endpoints/schema", json={"job_id": job["id"],
                                                            "accept_schema_change": True})
    assert accepted.status_code == 200 and accepted.json["version"] == 2
    old = client.get("/api/v1/endpoints/schema/versions").json["versions"][1]
    assert old["schema_changes"]["removed"] == ["Fare"]
    back = client.post("/api/v1/endpoints/schema/rollback", json={"version": 1})
    assert back.status_code == 409 and back.json["error"]["details"]["removed"] == ["Fare"]


def test_a_job_kept_as_a_version_cannot_be_deleted_until_the_version_is_forgotten(
        client, job, job_without_fare):
    assert deploy(client, "keeps", job_without_fare["id"]).status_code == 201
    assert client.put("/api/v1/endpoints/keeps", json={
        "job_id": job["id"], "accept_schema_change": True}).status_code == 200
    refused = client.delete(f"/api/v1/jobs/{job_without_fare['id']}")
    assert refused.status_code == 409
    assert "'keeps' (version 1)" in refused.json["error"]["message"]
    assert client.delete("/api/v1/endpoints/keeps/versions/2").status_code == 409, "served"
    assert client.delete("/api/v1/endpoints/keeps/versions/7").status_code == 404
    assert client.delete("/api/v1/endpoints/keeps/versions/1").status_code == 204
    for name in ("schema",):  # the schema test's endpoint keeps this job too
        client.delete(f"/api/v1/endpoints/{name}")
    assert client.delete(f"/api/v1/jobs/{job_without_fare['id']}").status_code == 204


def test_the_endpoint_page_shows_its_history_with_rollback_buttons(client, job):
    assert deploy(client, "paged", job["id"]).status_code == 201
    client.put("/api/v1/endpoints/paged", json={"job_id": job["id"], "candidate_id": job["other"]})
    html = client.get("/endpoints/paged").get_data(as_text=True)
    assert 'id="versions"' in html and "Roll back to 1" in html and "Roll back to 2" not in html
    token = csrf(client, "/endpoints/paged")
    done = client.post("/endpoints/paged/rollback", data={"version": "1", "csrf_token": token})
    assert done.status_code == 302
    assert client.get("/api/v1/endpoints/paged").json["candidate_id"] == job["winner"]


def test_capture_percentage_is_set_at_deploy_changed_later_and_followed(client, job, rows,
                                                                         settings):
    token = csrf(client, f"/jobs/{job['id']}")
    made = client.post(f"/jobs/{job['id']}/deploy", data={
        "name": "quiet", "capture_percent": "0", "csrf_token": token})
    assert made.status_code == 302
    body = rows.head(1).to_csv(index=False, header=False)
    answer = invoke_csv(client, "quiet", body)
    assert answer.status_code == 200 and len(answer.headers["X-Amzn-SageMaker-Inference-Id"]) == 36
    endpoints = client.application.extensions["automl_endpoints"]
    endpoints.observer.flush()
    capture = Path(settings.data_dir) / "capture" / "quiet"
    assert not list(capture.rglob("*.jsonl")), "0 % captures nothing"
    put = client.put("/api/v1/endpoints/quiet", json={"job_id": job["id"], "capture_percent": 100})
    assert put.status_code == 200 and put.json["monitoring"]["capture_percent"] == 100
    invoke_csv(client, "quiet", body)
    endpoints.observer.flush()
    assert len(list(capture.rglob("*.jsonl"))) == 1
    patched = client.patch("/api/v1/endpoints/quiet/monitoring", json={
        "interval_s": 600, "webhook_url": "http://127.0.0.1:9/hook"})
    assert patched.status_code == 400 and "AUTOML_WEBHOOK_ALLOW_PRIVATE" in patched.text
    patched = client.patch("/api/v1/endpoints/quiet/monitoring", json={"interval_s": 600})
    assert patched.status_code == 200 and patched.json["interval_s"] == 600
    for bad in ({"capture_percent": 101}, {"interval_s": 1}, {"nope": 1}):
        assert client.patch("/api/v1/endpoints/quiet/monitoring", json=bad).status_code == 400
    bad = client.post(f"/jobs/{job['id']}/deploy", data={
        "name": "loud", "capture_percent": "150", "csrf_token": token})
    assert bad.status_code == 400 and "0 to 100" in bad.get_data(as_text=True)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'automl_capture_records_total{endpoint="quiet",outcome="sampled_out"' in metrics
    assert client.delete("/api/v1/endpoints/quiet").status_code == 204
    assert client.get("/api/v1/endpoints/quiet/monitoring").json["stopped_reason"] == \
        "the endpoint was deleted"


def test_monitoring_routes_of_unknown_endpoints_are_404(client):
    for method, path in (("get", "monitoring"), ("post", "ground-truth"),
                         ("post", "monitoring-runs"), ("get", "monitoring-runs"),
                         ("get", "monitoring/drift"), ("get", "monitoring/traffic")):
        answer = getattr(client, method)(f"/api/v1/endpoints/nowhere/{path}", json={})
        assert answer.status_code == 404 and answer.json["error"]["code"] == \
            "endpoint_not_found", path
    assert client.get("/endpoints/nowhere/figures/drift.svg").status_code == 404


# Variants -------------------------------------------------------------------------------------

def probabilities(response) -> list[float]:
    assert response.status_code == 200, response.json
    return [p["probability"] for p in response.json["predictions"]]


def test_variants_route_by_weight_or_by_the_variant_a_client_names(client, job, rows):
    assert deploy(client, "ab", job["id"]).status_code == 201
    winner = labels_of(client, "ab", rows)
    added = client.post("/api/v1/endpoints/ab/variants", json={
        "name": "challenger", "job_id": job["id"], "candidate_id": job["other"], "weight": 1})
    assert added.status_code == 201, added.json
    assert [(v["name"], v["role"], v["weight"], v["primary"]) for v in added.json["variants"]] \
        == [("AllTraffic", "production", 1.0, True), ("challenger", "production", 1.0, False)]
    body = rows.to_csv(index=False)
    named = client.post("/endpoints/ab/invocations", data=body, content_type="text/csv",
                        headers={"X-Amzn-SageMaker-Target-Variant": "challenger"})
    assert named.headers["x-Amzn-Invoked-Production-Variant"] == "challenger"
    other = probabilities(named)
    assert other != pytest.approx(winner)
    seen = {}
    for _ in range(30):
        response = invoke_csv(client, "ab", body)
        seen.setdefault(response.headers["x-Amzn-Invoked-Production-Variant"],
                        probabilities(response))
    assert set(seen) == {"AllTraffic", "challenger"}, "weights 1:1 send traffic to both"
    assert seen["AllTraffic"] == pytest.approx(winner) and seen["challenger"] == pytest.approx(other)
    moved = client.put("/api/v1/endpoints/ab/variants", json={"weights": {"AllTraffic": 0}})
    assert moved.status_code == 200, moved.json
    assert {invoke_csv(client, "ab", body).headers["x-Amzn-Invoked-Production-Variant"]
            for _ in range(5)} == {"challenger"}
    listed = client.get("/api/v1/endpoints/ab/variants").json["variants"]
    assert listed[1]["requests"] >= 6 and listed[1]["errors"] == 0
    assert listed[1]["mean_latency_ms"] > 0


@pytest.mark.parametrize(("method", "path", "body", "status", "words"), [
    ("post", "variants", {"name": "x", "weight": -1}, 400, "weight"),
    ("post", "variants", {"name": "AllTraffic"}, 409, "already has a variant"),
    ("post", "variants", {"name": "bad_name"}, 400, "letters, digits and hyphens"),
    ("put", "variants", {"weights": {"AllTraffic": 0}}, 400, "sum to 0"),
    ("put", "variants", {"weights": {"AllTraffic": -2}}, 400, "between 0 and"),
    ("put", "variants", {"weights": {"nope": 1}}, 404, "no variant 'nope'"),
    ("delete", "variants/AllTraffic", None, 409, "promote another"),
    ("delete", "variants/nope", None, 404, "no variant 'nope'"),
    ("post", "variants/nope/promote", None, 404, "no variant 'nope'"),
    ("post", "variants/AllTraffic/promote", None, 409, "already the primary")])
def test_bad_variant_requests_are_clear_4xx(client, job, method, path, body, status, words):
    if client.get("/api/v1/endpoints/var-bad").status_code == 404:
        assert deploy(client, "var-bad", job["id"]).status_code == 201
    if isinstance(body, dict) and "weights" not in body:
        body = {"job_id": job["id"], **body}
    response = getattr(client, method)(f"/api/v1/endpoints/var-bad/{path}", json=body)
    assert response.status_code == status, response.json
    assert words in json.dumps(response.json["error"])


def test_an_unknown_target_variant_is_400_naming_the_variants(client, job):
    assert deploy(client, "target", job["id"]).status_code == 201
    response = client.post("/endpoints/target/invocations", data=ROW_CSV, content_type="text/csv",
                           headers={"X-Amzn-SageMaker-Target-Variant": "nope"})
    assert response.status_code == 400 and "AllTraffic" in response.json["error"]["message"]


def test_the_shadow_answers_off_the_path_and_is_compared_never_returned(app, client, job, rows):
    assert deploy(client, "shadowed", job["id"]).status_code == 201
    winner = labels_of(client, "shadowed", rows)
    added = client.post("/api/v1/endpoints/shadowed/variants", json={
        "name": "shadow", "role": "shadow", "share": 1.0, "job_id": job["id"],
        "candidate_id": job["other"]})
    assert added.status_code == 201, added.json
    second = client.post("/api/v1/endpoints/shadowed/variants", json={
        "name": "shadow2", "role": "shadow", "job_id": job["id"]})
    assert second.status_code == 409 and "already has a shadow" in second.json["error"]["message"]
    for _ in range(3):
        response = invoke_csv(client, "shadowed", rows.to_csv(index=False))
        assert response.headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"
        assert probabilities(response) == pytest.approx(winner), "never the shadow's answer"
    assert app.extensions["automl_variants"].shadows.drain()
    shadow = client.get("/api/v1/endpoints/shadowed/variants").json["variants"][1]
    assert (shadow["role"], shadow["share"], shadow["weight"]) == ("shadow", 1.0, None)
    assert shadow["requests"] == 3 and shadow["compared_rows"] == 3 * len(rows)
    assert 0.5 <= shadow["agreement"] <= 1


def test_promoting_a_variant_makes_it_the_endpoint_s_model_as_a_new_version(client, job, rows):
    assert deploy(client, "promo", job["id"]).status_code == 201
    client.post("/api/v1/endpoints/promo/variants", json={
        "name": "next", "job_id": job["id"], "candidate_id": job["other"], "weight": 0})
    other = probabilities(client.post("/endpoints/promo/invocations", data=rows.to_csv(index=False),
                                      content_type="text/csv",
                                      headers={"X-Amzn-SageMaker-Target-Variant": "next"}))
    promoted = client.post("/api/v1/endpoints/promo/variants/next/promote")
    assert promoted.status_code == 200, promoted.json
    assert promoted.json["candidate_id"] == job["other"] and promoted.json["version"] == 2
    assert client.get("/api/v1/endpoints/promo/versions").json["versions"][0]["action"] == "promote"
    variants = client.get("/api/v1/endpoints/promo/variants").json["variants"]
    assert [v["name"] for v in variants] == ["AllTraffic"]
    assert labels_of(client, "promo", rows) == pytest.approx(other)


# Retraining: the challenger goes in as asked once its job ended ------------------------------

def labelled_endpoint(client, job, name: str, n: int = 100) -> None:
    """Deploy ``name`` and send it ``n`` titanic rows in one request, all labelled."""
    assert deploy(client, name, job["id"]).status_code == 201
    batch = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False).tail(n)
    answer = client.post(f"/endpoints/{name}/invocations", content_type="text/csv",
                         data=batch.drop(columns="Survived").to_csv(index=False, header=False),
                         headers={"X-Amzn-SageMaker-Inference-Id": "rt"})
    assert answer.status_code == 200, answer.json
    client.application.extensions["automl_endpoints"].observer.flush()
    labels = "".join(f"rt:{i},{v}\n" for i, v in enumerate(batch["Survived"]))
    sent = client.post(f"/api/v1/endpoints/{name}/ground-truth", content_type="text/csv",
                       data="inference_id,label\n" + labels)
    assert sent.status_code in (200, 201), sent.json


def end_challenger_job(app, job, retraining: dict, completed: bool = True) -> None:
    """What the job runner would do, without a second real job (~15 s): the challenger's job
    completes with a copy of the champion's model, or fails."""
    store = app.extensions["automl"].store
    assert store.claim_next()["id"] == retraining["job_id"]
    if completed:
        target = Path(app.extensions["automl"].settings.data_dir) / "jobs" / retraining["job_id"]
        shutil.copytree(job["dir"] / "model", target / "model")
    assert store.finish(retraining["job_id"], "completed" if completed else FAILED,
                        error=None if completed else {"code": "x", "message": "out of memory"})


def finish_retrainings(app) -> list[dict]:
    """The runner's chore (automl.jobs.runner runs it every 2 s)."""
    from automl.endpoint_retrain import follow_up_all

    return follow_up_all(app.extensions["automl"].store,
                         app.extensions["automl"].settings.data_dir)


def test_a_retrained_challenger_goes_in_as_the_shadow_once_compared(app, client, job):
    labelled_endpoint(client, job, "retrained")
    url = "/api/v1/endpoints/retrained/retrain"
    started = client.post(url, json={"then": "shadow", "share": 0.5})
    assert started.status_code == 202, started.json
    retraining = started.json
    assert retraining["state"] == "training" and retraining["comparison"] is None
    assert retraining["then"]["variant"] == "rt-" + retraining["id"][3:]
    assert finish_retrainings(app) == [], "nothing to do while the job has not ended"
    end_challenger_job(app, job, retraining)
    assert client.get(retraining["links"]["self"]).json["state"] == "finishing"
    (done,) = finish_retrainings(app)
    assert done["state"] == "completed" and finish_retrainings(app) == []
    shown = client.get(retraining["links"]["self"]).json
    assert shown["state"] == "completed" and shown["outcome"]["done"] is True
    assert shown["comparison"]["rows"] == retraining["held_out"] == 30
    assert shown["challenger"] == {"job_id": retraining["job_id"], "candidate_id": job["winner"]}
    variants = client.get("/api/v1/endpoints/retrained/variants").json["variants"]
    assert [(v["name"], v["role"], v["share"], v["job_id"]) for v in variants[1:]] == [
        (shown["then"]["variant"], "shadow", 0.5, retraining["job_id"])]
    listed = client.get(url).json["retrainings"]
    assert [r["id"] for r in listed] == [retraining["id"]]
    # a runner killed after adding the variant, before recording it: the next finishes it alike
    from automl.endpoint_retrain import PENDING, load_meta, record, retrain_dir

    data_dir = app.extensions["automl"].settings.data_dir
    meta = load_meta(data_dir, "retrained", retraining["id"])
    record(data_dir, "retrained", retraining["id"],
           {k: v for k, v in meta.items() if k not in ("state", "outcome", "challenger")})
    assert (retrain_dir(data_dir, "retrained", retraining["id"]) / PENDING).is_file()
    (redone,) = finish_retrainings(app)
    assert redone["outcome"] == done["outcome"]
    assert len(client.get("/api/v1/endpoints/retrained/variants").json["variants"]) == 2
    again = client.post(url, json={"then": "shadow"})
    assert again.status_code == 409 and "already has a shadow" in again.json["error"]["message"]


@pytest.mark.parametrize("then", ["shadow", "variant"])
def test_a_challenger_compared_with_a_champion_no_longer_served_is_not_put_in(app, client, job,
                                                                               then):
    name = f"moved-{then}"
    labelled_endpoint(client, job, name)
    started = client.post(f"/api/v1/endpoints/{name}/retrain", json={"then": then}).json
    moved = client.put(f"/api/v1/endpoints/{name}", json={"job_id": job["id"],
                                                          "candidate_id": job["other"]})
    assert moved.status_code == 200, moved.json
    end_challenger_job(app, job, started)
    done = next(d for d in finish_retrainings(app) if d["id"] == started["id"])
    assert done["state"] == "completed" and done["outcome"]["done"] is False
    assert "serves another model than the champion the challenger was compared with" in \
        done["outcome"]["message"]
    variants = client.get(f"/api/v1/endpoints/{name}/variants").json["variants"]
    assert [v["name"] for v in variants] == ["AllTraffic"]


def test_replace_keeps_the_champion_unless_the_challenger_beats_the_margin(app, client, job):
    labelled_endpoint(client, job, "replaced")
    started = client.post("/api/v1/endpoints/replaced/retrain", json={"then": "replace"}).json
    end_challenger_job(app, job, started)
    (done,) = finish_retrainings(app)
    assert done["outcome"]["done"] is False, "the same model is no improvement"
    assert "the champion stays" in done["outcome"]["message"]
    versions = client.get("/api/v1/endpoints/replaced/versions").json["versions"]
    assert [v["action"] for v in versions] == ["deploy"]


def test_a_challenger_whose_job_failed_is_a_failed_retraining(app, client, job):
    labelled_endpoint(client, job, "failing")
    started = client.post("/api/v1/endpoints/failing/retrain",
                          json={"then": "variant", "weight": 0.1}).json
    end_challenger_job(app, job, started, completed=False)
    (done,) = finish_retrainings(app)
    shown = client.get(started["links"]["self"]).json
    assert shown["state"] == "failed" and "out of memory" in shown["error"]["message"]
    assert shown["outcome"] is None and shown["comparison"] is None
    assert [v["name"] for v in client.get("/api/v1/endpoints/failing/variants").json[
        "variants"]] == ["AllTraffic"]


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"then": "shadow", "weight": 1}, 400, "weight goes with then=variant"),
    ({"min_improvement": 0.1}, 400, "min_improvement goes with then=replace"),
    ({"then": "promote"}, 400, "then"),
    ({"then": "variant", "variant_name": "AllTraffic"}, 409, "already has a variant"),
    ({"then": "variant", "variant_name": "bad_name"}, 400, "letters, digits and hyphens")])
def test_bad_retraining_requests_are_clear_4xx(client, job, body, status, words):
    if client.get("/api/v1/endpoints/rt-bad").status_code == 404:
        assert deploy(client, "rt-bad", job["id"]).status_code == 201
    response = client.post("/api/v1/endpoints/rt-bad/retrain", json=body)
    assert response.status_code == status, response.json
    assert words in json.dumps(response.json["error"])


def test_the_endpoint_page_starts_a_retraining_and_lists_it(client, job):
    labelled_endpoint(client, job, "paged-rt")
    token = csrf(client, "/endpoints/paged-rt")
    done = client.post("/endpoints/paged-rt/retrain", data={
        "then": "variant", "weight": "0.2", "share": "0.5", "holdout_share": "0.3",
        "time_budget": "", "csrf_token": token})
    assert done.status_code == 302 and done.location.endswith("/endpoints/paged-rt#retraining")
    (retraining,) = client.get("/api/v1/endpoints/paged-rt/retrain").json["retrainings"]
    assert retraining["then"]["action"] == "variant" and retraining["then"]["weight"] == 0.2
    html = client.get("/endpoints/paged-rt").get_data(as_text=True)
    assert 'id="retrain-form"' in html and f'data-retraining="{retraining["id"]}"' in html
    bad = client.post("/endpoints/paged-rt/retrain", data={
        "then": "shadow", "holdout_share": "2", "csrf_token": token})
    assert bad.status_code == 400 and "held-out share" in bad.get_data(as_text=True)


def test_each_variant_is_monitored_against_its_own_model_and_shown(app, client, job, rows,
                                                                   settings):
    from automl.endpoint_monitor import EndpointMonitor
    from automl.store.monitoring import MonitoringStore

    assert deploy(client, "watched-ab", job["id"]).status_code == 201
    added = client.post("/api/v1/endpoints/watched-ab/variants", json={
        "name": "shadow", "role": "shadow", "job_id": job["id"], "candidate_id": job["other"]})
    assert added.status_code == 201, added.json
    for _ in range(3):
        assert invoke_csv(client, "watched-ab", rows.to_csv(index=False)).status_code == 200
    assert app.extensions["automl_variants"].shadows.drain()
    app.extensions["automl_endpoints"].observer.flush()
    url = "/api/v1/endpoints/watched-ab/monitoring-runs"
    unknown = client.post(url, json={"variant": "nope"})
    assert unknown.status_code == 404 and "AllTraffic, shadow" in unknown.json["error"]["message"]
    queued = client.post(url, json={"variant": "shadow"})
    assert queued.status_code == 202 and queued.json["variant"] == "shadow"
    store = MonitoringStore(app.extensions["automl"].store.engine)
    store.change("watched-ab", next_run_at=0.0)  # the schedule is due as well
    monitor = EndpointMonitor(store, replace(settings, monitor_attribution=False))
    endpoint = EndpointStore(store.engine).get
    done = monitor.run_due(lambda name: endpoint(name))  # what the runner does
    assert sorted((r["variant"], r["trigger"], r["status"]) for r in done) == [
        ("AllTraffic", "schedule", "completed"), ("shadow", "on_demand", "completed"),
        ("shadow", "schedule", "completed")]
    shadow_runs = client.get(url, query_string={"variant": "shadow"}).json["runs"]
    assert {r["variant"] for r in shadow_runs} == {"shadow"} and len(shadow_runs) == 2
    assert shadow_runs[0]["summary"]["item_count"] == 3 * len(rows)
    drift = client.get("/api/v1/endpoints/watched-ab/monitoring/drift",
                       query_string={"variant": "shadow"}).json
    assert drift["variant"] == "shadow" and len(drift["windows"]) == 2
    html = client.get("/endpoints/watched-ab").get_data(as_text=True)
    table = html[html.index('id="variant-runs"'):]
    assert 'data-variant="AllTraffic"' in table and 'data-variant="shadow"' in table
    assert "no completed run yet" not in table[:table.index("</table>")]
    figure = "/endpoints/watched-ab/figures/worst.svg?variant=shadow"
    assert figure in table  # each variant's own figures, beside its drift figures
    drawn = client.get(figure)
    assert drawn.status_code == 200 and drawn.mimetype == "image/svg+xml"
    shadow_row = table[table.index('data-variant="shadow"'):table.index("</tr>",
                                                                       table.index('data-variant="shadow"'))]
    drifted = shadow_runs[0]["summary"]["drifted_columns"]
    assert ('class="drifted">' + (", ".join(drifted[:5]) if drifted else "none")) in shadow_row


def test_drift_or_a_quality_drop_starts_the_automatic_retraining_asked_for(app, client, job,
                                                                           settings):
    from automl.endpoint_retrain import after_run
    from automl.store.monitoring import DONE, MonitoringStore

    labelled_endpoint(client, job, "auto-rt")
    url = "/api/v1/endpoints/auto-rt/monitoring"
    for bad, status in (({"on": []}, 400), ({"min_interval_s": 5}, 400),
                        ({"then": "variant", "variant_name": "AllTraffic"}, 409)):
        assert client.patch(url, json={"retrain": bad}).status_code == status, bad
    asked = client.patch(url, json={"retrain": {"then": "shadow", "time_budget": 5}})
    assert asked.status_code == 200, asked.json
    assert asked.json["retrain"]["on"] == ["drift", "quality"]
    assert asked.json["retrain"]["min_interval_s"] == 86400
    store, service = MonitoringStore(app.extensions["automl"].store.engine), app.extensions["automl"]

    def finished(checks: list[str], variant: str = "AllTraffic") -> dict:
        run = store.add_run("auto-rt", "schedule", None, None, variant=variant)
        store.finish_run(run["id"], DONE, summary={"verdict": "violations", "violations": 1,
                                                   "violated_checks": checks})
        return store.run("auto-rt", run["id"])

    assert after_run(service.store, settings, finished(["data_type_check"])) is None
    assert after_run(service.store, settings, finished(["baseline_drift_check"], "x")) is None
    drifted = finished(["baseline_drift_check"])
    note = after_run(service.store, settings, drifted)
    assert note["started"] is True, note
    (retraining,) = client.get("/api/v1/endpoints/auto-rt/retrain").json["retrainings"]
    assert retraining["trigger"] == {"run_id": drifted["id"], "reasons": ["drift"]}
    assert retraining["then"]["action"] == "shadow"
    assert service.store.get_job(retraining["job_id"])["settings"]["time_budget"] == 5
    shown = client.get(f"/api/v1/endpoints/auto-rt/monitoring-runs/{drifted['id']}").json
    assert shown["summary"]["retrain"]["id"] == retraining["id"]
    again = after_run(service.store, settings, finished(["model_quality_check"]))
    assert again["started"] is False and "under way" in again["message"]
    service.store.request_cancel(retraining["job_id"])  # no other test runs it
    assert finish_retrainings(app)[0]["state"] == "failed"
    later = after_run(service.store, settings, finished(["baseline_drift_check"]))
    assert later["started"] is False and "min_interval_s" in later["message"]
    html = client.get("/endpoints/auto-rt").get_data(as_text=True)
    assert 'id="auto-retrain"' in html and f"retraining {retraining['id']} started" in html
    assert client.patch(url, json={"retrain": None}).json["retrain"] is None


def test_the_next_automatic_retraining_takes_the_earlier_automatic_challenger_s_place(
        app, client, job, settings):
    from automl.endpoint_retrain import after_run, load_meta, save_meta
    from automl.store.monitoring import DONE, MonitoringStore

    labelled_endpoint(client, job, "auto-twice")
    asked = client.patch("/api/v1/endpoints/auto-twice/monitoring",
                         json={"retrain": {"then": "shadow", "time_budget": 5}})
    assert asked.status_code == 200, asked.json
    service, data_dir = app.extensions["automl"], settings.data_dir
    store = MonitoringStore(service.store.engine)
    while (left := service.store.claim_next()) is not None:  # cancelled by an earlier test
        service.store.finish(left["id"], FAILED, error={"code": "x", "message": "left over"})

    def drifted() -> dict:
        run = store.add_run("auto-twice", "schedule", None, None)
        store.finish_run(run["id"], DONE, summary={"verdict": "violations", "violations": 1,
                                                   "violated_checks": ["baseline_drift_check"]})
        return after_run(service.store, settings, store.run("auto-twice", run["id"]))

    def retrained() -> dict:
        assert drifted()["started"] is True
        newest = client.get("/api/v1/endpoints/auto-twice/retrain").json["retrainings"][0]
        end_challenger_job(app, job, newest)
        done = next(d for d in finish_retrainings(app) if d["id"] == newest["id"])
        assert done["outcome"]["done"] is True, done["outcome"]
        meta = load_meta(data_dir, "auto-twice", done["id"])  # min_interval_s has passed
        save_meta(data_dir, "auto-twice", done["id"], {**meta, "created_at": 0})
        return done

    first = retrained()
    second = retrained()
    assert second["then"]["replaces"] == first["then"]["variant"] != second["then"]["variant"]
    assert f"in place of the earlier automatic challenger '{first['then']['variant']}'" in \
        second["outcome"]["message"]
    variants = client.get("/api/v1/endpoints/auto-twice/variants").json["variants"]
    assert [(v["name"], v["role"], v["job_id"]) for v in variants[1:]] == [
        (second["then"]["variant"], "shadow", second["job_id"])]
    # a challenger added by hand is never replaced: the next automatic one cannot go in
    assert client.delete(f"/api/v1/endpoints/auto-twice/variants/{second['then']['variant']}"
                         ).status_code == 200
    assert client.post("/api/v1/endpoints/auto-twice/variants", json={
        "name": "mine", "role": "shadow", "job_id": job["id"]}).status_code == 201
    refused = drifted()
    assert refused["started"] is False and "already has a shadow" in refused["message"]


# Fast path and Flask path ---------------------------------------------------------------------

TOKEN, LIMIT, BOTH = "s3cret", 4096, "/endpoints/both-paths/invocations"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
GENERATED = ("x-request-id", "x-amzn-sagemaker-inference-id")


@pytest.fixture(scope="module")
def paths(settings, job) -> dict:
    """Two apps on the module's data with a token and a 4 KB body limit: invocations answered
    in front of Flask (the default) and through it (AUTOML_FLASK_INVOCATIONS=1); each records
    the requests its Flask hooks saw."""
    secured = replace(settings, api_token=TOKEN, max_invocation_bytes=LIMIT)
    out = {}
    for name, flask in (("fast", False), ("flask", True)):
        app = create_app({"TESTING": True,
                          "SERVICE_SETTINGS": replace(secured, flask_invocations=flask)})
        seen: list[str] = []
        app.before_request(lambda seen=seen: seen.append(request.path))
        out[name] = {"client": app.test_client(), "seen": seen}
    assert out["fast"]["client"].post("/api/v1/endpoints", headers=BEARER, json={
        "name": "both-paths", "job_id": job["id"]}).status_code == 201
    return out


def _path_cases(rows: pd.DataFrame) -> dict[str, tuple[str, dict, str]]:
    """name: (path, headers, body), good and bad."""
    one = rows.head(1).to_csv(header=False, index=False)
    record = rows.head(1).to_dict(orient="records")[0]
    csv_in, json_in = {"Content-Type": "text/csv", **BEARER}, {"Content-Type": "application/json",
                                                               **BEARER}
    return {
        "ok csv": (BOTH, csv_in, one),
        "ok json": (BOTH, json_in, json.dumps({"instances": [record]})),
        "ok, the client's ids": (BOTH, {**csv_in, "X-Amzn-SageMaker-Inference-Id": "client-7",
                                        "X-Request-Id": "request-7"}, one),
        "wrong content type": (BOTH, {**BEARER, "Content-Type": "text/xml"}, "<a/>"),
        "schema mismatch": (BOTH, csv_in, "1,2,3\n"),
        "unparseable number": (BOTH, json_in, json.dumps([{**record, "Age": "old"}])),
        "too large": (BOTH, csv_in, "1," * LIMIT),
        "no token": (BOTH, {"Content-Type": "text/csv"}, one),
        "wrong token": (BOTH, {"Content-Type": "text/csv", "Authorization": "Bearer nope"}, one),
        "unknown endpoint": ("/endpoints/no-such-endpoint/invocations", csv_in, one),
        "unknown target variant": (BOTH, {**csv_in, "X-Amzn-SageMaker-Target-Variant": "nope"},
                                   one),
    }


def _answer(client, path: str, headers: dict, body: str) -> tuple:
    """Status line, headers (the ones the server made up shown as present) and body bytes."""
    response = client.post(path, data=body, headers=headers)
    sent = {k.lower() for k in headers}
    shown = sorted((k.lower(), "<made>" if k.lower() in GENERATED and k.lower() not in sent
                    else v) for k, v in response.headers.items())
    return response.status, shown, response.get_data()


@pytest.mark.parametrize("case", ["ok csv", "ok json", "ok, the client's ids",
                                  "wrong content type", "schema mismatch", "unparseable number",
                                  "too large", "no token", "wrong token", "unknown endpoint",
                                  "unknown target variant"])
def test_the_fast_path_answers_as_flask_does(paths, rows, case):
    path, headers, body = _path_cases(rows)[case]
    fast = _answer(paths["fast"]["client"], path, headers, body)
    assert fast == _answer(paths["flask"]["client"], path, headers, body)
    status, shown, answer = fast
    names = dict(shown)
    assert names["x-request-id"] and names["content-length"] == str(len(answer))
    if case.startswith("ok"):
        assert status == "200 OK" and names["x-amzn-invoked-production-variant"] == "AllTraffic"
        assert len(json.loads(answer)["predictions"]) == 1
    else:
        assert status[0] == "4" and json.loads(answer)["error"]["message"]
    if case == "ok, the client's ids":
        assert (names["x-amzn-sagemaker-inference-id"], names["x-request-id"]) == \
            ("client-7", "request-7")
    expected = {"too large": "413 REQUEST ENTITY TOO LARGE", "no token": "401 UNAUTHORIZED",
                "unknown endpoint": "404 NOT FOUND", "unknown target variant": "400 BAD REQUEST"}
    assert status == expected.get(case, status)
    assert (names.get("connection") == "close") == (case == "too large")


def test_only_the_flask_path_runs_flask_for_invocations(paths, rows):
    path, headers, body = _path_cases(rows)["ok csv"]
    for name, through_flask in (("fast", 0), ("flask", 1)):
        seen = paths[name]["seen"]
        before = len(seen)
        assert paths[name]["client"].post(path, data=body, headers=headers).status_code == 200
        assert len(seen) - before == through_flask
        assert paths[name]["client"].get("/ping").status_code == 200
        assert seen[-1] == "/ping"
    sticky = paths["fast"]["client"].application.test_client()
    sticky.set_cookie("AWSALB", "x")  # a load balancer's cookie is no session: still fast
    before = len(paths["fast"]["seen"])
    assert sticky.post(path, data=body, headers=headers).status_code == 200
    assert len(paths["fast"]["seen"]) == before


def _metric(client, series: str) -> float:
    found = [line.rsplit(" ", 1)[1] for line in client.get("/metrics", headers=BEARER)
             .get_data(as_text=True).splitlines() if line.startswith(series + " ")]
    return float(found[0]) if found else 0.0


def test_both_paths_count_what_they_answer(paths, rows):
    cases = _path_cases(rows)
    ok = 'automl_endpoint_requests_total{endpoint="both-paths",status="200"}'
    unknown = 'automl_endpoint_errors_total{endpoint="(unknown)",status="404"}'
    for name in ("fast", "flask"):
        client = paths[name]["client"]
        before = (_metric(client, ok), _metric(client, unknown), _variant_requests(client))
        for case in ("ok csv", "unknown endpoint"):
            client.post(cases[case][0], data=cases[case][2], headers=cases[case][1])
        after = (_metric(client, ok), _metric(client, unknown), _variant_requests(client))
        assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1], name


def _variant_requests(client) -> int:
    return client.get("/api/v1/endpoints/both-paths/variants",
                      headers=BEARER).json["variants"][0]["requests"]


def test_a_logged_in_browser_invokes_through_flask(paths, rows):
    client = paths["fast"]["client"].application.test_client()  # a browser of its own
    assert client.post("/login", data={"token": TOKEN, "csrf_token": csrf(client, "/login")}
                       ).status_code == 302
    seen = paths["fast"]["seen"]
    before = len(seen)
    answer = client.post(BOTH, data=rows.head(1).to_csv(header=False, index=False),
                         content_type="text/csv")
    assert answer.status_code == 200 and len(seen) == before + 1


def test_a_fault_is_the_apps_500_on_both_paths(paths, rows, monkeypatch, caplog):
    path, headers, body = _path_cases(rows)["ok csv"]
    headers = {**headers, "X-Request-Id": "fault-1"}
    faults = 'automl_endpoint_errors_total{endpoint="both-paths",status="500"}'
    answers = []
    for name in ("fast", "flask"):
        client = paths[name]["client"]
        bundle = client.application.extensions["automl_endpoints"].bundle("both-paths")
        monkeypatch.setattr(bundle, "predict_one", _explode)  # a model failing at predict time
        monkeypatch.setattr(bundle, "matrix", _explode)
        before = _metric(client, faults)
        answers.append(_answer(client, path, headers, body))
        assert _metric(client, faults) == before + 1
    assert answers[0] == answers[1]
    status, shown, answer = answers[0]
    error = json.loads(answer)["error"]
    assert status == "500 INTERNAL SERVER ERROR" and error["code"] == "internal_error"
    assert "fault-1" in error["message"] and dict(shown)["x-request-id"] == "fault-1"
    assert caplog.text.count("RuntimeError: boom") == 2, "logged with the traceback each time"


def _explode(*args, **kwargs):
    raise RuntimeError("boom")
