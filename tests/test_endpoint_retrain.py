"""The runner's side of retraining that needs no service: one runner at a time finishes a
retraining (the marker's lock), a finished one is never claimed again, and records from before
the runner finished them are taken up."""

from __future__ import annotations

import json

from automl.endpoint_retrain import PENDING, _claimed, mark_unfinished, retrain_dir


def test_one_process_at_a_time_holds_a_pending_retraining(tmp_path):
    marker = tmp_path / PENDING
    marker.touch()
    with _claimed(marker) as first, _claimed(marker) as second:
        assert first and not second, "a second runner finds it taken"
    with _claimed(marker) as again:
        assert again, "the lock went with the first holder"
    marker.unlink()
    with _claimed(marker) as gone:
        assert not gone, "finished: the marker is gone"


def test_retrainings_recorded_before_the_runner_finished_them_are_taken_up(tmp_path):
    old, done = retrain_dir(tmp_path, "ep", "rt_old"), retrain_dir(tmp_path, "ep", "rt_done")
    for directory, meta in ((old, {"id": "rt_old"}), (done, {"id": "rt_done", "state": "failed"})):
        directory.mkdir(parents=True)
        (directory / "retrain.json").write_text(json.dumps(meta))
    assert mark_unfinished(tmp_path) == 1
    assert (old / PENDING).is_file() and not (done / PENDING).exists()
    assert mark_unfinished(tmp_path) == 0
