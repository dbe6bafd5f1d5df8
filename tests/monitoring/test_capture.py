"""Data capture: SageMaker's layout on disk, a writer that never blocks or fails, retention, and
a reader that survives torn and foreign lines. Real files and real threads."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from automl.candidates.generator import build_pipeline, generate_candidates
from automl.model.bundle import ModelBundle
from automl.monitoring import capture as capture_module
from automl.monitoring.capture import CaptureWriter, Retention, capture_files, enforce_retention
from automl.monitoring.reader import ReadStats, iter_records, read_window
from automl.serving.batch import stream_predictions
from automl.testing import tiny_case

CSV, JSON = "text/csv", "application/json"
ANSWER = json.dumps({"predictions": [{"predicted_label": 1, "probability": 0.8,
                                      "probabilities": [0.2, 0.8], "labels": [0, 1]}]})


def _lines(root: Path) -> list[dict]:
    return [json.loads(line) for path in capture_files(root) for line in path.read_text().splitlines()]


def test_records_follow_sagemaker_layout_in_hourly_files(tmp_path):
    writer = CaptureWriter(tmp_path, "churn", "AllTraffic")
    assert writer.capture(b"1.5,red", CSV, ANSWER.encode(), JSON, inference_id="client-1")
    assert writer.capture(b"\xff\xfe binary", "application/octet-stream", b"0.5", CSV)
    assert writer.flush()
    writer.close()

    files = capture_files(tmp_path)
    assert len(files) == 1
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime())
    assert files[0].parent == tmp_path / "churn" / "AllTraffic" / hour
    first, second = _lines(tmp_path)
    assert first["eventVersion"] == "0"
    assert first["captureData"]["endpointInput"] == {
        "observedContentType": CSV, "mode": "INPUT", "data": "1.5,red", "encoding": "CSV"}
    assert first["captureData"]["endpointOutput"]["encoding"] == "JSON"
    assert first["captureData"]["endpointOutput"]["mode"] == "OUTPUT"
    assert first["eventMetadata"]["inferenceId"] == "client-1"
    assert first["eventMetadata"]["inferenceTime"].endswith("Z")
    assert first["eventMetadata"]["eventId"] != second["eventMetadata"]["eventId"]
    assert second["captureData"]["endpointInput"]["encoding"] == "BASE64"
    assert second["eventMetadata"]["inferenceId"]  # generated when the client sent none
    assert writer.stats()["captured"] == 2


def test_many_threads_capture_every_request_once(tmp_path):
    writer = CaptureWriter(tmp_path, "ep")

    def send(thread: int) -> None:
        for i in range(200):
            writer.capture(f"{thread},{i}", CSV, "0.5\n", CSV, inference_id=f"{thread}-{i}")

    threads = [threading.Thread(target=send, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    stats = writer.stats()
    ids = [r["eventMetadata"]["inferenceId"] for r in _lines(tmp_path)]
    assert len(ids) == stats["captured"] == 1600 - stats["dropped"]
    assert len(set(ids)) == len(ids)


@pytest.fixture
def stalled_disk(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """A disk that hangs cannot be caused for real in a test: file writes wait on ``release``
    (``entered`` is set when the writer thread is stuck there)."""
    entered, release = threading.Event(), threading.Event()
    real_write = capture_module._HourFile.write

    def stalled(self, hour, text):
        entered.set()
        release.wait(30)
        return real_write(self, hour, text)

    monkeypatch.setattr(capture_module._HourFile, "write", stalled)
    yield entered, release
    release.set()


def test_a_stalled_disk_drops_and_counts_instead_of_blocking(tmp_path, stalled_disk):
    entered, release = stalled_disk
    writer = CaptureWriter(tmp_path, "ep", queue_size=3)
    assert writer.capture("1", CSV, "1", CSV)
    assert entered.wait(30)  # the writer thread holds record 1 and waits on the disk
    accepted = [writer.capture(str(i), CSV, "1", CSV) for i in range(5)]
    assert accepted == [True, True, True, False, False]
    assert writer.stats()["dropped_queue_full"] == 2
    release.set()
    writer.close()
    assert writer.stats()["captured"] == 4
    assert len(_lines(tmp_path)) == 4


def test_a_failing_disk_is_counted_and_never_raises(tmp_path):
    root = tmp_path / "not-a-directory"
    root.write_text("a file where the capture directory should be")
    writer = CaptureWriter(root, "ep")
    assert writer.capture("1,2", CSV, "0", CSV)
    assert writer.flush()
    writer.close()
    stats = writer.stats()
    assert stats["dropped_write_error"] == 1 and stats["captured"] == 0


def test_sampling_percentage(tmp_path):
    writer = CaptureWriter(tmp_path, "ep", sample_percent=0)
    assert not any(writer.capture("1", CSV, "1", CSV) for _ in range(50))
    writer.set_sample_percent(100)
    assert all(writer.capture("1", CSV, "1", CSV) for _ in range(50))
    writer.close()
    assert writer.stats()["sampled_out"] == 50
    assert len(_lines(tmp_path)) == 50
    with pytest.raises(ValueError, match="between 0 and 100"):
        writer.set_sample_percent(150)


def _old_file(directory: Path, hours_ago: float, size: int) -> Path:
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime(time.time() - hours_ago * 3600))
    path = directory / hour / f"{hours_ago}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x" * size)
    return path


def test_retention_by_days_and_by_bytes(tmp_path):
    directory = tmp_path / "ep" / "AllTraffic"
    old, recent, newest = (_old_file(directory, h, 1000) for h in (72, 5, 1))
    assert enforce_retention(directory, Retention(days=2)) == 1
    assert not old.exists() and recent.exists() and newest.exists()
    assert not old.parent.exists()  # empty hour folders go too
    assert enforce_retention(directory, Retention(max_bytes=1500)) == 1
    assert not recent.exists() and newest.exists()


def test_writer_enforces_retention_when_it_starts(tmp_path):
    directory = tmp_path / "ep" / "AllTraffic"
    old = _old_file(directory, 24 * 10, 100)
    writer = CaptureWriter(tmp_path, "ep", retention=Retention(days=7))
    writer.capture("1", CSV, "1", CSV)
    writer.close()
    assert not old.exists()
    assert len(_lines(tmp_path)) == 1


def test_reader_skips_and_counts_torn_and_foreign_lines(tmp_path):
    writer = CaptureWriter(tmp_path, "ep")
    for i in range(3):
        writer.capture(f"{i},a", CSV, ANSWER, JSON, inference_id=f"id-{i}")
    writer.close()
    path = capture_files(tmp_path)[0]
    with open(path, "a") as fh:
        fh.write('{"some": "other json"}\n[1, 2]\n\n{"captureData": {"endpointInput": {"da')
    stats = ReadStats()
    records = list(iter_records(tmp_path, stats))
    assert [r["eventMetadata"]["inferenceId"] for r in records] == ["id-0", "id-1", "id-2"]
    assert stats.malformed == 3 and stats.records == 3 and stats.files == 1
    assert any("torn" in reason for reason in stats.reasons)


def test_read_window_decodes_csv_json_and_batches(tmp_path):
    writer = CaptureWriter(tmp_path, "ep")
    writer.capture("1.5,red\n", CSV, ANSWER, JSON, inference_id="one")
    writer.capture("x,colour\n2.5,blue\n3.5,green\n", CSV, "1\n0\n", CSV, inference_id="batch")
    writer.capture(json.dumps([{"x": 4.5, "colour": "red"}]), JSON, ANSWER, JSON,
                   inference_id="json")
    writer.capture(json.dumps({"instances": [[5.5, "blue"], [6.5, None]]}), JSON, "0\n1\n", CSV,
                   inference_id="inst")
    writer.close()
    window = read_window(tmp_path, ["x", "colour"])
    assert window.frame["x"].tolist() == [1.5, 2.5, 3.5, 4.5, 5.5, 6.5]
    assert window.frame["colour"].tolist()[:5] == ["red", "blue", "green", "red", "blue"]
    assert list(window.inference_ids) == ["one", "batch:0", "batch:1", "json", "inst:0", "inst:1"]
    assert window.predictions is None  # some answers were CSV (top probability only)
    assert window.stats.rows == 6 and window.stats.malformed == 0


def test_forked_worker_writes_its_own_file(tmp_path):
    writer = CaptureWriter(tmp_path, "ep")
    writer.capture("parent", CSV, "1", CSV)
    assert writer.flush()
    pid = os.fork()
    if pid == 0:  # the child: a gunicorn worker forked after the master captured
        writer.capture("child", CSV, "1", CSV)
        writer.close()
        os._exit(0)
    os.waitpid(pid, 0)
    writer.close()
    assert len(capture_files(tmp_path)) == 2
    assert sorted(r["captureData"]["endpointInput"]["data"] for r in _lines(tmp_path)) == \
        ["child", "parent"]


def test_a_request_with_ragged_rows_becomes_missing_rows_not_a_crash(tmp_path):
    writer = CaptureWriter(tmp_path, "ep")
    writer.capture("1.5,red\n", CSV, "1", CSV, inference_id="good")
    writer.capture("2.5,blue\n3.5,green,extra,fields\n", CSV, "1", CSV, inference_id="ragged")
    writer.capture("x,x\n4.5,red\n", CSV, "1", CSV, inference_id="same-name-twice")
    writer.capture("5.5,black\n", CSV, "1", CSV, inference_id="last")
    writer.close()
    window = read_window(tmp_path, ["x", "colour"])
    assert list(window.inference_ids) == ["good", "ragged:0", "ragged:1", "same-name-twice:0",
                                          "same-name-twice:1", "last"]
    frame = window.frame.astype(object).where(window.frame.notna(), None)
    assert frame["colour"].tolist() == ["red", None, None, "x", "red", "black"]
    assert window.stats.malformed == 1


def test_the_queue_is_bounded_in_bytes_too(tmp_path, stalled_disk):
    entered, release = stalled_disk
    writer = CaptureWriter(tmp_path, "ep", queue_bytes=1000)
    assert writer.capture("x" * 400, CSV, "1", CSV)
    assert entered.wait(30)  # 401 bytes held until written
    assert writer.capture("y" * 500, CSV, "1", CSV)
    assert not writer.capture("z" * 200, CSV, "1", CSV)  # 401 + 501 + 201 > 1000
    release.set()
    assert writer.flush()
    assert writer.capture("z" * 200, CSV, "1", CSV)  # written bytes are freed
    writer.close()
    assert writer.stats()["dropped_queue_full"] == 1 and writer.stats()["captured"] == 3


def test_a_batch_request_is_captured_chunk_by_chunk_with_its_rows_numbered_through(tmp_path):
    """A streamed batch: sampled once, then one record per chunk with its row offset, so the
    rows read back as <id>:0 ... <id>:n-1 whatever the chunking."""
    case = tiny_case("binary", n=60)
    spec = generate_candidates(case.shape, families=["linear"])[0]
    bundle = ModelBundle(build_pipeline(spec, spec.defaults[0], case.schema, 0).fit(case.X, case.y),
                         case.schema, case.task, case.classes)
    rows = case.raw.head(25)
    writer = CaptureWriter(tmp_path, "ep", sample_percent=100)
    assert writer.sampled()

    def on_chunk(chunk: pd.DataFrame, piece: bytes, offset: int) -> None:
        writer.capture(chunk.to_csv(index=False), CSV, piece, CSV, "b1", row_offset=offset)
    body = io.BytesIO(rows.to_csv(index=False).encode())
    out = b"".join(stream_predictions(bundle, body, chunk_rows=10, on_chunk=on_chunk))
    writer.close()
    assert len(pd.read_csv(io.BytesIO(out))) == 25
    assert [r["eventMetadata"]["rowOffset"] for r in _lines(tmp_path)] == [0, 10, 20]
    window = read_window(tmp_path, case.schema.names)
    assert list(window.inference_ids) == [f"b1:{i}" for i in range(25)]
    assert window.frame[case.schema.names[0]].tolist() == pytest.approx(
        rows[case.schema.names[0]].tolist(), nan_ok=True)
    closed = CaptureWriter(tmp_path, "other", sample_percent=0)
    assert not closed.sampled() and closed.stats()["sampled_out"] == 1
