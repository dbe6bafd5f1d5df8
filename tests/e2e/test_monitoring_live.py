"""Monitoring of a deployed model in a live ``automl serve`` (gunicorn, two workers, runner):
boto3 with ``InferenceId``, capture files, ground truth refused or taken whole, a drifted replay
that a run flags, a real local webhook receiver, ``/metrics``, the endpoint page in Chromium,
and a scheduled run by the runner after a restart. One service and one job for the module."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from automl.store import make_engine
from automl.store.monitoring import MonitoringStore
from tests.browser.conftest import browser  # noqa: F401 - the module's Chromium
from tests.monitoring.receiver import Receiver

sys.path.insert(0, str(Path(__file__).parent))
from service_process import ServiceProcess  # noqa: E402
from test_endpoints_live import runtime  # noqa: E402

pytestmark = pytest.mark.slow
boto3 = pytest.importorskip("boto3")
NAME = "watch"


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory, finished_titanic, receiver):
    data_dir = tmp_path_factory.mktemp("monitoring") / "data"
    job = finished_titanic(data_dir)
    env = {"AUTOML_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver is on 127.0.0.1
           "AUTOML_MONITOR_ATTRIBUTION": "0"}  # SHAP of each window: tested in tests/monitoring
    service = ServiceProcess(data_dir, env=env).start()
    try:
        created = service.post("/api/v1/endpoints", json={
            "name": NAME, "job_id": job["id"], "capture_percent": 100,
            "webhook_url": receiver.url})
        assert created.status_code == 201, created.text
        assert created.json()["monitoring"]["capture_percent"] == 100
        yield {"service": service, "data_dir": data_dir}
    finally:
        service.stop()


@pytest.fixture(scope="module")
def rows(sample_data) -> pd.DataFrame:
    return pd.read_csv(sample_data / "titanic.csv")


def captured(data_dir: Path, inference_id: str, timeout: float = 20.0) -> dict:
    """The capture record of ``inference_id`` once a worker's writer has written it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in (data_dir / "capture" / NAME / "AllTraffic").rglob("*.jsonl"):
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if record["eventMetadata"]["inferenceId"] == inference_id:
                    return record
        time.sleep(0.2)
    raise AssertionError(f"no capture record of {inference_id}")


def test_boto3_inference_id_is_kept_captured_and_counted(live, rows):
    service, data_dir = live["service"], live["data_dir"]
    body = rows.drop(columns="Survived").head(3).to_csv(index=False, header=False)
    answer = runtime(service.url).invoke_endpoint(
        EndpointName=NAME, ContentType="text/csv", Accept="application/json", Body=body,
        InferenceId="boto-1")
    headers = answer["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-sagemaker-inference-id"] == "boto-1"
    record = captured(data_dir, "boto-1")
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv", "mode": "INPUT", "data": body, "encoding": "CSV"}
    assert record["captureData"]["endpointOutput"]["encoding"] == "JSON"
    hour = Path(*time.strftime("%Y/%m/%d/%H", time.gmtime()).split("/"))
    assert list((data_dir / "capture" / NAME / "AllTraffic" / hour).glob("*.jsonl"))
    plain = service.post(f"/endpoints/{NAME}/invocations", data=body,
                         headers={"Content-Type": "text/csv"})
    generated = plain.headers["X-Amzn-SageMaker-Inference-Id"]
    assert len(generated) == 36 and captured(data_dir, generated)
    metrics = service.get("/metrics").text
    assert f'automl_endpoint_requests_total{{endpoint="{NAME}",status="200"}}' in metrics
    assert "automl_endpoint_latency_seconds_bucket" in metrics
    service.post("/endpoints/no-such-endpoint/invocations", data=body,
                 headers={"Content-Type": "text/csv"})
    metrics = service.get("/metrics").text
    assert 'automl_endpoint_errors_total{endpoint="(unknown)",status="404"}' in metrics
    counts = service.get(f"/api/v1/endpoints/{NAME}/monitoring").json()["capture"]
    assert counts["captured"] >= 2 and counts["dropped"] == 0


def test_ground_truth_is_refused_whole_or_taken_whole(live, rows):
    service, data_dir = live["service"], live["data_dir"]
    body = rows.drop(columns="Survived").head(2).to_csv(index=False, header=False)
    service.post(f"/endpoints/{NAME}/invocations", data=body,
                 headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": "gt-1"})
    captured(data_dir, "gt-1")
    url = f"/api/v1/endpoints/{NAME}/ground-truth"

    def send(text: str, kind: str = "text/csv") -> requests.Response:
        return service.post(url, data=text.encode(), headers={"Content-Type": kind})

    refused = {
        "unknown id": ("inference_id,label\ngt-1:0,1\nnever-seen,0\n", "never-seen"),
        "duplicate": ("inference_id,label\ngt-1:0,1\ngt-1:0,0\n", "more than once"),
        "not a class": ("inference_id,label\ngt-1:0,7\n", "not classes of this model"),
        "malformed csv": ("inference_id,label\ngt-1:0\n", "fields"),
        "empty": ("", "empty"),
    }
    for case, (text, words) in refused.items():
        answer = send(text)
        assert answer.status_code == 400, (case, answer.text)
        assert words in answer.json()["error"]["message"], case
    torn = '{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMeta'
    answer = send(torn, "application/jsonlines")
    assert answer.status_code == 400 and "line 1" in answer.json()["error"]["message"]
    good = "\n".join(json.dumps({"groundTruthData": {"data": str(label), "encoding": "CSV"},
                                 "eventMetadata": {"eventId": f"gt-1:{i}"}, "eventVersion": "0"})
                     for i, label in enumerate(rows["Survived"].head(2)))
    answer = send(good, "application/jsonlines")
    assert answer.status_code == 201, answer.text
    assert answer.json()["labels"] == 2 and answer.json()["total_labels"] == 2, \
        "nothing of the refused uploads was kept"
    again = send("inference_id,label\ngt-1:0,1\n")
    assert again.status_code == 400 and "already have a label" in again.text


def test_a_drifted_replay_is_flagged_sent_to_the_webhook_and_shown(live, rows, receiver,
                                                                   browser):  # noqa: F811
    service = live["service"]
    drifted = rows.drop(columns="Survived").sample(300, replace=True, random_state=0)
    drifted["Age"] = drifted["Age"] + 35
    drifted["Sex"] = "female"
    for chunk in range(0, 300, 100):
        answer = service.post(f"/endpoints/{NAME}/invocations",
                              data=drifted.iloc[chunk:chunk + 100].to_csv(index=False),
                              headers={"Content-Type": "text/csv"})
        assert answer.status_code == 200
    asked = service.post(f"/api/v1/endpoints/{NAME}/monitoring-runs", json={"hours": 2})
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "queued"
    run = finished_run(service, asked.headers["Location"])
    assert run["status"] == "completed" and run["trigger"] == "on_demand", run
    assert {"Age", "Sex"} <= set(run["summary"]["drifted_columns"])
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in run["violations"]}
    assert ("Age", "baseline_drift_check") in checks
    deadline = time.time() + 30
    while not receiver.bodies and time.time() < deadline:
        time.sleep(0.2)
    (alert,) = receiver.bodies
    assert alert["endpoint"] == NAME and alert["violations"] == run["violations"]
    drift = service.get(f"/api/v1/endpoints/{NAME}/monitoring/drift").json()
    assert "Age" in drift["columns"] and drift["worst"][0]["column"] in run["summary"][
        "drifted_columns"]
    assert f'automl_endpoint_drift_score{{endpoint="{NAME}"}}' in service.get("/metrics").text
    check_the_page(browser, service.url)


def finished_run(service, location: str, timeout: float = 240.0) -> dict:
    """Poll a queued run until the runner has finished it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = service.get(location).json()
        if run["status"] in ("completed", "failed"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"the run at {location} did not finish in {timeout} s: {run}")


def check_the_page(browser, url: str) -> None:  # noqa: F811
    page = browser.new_page()
    try:
        page.goto(f"{url}/endpoints/{NAME}")
        assert "baseline_drift_check" in page.inner_text("#violations")
        assert "Age" in page.inner_text("#violations")
        page.wait_for_load_state("networkidle")
        widths = page.eval_on_selector_all("#monitoring img", "imgs => imgs.map(i => i.naturalWidth)")
        assert len(widths) == 5 and all(w > 0 for w in widths), widths
    finally:
        page.close()


def test_retraining_from_labelled_captures_compares_champion_and_challenger(live, rows):
    service, data_dir = live["service"], live["data_dir"]
    url = f"/api/v1/endpoints/{NAME}/retrain"
    batch = rows.iloc[-100:]
    body = batch.drop(columns="Survived").to_csv(index=False, header=False)
    service.post(f"/endpoints/{NAME}/invocations", data=body,
                 headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": "rt"})
    captured(data_dir, "rt")
    labels = "".join(f"rt:{i},{label}\n" for i, label in enumerate(batch["Survived"]))
    sent = service.post(f"/api/v1/endpoints/{NAME}/ground-truth",
                        data=("inference_id,label\n" + labels).encode(),
                        headers={"Content-Type": "text/csv"})
    assert sent.status_code in (200, 201, 202), sent.text
    refused = service.post(url, json={"holdout_share": 0.01})
    assert refused.status_code == 400 and "held out" in refused.json()["message"]
    started = service.post(url, json={"holdout_share": 0.25, "then": "shadow"})
    assert started.status_code == 202, started.text
    retraining = started.json()
    labelled = retraining["held_out"] + retraining["added_from_captures"]  # + earlier tests'
    assert labelled >= 100 and retraining["held_out"] == round(0.25 * labelled)
    assert retraining["training_rows"] == len(rows) + retraining["added_from_captures"]
    # the runner compares the two once the job ended, then adds the challenger as the shadow
    deadline = time.time() + 240
    done = retraining
    while done["state"] not in ("completed", "failed") and time.time() < deadline:
        time.sleep(1)
        done = service.get(retraining["links"]["self"]).json()
    assert done["state"] == "completed", done
    comparison = done["comparison"]
    assert comparison["metric"] == "auc" and comparison["rows"] == retraining["held_out"]
    for side in ("champion", "challenger"):
        low, high = comparison[side]["interval"]
        assert low <= comparison[side]["score"] <= high
    assert done["outcome"]["done"], done["outcome"]
    variants = service.get(f"/api/v1/endpoints/{NAME}/variants").json()["variants"]
    assert [(v["name"], v["role"]) for v in variants[1:]] == [(done["then"]["variant"], "shadow")]
    assert service.get(f"{url}/rt_nope").status_code == 404


def test_a_scheduled_run_happens_after_a_restart_and_stops_when_deleted(live):
    service, data_dir = live["service"], live["data_dir"]
    service.stop()
    engine = make_engine(f"sqlite:///{data_dir / 'automl.db'}")
    MonitoringStore(engine).change(NAME, interval_s=10)
    engine.dispose()
    restarted = time.time()
    service.start()
    deadline = time.time() + 240
    scheduled = []
    while not scheduled and time.time() < deadline:
        runs = service.get(f"/api/v1/endpoints/{NAME}/monitoring-runs").json()["runs"]
        scheduled = [r for r in runs if r["trigger"] == "schedule" and r["status"] != "running"]
        time.sleep(1)
    assert scheduled, "the runner ran no scheduled monitoring after the restart"
    assert scheduled[0]["status"] == "completed", scheduled[0]
    assert pd.Timestamp(scheduled[0]["started_at"]).timestamp() >= restarted - 1
    assert requests.delete(f"{service.url}/api/v1/endpoints/{NAME}", timeout=30).status_code == 204
    stopped = service.get(f"/api/v1/endpoints/{NAME}/monitoring").json()
    assert stopped["stopped_reason"] == "the endpoint was deleted"
    assert stopped["next_run_at"] is None
