"""benchmarks/monitoring.py's HTTP replay bookkeeping: a capture split by window and first rows.

No model and no server: a CaptureWriter records requests with the ids the replay sends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def test_a_few_valued_frequency_shift_adds_the_next_training_value(monitoring):
    """A sparse count with no non-zero in the window still gets 20 % of its rows moved to the
    training's next most frequent value (more non-zeros)."""
    window = pd.DataFrame({"count": np.zeros(100)})
    out = monitoring.shift(window, "count", "numeric", 0.1, np.random.default_rng(0),
                           values=[0.0, 1.0, 3.0])
    assert out["count"].value_counts().to_dict() == {0.0: 80, 1.0: 20}


def test_power_by_kind_leaves_out_shifts_that_changed_nothing(monitoring):
    fit = {"monitored": {"a": "numeric", "b": "numeric", "c": "categorical"},
           "few_valued": {"b": [0.0, 1.0]}, "sds": {"a": 0.0, "b": 0.5}}
    window = pd.DataFrame({"a": np.ones(50), "b": np.zeros(50), "c": ["x"] * 50})
    rng = np.random.default_rng(0)
    _, unchanged = monitoring.shifted_copy(window, ["a", "b", "c"], fit, rng, frequency=True)
    assert unchanged == {"a", "c"}  # a: sd 0; c: one level in the window
    pairs = [{"window": 0, "column": c, "replay": "shifted", "kind": monitoring.kind_of(c, fit),
              "noop": c in {"a", "c"}} for c in "abc"]
    pairs.append({"window": 0, "column": "b", "replay": "frequency", "noop": False,
                  "kind": monitoring.kind_of("b", fit, frequency=True)})
    full = {("shifted", 0, "b"), ("frequency", 0, "b")}
    out = monitoring.power_summary(pairs, {k: 100 for k in full}, full)
    assert out["power"] == pytest.approx(1 / 3)  # overall: every drawn pair, as before
    assert (out["power_few_valued_sd"], out["power_few_valued_freq"]) == (1.0, 1.0)
    assert (out["pairs_numeric_sd"], out["unchanged_numeric_sd"]) == (0, 1)
    assert out["power_numeric_sd"] is None and out["unchanged_categorical_freq"] == 1
