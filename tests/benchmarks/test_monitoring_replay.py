"""benchmarks/monitoring.py's HTTP replay bookkeeping: a capture split by window and first rows.

No model and no server: a CaptureWriter records requests with the ids the replay sends.
"""

from __future__ import annotations

import pytest

from automl.monitoring.capture import CaptureWriter
from automl.monitoring.reader import read_window
from tests.benchmarks.conftest import load_script


@pytest.fixture(scope="module")
def monitoring():
    return load_script("monitoring")

def test_request_position_reads_the_replay_ids(monitoring):
    assert monitoring.request_position("w12-r340") == (12, 340)


def test_split_capture_keeps_one_window_and_its_first_rows(monitoring, tmp_path):
    writer = CaptureWriter(tmp_path / "capture", "standalone")
    for rid, body in (("w0-r0", "1,a\n2,b\n"), ("w0-r2", "3,c\n4,d\n"), ("w1-r0", "5,e\n")):
        writer.capture(body, "text/csv", "0.5\n0.5\n", "text/csv", rid)
    writer.close()

    first = monitoring.split_capture(tmp_path / "capture", tmp_path / "w0-2", 0, 2)
    window = monitoring.split_capture(tmp_path / "capture", tmp_path / "w0", 0, None)

    assert list(read_window(first, ["x", "level"]).inference_ids) == ["w0-r0:0", "w0-r0:1"]
    whole = read_window(window, ["x", "level"])
    assert list(whole.frame["x"]) == [1, 2, 3, 4]
    assert list(whole.inference_ids) == ["w0-r0:0", "w0-r0:1", "w0-r2:0", "w0-r2:1"]
