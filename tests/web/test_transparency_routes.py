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
