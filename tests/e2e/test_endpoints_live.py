"""A live ``automl serve`` driven by boto3's ``sagemaker-runtime`` client: deploy a job's winner,
invoke it as SageMaker code would, repoint it to another candidate, restart the service, and
check every answer against the bundle's own in-process predictions."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from automl.model.bundle import ModelBundle

sys.path.insert(0, str(Path(__file__).parent))
from service_process import ServiceProcess  # noqa: E402

pytestmark = pytest.mark.slow
boto3 = pytest.importorskip("boto3")


def runtime(url: str):
    return boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="dummy", aws_secret_access_key="dummy")


def invoke_json(client, name: str, rows: pd.DataFrame) -> np.ndarray:
    response = client.invoke_endpoint(
        EndpointName=name, ContentType="application/json", Accept="application/json",
        Body=json.dumps({"instances": rows.to_dict(orient="records")}))
    assert response["ContentType"] == "application/json"
    return np.array([p["probabilities"] for p in json.loads(response["Body"].read())["predictions"]])


def test_boto3_sagemaker_runtime_against_the_live_service(tmp_path, sample_data,
                                                          finished_titanic):
    data_dir = tmp_path / "data"
    job = finished_titanic(data_dir)
    service = ServiceProcess(data_dir).start()
    try:
        rows = pd.read_csv(sample_data / "titanic.csv").drop(columns="Survived").head(25)
        board = service.get(f"/api/v1/jobs/{job['id']}/leaderboard").json()["rows"]
        other = next(r["candidate_id"] for r in board[1:] if r["state"] == "complete")
        created = service.post("/api/v1/endpoints", json={"name": "titanic", "job_id": job["id"]})
        assert created.status_code == 201, created.text
        winner = ModelBundle.load(data_dir / "jobs" / job["id"] / "model")
        client = runtime(service.url)
        for _ in range(4):  # both gunicorn workers load it lazily from the store
            assert invoke_json(client, "titanic", rows) == pytest.approx(
                winner.predict_proba(rows).to_numpy())
        as_csv = client.invoke_endpoint(EndpointName="titanic", ContentType="text/csv",
                                        Accept="text/csv", Body=rows.to_csv(index=False))
        labels = [line.split(",")[0] for line in as_csv["Body"].read().decode().splitlines()]
        assert labels == [str(v) for v in winner.predict(rows)]

        moved = requests_put(service, "titanic", {"job_id": job["id"], "candidate_id": other})
        assert moved["candidate_id"] == other
        refit = ModelBundle.load(data_dir / "jobs" / job["id"] / "candidates" / other / "model")
        for _ in range(4):
            assert invoke_json(client, "titanic", rows) == pytest.approx(
                refit.predict_proba(rows).to_numpy())
        check_boto3_target_variant(client, service, job["id"], rows, winner)
        with pytest.raises(client.exceptions.ClientError) as missing:
            client.invoke_endpoint(EndpointName="nope", ContentType="text/csv", Body="1\n")
        assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert missing.value.response["Error"]["Code"] == "endpoint_not_found"
        assert "'nope'" in missing.value.response["Error"]["Message"]
        check_boto3_sees_the_error_curl_sees(client, service)

        service.stop()
        service = ServiceProcess(data_dir, port=service.port).start()
        assert invoke_json(runtime(service.url), "titanic", rows) == pytest.approx(
            refit.predict_proba(rows).to_numpy())
        check_rollback_while_requests_are_in_flight(service, rows, winner, refit)
    finally:
        service.stop()


def check_boto3_target_variant(client, service, job_id: str, rows, winner) -> None:
    """boto3's ``TargetVariant=`` picks a production variant; ``InvokedProductionVariant`` says
    which answered."""
    added = requests.post(f"{service.url}/api/v1/endpoints/titanic/variants", timeout=60,
                          json={"name": "first", "job_id": job_id, "weight": 0})
    assert added.status_code == 201, added.text
    response = client.invoke_endpoint(
        EndpointName="titanic", ContentType="application/json", Accept="application/json",
        TargetVariant="first", Body=json.dumps({"instances": rows.to_dict(orient="records")}))
    assert response["InvokedProductionVariant"] == "first"
    got = [p["probabilities"] for p in json.loads(response["Body"].read())["predictions"]]
    assert np.array(got) == pytest.approx(winner.predict_proba(rows).to_numpy())
    assert requests.delete(f"{service.url}/api/v1/endpoints/titanic/variants/first",
                           timeout=60).status_code == 200


def check_boto3_sees_the_error_curl_sees(client, service) -> None:
    """A bad row: boto3's ClientError carries the code and message a curl user reads."""
    body = "1,0,abc,,"
    with pytest.raises(client.exceptions.ClientError) as bad:
        client.invoke_endpoint(EndpointName="titanic", ContentType="text/csv", Body=body)
    plain = requests.post(f"{service.url}/endpoints/titanic/invocations", data=body,
                          headers={"Content-Type": "text/csv"}, timeout=60)
    assert plain.status_code == 400
    error = plain.json()["error"]
    assert error["message"]
    assert bad.value.response["Error"] == {"Code": error["code"], "Message": error["message"]}
    assert error["message"] in str(bad.value)


def requests_put(service, name: str, body: dict) -> dict:
    response = requests.put(f"{service.url}/api/v1/endpoints/{name}", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def check_rollback_while_requests_are_in_flight(service, rows, winner, refit) -> None:
    """Two clients invoke without pause while the endpoint rolls back to version 1: no request
    fails, each answer is wholly one model's, every request answered before the rollback was
    asked for got the refit's and every request sent after it was answered gets the winner's
    (each worker reads the endpoint's row per request). A request in flight across the
    rollback may get either: on a loaded machine a worker's first request, which loads the
    model, can take seconds."""
    expected = {"winner": winner.predict_proba(rows).to_numpy(),
                "refit": refit.predict_proba(rows).to_numpy()}
    body = json.dumps({"instances": rows.to_dict(orient="records")})
    answers, stop = [], threading.Event()

    def client() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                started = time.monotonic()
                r = session.post(f"{service.url}/endpoints/titanic/invocations", data=body,
                                 headers={"Content-Type": "application/json"}, timeout=60)
                got = (np.array([p["probabilities"] for p in r.json()["predictions"]])
                       if r.status_code == 200 else None)
                answers.append((started, time.monotonic(), r.status_code, got))

    def wait_for(condition) -> None:
        deadline = time.monotonic() + 60
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.1)

    threads = [threading.Thread(target=client) for _ in range(2)]
    for t in threads:
        t.start()
    wait_for(lambda: len(answers) >= 4)
    asked = time.monotonic()
    back = requests.post(f"{service.url}/api/v1/endpoints/titanic/rollback",
                         json={"version": 1}, timeout=60)
    rolled_back = time.monotonic()
    wait_for(lambda: sum(started > rolled_back for started, *_ in list(answers)) >= 4)
    stop.set()
    for t in threads:
        t.join(60)
    assert back.status_code == 200, back.text
    assert answers and all(status == 200 for _, _, status, _ in answers), \
        [status for _, _, status, _ in answers if status != 200][:5]
    models = [next((name for name, p in expected.items() if np.allclose(got, p)), "mixed")
              for *_, got in answers]
    assert "mixed" not in models, "an answer mixed two models"
    early = [m for (_, done, _, _), m in zip(answers, models, strict=True) if done < asked]
    assert early and set(early) == {"refit"}, "before the rollback, the version it replaced"
    late = [m for (at, _, _, _), m in zip(answers, models, strict=True) if at > rolled_back]
    assert late and set(late) == {"winner"}, "a request sent after the rollback got the old model"
