"""Explanations, quality figures and the close-call note, through the API and the pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from automl.jobs.execute import execute
from automl.service_config import resolve_service_settings
from web import create_app

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "titanic.csv"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("transparency") / "data"
    settings = resolve_service_settings(env={}, data_dir=str(data))
    return create_app({"TESTING": True, "SERVICE_SETTINGS": settings})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def job(app, client) -> dict:
    dataset = client.post("/api/v1/datasets", data=SAMPLE.read_bytes(), content_type="text/csv",
                          query_string={"name": "titanic.csv"}).json
    job = client.post("/api/v1/jobs", json={"dataset_id": dataset["id"], "target": "Survived",
                                            "time_budget": None, "max_candidates": 3}).json
    service = app.extensions["automl"]
    assert service.store.claim_next()["id"] == job["id"]
    assert execute(service.store, service.settings, job["id"]) == "completed"
    rows = client.get(f"/api/v1/jobs/{job['id']}/leaderboard").json["rows"]
    done = [r["candidate_id"] for r in rows if r["state"] == "complete"]
    return {"id": job["id"], "winner": done[0], "other": done[-1]}


def test_winner_has_explanation_and_quality_figures(client, job):
    body = client.get(f"/api/v1/jobs/{job['id']}/candidates/{job['winner']}").json
    assert body["explanation"]["importance"]
    assert set(body["explanation"]["importance"]) <= {
        "Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Ticket", "Fare", "Cabin", "Embarked"}
    assert {"roc", "confusion_matrix", "calibration", "precision_recall"} <= set(body["figures"])
    assert body["quality"]["thresholds"]
    with client.get(body["figures"]["roc"]) as figure:
        assert figure.status_code == 200 and figure.mimetype == "image/svg+xml"
        assert b"<svg" in figure.data


def test_bad_figure_names_are_404(client, job):
    base = f"/api/v1/jobs/{job['id']}/candidates/{job['winner']}/figures"
    for name in ("nope.svg", "..%2Freport.json", "roc.png"):
        response = client.get(f"{base}/{name}")
        assert response.status_code == 404, name
        assert response.json["error"]["message"]


def test_explanation_on_request_for_another_candidate(client, job):
    url = f"/api/v1/jobs/{job['id']}/candidates/{job['other']}/explanation"
    response = client.post(url)
    assert response.status_code == 200, response.json
    assert response.json["candidate_id"] == job["other"]
    assert sum(response.json["importance"].values()) > 0
    shares = list(response.json["importance"].values())
    assert shares == sorted(shares, reverse=True), "the API lists the most important column first"
    again = client.get(f"/api/v1/jobs/{job['id']}/candidates/{job['other']}").json
    assert again["explanation"] == response.json


def test_explanation_of_unknown_candidate(client, job):
    response = client.post(f"/api/v1/jobs/{job['id']}/candidates/nope_999/explanation")
    assert response.status_code == 404


def test_pages_show_figures_and_leaderboard_note(client, job):
    page = client.get(f"/jobs/{job['id']}/candidates/{job['winner']}").get_data(as_text=True)
    assert "Model quality" in page and "<img src=" in page and "What drives its predictions" in page
    board = client.get(f"/api/v1/jobs/{job['id']}/leaderboard").json
    assert "note" in board
    job_page = client.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert 'id="board-note"' in job_page


def test_one_training_row_explained_adds_up_to_its_prediction(client, job):
    url = f"/api/v1/jobs/{job['id']}/candidates/{job['winner']}/explanation/rows"
    response = client.post(url, json={"row_numbers": [0, 3]})
    assert response.status_code == 200, response.json
    rows = response.json["rows"]
    assert len(rows) == 2
    for row in rows:
        total = row["base_value"] + sum(row["contributions"].values())
        assert total == pytest.approx(row["prediction"], abs=1e-6)
        assert row["class"] in (0, 1, "0", "1")
    first = SAMPLE.read_text().splitlines()[1]
    assert rows[0]["values"]["Name"] in first  # the training file's first row, by number


def test_a_pasted_row_is_explained_and_a_bad_body_is_a_clear_400(client, job):
    url = f"/api/v1/jobs/{job['id']}/candidates/{job['other']}/explanation/rows"
    row = {"Pclass": 3, "Name": "Doe, Mr. John", "Sex": "male", "Age": 30, "SibSp": 0,
           "Parch": 0, "Ticket": "A/5 1", "Fare": 7.25, "Cabin": None, "Embarked": "S"}
    response = client.post(url, json={"rows": [row]})
    assert response.status_code == 200, response.json
    assert response.json["rows"][0]["values"]["Sex"] == "male"
    for body, says in (({}, "say which rows"), ({"row_numbers": [10**6]}, "no row 1000000"),
                       ({"rows": [], "row_numbers": [1]}, "say which rows"),
                       ({"rows": [{"Pclass": 3}]}, "Sex")):
        bad = client.post(url, json=body)
        assert bad.status_code == 400, (body, bad.json)
        assert says in bad.json["error"]["message"], bad.json


def test_dependence_plots_of_the_top_columns(client, job):
    url = f"/api/v1/jobs/{job['id']}/candidates/{job['other']}/explanation/dependence"
    response = client.post(url)
    assert response.status_code == 200, response.json
    doc = response.json
    importance = client.get(f"/api/v1/jobs/{job['id']}/candidates/{job['other']}").json
    ranked = sorted(importance["explanation"]["importance"].items(), key=lambda kv: -kv[1])
    top = [column for column, _ in ranked][:len(doc["columns"])]
    assert [c["column"] for c in doc["columns"]] == top and len(top) >= 2
    for column in doc["columns"]:
        assert len(column["values"]) == len(column["contributions"]) == doc["rows"]
        with client.get(column["figure"]) as figure:
            assert figure.status_code == 200 and b"<svg" in figure.data
    assert client.post(url).json == doc  # computed once


def test_predictions_of_a_csv_from_the_winner_and_a_candidate(client, job):
    lines = SAMPLE.read_text().splitlines()[:21]
    body = "\n".join(lines) + "\n"
    for url in (f"/api/v1/jobs/{job['id']}/predictions",
                f"/api/v1/jobs/{job['id']}/candidates/{job['other']}/predictions"):
        response = client.post(url, data=body, content_type="text/csv")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        out = response.get_data(as_text=True).splitlines()
        assert out[0].startswith("prediction") and len(out) == 21
    wrong = client.post(f"/api/v1/jobs/{job['id']}/predictions", data=body,
                        content_type="application/json")
    assert wrong.status_code == 415


def test_jobs_compared_through_the_api_and_bad_requests(client, job):
    body = client.get(f"/api/v1/jobs/{job['id']}").json
    second = client.post("/api/v1/jobs", json={"dataset_id": body["dataset_id"],
                                               "target": "Survived", "max_candidates": 2}).json
    response = client.get("/api/v1/compare", query_string={"jobs": f"{job['id']},{second['id']}"})
    assert response.status_code == 200, response.json
    doc = response.json
    assert [j["id"] for j in doc["jobs"]] == [job["id"], second["id"]]
    assert doc["same_metric"] and doc["same_dataset"]
    assert doc["jobs"][0]["winner"] == job["winner"] and doc["jobs"][1]["status"] == "queued"
    family = next(f for f in doc["families"] if f["family"] == "lightgbm")
    assert family["scores"][second["id"]] is None and family["scores"][job["id"]] is not None
    assert client.get("/api/v1/compare", query_string={"jobs": job["id"]}).status_code == 400
    missing = client.get("/api/v1/compare", query_string={"jobs": f"{job['id']},job_nope"})
    assert missing.status_code == 404 and "job_nope" in missing.json["error"]["message"]
    page = client.get("/compare", query_string={"jobs": [job["id"], second["id"]]})
    assert page.status_code == 200 and "Best score of each model family" in page.get_data(as_text=True)
