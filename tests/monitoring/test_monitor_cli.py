"""End to end: a job writes its baseline, REAL gunicorn (``automl serve-model --capture-dir``)
captures what boto3 and requests send, and ``automl monitor`` checks it offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pandas as pd
import pytest
import requests

import automl
from automl.monitoring.capture import CaptureWriter, capture_files
from automl.serving.server import create_model_app

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "titanic.csv"
sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from service_process import ModelServer  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("titanic-run")
    automl.fit(SAMPLE, "Survived", time_budget=None, max_candidates=2, seed=0, output=output)
    return output


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return pd.read_csv(SAMPLE)


def _monitor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "automl.cli", "monitor", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def _records(directory: Path) -> list[dict]:
    return [json.loads(line) for p in capture_files(directory) for line in p.read_text().splitlines()]


def test_the_job_writes_its_monitoring_baseline(run_dir):
    names = {p.name for p in (run_dir / "monitoring").iterdir()}
    assert {"statistics.json", "constraints.json", "predictions.json"} <= names
    stats = json.loads((run_dir / "monitoring" / "statistics.json").read_text())
    schema = json.loads((run_dir / "model" / "schema.json").read_text())
    assert [f["name"] for f in stats["features"]] == [c["name"] for c in schema["columns"]]
    predictions = json.loads((run_dir / "monitoring" / "predictions.json").read_text())
    assert predictions["features"][0]["name"] == "prediction"
    assert predictions["dataset"]["item_count"] == len(pd.read_csv(SAMPLE))


@pytest.fixture(scope="module")
def captured(run_dir, rows, tmp_path_factory) -> tuple[Path, list[str]]:
    """Rows sent to a real serve-model with capture on; the inference ids it answered."""
    capture = tmp_path_factory.mktemp("capture")
    server = ModelServer(run_dir, "--workers", "2", "--capture-dir", str(capture))
    url = server.url
    features = rows.drop(columns="Survived")
    runtime = boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x")
    ids = []
    try:
        for i in range(120):
            body = features.iloc[[i]].to_csv(index=False, header=False)
            if i % 2:
                answer = runtime.invoke_endpoint(EndpointName="titanic", Body=body,
                                                 ContentType="text/csv", InferenceId=f"boto-{i}")
                assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
                ids.append(f"boto-{i}")
            else:
                answer = requests.post(f"{url}/invocations", data=body, timeout=30,
                                       headers={"Content-Type": "text/csv"})
                assert answer.status_code == 200
                ids.append(answer.headers["X-Amzn-SageMaker-Inference-Id"])
        bad = requests.post(f"{url}/invocations", data=b"1,2", timeout=30,
                            headers={"Content-Type": "text/csv"})
        assert bad.status_code == 400
    finally:
        server.stop()  # workers write what is queued as they exit
    return capture, ids


def test_serve_model_captures_every_answered_request(captured):
    capture, ids = captured
    records = _records(capture)
    assert sorted(r["eventMetadata"]["inferenceId"] for r in records) == sorted(ids)
    assert {p.relative_to(capture).parts[:2] for p in capture_files(capture)} == \
        {("standalone", "AllTraffic")}
    assert {r["captureData"]["endpointInput"]["observedContentType"] for r in records} == {"text/csv"}


def test_monitor_reports_quality_from_ground_truth(run_dir, rows, captured, tmp_path):
    capture, ids = captured
    truth = tmp_path / "truth.csv"
    pd.DataFrame({"inference_id": ids, "label": rows["Survived"][:120]}).to_csv(truth, index=False)
    out = tmp_path / "out"
    done = _monitor(run_dir, capture, "--ground-truth", truth, "--output", out)
    assert done.returncode == 0, done.stderr
    assert "verdict" in done.stdout and "measured auc" in done.stdout
    violations = json.loads((out / "constraint_violations.json").read_text())
    assert set(violations) == {"violations"}
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"]["item_count"] == 120
    assert report["quality"]["rows"] == 120 and report["quality"]["estimated"] is False
    assert report["estimated_quality"]["estimated"] is True


def test_monitor_flags_a_drifted_replay(run_dir, rows, tmp_path):
    capture = tmp_path / "capture"
    writer = CaptureWriter(capture, "titanic")
    client = create_model_app(run_dir, capture=writer).test_client()
    shifted = rows.drop(columns="Survived").head(300).copy()
    shifted["Age"] = shifted["Age"] + 25
    shifted["Sex"] = "female"
    body = shifted.to_csv(index=False)
    assert client.post("/invocations", data=body, content_type="text/csv").status_code == 200
    writer.close()
    done = _monitor(run_dir / "model", capture, "--output", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    found = {(v["feature_name"], v["constraint_check_type"])
             for v in json.loads((tmp_path / "out" / "constraint_violations.json").read_text())["violations"]}
    assert {("Age", "baseline_drift_check"), ("Sex", "baseline_drift_check"),
            ("prediction", "prediction_drift_check")} <= found


def test_bad_input_exits_2_and_writes_nothing(run_dir, captured, tmp_path):
    capture, ids = captured
    truth = tmp_path / "truth.csv"
    truth.write_text(f"inference_id,label\n{ids[0]},1\nnobody,0\n")
    out = tmp_path / "out"
    done = _monitor(run_dir, capture, "--ground-truth", truth, "--output", out)
    assert done.returncode == 2
    assert "no captured request ('nobody')" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()
    done = _monitor(run_dir, tmp_path / "missing", "--output", out)
    assert done.returncode == 2 and "no such file or directory" in done.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _monitor(run_dir, empty, "--output", out)
    assert done.returncode == 2 and "no captured requests" in done.stderr


def test_serve_model_refuses_a_bad_capture_percentage(run_dir, tmp_path):
    done = subprocess.run([sys.executable, "-m", "automl.cli", "serve-model", str(run_dir),
                           "--capture-dir", str(tmp_path), "--capture-percent", "150"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "between 0 and 100" in done.stderr and "Traceback" not in done.stderr
